"""rTMS and theta-burst pulse trains.

A :class:`Protocol` is trains of bursts: ``burst_pulses`` pulses at ``burst_frequency`` make a burst,
bursts repeat at ``frequency`` for ``train_duration`` seconds, then a pause of ``inter_train_interval``;
this repeats until ``n_pulses`` pulses are given. Conventional rTMS has one-pulse bursts.

Defaults: 1 Hz -- 900 pulses continuous (15 min; e.g. Fitzgerald 2003 Arch Gen Psychiatry 60:1002);
5 Hz -- 10 s trains, 20 s pauses, 1,000 pulses; 10 Hz -- 4 s trains, 26 s pauses, 3,000 pulses
(O'Reardon 2007 Biol Psychiatry 62:1208); 20 Hz -- 2 s trains, 28 s pauses, 1,600 pulses;
iTBS -- 3 pulses at 50 Hz repeated at 5 Hz, 2 s on / 8 s off, 600 pulses; cTBS -- the same bursts
continuously, 600 pulses (Huang 2005 Neuron 45:201).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ScenarioError

PRESETS = {
    "1hz": dict(frequency=1.0, train_duration=None, inter_train_interval=0.0, n_pulses=900),
    "5hz": dict(frequency=5.0, train_duration=10.0, inter_train_interval=20.0, n_pulses=1000),
    "10hz": dict(frequency=10.0, train_duration=4.0, inter_train_interval=26.0, n_pulses=3000),
    "20hz": dict(frequency=20.0, train_duration=2.0, inter_train_interval=28.0, n_pulses=1600),
    "itbs": dict(frequency=5.0, train_duration=2.0, inter_train_interval=8.0, n_pulses=600,
                 burst_pulses=3, burst_frequency=50.0),
    "ctbs": dict(frequency=5.0, train_duration=None, inter_train_interval=0.0, n_pulses=600,
                 burst_pulses=3, burst_frequency=50.0),
}
NAMES = tuple(PRESETS) + ("custom",)


@dataclass(frozen=True)
class Protocol:
    """A stimulation protocol (times in seconds, frequencies in Hz).

    ``train_duration = None`` means one continuous train.

    Example
    -------
    >>> p = make_protocol("10hz")
    >>> p.n_pulses, p.pulses_per_train, round(p.duration)
    (3000, 40, 2224)
    """

    name: str
    frequency: float
    train_duration: float | None
    inter_train_interval: float
    n_pulses: int
    burst_pulses: int = 1
    burst_frequency: float = 50.0

    def __post_init__(self):
        if not (self.frequency > 0 and np.isfinite(self.frequency)):
            raise ScenarioError("tms.frequency", self.frequency, "a positive frequency in Hz")
        if int(self.n_pulses) != self.n_pulses or self.n_pulses < 1:
            raise ScenarioError("tms.pulses", self.n_pulses, "a positive whole number of pulses")
        if self.train_duration is not None and not (self.train_duration * self.frequency >= 1):
            raise ScenarioError("tms.train_duration", self.train_duration,
                                f"at least one burst period ({1 / self.frequency:g} s)")
        if self.inter_train_interval < 0:
            raise ScenarioError("tms.inter_train_interval", self.inter_train_interval, "a non-negative time in s")
        if self.burst_pulses < 1 or (self.burst_pulses > 1 and
                                     (self.burst_pulses - 1) / self.burst_frequency >= 1 / self.frequency):
            raise ScenarioError("tms.burst", f"{self.burst_pulses} pulses at {self.burst_frequency} Hz",
                                "bursts shorter than the burst period")

    @property
    def is_theta_burst(self) -> bool:
        return self.burst_pulses > 1

    @property
    def pulses_per_train(self) -> int:
        """Pulses in one train (all pulses for a continuous protocol)."""
        if self.train_duration is None:
            return int(self.n_pulses)
        return int(round(self.train_duration * self.frequency)) * self.burst_pulses

    def delivered_trains(self) -> tuple[np.ndarray, np.ndarray]:
        """The trains actually delivered: bursts in each train, and the pause (s) after each but the last.

        Trains are read from the burst onsets of :meth:`pulse_times`: a new train starts where the silence after a
        burst period (``1 / frequency``) lasts at least one more burst period. Trains separated by less than that
        (e.g. ``inter_train_interval: 0 s``) are one train. The pause is that silence: for the presets it equals
        ``inter_train_interval``.

        Example
        -------
        >>> bursts, pauses = make_protocol("10hz").delivered_trains()
        >>> len(bursts), bursts[:2].tolist(), pauses[:2].tolist()
        (75, [40, 40], [26.0, 26.0])
        >>> bursts, pauses = make_protocol("custom", 3000, frequency=20, train_duration=1,
        ...                                inter_train_interval=0).delivered_trains()
        >>> bursts.tolist(), pauses.tolist()
        ([3000], [])
        """
        onsets = self.pulse_times()[:: self.burst_pulses]
        period = 1.0 / self.frequency
        silence = np.diff(onsets) - period
        breaks = np.flatnonzero(silence >= period - 1e-9)
        edges = np.concatenate(([0], breaks + 1, [len(onsets)]))
        return np.diff(edges), np.round(silence[breaks], 9)

    @property
    def longest_train(self) -> float:
        """Duration of the longest train actually delivered (s): bursts in it / burst rate.

        Trains with less than one burst period between them count as one (see :meth:`delivered_trains`).

        Example
        -------
        >>> make_protocol("10hz").longest_train
        4.0
        >>> make_protocol("custom", 3000, frequency=20, train_duration=1, inter_train_interval=0).longest_train
        150.0
        """
        if self.train_duration is None:
            return (int(self.n_pulses) / self.burst_pulses) / self.frequency
        return float(self.delivered_trains()[0].max()) / self.frequency

    @property
    def shortest_pause(self) -> float | None:
        """Shortest pause between delivered trains (s); None for one train (see :meth:`delivered_trains`)."""
        pauses = self.delivered_trains()[1]
        return float(pauses.min()) if len(pauses) else None

    def pulse_times(self) -> np.ndarray:
        """Times of all pulses (s), starting at 0.

        Example
        -------
        >>> make_protocol("itbs").pulse_times()[:4].round(3).tolist()
        [0.0, 0.02, 0.04, 0.2]
        """
        in_burst = np.arange(self.burst_pulses) / self.burst_frequency
        bursts_per_train = self.pulses_per_train // self.burst_pulses
        one_train = (np.arange(bursts_per_train)[:, None] / self.frequency + in_burst[None, :]).ravel()
        n_trains = int(np.ceil(self.n_pulses / len(one_train)))
        period = (0.0 if self.train_duration is None else self.train_duration) + self.inter_train_interval
        t = (np.arange(n_trains)[:, None] * period + one_train[None, :]).ravel()
        return t[: int(self.n_pulses)]

    @property
    def duration(self) -> float:
        """Session length (s): last pulse time plus one pulse interval."""
        last = float(self.pulse_times()[-1])
        step = 1.0 / self.burst_frequency if self.is_theta_burst else 1.0 / self.frequency
        return last + step


def make_protocol(name: str, pulses: int | None = None, **custom) -> Protocol:
    """A protocol by name: ``1hz``, ``5hz``, ``10hz``, ``20hz``, ``itbs``, ``ctbs`` or ``custom``.

    Parameters
    ----------
    name : str
        Preset name (case-insensitive) or ``"custom"``.
    pulses : int, optional
        Total pulses (default: the preset's).
    **custom
        Overrides, or for ``custom`` the definition: ``frequency`` (Hz), ``train_duration`` (s, None =
        continuous), ``inter_train_interval`` (s), ``burst_pulses``, ``burst_frequency`` (Hz).

    Example
    -------
    >>> make_protocol("custom", pulses=100, frequency=10, train_duration=5, inter_train_interval=25).n_pulses
    100
    >>> make_protocol("ctbs", 300).duration
    19.86
    """
    key = str(name).lower().replace(" ", "").replace("_", "")
    if key not in NAMES:
        raise ScenarioError("tms.protocol", name, "one of " + ", ".join(NAMES))
    allowed = {"frequency", "train_duration", "inter_train_interval", "burst_pulses", "burst_frequency"}
    bad = set(custom) - allowed
    if bad:
        raise ScenarioError("tms." + sorted(bad)[0], custom[sorted(bad)[0]], "one of " + ", ".join(sorted(allowed)))
    if key == "custom":
        if "frequency" not in custom:
            raise ScenarioError("tms.frequency", None, "a frequency in Hz for a custom protocol")
        spec = dict(train_duration=None, inter_train_interval=0.0, n_pulses=None)
    else:
        spec = dict(PRESETS[key])
    spec.update(custom)
    if pulses is not None:
        spec["n_pulses"] = pulses
    if spec.get("n_pulses") is None:
        raise ScenarioError("tms.pulses", None, "a number of pulses for a custom protocol")
    try:
        n = int(spec.pop("n_pulses"))
    except (TypeError, ValueError):
        raise ScenarioError("tms.pulses", pulses, "a positive whole number of pulses") from None
    spec = {k: (None if v is None else float(v)) if k in ("frequency", "train_duration", "inter_train_interval",
                                                         "burst_frequency") else int(v) for k, v in spec.items()}
    return Protocol(name=key, n_pulses=n, **spec)
