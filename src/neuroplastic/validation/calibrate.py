"""Calibration: a bounded Powell fit of the registry's ``calibrated`` parameters to the ``fit`` targets.

Procedure (reproducible; no randomness):
1. Start from the literature parameter set (registry files without any calibration overrides).
2. Free parameters: the hypothesis's own calibrated parameters that the encoded fit targets constrain
   (``FREE[hypothesis]``); each must be marked ``calibrated`` in the registry (checked) and stays inside its
   registry range: the optimiser works on [0, 1] per parameter, mapped log-uniformly where the range spans x10 or more.
3. Objective: sum over fit targets of ((simulated - published) / half-width of the tolerance)^2; a target that cannot
   be computed costs 25.
4. scipy.optimize.minimize(method="Powell", bounds=[0, 1]^k, maxfev=...). The achieved objective is recorded as is.
5. Cross-validation: the same fit, started from the literature values, once per treatment family with that family's
   fit targets removed; the held-out family's targets are then predicted by ``validate``.
Parameters not listed in ``FREE`` (literature values, and calibrated ones without an encoded target) never move.
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from importlib import resources
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import minimize

from ..params import ParameterSet
from ..params._registry import _load_files, calibration_files
from .runner import BatchSimulator, Simulator, compute
from .targets import FAMILIES, load_targets

FREE = {
    # the calibrated parameters the encoded fit targets constrain, ordered so that Powell's first sweep visits the
    # largest misfits first (trial-level placebo and drug response, then ketamine, then VNS)
    "plasticity": ["brain.expectancy.w_vta", "plasticity.bdnf.w_da", "plasticity.bdnf.creb_max",
                   "population.placebo.sd", "population.episode.sd", "population.capacity.sd",
                   "brain.circuit.w_5ht_sgacc", "brain.circuit.w_da_reward", "mood.scales.entry_inflation",
                   "plasticity.bdnf.release_glutamate", "population.trd.stress_median",
                   "population.outpatient.episode_rate", "placebo.expectancy.implant",
                   "plasticity.consolidation.late_lifetime",
                   # psychotherapy rows (DeRubeis 2005, Dimidjian 2006) now encoded: the hand-set drives and the
                   # consolidation constants they were set with are free
                   "therapy.cbt.session_dlpfc_drive", "therapy.cbt.practice_dlpfc_drive",
                   "therapy.cbt.practice_reward_drive", "therapy.ba.session_dlpfc_drive",
                   "therapy.ba.practice_dlpfc_drive", "therapy.ba.practice_reward_drive",
                   "plasticity.consolidation.capture_time", "plasticity.meta.learning_rate",
                   "plasticity.consolidation.late_max"],
    "monoamine": ["mood.monoamine.max_relief", "mood.monoamine.half_index"],
}
NOT_FITTED = {
    # calibrated parameters the fit does not move (each still names its fit rows in the registry)
    "plasticity.structural.mtor_max": "held (cost); release_glutamate carries the ketamine 24-h target",
    "mood.scales.entry_inflation_time": "held (cost); entry_inflation carries the placebo target",
    "mood.severity.midpoint": "baseline-severity anchor; no baseline row in clinical-targets.md encoded",
    "mood.severity.slope": "baseline-severity anchor; no baseline row encoded",
    "plasticity.calcium.facilitation_gain": "moves the rTMS course rows; motor-cortex TBS/frequency rows (Chen 1997, Huang 2005) not encoded yet",
    "plasticity.calcium.meta_fast_gain": "TBS rows (Huang 2005) not encoded yet",
    "plasticity.calcium.meta_slow_scale": "TBS dose rows (Gamboa 2010) not encoded yet",
    "plasticity.calcium.early_decay_tau": "TBS duration rows (Huang 2005) not encoded yet",
}
CAL_DIR = "calibration"


def unaccounted(params: ParameterSet | None = None) -> list[str]:
    """Calibrated registry parameters that are neither free in some hypothesis's fit (``FREE``) nor held with a
    reason (``NOT_FITTED``): should be empty."""
    params = params or literature_parameters()
    listed = set(NOT_FITTED).union(*FREE.values())
    return sorted(n for n in params.calibrated() if n not in listed)


def literature_parameters() -> ParameterSet:
    """The registry's own values, without any shipped calibration."""
    return ParameterSet(_load_files(), version="neuroplastic-0.1-literature")


def _maps(params: ParameterSet, names):
    out = []
    for n in names:
        p = params[n]
        if not p.calibrated:
            raise ValueError(f"{n} is not marked calibrated in the registry; a fit may not move it")
        log = p.low > 0 and p.high / p.low >= 10
        if log:
            lo, hi = math.log(p.low), math.log(p.high)
            out.append((lambda u, lo=lo, hi=hi: math.exp(lo + (hi - lo) * u),
                        lambda v, lo=lo, hi=hi: (math.log(v) - lo) / (hi - lo)))
        else:
            out.append((lambda u, lo=p.low, hi=p.high: lo + (hi - lo) * u,
                        lambda v, lo=p.low, hi=p.high: (v - lo) / (hi - lo)))
    return out


def objective_terms(values: dict, base: ParameterSet, hypothesis: str, fit_targets) -> dict[str, float]:
    params = base.with_values(values, version="fit") if values else base
    sim = Simulator(params, hypothesis)
    out = {}
    for tg in fit_targets:
        try:
            v = compute(tg, sim)
        except Exception:
            v = float("nan")
        out[tg.id] = tg.misfit(v)
    return out


