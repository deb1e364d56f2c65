"""Latent depressive severity (0 = none, 1 = maximal).

Plasticity hypothesis (default): severity follows the circuit,
    z   = w_s (a_s/r_q - 1) - w_d (a_d/r_q - 1) - w_r (a_r/r_q - 1) - w_h (a_h/r_q - 1)
    sev = 1 / (1 + exp(-(max(z, 0) - z_mid) / z_slope)).
An imbalance on the healthy side of the healthy circuit (z < 0: more dlPFC or reward activity than healthy) reads
as the healthy level: symptoms measure a deficit, so no circuit state rates better than not being depressed.
Monoamine hypothesis (chemical imbalance): severity follows synaptic monoamines with a short lag,
    dX/dt = (sum_m w_m max(M_m - 1, 0) - X) / tau_lag
    sev   = sev_0 (1 - R X / (X + X_half)),   sev_0 the patient's untreated severity.
Both hypotheses share pharmacology, nuclei, receptor desensitisation and the whole plasticity machinery; they
differ only in which state mood is read from.
"""

from __future__ import annotations

import numpy as np


def circuit_imbalance(p: dict, a_d, a_s, a_h, a_r, rq):
    return (p["w_sgacc"] * (a_s / rq - 1.0) - p["w_dlpfc"] * (a_d / rq - 1.0)
            - p["w_reward"] * (a_r / rq - 1.0) - p["w_hipp"] * (a_h / rq - 1.0))


def from_circuit(p: dict, z):
    """Severity from circuit imbalance ``z``; an imbalance below the healthy circuit's (z < 0) reads as healthy.

    Example
    -------
    >>> p = {"midpoint": 1.0, "slope": 0.5}
    >>> round(float(from_circuit(p, 1.0)), 3), float(from_circuit(p, -1.0)) == float(from_circuit(p, 0.0))
    (0.5, True)
    """
    return 1.0 / (1.0 + np.exp(-(np.maximum(z, 0.0) - p["midpoint"]) / p["slope"]))


def monoamine_index(p: dict, m5, mne, mda):
    return (p["w_5ht"] * np.maximum(m5 - 1.0, 0.0) + p["w_ne"] * np.maximum(mne - 1.0, 0.0)
            + p["w_da"] * np.maximum(mda - 1.0, 0.0))


def from_monoamines(p: dict, sev0, x):
    return sev0 * (1.0 - p["max_relief"] * x / (x + p["half_index"]))
