"""Calcium-based synaptic plasticity on the millisecond scale (Graupner & Brunel 2012), with metaplasticity.

Model (per synapse; SI units)
-----------------------------
Calcium ``c`` is a sum of exponentials: each stimulation pulse k at ``t_k`` evokes a postsynaptic spike
(jump ``q C_post G_k`` at ``t_k``) and a presynaptic spike (jump ``a C_pre G_k`` at ``t_k + D``); between
jumps ``c`` decays with ``tau_Ca``. ``a`` and ``q`` scale the jumps by the recruitment of the synapse's
pre- and postsynaptic neurons (the expected spike count per pulse). The efficacy variable obeys

    tau drho/dt = -rho (1 - rho)(rho* - rho) + gamma_p (1 - rho) H(c - theta_p) - gamma_d rho H(c - theta_d)

(noise off), and the weight is ``w = 1 + (b - 1) rho`` (in units of the DOWN-state weight).

Metaplasticity (what makes the sign depend on the pattern and the length of a session):

* NMDA facilitation ``G_k = 1 + g_F F(t_k)``: ``F`` jumps by 1 after each pulse and decays with
  ``tau_F`` (~ the NMDA EPSP), so pulses < ~0.3 s apart evoke more calcium (trains >= 5-10 Hz and theta
  bursts potentiate, 1 Hz depresses: Chen 1997; Pascual-Leone 1994).
* A sliding potentiation threshold (BCM-like; Bienenstock 1982; Huang 2011 Clin Neurophysiol 122:1011;
  Fung & Robinson 2013): ``theta_p = theta_p0 (1 + k m^2 exp(-(l/l0)^2))``. ``m`` is the running fraction of
  time calcium spends above ``theta_d`` over ``tau_m`` (seconds): ``dm/dt = (H(c - theta_d) - m)/tau_m``;
  ``l`` is the slow running mean of ``m^2`` over ``tau_l`` (minutes): ``dl/dt = (m^2 - l)/tau_l``. Dense,
  continuous stimulation (cTBS) raises ``m`` and with it the threshold within seconds, turning bursts
  depressive, while intermittent bursts (iTBS) let ``m`` relax and potentiate. Over a long continuous
  session ``l`` grows and the ``exp(-(l/l0)^2)`` factor fades the threshold rise (the metaplastic
  mechanism itself adapts), so a doubled cTBS session turns facilitatory (Gamboa 2010). The doubled iTBS
  session (1,200 pulses) does not reverse in this rule; only cTBS length reversal is reproduced.
  The threshold used in an inter-event interval is the one held at the start of that interval (``m`` and
  ``l`` move by < 1e-4 relative within the ~30 ms that calcium stays above threshold).

Exact, event-driven integration
-------------------------------
Between two calcium jumps ``c = c0 exp(-s/tau_Ca)`` so the times above ``theta_p`` and ``theta_d`` are
``tau_Ca ln(c0/theta)`` -- the interval splits into at most three pieces with constant drive. Without the
cubic term rho is linear in each piece and is advanced exactly,
``rho -> rho_bar + (rho - rho_bar) exp(-lambda h)``; ``m`` and ``l`` are advanced exactly as well. The
slow cubic term (rate <= 0.1/tau ~ 3e-4 /s) is added by Strang splitting around each exact linear step,
with midpoint steps inside the (ms) suprathreshold pieces and RK4 sub-steps of <= 10 s in the quiet
pieces. Splitting and RK errors are below 1e-6 in rho over a 3,000-pulse session; the tests compare with a
fixed-step (5 us) reference integration and agree within 1e-3 (the reference's own threshold-crossing error
dominates).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ScenarioError
from ..params import ParameterSet, default_parameters


@dataclass(frozen=True)
class CalciumRule:
    """Parameters of the calcium rule in SI units (see module docstring).

    Example
    -------
    >>> r = CalciumRule.from_params()
    >>> round(r.tau_ca * 1e3, 2), r.theta_p
    (22.69, 1.3)
    """

    tau_ca: float
    c_pre: float
    c_post: float
    theta_d: float
    theta_p: float
    gamma_d: float
    gamma_p: float
    tau: float
    delay: float
    b: float
    rho_star: float = 0.5
    fac_tau: float = 0.15
    fac_gain: float = 0.0
    meta_fast_tau: float = 10.0
    meta_fast_gain: float = 0.0
    meta_slow_tau: float = 600.0
    meta_slow_scale: float = 0.04
    bistable: bool = True

    @classmethod
    def from_params(cls, params: ParameterSet | None = None, *, metaplasticity: bool = True,
                    bistable: bool = True) -> "CalciumRule":
        """Build from the registry (``plasticity.calcium.*``); ``metaplasticity=False`` gives plain GB 2012.

        Example
        -------
        >>> CalciumRule.from_params(metaplasticity=False).fac_gain
        0.0
        """
        g = (params or default_parameters()).group("plasticity.calcium")
        rule = cls(tau_ca=g["tau_ca"], c_pre=g["c_pre"], c_post=g["c_post"], theta_d=g["theta_d"],
                   theta_p=g["theta_p"], gamma_d=g["gamma_d"], gamma_p=g["gamma_p"], tau=g["tau"],
                   delay=g["delay"], b=g["b"], rho_star=g["rho_star"], fac_tau=g["facilitation_tau"],
                   fac_gain=g["facilitation_gain"], meta_fast_tau=g["meta_fast_tau"],
                   meta_fast_gain=g["meta_fast_gain"], meta_slow_tau=g["meta_slow_tau"],
                   meta_slow_scale=g["meta_slow_scale"], bistable=bistable)
        if not metaplasticity:
            rule = replace(rule, fac_gain=0.0, meta_fast_gain=0.0)
        return rule

    def weight(self, rho):
        """Synaptic weight ``1 + (b - 1) rho`` (DOWN-state units)."""
        return 1.0 + (self.b - 1.0) * np.asarray(rho, float)


@dataclass(frozen=True, eq=False)
class SessionState:
    """End-of-session state per synapse: ``rho``, the threshold traces ``m``, ``l`` and the end time (s)."""

    rho: np.ndarray
    m: np.ndarray
    l: np.ndarray
    t_end: float


def _theta_p(m, l, rule):
    """Sliding potentiation threshold: theta_p0 (1 + k m^2 exp(-(l/l0)^2))."""
    return rule.theta_p * (1.0 + rule.meta_fast_gain * m * m * np.exp(-((l / rule.meta_slow_scale) ** 2)))


def _cubic(rho, rule):
    return -rho * (1.0 - rho) * (rule.rho_star - rho) / rule.tau


def _cubic_mid(rho, h, rule):
    k1 = _cubic(rho, rule)
    return rho + h * _cubic(rho + 0.5 * h * k1, rule)


def _cubic_rk4(rho, h, rule, h_max=10.0):
    """RK4 over h in n = ceil(h / h_max) equal steps, n per synapse: each synapse's result depends only on its own
    numbers (not on the other synapses of the call)."""
    h = np.broadcast_to(np.asarray(h, float), np.shape(rho))
    n = np.maximum(1, np.ceil(h / h_max)).astype(int)
    dt = h / n
    for j in range(int(np.max(n, initial=1))):
        step = dt if j == 0 or n.min(initial=1) > j else np.where(n > j, dt, 0.0)
        k1 = _cubic(rho, rule)
        k2 = _cubic(rho + 0.5 * step * k1, rule)
        k3 = _cubic(rho + 0.5 * step * k2, rule)
        k4 = _cubic(rho + step * k3, rule)
        rho = rho + step / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return rho


def _advance_slow(l, m0, target, h, tm, tl, em=None, el=None):
    """Exact step of dl/dt = (m^2 - l)/tl over h while m relaxes to ``target`` (0 or 1) with tm. ``em`` =
    exp(-h/tm) and ``el`` = exp(-h/tl) may be passed when the caller has them (the event loop reuses them)."""
    A, B = target, m0 - target
    rl, rm = 1.0 / tl, 1.0 / tm
    el = np.exp(-h * rl) if el is None else el
    em = np.exp(-h * rm) if em is None else em

    def phi(e_x, rx):   # (exp(-h rx) - exp(-h rl)) / (rl - rx), its limit h exp(-h rl) when rx == rl
        d = rl - rx
        return h * el if abs(d) < 1e-12 * max(rl, rx, 1e-300) else (e_x - el) / d

    out = l * el + A * A * (1.0 - el)
    out = out + rl * (2 * A * B * phi(em, rm) + B * B * phi(em * em, 2 * rm))
    return np.maximum(out, 0.0)   # a mean of m^2: never negative (the exact sum can round to -1e-17)


def facilitation_gains(pulse_times, rule: CalciumRule) -> np.ndarray:
    """NMDA facilitation factor ``G_k = 1 + g_F F(t_k^-)`` for each pulse.

    Example
    -------
    >>> r = CalciumRule.from_params()
    >>> g = facilitation_gains([0.0, 0.1, 1.1], r)
    >>> bool(g[0] == 1.0 and g[1] > 1.4 and g[2] < 1.01)
    True
    """
    t = np.asarray(pulse_times, float)
    F = np.zeros(len(t))
    for k in range(1, len(t)):  # one scalar pass over pulses: cheap
        F[k] = (F[k - 1] + 1.0) * np.exp(-(t[k] - t[k - 1]) / rule.fac_tau)
    return 1.0 + rule.fac_gain * F


def _events(pulse_times, rule):
    t = np.asarray(pulse_times, float)
    if t.ndim != 1 or len(t) == 0 or np.any(np.diff(t) < 0) or not np.all(np.isfinite(t)):
        raise ScenarioError("pulse_times", f"array of {t.size} values", "a non-empty, sorted 1-D array of times in s")
    F = np.zeros(len(t))   # facilitation trace just before each pulse (G_k = 1 + g_F F_k)
    for k in range(1, len(t)):
        F[k] = (F[k - 1] + 1.0) * np.exp(-(t[k] - t[k - 1]) / rule.fac_tau)
    times = np.concatenate([t, t + rule.delay])
    kind = np.concatenate([np.zeros(len(t), int), np.ones(len(t), int)])  # 0 post, 1 pre
    trace = np.concatenate([F, F])
    order = np.argsort(times, kind="stable")
    return times[order], kind[order], trace[order]


def simulate_session(pulse_times, pre_scale, post_scale=None, rho0=None, rule: CalciumRule | None = None,
                     params: ParameterSet | None = None) -> SessionState:
    """Integrate the calcium rule exactly (event-driven) through a pulse train, for many synapses at once.

    Parameters
    ----------
    pulse_times : array (P,)
        Sorted pulse times (s).
    pre_scale, post_scale : array (N,) or float
        Per-synapse scaling of the pre- and postsynaptic calcium jumps (recruitment, in [0, 1]);
        ``post_scale`` defaults to ``pre_scale``.
    rho0 : array (N,) or float, optional
        Initial efficacy variable (default ``plasticity.calcium.rho0``).
    rule : CalciumRule, optional
        Rule parameters (default: from ``params``).

    Returns
    -------
    SessionState
        rho, m, l per synapse at the end of the session (once calcium has fallen below theta_d).

    Example
    -------
    >>> import numpy as np
    >>> s = simulate_session(np.arange(60) * 1.0, np.array([1.0, 0.0]))
    >>> bool(s.rho[0] < 0.5 and s.rho[1] == 0.5)   # 1 Hz depresses; unrecruited synapse untouched
    True
    """
    p = params or default_parameters()
    rule = rule or CalciumRule.from_params(p)
    a = np.atleast_1d(np.asarray(pre_scale, float))
    q = a if post_scale is None else np.atleast_1d(np.asarray(post_scale, float))
    a, q = np.broadcast_arrays(a, q)
    n = a.shape[0]
    if np.any(a < 0) or np.any(q < 0):
        raise ScenarioError("recruitment", "negative values", "non-negative spike scalings (recruitment in [0, 1])")
    r0 = p.si("plasticity.calcium.rho0") if rho0 is None else rho0
    rho = np.array(np.broadcast_to(np.asarray(r0, float), (n,)), dtype=float)
    if np.any((rho < 0) | (rho > 1)):
        raise ScenarioError("rho0", "values outside [0, 1]", "efficacy variables in [0, 1]")
    times, kind, trace = _events(pulse_times, rule)
    # the facilitation gain, the fast-threshold gain and the slow-trace scale may be per-synapse arrays (N,): one
    # run then holds several parameter sets (calibration candidates), each synapse with its own
    fac_gain = np.asarray(rule.fac_gain, float)
    amp_post = rule.c_post * q
    amp_pre = rule.c_pre * a
    c = np.zeros(n)
    m = np.zeros(n)
    l = np.zeros(n)
    lam_a = (rule.gamma_p + rule.gamma_d) / rule.tau
    bar_a = rule.gamma_p / (rule.gamma_p + rule.gamma_d)
    lam_b = rule.gamma_d / rule.tau
    tm, tl = rule.meta_fast_tau, rule.meta_slow_tau
    ln_td = np.log(rule.theta_d)
    n_ev = len(times)
    for e in range(n_ev):
        c = c + (amp_post if kind[e] == 0 else amp_pre) * (1.0 + fac_gain * trace[e])
        if e + 1 < n_ev:
            T = times[e + 1] - times[e]
        else:  # last event: run each synapse until its own calcium is below theta_d
            with np.errstate(divide="ignore"):
                T = rule.tau_ca * np.maximum(0.0, np.log(c + 1e-300) - ln_td) + 1e-9
        th_p = _theta_p(m, l, rule)
        with np.errstate(divide="ignore"):
            lc = np.log(c)
        t_p = np.clip(rule.tau_ca * (lc - np.log(th_p)), 0.0, T)
        t_d = np.clip(rule.tau_ca * (lc - ln_td), 0.0, T)
        t_d = np.maximum(t_d, t_p)
        if rule.bistable:
            rho = _cubic_mid(rho, 0.5 * t_p, rule)
        rho = bar_a + (rho - bar_a) * np.exp(-lam_a * t_p)
        if rule.bistable:
            rho = _cubic_mid(rho, 0.5 * t_d, rule)  # = half of piece A + half of piece B
        rho = rho * np.exp(-lam_b * (t_d - t_p))
        if rule.bistable:
            rho = _cubic_rk4(rho, 0.5 * (t_d - t_p) + (T - t_d), rule)
        # threshold traces: m relaxes towards 1 while c > theta_d, towards 0 otherwise
        em = np.exp(-t_d / tm)
        l = _advance_slow(l, m, 1.0, t_d, tm, tl, em, np.exp(-t_d / tl))
        m = 1.0 + (m - 1.0) * em
        h = T - t_d
        em = np.exp(-h / tm)
        l = _advance_slow(l, m, 0.0, h, tm, tl, em, np.exp(-h / tl))
        m = m * em
        c = c * np.exp(-T / rule.tau_ca)
    return SessionState(rho=np.clip(rho, 0.0, 1.0), m=m, l=l, t_end=float(times[-1] + np.max(T, initial=0.0)))


def session_weight_change(pulse_times, recruitment, rho0=None, params: ParameterSet | None = None,
                          rule: CalciumRule | None = None) -> np.ndarray:
    """Relative early change of synaptic efficacy at the end of a stimulation session, per synapse.

    This is the call the engine makes at each TMS session event.

    Parameters
    ----------
    pulse_times : array (P,)
        Pulse times of the session (s), e.g. ``Protocol.pulse_times()``.
    recruitment : array (N,) or float
        Fraction of each synapse's pre/postsynaptic neurons activated per pulse (scales the calcium jumps).
    rho0 : array (N,) or float, optional
        Efficacy variable before the session (default ``plasticity.calcium.rho0``).
    params : ParameterSet, optional
        Parameter set (default: the shipped registry).

    Returns
    -------
    ndarray (N,)
        ``w_end / w_start - 1`` for each synapse (0.2 = +20%).

    Example
    -------
    >>> import numpy as np
    >>> dw = session_weight_change(np.arange(300) * 1.0, [0.9, 0.0])
    >>> bool(dw[0] < 0), float(dw[1])
    (True, 0.0)
    """
    p = params or default_parameters()
    rule = rule or CalciumRule.from_params(p)
    r0 = p.si("plasticity.calcium.rho0") if rho0 is None else rho0
    rec = np.atleast_1d(np.asarray(recruitment, float))
    rho_start = np.broadcast_to(np.asarray(r0, float), rec.shape)
    s = simulate_session(pulse_times, rec, rec, rho_start, rule=rule, params=p)
    return rule.weight(s.rho) / rule.weight(rho_start) - 1.0


def early_change_after(change_end, minutes, params: ParameterSet | None = None):
    """Early efficacy change ``minutes`` after the session: exponential return to baseline.

    Example
    -------
    >>> tau = default_parameters().value("plasticity.calcium.early_decay_tau")   # minutes
    >>> bool(np.isclose(early_change_after(0.2, 30.0), 0.2 * np.exp(-30.0 / tau)))
    True
    """
    tau = (params or default_parameters()).si("plasticity.calcium.early_decay_tau")
    return np.asarray(change_end, float) * np.exp(-np.asarray(minutes, float) * 60.0 / tau)


def aftereffect_duration(change_end, params: ParameterSet | None = None):
    """Minutes during which |early change| stays above ``plasticity.calcium.aftereffect_criterion`` (5%).

    Example
    -------
    >>> p = default_parameters()
    >>> tau, c = p.value("plasticity.calcium.early_decay_tau"), p.value("plasticity.calcium.aftereffect_criterion")
    >>> bool(np.isclose(aftereffect_duration(0.1), tau * np.log(0.1 / c))), float(aftereffect_duration(0.03))
    (True, 0.0)
    """
    p = params or default_parameters()
    tau = p.si("plasticity.calcium.early_decay_tau")
    crit = p.si("plasticity.calcium.aftereffect_criterion")
    x = np.abs(np.asarray(change_end, float))
    with np.errstate(divide="ignore"):
        return np.where(x > crit, tau * np.log(np.maximum(x, crit) / crit) / 60.0, 0.0)


def averaged_rates(alpha_p, alpha_d, rule: CalciumRule | None = None):
    """Averaged GB rule: fixed point and time constant from the fractions of time above threshold.

    ``Gamma_p = gamma_p alpha_p``, ``Gamma_d = gamma_d alpha_d``, ``rho_bar = Gamma_p/(Gamma_p + Gamma_d)``,
    ``tau_eff = tau/(Gamma_p + Gamma_d)`` (cubic term neglected). Lets long protocols skip the ms scale.

    Returns
    -------
    (rho_bar, tau_eff) : tuple of arrays

    Example
    -------
    >>> rb, te = averaged_rates(0.01, 0.02)
    >>> round(float(rb), 3), round(float(te), 1)
    (0.522, 24.9)
    """
    rule = rule or CalciumRule.from_params()
    gp = rule.gamma_p * np.asarray(alpha_p, float)
    gd = rule.gamma_d * np.asarray(alpha_d, float)
    tot = gp + gd
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tot > 0, gp / tot, np.nan), np.where(tot > 0, rule.tau / tot, np.inf)


def time_above_thresholds(pulse_times, pre_scale=1.0, post_scale=None, rule: CalciumRule | None = None):
    """Total time (s) calcium spends above theta_p and above theta_d for a pulse train (no metaplasticity
    of the threshold: theta_p at rest). Divide by the train length for the averaged form's alpha's.

    Example
    -------
    >>> tp, td = time_above_thresholds([0.0])
    >>> round(float(tp[0]) * 1e3, 1), round(float(td[0]) * 1e3, 1)
    (4.3, 14.9)
    """
    rule = rule or CalciumRule.from_params()
    a = np.atleast_1d(np.asarray(pre_scale, float))
    q = a if post_scale is None else np.atleast_1d(np.asarray(post_scale, float))
    a, q = np.broadcast_arrays(a, q)
    times, kind, trace = _events(pulse_times, rule)
    gain = 1.0 + rule.fac_gain * trace
    c = np.zeros(a.shape)
    tp_sum = np.zeros(a.shape)
    td_sum = np.zeros(a.shape)
    for e in range(len(times)):
        c = c + (rule.c_post * q if kind[e] == 0 else rule.c_pre * a) * gain[e]
        T = times[e + 1] - times[e] if e + 1 < len(times) else np.inf
        with np.errstate(divide="ignore"):
            lc = np.log(c)
        tp_sum += np.clip(rule.tau_ca * (lc - np.log(rule.theta_p)), 0.0, T)
        td_sum += np.clip(rule.tau_ca * (lc - np.log(rule.theta_d)), 0.0, T)
        if np.isfinite(T):
            c = c * np.exp(-T / rule.tau_ca)
    return tp_sum, td_sum


def reference_integrate(pulse_times, pre_scale, post_scale=None, rho0=0.5, rule: CalciumRule | None = None,
                        dt: float = 5e-6, t_end: float | None = None) -> np.ndarray:
    """Fixed-step reference (explicit midpoint, step ``dt``) of the same model, for testing only.

    Calcium and the threshold traces are stepped on the grid; thresholds are tested at each step's start.
    Slow (O(1/dt) steps): keep trains short.

    Example
    -------
    >>> import numpy as np
    >>> r = reference_integrate([0.0, 0.02], np.array([1.0]), dt=2e-5, t_end=0.1)
    >>> bool(r[0] != 0.5)
    True
    """
    rule = rule or CalciumRule.from_params()
    a = np.atleast_1d(np.asarray(pre_scale, float))
    q = a if post_scale is None else np.atleast_1d(np.asarray(post_scale, float))
    a, q = np.broadcast_arrays(a, q)
    times, kind, trace = _events(pulse_times, rule)
    gain = 1.0 + rule.fac_gain * trace
    amps = np.where(kind[:, None] == 0, rule.c_post * q[None], rule.c_pre * a[None]) * gain[:, None]
    t_stop = float(times[-1] + 0.2) if t_end is None else float(t_end)
    n_steps = int(np.ceil(t_stop / dt))
    steps = np.round(times / dt).astype(int)  # events land on grid points
    rho = np.array(np.broadcast_to(np.asarray(rho0, float), a.shape), dtype=float)
    c = np.zeros(a.shape)
    m = np.zeros(a.shape)
    l = np.zeros(a.shape)
    decay = np.exp(-dt / rule.tau_ca)
    ev = 0
    for i in range(n_steps):
        while ev < len(steps) and steps[ev] == i:
            c = c + amps[ev]
            ev += 1
        th_p = _theta_p(m, l, rule)
        hp = (c >= th_p).astype(float)
        hd = (c >= rule.theta_d).astype(float)

        def f(r):
            out = rule.gamma_p * (1 - r) * hp - rule.gamma_d * r * hd
            if rule.bistable:
                out = out - r * (1 - r) * (rule.rho_star - r)
            return out / rule.tau

        rho = rho + dt * f(rho + 0.5 * dt * f(rho))
        l = l + dt * (m * m - l) / rule.meta_slow_tau
        m = m + dt * (hd - m) / rule.meta_fast_tau
        c = c * decay
    return rho
