"""The reference path: the same model integrated by scipy's solve_ivp, one patient at a time, at tight tolerances.

PK and brain are integrated together as one ODE (occupancies computed from the PK state at every solver step,
not from a pre-computed profile), restarted exactly at every dose, infusion boundary and session. It is the
oracle for the fast path in tests and the baseline in benchmarks.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from ..brain import BrainModel, INPUT_CHANNELS
from ..params import ParameterSet, default_parameters
from ..pharmacology import TARGETS, build_pk_system, occupancy
from ._calendar import build_calendar


def _one(e, j):
    """Episode ``e`` with its per-patient payload reduced to patient ``j``."""
    from dataclasses import replace
    pl = e.payload
    for field in ("kick", "level", "weight_change"):
        v = getattr(pl, field, None)
        if v is not None and np.ndim(v) > 0 and np.size(v) > 1:
            return replace(e, payload=replace(pl, **{field: np.asarray(v)[j:j + 1]}))
    return e


def reference_run(scenario, treatments, patients, params: ParameterSet | None = None, *, rtol=1e-9,
                  frozen=()) -> dict[str, np.ndarray]:
    """Observables and plasma (kg/m^3) on the output grid, arrays (time, patient), via solve_ivp per patient."""
    params = params or default_parameters()
    cal = build_calendar(treatments, scenario.duration, patients.weight, params, patients.placebo,
                         expectancy=scenario.models_expectancy, stimulation=patients.stimulation(params))
    from ._simulate import with_life_events
    cal = with_life_events(cal, patients, scenario.duration, params)
    from ..mood.scales import expected_scores, recalled_severity
    from ._simulate import output_times, recall_window

    t_req = output_times(scenario)
    recall = recall_window(scenario)
    lag = t_req - recall
    t_out = np.unique(np.round(np.concatenate([t_req, lag[lag > 1e-6]]), 6))  # outputs and their windows' starts
    n_out = len(t_out)
    req_rows = np.searchsorted(t_out, np.round(t_req, 6))
    lag_rows = np.searchsorted(t_out, np.round(np.maximum(lag, 0.0), 6))
    iq, im = (BrainModel.layout.index["mood_integral"], BrainModel.layout.index["mood"])
    model = BrainModel(params, scenario.hypothesis, frozen, scenario.ketamine_mechanism)
    results: dict[str, list] = {}
    for j in range(patients.n):
        routes = cal.drug_routes()
        pk = build_pk_system(routes, params, patients.weight[j:j + 1], patients.cyp2c19[j:j + 1],
                             patients.cyp2d6[j:j + 1]) if routes else None
        npk = pk.n if pk else 0
        sl = slice(j, j + 1)
        y0 = model.baseline(patients.stress[sl], None if patients.capacity is None else patients.capacity[sl],
                            None if patients.episode_rate is None else patients.episode_rate[sl])[0]
        z = np.concatenate([pk.initial_state()[0] if pk else np.zeros(0), y0])
        nb = len(y0)
        null = BrainModel.null_inputs(1)

        def inputs_from(x, t, pulse_add=None):
            inp = {k: v.copy() for k, v in null.items()}
            for k, v in (pulse_add or {}).items():
                inp[k] = inp[k] + v
            if pk is not None:
                conc = pk.concentrations(x[None, :])
                for target in TARGETS:
                    occ = occupancy(conc, params, target)
                    if occ is not None:
                        inp[f"{target}_occupancy"] = occ
            return inp

        def infusion_rate(t):
            if pk is None:
                return None
            u = np.zeros((1, npk))
            for d in cal.doses:
                if d.duration > 0 and d.time <= t < d.time + d.duration:
                    idx, frac, _ = pk.depots[(d.drug, d.route)]
                    u[0, idx] += d.amount[j] * frac[0] / d.duration
            return u

        def pulses_at(t, left=False):
            add = {}
            for pl in cal.pulses:
                on = (pl.start < t <= pl.end) if left else (pl.start <= t < pl.end)
                if on:
                    add[pl.channel] = add.get(pl.channel, 0.0) + pl.value[j:j + 1]
            return add

        def rhs_factory(u, add):
            def f(t, zz):
                x, y = zz[:npk], zz[npk:]
                dx = pk.rhs(x[None, :], u)[0] if pk is not None else np.zeros(0)
                dy = model.rhs(y[None, :], inputs_from(x, t, add))[0]
                return np.concatenate([dx, dy])
            return f

        bounds = sorted({0.0, scenario.duration, *[float(b) for b in cal.times() if 0 < b < scenario.duration]})
        zs = np.empty((n_out, npk + nb))
        atol = np.concatenate([np.full(npk, 1e-16), np.full(nb, 1e-11)])
        for a, b in zip(bounds[:-1], bounds[1:]):
            for d in cal.doses:
                if abs(d.time - a) < 1e-6 and d.duration == 0:
                    idx, frac, _ = pk.depots[(d.drug, d.route)]
                    z[idx] += d.amount[j] * frac[0]
            for e in cal.episodes:
                if abs(e.time - a) < 1e-6:
                    z[npk:] = model.apply_episode(z[None, npk:], _one(e, j))[0]
            mask = (t_out >= a - 1e-9) & (t_out < b - 1e-9)
            u = infusion_rate(0.5 * (a + b))
            t_eval = np.append(t_out[mask], b)
            sol = solve_ivp(rhs_factory(u, pulses_at(0.5 * (a + b))), (a, b), z, method="LSODA", rtol=rtol,
                            atol=atol, t_eval=t_eval, max_step=max(b - a, 1.0) / 4)
            if mask.any():
                zs[mask] = sol.y[:, :-1].T
            z = sol.y[:, -1].copy()
        if abs(t_out[-1] - bounds[-1]) < 1e-6:
            zs[-1] = z
        q = zs[:, npk + iq]
        rec = recalled_severity(q[req_rows][:, None], q[lag_rows][:, None], t_req, recall, y0[None, im])[:, 0]
        zs = zs[req_rows]
        obs_in = [inputs_from(zz[:npk], tt, pulses_at(tt, left=True)) for zz, tt in zip(zs, t_req)]
        inp = {k: np.concatenate([o[k] for o in obs_in]) for k in INPUT_CHANNELS}
        obs = model.observe(zs[:, npk:], inp)
        for name, val in expected_scores(rec, params).items():
            obs[f"{name}_recalled"] = val
        obs.pop("rel", None)
        if pk is not None:
            for c, v in pk.concentrations(zs[:, :npk][:, None, :]).items():
                obs[f"plasma:{c}"] = v[:, 0]
        for k, v in inp.items():
            obs[k] = v
        for k, v in obs.items():
            results.setdefault(k, []).append(np.asarray(v))
    return {k: np.stack(v, axis=1) for k, v in results.items()}
