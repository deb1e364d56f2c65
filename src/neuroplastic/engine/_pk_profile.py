"""Drive the PK system through the event calendar on the engine's fine grid (nodes and midpoints)."""

from __future__ import annotations

import numpy as np

from ..pharmacology import PKSystem


def pk_profile(system: PKSystem, doses, fine: np.ndarray) -> np.ndarray:
    """Compartment amounts (len(fine), P, n) with every dose applied exactly at its time (right-continuous)."""
    P, n = system.n_patients, system.n
    out = np.empty((len(fine), P, n))
    x = system.initial_state()
    key = np.round(fine, 6)
    boluses: dict[float, list] = {}
    infusions = []
    for d in doses:
        idx, frac, _ = system.depots[(d.drug, d.route)]
        if d.duration > 0:
            infusions.append((round(d.time, 6), round(d.time + d.duration, 6), idx, d.amount * frac / d.duration))
        else:
            boluses.setdefault(round(d.time, 6), []).append((idx, d.amount * frac))
    for j, t in enumerate(key):
        for idx, amt in boluses.get(t, ()):
            x[:, idx] += amt
        out[j] = x
        if j == len(fine) - 1:
            break
        u = None
        for a, b, idx, rate in infusions:
            if a <= t < b:
                if u is None:
                    u = np.zeros((P, n))
                u[:, idx] += rate
        x = system.step(x, fine[j + 1] - fine[j], u)
    return out
