"""Running a trial design: phases with eligibility and randomisation, and rules that react to each patient's ratings.

Causality makes this simple and exact. A patient's treatment *plan* (its treatments on the scenario clock) is what
the design has decided for it so far. Patients with the same plan are one group and run as one vectorised cohort
over the whole scenario. At each decision time (a phase boundary, a rule's visit) the rated scores up to that time
are read from the group's run -- later treatments cannot change them -- and the design decides; patients whose plan
changes form new groups and run again from day 0 with their new plan. So every patient's final trajectory is one
ordinary run of its own final plan, whatever the grouping, chunking or back end: the same numbers every way.

Randomisation at a phase boundary and among a rule's options deals the patients who qualify, ordered by a key from
each patient's own random stream, to the arms in turn (equal allocation, exactly balanced).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._random import uniforms, uniforms_at
from .._units import DAY
from ..engine._simulate import ArmRun, Patients, patients_from, run_arm
from ..errors import ScenarioError
from ..mood.scales import SCALES, observed_scores, remission, response
from ..scenario._design import active_drugs, cut, shift

OFF_STUDY = "off study"
_STREAM_RANDOMISE = 9100   # random stream for allocation keys (stream + decision index)


@dataclass
class Cohort:
    """The patients of one top-level arm and what the design has decided for each of them."""

    name: str
    patients: Patients
    plans: list            # per patient: tuple of Treatment on the scenario clock
    codes: list            # per patient: [(time s, label)] -- the arm (or level option) from that time on
    levels: list           # per patient: [(time s, level)]
    in_study: np.ndarray   # (P,) bool: still in the study
    exit: np.ndarray       # (P,) s: when the patient left the study (inf: never)
    fired: dict = field(default_factory=dict)        # rule name -> (P,) firings
    fired_day: dict = field(default_factory=dict)    # rule name -> (P,) first firing day (nan: never)
    eligible: dict = field(default_factory=dict)     # phase name -> (P,) bool
    runs: list = field(default_factory=list)         # per patient: (ArmRun, column) of its current plan's run
    dropout_day: np.ndarray | None = None            # (P,) day the patient dropped out (nan: never)
    dropout_next: int = 1                            # next visit index the dropout process has not yet looked at


def _subset(p: Patients, idx: np.ndarray) -> Patients:
    return Patients(*[None if getattr(p, f) is None else getattr(p, f)[idx] for f in Patients.__dataclass_fields__])


def decision_times(sc) -> list[float]:
    """Phase starts (after the first), rule evaluation times, and eligibility visit times, sorted."""
    t = set()
    for ph in (sc.phases or ())[1:]:
        t.add(ph.start)
    for r in sc.rules:
        t.update(r.when.times(sc.duration))
    return sorted(t)


def output_times(sc, base) -> list[float]:
    """The run's output times: the scenario's own (``base``, or its ``output_every`` grid) plus every time the design
    reads a rating (decisions, eligibility visits, endpoint visits)."""
    if base is None:
        n = int(np.floor(sc.duration / sc.output_every + 1e-9))
        base = [k * sc.output_every for k in range(n + 1)]
    t = {float(x) for x in base} | {0.0}
    t.update(decision_times(sc))
    for ph in (sc.phases or ())[1:]:
        el = ph.eligible
        if el.at_most is not None:
            t.update(x for x in el.check_times(ph.start) if x >= 0)
    for ep in (sc.endpoints or {}).values():
        t.update(endpoint_visits(sc, ep))
    return sorted(x for x in t if x <= sc.duration + 1e-6)


def endpoint_visits(sc, ep) -> list[float]:
    """The endpoint's visit times (s): every ``ep.visits`` after the start of its followed period, to its end."""
    a, b = endpoint_window(sc, ep)
    n = int(np.floor((b - a) / ep.visits + 1e-9))
    return [a + k * ep.visits for k in range(1, n + 1)]


