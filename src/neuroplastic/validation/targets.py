"""Targets as data: load and check ``data/targets.yaml``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import yaml

from .._units import Q_

REQUIRED = ("id", "family", "used_for", "source", "population", "protocol", "statistic", "value", "tolerance",
            "tolerance_reason", "confirmed")
FAMILIES = ("pills", "ketamine", "tms", "vns", "biology")


@dataclass(frozen=True)
class Target:
    id: str
    family: str
    used_for: str             # "fit" | "check"
    source: str
    population: str
    protocol: str
    statistic: dict
    value: object             # number, or a direction such as "< 0"
    tolerance: object         # half-width, or [low, high]
    tolerance_reason: str
    confirmed: bool
    unit: str = ""
    spread: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def interval(self) -> tuple[float, float]:
        """Pass interval [low, high] for the simulated statistic."""
        if isinstance(self.tolerance, (list, tuple)):
            lo, hi = (float(x) for x in self.tolerance)
            return lo, hi
        v = float(self.value)
        return v - float(self.tolerance), v + float(self.tolerance)

    @property
    def centre_scale(self) -> tuple[float, float]:
        """A centre and half-width for a smooth fit residual."""
        lo, hi = self.interval
        if isinstance(self.value, (int, float)):
            c = float(self.value)
            return c, max(c - lo, hi - c) if math.isfinite(lo) and math.isfinite(hi) else 1.0
        return 0.5 * (lo + hi), 0.5 * (hi - lo)

    def misfit(self, simulated: float | None) -> float:
        """The fit residual ((simulated - centre) / half-width)^2 (see :attr:`centre_scale`); 25 when the statistic
        could not be computed. The calibration objective is the sum of these over the fit rows."""
        if simulated is None or not math.isfinite(simulated):
            return 25.0
        c, h = self.centre_scale
        return ((simulated - c) / h) ** 2

    def passed(self, simulated: float) -> bool:
        lo, hi = self.interval
        return simulated is not None and math.isfinite(simulated) and lo <= simulated <= hi

    @property
    def time_days(self) -> float:
        return days(self.statistic["time"])


def days(text) -> float:
    return float(Q_(str(text)).to("day").magnitude)


def _doc() -> dict:
    return yaml.safe_load((resources.files("neuroplastic") / "data" / "targets.yaml").read_text())


@lru_cache(maxsize=1)
def load_targets() -> tuple[dict, tuple[Target, ...]]:
    """(protocols, targets) from the shipped targets file; raises ValueError on a malformed row."""
    doc = _doc()
    protocols = doc["protocols"]
    out = []
    seen = set()
    for raw in doc["targets"]:
        missing = [k for k in REQUIRED if k not in raw]
        if missing:
            raise ValueError(f"target {raw.get('id')!r} lacks {missing}")
        if raw["id"] in seen:
            raise ValueError(f"target {raw['id']!r} twice")
        seen.add(raw["id"])
        if raw["protocol"] not in protocols:
            raise ValueError(f"target {raw['id']!r}: unknown protocol {raw['protocol']!r}")
        if raw["family"] not in FAMILIES or raw["used_for"] not in ("fit", "check"):
            raise ValueError(f"target {raw['id']!r}: bad family/used_for")
        if not str(raw["tolerance_reason"]).strip():
            raise ValueError(f"target {raw['id']!r}: tolerance without a reason")
        known = {k: raw[k] for k in REQUIRED}
        extra = {k: v for k, v in raw.items() if k not in REQUIRED and k not in ("unit", "spread")}
        out.append(Target(**known, unit=str(raw.get("unit", "")), spread=str(raw.get("spread", "")), extra=extra))
    return protocols, tuple(out)
