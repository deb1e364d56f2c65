from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Iterator, Mapping

import yaml

from .._units import Q_, si_factor
from ..errors import ParameterError


@dataclass(frozen=True)
class Parameter:
    """One declared parameter.

    ``value`` is in ``unit``; ``low``/``high`` is the plausible range (same unit); ``source`` a citation, and
    ``calibrated`` names the target when the value was fitted rather than read from the literature.
    """

    name: str
    value: float
    unit: str
    low: float
    high: float
    source: str
    calibrated: str | None = None
    description: str = ""
    fit_rows: tuple[str, ...] = ()   # ids of the fit rows (data/targets.yaml) that pin a calibrated value

    @property
    def si(self) -> float:
        """Value in SI base units (the form kernels use)."""
        return self.value * si_factor(self.unit)

    @property
    def quantity(self):
        return Q_(self.value, self.unit)

    @property
    def module(self) -> str:
        """Owning module: the first two parts of the dotted name (e.g. ``pk.escitalopram``)."""
        return ".".join(self.name.split(".")[:2])


def _parse_entry(name: str, raw: dict, origin: str) -> Parameter:
    try:
        value = float(raw["value"])
        unit = str(raw.get("unit", "1"))
        lo, hi = (float(x) for x in raw["range"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError(f"{origin}: parameter {name!r} needs value, unit and range ({exc})") from None
    source = raw.get("source")
    calibrated = raw.get("calibrated")
    if not source and not calibrated:
        raise ParameterError(f"{origin}: parameter {name!r} has neither a source nor a calibration target")
    if not (lo <= value <= hi) or not math.isfinite(value):
        raise ParameterError(f"{origin}: parameter {name!r} value {value} outside its range [{lo}, {hi}]")
    si_factor(unit)  # validates the unit string
    return Parameter(
        name=name,
        value=value,
        unit=unit,
        low=lo,
        high=hi,
        source=str(source or ""),
        calibrated=str(calibrated) if calibrated else None,
        description=str(raw.get("description", "")),
        fit_rows=tuple(str(x) for x in raw.get("fit_rows") or ()),
    )


class ParameterSet(Mapping[str, Parameter]):
    """An immutable mapping of parameter name -> :class:`Parameter`.

    Variants are new values: :meth:`with_values` returns a new set and leaves this one untouched.

    Example
    -------
    >>> p = default_parameters()
    >>> p["pk.escitalopram.half_life"].unit
    'hour'
    >>> q = p.with_values({"pk.escitalopram.half_life": 30.0})
    >>> q.value("pk.escitalopram.half_life")
    30.0
    """

    def __init__(self, params: Mapping[str, Parameter], version: str = "default"):
        self._p = MappingProxyType(dict(params))
        self.version = version
        self._si = {k: v.si for k, v in self._p.items()}

    def __reduce__(self):
        # picklable (for worker processes): rebuild from the plain mapping
        return (ParameterSet, (dict(self._p), self.version))

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._p[name]
        except KeyError:
            raise ParameterError(f"unknown parameter {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._p)

    def __len__(self) -> int:
        return len(self._p)

    def __hash__(self) -> int:
        return hash((self.version, tuple((k, v.value) for k, v in self._p.items())))

    def si(self, name: str) -> float:
        """The value of ``name`` in SI base units."""
        try:
            return self._si[name]
        except KeyError:
            raise ParameterError(f"unknown parameter {name!r}") from None

    def value(self, name: str, unit: str | None = None) -> float:
        """The value of ``name`` in its declared unit, or converted to ``unit``."""
        p = self[name]
        return p.value if unit is None else float(p.quantity.to(unit).magnitude)

    def group(self, prefix: str) -> dict[str, float]:
        """SI values of all parameters under ``prefix.``, keyed by the rest of the name."""
        pre = prefix.rstrip(".") + "."
        return {k[len(pre):]: self._si[k] for k in self._p if k.startswith(pre)}

    def with_values(self, values: Mapping[str, float], *, version: str | None = None,
                    check_range: bool = True) -> "ParameterSet":
        """A new set with some values replaced (each in its declared unit, within its range)."""
        new = dict(self._p)
        for k, v in values.items():
            p = self[k]
            v = float(v)
            if check_range and not (p.low <= v <= p.high):
                raise ParameterError(f"parameter {k!r}: {v} outside its plausible range [{p.low}, {p.high}] {p.unit}")
            new[k] = replace(p, value=v)
        return ParameterSet(new, version=version or f"{self.version}+overrides")

    def calibrated(self) -> list[str]:
        """Names of the parameters marked as calibrated (the only ones a fit may move)."""
        return [k for k, p in self._p.items() if p.calibrated]


def _load_files() -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    root = resources.files("neuroplastic") / "data" / "parameters"
    for f in sorted(root.iterdir(), key=lambda x: x.name):
        if not f.name.endswith(".yaml"):
            continue
        doc = yaml.safe_load(f.read_text()) or {}
        for name, raw in doc.items():
            if name in out:
                raise ParameterError(f"parameter {name!r} declared twice ({f.name})")
            out[name] = _parse_entry(name, raw, f.name)
    return out


def calibration_files(hypothesis: str, root=None) -> dict:
    """Version -> file of the calibration sets ``<hypothesis>-v<N>.yaml`` in ``root`` (default: the shipped
    ``data/calibration``)."""
    root = resources.files("neuroplastic") / "data" / "calibration" if root is None else root
    if not root.is_dir():
        return {}
    found = {}
    for f in root.iterdir():
        stem = f.name[:-5] if f.name.endswith(".yaml") else ""
        if stem.startswith(f"{hypothesis}-v") and stem.split("-v")[-1].isdigit():
            found[int(stem.split("-v")[-1])] = f
    return found


def load_calibration(version: int | None = None, hypothesis: str = "plasticity") -> dict:
    """Overrides of the shipped calibrated parameter set ``data/calibration/<hypothesis>-v<version>.yaml``
    (the newest with ``adopted`` not false when ``version`` is None); ``{}`` when none. Keys ``name``, ``overrides``."""
    found = calibration_files(hypothesis)
    if not found or (version is not None and version not in found):
        return {}
    if version is None:  # newest set that is adopted as the default
        found = {v: f for v, f in found.items() if (yaml.safe_load(f.read_text()) or {}).get("adopted", True)}
        if not found:
            return {}
    doc = yaml.safe_load(found[version if version is not None else max(found)].read_text()) or {}
    return {"name": doc.get("name", ""), "overrides": dict(doc.get("overrides") or {})}


@lru_cache(maxsize=1)
def default_parameters() -> ParameterSet:
    """The shipped parameter set (literature values plus the calibrated overrides).

    Example
    -------
    >>> default_parameters().si("pk.escitalopram.half_life") / 3600
    30.0
    """
    base = ParameterSet(_load_files(), version="neuroplastic-0.1")
    cal = load_calibration()
    if not cal.get("overrides"):
        return base
    return base.with_values(cal["overrides"], version=f"neuroplastic-0.1+{cal['name']}")
