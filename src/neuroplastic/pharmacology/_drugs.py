from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml


@dataclass(frozen=True)
class DrugInfo:
    """Library entry for one drug (labelling facts; PK/PD parameters live in the registry)."""

    name: str
    drug_class: str
    compounds: tuple[str, ...]
    routes: tuple[str, ...]
    typical_dose: str
    max_daily_dose: str | None
    max_dose_per_kg: str | None
    max_source: str
    max_daily_dose_per_kg: str | None = None   # mg/kg in any 24 h
    max_weekly_dose: str | None = None         # mg in any 7 days
    formulations: tuple[str, ...] = ()         # oral formulations; the first is the default (pk.<drug>.ka)

    @property
    def parent(self) -> str:
        return self.compounds[0]


def _load() -> dict[str, DrugInfo]:
    doc = yaml.safe_load((resources.files("neuroplastic") / "data" / "drugs.yaml").read_text())
    return {
        k: DrugInfo(
            name=k,
            drug_class=v["class"],
            compounds=tuple(v["compounds"]),
            routes=tuple(v["routes"]),
            typical_dose=v["typical_dose"],
            max_daily_dose=v.get("max_daily_dose"),
            max_dose_per_kg=v.get("max_dose_per_kg"),
            max_source=v["max_source"],
            max_daily_dose_per_kg=v.get("max_daily_dose_per_kg"),
            max_weekly_dose=v.get("max_weekly_dose"),
            formulations=tuple(v.get("formulations", ())),
        )
        for k, v in doc.items()
    }


def _load_intervals() -> dict[str, dict]:
    return yaml.safe_load((resources.files("neuroplastic") / "data" / "dose_intervals.yaml").read_text())


DOSE_INTERVALS: dict[str, dict] = _load_intervals()


def min_dose_interval(route: str) -> tuple[float, str]:
    """The shortest allowed time between doses by ``route`` (seconds) and its source (dose_intervals.yaml).

    For ``iv`` it is counted from the end of one infusion to the start of the next.

    Example
    -------
    >>> min_dose_interval("oral")[0] / 3600, min_dose_interval("intranasal")[0] / 60
    (4.0, 5.0)
    """
    from .._units import Q_
    entry = DOSE_INTERVALS[route]
    return float(Q_(entry["min_interval"]).to("s").magnitude), entry["source"]


DRUGS: dict[str, DrugInfo] = _load()


def drug_names() -> list[str]:
    """Names of the drugs in the library.

    Example
    -------
    >>> "escitalopram" in drug_names()
    True
    """
    return sorted(DRUGS)


def drug_info(name: str) -> DrugInfo:
    """The library entry for ``name`` (KeyError if unknown)."""
    return DRUGS[name]
