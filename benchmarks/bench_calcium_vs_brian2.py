"""Benchmark: the event-driven Graupner-Brunel kernel vs the same model in Brian2 (clock-driven).

Same pulse train (iTBS), same N synapses with heterogeneous recruitment and initial efficacy, same cortical
parameters, noise off, no metaplasticity (plain GB 2012 with its bistable cubic term). Brian2 uses the
Cython target (second run timed, after compilation); if Cython compilation fails it falls back to the numpy
target and says so.

Run:  .venv/bin/python benchmarks/bench_calcium_vs_brian2.py [--pulses 150] [--n 1000] [--dt-us 10]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from neuroplastic.physics.tms import make_protocol
from neuroplastic.plasticity.synaptic import CalciumRule, simulate_session


def run_brian(pulse_times, rec, rho0, rule, t_end, dt, target):
    import brian2 as b2

    b2.start_scope()
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = dt * b2.second
    n = len(rec)
    eqs = """
    dc/dt = -c / tau_ca : 1
    drho/dt = (-rho * (1 - rho) * (rho_star - rho) + gamma_p * (1 - rho) * int(c >= theta_p)
               - gamma_d * rho * int(c >= theta_d)) / tau_rho : 1
    a : 1 (constant)
    """
    ns = dict(tau_ca=rule.tau_ca * b2.second, tau_rho=rule.tau * b2.second, rho_star=rule.rho_star,
              gamma_p=rule.gamma_p, gamma_d=rule.gamma_d, theta_p=rule.theta_p, theta_d=rule.theta_d)
    G = b2.NeuronGroup(n, eqs, method="euler", namespace=ns)
    G.a = rec
    G.rho = rho0
    # two generator "neurons": 0 = postsynaptic spikes at the pulses, 1 = presynaptic spikes delayed by D
    idx = np.concatenate([np.zeros(len(pulse_times), int), np.ones(len(pulse_times), int)])
    tt = np.concatenate([pulse_times, pulse_times + rule.delay])
    tt = np.round(tt / dt) * dt
    src = b2.SpikeGeneratorGroup(2, idx, tt * b2.second)
    post = b2.Synapses(src, G, on_pre="c_post += a * c_post_amp", namespace={"c_post_amp": rule.c_post})
    post.connect(i=0, j=np.arange(n))
    pre = b2.Synapses(src, G, on_pre="c_post += a * c_pre_amp", namespace={"c_pre_amp": rule.c_pre})
    pre.connect(i=1, j=np.arange(n))
    net = b2.Network(G, src, post, pre)
    t0 = time.perf_counter()
    net.run(t_end * b2.second)
    return np.array(G.rho[:]), time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pulses", type=int, default=150, help="iTBS pulses (default 150: five 2-s trains)")
    ap.add_argument("--n", type=int, default=1000, help="synapses")
    ap.add_argument("--dt-us", type=float, default=10.0, help="Brian2 time step in microseconds")
    args = ap.parse_args(argv)
    try:
        import brian2  # noqa: F401
    except ImportError:
        print("SKIPPED: brian2 is not installed (pip install brian2==2.9.0)")
        return 0
    except Exception as exc:  # e.g. brian2 2.9.0 imports np.ndarray.ptp, removed in numpy 2.4
        print(f"SKIPPED: brian2 is installed but cannot be imported with numpy {np.__version__} "
              f"({type(exc).__name__}: {exc}); run this benchmark in an environment with numpy < 2.4")
        return 0
    rule = CalciumRule.from_params(metaplasticity=False, bistable=True)
    t = make_protocol("itbs", args.pulses).pulse_times()
    rng = np.random.default_rng(0)
    rec = rng.uniform(0.5, 1.0, args.n)
    rho0 = rng.uniform(0.2, 0.8, args.n)
    # ours (warm once, then time the best of 3)
    simulate_session(t[:6], rec, rec, rho0, rule=rule)
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        state = simulate_session(t, rec, rec, rho0, rule=rule)
        best = min(best, time.perf_counter() - t0)
    dt = args.dt_us * 1e-6
    t_end = np.ceil(state.t_end / dt) * dt
    state = simulate_session(t, rec, rec, rho0, rule=rule)
    # the event-driven run stops once calcium is below theta_d; continue the (slow) cubic drift to t_end
    from neuroplastic.plasticity.synaptic import _cubic_rk4
    ours = _cubic_rk4(state.rho, np.full(args.n, t_end - state.t_end), rule)
    target = "cython"
    note = ""
    try:
        run_brian(t[:6], rec[:4], rho0[:4], rule, 0.1, dt, target)
        run_brian(t, rec, rho0, rule, t_end, dt, target)  # first full run: compiles
        theirs, t_brian = run_brian(t, rec, rho0, rule, t_end, dt, target)
    except Exception as exc:  # compiler missing or broken
        target, note = "numpy", f" (Cython compilation failed: {type(exc).__name__}; fell back to numpy target)"
        run_brian(t, rec, rho0, rule, t_end, dt, target)
        theirs, t_brian = run_brian(t, rec, rho0, rule, t_end, dt, target)
    d_rho = np.max(np.abs(ours - theirs))
    d_w = np.max(np.abs(rule.weight(ours) - rule.weight(theirs)) / rule.weight(rho0))
    print(f"workload: iTBS {args.pulses} pulses ({t[-1]:.1f} s), {args.n} synapses, GB cortical set, noise off")
    print(f"brian2 {brian2.__version__} target={target}{note}, dt={args.dt_us:g} us: {t_brian:.3f} s (second run)")
    print(f"neuroplastic event-driven kernel: {best:.4f} s (best of 3)")
    print(f"speed ratio (brian2 / neuroplastic): {t_brian / best:.1f}x")
    print(f"max |delta rho| = {d_rho:.2e}; max |delta efficacy| / w0 = {d_w:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
