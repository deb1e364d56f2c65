from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .. import __version__
from .._units import DAY
from ..mood.scales import SCALES, remission, response
from ._meta import OUTPUTS


@dataclass(frozen=True)
class Result:
    """What a simulation returns: ``dataset`` (xarray, dims arm?, patient, time) and ``summary`` (JSON-able dict).

    ``save(out_dir)`` writes results.nc, summary.json and overview.png, all or nothing.
    """

    dataset: xr.Dataset
    summary: dict

    def save(self, out_dir: str | os.PathLike, *, figure: bool = True, replace: bool = False) -> Path:
        """Write the files into ``out_dir``; with ``replace``, ``out_dir`` becomes the new folder as a whole (an
        existing one is swapped out at the end and deleted: the command line's ``--overwrite``)."""
        out = Path(out_dir)
        parent = out.parent if out.parent != Path("") else Path(".")
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".neuroplastic-", dir=parent))
        try:
            self.dataset.to_netcdf(tmp / "results.nc")
            (tmp / "summary.json").write_text(dumps_summary(self.summary))
            if figure:
                from ._figures import overview
                overview(self.dataset, tmp / "overview.png", self.summary)
            _move_into(tmp, out, replace)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out


def _move_into(tmp: Path, out: Path, replace: bool = False) -> None:
    """Move the finished files of the temporary folder ``tmp`` into ``out`` (created if needed); with ``replace``,
    ``tmp`` becomes ``out`` as a whole (see :func:`neuroplastic._outdir.publish`)."""
    if replace:
        from .._outdir import publish
        publish(tmp, out)
        return
    out.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():
        shutil.move(str(f), out / f.name)


