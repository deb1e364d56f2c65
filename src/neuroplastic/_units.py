"""The single pint unit registry and the helpers that turn user quantities into SI floats.

Units are checked here, once, at the boundary; kernels only ever see plain SI floats.
"""

from __future__ import annotations

import math
import numbers
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


# what a user quantity may look like: a plain number, then unit names joined by '/', '*' or spaces, each with an
# optional small integer power. Nothing else reaches pint, whose parser would evaluate arithmetic ('9**9**9 mg').
_NUMBER = r"[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d{1,4})?"
_UNIT = r"[A-Za-z_]+(?:\s*(?:\*\*|\^)\s*-?\d{1,2})?"
_QUANTITY = re.compile(rf"\s*({_NUMBER})\s*({_UNIT}(?:(?:\s*[*/]\s*|\s+){_UNIT})*)\s*")
_NONFINITE = re.compile(r"\s*[+-]?(nan|inf|infinity)\b", re.I)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> pint.Quantity:
    if len(text) > 100:
        raise ValueError("too long")
    text = _normalise(text)
    if not _QUANTITY.fullmatch(text):
        raise ValueError(text)
    return Q_(text)


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
        if _NONFINITE.match(value):
            raise ScenarioError(field, value, f"a finite number (not nan or infinity): {expect}")
        try:
            q = _parse_cached(value)
        except Exception:
            raise ScenarioError(field, value, expect) from None
    else:
        raise ScenarioError(field, value, expect)
    if not isinstance(q, pint.Quantity) or not isinstance(q.magnitude, numbers.Real) or isinstance(q.magnitude, bool):
        raise ScenarioError(field, value, expect)
    if not math.isfinite(q.magnitude):
        raise ScenarioError(field, value, f"a finite number (not nan or infinity): {expect}")
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
    si = float(q.to_base_units().magnitude)
    if not math.isfinite(si):  # finite as written, but not once in SI units ('1e308 weeks')
        from .errors import ScenarioError
        raise ScenarioError(field, value, "a finite quantity (this one overflows in SI units)")
    return si


@lru_cache(maxsize=1024)
def si_factor(unit: str) -> float:
    """Factor that converts a magnitude in ``unit`` into SI base units (cached per unit string: a parameter set's
    construction converts every registry unit, and pint's conversion costs tens of microseconds).

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


def parse_size(value: object, field: str = "--max-memory") -> float:
    """A memory or file size in bytes: a number of bytes, or a string such as ``'16 GiB'``, ``'500 MB'``, ``'2TiB'``.

    Example
    -------
    >>> parse_size("16 GiB"), parse_size("1.5 GB"), parse_size(4096)
    (17179869184.0, 1500000000.0, 4096.0)
    """
    from .errors import ScenarioError

    allowed = "a size such as '16 GiB' or '500 MB'"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        b = float(value)
    elif isinstance(value, str):
        try:
            q = Q_(_normalise(value))
            b = float(q.magnitude) if not isinstance(q, pint.Quantity) else None
            if isinstance(q, pint.Quantity):
                if not (q.unitless or "byte" in str(q.units) or "bit" in str(q.units)):
                    raise ValueError
                b = float(q.to("byte").magnitude)
        except Exception:
            raise ScenarioError(field, value, allowed) from None
    else:
        raise ScenarioError(field, value, allowed)
    if not (b > 0 and b < float("inf")):
        raise ScenarioError(field, value, allowed)
    return b


def format_size(n: float) -> str:
    """Bytes as a short binary size.

    Example
    -------
    >>> format_size(11.3 * 2**30), format_size(512), format_size(3 * 2**40)
    ('11.3 GiB', '512 B', '3.0 TiB')
    """
    for unit, f in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= f:
            return f"{n / f:.1f} {unit}"
    return f"{n:.0f} B"
