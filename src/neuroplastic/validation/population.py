"""The small built-in validation population (deterministic).

Until virtual cohorts exist, rates (response, remission) are compared as *expected values* over this population:
each of ``N`` patients carries traits taken at evenly spaced quantiles (i - 0.5)/N of documented or stated
distributions; the pairing of traits across patients is a fixed permutation (seed 20240601), so nothing is random at
run time. Distributions and their sources:

* body mass: log-normal, median 78 kg, log-SD 0.20 (adult trial populations; NHANES adult mean ~80 kg).
* CYP2C19 phenotype counts: European frequencies poor 2%, intermediate 26%, normal 40%, rapid 27%, ultrarapid 5%
  (CPIC 2015, Hicks, Clin Pharmacol Ther 98:127), rounded by largest remainder.
* CYP2D6 phenotype counts: poor 7%, intermediate 10%, normal 77%, ultrarapid 3% (rest normal; CPIC 2015 / Gaedigk
  2017 Genet Med 19:69, European figures), rounded by largest remainder.
* stress load (episode severity): log-normal, median 1, log-SD 0.12 -- *assumption*, chosen so the baseline HAM-D17
  spread is about that of trial entry (SD ~3-4 points with the usual entry cut-off).
* plasticity capacity: 0.7 in BDNF Met carriers (~35% of Europeans; Val66Met, Egan 2003 Cell 112:257; Shimizu
  2004 Am J Med Genet 126B:122), 1.0 otherwise.
* placebo responsiveness: log-normal, median 1, log-SD 0.5 -- *assumption* (expectancy effects vary several-fold
  between patients; no parameter was fitted to this spread).
* natural-course speed: log-normal, median 1, log-SD 0.4 -- *assumption* (spontaneous remission times spread
  widely; Whiteford 2013 Psychol Med 43:1569).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from ..engine._simulate import Patients

N_DEFAULT = 40
SEED = 20240601

CYP2C19 = {"poor": 0.02, "intermediate": 0.26, "normal": 0.40, "rapid": 0.27, "ultrarapid": 0.05}
CYP2D6 = {"poor": 0.07, "intermediate": 0.10, "normal": 0.80, "ultrarapid": 0.03}


def _counts(freq: dict[str, float], n: int) -> list[str]:
    raw = {k: v * n for k, v in freq.items()}
    cnt = {k: int(np.floor(v)) for k, v in raw.items()}
    rest = sorted(raw, key=lambda k: raw[k] - cnt[k], reverse=True)
    for k in rest[: n - sum(cnt.values())]:
        cnt[k] += 1
    return [k for k in freq for _ in range(cnt[k])]


def _lognormal(q: np.ndarray, median: float, sd: float) -> np.ndarray:
    return median * np.exp(sd * norm.ppf(q))


def population(n: int = N_DEFAULT) -> Patients:
    """The built-in population of ``n`` patients (same every call).

    Example
    -------
    >>> pop = population(40)
    >>> pop.n, int((pop.capacity < 1).sum())
    (40, 14)
    """
    q = (np.arange(n) + 0.5) / n
    rng = np.random.default_rng(SEED)
    perm = lambda a: np.asarray(a)[rng.permutation(n)]
    weight = perm(_lognormal(q, 78.0, 0.20))
    c19 = perm(_counts(CYP2C19, n))
    d6 = perm(_counts(CYP2D6, n))
    stress = perm(_lognormal(q, 1.0, 0.12))
    capacity = perm(np.where(q < 0.35, 0.7, 1.0))
    placebo = perm(_lognormal(q, 1.0, 0.5))
    rate = perm(_lognormal(q, 1.0, 0.4))
    return Patients(np.arange(n), weight, c19, d6, stress, capacity=capacity, placebo=placebo, episode_rate=rate)
