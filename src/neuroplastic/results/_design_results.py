"""What a trial design adds to results.nc and summary.json: phases, arms over time, eligibility, levels, rule
firings, and time-to-relapse endpoints with Kaplan-Meier and Cox statistics."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .._units import DAY
from ..mood.scales import SCALES, remission, response
from ._trial_stats import hazard_ratio, km_at, km_curve, km_median


def _dims(ds, *rest):
    return (("arm",) if "arm" in ds.dims else ()) + rest


def add_design_variables(sc, ds: xr.Dataset, cohorts) -> xr.Dataset:
    """Per-patient design variables: ``arm_at_time`` and ``level`` (patient, time), ``in_study``, ``phase`` (time),
    ``eligible`` (patient, phase), ``rule_fired_day`` (patient, rule), and each endpoint's event day."""
    from ..trials._adaptive import timelines

    t_s = ds["time"].values * DAY
    tl = [timelines(c, t_s) for c in cohorts]
    labels = []
    for x in tl:
        labels += [lab for lab in x["labels"] if lab not in labels]
    code = np.stack([np.vectorize(lambda j, x=x: labels.index(x["labels"][j]))(x["code"]) for x in tl])
    arm_sel = (lambda a: a) if "arm" in ds.dims else (lambda a: a[0])
    ds["arm_at_time"] = (_dims(ds, "patient", "time"), arm_sel(code.astype(np.int16)),
                         {"units": "1", "long_name": "what the patient is assigned at each time (index into labels)",
                          "labels": json.dumps(labels), "flag_values": np.arange(len(labels), dtype=np.int16),
                          "flag_meanings": " ".join(lab.replace(" ", "_") for lab in labels)})
    ds["in_study"] = (_dims(ds, "patient", "time"), arm_sel(np.stack([x["in_study"] for x in tl]).astype(np.int8)),
                      {"units": "1", "long_name": "1 while the patient is in the study (0 after leaving it)"})
    if sc.rules:
        ds["level"] = (_dims(ds, "patient", "time"), arm_sel(np.stack([x["level"] for x in tl])),
                       {"units": "1", "long_name": "treatment level (1 = first; each switch, augmentation or randomised step adds one)"})
        ds = ds.assign_coords(rule=[r.name for r in sc.rules])
        fired = np.stack([np.stack([c.fired_day[r.name] for r in sc.rules], axis=-1) for c in cohorts])
        ds["rule_fired_day"] = (_dims(ds, "patient", "rule"), arm_sel(fired),
                                {"units": "day", "long_name": "first day the rule fired for the patient (NaN: never)"})
    if sc.phases is not None:
        names = [p.name for p in sc.phases]
        idx = np.zeros(len(t_s), np.int16)
        for k, p in enumerate(sc.phases):
            idx[t_s >= p.start - 1e-6] = k
        ds["phase"] = (("time",), idx, {"units": "1", "long_name": "phase of the trial (index into labels)",
                                        "labels": json.dumps(names), "flag_values": np.arange(len(names), dtype=np.int16),
                                        "flag_meanings": " ".join(n.replace(" ", "_") for n in names)})
        c = cohorts[0]
        el = np.stack([c.eligible.get(p.name, np.ones(c.patients.n, bool)) if k else np.ones(c.patients.n, bool)
                       for k, p in enumerate(sc.phases)], axis=-1)
        ds = ds.assign_coords(phase_name=names)
        ds["eligible"] = (("patient", "phase_name"), el.astype(np.int8),
                          {"units": "1", "long_name": "1 if the patient was eligible for (and entered) the phase"})
    for name, ep in (sc.endpoints or {}).items():
        days, event, _ = endpoint_events(sc, ds, cohorts, ep)
        ds[f"{name}_day"] = (_dims(ds, "patient"), arm_sel(np.where(event, days, np.nan)),
                             {"units": "day", "long_name": f"{name}: days from the start of the followed period to the event (NaN: none)"})
        ds[f"{name}_followed_days"] = (_dims(ds, "patient"), arm_sel(days),
                                       {"units": "day", "long_name": f"{name}: days to the event or to censoring (NaN: not followed)"})
    return ds


