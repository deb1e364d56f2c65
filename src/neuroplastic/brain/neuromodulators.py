"""Monoaminergic nuclei: firing, extracellular transmitter and autoreceptor feedback (quasi-steady state).

For each system (dorsal raphe/5-HT with SERT and 5-HT1A; locus coeruleus/NE with NET and alpha2; VTA/DA with
DAT and D2) with transporter occupancy u, autoreceptor sensitivity A and external drive D:

    S = a(u) f,          a(u) = (S0/f0) (1 + eps) / ((1 - u) + eps)      release ~ firing, clearance by transporter
    o = S / (S + K),     K = S0 (1 - o0) / o0                             autoreceptor occupancy
    f (1 + g A o) = f0 (1 + g o0) D                                       autoreceptor feedback on firing

which is a quadratic in f solved in closed form. At baseline (u = 0, A = 1, D = 1) f = f0 and S = S0.
"""

from __future__ import annotations

import numpy as np

SYSTEMS = {  # transmitter -> (nucleus parameter group, transporter input channel, drive channel)
    "5ht": ("raphe", "sert_occupancy", "raphe_drive"),
    "ne": ("lc", "net_occupancy", "lc_drive"),
    "da": ("vta", "dat_occupancy", "vta_drive"),
}


def nucleus(p: dict, occ, A, drive):
    """Firing (Hz), extracellular level (SI mol/m^3) and autoreceptor occupancy of one nucleus.

    Example
    -------
    >>> p = {"f0": 1.2, "level0": 2e-6, "autoreceptor_occ0": 0.2, "autoreceptor_gain": 10.0,
    ...      "nontransporter_clearance": 0.1}
    >>> f, s, o = nucleus(p, np.array([0.0]), np.array([1.0]), np.array([1.0]))
    >>> round(float(f[0]), 6), round(float(o[0]), 6)
    (1.2, 0.2)
    """
    f0, s0, o0, g, eps = p["f0"], p["level0"], p["autoreceptor_occ0"], p["autoreceptor_gain"], p["nontransporter_clearance"]
    a = (s0 / f0) * (1.0 + eps) / ((1.0 - np.minimum(np.maximum(occ, 0.0), 0.999)) + eps)
    K = s0 * (1.0 - o0) / o0
    F = f0 * (1.0 + g * o0) * drive
    alpha = a * (1.0 + g * A)
    beta = K - F * a
    gamma = -F * K
    f = (-beta + np.sqrt(beta * beta - 4.0 * alpha * gamma)) / (2.0 * alpha)
    s = a * f
    return f, s, s / (s + K)
