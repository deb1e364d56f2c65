"""Calibration: a CMA-ES fit of the registry's ``calibrated`` parameters to the ``fit`` targets.

Procedure (reproducible: seeded, recorded, re-runnable with ``neuroplastic calibrate --verify``):
1. Start from the literature parameter set (registry files without any calibration overrides).
2. Free parameters: the hypothesis's own calibrated parameters that the encoded fit targets constrain
   (``FREE[hypothesis]``); each must be marked ``calibrated`` in the registry (checked) and stays inside its
   registry range: the optimiser works on [0, 1] per parameter, mapped log-uniformly where the range spans x10 or more.
3. Objective: sum over fit targets of ((simulated - published) / half-width of the tolerance)^2; a target that cannot
   be computed costs 25.
4. CMA-ES (the ``cma`` package: bounded, derivative-free, robust to the noisy, non-separable objective a trial
   simulation gives) from the priors with step ``sigma0`` in the unit cube, its candidates drawn from a generator
   seeded by ``seed``; each generation is evaluated as one batched run (``objective_terms_batch``: K parameter
   sets x N patients in one vectorised pass). The best candidate seen is the result; its objective is recorded as
   is, with the command, seed, budget and the data version.
5. Cross-validation: the same fit (same optimiser, seed and budget), started from the literature values, once per
   treatment family with that family's fit targets removed; the held-out family's targets are then predicted by
   ``validate``.
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


def _terms(sim, fit_targets) -> dict[str, float]:
    """Each fit row's misfit on one simulator (a row whose statistic fails to compute costs its missing value)."""
    out = {}
    for tg in fit_targets:
        try:
            v = compute(tg, sim)
        except Exception:
            v = float("nan")
        out[tg.id] = tg.misfit(v)
    return out


def objective_terms(values: dict, base: ParameterSet, hypothesis: str, fit_targets) -> dict[str, float]:
    params = base.with_values(values, version="fit") if values else base
    return _terms(Simulator(params, hypothesis), fit_targets)


def objective_terms_batch(values_list, base: ParameterSet, hypothesis: str, fit_targets) -> list[dict[str, float]]:
    """:func:`objective_terms` for a generation of candidates at once (one batched run of every protocol arm);
    entry k equals ``objective_terms(values_list[k], base, hypothesis, fit_targets)``."""
    from .runner import observables
    sim = BatchSimulator(base, list(values_list), hypothesis, keep=observables(fit_targets))
    return [_terms(view, fit_targets) for view in sim.views]


OPTIMISER = "CMA-ES (cma package, bounded on [0,1] per parameter by BoundTransform, log map for ranges >= x10)"


def data_version() -> str:
    """A short hash of everything a fit reads besides the code: the targets, the registry files and the package
    version. A calibration records it; ``--verify`` refuses to compare against a set made from other data."""
    import hashlib
    from importlib.metadata import version

    h = hashlib.sha256(version("neuroplastic").encode())
    root = resources.files("neuroplastic") / "data"
    h.update((root / "targets.yaml").read_bytes())
    for f in sorted((root / "parameters").iterdir(), key=lambda x: x.name):
        if f.name.endswith(".yaml"):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def _batch_job(job):
    """One share of a generation (a pure job for the process pool or a Dask worker)."""
    values_list, base, hypothesis, target_ids = job
    _, targets = load_targets()
    by_id = {t.id: t for t in targets}
    return objective_terms_batch(values_list, base, hypothesis, [by_id[i] for i in target_ids])


def _generation(values_list, base, hypothesis, fit_targets, *, workers=None, scheduler=None):
    """Objective terms of one generation: one batched run in-process, or split over Dask workers (the same
    numbers: every candidate's terms depend only on that candidate)."""
    if not workers and scheduler is None:
        return objective_terms_batch(values_list, base, hypothesis, fit_targets)
    from ..engine._backends import executor
    n = max(1, int(workers or 2))
    ids = [t.id for t in fit_targets]
    shares = [values_list[i::n] for i in range(n) if values_list[i::n]]
    with executor(workers=workers, scheduler=scheduler) as imap:
        parts = list(imap(_batch_job, [(s, base, hypothesis, ids) for s in shares]))
    out: list = [None] * len(values_list)
    for i, part in enumerate(parts):   # share i holds candidates i, i + n, i + 2n, ...
        for j, terms in enumerate(part):
            out[i + j * n] = terms
    return out


