"""Fitting a patient's twin: the posterior over the population sampler's traits given the record's ratings.

The prior is the record's population (``population/_sample.traits_from_uniforms``), written in latent normal
coordinates g (8 per patient; the sampler maps them to weight, CYP2C19, CYP2D6, BDNF Met carriage, plasticity
capacity, placebo responsiveness, natural-course speed and stress load). Traits the record states (weight,
phenotypes) are held at their values. The likelihood of a rating is that of the scale's rater: the score is the
expected score plus the entry inflation plus N(0, sd) noise, rounded and clipped to the scale, so

    P(y | traits) = Phi((y + 1/2 - mu) / sd) - Phi((y - 1/2 - mu) / sd)     (open at 0 and at the maximum).

Sequential Monte Carlo with likelihood tempering (Del Moral, Doucet & Jasra 2006): particles start from the prior;
each step raises the likelihood's exponent as far as keeps the effective sample size at half the particles,
resamples (systematic), and rejuvenates with random-walk Metropolis moves in g whose proposal scale follows the
particles' spread. Every particle is one patient of one vectorised engine run, so a step costs one run of the
record's treatments for all particles at once; records with the same treatments share those runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from .._random import normals, uniforms
from .._units import DAY
from ..engine._batch import stack_patients
from ..engine._simulate import Patients, run_arm
from ..mood.scales import SCALES, entry_inflation
from ..params import ParameterSet, default_parameters
from ..population._sample import traits_from_uniforms

TRAITS = ("weight", "cyp2c19", "cyp2d6", "bdnf_met", "capacity", "placebo", "episode_rate", "stress")
_STREAM_PRIOR, _STREAM_RESAMPLE, _STREAM_MOVE = 4201, 4202, 4203


@dataclass
class Twin:
    """A fitted twin: equally weighted posterior particles (latent g, shape (K, 8)) and how the fit went."""

    record: object
    g: np.ndarray
    loglik: np.ndarray
    seed: int
    params: ParameterSet
    diagnostics: dict = field(default_factory=dict)

    def patients(self) -> Patients:
        """The particles as patients (the known traits held at the record's values)."""
        return _patients(self.record, self.g, self.params)

    def trait_summary(self) -> dict:
        """Posterior median and 80% interval of each continuous trait, and phenotype frequencies."""
        pts = self.patients()
        out = {}
        for name, v in (("weight_kg", pts.weight), ("plasticity_capacity", pts.capacity),
                        ("placebo_responsiveness", pts.placebo), ("natural_course_speed", pts.episode_rate),
                        ("stress_load", pts.stress)):
            q = np.quantile(v, [0.1, 0.5, 0.9])
            out[name] = {"median": float(q[1]), "q10": float(q[0]), "q90": float(q[2])}
        for name, v in (("cyp2c19", pts.cyp2c19), ("cyp2d6", pts.cyp2d6)):
            vals, counts = np.unique(v, return_counts=True)
            out[name] = {str(a): float(c / len(v)) for a, c in zip(vals, counts)}
        return out

    def forecast(self, options: dict | None = None, *, horizon: float = 12 * 7 * DAY, every: float = 14 * DAY,
                 seed: int | None = None) -> dict:
        """Posterior predictive of each option (see :func:`neuroplastic.twin._forecast.forecast`)."""
        from ._forecast import forecast
        return forecast(self, options or {"continue": None}, horizon=horizon, every=every, seed=seed)


def _patients(record, g: np.ndarray, params: ParameterSet, ids=None) -> Patients:
    u = np.clip(ndtr(g), 1e-12, 1 - 1e-12)
    pts = traits_from_uniforms(u, record.population, params, ids=ids)
    known = (getattr(record, "_doc", {}) or {}).get("patient") or {}
    spec = record.scenario.patient
    weight = np.full(len(g), spec.weight) if "weight" in known and spec.weight is not None else pts.weight
    c19 = np.full(len(g), spec.cyp2c19) if "cyp2c19" in known else pts.cyp2c19
    d6 = np.full(len(g), spec.cyp2d6) if "cyp2d6" in known else pts.cyp2d6
    return replace(pts, weight=weight, cyp2c19=c19, cyp2d6=d6)


def _expected(record, pts: Patients, params: ParameterSet, days: np.ndarray, scales, treatments=None,
              duration: float | None = None) -> dict:
    """Expected scores (T, K) on ``scales`` at ``days`` for the particles ``pts`` under the record's treatments."""
    sc = record.scenario
    dur = float(duration if duration is not None else max(days.max() * DAY, sc.duration))
    if dur != sc.duration:
        sc = sc.model_copy(update={"duration": dur})
    trs = sc.treatments if treatments is None else treatments
    times = sorted({0.0} | {float(d) * DAY for d in days})
    run = run_arm(sc, trs, pts, params, out_times=times, keep=[f"{s}_recalled" for s in scales])
    rows = [int(np.argmin(np.abs(run.time - d * DAY))) for d in days]
    return {s: run.observed[f"{s}_recalled"][rows] for s in scales}


def _loglik(record, expected: dict, params: ParameterSet, days_of: dict) -> np.ndarray:
    """Log-likelihood (K,) of the record's ratings under the rater model."""
    K = next(iter(expected.values())).shape[1]
    ll = np.zeros(K)
    for s, rows in days_of.items():
        sc = SCALES[s]
        sd = params.value(sc.sd_key)
        d = np.asarray([r.day for r in rows])
        y = np.asarray([r.score for r in rows])[:, None]
        mu = expected[s] + entry_inflation(params, s, d)[:, None]
        hi = np.where(y >= sc.maximum, np.inf, (y + 0.5 - mu) / sd)
        lo = np.where(y <= 0, -np.inf, (y - 0.5 - mu) / sd)
        # log(Phi(hi) - Phi(lo)), stable in both tails
        a, b = log_ndtr(hi), log_ndtr(lo)
        with np.errstate(divide="ignore"):
            term = a + np.log1p(-np.exp(np.minimum(b - a, -1e-300)))
        ll += np.sum(np.maximum(term, -700.0), axis=0)   # a rating the particle cannot produce: ~exp(-700)
    return ll


def _log_prior(g: np.ndarray) -> np.ndarray:
    return -0.5 * np.sum(g * g, axis=1)


def _ess(logw: np.ndarray) -> float:
    w = np.exp(logw - logw.max())
    w /= w.sum()
    return float(1.0 / np.sum(w * w))


def _systematic(logw: np.ndarray, u0: float) -> np.ndarray:
    w = np.exp(logw - logw.max())
    c = np.cumsum(w / w.sum())
    K = len(logw)
    return np.minimum(np.searchsorted(c, (u0 + np.arange(K)) / K), K - 1)


def fit(record, *, particles: int = 2000, seed: int = 0, params: ParameterSet | None = None, moves: int = 2,
        max_steps: int = 12, progress=None) -> Twin:
    """Fit one record (see :func:`fit_many`)."""
    return fit_many([record], particles=particles, seed=seed, params=params, moves=moves, max_steps=max_steps,
                    progress=progress)[0]


def fit_many(records, *, particles: int = 2000, seed: int = 0, params: ParameterSet | None = None, moves: int = 2,
             max_steps: int = 12, progress=None, positions=None) -> list[Twin]:
    """Fit several records at once: records with the same treatments run as one vectorised cohort of
    ``len(records) x particles`` patients at every step. Deterministic for a seed: each record's particles use
    their own streams, keyed by the record's position in the batch (``positions``, default 0, 1, ...), so a record
    gets the same posterior whichever records share its runs."""
    params = params or default_parameters()
    positions = list(range(len(records))) if positions is None else list(positions)
    groups: dict = {}
    for i, r in enumerate(records):
        groups.setdefault(r.scenario.treatments, []).append(i)
    out: list = [None] * len(records)
    for trs, idx in groups.items():
        for i, tw in zip(idx, _fit_group([records[i] for i in idx], [positions[i] for i in idx], particles, seed,
                                         params, moves, max_steps, progress)):
            out[i] = tw
    return out


def _fit_group(recs, positions, K, seed, params, moves, max_steps, progress):
    R = len(recs)
    scales = sorted({r.scale for rec in recs for r in rec.ratings})
    days = np.asarray(sorted({r.day for rec in recs for r in rec.ratings}), float)
    days_of = [{s: [r for r in rec.ratings if r.scale == s] for s in {x.scale for x in rec.ratings}} for rec in recs]
    dur = max(rec.scenario.duration for rec in recs)
    pid = [np.arange(K) + p * K for p in positions]   # particle ids: the record's position and the particle
    g = [ndtri(uniforms(seed, pid[k], _STREAM_PRIOR, 8)) for k in range(R)]

    def loglik(gs, which=None):
        """Log-likelihoods of the particles ``gs[k]`` of the records ``which`` (all), in one engine run."""
        which = list(range(R)) if which is None else which
        pts = [_patients(recs[k], gs[k], params, ids=pid[k]) for k in which]
        allp = stack_patients(pts)
        e = _expected(recs[0], allp, params, days, scales, duration=dur)
        res = {}
        for j, k in enumerate(which):
            sl = slice(j * K, (j + 1) * K)
            ek = {s: e[s][[int(np.argmin(np.abs(days - r.day))) for r in days_of[k][s]]][:, sl] for s in days_of[k]}
            res[k] = _loglik(recs[k], ek, params, days_of[k])
        return res

    ll = loglik(g)
    beta = np.zeros(R)
    diag = [{"steps": [], "particles": K, "method": "SMC with likelihood tempering, systematic resampling, random-walk Metropolis rejuvenation"} for _ in range(R)]
    for step in range(max_steps):
        done = beta >= 1.0
        if done.all():
            break
        for k in range(R):
            if done[k]:
                continue
            # the largest next exponent that keeps ESS >= K/2 (bisection)
            lo, hi = beta[k], 1.0
            if _ess((hi - beta[k]) * ll[k]) < K / 2:
                for _ in range(40):
                    mid = 0.5 * (lo + hi)
                    if _ess((mid - beta[k]) * ll[k]) >= K / 2:
                        lo = mid
                    else:
                        hi = mid
                nb = lo if lo > beta[k] else min(1.0, beta[k] + 1e-3)
            else:
                nb = 1.0
            logw = (nb - beta[k]) * ll[k]
            ess = _ess(logw)
            u0 = uniforms(seed, np.array([positions[k]]), _STREAM_RESAMPLE, step + 1)[0, step]
            pick = _systematic(logw, u0)
            g[k], ll[k] = g[k][pick], ll[k][pick]
            beta[k] = nb
            diag[k]["steps"].append({"beta": float(nb), "ess_before_resampling": ess})
        moving = [k for k in range(R) if not done[k]]   # a record's moves never depend on the other records
        for m in range(moves):   # rejuvenate the records tempered at this step, at their new exponents
            scale = {k: 2.38 / np.sqrt(8) * np.maximum(g[k].std(axis=0), 0.05) for k in moving}
            z = {k: normals(seed, pid[k], _STREAM_MOVE + 1000 * step + m, 9) for k in moving}
            prop = {k: g[k] + scale[k] * z[k][:, :8] for k in moving}
            llp = loglik(prop, moving)
            for k in moving:
                log_a = beta[k] * (llp[k] - ll[k]) + _log_prior(prop[k]) - _log_prior(g[k])
                acc = np.log(np.clip(ndtr(z[k][:, 8]), 1e-300, 1.0)) < log_a
                g[k] = np.where(acc[:, None], prop[k], g[k])
                ll[k] = np.where(acc, llp[k], ll[k])
                if diag[k]["steps"]:
                    diag[k]["steps"][-1].setdefault("acceptance", []).append(float(acc.mean()))
        if progress is not None:
            progress(step + 1, max_steps)
    twins = []
    for k in range(R):
        diag[k]["final_beta"] = float(beta[k])
        diag[k]["ess_final"] = float(K)
        twins.append(Twin(recs[k], g[k], ll[k], seed, params, diag[k]))
    return twins
