"""Profile of the monoamine hypothesis on one protocol: its own parameters swept over their plausible ranges.

A refitted hypothesis is one point of its parameter space, the best compromise across every fit target. The profile
shows the whole trade-off on a single trial: for each (max_relief, half_index) on a grid spanning the registry
ranges, every target of the protocol is computed with the shared parameters held at the shipped set. For STAR*D
level 1 it answers whether *any* monoamine setting gives both the published remission rate and the published share
of late responders, which is the quantitative form of "mood that tracks monoamines cannot be both effective and
slow": a drug effect strong enough to reach the rates arrives within the first visits.
"""

from __future__ import annotations

import numpy as np

from ..params import ParameterSet
from .runner import Simulator, compute
from .targets import load_targets

RELIEF = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)      # mood.monoamine.max_relief range [0.1, 1]
HALF = (0.1, 0.3, 1.0, 3.0, 10.0)                                  # mood.monoamine.half_index range [0.1, 10]
RATE_KINDS = ("remission_rate", "response_rate")
TIMING_KINDS = ("late_share", "mean_time_to")


def monoamine_profile(params: ParameterSet, protocol: str = "stard_level1", *, relief=RELIEF, half=HALF) -> dict:
    """Every target of ``protocol`` under ``monoamine`` on a (max_relief, half_index) grid, plus the summed misfit
    of its rate rows and of its timing rows at each point.

    Returns ``{"targets": [ids], "rate_targets": [ids], "grid": [{"max_relief", "half_index", "values": {id: value}, "misfit_rates",
    "misfit_timing", "misfit_all"}]}``.

    Example
    -------
    >>> from neuroplastic.validation import hypothesis_parameters
    >>> prof = monoamine_profile(hypothesis_parameters("monoamine"), relief=(0.4,), half=(1.0,))
    >>> len(prof["grid"]), "stard_responders_8wk" in prof["grid"][0]["values"]
    (1, True)
    """
    _, targets = load_targets()
    rows = [t for t in targets if t.protocol == protocol]
    grid = []
    for h in half:
        for r in relief:
            p = params.with_values({"mood.monoamine.max_relief": r, "mood.monoamine.half_index": h},
                                   version=f"{params.version}+profile")
            sim = Simulator(p, "monoamine")
            vals = {t.id: compute(t, sim) for t in rows}
            grid.append({"max_relief": r, "half_index": h, "values": vals,
                         **_misfits(rows, vals)})
    return {"targets": [t.id for t in rows], "rate_targets": [t.id for t in rows if t.statistic["kind"] in RATE_KINDS],
            "grid": grid}


def _misfits(rows, vals) -> dict:
    def total(kinds):
        return float(sum(t.misfit(vals[t.id]) for t in rows if t.statistic["kind"] in kinds))
    return {"misfit_rates": total(RATE_KINDS), "misfit_timing": total(TIMING_KINDS),
            "misfit_all": total(RATE_KINDS + TIMING_KINDS)}


def protocol_misfits(protocol: str, values: dict) -> dict:
    """Summed misfits (rates, timing, all) of ``protocol``'s rows for simulated ``values`` {id: value}.

    Example
    -------
    >>> m = protocol_misfits("stard_level1", {"stard_remission_hamd17": 0.28})
    >>> m["misfit_rates"]
    0.0
    """
    _, targets = load_targets()
    rows = [t for t in targets if t.protocol == protocol and t.id in values]
    return _misfits(rows, values)


def best(profile: dict, key: str = "misfit_all") -> dict:
    """The grid point with the smallest ``key``."""
    return min(profile["grid"], key=lambda g: g[key] if np.isfinite(g[key]) else np.inf)


def within(profile: dict, target) -> list[dict]:
    """The grid points whose value of ``target`` lies inside its tolerance interval."""
    lo, hi = target.interval
    return [g for g in profile["grid"] if lo <= g["values"][target.id] <= hi]
