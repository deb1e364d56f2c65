"""Consolidation of synaptic change, early -> late, by synaptic tagging and capture (Frey & Morris 1997; Clopath 2008).

    dh/dt = -h / tau_h                                          early change (sessions add increments to h)
    dq/dt = (B Theta(|h| - theta_pro) - q) / tau_q              plasticity-related proteins, BDNF-dependent
    dz/dt = q tag(h) h (1 - sign(h) z / z_max) / tau_c - z / tau_z,  tag = h^2/(h^2 + theta_pro^2)
                                                                late change accumulates where tagged, bounded by z_max

Inductions (session increments and activity-dependent change) saturate: a change dh is applied as
dh (1 - h/h_max) when positive and dh (1 + h/h_max) when negative.

w = 1 + h + z multiplies the efficacy of the plastic pathway (dlPFC -> sgACC control). Spaced sessions find
proteins already made and tags renewed, so spacing and number of sessions matter mechanistically.
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
