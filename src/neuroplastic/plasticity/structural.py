"""Structural plasticity: spine (synapse) formation, stabilisation and pruning in prefrontal circuits.

    m*      = T + m_max y^2 / (y^2 + m_half^2),  y = max(R, 0)              mTOR-dependent synthesis (Li 2010)
    dm/dt   = (m* - m) / tau_m                                             synaptic proteins that build spines
    room    = (cap - (L + S)) / (cap - 1)                                 formation slows near the ceiling
    dL/dt   = k_f m room - L / tau_L - k_s T L                             labile new spines
    dS/dt   = k_s T L - S (1 + p_s stress) / tau_S                         stable spines

R is the released BDNF still signalling (state ``bdnf_released``: the phasic, activity-dependent release of
:func:`~neuroplastic.plasticity.bdnf.release` integrated over ``plasticity.bdnf.release_time``, hours): sustained
release that outruns the tonic level drives mTORC1 supralinearly, whatever raised the firing (a stimulation train,
a therapy session's engagement, a ketamine burst). Spines grow from the synaptic proteins that synthesis builds,
so they follow the signal by about half a day (new spines 12-24 h after ketamine, after its first behavioural
effects: Moda-Sava 2019; synaptic proteins within hours: Li 2010).

Densities are relative to the healthy total (L + S = 1 with T = 1, stress = 0); the formation rate is
normalised so that holds.
"""

from __future__ import annotations

import numpy as np


def mtor_drive(p: dict, T, phasic):
    """Target of spine-building synthesis: the TrkB signal plus a supralinear response to phasic release.

    Example
    -------
    >>> p = {"mtor_max": 10.0, "mtor_half": 1.0}
    >>> float(mtor_drive(p, 1.0, 0.0)), float(mtor_drive(p, 2.0, 1.0))
    (1.0, 7.0)
    """
    y = np.maximum(phasic, 0.0)
    return T + p["mtor_max"] * y * y / (y * y + p["mtor_half"] ** 2)


def synthesis_rate(p: dict, m, T, phasic):
    """dm/dt of the spine-building synthesis ``m`` (1 in the healthy steady state)."""
    return (mtor_drive(p, T, phasic) - m) / p["synthesis_time"]


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


def rates(p: dict, L, S, T, stress, m):
    """dL/dt, dS/dt of labile and stable spines given TrkB signal ``T``, stress load and synthesis ``m``."""
    Lh, _ = healthy_split(p)
    k_f = Lh * (1.0 / p["labile_lifetime"] + p["stabilisation_rate"])  # formation giving the healthy split
    room = np.maximum(p["capacity"] - (L + S), 0.0) / (p["capacity"] - 1.0)
    stab = p["stabilisation_rate"] * T * L
    dL = k_f * m * room - L / p["labile_lifetime"] - stab
    dS = stab - S * (1.0 + p["stress_pruning"] * stress) / p["stable_lifetime"]
    return dL, dS
