"""The slow integrator (fast path) and the steady-state solver.

Slow state is integrated with classical RK4 on a node grid that holds every output time, every event time and
regular steps of at most ``h_max``; treatment inputs (occupancies, drives) are supplied by the caller at every
node and step midpoint, so events are handled exactly: a dose at t changes the inputs from t on, never inside a
step.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .._units import HOUR


def make_grid(duration: float, output_every: float, event_times: np.ndarray, h_max: float = HOUR,
              fine_windows=(), h_fine: float = 600.0, out_times=None):
    """Node times (s) and the indices of the output times among them.

    Example
    -------
    >>> nodes, out = make_grid(7200.0, 3600.0, np.array([1800.0]), h_max=3600.0)
    >>> nodes.tolist(), out.tolist()
    ([0.0, 1800.0, 3600.0, 7200.0], [0, 2, 3])
    """
    if out_times is None:
        n_out = int(np.floor(duration / output_every + 1e-9)) + 1
        out_t = np.arange(n_out) * output_every
    else:
        out_t = np.asarray(out_times, float)
    h = min(h_max, output_every) if out_times is None else h_max
    reg = np.arange(0.0, duration + 1e-9, h)
    ev = event_times[(event_times >= 0) & (event_times <= duration)]
    extra = [np.arange(a, min(b, duration), h_fine) for a, b in fine_windows]  # short sessions: finer steps
    nodes = np.unique(np.round(np.concatenate([out_t, reg, ev, [duration], *extra]), 6))
    out_idx = np.searchsorted(nodes, np.round(out_t, 6))
    return nodes, out_idx


def refine(nodes: np.ndarray) -> np.ndarray:
    """Nodes interleaved with their midpoints: fine[2k] = nodes[k], fine[2k+1] = midpoint."""
    fine = np.empty(2 * len(nodes) - 1)
    fine[0::2] = nodes
    fine[1::2] = 0.5 * (nodes[:-1] + nodes[1:])
    return fine


Rhs = Callable[[np.ndarray, dict], np.ndarray]


def integrate(rhs: Rhs, y0: np.ndarray, nodes: np.ndarray, inputs: Callable[[int], dict],
              episodes: Callable[[int, np.ndarray], np.ndarray] | None = None,
              progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """RK4 over ``nodes``; ``inputs(j)`` gives the input channels at fine index j (2k = node k, 2k+1 = midpoint).

    ``episodes(k, y)`` may return a modified state at node k (a session applied at that instant).
    Returns the state at every node, shape (len(nodes), P, n).
    """
    T = len(nodes)
    out = np.empty((T,) + y0.shape)
    y = y0.copy()
    for k in range(T):
        if episodes is not None:
            y = episodes(k, y)
        out[k] = y
        if k == T - 1:
            break
        h = nodes[k + 1] - nodes[k]
        a, m, b = inputs(2 * k), inputs(2 * k + 1), inputs(2 * k + 2)
        k1 = rhs(y, a)
        k2 = rhs(y + 0.5 * h * k1, m)
        k3 = rhs(y + 0.5 * h * k2, m)
        k4 = rhs(y + h * k3, b)
        y = y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        if progress is not None and k % 256 == 0:
            progress(k, T)
    return out


def steady_state(rhs: Rhs, y0: np.ndarray, inputs: dict, timescales: np.ndarray, *, steps: int = 400,
                 tol: float = 1e-9) -> np.ndarray:
    """Steady state of dy/dt = rhs(y, inputs) under constant inputs.

    Each variable's derivative is rescaled by its own time scale (which leaves the fixed point unchanged), so a
    pseudo-time RK4 with unit step relaxes slow and fast variables alike.
    """
    scale = timescales[None, :]
    y = y0.copy()
    h = 0.5
    f = lambda z, inp: rhs(z, inp) * scale
    active = np.ones(len(y), bool)
    for _ in range(steps):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        z = y[idx]
        inp = {k: (v[idx] if np.ndim(v) else v) for k, v in inputs.items()}
        k1 = f(z, inp)
        done = np.max(np.abs(k1), axis=1) < tol  # each patient converges on its own: chunking cannot matter
        k2 = f(z + 0.5 * h * k1, inp)
        k3 = f(z + 0.5 * h * k2, inp)
        k4 = f(z + h * k3, inp)
        z_new = z + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        y[idx] = np.where(done[:, None], z, z_new)
        active[idx[done]] = False
    return y
