"""Consolidation of synaptic change, early -> late, by synaptic tagging and capture (Frey & Morris 1997; Clopath 2008).

    dh/dt = -h / tau_h                                          early change (sessions add increments to h)
    dq/dt = (B Theta(|h| - theta_pro) - q) / tau_q              plasticity-related proteins, BDNF-dependent
    dz/dt = q tag(h) h (1 - sign(h) z / z_max) / tau_c - z / tau_z,  tag = h^2/(h^2 + theta_pro^2)
                                                                late change accumulates where tagged, bounded by z_max

Inductions (session increments and activity-dependent change) saturate: a change dh is applied as
dh (1 - h/h_max) when positive and dh (1 + h/h_max) when negative.

w = 1 + h + z multiplies the efficacy of the plastic pathway (dlPFC -> sgACC control). Spaced sessions find
proteins already made and tags renewed, so spacing and number of sessions matter mechanistically.

Refractoriness (Kramar 2012: a second theta-burst train adds nothing 10 min after the first, doubles LTP 60 min
after). The synapses a session tags cannot be potentiated again at once; they recover in two stages:

    dr1/dt = -r1 / tau_r          r1: tagged, refractory
    dr2/dt = (r1 - r2) / tau_r    r2: recovering, still refractory

A session's change reaches only the available fraction 1 - r1 - r2, and the fraction it tags,
tag(dh) = dh^2 / (dh^2 + theta_pro^2) of the available synapses, joins r1. A sub-threshold session tags little and
leaves the synapses free; a full session shortly after another adds little.
"""

from __future__ import annotations

import numpy as np


def rates(p: dict, h, q, z, bdnf):
    thr = p["protein_threshold"]
    trigger = 1.0 / (1.0 + np.exp(-(np.abs(h) - thr) / (0.1 * thr)))
    dh = -h / p["early_time"]
    dq = (bdnf * trigger - q) / p["protein_time"]
    tag = h * h / (h * h + thr * thr)
    dz = q * tag * h * (1.0 - np.sign(h) * z / p["late_max"]) / p["capture_time"] - z / p["late_lifetime"]
    return dh, dq, dz


def bounded(dh, h, h_max):
    """Soft-bounded induction of early change.

    Example
    -------
    >>> float(bounded(0.1, 0.5, 0.5)), float(bounded(-0.1, 0.0, 0.5))
    (0.0, -0.1)
    """
    return np.where(dh > 0, dh * (1.0 - h / h_max), dh * (1.0 + h / h_max))


def refractory_rates(p: dict, r1, r2):
    """Two-stage recovery of tagged synapses (time constant ``refractory_time`` per stage)."""
    tau = p["refractory_time"]
    return -r1 / tau, (r1 - r2) / tau


def induce(p: dict, dh, h, r1, r2):
    """Apply a session's early change ``dh`` to early change ``h`` given refractory fractions ``r1``, ``r2``:
    returns the new ``h`` and ``r1``.

    Example
    -------
    >>> p = {"early_max": 1.0, "protein_threshold": 0.05}
    >>> h, r1 = induce(p, 0.2, 0.0, 0.0, 0.0)            # a fresh session
    >>> h2, _ = induce(p, 0.2, 0.0, r1, 0.0)             # the same session on the synapses it just tagged
    >>> round(float(h), 3), round(float(r1), 3), bool(h2 < 0.1 * h)
    (0.2, 0.941, True)
    """
    free = np.minimum(np.maximum(1.0 - r1 - r2, 0.0), 1.0)
    eff = np.asarray(dh, float) * free
    thr = p["protein_threshold"]
    tagged = eff * eff / (eff * eff + thr * thr)
    return h + bounded(eff, h, p["early_max"]), r1 + free * tagged
