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


@dataclass(frozen=True)
class Pulse:
    """A piecewise-constant input: ``value`` (per patient) added to ``channel`` on [start, end)."""

    start: float
    end: float
    channel: str
    value: np.ndarray


@dataclass
class Calendar:
    doses: list[Dose] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    pulses: list[Pulse] = field(default_factory=list)

    def times(self) -> np.ndarray:
        """Every time at which the slow integrator must stop exactly."""
        t = [d.time for d in self.doses] + [d.time + d.duration for d in self.doses if d.duration > 0]
        t += [e.time for e in self.episodes]
        t += [p.start for p in self.pulses] + [p.end for p in self.pulses]
        return np.unique(np.asarray(t, float))

    def drug_routes(self) -> list[tuple[str, str]]:
        return sorted({(d.drug, d.route) for d in self.doses})


def _experience_episodes(events) -> list[Episode]:
    """One ``experience`` episode per administration time; administrations at the same instant (a pill and the
    blinded placebo procedure of the same visit) are one experience at the strongest level (beliefs do not add)."""
    from ..therapy.placebo import Experience

    at: dict[float, list] = {}
    for t, val in events:
        at.setdefault(round(float(t), 6), []).append(val)
    return [Episode(t, "experience", Experience(np.max(np.stack(vals), axis=0))) for t, vals in sorted(at.items())]


_FORM = {"oral": "pill", "iv": "saline", "intranasal": "nasal_spray"}


def build_calendar(treatments, duration: float, weight: np.ndarray, params=None,
                   placebo_responsiveness: np.ndarray | None = None, expectancy: bool = False,
                   stimulation=None) -> Calendar:
    """Compile a treatment list into the event calendar: each treatment contributes what it physically delivers.

    Drugs give doses; TMS gives sessions (an episode computed on the millisecond scale for each patient's depth
    and stimulated site, plus the activity the session drives); VNS gives a duty-averaged drive to the locus
    coeruleus; psychotherapy gives session and practice activity; every administration the patient experiences
    (and a placebo's) gives an ``experience`` episode carrying its expectancy level. ``stimulation``: the
    patients' :class:`~neuroplastic.physics.tms.targeting.StimulationTraits` (default: the median patient).
    """
    from ..params import default_parameters

    params = params or default_parameters()
    P = len(weight)
    resp = np.ones(P) if placebo_responsiveness is None else placebo_responsiveness
    cal = Calendar()
    experiences = []  # (time, level per patient): each administration the patient experiences of a treatment
    from ..therapy import placebo

    def experience(form, times):
        experiences.extend(placebo.events(form, [t for t in times if t < duration], params, resp))

    for tr in treatments:
        if tr.drug is not None:
            d = tr.drug
            times = d.dose_times(duration)
            for t in times:
                amt = d.dose * (weight if d.dose_per_kg else np.ones_like(weight))
                cal.doses.append(Dose(t, d.drug, d.pk_route, amt, d.infusion or 0.0))
            if expectancy:  # each dose taken, infusion received or spray given
                experience(_FORM[d.route], times)
        elif tr.tms is not None:
            from ..physics.tms_session import session_plan
            from ..physics.tms.targeting import typical_traits
            plan = session_plan(tr.tms, params, typical_traits(P, params) if stimulation is None else stimulation)
            starts = tr.tms.schedule.session_starts(duration, plan.duration)
            for t in starts:
                cal.episodes.append(Episode(t, "tms", plan))
                cal.pulses.append(Pulse(t, min(t + plan.duration, duration), "dlpfc_drive", plan.dlpfc_drive))
            if expectancy:  # each session sat through
                experience("sham_tms", starts)
        elif tr.vns is not None:
            from ..physics.vns import lc_drive
            v = tr.vns
            end = duration if v.stop is None else min(v.stop, duration)
            if v.start < end:
                cal.pulses.append(Pulse(v.start, end, "lc_drive", np.full(P, lc_drive(v.settings(), params) - 1.0)))
                if expectancy:  # an implanted stimulator, felt in its on-periods every day it is on
                    experience("implant", placebo.experienced("implant", v.start, end))
        elif tr.psychotherapy is not None:
            from ..therapy import psychotherapy
            pt = tr.psychotherapy
            sessions = pt.session_times(duration)
            for a, b, ch, val in psychotherapy.pulses(pt.kind, sessions, pt.session_length, params, pt.end(duration), P):
                cal.pulses.append(Pulse(a, b, ch, val))
            if expectancy:  # each session attended
                experience("pill", sessions)
        elif tr.placebo is not None:
            pl = tr.placebo
            stop = duration if pl.stop is None else min(pl.stop, duration)
            experience(pl.form, placebo.experienced(pl.form, pl.start, stop, pl.administrations(duration)))
    cal.episodes.extend(_experience_episodes(experiences))
    cal.doses.sort(key=lambda x: x.time)
    cal.episodes.sort(key=lambda x: x.time)
    cal.pulses.sort(key=lambda x: x.start)
    return cal
