"""Back ends: in-process, a local Dask cluster (--workers) and an external scheduler give identical numbers;
an interrupted cohort run resumes from its finished chunks with the same result."""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import neuroplastic as npl

TRIAL = """name: small cohort
duration: 2 weeks
seed: 2
patients: {n: 12, population: mdd}
visits: [0 d, 1 w, 2 w]
arms:
  sertraline: [{drug: sertraline, dose: 50 mg, every: 1 day}]
  placebo: [{placebo: {form: pill}}]
"""


def _cli(*args):
    p = subprocess.run([sys.executable, "-m", "neuroplastic", *args], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return p


def test_in_process_local_cluster_and_external_scheduler_agree(tmp_path):
    distributed = pytest.importorskip("distributed")
    sc = tmp_path / "t.yaml"
    sc.write_text(TRIAL)
    _cli("simulate", str(sc), "--out", str(tmp_path / "a"), "--no-figure")
    _cli("simulate", str(sc), "--out", str(tmp_path / "b"), "--no-figure", "--workers", "2")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        _cli("simulate", str(sc), "--out", str(tmp_path / "c"), "--no-figure", "--scheduler", cluster.scheduler_address)
    a, b, c = (xr.open_dataset(tmp_path / x / "results.nc") for x in "abc")
    for k in ("hamd17", "hamd17_expected", "spine_density", "patient_id"):
        assert np.array_equal(a[k].values, b[k].values) and np.array_equal(a[k].values, c[k].values), k
    assert not (tmp_path / "a" / ".partial").exists()


def test_resume_gives_identical_results(tmp_path):
    ck = tmp_path / "partial"
    ref = npl.simulate(TRIAL, chunk=4).dataset
    npl.simulate(TRIAL, chunk=4, checkpoint_dir=ck)
    files = sorted(ck.glob("*.npz"))
    assert len(files) == 6  # 2 arms x 3 chunks
    for f in files[::2]:  # an interrupted run: half the chunks never finished
        f.unlink()
    resumed = npl.simulate(TRIAL, chunk=4, checkpoint_dir=ck).dataset
    for k in ("hamd17", "hamd17_expected", "bdnf"):
        assert np.array_equal(ref[k].values, resumed[k].values), k
    assert len(list(ck.glob("*.npz"))) == 6
