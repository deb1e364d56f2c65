"""Structural plasticity: spine (synapse) formation, stabilisation and pruning in prefrontal circuits.

    m       = T + m_max y^2 / (y^2 + m_half^2),  y = max(T - 1, 0)         mTOR-dependent synthesis (Li 2010)
    room    = (cap - (L + S)) / (cap - 1)                                 formation slows near the ceiling
    dL/dt   = k_f m room - L / tau_L - k_s T L                             labile new spines
    dS/dt   = k_s T L - S (1 + p_s stress) / tau_S                         stable spines

Densities are relative to the healthy total (L + S = 1 with T = 1, stress = 0); the formation rate is
normalised so that holds.
"""

from __future__ import annotations

import numpy as np


def mtor_drive(p: dict, T):
    y = np.maximum(T - 1.0, 0.0)
    return T + p["mtor_max"] * y * y / (y * y + p["mtor_half"] ** 2)


def healthy_split(p: dict):
    """Labile and stable densities of the healthy steady state (T = 1, stress = 0); sum 1.

    Example
    -------
    >>> p = {"labile_lifetime": 4.0, "stabilisation_rate": 0.15, "stable_lifetime": 37.8}
    >>> L, S = healthy_split(p); round(L + S, 12)
    1.0
    """
    ratio = p["stabilisation_rate"] * p["stable_lifetime"]  # S/L at T = 1
    L = 1.0 / (1.0 + ratio)
    return L, 1.0 - L


def rates(p: dict, L, S, T, stress):
    Lh, _ = healthy_split(p)
    k_f = Lh * (1.0 / p["labile_lifetime"] + p["stabilisation_rate"])  # formation giving the healthy split
    room = np.maximum(p["capacity"] - (L + S), 0.0) / (p["capacity"] - 1.0)
    stab = p["stabilisation_rate"] * T * L
    dL = k_f * mtor_drive(p, T) * room - L / p["labile_lifetime"] - stab
    dS = stab - S * (1.0 + p["stress_pruning"] * stress) / p["stable_lifetime"]
    return dL, dS
