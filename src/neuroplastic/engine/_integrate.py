"""The slow integrator (fast path) and the steady-state solver.

Slow state is integrated on a node grid that holds every output time, every event time and steps of at most
``h_max``; treatment inputs (occupancies, drives) are supplied by the caller at every node and step midpoint, so
events are handled exactly: a dose at t changes the inputs from t on, never inside a step.

Two schemes share the grid:

* ``"etdrk4"`` (default when the model supplies its linear decay rates): the exponential time-differencing RK4 of
  Cox & Matthews (2002) with a diagonal linear part. The model's exact ``-y/tau`` terms (``BrainModel.
  linear_decay``: BDNF protein, early LTP, plasticity-related proteins, tau 1-6 h) are integrated exactly, so steps
  of several hours stay stable and a constant forcing gives the exact relaxation; where the rate is 0 the scheme
  *is* classical RK4. Integrating-factor (Lawson) RK4 was rejected: with a constant forcing and lambda h = 6 it
  overshoots the fixed point by 20 %.
* ``"rk4"``: classical RK4 (the former default at ``h_max`` = 1 h), kept as the accuracy baseline.

:func:`make_grid` refines the steps after every event (dose, infusion start and end, session, pulse edge): the first
step after an event is ``h_after`` and each following step may grow to the time elapsed since the event, up to
``h_max``, never crossing a multiple of ``h_max`` (so outputs every 6 h, day or week share their nodes and numbers);
short pulses keep their 10-minute windows. The grid depends on the scenario only, never on the patients,
so numbers do not depend on how a cohort is chunked.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .._units import HOUR


def make_grid(duration: float, output_every: float, event_times: np.ndarray, h_max: float = HOUR,
              fine_windows=(), h_fine: float = 600.0, out_times=None, h_after: float | None = None,
              extra_stops=()):
    """Node times (s) and the indices of the output times among them.

    With ``h_after`` the steps after every event time start at ``h_after`` and grow (at most doubling) to
    ``h_max``; without it the regular steps are ``h_max`` (or ``output_every`` when that is smaller).
    ``extra_stops`` are times the nodes must include besides the outputs and events (e.g. where each output's
    recall window starts).

    Example
    -------
    >>> nodes, out = make_grid(7200.0, 3600.0, np.array([1800.0]), h_max=3600.0)
    >>> nodes.tolist(), out.tolist()
    ([0.0, 1800.0, 3600.0, 7200.0], [0, 2, 3])
    >>> nodes, out = make_grid(86400.0, 86400.0, np.array([0.0]), h_max=6 * 3600.0, h_after=3600.0, out_times=[0.0, 86400.0])
    >>> (nodes / 3600).tolist()
    [0.0, 1.0, 2.0, 4.0, 6.0, 12.0, 18.0, 24.0]
    """
    if out_times is None:
        n_out = int(np.floor(duration / output_every + 1e-9)) + 1
        out_t = np.arange(n_out) * output_every
    else:
        out_t = np.asarray(out_times, float)
    h = min(h_max, output_every) if out_times is None else h_max
    ev = event_times[(event_times >= 0) & (event_times <= duration)]
    more = np.asarray(extra_stops, float).reshape(-1)
    extra = [np.arange(a, min(b, duration), h_fine) for a, b in fine_windows]  # short sessions: finer steps
    if h_after is None:
        reg = np.arange(0.0, duration + 1e-9, h)
        nodes = np.unique(np.round(np.concatenate([out_t, reg, ev, more, [duration], *extra]), 6))
    else:
        stops = np.unique(np.round(np.concatenate([[0.0], out_t, ev, more, [duration], *extra]), 6))
        stops = stops[(stops >= 0) & (stops <= round(duration, 6))]
        nodes = _ramped(stops, np.unique(np.round(ev, 6)), h, min(h_after, h))
    out_idx = np.searchsorted(nodes, np.round(out_t, 6))
    return nodes, out_idx


def _ramped(stops: np.ndarray, events: np.ndarray, h_max: float, h_after: float) -> np.ndarray:
    """Nodes through every stop; after each event the step starts at h_after and grows to the elapsed time.

    Steps never cross a multiple of ``h_max`` (the lattice): the nodes between two stops do not depend on where
    the other stops are, so outputs on the lattice (every 6 h, every day, every week) are computed on the same
    nodes whichever of them a scenario asks for, and give the same numbers."""
    nodes = [float(stops[0])]
    t = float(stops[0])
    for nxt in stops[1:]:
        nxt = float(nxt)
        while nxt - t > 1e-6:
            k = np.searchsorted(events, round(t, 6), side="right") - 1
            since = t - events[k] if k >= 0 else np.inf
            h = min(h_max, max(h_after, since))
            end = min(nxt, (np.floor(t / h_max + 1e-9) + 1.0) * h_max)   # the next stop or lattice point
            gap = end - t
            if gap <= h * (1 + 1e-9):
                t = end
            else:
                t = t + (gap / np.ceil(gap / h) if gap < 2 * h else h)  # split a short remainder evenly
            t = round(t, 6)
            nodes.append(t)
    return np.asarray(nodes)


def refine(nodes: np.ndarray) -> np.ndarray:
    """Nodes interleaved with their midpoints: fine[2k] = nodes[k], fine[2k+1] = midpoint."""
    fine = np.empty(2 * len(nodes) - 1)
    fine[0::2] = nodes
    fine[1::2] = 0.5 * (nodes[:-1] + nodes[1:])
    return fine


Rhs = Callable[[np.ndarray, dict], np.ndarray]


def _phi(z: np.ndarray):
    """phi_1, phi_2, phi_3 of z (elementwise), accurate also near 0 (Taylor series there)."""
    z = np.asarray(z, float)
    small = np.abs(z) < 0.5
    zs = np.where(small, z, 0.0)
    out = []
    for k in (1, 2, 3):
        # series: sum_j z^j / (j + k)!
        term = np.full_like(zs, 1.0 / np.prod(np.arange(1, k + 1)))
        s = term.copy()
        for j in range(1, 20):
            term = term * zs / (j + k)
            s = s + term
        out.append(s)
    zb = np.where(small, 1.0, z)
    e = np.exp(zb)
    p1 = (e - 1.0) / zb
    p2 = (e - 1.0 - zb) / zb ** 2
    p3 = (e - 1.0 - zb - 0.5 * zb ** 2) / zb ** 3
    return tuple(np.where(small, s, p) for s, p in zip(out, (p1, p2, p3)))


class _EtdCoefficients:
    """Cox-Matthews ETDRK4 weights for dy/dt = -lam y + N(y, t), per step length (cached)."""

    def __init__(self, lam: np.ndarray):
        self.lam = np.asarray(lam, float)
        self._cache: dict = {}

    def __call__(self, h: float):
        key = float(h)  # the exact step: a rounded key would hand one step the weights of a slightly different one,
        hit = self._cache.get(key)  # and which one came first depends on the other patients of the chunk
        if hit is None:
            z = -self.lam * h
            p1h, _, _ = _phi(0.5 * z)
            p1, p2, p3 = _phi(z)
            hit = (np.exp(0.5 * z), 0.5 * h * p1h, np.exp(z),
                   h * (p1 - 3.0 * p2 + 4.0 * p3), 2.0 * h * (p2 - 2.0 * p3), h * (4.0 * p3 - p2))
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = hit
        return hit


def _quadratic(a, m, b, s: float):
    """Input channels at fraction s of a step from their values at its start, midpoint and end (exact when the
    three agree, as on a pulse)."""
    out = {}
    for k, va in a.items():
        vm, vb = m[k], b[k]
        if vm is va and vb is va:   # one array for the whole step (a resting channel, a per-patient parameter)
            out[k] = va
            continue
        dm, db = vm - va, vb - va
        out[k] = va + s * (4.0 * dm - db) + (2.0 * s * s) * (db - 2.0 * dm)
    return out


def _take(inp: dict, idx: np.ndarray) -> dict:
    return {k: (v[idx] if np.ndim(v) else v) for k, v in inp.items()}


def _take_step(a: dict, m: dict, b: dict, idx) -> tuple[dict, dict, dict]:
    """:func:`_take` of a step's start, midpoint and end inputs; an array the three share (a resting channel, a
    per-patient parameter) is taken once, so the sub-steps still see one array (:func:`_quadratic` passes it
    through, and the model's per-patient parameter groups are built once per sub-step subset)."""
    done: dict[int, np.ndarray] = {}

    def take(v):
        if not np.ndim(v):
            return v
        hit = done.get(id(v))   # the dicts hold every v for the duration of this call: ids are not reused
        if hit is None:
            hit = done[id(v)] = v[idx]
        return hit

    return tuple({k: take(v) for k, v in d.items()} for d in (a, m, b))


def _etd_step(N, coef, y, h, a, m, b):
    """One ETDRK4 step; returns the new state and the four stage values (n1, na, nb, nc)."""
    e2, a2, e1, b1, b2, b3 = coef(h)
    ey = e2 * y
    n1 = N(y, a)
    ya = ey + a2 * n1
    na = N(ya, m)
    nb = N(ey + a2 * na, m)
    nc = N(e2 * ya + a2 * (2.0 * nb - n1), b)
    return e1 * y + b1 * n1 + b2 * (na + nb) + b3 * nc, (n1, na, nb, nc)


SUBSTEPS = (2, 4, 8, 16, 32)


def _substeps(N, coef, y, h, a, m, b, idx, counts):
    """The step of patients ``idx`` redone in ``counts[i]`` equal sub-steps each (inputs interpolated quadratically
    through the step's start, midpoint and end values); returns their states at the step's end.

    Patients with different sub-step counts advance together: at the s-th sub-step every patient that still has
    one takes it, with its own step length (per-patient ETDRK4 weights), so a step where some patients need 2
    sub-steps and others 32 costs 32 right-hand-side rounds, not 2 + 32. Each patient's numbers are exactly those
    of its own sub-steps taken alone (the arithmetic is elementwise per patient).
    """
    order = np.argsort(-counts, kind="stable")     # most sub-steps first: the patients still going are a prefix
    idx, counts = idx[order], counts[order]
    ys = np.asfortranarray(y[idx])
    ia, im, ib = _take_step(a, m, b, idx)
    levels, first = np.unique(counts, return_inverse=True)
    weights = [np.stack(w)[first] for w in zip(*(coef(h / int(c)) for c in levels))]   # (P_sub, n) each
    weights = [np.asfortranarray(w) for w in weights]
    for s in range(int(counts[0])):
        n_go = int(np.count_nonzero(counts > s))
        go = slice(0, n_go)
        s0, s1 = s / counts[go], (s + 1) / counts[go]
        w = tuple(x[go] for x in weights)
        ua, um, ub = _take_step(ia, im, ib, go)
        ys[go], _ = _etd_step(N, lambda _h, w=w: w, ys[go], None, _quadratic(ua, um, ub, s0),
                              _quadratic(ua, um, ub, 0.5 * (s0 + s1)), _quadratic(ua, um, ub, s1))
    out = np.empty_like(ys)
    out[order] = ys
    return out


def integrate(rhs: Rhs, y0: np.ndarray, nodes: np.ndarray, inputs: Callable[[int], dict],
              episodes: Callable[[int, np.ndarray], np.ndarray] | None = None,
              progress: Callable[[int, int], None] | None = None, *, linear: np.ndarray | None = None,
              store=None, method: str | None = None, tol: float | None = 3e-3) -> np.ndarray:
    """Integrate over ``nodes``; ``inputs(j, side)`` gives the input channels at fine index j (2k = node k, 2k+1 =
    midpoint) just before (``side="left"``) or just after (``"right"``) that time, asked for in increasing j (so
    the caller may compute them on the fly). A step ending at an event uses the values just before it.

    ``episodes(k, y)`` may return a modified state at node k (a session applied at that instant). ``linear`` holds
    the rates (1/s) of the exact linear decay ``-linear * y`` contained in ``rhs`` (exponential integrator, the
    default when given); ``method="rk4"`` forces classical RK4. Returns the state at the node indices ``store``
    (default: every node), shape (len(store), P, n).

    Error control (ETDRK4): per patient, the change of the non-linear part across a step,
    ``h max|N_a - N_b| / max(1, |y|)`` over the variables (the two midpoint stages; mixed absolute/relative:
    absolute for a variable at or below its healthy scale of 1, relative above it, so a synthesis rate driven to
    50x healthy is not held to the absolute error of a fraction), is compared with ``tol``; a patient above it
    redoes the step in 2-32 equal sub-steps (inputs interpolated quadratically through the start, midpoint and end
    values), so fast state-driven events (a consolidation trigger switching off hours after a session) are resolved
    where they happen and only for whom they happen. Each patient's decision uses only its own numbers, so results
    do not depend on chunking.
    """
    T = len(nodes)
    store = np.arange(T) if store is None else np.asarray(store, int)
    slot: dict[int, list[int]] = {}
    for i, k in enumerate(store.tolist()):
        slot.setdefault(k, []).append(i)
    method = method or ("etdrk4" if linear is not None and np.any(np.asarray(linear) != 0) else "rk4")
    if method not in ("rk4", "etdrk4"):
        raise ValueError(f"unknown method {method!r}")
    P, n = y0.shape
    out = np.empty((len(store), P, n))
    # state as an (n, P) buffer seen as (P, n): each variable's column is contiguous (about 2.5x faster rhs)
    y = np.asfortranarray(y0, dtype=float).copy(order="F")
    lam = np.zeros(n) if linear is None else np.asarray(linear, float)
    coef = _EtdCoefficients(lam)
    stats = {"steps": 0, "substeps": 0}

    def N(z, u):  # the non-linear remainder: rhs + lam y
        f = rhs(z, u)
        f += lam * z
        return f

    for k in range(T):
        if episodes is not None:
            y2 = episodes(k, y)
            if y2 is not y:
                y = np.asfortranarray(y2)
        for i in slot.get(k, ()):
            out[i] = y
        if k == T - 1:
            break
        h = nodes[k + 1] - nodes[k]
        # inputs are right-continuous: a step ending at an event (a dose, a session start) sees the values just
        # before it at its end, and the next step starts from the values just after it
        a = inputs(0, "right") if k == 0 else a_next
        m, b, a_next = inputs(2 * k + 1, "right"), inputs(2 * k + 2, "left"), inputs(2 * k + 2, "right")
        if method == "rk4":
            k1 = rhs(y, a)
            k2 = rhs(y + 0.5 * h * k1, m)
            k3 = rhs(y + 0.5 * h * k2, m)
            k4 = rhs(y + h * k3, b)
            y = y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        else:
            y_new, (n1, na, nb, nc) = _etd_step(N, coef, y, h, a, m, b)
            stats["steps"] += P
            if tol is not None:
                err = h * np.max(np.abs(na - nb) / np.maximum(1.0, np.abs(y)), axis=1)
                # NaN counts as bad, except for a patient whose state is already not finite: no sub-step can
                # mend it (its numbers stay NaN and are reported as such), and refining it at every remaining
                # step would stall the whole chunk, or a batch of candidate parameter sets, on one patient
                bad = ~(err <= tol) & np.isfinite(y).all(axis=1)
                if bad.any():
                    idx = np.flatnonzero(bad)
                    ratio = np.nan_to_num(err[idx] / tol, nan=np.inf, posinf=np.inf)
                    need = np.cbrt(np.minimum(ratio, 1e12))  # the indicator falls like (h/m)^3
                    level = np.searchsorted(np.array(SUBSTEPS, float), need)  # smallest m >= need
                    level = np.minimum(level, len(SUBSTEPS) - 1)
                    counts = np.asarray(SUBSTEPS)[level]
                    y_new[idx] = _substeps(N, coef, y, h, a, m, b, idx, counts)
                    stats["substeps"] += int(counts.sum())
            y = y_new
        if progress is not None and k % 256 == 0:
            progress(k, T)
    integrate.last_stats = stats
    return out


def _rk4_relax(f, z, inp, h, steps, tol):
    """Pseudo-time RK4 on the scaled system; patients whose scaled derivative falls below tol stop moving."""
    done = np.zeros(len(z), bool)
    idx = np.arange(len(z))
    for _ in range(steps):
        if len(idx) == 0:
            break
        zz = np.asfortranarray(z[idx])
        ii = _take(inp, idx)
        k1 = f(zz, ii)
        ok = np.max(np.abs(k1), axis=1) < tol
        k2 = f(zz + 0.5 * h * k1, ii)
        k3 = f(zz + 0.5 * h * k2, ii)
        k4 = f(zz + h * k3, ii)
        z[idx] = np.where(ok[:, None], zz, zz + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4))
        done[idx[ok]] = True
        idx = idx[~ok]
    return z, done


