"""rTMS safety limits: maximum single-train duration by frequency and intensity (Rossi 2009, Table 4).

The table lives in ``neuroplastic/data/tms_safety.yaml`` with its citation. Between table entries the
limit is read conservatively: a frequency between two rows uses the higher-frequency row, an intensity
between two columns the higher-intensity column, and an intensity below 90% rMT the 90% column.
Frequencies above the last row or intensities above 130% rMT are beyond the table and refused.
Entries the table gives as ">" (longest duration tested, e.g. 1 Hz and 5 Hz) are not enforced.
Theta-burst protocols are limited by intensity and pulses per session (Rossi 2021).
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


def check_protocol(protocol: Protocol, intensity_pct_rmt: float, allow_unsafe: bool = False) -> None:
    """Refuse a protocol beyond the published safety limits (unless ``allow_unsafe``).

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
    x = float(intensity_pct_rmt)
    fmt = lambda v: f"{v:g}"  # noqa: E731
    if protocol.is_theta_burst:
        tbs = safety_table()["theta_burst"]
        if x > tbs["max_intensity_pct_rmt"]:
            raise SafetyError("tms.intensity", f"{fmt(x)}% rMT for theta burst",
                              f"at most {tbs['max_intensity_pct_rmt']}% rMT for theta-burst stimulation "
                              "(Rossi 2021 safety guidelines); set allow_unsafe: true to override")
        if protocol.n_pulses > tbs["max_pulses_per_session"]:
            raise SafetyError("tms.pulses", f"{protocol.n_pulses} theta-burst pulses",
                              f"at most {tbs['max_pulses_per_session']} pulses per session "
                              "(Rossi 2021 safety guidelines); set allow_unsafe: true to override")
        return
    f = protocol.frequency
    train = protocol.longest_train
    limit, enforced = max_train_duration(f, x)
    what = f"{fmt(train)} s at {fmt(f)} Hz, {fmt(x)}% rMT"
    if limit is None:
        raise SafetyError("tms.train_duration", what,
                          "a frequency <= 25 Hz and an intensity <= 130% rMT, the range of the Rossi 2009 safety "
                          "table; set allow_unsafe: true to override")
    if enforced and train > limit + 1e-9:
        raise SafetyError("tms.train_duration", what,
                          f"at most {fmt(limit)} s per train at {fmt(f)} Hz and {fmt(x)}% rMT "
                          "(Rossi 2009 safety table); set allow_unsafe: true to override")