def endpoint_window(sc, ep) -> tuple[float, float]:
    """(start, end) in s of the period an endpoint follows: its phase (default: the last), or the whole study."""
    if sc.phases is None:
        return 0.0, sc.duration
    ph = next((p for p in sc.phases if p.name == ep.phase), sc.phases[-1])
    return ph.start, ph.end


def _initial(sc) -> list[tuple[str, tuple, str]]:
    """(cohort name, initial plan, first label) per top-level arm; with phases one cohort, ``treatment``, whose
    first-phase arms (if any) are dealt by :func:`run_design`."""
    if sc.phases is not None:
        ph = sc.phases[0]
        branches = ph.branches()
        if len(branches) > 1:
            return [("treatment", (), ph.name)]
        label, trs = branches[0]
        return [("treatment", tuple(x for x in (shift(t, ph.start, ph.end) for t in trs) if x is not None), label)]
    return [(name, trs, name) for name, trs in sc.arm_list()]


def run_design(sc, params, *, frozen=(), progress=None, out_times=None, chunk=None, workers=None, scheduler=None,
               processes=None):
    """Run a design (``sc.is_design``); returns ``(patients, runs, cohorts)`` with one ArmRun per top-level arm
    (phases: one arm, ``cohort``) whose columns are each patient's own final run, and the per-patient decisions."""
    from ..engine._backends import auto_processes, executor
    from ..engine._simulate import _run_chunk, chunk_size

    times = output_times(sc, out_times)
    chunk = chunk_size(sc, times, chunk)
    cohorts = []
    for k, (name, plan, label) in enumerate(_initial(sc)):
        pats = patients_from(sc, k, params)
        P = pats.n
        c = Cohort(name, pats, [plan] * P, [[(0.0, label)] for _ in range(P)], [[(0.0, 1)] for _ in range(P)],
                   np.ones(P, bool), np.full(P, np.inf), runs=[None] * P)
        for r in sc.rules:
            c.fired[r.name] = np.zeros(P, int)
            c.fired_day[r.name] = np.full(P, np.nan)
        c.dropout_day = np.full(P, np.nan)
        cohorts.append(c)
    if sc.phases is not None and sc.phases[0].arms is not None and len(sc.phases[0].arms) > 1:
        _randomise(sc, cohorts[0], sc.phases[0], np.arange(cohorts[0].patients.n), 0)
    rounds = [(t, "decide") for t in decision_times(sc)] + [(sc.duration, "end")]
    n_rounds = len(rounds)

    def run_stale():
        jobs, where = [], []
        for c in cohorts:
            stale = [i for i in range(c.patients.n) if c.runs[i] is None]
            groups: dict = {}
            for i in stale:
                groups.setdefault(c.plans[i], []).append(i)
            for plan, idx in groups.items():
                idx = np.asarray(idx)
                for a in range(0, len(idx), chunk):
                    sl = idx[a:a + chunk]
                    jobs.append((sc, plan, _subset(c.patients, sl), params, frozen, times))
                    where.append((c, sl))
        if not jobs:
            return
        procs = processes if processes is not None else auto_processes(len(jobs), sum(len(w[1]) for w in where))
        if len(jobs) == 1 and not workers and scheduler is None:
            results = [run_arm(*jobs[0][:4], frozen=frozen, out_times=times)]
        else:
            with executor(workers, scheduler, procs) as imap:
                results = list(imap(_run_chunk, jobs))
        from ..engine._simulate import check_finite
        for (c, sl), r, job in zip(where, results, jobs):
            check_finite(r, job[2])
            for col, i in enumerate(sl):
                c.runs[int(i)] = (r, col)

    for k, (t, what) in enumerate(rounds):
        run_stale()
        if progress is not None:
            progress(k + 1, n_rounds + 1)
        for c in cohorts:   # who has left by t: they are not seen at t
            _dropout(sc, params, c, t, times)
        if what == "end":
            break
        for c in cohorts:
            _decide(sc, params, c, t)
    run_stale()
    patients = {c.name: c.patients for c in cohorts}
    runs = {c.name: _assemble(c, times) for c in cohorts}
    return patients, runs, cohorts


