"""Batched parameter sets: one evaluation of the fitting targets for K candidate sets vs K sequential evaluations.

Candidates (``--design``): ``cmaes`` (default) is one generation of K candidates exactly as the calibration command
proposes them (CMA-ES from the priors, the shipped command's step ``--sigma0`` 0.04 of each range, seed 1), i.e. what
a generation of ``neuroplastic calibrate`` costs; ``lhs`` is K points of a Latin hypercube over the whole registry
ranges of the free parameters (``calibrate.FREE``, log-mapped where a range spans x10), a harsher spread in which
extreme sets make the integrator sub-step and the sets differ more in cost. The
batched run (``evaluate_batch``: every protocol arm once for K x 120 patients) is timed against ``evaluate`` with
``params.with_values(values_k)`` per candidate, in the same process. Sequential cost per set does not depend on
the other sets, so by default only ``--sequential`` of the K candidates are run one by one and their mean is the
per-set cost (it varies with the candidate: sets that make the integrator sub-step cost more; ``--sequential 0`` runs
all K); their rows are checked against the batched rows.

    .venv/bin/python benchmarks/bench_batch_params.py --K 20 40 --sequential 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neuroplastic.params import default_parameters
from neuroplastic.validation.calibrate import FREE, _maps
from neuroplastic.validation.runner import evaluate, evaluate_batch
from neuroplastic.validation.targets import load_targets


def candidates(base, names, K, seed=1):
    rng = np.random.default_rng(seed)
    u = np.stack([(rng.permutation(K) + 0.5) / K for _ in names], axis=1)  # Latin hypercube on [0, 1]^d
    maps = _maps(base, names)
    return [{n: float(np.clip(mp[0](x), base[n].low, base[n].high)) for n, mp, x in zip(names, maps, row)} for row in u]


def optimiser_generation(base, names, K, sigma0=0.04, seed=1, hypothesis="plasticity"):
    """K candidates as the calibration's CMA-ES proposes them in a generation (from the priors, step sigma0)."""
    from neuroplastic.validation.calibrate import _Search

    s = _Search(hypothesis, base, names, _maps(base, names), [], exclude_family=None, generations=2, popsize=K,
                seed=seed, sigma0=sigma0, journal=None, resume=False)
    return s.ask(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--K", type=int, nargs="+", default=[20, 40])
    ap.add_argument("--sequential", type=int, default=3, help="candidates run one by one (default 3; 0 = all K)")
    ap.add_argument("--hypothesis", default="plasticity")
    ap.add_argument("--design", choices=("cmaes", "lhs"), default="cmaes",
                    help="candidates: one CMA-ES generation from the priors (default) or a Latin hypercube")
    ap.add_argument("--sigma0", type=float, default=0.04, help="CMA-ES step for --design cmaes (the shipped command's)")
    args = ap.parse_args()
    from neuroplastic.validation.calibrate import literature_parameters

    base = literature_parameters() if args.design == "cmaes" else default_parameters()   # the fit starts at the priors
    _, targets = load_targets()
    fit = [t for t in targets if t.used_for == "fit"]
    names = FREE[args.hypothesis]
    print(f"{len(fit)} fit targets, {len(names)} free parameters, 120-patient validation population, "
          f"design {args.design}")
    for K in args.K:
        values = (optimiser_generation(base, names, K, args.sigma0, hypothesis=args.hypothesis) if args.design == "cmaes"
                  else candidates(base, names, K))
        t0 = time.perf_counter()
        rows_b, sim = evaluate_batch(fit, base, values, args.hypothesis)
        tb = time.perf_counter() - t0
        M = K if args.sequential <= 0 else min(args.sequential, K)
        ts, worst = [], 0.0
        for k in range(M):
            t0 = time.perf_counter()
            rows, _ = evaluate(fit, base.with_values(values[k]), args.hypothesis)
            ts.append(time.perf_counter() - t0)
            for a, b in zip(rows, rows_b[k]):
                if a["simulated"] is not None or b["simulated"] is not None:
                    worst = max(worst, abs(a["simulated"] - b["simulated"]))
        per_seq = float(np.mean(ts))
        per_batch = tb / K
        print(f"K={K}: batched {tb:.1f} s for {K} sets ({per_batch:.2f} s/set, {sim.runs} arm runs); sequential "
              f"{per_seq:.2f} s/set (mean of {M}, {min(ts):.2f}-{max(ts):.2f}); ratio per parameter set "
              f"{per_seq / per_batch:.1f}x; "
              f"max |batched - sequential| over {M} x {len(fit)} rows {worst:.1e}", flush=True)


if __name__ == "__main__":
    main()
