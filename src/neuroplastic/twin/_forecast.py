"""Forecasting a twin's options: the posterior predictive of every scale at each future visit, rater noise included.

An option is a list of treatments in the scenario language, written from the last rating (its times count from
that day); the record's treatments stop there. ``continue`` keeps the record's treatments as they are. Every
posterior particle runs each option as one vectorised cohort from day 0 (the record's history, then the option),
and each particle's ratings get the rater's noise and rounding, so the bands are those of the ratings a clinician
would record.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .._random import patient_keys
from .._units import DAY
from ..engine._batch import stack_patients
from ..mood.scales import SCALES, remission, response
from ..scenario._design import cut, shift

QUANTILES = {"q2.5": 0.025, "q10": 0.10, "q25": 0.25, "median": 0.50, "q75": 0.75, "q90": 0.90, "q97.5": 0.975}
# a relapse: the rated score back at or above this (HAM-D17 >= 16; MADRS >= 22 as in SUSTAIN-1, Daly 2019 JAMA
# Psychiatry 76:893; QIDS >= 11 as in STAR*D's follow-up, Rush 2006 Am J Psychiatry 163:1905)
RELAPSE_AT_LEAST = {"hamd17": 16.0, "madrs": 22.0, "qids_sr16": 11.0}
_STREAM_NOISE = 4301
_STREAM_EVENTS = 4302


def option_treatments(record, option, t_last: float, end: float):
    """The treatments of an option on the record's clock: the record's cut at ``t_last`` and the option's from it
    (``None``: the record's own treatments, continued)."""
    if option is None:
        return record.scenario.treatments
    kept = [x for x in (cut(tr, t_last) for tr in record.scenario.treatments) if x is not None]
    new = [x for x in (shift(tr, t_last, end) for tr in option) if x is not None]
    return tuple(kept + new)


PREDICTIVE_PATHS = 1000   # posterior particles that run each option (equally spaced through the particle set)


def forecast(twin, options: dict, *, horizon: float, every: float, seed: int | None = None) -> dict:
    """For each option (name -> treatment tuple, or None for ``continue``): the predictive median and 50/80/95%
    bands of each scale at every ``every`` up to ``horizon`` after the last rating, and P(response),
    P(remission) and P(relapse) by the horizon.

    Response is a rated score at most half the record's baseline on that scale; remission the scale's remission
    score; relapse (only for a patient responding at the last rating) a rated score at or above
    :data:`RELAPSE_AT_LEAST` at any forecast visit.
    """
    return forecast_many([twin], options, horizon=horizon, every=every, seed=seed)[0]


def forecast_many(twins, options: dict, *, horizon: float, every: float, seed: int | None = None) -> list[dict]:
    """:func:`forecast` for several twins; twins with the same treatments and last rating day share each option's
    run (their particles are one vectorised cohort)."""
    groups: dict = {}
    for i, tw in enumerate(twins):
        groups.setdefault((tw.record.scenario.treatments, tw.record.last_day), []).append(i)
    out: list = [None] * len(twins)
    for idx in groups.values():
        for i, fc in zip(idx, _forecast_group([twins[i] for i in idx], options, horizon, every, seed)):
            out[i] = fc
    return out


def _forecast_group(twins, options, horizon, every, seed):
    from ..engine._simulate import run_arm
    from ..errors import ScenarioError
    from ..mood.scales import observed_scores
    from ._fit import _patients

    rec0 = twins[0].record
    params = twins[0].params
    t_last = rec0.last_day * DAY
    end = t_last + horizon
    n = int(np.floor(horizon / every + 1e-9))
    f_days = np.asarray([(t_last + k * every) / DAY for k in range(1, n + 1)])
    if not len(f_days):
        raise ScenarioError("--every", f"{every / DAY:g} days", f"an interval no longer than the horizon ({horizon / DAY:g} days)")
    # the particles are equally weighted after resampling, so an evenly spaced subset is a posterior sample
    gs = [tw.g[np.linspace(0, len(tw.g) - 1, min(len(tw.g), PREDICTIVE_PATHS)).round().astype(int)] for tw in twins]
    Ks = [len(g) for g in gs]
    parts = [_patients(tw.record, g, params, ids=np.arange(k)) for tw, g, k in zip(twins, gs, Ks)]
    # after the last rating every particle meets its own seeded life events (the record's period is in the fitted
    # traits): the bands widen with the months ahead as they do for real patients
    sds = [tw.seed if seed is None else seed for tw in twins]
    parts = [replace(pt, life_events=patient_keys(sd * 1000 + _STREAM_EVENTS, np.arange(k)),
                     life_events_from=np.full(k, t_last)) for pt, sd, k in zip(parts, sds, Ks)]
    pts = stack_patients(parts)
    sc = rec0.scenario.model_copy(update={"duration": end})
    all_days = np.concatenate([[0.0], f_days])
    # the fit over the record's period: weekly and at each rating day (the same for every option)
    h_days = np.asarray(sorted({float(d) for d in np.arange(0.0, rec0.last_day + 1e-9, 7.0)}
                               | {r.day for tw in twins for r in tw.record.ratings}))
    outs = [{"record_last_day": tw.record.last_day, "horizon_days": horizon / DAY, "every_days": every / DAY,
             "particles": int(k), "options": []} for tw, k in zip(twins, Ks)]
    for name, opt in options.items():
        trs = option_treatments(rec0, opt, t_last, end)
        run = run_arm(sc, trs, pts, params, out_times=sorted({0.0, t_last} | {d * DAY for d in f_days}
                                                              | {d * DAY for d in h_days}),
                      keep=[f"{s}_recalled" for s in SCALES])
        rows = [int(np.argmin(np.abs(run.time - d * DAY))) for d in all_days]
        hrows = [int(np.argmin(np.abs(run.time - d * DAY))) for d in h_days]
        a = 0
        for tw, k, out, sd in zip(twins, Ks, outs, sds):
            sl = slice(a, a + k)
            a += k
            rec = tw.record
            if "fit" not in out:   # the posterior's rated scores over the record's period
                fit = {"days": h_days.tolist(), "scales": {}}
                for s in SCALES:
                    e = run.observed[f"{s}_recalled"][hrows][:, sl]
                    obs = observed_scores({s: e}, params, sd * 1000 + _STREAM_NOISE + 1, np.arange(k), h_days)[s]
                    fit["scales"][s] = {key: np.quantile(obs, v, axis=1).tolist() for key, v in QUANTILES.items()}
                out["fit"] = fit
            block = {"name": name, "days": f_days.tolist(), "scales": {}, "p_response": {}, "p_remission": {},
                     "p_relapse": {}}
            for s in SCALES:
                e = run.observed[f"{s}_recalled"][rows][:, sl]             # (1 + visits, K)
                obs = observed_scores({s: e}, params, sd * 1000 + _STREAM_NOISE, np.arange(k), all_days)[s]
                fut = obs[1:]
                q = {key: np.quantile(fut, v, axis=1).tolist() for key, v in QUANTILES.items()}
                q["mean"] = fut.mean(axis=1).tolist()
                block["scales"][s] = q
                base = rec.baseline(s)
                ref = np.full(k, base) if base is not None else obs[0]
                block["p_response"][s] = float(response(fut[-1], ref).mean())
                block["p_remission"][s] = float(remission(fut[-1], s).mean())
                last = [r.score for r in rec.ratings if r.scale == s]
                if last and base is not None and response(np.array([last[-1]]), np.array([base]))[0]:
                    block["p_relapse"][s] = float((fut >= RELAPSE_AT_LEAST[s]).any(axis=0).mean())
                else:
                    block["p_relapse"][s] = None   # not responding at the last rating: nothing to relapse from
            out["options"].append(block)
    for tw, out in zip(twins, outs):   # options by P(remission), then P(response), on the record's first scale
        s0 = tw.record.ratings[0].scale
        order = sorted(out["options"], key=lambda o: (-o["p_remission"][s0], -o["p_response"][s0],
                                                       o["scales"][s0]["median"][-1]))
        out["ranking"] = {"scale": s0, "by": "P(remission), then P(response), then the median at the horizon",
                          "options": [{"name": o["name"], "p_remission": o["p_remission"][s0],
                                       "p_response": o["p_response"][s0],
                                       "median_at_horizon": o["scales"][s0]["median"][-1]} for o in order]}
    return outs
