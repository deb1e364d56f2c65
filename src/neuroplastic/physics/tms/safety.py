"""rTMS safety limits: maximum single-train duration by frequency and intensity (Rossi 2009, Table 4).

The table lives in ``neuroplastic/data/tms_safety.yaml`` with its citation. Between table entries the
limit is read conservatively: a frequency between two rows uses the higher-frequency row, an intensity
between two columns the higher-intensity column, and an intensity below 90% rMT the 90% column.
Frequencies above the last row or intensities above 130% rMT are beyond the table and refused.
Entries the table gives as ">" (longest duration tested, e.g. 1 Hz and 5 Hz) are not enforced.
Theta-burst protocols are limited by intensity and pulses per session (Rossi 2021).
Conventional rTMS above 1 Hz also needs a minimum pause between trains (Chen 1997): 5 s above 100% rMT, 1 s at or
below. Both limits are read from the pulses actually delivered: trains less than one pulse period apart are one train.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from ...errors import SafetyError
from .protocols import Protocol


@lru_cache(maxsize=1)
def safety_table() -> dict:
    """The safety data file, parsed.

    Example
    -------
    >>> safety_table()["rtms"]["intensities_pct_rmt"][-1]
    130
    """
    text = (resources.files("neuroplastic") / "data" / "tms_safety.yaml").read_text()
    return yaml.safe_load(text)


def max_train_duration(frequency_hz: float, intensity_pct_rmt: float) -> tuple[float | None, bool]:
    """Longest allowed single train (s) at a frequency and intensity, and whether it is enforced.

    Returns ``(limit_s, enforced)``; ``limit_s`` is None beyond the table (nothing is known to be safe).

    Example
    -------
    >>> max_train_duration(20, 130)
    (0.55, True)
    >>> max_train_duration(10, 115)   # conservative: the 120% column
    (4.2, True)
    >>> max_train_duration(1, 120)
    (360.0, False)
    """
    tab = safety_table()["rtms"]
    cols = np.asarray(tab["intensities_pct_rmt"], float)
    rows = tab["rows"]
    freqs = np.asarray([r["frequency_hz"] for r in rows], float)
    f, x = float(frequency_hz), float(intensity_pct_rmt)
    if f > freqs[-1] + 1e-9 or x > cols[-1] + 1e-9:
        return None, True
    i = int(np.searchsorted(freqs, f - 1e-9))  # first row with frequency >= f
    j = int(np.searchsorted(cols, x - 1e-9))   # first column with intensity >= x
    row = rows[i]
    return float(row["max_train_s"][j]), not bool(row["tested_only"][j])


def protocol_violations(protocol: Protocol, intensity_pct_rmt: float) -> list[SafetyError]:
    """Every published safety limit the protocol exceeds, as :class:`SafetyError` objects (empty when safe).

    The one checker behind :func:`check_protocol` (which raises the first) and the ``within_safety_limits`` /
    ``safety_violations`` of :func:`~neuroplastic.physics.tms.session_summary`. Limits are evaluated on the pulse
    train actually delivered (:meth:`Protocol.delivered_trains`): trains with less than one pulse period between
    them are one train, and the pause between trains is the silence actually delivered.

    Example
    -------
    >>> from neuroplastic.physics.tms.protocols import make_protocol
    >>> protocol_violations(make_protocol("10hz"), 120)
    []
    >>> zero_gap = make_protocol("custom", 3000, frequency=20, train_duration=1, inter_train_interval=0)
    >>> [e.field for e in protocol_violations(zero_gap, 110)]
    ['tms.train_duration']
    >>> [e.field for e in protocol_violations(make_protocol("custom", 400, frequency=20, train_duration=1,
    ...                                                     inter_train_interval=2), 110)]
    ['tms.inter_train_interval']
    """
    x = float(intensity_pct_rmt)
    fmt = lambda v: f"{v:g}"  # noqa: E731
    override = "set allow_unsafe: true to override"
    out: list[SafetyError] = []
    if protocol.is_theta_burst:
        tbs = safety_table()["theta_burst"]
        if x > tbs["max_intensity_pct_rmt"]:
            out.append(SafetyError("tms.intensity", f"{fmt(x)}% rMT for theta burst",
                                   f"at most {tbs['max_intensity_pct_rmt']}% rMT for theta-burst stimulation "
                                   f"(Rossi 2021 safety guidelines); {override}"))
        if protocol.n_pulses > tbs["max_pulses_per_session"]:
            out.append(SafetyError("tms.pulses", f"{protocol.n_pulses} theta-burst pulses",
                                   f"at most {tbs['max_pulses_per_session']} pulses per session "
                                   f"(Rossi 2021 safety guidelines); {override}"))
        return out
    f = protocol.frequency
    train = protocol.longest_train
    limit, enforced = max_train_duration(f, x)
    merged = protocol.train_duration is not None and train > protocol.train_duration + 1e-9
    what = f"{fmt(train)} s at {fmt(f)} Hz, {fmt(x)}% rMT" + (
        " (trains less than one pulse period apart are one train)" if merged else "")
    if limit is None:
        out.append(SafetyError("tms.train_duration", what,
                               "a frequency <= 25 Hz and an intensity <= 130% rMT, the range of the Rossi 2009 "
                               f"safety table; {override}"))
        return out
    if enforced and train > limit + 1e-9:
        out.append(SafetyError("tms.train_duration", what,
                               f"at most {fmt(limit)} s per train at {fmt(f)} Hz and {fmt(x)}% rMT "
                               f"(Rossi 2009 safety table); {override}"))
    iti = safety_table()["inter_train_interval"]
    pause = protocol.shortest_pause
    if f > iti["applies_above_hz"] + 1e-9 and pause is not None:
        need = next(s["min_interval_s"] for s in iti["steps"] if x <= s["max_intensity_pct_rmt"] + 1e-9)
        if pause < need - 1e-9:
            out.append(SafetyError("tms.inter_train_interval",
                                   f"{fmt(pause)} s between {fmt(f)} Hz trains at {fmt(x)}% rMT",
                                   f"at least {fmt(need)} s between trains above {fmt(iti['applies_above_hz'])} Hz "
                                   f"at {fmt(x)}% rMT (Chen 1997 inter-train interval safety study, Rossi 2009); "
                                   f"{override}"))
    return out


def check_protocol(protocol: Protocol, intensity_pct_rmt: float, allow_unsafe: bool = False) -> None:
    """Refuse a protocol beyond the published safety limits (unless ``allow_unsafe``).

    Raises the first of :func:`protocol_violations`.

    Raises
    ------
    SafetyError
        Naming the limit, e.g. ``tms.train_duration: '10 s at 20 Hz, 130% rMT' is not allowed; expected at
        most 0.55 s per train at 20 Hz and 130% rMT (Rossi 2009 safety table); set allow_unsafe: true to
        override``.

    Example
    -------
    >>> from neuroplastic.physics.tms.protocols import make_protocol
    >>> check_protocol(make_protocol("10hz"), 120)   # O'Reardon 2007: allowed
    >>> check_protocol(make_protocol("custom", 200, frequency=20, train_duration=10, inter_train_interval=30), 130)
    Traceback (most recent call last):
    ...
    neuroplastic.errors.SafetyError: tms.train_duration: '10 s at 20 Hz, 130% rMT' is not allowed; expected at most 0.55 s per train at 20 Hz and 130% rMT (Rossi 2009 safety table); set allow_unsafe: true to override
    """
    if allow_unsafe:
        return
    found = protocol_violations(protocol, intensity_pct_rmt)
    if found:
        raise found[0]
