"""Placebo as expectancy: the belief that an effective treatment is under way (pill, sham TMS, saline infusion,
nasal spray, an implanted stimulator).

Expectancy is an input channel (0 none, 1 = an oral placebo); the brain model turns it into anticipatory dlPFC
and reward/dopamine activity (de la Fuente-Fernandez 2001; Benedetti 2005), and plasticity does the rest.
"""

from __future__ import annotations

import numpy as np

from ..params import ParameterSet

FORMS = ("pill", "sham_tms", "saline", "nasal_spray", "implant")

# Forms without placebo-arm data of their own share a level: a nasal spray of a solution is, like a saline
# infusion, an administered dose of a liquid believed to be the drug (no separate parameter is fitted for it).
_LEVEL = {"nasal_spray": "saline"}
# Forms whose belief is renewed by each administration and held for a while after it (one infusion or spray:
# ``placebo.expectancy.saline_duration``); for the others (a daily pill, a sham TMS course) the belief is held from
# the first administration to a day after the last, as for a real course of those treatments.
_PER_DOSE = ("saline", "nasal_spray")
_COURSE_TAIL = 86400.0


def level(form: str, params: ParameterSet) -> float:
    """The expectancy level of a placebo form (1 = an oral placebo)."""
    return params.si(f"placebo.expectancy.{_LEVEL.get(form, form)}")


def belief_windows(form: str, start: float, stop: float, params: ParameterSet,
                   administrations: list[float] | None = None) -> list[tuple[float, float]]:
    """The (start, end) windows, in s, over which a placebo's belief is held.

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> p = default_parameters()
    >>> [(a / 86400, b / 86400) for a, b in belief_windows("saline", 0.0, 28 * 86400.0, p, [0.0, 3 * 86400.0])]
    [(0.0, 10.0)]
    >>> [(a / 86400, b / 86400) for a, b in belief_windows("pill", 0.0, 28 * 86400.0, p, [0.0, 86400.0, 2 * 86400.0])]
    [(0.0, 3.0)]
    """
    if administrations is None:   # held from start to stop (one infusion or spray: for its holding time)
        if form in _PER_DOSE:
            stop = min(stop, start + params.si("placebo.expectancy.saline_duration"))
        return [(start, stop)]
    if not administrations:
        return []
    if form not in _PER_DOSE:
        return [(administrations[0], min(stop, administrations[-1] + _COURSE_TAIL))]
    hold = params.si("placebo.expectancy.saline_duration")
    out: list[list[float]] = []
    for t in administrations:
        a, b = t, min(stop, t + hold)
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def pulses(form: str, start: float, stop: float, params: ParameterSet, n_patients: int, responsiveness: np.ndarray,
           administrations: list[float] | None = None):
    """Expectancy pulses ``(start, end, "expectancy", level per patient)`` of a placebo (see :func:`belief_windows`)."""
    val = level(form, params) * responsiveness
    return [(a, b, "expectancy", val) for a, b in belief_windows(form, start, stop, params, administrations) if a < b]
