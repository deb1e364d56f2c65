"""Cross-validation folds: one lockstep generation (the full fit and the five family folds) with each fold scored on
its own rows, against the same candidates all scored on every fit row, in the same process.

``calibrate --cross-validate`` asks, each generation, the full fit and every fold for their candidates and runs them
as one batch (``calibrate.fit_many``). A fold's candidates are scored only on the fold's rows, so an arm runs only
for the candidates whose rows read its protocol and a fold never simulates the family it holds out; the priors,
asked by all six searches in the first generation, run once (``calibrate._generation``). The baseline is the batch
as it ran before: every candidate on every fit row (``objective_terms_batch`` with one row list). Both run
in-process on the same candidates (the first generation of each search, ``--popsize`` each, plus the priors); the
script checks that each search's terms are the same both ways and prints the time ratio.

    .venv/bin/python benchmarks/bench_cv_folds.py --popsize 2
"""

from __future__ import annotations

import argparse
import importlib
import time

from neuroplastic.validation.targets import CV_FAMILIES, load_targets

cal = importlib.import_module("neuroplastic.validation.calibrate")   # the module (the package exports a function)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--popsize", type=int, default=2, help="candidates per search (the shipped command uses 8)")
    ap.add_argument("--sigma0", type=float, default=0.04)
    args = ap.parse_args()
    base = cal.literature_parameters()
    names = cal.FREE["plasticity"]
    maps = cal._maps(base, names)
    _, targets = load_targets()
    every = [t for t in targets if t.used_for == "fit"]
    searches = [cal._Search("plasticity", base, names, maps, [t for t in every if t.family != ex],
                            exclude_family=ex, generations=2, popsize=args.popsize, seed=1, sigma0=args.sigma0,
                            journal=None, resume=False) for ex in (None, *CV_FAMILIES)]
    asked = [s.ask(0) for s in searches]
    flat = [v for a in asked for v in a]
    rows_per = [s.fit_targets for s, a in zip(searches, asked) for _ in a]
    print(f"{len(searches)} searches x ({args.popsize} candidates + the priors) = {len(flat)} candidates, "
          f"{len(every)} fit rows")

    t0 = time.perf_counter()
    old = cal.objective_terms_batch(flat, base, "plasticity", every)
    t_old = time.perf_counter() - t0
    t0 = time.perf_counter()
    new = cal._generation(flat, base, "plasticity", rows_per)
    t_new = time.perf_counter() - t0

    for o, n, rows in zip(old, new, rows_per):
        assert {r.id: o[r.id] for r in rows} == n, "a search's terms differ between the two ways"
    print(f"every candidate on every row: {t_old:7.1f} s")
    print(f"each fold on its own rows:    {t_new:7.1f} s")
    print(f"ratio (old / new):            {t_old / t_new:7.2f}x  (terms identical)")


if __name__ == "__main__":
    main()
