"""Cohort results streamed to disk chunk by chunk: the same results.nc and summary as the in-memory Dataset, nothing
half-written at the output path when a run fails, and a resumed run ends with the same file."""

import json

import netCDF4
import numpy as np
import pytest
import xarray as xr

import neuroplastic as npl
from neuroplastic._api import _simulate_to_disk

TWO_ARMS = """name: streamed trial
duration: 2 weeks
output_every: 1 day
seed: 4
patients: {n: 30, population: mdd}
visits: [0 d, 1 w, 2 w]
arms:
  sertraline: [{drug: sertraline, dose: 50 mg, every: 1 day}]
  placebo: [{placebo: {form: pill}}]
"""

ONE_ARM = """name: streamed cohort
duration: 10 days
output_every: 12 h
seed: 9
patients: {n: 16, population: mdd}
treatments: [{drug: fluoxetine, dose: 20 mg, every: 1 day}]
"""

PLACEBO_FIRST = """name: placebo first
duration: 1 week
seed: 3
patients: {n: 9, population: mdd}
arms:
  placebo: [{placebo: {form: pill}}]
  escitalopram: [{drug: escitalopram, dose: 10 mg, every: 1 day}]
"""


def _same_file(a, b):
    """Dims, variables (in order), dtypes, attributes and values of two NetCDF files are the same."""
    with netCDF4.Dataset(a) as A, netCDF4.Dataset(b) as B:
        A.set_auto_mask(False)
        B.set_auto_mask(False)
        assert {k: len(d) for k, d in A.dimensions.items()} == {k: len(d) for k, d in B.dimensions.items()}
        assert list(A.variables) == list(B.variables)
        _same_attrs(A, B)
        for k in A.variables:
            va, vb = A[k], B[k]
            assert (va.dtype, va.dimensions) == (vb.dtype, vb.dimensions), k
            _same_attrs(va, vb)
            x, y = va[...], vb[...]
            kind = np.asarray(x).dtype.kind
            assert np.array_equal(x, y, equal_nan=kind == "f"), k


def _same_attrs(a, b):
    assert a.ncattrs() == b.ncattrs()
    for n in a.ncattrs():
        x, y = np.asarray(a.getncattr(n)), np.asarray(b.getncattr(n))
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), n


@pytest.mark.parametrize("text, keep", [(TWO_ARMS, "full"), (TWO_ARMS, "visits"), (ONE_ARM, "full"),
                                        (PLACEBO_FIRST, "full")])
def test_streamed_file_is_the_in_memory_dataset(tmp_path, text, keep):
    ref = npl.simulate(text, keep=keep, chunk=7)
    ref.save(tmp_path / "memory", figure=False)
    summary = _simulate_to_disk(text, tmp_path / "streamed", keep=keep, chunk=7, figure=False)
    _same_file(tmp_path / "memory" / "results.nc", tmp_path / "streamed" / "results.nc")
    with xr.open_dataset(tmp_path / "streamed" / "results.nc") as ds:
        xr.testing.assert_identical(ds.load(), ref.dataset)
        assert ds.sizes["time"] == (3 if keep == "visits" else ref.dataset.sizes["time"]) > 2
    assert summary == ref.summary
    assert (tmp_path / "streamed" / "summary.json").read_text() == (tmp_path / "memory" / "summary.json").read_text()
    assert {f.name for f in (tmp_path / "streamed").iterdir()} == {"results.nc", "summary.json"}
    assert not list(tmp_path.glob(".neuroplastic-*"))  # the temporary folder (chunk files) is gone


def test_failed_run_leaves_nothing_and_resume_gives_the_same_file(tmp_path, monkeypatch):
    from neuroplastic.results import _stream

    out, partial = tmp_path / "out", tmp_path / "partial"
    calls = []
    real = _stream._arms_dataset

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 4:  # the fourth finished chunk: the run is interrupted
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(_stream, "_arms_dataset", failing)
    with pytest.raises(KeyboardInterrupt):
        _simulate_to_disk(TWO_ARMS, out, keep="full", chunk=7, figure=False, checkpoint_dir=partial)
    assert not out.exists() and not list(tmp_path.glob(".neuroplastic-*"))
    assert len(list(partial.glob("*.npz"))) == 4  # stored before it was handed on
    monkeypatch.setattr(_stream, "_arms_dataset", real)
    summary = _simulate_to_disk(TWO_ARMS, out, keep="full", chunk=7, figure=True, checkpoint_dir=partial)
    assert len(list(partial.glob("*.npz"))) == 10  # 2 arms x 5 chunks
    ref = npl.simulate(TWO_ARMS, keep="full", chunk=7)
    ref.save(tmp_path / "memory")
    _same_file(tmp_path / "memory" / "results.nc", out / "results.nc")
    assert summary == ref.summary == json.loads((out / "summary.json").read_text())
    assert (out / "overview.png").stat().st_size > 0


def test_cli_streams_cohorts_to_the_same_file(tmp_path):
    import subprocess
    import sys

    sc = tmp_path / "trial.yaml"
    sc.write_text(TWO_ARMS)
    out = tmp_path / "cli"
    p = subprocess.run([sys.executable, "-m", "neuroplastic", "simulate", str(sc), "--out", str(out), "--keep", "full",
                        "--no-figure"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    npl.simulate(TWO_ARMS, keep="full").save(tmp_path / "memory", figure=False)
    _same_file(tmp_path / "memory" / "results.nc", out / "results.nc")
    assert {f.name for f in out.iterdir()} == {"results.nc", "summary.json"}  # no .partial, no chunk files
    assert not list(tmp_path.glob(".neuroplastic-*"))
