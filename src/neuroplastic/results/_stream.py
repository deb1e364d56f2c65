"""Cohort results written to disk chunk by chunk (the command line's path), so memory is bounded by a chunk.

Every finished chunk of patients becomes a small NetCDF file (its slice of the final Dataset, built by the same
code as the in-memory path) in the output's temporary folder and is dropped from memory. When all chunks are in,
results.nc is written from the chunk files with dask, one chunk of one variable at a time, and the summary and
figure are computed from results.nc one arm and variable at a time. The file's content is identical to what
``Result.save`` writes for the in-memory Dataset of the same scenario.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from ..mood.scales import SCALES
from ._meta import OUTPUTS
from ._result import _PLASMA_ATTRS, _arms_dataset, _finish, _move_into, build_summary, dumps_summary

_TRAITS = ("patient_id", "weight", "stress_trait", "cyp2c19", "cyp2d6")


def save_streamed(scenario, out_dir: str | os.PathLike, params, *, figure: bool = True, replace: bool = False,
                  **simulate_kw) -> dict:
    """Simulate ``scenario`` and write out_dir/results.nc, summary.json (and overview.png), all or nothing.

    ``simulate_kw`` goes to :func:`~neuroplastic.engine._simulate.simulate_arms` (``out_times``, ``chunk``,
    ``workers``, ``scheduler``, ``checkpoint``, ``progress``...). With ``replace``, out_dir is replaced as a whole
    at the end (see :func:`neuroplastic._outdir.publish`). Returns the summary.
    """
    from ..engine._simulate import simulate_arms

    out = Path(out_dir)
    parent = out.parent if out.parent != Path("") else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".neuroplastic-", dir=parent))
    try:
        chunks = tmp / "chunks"
        chunks.mkdir()
        index = {name: k for k, (name, _) in enumerate(scenario.arm_list())}
        files: dict[str, dict[int, Path]] = {}

        def sink(key, patients, run):
            name, start = key
            ds = _arms_dataset(scenario, {name: patients}, {name: run}, params, sorted(run.plasma),
                               arm_index=index[name], patient_start=start)
            path = chunks / f"{index[name]}-{start}.nc"
            ds.to_netcdf(path)
            files.setdefault(name, {})[start] = path

        _, runs = simulate_arms(scenario, params, sink=sink, **simulate_kw)
        _combine(scenario, runs, params, files, tmp / "results.nc")
        shutil.rmtree(chunks)
        with xr.open_dataset(tmp / "results.nc", cache=False) as ds:
            summary = build_summary(scenario, ds, runs)
            (tmp / "summary.json").write_text(dumps_summary(summary))
            if figure:
                from ._figures import overview
                overview(ds, tmp / "overview.png")
        _move_into(tmp, out, replace)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def _combine(scenario, runs, params, files, path: Path) -> None:
    """Write the Dataset that ``build_dataset`` would give for all arms from the chunk files, lazily."""
    import dask
    import dask.array as da

    arms = list(runs)
    compounds = sorted({c for r in runs.values() for c in r.plasma})
    opened = []
    try:
        parts = []
        for name in arms:
            dss = [xr.open_dataset(files[name][s], chunks={}) for s in sorted(files[name])]
            opened += dss
            ds = dss[0] if len(dss) == 1 else xr.concat(dss, dim="patient", data_vars="minimal", coords="minimal",
                                                        compat="override", join="exact")
            if compounds:
                if "plasma" in ds:
                    pl = ds["plasma"].reindex(compound=compounds, fill_value=0.0)
                else:  # an arm without drugs: zeros, as in the in-memory Dataset
                    shape = (1, ds.sizes["patient"], len(compounds), ds.sizes["time"])
                    pl = xr.DataArray(da.zeros(shape, chunks=(1, -1, -1, -1)), dims=("arm", "patient", "compound", "time"),
                                      coords={"compound": compounds})
                ds = ds.drop_vars(["plasma", "compound"], errors="ignore").assign(plasma=pl)
                ds["plasma"].attrs = dict(_PLASMA_ATTRS)
            parts.append(ds)
        full = parts[0] if len(parts) == 1 else xr.concat(parts, dim="arm", data_vars="minimal", coords="minimal",
                                                          compat="override", join="override")
        # the in-memory Dataset's order of variables; small per-patient variables loaded (strings in particular)
        names = [n for n in OUTPUTS if n not in SCALES] + (["plasma"] if compounds else []) + list(_TRAITS) + list(SCALES)
        coords = ["arm", "patient", "time"] + (["compound"] if compounds else [])
        variables = {n: full[n].variable for n in names}
        for n in _TRAITS:
            variables[n] = variables[n].load()
        ds = xr.Dataset({n: v for n, v in variables.items() if n not in SCALES},
                        coords={c: full[c].variable.load() for c in coords})
        for n in SCALES:
            ds[n] = variables[n]
        for v in ds.variables.values():
            v.encoding = {}
        ds = _finish(ds, scenario, runs[arms[0]], params)
        with dask.config.set(scheduler="synchronous"):  # one chunk of one variable in memory at a time
            ds.to_netcdf(path)
    finally:
        for d in opened:
            d.close()