def objective_terms_batch(values_list, base: ParameterSet, hypothesis: str, fit_targets) -> list[dict[str, float]]:
    """:func:`objective_terms` for a generation of candidates at once (one batched run of every protocol arm);
    entry k equals ``objective_terms(values_list[k], base, hypothesis, fit_targets)``."""
    from .runner import observables
    sim = BatchSimulator(base, list(values_list), hypothesis, keep=observables(fit_targets))
    out = []
    for view in sim.views:
        terms = {}
        for tg in fit_targets:
            try:
                v = compute(tg, view)
            except Exception:
                v = float("nan")
            terms[tg.id] = tg.misfit(v)
        out.append(terms)
    return out


def fit(hypothesis: str = "plasticity", *, maxfev: int = 40, exclude_family: str | None = None,
        base: ParameterSet | None = None, log=print) -> dict:
    """Fit ``FREE[hypothesis]`` to the fit targets (minus ``exclude_family``). Returns a report dict.

    The plasticity fit starts from the registry's prior values (no calibration applied). Another hypothesis is
    refitted on top of the shipped shared set (``default_parameters()``): only its own parameters move, so both
    hypotheses share one parameter set for everything else."""
    if base is None:
        from ..params import default_parameters
        base = literature_parameters() if hypothesis == "plasticity" else default_parameters()
    _, targets = load_targets()
    fit_targets = [t for t in targets if t.used_for == "fit" and t.family != exclude_family]
    names = FREE[hypothesis]
    maps = _maps(base, names)
    u0 = np.array([mp[1](base.value(n)) for n, mp in zip(names, maps)])
    nfev = [0]
    t0 = time.time()

    def vals(u):
        return {n: float(np.clip(mp[0](float(np.clip(x, 0, 1))), base[n].low, base[n].high))
                for n, mp, x in zip(names, maps, u)}

    def f(u):
        nfev[0] += 1
        terms = objective_terms(vals(u), base, hypothesis, fit_targets)
        s = float(sum(terms.values()))
        log(f"  [{hypothesis}{' -' + exclude_family if exclude_family else ''}] eval {nfev[0]}: objective {s:.3f}")
        return s

    before_terms = objective_terms({}, base, hypothesis, fit_targets)
    res = minimize(f, u0, method="Powell", bounds=[(0.0, 1.0)] * len(names),
                   options={"maxfev": maxfev, "xtol": 1e-2, "ftol": 1e-3})
    best = vals(res.x)
    after_terms = objective_terms(best, base, hypothesis, fit_targets)
    return {
        "hypothesis": hypothesis,
        "excluded_family": exclude_family,
        "method": "scipy.optimize.minimize(Powell, bounded on [0,1] per parameter, log map for ranges >= x10)",
        "maxfev": maxfev,
        "evaluations": int(nfev[0]),
        "seconds": round(time.time() - t0, 1),
        "converged": bool(res.success),
        "fit_targets": [t.id for t in fit_targets],
        "objective_before": round(float(sum(before_terms.values())), 4),
        "objective_after": round(float(sum(after_terms.values())), 4),
        "terms_before": {k: round(v, 4) for k, v in before_terms.items()},
        "terms_after": {k: round(v, 4) for k, v in after_terms.items()},
        "before": {n: base.value(n) for n in names},
        "overrides": {n: round(v, 6) for n, v in best.items()},
    }


def calibration_dir() -> Path:
    return Path(str(resources.files("neuroplastic") / "data" / CAL_DIR))


def next_version(hypothesis: str, where: Path) -> int:
    return max(calibration_files(hypothesis, Path(where)), default=0) + 1


def write_set(report: dict, where: Path, *, cv: list[dict] | None = None, version: int | None = None) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    hyp = report["hypothesis"]
    version = version or next_version(hyp, where)
    doc = {
        "name": f"{hyp}-v{version}",
        "created": _dt.date.today().isoformat(),
        "hypothesis": hyp,
        "adopted": False,   # set true to make default_parameters() apply this set (see params._registry)
        "overrides": report["overrides"],
        "fit_report": {k: v for k, v in report.items() if k != "overrides"},
        "not_fitted": NOT_FITTED,
        "cross_validation": cv or [],
    }
    path = where / f"{hyp}-v{version}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def load_set(hypothesis: str, version: int | None = None) -> dict | None:
    """The shipped calibration set ``<hypothesis>-v<version>.yaml`` (default: the newest), or None."""
    found = calibration_files(hypothesis)
    path = found.get(version or max(found, default=0))
    return yaml.safe_load(path.read_text()) if path is not None else None


def calibrate(hypothesis: str = "plasticity", *, maxfev: int = 40, cv_maxfev: int = 20, cross_validate: bool = True,
              log=print) -> tuple[dict, list[dict]]:
    rep = fit(hypothesis, maxfev=maxfev, log=log)
    cv = []
    if cross_validate:
        _, targets = load_targets()
        for fam in ("pills", "ketamine", "tms", "vns"):
            if not any(t.used_for == "fit" and t.family == fam for t in targets):
                cv.append({"held_out": fam, "note": "no fit target in this family: the full fit already holds it out",
                           "overrides": rep["overrides"]})
                continue
            r = fit(hypothesis, maxfev=cv_maxfev, exclude_family=fam, log=log)
            cv.append({"held_out": fam, "overrides": r["overrides"], "objective_after": r["objective_after"],
                       "evaluations": r["evaluations"], "fit_targets": r["fit_targets"]})
    return rep, cv