def steady_state(rhs: Rhs, y0: np.ndarray, inputs: dict, timescales: np.ndarray, *, steps: int = 400,
                 tol: float = 1e-9, relax: int = 16, newton: int = 12) -> np.ndarray:
    """Steady state of dy/dt = rhs(y, inputs) under constant inputs, each patient on its own.

    Each variable's derivative is rescaled by its own time scale (which leaves the fixed point unchanged). A few
    pseudo-time RK4 steps (``relax``) bring every patient near its fixed point, then Newton's method with a
    forward-difference Jacobian (per patient, batched; a backtracking step keeps the residual falling) converges
    to max |rhs * timescale| < ``tol``. Variables whose derivative is identically zero (held traits, masked
    states) keep their values. Patients Newton cannot finish continue the pseudo-time relaxation for up to
    ``steps`` steps. Each patient's iterations use only its own numbers, so chunking cannot matter.
    """
    scale = timescales[None, :]
    f = lambda z, inp: np.asarray(rhs(z, inp)) * scale
    y = np.array(y0, dtype=float, order="F")
    n = y.shape[1]
    inp_all = {k: (np.asarray(v) if np.ndim(v) else v) for k, v in inputs.items()}
    y, done = _rk4_relax(f, y, inp_all, 0.5, relax, tol)
    idx = np.flatnonzero(~done)
    for _ in range(newton):
        if len(idx) == 0:
            break
        z = np.asfortranarray(y[idx])
        inp = _take(inp_all, idx)
        g = f(z, inp)
        res = np.max(np.abs(g), axis=1)
        ok = res < tol
        if ok.any():
            idx, z, g, res = idx[~ok], np.asfortranarray(z[~ok]), g[~ok], res[~ok]
            inp = _take(inp_all, idx)
            if len(idx) == 0:
                break
        J = np.empty((len(idx), n, n))
        for j in range(n):
            eps = 1e-7 * np.maximum(1.0, np.abs(z[:, j]))
            zp = z.copy(order="F")
            zp[:, j] += eps
            J[:, :, j] = (f(zp, inp) - g) / eps[:, None]
        static = ~np.any(J != 0.0, axis=2) & (g == 0.0)  # no derivative at all: a held value
        rows, cols = np.nonzero(static)
        J[rows, cols, cols] = 1.0
        try:
            delta = np.linalg.solve(J, -g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            delta = np.zeros_like(g)
            for p in range(len(idx)):
                try:
                    delta[p] = np.linalg.solve(J[p], -g[p])
                except np.linalg.LinAlgError:
                    pass
        delta[~np.isfinite(delta)] = 0.0
        step = np.ones(len(idx))
        z_new = z + delta
        for _ in range(6):  # backtrack where the residual would grow
            r_new = np.max(np.abs(f(np.asfortranarray(z_new), inp)), axis=1)
            bad = ~(r_new < res) & (r_new >= tol)
            if not bad.any():
                break
            step[bad] *= 0.5
            z_new = z + step[:, None] * delta
        y[idx] = z_new
    # anything left (Newton stalled): the pseudo-time relaxation, as long as it takes
    rest = ~(np.max(np.abs(f(y, inp_all)), axis=1) < tol)
    if rest.any():
        left = np.flatnonzero(rest)
        z, _ = _rk4_relax(f, np.asfortranarray(y[left]), _take(inp_all, left), 0.5, steps, tol)
        y[left] = z
    return np.ascontiguousarray(y)
