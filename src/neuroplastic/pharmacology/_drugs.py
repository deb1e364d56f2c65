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
        )
        for k, v in doc.items()
    }


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
