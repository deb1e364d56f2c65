from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.special import ndtri

from .._random import patient_keys, uniforms
from ..engine._simulate import Patients
from ..params import ParameterSet, default_parameters

POPULATIONS = ("mdd", "trd", "outpatient", "community", "healthy")
WEIGHT_RANGE_KG = (40.0, 180.0)  # sampled body weights are clipped here; dose limits are checked at these extremes
_2C19 = ("poor", "intermediate", "normal", "rapid", "ultrarapid")
_2D6 = ("poor", "intermediate", "normal", "ultrarapid")


def typical_patient(weight=70.0, cyp2c19="normal", cyp2d6="normal") -> Patients:
    """The typical adult with moderate-severe MDD (a cohort of one)."""
    return Patients(np.arange(1), np.array([weight]), np.array([cyp2c19]), np.array([cyp2d6]), np.array([1.0]),
                    np.ones(1), np.ones(1), np.ones(1))


def _categorical(u: np.ndarray, labels, probs) -> np.ndarray:
    idx = np.searchsorted(np.cumsum(probs), u, side="right").clip(0, len(labels) - 1)
    return np.asarray(labels)[idx]


def sample_patients(n: int, population: str = "mdd", seed: int = 0, *, start: int = 0,
                    params: ParameterSet | None = None) -> Patients:
    """``n`` virtual patients of ``population`` (``mdd``, ``trd``, ``outpatient``, ``community`` or ``healthy``), indices
    ``start..start+n-1``.

    Patient i draws all of its traits from its own counter-based stream (seed, i, 17) (see ``neuroplastic._random``).

    Example
    -------
    >>> a = sample_patients(5, "mdd", seed=3)
    >>> b = sample_patients(2, "mdd", seed=3, start=3)
    >>> bool(np.allclose(a.stress[3:], b.stress)), a.n
    (True, 5)
    """
    ids = np.arange(start, start + n)
    pts = traits_from_uniforms(uniforms(seed, ids, 17, 8), population, params, ids=ids)
    pts = replace(pts, life_events=patient_keys(seed, ids))
    return with_stimulation_traits(pts, seed, params)


def with_stimulation_traits(pts: Patients, seed: int, params: ParameterSet | None = None) -> Patients:
    """``pts`` with the anatomy and connectivity TMS acts on, from each patient's own stream (seed, id, 31)
    (see :func:`neuroplastic.physics.tms.targeting.stimulation_traits`); the other traits are untouched.

    Example
    -------
    >>> p = with_stimulation_traits(typical_patient(), seed=1)
    >>> p.placement.shape
    (1, 3)
    """
    from dataclasses import replace
    from ..physics.tms.targeting import stimulation_traits
    t = stimulation_traits(seed, pts.ids, params)
    return replace(pts, **t.__dict__)


def traits_from_uniforms(z: np.ndarray, population: str = "mdd", params: ParameterSet | None = None, *,
                         ids: np.ndarray | None = None) -> Patients:
    """Patients whose traits are the registry's population distributions at the uniform numbers ``z`` (n, 8).

    Columns: body weight, CYP2C19, CYP2D6, BDNF Met carriage, plasticity capacity, placebo responsiveness,
    natural-course speed, stress load. Random cohorts (:func:`sample_patients`) and the stratified validation
    population both come through here, so the distributions are declared once (population.yaml).

    Example
    -------
    >>> pts = traits_from_uniforms(np.full((1, 8), 0.5))
    >>> float(pts.stress[0]), str(pts.cyp2d6[0])
    (1.0, 'normal')
    """
    if population not in POPULATIONS:
        raise ValueError(population)
    n = len(z)
    ids = np.arange(n) if ids is None else ids
    p = params or default_parameters()
    v = p.value
    f19 = [v("population.cyp2c19.poor"), v("population.cyp2c19.intermediate"), 0.0,
           v("population.cyp2c19.rapid"), v("population.cyp2c19.ultrarapid")]
    f19[2] = 1.0 - sum(f19)
    f2d6 = [v("population.cyp2d6.poor"), v("population.cyp2d6.intermediate"), 0.0, v("population.cyp2d6.ultrarapid")]
    f2d6[2] = 1.0 - sum(f2d6)
    g = ndtri(z)  # normal deviates
    weight = np.clip(v("population.weight.mean") + v("population.weight.sd") * g[:, 0], *WEIGHT_RANGE_KG)
    c19 = _categorical(z[:, 1], _2C19, f19)
    d6 = _categorical(z[:, 2], _2D6, f2d6)
    met = z[:, 3] < v("population.bdnf.met_carrier")
    capacity = np.where(met, p.value("plasticity.bdnf.capacity_valmet"), 1.0) * np.exp(v("population.capacity.sd") * g[:, 4])
    placebo = np.exp(v("population.placebo.sd") * g[:, 5] - 0.5 * v("population.placebo.sd") ** 2)
    episode = np.exp(v("population.episode.sd") * g[:, 6])
    if population == "healthy":
        stress = np.zeros(n)
    elif population == "trd":
        stress = v("population.trd.stress_median") * np.exp(v("population.mdd.stress_sd") * g[:, 7])
        capacity = capacity * v("population.trd.capacity")
        episode = episode * v("population.trd.episode_rate")
    elif population in ("outpatient", "community"):   # broad-entry severity; community: untreated new episodes
        stress = v("population.outpatient.stress_median") * np.exp(v("population.outpatient.stress_sd") * g[:, 7])
        episode = episode * v(f"population.{population}.episode_rate")
    else:
        stress = v("population.mdd.stress_median") * np.exp(v("population.mdd.stress_sd") * g[:, 7])
    return Patients(ids, weight, c19, d6, stress, capacity, placebo, episode)
