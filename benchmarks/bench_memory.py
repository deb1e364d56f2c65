"""Peak memory of writing a cohort's full trajectories: chunks streamed to disk vs the whole Dataset in memory.

The scenario is the cohort issue's escitalopram 10 mg daily for 12 weeks, population ``mdd``, with ``--keep full``
(daily outputs: 85 times x about 55 variables per patient). Each path runs in a fresh subprocess, in-process
(``NEUROPLASTIC_PROCESSES=1``: the simulation's working memory is in the same process for both), without the
figure, and reports its own peak RSS:

* ``memory``: ``neuroplastic.simulate(..., keep="full").save(out)`` -- every chunk kept, concatenated, one
  in-memory Dataset, then results.nc (the command line's path before streaming);
* ``streamed``: what ``neuroplastic simulate --keep full`` now does for cohorts -- each finished chunk written as
  a NetCDF file, results.nc assembled from them one chunk of one variable at a time.

The two results.nc files are compared (same variables and values) before the ratio is printed.

    .venv/bin/python benchmarks/bench_memory.py                    # 20,000 patients
    .venv/bin/python benchmarks/bench_memory.py --patients 5000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = dict(name="memory", duration="12 weeks", output_every="1 day", seed=5,
                treatments=[{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}])


def one(mode: str, n: int, out: Path) -> dict:
    import neuroplastic as npl
    from neuroplastic._api import _simulate_to_disk

    sc = npl.Scenario.build(**SCENARIO, patients={"n": n, "population": "mdd"})
    t0 = time.perf_counter()
    if mode == "memory":
        npl.simulate(sc, keep="full").save(out, figure=False)
    else:
        _simulate_to_disk(sc, out, keep="full", figure=False)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    return {"mode": mode, "n": n, "wall_s": wall, "peak_rss_gb": rss,
            "file_gb": (out / "results.nc").stat().st_size / 1e9}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.patients, Path(a.out))))
        return
    work = Path(tempfile.mkdtemp(prefix="bench_memory_"))
    env = dict(os.environ, NEUROPLASTIC_PROCESSES="1")
    try:
        res = {}
        print(f"escitalopram 10 mg/day, 12 weeks, {a.patients:,} patients, --keep full (daily), in-process, no figure")
        for mode in ("memory", "streamed"):
            cmd = [sys.executable, __file__, "--one", mode, "--patients", str(a.patients), "--out", str(work / mode)]
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode:
                sys.exit(p.stderr[-3000:])
            res[mode] = r = json.loads(p.stdout.strip().splitlines()[-1])
            print(f"{mode:>9}: peak RSS {r['peak_rss_gb']:.2f} GB, wall {r['wall_s']:.0f} s, results.nc {r['file_gb']:.2f} GB",
                  flush=True)
        import xarray as xr
        with xr.open_dataset(work / "memory" / "results.nc") as m, xr.open_dataset(work / "streamed" / "results.nc") as s:
            assert list(m.variables) == list(s.variables) and m.attrs.keys() == s.attrs.keys()
            for k in m.variables:  # one variable at a time
                assert m[k].load().identical(s[k].load()), k
        print(f"same results.nc; peak RSS memory / streamed = {res['memory']['peak_rss_gb'] / res['streamed']['peak_rss_gb']:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