_STREAM_DROPOUT = 9300


def visit_times(sc, times) -> list[float]:
    """The visits at which a patient is seen (and may fail to return): the scenario's ``visits``, else its
    output times."""
    return [float(v) for v in (sc.visits if sc.visits is not None else times)]


def _dropout(sc, params, c: Cohort, t_upto: float, times) -> None:
    """Dropout at each visit up to ``t_upto`` not yet looked at: a patient in the study misses visit k (and every
    later one) with probability 1 - exp(-h dt), where dt is the time since visit k-1 and

        h = h0 (1 + g x) + h_AE o,

    x the rated score at visit k-1 relative to baseline (0 remitted .. 1 unchanged, clipped to [0, 1.5]), o the largest
    transporter occupancy there (adverse-event burden of the treatment), h0, g, h_AE the trial.dropout.* values (or the
    scenario's). The draw is the patient's own (seed, patient, visit time): the same whatever the grouping. A patient
    who drops out keeps its simulated course on its treatments (results.nc holds what would have been); the
    analyses see only the visits before it (``in_study``)."""
    if sc.dropout is None:
        return
    v = visit_times(sc, times)
    h0 = sc.dropout.get("base_hazard", params.si("trial.dropout.base_hazard"))
    g = sc.dropout.get("nonimprovement_gain", params.value("trial.dropout.nonimprovement_gain"))
    hae = sc.dropout.get("adverse_event_hazard", params.si("trial.dropout.adverse_event_hazard"))
    scale = (sc.endpoints or {}).get("relapse").scale if (sc.endpoints or {}).get("relapse") else "hamd17"
    while c.dropout_next < len(v) and v[c.dropout_next] <= t_upto + 1e-6:
        k = c.dropout_next
        prev, now = v[k - 1], v[k]
        s = rated(sc, params, c, scale, [0.0, prev])
        x = np.clip(s[:, 1] / np.maximum(s[:, 0], 1.0), 0.0, 1.5)
        occ = _occupancy(c, prev)
        h = h0 * (1.0 + g * x) + hae * occ
        u = uniforms_at(sc.seed, c.patients.ids, _STREAM_DROPOUT, [now])[:, 0]
        leave = c.in_study & (u < 1.0 - np.exp(-h * (now - prev)))
        c.dropout_day[leave] = now / DAY
        c.exit[leave] = now
        c.in_study &= ~leave
        c.dropout_next += 1


def _by_run(c: Cohort):
    """(run, patient indices, their columns in it) for each distinct run the cohort's patients currently read."""
    groups: dict = {}
    for i, (r, col) in enumerate(c.runs):
        groups.setdefault(id(r), (r, [], []))
        groups[id(r)][1].append(i)
        groups[id(r)][2].append(col)
    return [(r, np.asarray(idx), np.asarray(cols)) for r, idx, cols in groups.values()]


def _occupancy(c: Cohort, t: float) -> np.ndarray:
    """The largest of SERT, NET and DAT occupancy of each patient at ``t``."""
    out = np.zeros(c.patients.n)
    for r, idx, cols in _by_run(c):
        row = int(np.argmin(np.abs(r.time - t)))
        out[idx] = np.max([r.inputs[k][row, cols] for k in ("sert_occupancy", "net_occupancy", "dat_occupancy")], axis=0)
    return out


