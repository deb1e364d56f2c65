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


def _expectancy_pulses(windows, P):
    """Non-overlapping expectancy pulses: at any time the strongest belief held (beliefs do not add up)."""
    if not windows:
        return []
    cuts = sorted({w[0] for w in windows} | {w[1] for w in windows})
    out = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        active = [w[2] for w in windows if w[0] <= a and b <= w[1]]
        if active:
            out.append(Pulse(a, b, "expectancy", np.max(np.stack(active), axis=0)))
    return out


_FORM = {"oral": "pill", "iv": "saline", "intranasal": "saline"}


def build_calendar(treatments, duration: float, weight: np.ndarray, params=None,
                   placebo_responsiveness: np.ndarray | None = None, expectancy: bool = False,
                   stimulation=None) -> Calendar:
    """Compile a treatment list into the event calendar: each treatment contributes what it physically delivers.

    Drugs give doses; TMS gives sessions (an episode computed on the millisecond scale for each patient's depth
    and stimulated site, plus the activity the session drives); VNS gives a duty-averaged drive to the locus
    coeruleus; psychotherapy gives session and practice activity; placebo gives expectancy. ``stimulation``: the
    patients' :class:`~neuroplastic.physics.tms.targeting.StimulationTraits` (default: the median patient).
    """
    from ..params import default_parameters

    params = params or default_parameters()
    P = len(weight)
    resp = np.ones(P) if placebo_responsiveness is None else placebo_responsiveness
    cal = Calendar()
    beliefs = []  # (start, end, level per patient): the expectation of benefit of a treatment the patient knows of
    from ..therapy import placebo

    def believe(form, start, end, administrations=None):
        for a, b, _, val in placebo.pulses(form, start, min(end, duration), params, P, resp, administrations):
            if a < b:
                beliefs.append((a, b, val))

    for tr in treatments:
        if tr.drug is not None:
            d = tr.drug
            times = d.dose_times(duration)
            for t in times:
                amt = d.dose * (weight if d.dose_per_kg else np.ones_like(weight))
                cal.doses.append(Dose(t, d.drug, d.pk_route, amt, d.infusion or 0.0))
            if expectancy and times:
                form = _FORM[d.route]
                last = times[-1] + (d.every or 0.0)
                believe(form, times[0], duration if form != "pill" else max(last, times[0] + 86400.0))
        elif tr.tms is not None:
            from ..physics.tms_session import session_plan
            from ..physics.tms.targeting import typical_traits
            plan = session_plan(tr.tms, params, typical_traits(P, params) if stimulation is None else stimulation)
            starts = tr.tms.schedule.session_starts(duration, plan.duration)
            for t in starts:
                cal.episodes.append(Episode(t, "tms", plan))
                cal.pulses.append(Pulse(t, min(t + plan.duration, duration), "dlpfc_drive", plan.dlpfc_drive))
            if expectancy and starts:
                # the course is experienced as ongoing until its next session would be due, as a pill's until the
                # next dose (below) and psychotherapy's until the next session: the schedule's longest gap between
                # session days (a weekday course ending on a Friday: until Monday), at least a day, at most a week
                day = np.unique(np.floor(np.asarray(starts) / 86400.0))
                due = float(np.clip(np.max(np.diff(day)) if len(day) > 1 else 1.0, 1.0, 7.0)) * 86400.0
                believe("sham_tms", starts[0], starts[-1] + due)
        elif tr.vns is not None:
            from ..physics.vns import lc_drive
            v = tr.vns
            end = duration if v.stop is None else min(v.stop, duration)
            if v.start < end:
                cal.pulses.append(Pulse(v.start, end, "lc_drive", np.full(P, lc_drive(v.settings(), params) - 1.0)))
                if expectancy:  # an implanted stimulator, without a daily or session ritual
                    believe("implant", v.start, end)
        elif tr.psychotherapy is not None:
            from ..therapy import psychotherapy
            pt = tr.psychotherapy
            sessions = pt.session_times(duration)
            for a, b, ch, val in psychotherapy.pulses(pt.kind, sessions, pt.session_length, params, pt.end(duration), P):
                cal.pulses.append(Pulse(a, b, ch, val))
            if expectancy and sessions:
                believe("pill", sessions[0], sessions[-1] + pt.every)
        elif tr.placebo is not None:
            pl = tr.placebo
            believe(pl.form, pl.start, duration if pl.stop is None else pl.stop, pl.administrations(duration))
    cal.pulses.extend(_expectancy_pulses(beliefs, P))
    cal.doses.sort(key=lambda x: x.time)
    cal.episodes.sort(key=lambda x: x.time)
    cal.pulses.sort(key=lambda x: x.start)
    return cal
