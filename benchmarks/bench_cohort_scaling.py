"""Cohort scaling: throughput and peak memory of the fast path for 1,000 / 10,000 (/ 100,000) patients, against
the reference path (scipy solve_ivp, one patient at a time) on the same model and scenario.

The scenario is the cohort issue's: escitalopram 10 mg daily for 12 weeks, population ``mdd``, visits at 0, 2, 4,
8 and 12 weeks. Each cohort size runs in a fresh subprocess (so its peak RSS is its own) through
``simulate_arms`` -- baseline, integration, visits -- once in-process (one core) and once with the default back
end (a process pool over every CPU from 20,000 patients on). The reference path runs ``--ref-patients`` patients
in this process and is extrapolated per patient. Ratios are per-patient throughputs, fast / reference.

    .venv/bin/python benchmarks/bench_cohort_scaling.py               # 1k and 10k
    .venv/bin/python benchmarks/bench_cohort_scaling.py --with-100k   # adds 100k (about a minute on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

WEEKS = 12
SCENARIO = dict(name="scale", duration=f"{WEEKS} weeks", seed=5, visits=["0 d", "2 w", "4 w", "8 w", "12 w"],
                treatments=[{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}])


def one(n: int, processes: int | None) -> dict:
    """Run one cohort in this process; return wall time and peak RSS (this process and its children)."""
    import neuroplastic as npl
    from neuroplastic.engine._simulate import simulate_arms

    sc = npl.Scenario.build(**SCENARIO, patients={"n": n, "population": "mdd"})
    t0 = time.perf_counter()
    _, runs = simulate_arms(sc, out_times=list(sc.visits), processes=processes)
    wall = time.perf_counter() - t0
    h = runs["treatment"].observed["hamd17_expected"]
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"n": n, "wall": wall, "rss_gb": rss / 1024 ** 2, "hamd_final_mean": float(h[-1].mean())}


def in_subprocess(n: int, processes: int | None) -> dict:
    cmd = [sys.executable, __file__, "--one", str(n), "--processes", "auto" if processes is None else str(processes)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def reference(n_ref: int) -> float:
    """Seconds per patient of the reference path on the same scenario and patients."""
    import neuroplastic as npl
    from neuroplastic.engine._reference import reference_run
    from neuroplastic.params import default_parameters
    from neuroplastic.population import sample_patients

    sc = npl.Scenario.build(**SCENARIO)
    pts = sample_patients(n_ref, "mdd", seed=5)
    p = default_parameters()
    t0 = time.perf_counter()
    reference_run(sc, sc.treatments, pts, p)
    return (time.perf_counter() - t0) / n_ref


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--with-100k", action="store_true", help="also run 100,000 patients")
    ap.add_argument("--ref-patients", type=int, default=3, help="patients for the reference path (default 3)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--processes", default="auto", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, None if a.processes == "auto" else int(a.processes))))
        return
    sizes = [1_000, 10_000] + ([100_000] if a.with_100k else [])
    print(f"escitalopram 10 mg/day, {WEEKS} weeks, population mdd, 5 visits; throughput in patient-weeks per second")
    t_ref = reference(a.ref_patients)
    ref_tp = WEEKS / t_ref
    print(f"reference path (solve_ivp, 1 patient at a time, {a.ref_patients} patients): {t_ref:.2f} s per patient, "
          f"{ref_tp:.2f} patient-weeks/s")
    print(f"{'patients':>9} {'back end':>18} {'wall s':>8} {'pt-wk/s':>9} {'peak RSS':>9} {'x reference':>12}")
    for n in sizes:
        for label, procs in (("in-process, 1 core", 0), ("default", None)):
            if procs is None and n < 20_000:
                continue  # the default is in-process below 20,000 patients
            r = in_subprocess(n, procs)
            tp = n * WEEKS / r["wall"]
            print(f"{n:>9,} {label:>18} {r['wall']:>8.1f} {tp:>9.0f} {r['rss_gb']:>7.2f}GB {tp / ref_tp:>11.0f}x")


if __name__ == "__main__":
    main()