def rated(sc, params, c: Cohort, scale: str, t_list) -> np.ndarray:
    """Rated scores (P, len(t_list)) of every patient of ``c`` at times ``t_list`` (s) from its current run; the
    same numbers as the rated scores in results.nc (rater noise keyed by seed, patient, scale and time)."""
    out = np.empty((c.patients.n, len(t_list)))
    for r, idx, cols in _by_run(c):
        rows = [int(np.argmin(np.abs(r.time - t))) for t in t_list]
        e = r.observed[f"{scale}_recalled"][np.ix_(rows, cols)]
        obs = observed_scores({scale: e}, params, sc.seed * 1000, c.patients.ids[idx], np.asarray(t_list) / DAY)[scale]
        out[idx] = obs.T
    return out


def _status(x, b, scale, what) -> np.ndarray:
    """Whether each rated score ``x`` (baseline ``b``) is ``what``: responded, not_responded, remitted, not_remitted."""
    if what in ("responded", "not_responded"):
        hit = response(x, b)
    else:
        hit = remission(x, scale)
    return ~hit if what.startswith("not_") else hit


def _status_at(sc, params, c, scale, t, what) -> np.ndarray:
    s = rated(sc, params, c, scale, [0.0, t])
    return _status(s[:, 1], s[:, 0], scale, what)


def _phase_at(sc, t):
    if sc.phases is None:
        return None
    return next((p for p in sc.phases if p.start <= t < p.end), sc.phases[-1])


def _decide(sc, params, c: Cohort, t: float) -> None:
    # a phase starting at t: eligibility among those in the study, then allocation
    if sc.phases is not None:
        for k, ph in enumerate(sc.phases):
            if k == 0 or abs(ph.start - t) > 1e-6:
                continue
            el = ph.eligible
            if el.at_most is not None:
                s = rated(sc, params, c, el.scale, [x for x in el.check_times(t) if x >= 0])
                ok = (s <= el.at_most).sum(axis=1) >= el.visits
                if el.who != "all":
                    ok &= _status_at(sc, params, c, el.scale, t, _WHO[el.who])
            elif el.who == "all":
                ok = np.ones(c.patients.n, bool)
            else:
                ok = _status_at(sc, params, c, el.scale, t, _WHO[el.who])
            ok &= c.in_study
            c.eligible[ph.name] = ok
            leave = c.in_study & ~ok
            for i in np.flatnonzero(leave):
                c.codes[i].append((t, OFF_STUDY))
            c.exit[leave] = t
            c.in_study &= ok
            _randomise(sc, c, ph, np.flatnonzero(ok), k)
    # rules evaluated at t
    ph = _phase_at(sc, t)
    end = ph.end if ph is not None else sc.duration
    for ri, rule in enumerate(sc.rules):
        if not any(abs(x - t) < 1e-6 for x in rule.when.times(sc.duration)):
            continue
        w = rule.when
        s = rated(sc, params, c, w.scale, [0.0, t])
        b, x = s[:, 0], s[:, 1]
        hit = c.in_study & (c.fired[rule.name] < rule.times)
        if w.status is not None:
            hit &= _status(x, b, w.scale, w.status)
        if w.level is not None:
            hit &= np.array([L[-1][1] == w.level for L in c.levels])
        if w.at_least is not None:
            hit &= x >= w.at_least
        if w.at_most is not None:
            hit &= x <= w.at_most
        if w.change_at_least is not None:
            hit &= (x - b) >= w.change_at_least
        if w.change_at_most is not None:
            hit &= (x - b) <= w.change_at_most
        idx = np.flatnonzero(hit)
        if not len(idx):
            continue
        c.fired[rule.name][idx] += 1
        first = np.isnan(c.fired_day[rule.name][idx])
        c.fired_day[rule.name][idx[first]] = t / DAY
        if rule.then.kind == "randomise":
            names = [n for n, _ in rule.then.options]
            order = _deal(sc, c, idx, 1000 + ri * 100 + int(c.fired[rule.name][idx].max()), len(names))
            for j, (oname, act) in enumerate(rule.then.options):
                for i in idx[order == j]:
                    _apply(c, int(i), act, t, end, sc, f"{rule.name}: {oname}", rule)
        else:
            for i in idx:
                _apply(c, int(i), rule.then, t, end, sc, rule.name, rule)


