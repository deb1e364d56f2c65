"""Prior-setting pre-search: CMA-ES over a few parameters on the batched training objective.

After a structural change of the model, the shipped calibration command (CMA-ES over every calibrated parameter,
small step from the priors) is a local polish: in 36 dimensions with 8 candidates a generation it does not move far.
This script searches a handful of parameters that the change touched, with a wider step, and prints the best set.
Its result becomes the registry *priors* of those (calibrated) parameters; the shipped set is still exactly what
``neuroplastic calibrate`` then writes from them. The calibration README records each use (start, seed, budget,
result).

    .venv/bin/python scripts/presearch_priors.py START_JSON GENERATIONS [--names a,b,c] [--seed 3] [--sigma 0.12]

START_JSON maps parameter names to start values (the registry value where a name is missing). Each generation's
8 candidates are evaluated as two batches of 4 in two processes.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp

import numpy as np

NAMES = ("plasticity.structural.mtor_half", "plasticity.structural.mtor_max", "brain.circuit.w_burst_dlpfc",
         "plasticity.calcium.facilitation_gain", "plasticity.meta.learning_rate")


def _maps(base, name):
    p = base[name]
    if p.low > 0 and p.high / p.low >= 10:   # log map for ranges spanning x10, as the calibration does
        lo, hi = math.log(p.low), math.log(p.high)
        return (lambda u: math.exp(lo + (hi - lo) * min(max(u, 0.0), 1.0)), lambda v: (math.log(v) - lo) / (hi - lo))
    return (lambda u: p.low + (p.high - p.low) * min(max(u, 0.0), 1.0), lambda v: (v - p.low) / (p.high - p.low))


def _objective(values):
    import neuroplastic as npl
    from neuroplastic.validation.calibrate import objective_terms_batch
    from neuroplastic.validation.targets import load_targets

    _, targets = load_targets()
    fit = [t for t in targets if t.used_for == "fit"]
    return [sum(r.values()) for r in objective_terms_batch(values, npl.default_parameters(), "plasticity", fit)]


def main():
    import cma

    import neuroplastic as npl

    ap = argparse.ArgumentParser()
    ap.add_argument("start", help="JSON: parameter -> start value")
    ap.add_argument("generations", type=int)
    ap.add_argument("--names", default=",".join(NAMES))
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--sigma", type=float, default=0.12)
    args = ap.parse_args()
    base = npl.default_parameters()
    names = args.names.split(",")
    maps = [_maps(base, n) for n in names]
    start = json.loads(args.start)
    x0 = [inv(start.get(n, base[n].value)) for n, (_, inv) in zip(names, maps)]
    es = cma.CMAEvolutionStrategy(x0, args.sigma, {"popsize": 8, "seed": args.seed, "bounds": [0, 1], "verbose": -9})
    with mp.get_context("spawn").Pool(2) as pool:
        for g in range(args.generations):
            X = es.ask()
            vals = [{n: fwd(u) for n, (fwd, _), u in zip(names, maps, x)} for x in X]
            f = sum(pool.map(_objective, [vals[:4], vals[4:]]), [])
            es.tell(X, f)
            i = int(np.argmin(f))
            print(g, round(min(f), 2), json.dumps({k: round(v, 4) for k, v in vals[i].items()}), flush=True)
    best = {n: round(fwd(u), 4) for n, (fwd, _), u in zip(names, maps, es.result.xbest)}
    print("best", round(float(es.result.fbest), 2), json.dumps(best))


if __name__ == "__main__":
    main()
