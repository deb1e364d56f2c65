"""The single pint unit registry and the helpers that turn user quantities into SI floats.

Units are checked here, once, at the boundary; kernels only ever see plain SI floats.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pint

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
ureg.define("percent_rMT = 0.01 = pct_rMT")
Q_ = ureg.Quantity

_TIME = ureg.second.dimensionality
_WORDS = {"w": "week", "wk": "week", "wks": "week", "d": "day", "hr": "hour", "hrs": "hour", "mo": "month", "mos": "month"}


def _normalise(text: str) -> str:
    text = text.strip()
    text = re.sub(r"(?<=\d)\s*µ", " u", text).replace("µ", "u")
    m = re.fullmatch(r"([-+0-9.eE]+)\s*([A-Za-z]+)", text)
    if m and m.group(2) in _WORDS:
        text = f"{m.group(1)} {_WORDS[m.group(2)]}"
    return text


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> pint.Quantity:
    return Q_(_normalise(text))


def parse_quantity(value: object, field: str, dimension: str, *, allowed: str | None = None) -> pint.Quantity:
    """Parse ``value`` (a string like ``"10 mg"``, a pint Quantity) into a pint Quantity of ``dimension``.

    ``dimension`` is a unit whose dimensionality is required, e.g. ``"mg"``, ``"hour"``, ``"mg/kg"``.
    Raises :class:`~neuroplastic.errors.ScenarioError` with a one-line message otherwise.

    Example
    -------
    >>> parse_quantity("36 h", "duration", "day").to("day").magnitude
    1.5
    """
    from .errors import ScenarioError

    expect = allowed or f"a quantity in units of {dimension} (e.g. '1 {dimension}')"
    if isinstance(value, pint.Quantity):
        q = value
    elif isinstance(value, str):
        try:
            q = _parse_cached(value)
        except Exception:
            raise ScenarioError(field, value, expect) from None
    else:
        raise ScenarioError(field, value, expect)
    if not isinstance(q, pint.Quantity):
        raise ScenarioError(field, value, expect)
    try:
        if q.dimensionality != Q_(1, dimension).dimensionality:
            raise ScenarioError(field, value, expect)
    except pint.errors.PintError:
        raise ScenarioError(field, value, expect) from None
    return q


def to_si(value: object, field: str, dimension: str, **kw) -> float:
    """Parse like :func:`parse_quantity` and return the magnitude in SI base units.

    Example
    -------
    >>> to_si("2 weeks", "duration", "second")
    1209600.0
    """
    q = parse_quantity(value, field, dimension, **kw)
    return float(q.to_base_units().magnitude)


def si_factor(unit: str) -> float:
    """Factor that converts a magnitude in ``unit`` into SI base units.

    Example
    -------
    >>> si_factor("ng/mL")
    1e-06
    """
    return float(Q_(1.0, unit).to_base_units().magnitude)


DAY = 86400.0
HOUR = 3600.0
MINUTE = 60.0
WEEK = 7 * DAY
