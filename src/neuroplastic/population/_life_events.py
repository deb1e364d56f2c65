"""Stressful life events: a stochastic, seeded input to the stress exposure of each patient.

Each week a patient meets a severe life event with probability 1 - exp(-rate x 1 week); its size is a unit-mean
exponential draw, scaled in the brain model by ``brain.stress.event_load``. Draws are a pure function of the
patient's key (seed, id) and the week, so a patient's events are the same in every arm of a crossover, in every
chunk and on every worker. A patient without a key (the scenario's single typical patient) meets none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._random import uniforms_keyed
from .._units import DAY

WEEK = 7 * DAY
_STREAM_WHEN, _STREAM_SIZE = 401, 402


@dataclass(frozen=True)
class LifeEvent:
    """Per-patient size of the event (unit-mean; 0 where a patient has none this week)."""

    kick: np.ndarray


def life_event_episodes(keys, duration: float, rate_per_s, start=None):
    """``Episode("life_event", LifeEvent(kick))`` at each whole week inside (0, duration), for every week (most
    kicks are 0), so the integrator's stops never depend on which patients a chunk holds. ``rate_per_s`` is one
    rate or one per patient (a parameter batch whose candidates differ in the rate). ``start`` (s, per
    patient, optional) keeps only a patient's events after that time (a twin's forecast: the record's period is
    already in its fitted traits, the future meets new events).

    Example
    -------
    >>> from neuroplastic._random import patient_keys
    >>> ev = life_event_episodes(patient_keys(1, np.arange(1000)), 52 * WEEK, 0.5 / (365 * DAY))
    >>> n = sum(int((e.payload.kick > 0).sum()) for e in ev)
    >>> 400 < n < 600    # about 0.5 per patient-year
    True
    """
    from ..engine._calendar import Episode

    rate = np.asarray(rate_per_s, float)
    if keys is None or not (rate > 0).any():
        return []
    keys = np.asarray(keys, float)
    ok = np.isfinite(keys)
    if not ok.any():
        return []
    times = np.arange(1, int(np.ceil(duration / WEEK))) * WEEK   # whole weeks strictly inside (0, duration)
    if len(times) == 0:
        return []
    k = np.where(ok, keys, 0.0)
    u = uniforms_keyed(k, _STREAM_WHEN, times)
    size = -np.log(uniforms_keyed(k, _STREAM_SIZE, times))
    p_week = -np.expm1(-np.maximum(np.broadcast_to(rate, k.shape), 0.0) * WEEK)   # weekly probability, per patient
    hit = (u < p_week[:, None]) & ok[:, None]
    if start is not None:
        hit &= times[None, :] > np.broadcast_to(np.asarray(start, float), k.shape)[:, None]
    kick = np.where(hit, size, 0.0)
    return [Episode(float(t), "life_event", LifeEvent(kick[:, j])) for j, t in enumerate(times)]