_WHO = {"responders": "responded", "remitters": "remitted", "non_responders": "not_responded",
        "non_remitters": "not_remitted"}


def _deal(sc, c: Cohort, idx: np.ndarray, stream: int, n_arms: int) -> np.ndarray:
    """Arm index per patient of ``idx``: ordered by a key from each patient's own stream, dealt in turn."""
    key = uniforms(sc.seed, c.patients.ids[idx], _STREAM_RANDOMISE + stream, 1)[:, 0]
    order = np.argsort(key, kind="stable")
    arm = np.empty(len(idx), int)
    arm[order] = np.arange(len(idx)) % n_arms
    return arm


def _randomise(sc, c: Cohort, ph, idx: np.ndarray, k: int) -> None:
    """Give the patients ``idx`` the phase's treatments (one list, or arms dealt in turn)."""
    branches = ph.branches()
    arm = _deal(sc, c, idx, k, len(branches)) if len(branches) > 1 else np.zeros(len(idx), int)
    shifted = [tuple(x for x in (shift(t, ph.start, ph.end) for t in trs) if x is not None) for _, trs in branches]
    for i, a in zip(idx, arm):
        i = int(i)
        c.plans[i] = c.plans[i] + shifted[a] if k > 0 else shifted[a]
        if k > 0 or len(branches) > 1:
            if k == 0:
                c.codes[i] = [(0.0, branches[a][0])]
            else:
                c.codes[i].append((ph.start, branches[a][0]))
        c.runs[i] = None


def _apply(c: Cohort, i: int, act, t: float, end: float, sc, label: str, rule) -> None:
    """Apply a rule's action to patient ``i`` at ``t``; the new treatments end at ``end`` (the phase's end)."""
    plan = list(c.plans[i])
    new = [x for x in (shift(tr, t, end) for tr in act.treatments) if x is not None]
    if act.kind == "switch":
        plan = [x for x in (cut(tr, t) for tr in plan) if x is not None] + new
    elif act.kind == "add":
        on = active_drugs(plan, t, sc.duration)
        clash = [tr.drug.drug for tr in new if tr.drug is not None and tr.drug.drug in on]
        if clash:
            raise ScenarioError(f"rules[{sc.rules.index(rule)}].then.add", clash[0],
                                "a drug the patient is not already taking at the rule's time (use change_dose or switch)")
        plan = plan + new
    elif act.kind == "stop":
        plan = [cut(tr, t) if (not act.drugs or (tr.drug is not None and tr.drug.drug in act.drugs)) else tr for tr in plan]
        plan = [x for x in plan if x is not None]
    elif act.kind in ("change_dose", "taper"):
        drug = act.drugs[0]
        kept, cont = [], []
        for tr in plan:
            if tr.drug is not None and tr.drug.drug == drug and any(x >= t for x in tr.drug.dose_times(sc.duration)):
                cont.append(tr)
                tr = cut(tr, t)
            if tr is not None:
                kept.append(tr)
        plan = kept
        for tr in cont:
            d = tr.drug
            stop = end if d.stop is None else min(d.stop, end)
            if d.every is None:
                continue   # single or listed doses: nothing to re-dose on a schedule
            if act.kind == "change_dose":
                upd = {"start": _next_dose(d, t), "stop": stop}
                if act.dose is not None:
                    upd["dose"] = act.dose
                if act.every is not None:
                    upd["every"] = act.every
                new_tr = tr.model_copy(update={"drug": d.model_copy(update=upd)})
                _check_changed_dose(sc, rule, new_tr.drug)
                plan.append(new_tr)
            else:
                plan += _taper(tr, _next_dose(d, t), min(stop, t + act.over))
    c.plans[i] = tuple(plan)
    c.codes[i].append((t, label))
    if rule.starts_level:
        c.levels[i].append((t, c.levels[i][-1][1] + 1))
    c.runs[i] = None