def finite_json(o):
    """``o`` with every non-finite float (a statistic that cannot be estimated, e.g. a p-value of two identical
    arms) replaced by None, so summary.json holds ``null`` and never the non-JSON ``NaN``/``Infinity``.

    Example
    -------
    >>> finite_json({"p": float("nan"), "ci": [1.0, np.float64("inf")], "n": 3})
    {'p': None, 'ci': [1.0, None], 'n': 3}
    """
    if isinstance(o, dict):
        return {k: finite_json(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [finite_json(v) for v in o]
    if isinstance(o, np.ndarray):
        return finite_json(o.tolist())
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    return o


def dumps_summary(summary: dict) -> str:
    """summary.json text: strict JSON (``allow_nan=False``) of :func:`finite_json` of the summary."""
    return json.dumps(finite_json(summary), indent=2, default=_json_default, allow_nan=False)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def build_dataset(scenario, patients, runs, params) -> xr.Dataset:
    """Assemble the arms' runs into one Dataset (arm, patient, time); ``patients`` maps arm -> Patients."""
    arms = list(runs)
    compounds = sorted({c for r in runs.values() for c in r.plasma})
    ds = _arms_dataset(scenario, patients, runs, params, compounds)
    return _finish(ds, scenario, runs[arms[0]], params)


def _arms_dataset(scenario, patients, runs, params, compounds, *, arm_index: int = 0, patient_start: int = 0) -> xr.Dataset:
    """The data variables of ``runs`` (arm -> ArmRun) with dims arm, patient, time[, compound], no dataset attrs.

    ``arm_index`` is the position of the first of these arms in the scenario (kept for callers; the rater noise
    depends on the patient and time only) and
    ``patient_start`` the index of their first patient, so one chunk of one arm gives its slice of the whole.
    """
    arms = list(runs)
    first = runs[arms[0]]
    n_pat = patients[arms[0]].n
    t_days = first.time / DAY
    data_vars = {}

    def stack(get):
        return np.stack([get(runs[a]) for a in arms])  # (arm, time, patient)

    for name, (unit, long_name, factor) in OUTPUTS.items():
        if name in SCALES:
            continue
        src = "inputs" if name.endswith("_occupancy") and name in first.inputs else "observed"
        arr = stack(lambda r: (r.inputs if src == "inputs" else r.observed)[name]) * factor
        data_vars[name] = (("arm", "patient", "time"), np.transpose(arr, (0, 2, 1)), {"units": unit, "long_name": long_name})
    if compounds:
        pl = np.zeros((len(arms), n_pat, len(compounds), len(t_days)))
        for ai, a in enumerate(arms):
            for ci, c in enumerate(compounds):
                if c in runs[a].plasma:
                    pl[ai, :, ci, :] = runs[a].plasma[c].T * 1e6  # kg/m^3 -> ng/mL
        data_vars["plasma"] = (("arm", "patient", "compound", "time"), pl, _PLASMA_ATTRS)
    coords = {"arm": arms, "patient": np.arange(patient_start, patient_start + n_pat),
              "time": ("time", t_days, {"units": "day", "long_name": "time since start"})}
    if compounds:
        coords["compound"] = compounds
    traits = {"patient_id": ("ids", "1", "patient index (defines the patient's random stream)"),
              "weight": ("weight", "kg", "body weight"),
              "stress_trait": ("stress", "1", "depressive stress load at entry (1 = typical episode)")}
    for name, (attr, unit, long_name) in traits.items():
        data_vars[name] = (("arm", "patient"), np.stack([getattr(patients[a], attr) for a in arms]).astype(float),
                           {"units": unit, "long_name": long_name})
    for name in ("cyp2c19", "cyp2d6"):
        data_vars[name] = (("arm", "patient"), np.stack([getattr(patients[a], name) for a in arms]).astype(str),
                           {"units": "1", "long_name": f"{name.upper()} phenotype"})
    ds = xr.Dataset(data_vars, coords=coords)
    for name, sc in SCALES.items():
        ds[name] = _observed(ds, name, scenario, patients, arms, params, arm_index)
    return ds


_PLASMA_ATTRS = {"units": "ng/mL", "long_name": "total plasma concentration (parents and active metabolites)"}


def _finish(ds: xr.Dataset, scenario, first, params) -> xr.Dataset:
    """Dataset attributes (from the first arm's run: dose and session days) and, for one arm, no arm dim."""
    ds.attrs.update(dose_days=np.array([d.time / DAY for d in first.doses], float),
                    session_days=np.array([s / DAY for s in first.sessions], float))
    ds.attrs.update(title=scenario.name, hypothesis=scenario.hypothesis, seed=scenario.seed,
                    neuroplastic_version=__version__, parameter_set=params.version,
                    duration_days=scenario.duration / DAY, output_every_days=scenario.output_every / DAY)
    if scenario.arms is None:
        ds = ds.isel(arm=0, drop=True)
    return ds


def _observed(ds, name, scenario, patients, arms, params, arm_index=0):
    from ..mood.scales import observed_scores
    exp = ds[f"{name}_recalled"]  # a rater reads mood over the recall window
    out = np.empty(exp.shape)
    for ai, a in enumerate(arms):
        e = exp.isel(arm=ai).values.T  # (time, patient)
        # keyed by (seed, global patient id, scale, time) only, not by the arm: a crossover's patient gets the same
        # rater noise at the same visit in every arm (parallel arms have disjoint patient ids anyway)
        obs = observed_scores({name: e}, params, scenario.seed * 1000, patients[a].ids, ds["time"].values)[name]
        out[ai] = obs.T
    sc = SCALES[name]
    return xr.DataArray(out, dims=exp.dims, coords=exp.coords,
                        attrs={"units": "1", "long_name": f"{sc.long_name} as rated (with rater noise)"})



def build_summary(scenario, ds: xr.Dataset, runs) -> dict:
    from ._trial_stats import compare, first_response_day, km_median, rate_ci

    # means over patients are computed in a fixed memory layout (plasma: patients summed in order; occupancies:
    # summed pairwise, the layout the in-memory Dataset has) so a Dataset read back from disk gives the same bits
    t = ds["time"].values
    summ: dict = {"scenario": scenario.name, "hypothesis": scenario.hypothesis, "seed": scenario.seed,
                  "duration_days": scenario.duration / DAY, "neuroplastic_version": ds.attrs["neuroplastic_version"],
                  "parameter_set": ds.attrs["parameter_set"], "patients_per_arm": int(ds.sizes["patient"]),
                  "design": scenario.design, "arms": {}}
    endpoint_data: dict = {}
    for a, run in runs.items():
        sel = ds.sel(arm=a) if "arm" in ds.dims else ds
        arm: dict = {}
        for name in SCALES:
            arm[name] = {}
            for kind, var in (("rated", name), ("expected", f"{name}_recalled")):
                s = sel[var].values  # (patient, time)
                b, f = s[:, 0], s[:, -1]
                responder = response(f, b)
                remitter = remission(f, name)
                days, event = first_response_day(s, t)
                block = {
                    "baseline_mean": float(b.mean()),
                    "final_mean": float(f.mean()),
                    "change_from_baseline": float((f - b).mean()),
                    "response_rate": float(responder.mean()),
                    "remission_rate": float(remitter.mean()),
                    "median_days_to_response": km_median(days, event),
                }
                if len(b) > 1:
                    block["response_ci95"] = rate_ci(responder)["ci95"]
                    block["remission_ci95"] = rate_ci(remitter)["ci95"]
                if kind == "rated":
                    arm[name].update(block)
                    endpoint_data.setdefault(name, {})[a] = {"baseline": b, "final": f, "responder": responder,
                                                             "remitter": remitter}
                else:
                    arm[name]["expected"] = block
        pk = {}
        if "plasma" in sel:
            for c in sel["compound"].values:
                if c not in run.plasma:
                    continue
                y = np.ascontiguousarray(sel["plasma"].sel(compound=c).values).mean(axis=0)
                i = int(np.argmax(y))
                pk[str(c)] = {"cmax_ng_per_ml": float(y[i]), "tmax_days": float(t[i]), "final_ng_per_ml": float(y[-1])}
        arm["pharmacokinetics"] = pk
        arm["doses"] = len(run.doses)
        occ = {}
        for k in ("sert_occupancy", "net_occupancy", "dat_occupancy", "nmda_occupancy"):
            v = np.ascontiguousarray(sel[k].values.T).mean(axis=1)
            if v.max() > 0:
                occ[k] = {"max": float(v.max()), "final": float(v[-1])}
        arm["occupancy"] = occ
        summ["arms"][a] = arm
    arms = list(runs)
    if len(arms) > 1 and ds.sizes["patient"] > 1:
        ref = next((a for a in arms if "placebo" in a.lower()), arms[-1])
        summ["comparisons"] = {"reference_arm": ref}
        for a in arms:
            if a != ref:
                summ["comparisons"][f"{a} vs {ref}"] = {name: compare(endpoint_data[name][a], endpoint_data[name][ref])
                                                        for name in SCALES}
    if scenario.arms is None:
        only = summ["arms"].pop("treatment")
        del summ["arms"]
        summ.update(only)
    return finite_json(summ)
