"""Placebo as expectancy: the belief that an effective treatment is under way (pill, sham TMS, saline infusion,
nasal spray, an implanted stimulator).

A treatment's only contribution here is what the patient experiences: the administrations (a pill taken, a sham
session sat through, an infusion or a spray received, an implant that is switched on) and how strongly each one
signals an effective treatment (the form's level; 1 = an oral placebo). What the brain makes of them is shared
biology (:mod:`neuroplastic.brain.model`): each experienced administration reinforces the expectation of benefit,
which builds up and extinguishes with one pair of time constants for every form, and drives anticipatory dlPFC and
reward/dopamine activity (de la Fuente-Fernandez 2001; Benedetti 2005); plasticity does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import ParameterSet

FORMS = ("pill", "sham_tms", "saline", "nasal_spray", "implant")

# Forms without placebo-arm data of their own share a level: a nasal spray of a solution is, like a saline
# infusion, an administered dose of a liquid believed to be the drug (no separate parameter is fitted for it).
_LEVEL = {"nasal_spray": "saline"}
# What a placebo given without a schedule (no ``at``/``every``) is experienced as: one infusion or one spray at its
# start; a pill taken, or a device felt (VNS is felt as hoarseness in its on-periods), every day until it stops.
_SINGLE = ("saline", "nasal_spray")
_DAILY = 86400.0


@dataclass(frozen=True)
class Experience:
    """The payload of an ``experience`` episode: how strongly this administration signals an effective treatment,
    per patient (the form's level times the patient's placebo responsiveness)."""

    level: np.ndarray


def level(form: str, params: ParameterSet) -> float:
    """The expectancy level of a placebo form (1 = an oral placebo).

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> level("nasal_spray", default_parameters()) == level("saline", default_parameters())
    True
    """
    return params.si(f"placebo.expectancy.{_LEVEL.get(form, form)}")


def experienced(form: str, start: float, stop: float, administrations: list[float] | None = None) -> list[float]:
    """Times (s) of the administrations the patient experiences, before ``stop``.

    ``administrations`` (a schedule's times) are taken as they are; without one, a saline infusion or a nasal spray
    is one administration at ``start`` and the other forms are experienced daily from ``start``.

    Example
    -------
    >>> [t / 86400 for t in experienced("pill", 0.0, 3 * 86400.0)]
    [0.0, 1.0, 2.0]
    >>> [t / 86400 for t in experienced("saline", 86400.0, 28 * 86400.0)]
    [1.0]
    >>> [t / 86400 for t in experienced("saline", 0.0, 28 * 86400.0, [0.0, 3 * 86400.0])]
    [0.0, 3.0]
    """
    if administrations is not None:
        return [t for t in administrations if t < stop]
    if start >= stop:
        return []
    if form in _SINGLE:
        return [start]
    n = int(np.ceil((stop - start) / _DAILY - 1e-9))
    return [start + k * _DAILY for k in range(n)]


def events(form: str, times, params: ParameterSet, responsiveness: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """``(time, level per patient)`` of each administration at ``times`` (s) experienced as ``form``: the form's
    level times the patient's placebo responsiveness."""
    val = level(form, params) * np.asarray(responsiveness, float)
    return [(t, val) for t in times]