def _next_dose(d, t: float) -> float:
    """The schedule's first dose time at or after ``t`` (a changed schedule keeps the dosing time of day)."""
    k = np.ceil((t - d.start) / d.every - 1e-9)
    return d.start + max(k, 0) * d.every


def _taper(tr, t0: float, t1: float) -> list:
    """The drug of ``tr`` tapered from ``t0`` to ``t1``: weekly steps (daily for tapers under two weeks) down from the
    current dose, each a fraction (n - k) / (n + 1) of it, then nothing."""
    d = tr.drug
    step = 7 * DAY if t1 - t0 >= 14 * DAY else DAY
    n = max(1, int(round((t1 - t0) / step)))
    out = []
    for k in range(n):
        a, b = t0 + k * step, min(t1, t0 + (k + 1) * step)
        if a >= b:
            break
        dose = d.dose * (n - k) / (n + 1)
        out.append(tr.model_copy(update={"drug": d.model_copy(update={"start": a, "stop": b, "dose": dose})}))
    return out


def _assemble(c: Cohort, times) -> ArmRun:
    """One ArmRun whose patient columns are each patient's own run (compounds a run lacks are 0)."""
    P = c.patients.n
    first = c.runs[0][0]
    T = len(first.time)
    comps = sorted({k for r, _ in c.runs for k in r.plasma})
    plasma = {k: np.zeros((T, P)) for k in comps}
    inputs = {k: np.empty((T, P)) for k in first.inputs}
    observed = {k: np.empty((T, P)) for k in first.observed}
    by_run: dict = {}
    for i, (r, col) in enumerate(c.runs):
        by_run.setdefault(id(r), (r, [], []))
        by_run[id(r)][1].append(i)
        by_run[id(r)][2].append(col)
    doses, sessions = {}, set()
    for r, idx, cols in by_run.values():
        for dst, src in ((plasma, r.plasma), (inputs, r.inputs), (observed, r.observed)):
            for k, v in src.items():
                if k in dst:
                    dst[k][:, idx] = v[:, cols]
        for d in r.doses:
            doses.setdefault((d.time, d.drug), d)
        sessions.update(r.sessions)
    return ArmRun(first.time, plasma, inputs, observed, [doses[k] for k in sorted(doses)], sorted(sessions))


def timelines(c: Cohort, t_s: np.ndarray) -> dict:
    """Per patient and output time: the arm label code, the level, and whether the patient is in the study."""
    labels = []
    for codes in c.codes:
        for _, lab in codes:
            if lab not in labels:
                labels.append(lab)
    if OFF_STUDY in labels:
        labels.remove(OFF_STUDY)
        labels.append(OFF_STUDY)
    P, T = c.patients.n, len(t_s)
    code = np.zeros((P, T), np.int16)
    level = np.zeros((P, T), np.int16)
    for i in range(P):
        for t0, lab in c.codes[i]:
            code[i, t_s >= t0 - 1e-6] = labels.index(lab)
        for t0, lv in c.levels[i]:
            level[i, t_s >= t0 - 1e-6] = lv
    in_study = t_s[None, :] < c.exit[:, None] - 1e-6
    in_study[:, 0] = True
    return {"labels": labels, "code": code, "level": level, "in_study": in_study}


def _check_changed_dose(sc, rule, d) -> None:
    """A changed dose or interval is held to the same labelled limits and minimum interval as any schedule (unless
    the scenario or the schedule allows off-label use); a one-line SafetyError names the rule."""
    from ..scenario._schema import _check_dose_interval, _check_dose_limits, _dose_check_weights
    if sc.allow_off_label or d.allow_off_label:
        return
    field = f"rules[{sc.rules.index(rule)}].then.change_dose"
    _check_dose_interval(d, field)
    _check_dose_limits(d, field, sc.duration, _dose_check_weights(sc))