def endpoint_events(sc, ds, cohorts, ep):
    """Per cohort and patient: (days to relapse or censoring, event, followed), arrays (cohort, patient).

    Relapse is the first of ``consecutive`` visits ``ep.visits`` apart from the start of the followed period at
    which the rated score is at least ``ep.at_least``; a patient leaving the study is censored at the last visit
    before leaving. Only patients in the study at the period's start are followed."""
    from ..trials._adaptive import endpoint_window

    a, b = endpoint_window(sc, ep)
    visits = []
    k = 1
    while a + k * ep.visits <= b + 1e-6:
        visits.append(a + k * ep.visits)
        k += 1
    t = ds["time"].values * DAY
    rows = [int(np.argmin(np.abs(t - v))) for v in visits]
    out_d, out_e, out_f = [], [], []
    for ci, c in enumerate(cohorts):
        sel = ds.isel(arm=ci) if "arm" in ds.dims else ds
        s = sel[ep.scale].values[:, rows]          # (patient, visits), rated
        followed = c.exit > a + 1e-6               # in the study after the period's start
        high = s >= ep.at_least
        n = ep.consecutive
        run = np.ones((s.shape[0], max(len(visits) - n + 1, 0)), bool)
        for j in range(n):
            run &= high[:, j:j + run.shape[1]]
        seen = (np.asarray(visits)[None, :run.shape[1] + n - 1] < c.exit[:, None] - 1e-6)
        ok = run & seen[:, n - 1:n - 1 + run.shape[1]] if run.shape[1] else run
        event = ok.any(axis=1) & followed
        first = np.where(event, ok.argmax(axis=1), 0)
        last_seen = np.array([max([v for v in visits if v < e - 1e-6] or [a]) for e in c.exit])
        days = np.where(event, (np.asarray(visits)[first] - a) / DAY, (last_seen - a) / DAY)
        days = np.where(followed, days, np.nan)
        out_d.append(days)
        out_e.append(event)
        out_f.append(followed)
    return np.stack(out_d), np.stack(out_e), np.stack(out_f)


def _label_at(c, t):
    from ..trials._adaptive import timelines
    tl = timelines(c, np.array([t]))
    return np.asarray(tl["labels"], object)[tl["code"][:, 0]]