def fit(hypothesis: str = "plasticity", *, generations: int = 16, popsize: int | None = None, seed: int = 1,
        sigma0: float = 0.25, exclude_family: str | None = None, base: ParameterSet | None = None,
        journal: Path | None = None, resume: bool = False, workers: int | None = None,
        scheduler: str | None = None, progress=None, log=print) -> dict:
    """Fit ``FREE[hypothesis]`` to the fit targets (minus ``exclude_family``) with CMA-ES. Returns a report dict.

    The search runs in [0, 1] per parameter (log-mapped where the registry range spans x10 or more), starts at the
    priors with step ``sigma0``, and draws its candidates from a generator seeded by ``seed`` (never numpy's global
    state), so the same settings give the same fit. Every generation is one batched evaluation of all its
    candidates (:func:`objective_terms_batch`). With ``journal`` every evaluated generation is appended to that
    JSON-lines file; ``resume=True`` replays it (the optimiser is rebuilt from the seed and told the recorded
    objectives, after checking it proposes the recorded candidates) and continues where it stopped.

    The plasticity fit starts from the registry's prior values (no calibration applied). Another hypothesis is
    refitted on top of the shipped shared set (``default_parameters()``): only its own parameters move, so both
    hypotheses share one parameter set for everything else."""
    import json

    import cma

    from ..errors import NeuroplasticError

    if generations < 1:
        raise ValueError("generations must be at least 1")
    if base is None:
        from ..params import default_parameters
        base = literature_parameters() if hypothesis == "plasticity" else default_parameters()
    _, targets = load_targets()
    fit_targets = [t for t in targets if t.used_for == "fit" and t.family != exclude_family]
    names = FREE[hypothesis]
    maps = _maps(base, names)
    u0 = [float(np.clip(mp[1](base.value(n)), 0.0, 1.0)) for n, mp in zip(names, maps)]
    rng = np.random.default_rng(seed)
    opts = {"bounds": [0.0, 1.0], "seed": seed, "verbose": -9, "randn": lambda *shape: rng.standard_normal(shape),
            "maxiter": generations, "tolfun": 0.0, "tolfunhist": 0.0, "tolx": 0.0, "tolstagnation": 10 ** 9}
    if popsize:
        opts["popsize"] = int(popsize)
    es = cma.CMAEvolutionStrategy(u0, sigma0, opts)
    t0 = time.time()

    def vals(u):
        return {n: float(np.clip(mp[0](float(np.clip(x, 0, 1))), base[n].low, base[n].high))
                for n, mp, x in zip(names, maps, u)}

    recorded = []
    if journal is not None and resume and Path(journal).exists():
        recorded = [json.loads(line) for line in Path(journal).read_text().splitlines() if line.strip()]
    elif journal is not None:
        Path(journal).parent.mkdir(parents=True, exist_ok=True)
        Path(journal).write_text("")
    label = f"[{hypothesis}{' -' + exclude_family if exclude_family else ''}]"
    before_terms = best_terms = None
    best_f, best_u = math.inf, list(u0)
    evaluations = 0
    for g in range(generations):
        X = [list(map(float, x)) for x in es.ask()]
        if g < len(recorded):
            if not np.allclose(np.asarray(recorded[g]["X"]), np.asarray(X), rtol=0, atol=1e-12):
                raise NeuroplasticError(f"calibration journal {journal}: generation {g + 1} was made with other "
                                        "settings (seed, generations, population or data); start without --resume")
            terms = recorded[g]["terms"]
            before_terms = recorded[g].get("before", before_terms)
        else:  # the priors ride along with the first generation: one batched run, no separate evaluation
            cands = ([u0] if g == 0 else []) + X
            terms = _generation([vals(x) for x in cands], base, hypothesis, fit_targets, workers=workers,
                                scheduler=scheduler)
            if g == 0:
                before_terms, terms = terms[0], terms[1:]
            if journal is not None:
                with open(journal, "a") as fh:
                    line = {"generation": g + 1, "X": X, "terms": terms, **({"before": before_terms} if g == 0 else {})}
                    fh.write(json.dumps(line) + "\n")
        F = [float(sum(t.values())) for t in terms]
        if g == 0:
            best_f, best_terms = float(sum(before_terms.values())), before_terms
        es.tell(X, F)
        evaluations += len(X)
        k = int(np.argmin(F))
        if F[k] < best_f:
            best_f, best_u, best_terms = F[k], X[k], terms[k]
        log(f"  {label} generation {g + 1}/{generations}: best {min(F):.3f}, best so far {best_f:.3f}")
        if progress is not None:
            progress(g + 1, generations, best_f)
    best = vals(best_u)
    after_terms = best_terms
    return {
        "hypothesis": hypothesis,
        "excluded_family": exclude_family,
        "method": OPTIMISER,
        "optimiser": {"package": "cma", "version": cma.__version__, "seed": seed, "generations": generations,
                      "popsize": int(es.popsize), "sigma0": sigma0, "start": "priors"},
        "evaluations": evaluations,
        "seconds": round(time.time() - t0, 1),
        "data_version": data_version(),
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
        "provenance": {
            "command": report.get("command"),
            "seed": (report.get("optimiser") or {}).get("seed"),
            "budget": {k: (report.get("optimiser") or {}).get(k) for k in ("generations", "popsize")},
            "objective": report.get("objective_after"),
            "data_version": report.get("data_version"),
        },
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


def calibrate(hypothesis: str = "plasticity", *, generations: int = 16, popsize: int | None = None, seed: int = 1,
              sigma0: float = 0.25, cross_validate: bool = False, journal_dir: Path | None = None,
              resume: bool = False, workers: int | None = None, scheduler: str | None = None, progress=None,
              log=print) -> tuple[dict, list[dict]]:
    """The full fit and, with ``cross_validate``, one refit per treatment family with that family held out, all
    with the same optimiser, seed and budget. ``journal_dir`` keeps a resumable journal per fit."""
    def one(exclude=None):
        journal = None
        if journal_dir is not None:
            journal = Path(journal_dir) / f".{hypothesis}-seed{seed}-{exclude or 'all'}.journal.jsonl"
        return fit(hypothesis, generations=generations, popsize=popsize, seed=seed, sigma0=sigma0,
                   exclude_family=exclude, journal=journal, resume=resume, workers=workers, scheduler=scheduler,
                   progress=progress, log=log)

    rep = one()
    cv = []
    if cross_validate:
        _, targets = load_targets()
        for fam in FAMILIES:
            if not any(t.used_for == "fit" and t.family == fam for t in targets):
                cv.append({"held_out": fam, "note": "no fit target in this family: the full fit already holds it out",
                           "overrides": rep["overrides"]})
                continue
            r = one(fam)
            cv.append({"held_out": fam, "overrides": r["overrides"], "objective_after": r["objective_after"],
                       "evaluations": r["evaluations"], "fit_targets": r["fit_targets"]})
    return rep, cv


def verify(hypothesis: str = "plasticity", *, version: int | None = None, tolerance: float = 0.01,
           progress=None, log=print) -> dict:
    """Rerun the fit that made the adopted set (or ``version``) from what the set records, and compare objectives.

    Returns ``{"name", "recorded", "reproduced", "difference", "ok", "line"}``; ``ok`` is true when the rerun's
    objective is within ``tolerance`` (relative) of the recorded one. A set with no recorded command (a manual
    search) or made from other data cannot be verified, and says so."""
    from ..params._registry import load_calibration

    name = load_calibration(version, hypothesis).get("name") if version is None else f"{hypothesis}-v{version}"
    v = int(name.rsplit("-v", 1)[1]) if name else None
    doc = load_set(hypothesis, v) if v is not None else None
    if not doc:
        return {"name": None, "ok": False, "line": f"no {hypothesis} calibration set to verify"}
    rep = doc.get("fit_report") or {}
    prov = doc.get("provenance") or {}
    opt = rep.get("optimiser") or {}
    if not prov.get("command") or not opt:
        return {"name": name, "ok": False,
                "line": f"{name} records no command it was made by ({str(rep.get('method', 'unknown method')).split(':')[0]}); "
                        "it cannot be reproduced"}
    if prov.get("data_version") != data_version():
        return {"name": name, "ok": False,
                "line": f"{name} was made from data version {prov.get('data_version')}, this checkout has "
                        f"{data_version()} (targets or registry changed): recalibrate"}
    again = fit(hypothesis, generations=int(opt["generations"]), popsize=int(opt["popsize"]), seed=int(opt["seed"]),
                sigma0=float(opt["sigma0"]), progress=progress, log=log)
    recorded = float(rep["objective_after"])
    got = float(again["objective_after"])
    diff = abs(got - recorded) / max(abs(recorded), 1e-12)
    ok = diff <= tolerance
    line = (f"{name} {'reproduced' if ok else 'NOT reproduced'}: objective {got:.4f} vs recorded {recorded:.4f} "
            f"({diff:.2%}; allowed {tolerance:.0%})")
    return {"name": name, "recorded": recorded, "reproduced": got, "difference": diff, "ok": ok, "line": line}


def residuals_batch(values_list, base: ParameterSet, hypothesis: str, fit_targets) -> np.ndarray:
    """Signed scaled residuals (simulated - centre) / half-width of every fit row for each candidate, shape
    (K, rows), in one batched run (NaN where a statistic cannot be computed)."""
    from .runner import observables
    sim = BatchSimulator(base, list(values_list), hypothesis, keep=observables(fit_targets))
    out = np.full((len(values_list), len(fit_targets)), np.nan)
    for k, view in enumerate(sim.views):
        for i, tg in enumerate(fit_targets):
            try:
                v = float(compute(tg, view))
            except Exception:
                continue
            c, h = tg.centre_scale
            out[k, i] = (v - c) / h
    return out


def identifiability(hypothesis: str = "plasticity", *, values: dict | None = None, base: ParameterSet | None = None,
                    step: float = 0.05, log=print) -> dict:
    """Local identifiability of the free parameters at ``values`` (default: the shipped set's values).

    With r(u) the fit rows' scaled residuals and u the free parameters in the unit cube, the Jacobian J = dr/du is
    taken by central differences of ``step`` (2k + 1 candidates, one batched run). Per parameter it reports the
    sensitivity |J_j| (how many half-widths the rows move per unit of the parameter's range), the rows it moves
    most, and a Fisher-information interval: with F = J^T J (scaled residuals have unit scale by construction),
    the approximate standard error of u_j is sqrt((F^-1)_jj) (pseudo-inverse), mapped back to the parameter's
    unit as a 95% interval clipped to its range. A parameter is flagged unidentifiable when its sensitivity is
    below 0.5 or its 95% interval spans more than half of its range (the data do not pin it), and the
    smallest-eigenvalue direction of F names the combination the rows cannot separate."""
    from ..params import default_parameters

    if base is None:
        base = literature_parameters() if hypothesis == "plasticity" else default_parameters()
    shipped = default_parameters()
    names = FREE[hypothesis]
    maps = _maps(base, names)
    vals = dict(values) if values is not None else {n: shipped.value(n) for n in names}
    u = np.array([float(np.clip(mp[1](vals[n]), 0.0, 1.0)) for n, mp in zip(names, maps)])
    _, targets = load_targets()
    fit_targets = [t for t in targets if t.used_for == "fit"]

    def at(uu):
        return {n: float(np.clip(mp[0](float(np.clip(x, 0, 1))), base[n].low, base[n].high))
                for n, mp, x in zip(names, maps, uu)}

    cands, steps = [at(u)], []
    for j in range(len(names)):
        lo, hi = max(u[j] - step, 0.0), min(u[j] + step, 1.0)
        steps.append(hi - lo)
        for x in (lo, hi):
            uu = u.copy()
            uu[j] = x
            cands.append(at(uu))
    log(f"  identifiability: {len(cands)} candidates in one batched run ...")
    R = residuals_batch(cands, base, hypothesis, fit_targets)
    J = np.column_stack([(R[2 + 2 * j] - R[1 + 2 * j]) / steps[j] for j in range(len(names))])
    J = np.nan_to_num(J)
    F = J.T @ J
    cov = np.linalg.pinv(F)
    w, V = np.linalg.eigh(F)
    rows = [t.id for t in fit_targets]
    out = []
    for j, (n, mp) in enumerate(zip(names, maps)):
        p = base[n]
        se = float(np.sqrt(max(cov[j, j], 0.0)))
        lo_u, hi_u = float(np.clip(u[j] - 1.96 * se, 0, 1)), float(np.clip(u[j] + 1.96 * se, 0, 1))
        sens = float(np.linalg.norm(J[:, j]))
        top = [rows[i] for i in np.argsort(-np.abs(J[:, j]))[:3] if abs(J[i, j]) > 1e-9]
        flagged = sens < 0.5 or (hi_u - lo_u) > 0.5
        out.append({"parameter": n, "value": vals[n], "unit": p.unit, "sensitivity": round(sens, 4),
                    "interval_95": [round(mp[0](lo_u), 6), round(mp[0](hi_u), 6)], "moves_most": top,
                    "identifiable": not flagged})
    weakest = V[:, 0]
    combo = [(names[i], round(float(weakest[i]), 3)) for i in np.argsort(-np.abs(weakest))[:4]]
    return {"hypothesis": hypothesis, "step": step, "rows": rows, "parameters": out,
            "fisher_eigenvalues": [round(float(x), 6) for x in w],
            "weakest_direction": combo,
            "unidentifiable": [r["parameter"] for r in out if not r["identifiable"]]}
