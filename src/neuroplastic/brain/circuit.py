"""The mood-regulating circuit in quasi-steady state (rate / Wilson-Cowan reduction).

Regions: dlPFC (d), sgACC (s), hippocampus/dentate (h), reward node (ventral striatum/VTA target, r). Rates are
r = r_max / (1 + exp(-x)); x0 = -ln 3 puts every region at a quarter of r_max in the healthy state, where
every relative term below vanishes. With sat(v) = v / (1 + |v|/v_sat) for monoamine effects:

    x_h = x0 + b_h - c_h stress + w_N (N_young - 1)          N_young: 3-8 week-old adult-born neurons
    x_r = x0 + b_r - c_r stress + w_DA sat(DA - 1) + w_Sr (spines - 1) + u_r     u_r reward exposure, expectancy
    x_s = x0 + sigma_s (b_s + c_s stress) - w_c (W a_d/r_q - 1) - w_hs (a_h/r_q - 1) - w_5 sat(5HT - 1) - theta_s
    x_d = x0 + b_d - w_b (a_s/r_q - 1) + w_hd (a_h/r_q - 1) + w_NE sat(NE - 1) + u_d + w_G G - theta_d

W = spines (1 + h + z) is the efficacy of dlPFC -> sgACC control (structural x synaptic), sigma_s homeostatic
scaling, theta intrinsic thresholds, u_d external dlPFC drive (stimulation, therapy), G the glutamate burst.
The d-s pair (Mayberg reciprocity, Ramirez-Mahaluf 2017) is solved by Newton's method on the sgACC rate.
"""

from __future__ import annotations

import numpy as np

X0 = -np.log(3.0)


def _rate(x, rmax):
    return rmax / (1.0 + np.exp(-x))


def sat(v, vs):
    return v / (1.0 + np.abs(v) / vs)


def solve(p: dict, *, m5, mne, mda, spines, efficacy, n_mature, stress, sigma_s, theta_d, theta_s, u_d, burst,
          u_r=0.0, iterations: int = 5):
    """Regional rates (Hz): dlPFC, sgACC, hippocampus, reward.

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> p = default_parameters().group("brain.circuit")
    >>> one = np.ones(1); zero = np.zeros(1)
    >>> r = solve(p, m5=one, mne=one, mda=one, spines=one, efficacy=one, n_mature=one, stress=zero,
    ...           sigma_s=one, theta_d=zero, theta_s=zero, u_d=zero, burst=zero)
    >>> [round(float(v[0]), 6) for v in r]
    [5.0, 5.0, 5.0, 5.0]
    """
    rmax = p["rate_max"]
    rq = rmax / 4.0
    vs = p["monoamine_saturation"]
    a_h = _rate(X0 + p["bias_hipp"] - p["stress_hipp"] * stress + p["w_neurogenesis"] * (n_mature - 1.0), rmax)
    a_r = _rate(X0 + p["bias_reward"] - p["stress_reward"] * stress + p["w_da_reward"] * sat(mda - 1.0, vs)
                + p["w_spines_reward"] * (spines - 1.0) + u_r, rmax)
    hs = a_h / rq - 1.0
    xs_fixed = (X0 + sigma_s * (p["bias_sgacc"] + p["stress_sgacc"] * stress) - p["w_hipp_sgacc"] * hs
                - p["w_5ht_sgacc"] * sat(m5 - 1.0, vs) - theta_s + p["w_control"])
    xd_fixed = X0 + p["bias_dlpfc"] + p["w_hipp_dlpfc"] * hs + p["w_ne_dlpfc"] * sat(mne - 1.0, vs) + u_d + p["w_burst_dlpfc"] * burst - theta_d + p["w_back"]
    wc = p["w_control"] * efficacy / rq
    wb = p["w_back"] / rq
    # Newton on g(a_s) = a_s - R(xs - wc R(xd - wb a_s)); g' = 1 - wc wb R'(u) R'(v) > 0 for the contractive loop
    a_s = _rate(xs_fixed - wc * _rate(xd_fixed - wb * rq, rmax), rmax)
    for _ in range(iterations):
        a_d = _rate(xd_fixed - wb * a_s, rmax)
        r_s = _rate(xs_fixed - wc * a_d, rmax)
        dd = a_d * (1.0 - a_d / rmax)
        ds = r_s * (1.0 - r_s / rmax)
        a_s = np.minimum(np.maximum(a_s - (a_s - r_s) / (1.0 - wc * wb * dd * ds), 0.0), rmax)   # clip, without np.clip's call overhead
    a_d = _rate(xd_fixed - wb * a_s, rmax)
    return a_d, a_s, a_h, a_r