def design_summary(sc, ds, cohorts) -> dict:
    """summary.json's design part: per phase and arm, per level, and per endpoint."""
    out: dict = {}
    t = ds["time"].values * DAY
    if sc.phases is not None:
        c = cohorts[0]
        phases = []
        for k, ph in enumerate(sc.phases):
            entered = c.eligible.get(ph.name, np.ones(c.patients.n, bool)) if k else np.ones(c.patients.n, bool)
            lab = _label_at(c, ph.start + 1.0)
            end_row = int(np.argmin(np.abs(t - ph.end)))
            start_row = int(np.argmin(np.abs(t - ph.start)))
            item = {"name": ph.name, "start_day": ph.start / DAY, "duration_days": ph.duration / DAY,
                    "entered": int(entered.sum()), "arms": {}}
            if k:
                left_here = np.abs(c.exit - ph.start) < 1e-6
                item["eligible"] = {"who": ph.eligible.who, "scale": ph.eligible.scale,
                                    "eligible": int(entered.sum()), "of": int(entered.sum() + left_here.sum())}
            for arm in dict.fromkeys(lab[entered]):
                m = entered & (lab == arm)
                block = {"n": int(m.sum())}
                for name in SCALES:
                    s = ds[name].values
                    base, at_start, at_end = s[m, 0], s[m, start_row], s[m, end_row]
                    block[name] = {"entry_mean": float(at_start.mean()), "end_mean": float(at_end.mean()),
                                   "response_rate": float(response(at_end, base).mean()),
                                   "remission_rate": float(remission(at_end, name).mean())}
                item["arms"][str(arm).split("/", 1)[-1]] = block
            phases.append(item)
        out["phases"] = phases
    if sc.rules:
        out["levels"] = _levels(sc, ds, cohorts)
        out["rules"] = {r.name: {c.name: {"patients_fired": int((c.fired[r.name] > 0).sum()),
                                          "firings": int(c.fired[r.name].sum())} for c in cohorts}
                        for r in sc.rules}
    eps = {}
    for name, ep in (sc.endpoints or {}).items():
        days, event, followed = endpoint_events(sc, ds, cohorts, ep)
        a, b = endpoint_window(sc, ep)
        block = {"definition": {"scale": ep.scale, "at_least": ep.at_least, "consecutive": ep.consecutive,
                                "visit_interval_days": ep.visits / DAY, "from_day": a / DAY, "to_day": b / DAY,
                                "dated": "the first of the consecutive visits; days from the start of the followed period"},
                 "arms": {}}
        groups = []
        for ci, c in enumerate(cohorts):
            lab = _label_at(c, a + 1.0)
            for arm in dict.fromkeys(lab[followed[ci]]):
                groups.append((str(arm).split("/", 1)[-1], ci, followed[ci] & (lab == arm)))
        horizon = (b - a) / DAY
        marks = [d for d in (28.0, 84.0, 182.0, 364.0) if d <= horizon + 1e-6] or [horizon]
        for arm, ci, m in groups:
            d, e = days[ci][m], event[ci][m]
            kt, ks = km_curve(d, e)
            block["arms"][arm] = {
                "n": int(m.sum()), "relapses": int(e.sum()), "relapse_proportion": float(e.mean()) if m.any() else None,
                "median_days_to_relapse": km_median(d, e) if m.any() else None,
                "km_relapse_probability": {f"day_{x:g}": km_at(d, e, x) for x in marks} if m.any() else {},
                "km_curve": {"day": kt.tolist(), "relapse_free": ks.tolist()}}
        names = [g[0] for g in groups]
        if len(groups) > 1:
            ref = next((g for g in groups if "placebo" in g[0].lower()), groups[-1])
            block["reference_arm"] = ref[0]
            block["hazard_ratios"] = {}
            for arm, ci, m in groups:
                if arm == ref[0]:
                    continue
                dd = np.concatenate([days[ci][m], days[ref[1]][ref[2]]])
                ee = np.concatenate([event[ci][m], event[ref[1]][ref[2]]])
                gg = np.concatenate([np.ones(m.sum()), np.zeros(ref[2].sum())])
                block["hazard_ratios"][f"{arm} vs {ref[0]}"] = hazard_ratio(dd, ee, gg)
        block["arms_order"] = names
        eps[name] = block
    if eps:
        out["endpoints"] = eps
    return out


def endpoint_window(sc, ep):
    from ..trials._adaptive import endpoint_window as w
    return w(sc, ep)


def _levels(sc, ds, cohorts) -> dict:
    """Per top-level arm and level: who entered it, and response/remission at the level's end (the next level's
    start, leaving the study, or the end), relative to the study baseline; cumulative remission over levels."""
    t = ds["time"].values * DAY
    out = {}
    for ci, c in enumerate(cohorts):
        sel = ds.isel(arm=ci) if "arm" in ds.dims else ds
        top = max(lv for L in c.levels for _, lv in L)
        arm_out = []
        remitted_by = {name: np.zeros(c.patients.n, bool) for name in SCALES}
        for L in range(1, top + 1):
            starts = np.array([next((t0 for t0, lv in c.levels[i] if lv == L), np.nan) for i in range(c.patients.n)])
            ends = np.array([next((t0 for t0, lv in c.levels[i] if lv == L + 1), min(c.exit[i], sc.duration))
                             for i in range(c.patients.n)])
            m = ~np.isnan(starts)
            item = {"level": L, "entered": int(m.sum())}
            if m.any():
                rows = np.array([int(np.argmin(np.abs(t - e))) for e in ends[m]])
                for name in SCALES:
                    s = sel[name].values[m]
                    base, end = s[:, 0], s[np.arange(m.sum()), rows]
                    rem = remission(end, name)
                    remitted_by[name][np.flatnonzero(m)[rem]] = True
                    item[name] = {"remission_rate": float(rem.mean()), "response_rate": float(response(end, base).mean()),
                                  "end_mean": float(end.mean()),
                                  "cumulative_remission_rate": float(remitted_by[name].mean())}
            arm_out.append(item)
        out[c.name] = arm_out
    if len(out) == 1:
        return next(iter(out.values()))
    return out
