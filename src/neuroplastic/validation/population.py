"""The built-in validation population: a stratified (Latin hypercube) sample of the registry's populations.

Rates (response, remission) are compared as *expected values* over this population. Its traits come from the same
distributions as random cohorts (population.yaml, through :func:`neuroplastic.population.traits_from_uniforms`), but
each of the eight trait dimensions is stratified: patient i takes the quantile (pi_d(i) + 0.5)/N of dimension d,
with pi_d a fixed permutation (seed 20240601). Nothing is random at run time, and N patients cover every marginal
distribution evenly, which is why a few hundred patients give stable expected rates.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np

from .._random import patient_keys
from ..engine._simulate import Patients
from ..params import ParameterSet, default_parameters
from ..population import traits_from_uniforms

N_DEFAULT = 120
SEED = 20240601


def population(n: int = N_DEFAULT, kind: str = "mdd", params: ParameterSet | None = None) -> Patients:
    """The built-in population of ``n`` patients of ``kind`` (see ``neuroplastic.population.POPULATIONS``); the same
    every call.

    Example
    -------
    >>> pop = population(40)
    >>> pop.n, bool(abs(np.median(pop.stress) - 1.0) < 0.05)
    (40, True)
    """
    return _population(n, kind, params or default_parameters())


@lru_cache(maxsize=8)
def _population(n: int, kind: str, params: ParameterSet) -> Patients:
    rng = np.random.default_rng(SEED)
    z = np.stack([(rng.permutation(n) + 0.5) / n for _ in range(8)], axis=1)
    # life events are drawn per patient from its own seeded stream, as in sampled cohorts (not stratified)
    return replace(traits_from_uniforms(z, kind, params), life_events=patient_keys(SEED, np.arange(n)))
