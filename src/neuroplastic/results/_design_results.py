"""What a trial design adds to results.nc and summary.json: phases, arms over time, eligibility, levels, rule
firings, and time-to-relapse endpoints with Kaplan-Meier and Cox statistics."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .._units import DAY
from ..mood.scales import SCALES, remission, response
from ..trials._adaptive import endpoint_window
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
    if sc.dropout is not None:
        ds["dropout_day"] = (_dims(ds, "patient"), arm_sel(np.stack([c.dropout_day for c in cohorts])),
                             {"units": "day", "long_name": "day of the first missed visit (dropout; NaN: completed)"})
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
    from ..trials._adaptive import endpoint_visits, endpoint_window

    a, b = endpoint_window(sc, ep)
    visits = endpoint_visits(sc, ep)
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
    if sc.dropout is not None:
        out["dropout"] = dropout_analyses(sc, ds, cohorts)
    return out


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


def _analysis_groups(sc, ds, cohorts):
    """(arm name, cohort index, patient mask, window start s) of the groups dropout analyses compare: the top-level
    arms, or with phases the arms of the last randomised phase among those who entered it."""
    if sc.phases is None:
        return [(c.name, ci, np.ones(c.patients.n, bool), 0.0) for ci, c in enumerate(cohorts)]
    c = cohorts[0]
    ph = next((p for p in reversed(sc.phases) if p.arms is not None), sc.phases[-1])
    k = sc.phases.index(ph)
    entered = c.eligible.get(ph.name, np.ones(c.patients.n, bool)) if k else np.ones(c.patients.n, bool)
    lab = _label_at(c, ph.start + 1.0)
    return [(str(a).split("/", 1)[-1], 0, entered & (lab == a), ph.start) for a in dict.fromkeys(lab[entered])]


def dropout_analyses(sc, ds, cohorts) -> dict:
    """With dropout: per arm the dropout rate and the change from baseline at the last visit as a trial would
    analyse it -- completers, last observation carried forward (LOCF), and a mixed model for repeated measures
    (MMRM) -- beside the change every patient actually had (``all_patients``, what the model knows and a trial
    cannot see); arm differences against the reference arm by each method."""
    import pandas as pd
    import statsmodels.formula.api as smf

    from ..trials._adaptive import visit_times

    t = ds["time"].values * DAY
    groups = _analysis_groups(sc, ds, cohorts)
    out: dict = {"method_notes": {
        "completers": "patients still in the study at the last visit",
        "locf": "the last rating before dropout carried forward to the last visit",
        "mmrm": "change ~ visit + visit:arm + baseline, random intercept per patient (statsmodels MixedLM, REML), "
                "all observed visits; the estimate is the arm difference at the last visit",
        "all_patients": "every patient's simulated rating at the last visit, dropouts included (not observable in a trial)"},
        "arms": {}, "comparisons": {}}
    if not groups:
        return out
    ref = next((g for g in groups if "placebo" in g[0].lower()), groups[-1])
    w0 = groups[0][3]
    end = sc.phases[-1].end if sc.phases is not None else sc.duration
    visits = [v for v in visit_times(sc, t) if w0 - 1e-6 <= v <= end + 1e-6]
    rows = [int(np.argmin(np.abs(t - v))) for v in visits]
    for name in SCALES:
        per: dict = {}
        frames = []
        for arm, ci, m, _ in groups:
            c = cohorts[ci]
            sel = ds.isel(arm=ci) if "arm" in ds.dims else ds
            s = sel[name].values[m][:, rows]                     # (patients, visits)
            seen = np.asarray(visits)[None, :] < c.exit[m][:, None] - 1e-6
            seen[:, 0] = True
            base = s[:, 0]
            last_seen = seen.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1)
            locf = s[np.arange(len(s)), last_seen]
            comp = seen[:, -1]
            per[arm] = {"n": int(m.sum()), "dropouts": int((~comp).sum()), "dropout_rate": float((~comp).mean()),
                        "change_all_patients": float((s[:, -1] - base).mean()),
                        "change_completers": float((s[comp, -1] - base[comp]).mean()) if comp.any() else None,
                        "change_locf": float((locf - base).mean())}
            ids = np.flatnonzero(m) + ci * 10**7
            for j in range(1, len(visits)):
                ok = seen[:, j]
                frames.append(pd.DataFrame({"patient": ids[ok], "visit": j, "arm": arm, "baseline": base[ok],
                                            "change": s[ok, j] - base[ok], "full": s[:, j][ok]}))
        out["arms"].setdefault(name, per)
        data = pd.concat(frames, ignore_index=True) if frames else None
        comps = {}
        for arm, ci, m, _ in groups:
            if arm == ref[0] or data is None:
                continue
            block = {}
            for key in ("change_all_patients", "change_completers", "change_locf"):
                a, r = per[arm][key], per[ref[0]][key]
                block[key.replace("change_", "")] = None if a is None or r is None else float(a - r)
            d = data[data["arm"].isin([arm, ref[0]])].copy()
            d["treat"] = (d["arm"] == arm).astype(float)
            last = len(visits) - 1
            try:
                fit = smf.mixedlm("change ~ C(visit) + C(visit):treat + baseline", d, groups=d["patient"]).fit(reml=True)
                term = f"C(visit)[{last}]:treat"
                lo, hi = fit.conf_int().loc[term]
                block["mmrm"] = {"estimate": float(fit.params[term]), "ci95": [float(lo), float(hi)],
                                 "p_value": float(fit.pvalues[term])}
            except Exception as exc:   # a degenerate design (one visit, no variance): reported, not raised
                block["mmrm"] = {"estimate": None, "note": f"not estimable ({type(exc).__name__})"}
            comps[f"{arm} vs {ref[0]}"] = block
        out["comparisons"][name] = comps
    return out
