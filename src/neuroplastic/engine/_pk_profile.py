"""Drive the PK system through the event calendar on the engine's fine grid (nodes and midpoints)."""

from __future__ import annotations

import numpy as np

from ..pharmacology import PKSystem


class PKStream:
    """Compartment amounts at fine[0], fine[1], ... computed one time at a time (memory: one state).

    Every dose is applied exactly at its time (right-continuous); between fine times the system is propagated by
    :meth:`PKSystem.step` (exact for linear systems) with the infusion rates running on that interval.
    """

    def __init__(self, system: PKSystem, doses, fine: np.ndarray):
        self.system, self.fine = system, fine
        self.key = np.round(fine, 6)
        self.boluses: dict[float, list] = {}
        self.infusions = []
        for d in doses:
            idx, frac, _ = system.depots[(d.drug, d.route)]
            if d.duration > 0:
                self.infusions.append((round(d.time, 6), round(d.time + d.duration, 6), idx, d.amount * frac / d.duration))
            else:
                self.boluses.setdefault(round(d.time, 6), []).append((idx, d.amount * frac))
        self.j = 0
        self.left = system.initial_state()
        self.x = self._with_boluses(self.left)

    def _with_boluses(self, x):
        """The amounts just after the fine time self.j: its boluses added (the same array when there are none)."""
        b = self.boluses.get(self.key[self.j], ())
        if not b:
            return x
        x = x.copy()
        for idx, amt in b:
            x[:, idx] += amt
        return x

    def advance(self) -> np.ndarray:
        """Move to the next fine time; returns the amounts there, doses at that time included (P, n).
        ``self.left`` holds the amounts just before them."""
        j, s = self.j, self.system
        t = self.key[j]
        u = None
        for a, b, idx, rate in self.infusions:
            if a <= t < b:
                if u is None:
                    u = np.zeros((s.n_patients, s.n))
                u[:, idx] += rate
        self.left = s.step(self.x, self.fine[j + 1] - self.fine[j], u)
        self.j = j + 1
        self.x = self._with_boluses(self.left)
        return self.x

