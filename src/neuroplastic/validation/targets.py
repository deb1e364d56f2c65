"""Targets as data: load and check ``data/targets.yaml``.

Tolerance rule (one rule for every row; also written in the header of ``data/targets.yaml``):

* A row that gives ``se`` (the published standard error of the statistic: a reported SE, SD/sqrt(n), the binomial
  sqrt(p(1-p)/n), or the between-trial/between-subject spread where that is what the source reports) gets the
  half-width ``max(2 * se, floor)``, where ``floor`` is the model-population noise of the statistic on the built-in
  population (:data:`MODEL_FLOOR`, by statistic kind; a row may state its own ``floor`` with a reason). A recalled,
  unconfirmed figure is *not* widened: it is marked ``confirmed: false`` instead.
* A row whose source publishes an interval (a 95% CI, a therapeutic reference range, a range of trial results)
  gives it as ``tolerance: [low, high]``.
* Every interval is then capped: a half-width never exceeds ``|value|`` (for a non-zero value), and rates and other
  probabilities (:data:`PROBABILITY_KINDS`) are clipped to [0, 1]. :func:`derive_interval` is the rule.

``used_for``: ``fit`` rows are seen by the calibration (a calibrated parameter moves them); ``check`` rows are held
out; ``input`` rows restate a figure a parameter was read from (they are reported but not counted as passes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import yaml

from .._units import Q_

REQUIRED = ("id", "family", "used_for", "source", "population", "protocol", "statistic", "value", "tolerance",
            "tolerance_reason", "confirmed")
# ``tolerance`` may be left out where ``se`` is given (the rule derives it)
FAMILIES = ("pills", "ketamine", "stimulation", "psychotherapy", "placebo", "biology")  # CV: all but biology
# the treatment families cross-validation holds out one at a time; `biology` rows (occupancy, autoreceptors, session
# physiology) are not a treatment family: they stay in the full fit and in every fold
CV_FAMILIES = tuple(f for f in FAMILIES if f != "biology")
USES = ("fit", "check", "input")
# statistics that are probabilities: their pass interval is clipped to [0, 1]
PROBABILITY_KINDS = frozenset({"remission_rate", "response_rate", "early_improvement_rate", "relapse_rate", "recovered_by",
                               "early_improvement_sensitivity", "early_improvement_specificity", "late_share",
                               "occupancy_mean", "occupancy_at", "desensitised_fraction"})
# model-population noise floor of the half-width, by statistic kind: a rate over the built-in population of 120
# patients has a binomial SE of at most 0.046 (0.05 used); mean changes on a rating scale ~1 point (SD of change ~8-10
# over 120 patients: SE ~0.9); a mean entry rating ~0.5 (SD ~5 over 120 patients: SE ~0.45), the SD of entry ratings
# ~0.3 (SE of an SD ~ SD/sqrt(2n)); other kinds have no floor (0)
MODEL_FLOOR = {"remission_rate": 0.05, "response_rate": 0.05, "early_improvement_rate": 0.05, "relapse_rate": 0.05,
               "recovered_by": 0.05,
               "rate_difference": 0.05, "mean_change": 1.0, "mean_difference": 1.0, "mean_percent_change": 3.0,
               "baseline_mean": 0.5, "baseline_sd": 0.3}


def derive_interval(value, kind: str, *, se=None, tolerance=None, floor=None) -> tuple[float, float]:
    """The pass interval of a row under the tolerance rule (module docstring): from ``se`` (half-width
    max(2 se, floor)) or a published interval/half-width ``tolerance``; then the half-width is capped at ``|value|``
    (non-zero numeric value) and probabilities are clipped to [0, 1].

    >>> derive_interval(0.35, "response_rate", se=0.11)
    (0.13, 0.57)
    >>> derive_interval(0.051, "remission_rate", se=0.023)
    (0.001, 0.101)
    """
    v = float(value) if isinstance(value, (int, float)) else None
    if se is not None:
        if v is None:
            raise ValueError("a row with se needs a numeric value")
        h = max(2.0 * float(se), float(MODEL_FLOOR.get(kind, 0.0) if floor is None else floor))
        lo, hi = v - h, v + h
    elif isinstance(tolerance, (list, tuple)):
        lo, hi = (float(x) for x in tolerance)
    else:
        lo, hi = v - float(tolerance), v + float(tolerance)
    if v is not None and v != 0 and math.isfinite(v):
        lo, hi = max(lo, v - abs(v)), min(hi, v + abs(v))
    if kind in PROBABILITY_KINDS:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return round(lo, 12), round(hi, 12)


@dataclass(frozen=True)
class Target:
    id: str
    family: str
    used_for: str             # "fit" | "check" | "input"
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
        """Pass interval [low, high] for the simulated statistic (the tolerance rule, :func:`derive_interval`)."""
        return derive_interval(self.value, self.statistic["kind"], se=self.extra.get("se"),
                               tolerance=self.tolerance, floor=self.extra.get("floor"))

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
        if "se" in raw and "tolerance" not in raw:
            raw = {**raw, "tolerance": None}
        missing = [k for k in REQUIRED if k not in raw]
        if missing:
            raise ValueError(f"target {raw.get('id')!r} lacks {missing}")
        if raw["id"] in seen:
            raise ValueError(f"target {raw['id']!r} twice")
        seen.add(raw["id"])
        if raw["protocol"] not in protocols:
            raise ValueError(f"target {raw['id']!r}: unknown protocol {raw['protocol']!r}")
        if raw["family"] not in FAMILIES or raw["used_for"] not in USES:
            raise ValueError(f"target {raw['id']!r}: bad family/used_for")
        if not str(raw["tolerance_reason"]).strip():
            raise ValueError(f"target {raw['id']!r}: tolerance without a reason")
        known = {k: raw[k] for k in REQUIRED}
        extra = {k: v for k, v in raw.items() if k not in REQUIRED and k not in ("unit", "spread")}
        out.append(Target(**known, unit=str(raw.get("unit", "")), spread=str(raw.get("spread", "")), extra=extra))
    return protocols, tuple(out)
