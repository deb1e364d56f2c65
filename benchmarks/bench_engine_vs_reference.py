"""Fast path vs reference path: the same scenario, the same model, in the same process.

Prints the wall time of each and their ratio, plus the largest difference in the expected HAM-D17 and plasma.
The reference integrates PK and brain together with scipy's solve_ivp (LSODA, rtol 1e-9), one patient at a time;
the fast path propagates PK exactly and integrates the brain with RK4 on the event calendar, all patients at once.

    .venv/bin/python benchmarks/bench_engine_vs_reference.py [--patients 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import neuroplastic as npl
from neuroplastic.engine._reference import reference_run
from neuroplastic.engine._simulate import run_arm
from neuroplastic.params import default_parameters
from neuroplastic.population import sample_patients


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--patients", type=int, default=20)
    ap.add_argument("--weeks", type=int, default=4)
    a = ap.parse_args()
    sc = npl.Scenario.build(duration=f"{a.weeks} weeks", output_every="1 day",
                            treatments=[{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}])
    pts = sample_patients(a.patients, "mdd", seed=1)
    p = default_parameters()
    run_arm(sc, sc.treatments, pts, p)  # warm caches (baseline, expm) before timing
    t0 = time.perf_counter()
    fast = run_arm(sc, sc.treatments, pts, p)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = reference_run(sc, sc.treatments, pts, p)
    t_ref = time.perf_counter() - t0
    dh = np.max(np.abs(fast.observed["hamd17_expected"] - ref["hamd17_expected"]))
    dc = np.max(np.abs(fast.plasma["escitalopram"] - ref["plasma:escitalopram"])) / np.max(ref["plasma:escitalopram"])
    print(f"{a.patients} patients x {a.weeks} weeks escitalopram")
    print(f"reference (solve_ivp per patient): {t_ref:8.2f} s")
    print(f"fast path (vectorised):            {t_fast:8.2f} s")
    print(f"throughput ratio fast/reference:   {t_ref / t_fast:8.1f} x")
    print(f"max |dHAM-D17| = {dh:.2e} points, max relative plasma difference = {dc:.2e}")


if __name__ == "__main__":
    main()
