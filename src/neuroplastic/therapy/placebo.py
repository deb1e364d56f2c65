"""Placebo as expectancy: the belief that an effective treatment is under way (pill, sham TMS, saline infusion, an implanted stimulator).

Expectancy is an input channel (0 none, 1 = an oral placebo); the brain model turns it into anticipatory dlPFC
and reward/dopamine activity (de la Fuente-Fernandez 2001; Benedetti 2005), and plasticity does the rest.
"""

from __future__ import annotations

import numpy as np

from ..params import ParameterSet

FORMS = ("pill", "sham_tms", "saline", "implant")


def pulses(form: str, start: float, stop: float, params: ParameterSet, n_patients: int, responsiveness: np.ndarray):
    level = params.si(f"placebo.expectancy.{form}")
    if form == "saline":
        stop = min(stop, start + params.si("placebo.expectancy.saline_duration"))
    return [(start, stop, "expectancy", level * responsiveness)]
