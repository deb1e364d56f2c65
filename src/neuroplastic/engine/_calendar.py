"""The event calendar: every dose, infusion start/stop and session, merged and sorted once per scenario."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Dose:
    time: float            # s
    drug: str
    route: str
    amount: np.ndarray     # kg per patient (bioavailability not yet applied)
    duration: float = 0.0  # s; > 0 for a zero-order infusion

    @property
    def kind(self) -> str:
        return "infusion" if self.duration > 0 else "dose"


@dataclass(frozen=True)
class Episode:
    """A session event whose millisecond-scale effect is computed by ``apply(state_view, params, t)``."""

    time: float
    kind: str
    payload: object = None


@dataclass
class Calendar:
    doses: list[Dose] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)

    def times(self) -> np.ndarray:
        """Every time at which the slow integrator must stop exactly."""
        t = [d.time for d in self.doses] + [d.time + d.duration for d in self.doses if d.duration > 0]
        t += [e.time for e in self.episodes]
        return np.unique(np.asarray(t, float))

    def drug_routes(self) -> list[tuple[str, str]]:
        return sorted({(d.drug, d.route) for d in self.doses})


def build_calendar(treatments, duration: float, weight: np.ndarray) -> Calendar:
    """Compile a treatment list into the event calendar for patients of the given weights (kg)."""
    cal = Calendar()
    for tr in treatments:
        d = tr.drug
        if d is not None:
            for t in d.dose_times(duration):
                amt = d.dose * (weight if d.dose_per_kg else np.ones_like(weight))
                cal.doses.append(Dose(t, d.drug, d.route, amt, d.infusion or 0.0))
    cal.doses.sort(key=lambda x: x.time)
    cal.episodes.sort(key=lambda x: x.time)
    return cal
