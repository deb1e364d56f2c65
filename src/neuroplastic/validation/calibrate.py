"""Calibration: a CMA-ES fit of the registry's ``calibrated`` parameters to the ``fit`` targets.

Procedure (reproducible: seeded, recorded, re-runnable with ``neuroplastic calibrate --verify``):
1. Start from the registry's values (no calibration set applied): for a calibrated parameter that value is its
   prior, the start of the search (for the parameters the earlier manual search had set, its value, recorded in
   the registry entry as such).
2. Free parameters: every parameter the registry marks ``calibrated`` (``FREE[hypothesis]``: the monoamine
   hypothesis owns ``mood.monoamine.*``, the plasticity fit moves all the others; none is held by hand). Each stays
   inside its registry range: the optimiser works on [0, 1] per parameter, mapped log-uniformly where the range spans
   x10 or more.
3. Objective: sum over fit targets of ((simulated - published) / half-width of the tolerance)^2; a target that cannot
   be computed costs 25.
4. CMA-ES (the ``cma`` package: bounded, derivative-free, robust to the noisy, non-separable objective a trial
   simulation gives) from the priors with step ``sigma0`` in the unit cube, its candidates drawn from a generator
   seeded by ``seed``; each generation is evaluated as one batched run (``objective_terms_batch``: K parameter
   sets x N patients in one vectorised pass). The best candidate seen is the result; its objective is recorded as
   is, with the command, seed, budget and the data version.
5. Cross-validation: the same fit (same optimiser, seed and budget, same start), once per treatment family
   (pills, ketamine, stimulation, psychotherapy, placebo) with that family's fit targets removed; the folds run in
   lockstep with the full fit (one batched run per generation for all searches, :func:`fit_many`), and the held-out
   family's targets are then predicted by ``validate``.
Parameters not marked ``calibrated`` (literature values) never move.
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
from .targets import CV_FAMILIES, load_targets

def _free(hypothesis: str) -> list[str]:
    """Every parameter the registry marks ``calibrated`` that belongs to ``hypothesis`` (the monoamine hypothesis owns
    ``mood.monoamine.*``; the plasticity fit moves every other calibrated parameter), in registry order."""
    names = ParameterSet(_load_files(), version="free").calibrated()
    own = [n for n in names if n.startswith("mood.monoamine.")]
    return own if hypothesis == "monoamine" else [n for n in names if n not in own]


FREE = {"plasticity": _free("plasticity"), "monoamine": _free("monoamine")}
NOT_FITTED: dict[str, str] = {}   # calibrated parameters the fit holds (none: every tuned value is fitted)
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
    """Each fit row's misfit on one simulator (a row whose statistic fails to compute costs its missing value).

    A fit's candidates reach the edges of the ranges, where a sigmoid's exponential can overflow: that is the rate
    saturating (at 0), not an error, so the overflow warning is not printed over the progress bar."""
    out = {}
    with np.errstate(over="ignore"):
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


def objective_terms_batch(values_list, base: ParameterSet, hypothesis: str, fit_targets, *,
                          rows_per=None) -> list[dict[str, float]]:
    """:func:`objective_terms` for a generation of candidates at once (one batched run of every protocol arm);
    entry k equals ``objective_terms(values_list[k], base, hypothesis, fit_targets)``. With ``rows_per`` (one
    list of rows per candidate, instead of ``fit_targets`` for all) candidate k is scored on its own rows, and an
    arm runs only for the candidates whose rows read its protocol: a cross-validation fold does not simulate the
    family it holds out."""
    from .runner import observables
    values_list = list(values_list)
    if rows_per is None:
        rows_per, needs = [list(fit_targets)] * len(values_list), None
    else:
        rows_per = [list(r) for r in rows_per]
        needs = [{t.protocol for t in r} for r in rows_per]
    union = list({t.id: t for r in rows_per for t in r}.values())
    sim = BatchSimulator(base, values_list, hypothesis, keep=observables(union), needs=needs)
    return [_terms(view, r) for view, r in zip(sim.views, rows_per)]


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


def _rows(target_ids) -> list:
    """The shipped targets with these ids, in that order (a worker gets ids, not Target objects)."""
    by_id = {t.id: t for t in load_targets()[1]}
    return [by_id[i] for i in target_ids]


def _batch_job(job):
    """One job of a generation (a pure job for the process pool or a Dask worker): the candidates and, for each,
    the ids of the rows it is scored on."""
    values_list, base, hypothesis, ids_per = job
    return objective_terms_batch(values_list, base, hypothesis, (), rows_per=[_rows(ids) for ids in ids_per])


def _residual_job(job):
    """One job of an identifiability run (a pure job for the process pool or a Dask worker): the scaled residuals
    of the candidates on the rows with these ids, shape (candidates, rows)."""
    values_list, base, hypothesis, target_ids = job
    return residuals_batch(values_list, base, hypothesis, _rows(target_ids))


def _protocol_cost(protocol: dict) -> float:
    """A rough relative cost of one candidate's run of a protocol, used only to order the jobs (largest first):
    integration steps (the output grid, at least four a day) x arms x patients. The numbers never depend on it."""
    from .._units import to_si
    days = to_si(protocol.get("duration", "1 day"), "duration", "second") / 86400.0
    every = to_si(protocol.get("output_every", "1 day"), "output_every", "second") / 86400.0
    steps = days * max(4.0, 1.0 / max(every, 1e-6))
    arms = len(protocol.get("arms", {})) or 1
    patients = 1 if protocol.get("single_patient") else 120
    return steps * arms * patients


def _protocol_jobs(rows_per, protocols: dict) -> list[str]:
    """The protocols the rows read, one job each, largest estimated cost first (its candidates x
    :func:`_protocol_cost`, plus the per-protocol fixed cost of about ten candidates' runs, benchmarks README), so
    the scheduler hands the long ones out first and the short ones fill in."""
    count: dict[str, int] = {}
    for rows in rows_per:
        for name in {t.protocol for t in rows}:
            count[name] = count.get(name, 0) + 1
    est = {n: (k + 10) * _protocol_cost(protocols.get(n, {})) for n, k in count.items()}
    return sorted(est, key=lambda n: (-est[n], n))


def _split_run(job_fn, values_list, base, hypothesis, fit_targets, workers, scheduler, *, rows_per=None):
    """``job_fn`` on Dask workers, split by protocol: each job runs one protocol's arms for every candidate whose
    rows read it, so no protocol is simulated twice (a split by candidates would run every protocol on every
    worker and pay each protocol's fixed cost once per worker). A candidate's run of a protocol depends on what
    shares its job only through the batch's shared integration grid and linear rates (the first candidate's;
    about 1e-4, benchmarks README): plasticity-v31, made both ways, has the same values and objective, and one
    fold's best objective moved by 1e-4. With ``rows_per`` (each candidate's own rows) the result is each
    candidate's terms, merged over the jobs; without it every candidate reads ``fit_targets`` and the result is the
    (candidates, rows) array of scaled residuals."""
    from ..engine._backends import executor
    rows_all = [list(r) for r in rows_per] if rows_per is not None else [list(fit_targets)] * len(values_list)
    jobs, who = [], []
    for protocol in _protocol_jobs(rows_all, load_targets()[0]):
        ks = [k for k, r in enumerate(rows_all) if any(t.protocol == protocol for t in r)]
        ids = [[t.id for t in rows_all[k] if t.protocol == protocol] for k in ks]
        vals = [values_list[k] for k in ks]
        jobs.append((vals, base, hypothesis, ids if rows_per is not None else ids[0]))
        who.append((ks, ids))
    with executor(workers=workers, scheduler=scheduler) as imap:
        parts = list(imap(job_fn, jobs))
    if rows_per is not None:
        out: list = [dict() for _ in values_list]
        for (ks, _), part in zip(who, parts):
            for k, terms in zip(ks, part):
                out[k].update(terms)
        return [{t.id: out[k][t.id] for t in rows_all[k]} for k in range(len(values_list))]
    col = {t.id: i for i, t in enumerate(fit_targets)}
    R = np.full((len(values_list), len(fit_targets)), np.nan)
    for (ks, ids), part in zip(who, parts):
        R[np.ix_(ks, [col[i] for i in ids[0]])] = np.asarray(part)
    return R


def _generation(values_list, base, hypothesis, rows_per, *, workers=None, scheduler=None):
    """Objective terms of one generation, candidate k scored on the rows ``rows_per[k]``: one batched run
    in-process, or split over Dask workers (the same numbers: every candidate's terms depend only on that candidate
    and its rows). Candidates asked more than once (the priors ride along with the first generation of every
    search) run once, on the union of their rows."""
    values_list, rows_per = list(values_list), [list(r) for r in rows_per]
    first: dict = {}
    for k, v in enumerate(values_list):
        first.setdefault(tuple(sorted(v.items())), []).append(k)
    groups = list(first.values())
    uniq = [values_list[g[0]] for g in groups]
    rows_u = [list({t.id: t for k in g for t in rows_per[k]}.values()) for g in groups]
    if not workers and scheduler is None:
        terms_u = objective_terms_batch(uniq, base, hypothesis, (), rows_per=rows_u)
    else:
        terms_u = _split_run(_batch_job, uniq, base, hypothesis, (), workers, scheduler, rows_per=rows_u)
    out: list = [None] * len(values_list)
    for g, t in zip(groups, terms_u):
        for k in g:
            out[k] = {r.id: t[r.id] for r in rows_per[k]}
    return out


class _Search:
    """One CMA-ES search (the full fit, or a cross-validation fold without one family's fit rows)."""

    def __init__(self, hypothesis, base, names, maps, fit_targets, *, exclude_family, generations, popsize, seed,
                 sigma0, journal, resume):
        import json

        import cma

        self.hypothesis, self.base, self.names, self.maps = hypothesis, base, names, maps
        self.fit_targets, self.exclude_family = fit_targets, exclude_family
        self.generations, self.seed, self.sigma0 = generations, seed, sigma0
        self.u0 = [float(np.clip(mp[1](base.value(n)), 0.0, 1.0)) for n, mp in zip(names, maps)]
        rng = np.random.default_rng(seed)
        opts = {"bounds": [0.0, 1.0], "seed": seed, "verbose": -9,
                "randn": lambda *shape: rng.standard_normal(shape), "maxiter": generations, "tolfun": 0.0,
                "tolfunhist": 0.0, "tolx": 0.0, "tolstagnation": 10 ** 9}
        if popsize:
            opts["popsize"] = int(popsize)
        self.es = cma.CMAEvolutionStrategy(self.u0, sigma0, opts)
        self.journal = journal
        self.recorded = []
        if journal is not None and resume and Path(journal).exists():
            self.recorded = [json.loads(line) for line in Path(journal).read_text().splitlines() if line.strip()]
        elif journal is not None:
            Path(journal).parent.mkdir(parents=True, exist_ok=True)
            Path(journal).write_text("")
        self.label = f"[{hypothesis}{' -' + exclude_family if exclude_family else ''}]"
        self.before_terms = self.best_terms = None
        self.best_f, self.best_u = math.inf, list(self.u0)
        self.evaluations = 0
        self.X = None

    def vals(self, u):
        return {n: float(np.clip(mp[0](float(np.clip(x, 0, 1))), self.base[n].low, self.base[n].high))
                for n, mp, x in zip(self.names, self.maps, u)}

    def ask(self, g):
        """Candidates to evaluate in generation g (the priors ride along with the first); [] when the journal
        already holds this generation."""
        from ..errors import NeuroplasticError

        self.X = [list(map(float, x)) for x in self.es.ask()]
        if g < len(self.recorded):
            if not np.allclose(np.asarray(self.recorded[g]["X"]), np.asarray(self.X), rtol=0, atol=1e-12):
                raise NeuroplasticError(f"calibration journal {self.journal}: generation {g + 1} was made with other "
                                        "settings (seed, generations, population or data); start without --resume")
            return []
        return [self.vals(x) for x in ([self.u0] if g == 0 else []) + self.X]

    def tell(self, g, terms, log):
        import json

        if g < len(self.recorded):
            terms = self.recorded[g]["terms"]
            self.before_terms = self.recorded[g].get("before", self.before_terms)
        else:
            if g == 0:
                self.before_terms, terms = terms[0], terms[1:]
            if self.journal is not None:
                with open(self.journal, "a") as fh:
                    line = {"generation": g + 1, "X": self.X, "terms": terms,
                            **({"before": self.before_terms} if g == 0 else {})}
                    fh.write(json.dumps(line) + "\n")
        F = [float(sum(t.values())) for t in terms]
        if g == 0:
            self.best_f, self.best_terms = float(sum(self.before_terms.values())), self.before_terms
        self.es.tell(self.X, F)
        self.evaluations += len(self.X)
        k = int(np.argmin(F))
        if F[k] < self.best_f:
            self.best_f, self.best_u, self.best_terms = F[k], self.X[k], terms[k]
        log(f"  {self.label} generation {g + 1}/{self.generations}: best {min(F):.3f}, best so far {self.best_f:.3f}")

    def report(self, seconds):
        import cma

        best = self.vals(self.best_u)
        return {
            "hypothesis": self.hypothesis,
            "excluded_family": self.exclude_family,
            "method": OPTIMISER,
            "optimiser": {"package": "cma", "version": cma.__version__, "seed": self.seed,
                          "generations": self.generations, "popsize": int(self.es.popsize), "sigma0": self.sigma0,
                          "start": "priors"},
            "evaluations": self.evaluations,
            "seconds": round(seconds, 1),
            "data_version": data_version(),
            "fit_targets": [t.id for t in self.fit_targets],
            "objective_before": round(float(sum(self.before_terms.values())), 4),
            "objective_after": round(float(sum(self.best_terms.values())), 4),
            "terms_before": {k: round(v, 4) for k, v in self.before_terms.items()},
            "terms_after": {k: round(v, 4) for k, v in self.best_terms.items()},
            "before": {n: self.base.value(n) for n in self.names},
            "overrides": {n: round(v, 6) for n, v in best.items()},
        }


def fit_many(hypothesis: str = "plasticity", excludes=(None,), *, generations: int = 16, popsize: int | None = None,
             seed: int = 1, sigma0: float = 0.25, base: ParameterSet | None = None, journals=None,
             resume: bool = False, workers: int | None = None, scheduler: str | None = None, progress=None,
             log=print) -> list[dict]:
    """Several CMA-ES searches in lockstep: search i fits the fit targets minus family ``excludes[i]`` (None: all).

    Each generation, every search asks for its candidates and all of them are evaluated in **one** batched run
    (K = searches x population parameter sets x N patients), then each search is told its own candidates' terms.
    A candidate's terms depend only on that candidate, so every search's result is the one it would reach on its
    own (:func:`fit`); running the cross-validation folds beside the full fit costs one larger batch per generation
    instead of one fit per fold."""
    if generations < 1:
        raise ValueError("generations must be at least 1")
    if base is None:
        from ..params import default_parameters
        base = literature_parameters() if hypothesis == "plasticity" else default_parameters()
    _, targets = load_targets()
    names = FREE[hypothesis]
    maps = _maps(base, names)
    journals = list(journals) if journals is not None else [None] * len(excludes)
    searches = [_Search(hypothesis, base, names, maps,
                        [t for t in targets if t.used_for == "fit" and t.family != ex], exclude_family=ex,
                        generations=generations, popsize=popsize, seed=seed, sigma0=sigma0, journal=j, resume=resume)
                for ex, j in zip(excludes, journals)]
    t0 = time.time()
    for g in range(generations):
        asked = [s.ask(g) for s in searches]
        flat = [v for a in asked for v in a]
        rows_per = [s.fit_targets for s, a in zip(searches, asked) for _ in a]   # a fold skips its held-out rows
        terms = _generation(flat, base, hypothesis, rows_per, workers=workers, scheduler=scheduler) if flat else []
        i = 0
        for s, a in zip(searches, asked):
            s.tell(g, terms[i:i + len(a)], log)
            i += len(a)
        if progress is not None:
            progress(g + 1, generations, searches[0].best_f)
    seconds = time.time() - t0
    return [s.report(seconds) for s in searches]


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
    return fit_many(hypothesis, (exclude_family,), generations=generations, popsize=popsize, seed=seed,
                    sigma0=sigma0, base=base, journals=[journal], resume=resume, workers=workers,
                    scheduler=scheduler, progress=progress, log=log)[0]


def calibration_dir() -> Path:
    return Path(str(resources.files("neuroplastic") / "data" / CAL_DIR))


def identifiability_path(hypothesis: str = "plasticity", name: str | None = None) -> Path:
    """Where ``calibrate --identifiability`` (without ``--out``) keeps its report: beside the set it describes
    (default: the adopted set), named after it (``<set>.identifiability.json``); ``validate`` shows the adopted
    set's report."""
    from ..params._registry import load_calibration
    name = name or load_calibration(None, hypothesis).get("name") or f"{hypothesis}-priors"
    return calibration_dir() / f"{name}.identifiability.json"


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
    with the same optimiser, seed and budget, run in lockstep (:func:`fit_many`: one batched run per generation
    for the fit and all folds). ``journal_dir`` keeps a resumable journal per search."""
    _, targets = load_targets()
    folds = [fam for fam in CV_FAMILIES if any(t.used_for == "fit" and t.family == fam for t in targets)] \
        if cross_validate else []
    excludes = [None] + folds
    journals = None
    if journal_dir is not None:
        journals = [Path(journal_dir) / f".{hypothesis}-seed{seed}-{ex or 'all'}.journal.jsonl" for ex in excludes]
    reports = fit_many(hypothesis, excludes, generations=generations, popsize=popsize, seed=seed, sigma0=sigma0,
                       journals=journals, resume=resume, workers=workers, scheduler=scheduler, progress=progress,
                       log=log)
    rep, cv = reports[0], []
    if cross_validate:
        by = dict(zip(folds, reports[1:]))
        for fam in CV_FAMILIES:
            if fam not in by:
                cv.append({"held_out": fam, "note": "no fit target in this family: the full fit already holds it out",
                           "overrides": dict(rep["overrides"])})
                continue
            r = by[fam]
            cv.append({"held_out": fam, "overrides": r["overrides"], "objective_after": r["objective_after"],
                       "evaluations": r["evaluations"], "fit_targets": r["fit_targets"]})
    return rep, cv


def verify(hypothesis: str = "plasticity", *, version: int | None = None, tolerance: float = 0.01,
           workers: int | None = None, scheduler: str | None = None, progress=None, log=print) -> dict:
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
    if workers is None and scheduler is None:
        workers = opt.get("workers")   # split as the recorded fit was (the numbers do not depend on it)
    again = fit(hypothesis, generations=int(opt["generations"]), popsize=int(opt["popsize"]), seed=int(opt["seed"]),
                sigma0=float(opt["sigma0"]), workers=workers, scheduler=scheduler, progress=progress, log=log)
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
                    step: float = 0.05, workers: int | None = None, scheduler: str | None = None, log=print) -> dict:
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
    if workers or scheduler is not None:
        R = np.asarray(_split_run(_residual_job, cands, base, hypothesis, fit_targets, workers, scheduler))
    else:
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
    row_sens = {r: round(float(np.max(np.abs(Ji), initial=0.0)), 4) for r, Ji in zip(rows, J)}
    return {"hypothesis": hypothesis, "set": shipped.version, "step": step, "rows": rows, "parameters": out,
            "row_sensitivity": row_sens,   # max over parameters of |dr_i/du_j|: 0 = no calibrated parameter moves it
            "insensitive_rows": [r for r, v in row_sens.items() if v < 1e-6],
            "fisher_eigenvalues": [round(float(x), 6) for x in w],
            "weakest_direction": combo,
            "unidentifiable": [r["parameter"] for r in out if not r["identifiable"]]}
