"""A patient's digital twin: fit the traits behind a record's ratings, then forecast each next treatment.

Example
-------
>>> import neuroplastic.twin as twin
>>> rec = {"population": "mdd", "treatments": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}],
...        "ratings": [{"day": 0, "scale": "hamd17", "score": 24}, {"day": 14, "scale": "hamd17", "score": 19}]}
>>> tw = twin.fit(rec, particles=200, seed=1)
>>> fc = tw.forecast({"continue": None}, horizon="4 weeks", every="2 weeks")
>>> fc["options"][0]["days"], len(fc["options"][0]["scales"]["hamd17"]["q90"])
([28.0, 42.0], 2)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._units import DAY
from ..errors import ScenarioError
from ._fit import TRAITS, Twin, fit_many
from ._fit import fit as _fit
from ._record import Record, load_record, parse_record

__all__ = ["Record", "Twin", "fit", "fit_many", "load", "load_record", "parse_option", "parse_record", "save"]


def _as_record(record) -> Record:
    if isinstance(record, Record):
        return record
    if isinstance(record, dict):
        return parse_record(record)
    return load_record(record)


def fit(record, *, particles: int = 2000, seed: int = 0, params=None, progress=None) -> Twin:
    """Fit a record (a :class:`Record`, a mapping, or a ``.yaml``/``.csv`` path) and return its :class:`Twin`."""
    return _fit(_as_record(record), particles=particles, seed=seed, params=params, progress=progress)


def parse_option(raw, name: str = "option", horizon: float = 52 * 7 * DAY):
    """An option: a list of treatments (or a mapping with ``treatments:``) in the scenario language, validated as a
    scenario of length ``horizon`` (safety limits included); times count from the last rating. ``None`` or
    ``"continue"`` keeps the record's treatments."""
    from ..scenario import Scenario
    if raw is None or raw == "continue":
        return None
    if isinstance(raw, dict):
        extra = [k for k in raw if k != "treatments"]
        if extra:
            raise ScenarioError(f"{name}.{extra[0]}", raw[extra[0]], "treatments (an option is a list of treatments)")
        raw = raw.get("treatments")
    if not isinstance(raw, list):
        raise ScenarioError(name, raw, "a list of treatments, e.g. [{drug: bupropion, dose: 150 mg, every: 1 day}]")
    try:
        return Scenario.build(duration=f"{horizon} s", treatments=raw).treatments
    except ScenarioError as exc:
        raise exc.__class__(f"{name}.{exc.field}", exc.value, exc.allowed) from None


def _time(v, field):
    from ..scenario._schema import _time as t
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else t(v, field, positive=True)


def _forecast(self: Twin, options=None, *, horizon="12 weeks", every="2 weeks", seed=None) -> dict:
    """Posterior predictive of each option: ``options`` maps a name to a treatment list (scenario language, from
    the last rating), ``None`` or ``"continue"``; ``horizon`` and ``every`` are times (``'12 weeks'``) or seconds."""
    from ._forecast import forecast
    h = _time(horizon, "--horizon")
    e = _time(every, "--every")
    opts = {k: (v if isinstance(v, tuple) else parse_option(v, k, h)) for k, v in (options or {"continue": None}).items()}
    return forecast(self, opts, horizon=h, every=e, seed=seed)


Twin.forecast = _forecast


def save(tw: Twin, out_dir) -> Path:
    """Write ``record.yaml``, ``posterior.nc`` (particles: latent g, decoded traits, log-likelihood) and
    ``fit.json`` (diagnostics and trait posteriors) into ``out_dir``."""
    import xarray as xr

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pts = tw.patients()
    ds = xr.Dataset({"g": (("particle", "latent"), tw.g, {"long_name": "latent normal coordinates of the population sampler"}),
                     "loglik": (("particle",), tw.loglik, {"long_name": "log-likelihood of the record's ratings"}),
                     "stress": (("particle",), pts.stress, {"units": "1", "long_name": "stress load"}),
                     "plasticity_capacity": (("particle",), pts.capacity, {"units": "1"}),
                     "placebo_responsiveness": (("particle",), pts.placebo, {"units": "1"}),
                     "natural_course_speed": (("particle",), pts.episode_rate, {"units": "1"}),
                     "weight": (("particle",), pts.weight, {"units": "kg"}),
                     "cyp2c19": (("particle",), pts.cyp2c19.astype(str)),
                     "cyp2d6": (("particle",), pts.cyp2d6.astype(str))},
                    coords={"latent": list(TRAITS)},
                    attrs={"seed": tw.seed, "parameter_set": tw.params.version})
    ds.to_netcdf(out / "posterior.nc")
    (out / "record.yaml").write_text(tw.record.to_yaml())
    summary = {"record": tw.record.source, "population": tw.record.population, "last_day": tw.record.last_day,
               "seed": tw.seed, "parameter_set": tw.params.version, "diagnostics": tw.diagnostics,
               "traits": tw.trait_summary()}
    from ..results._result import dumps_summary
    (out / "fit.json").write_text(dumps_summary(summary))
    return out


def load(fit_dir, params=None) -> Twin:
    """The twin saved by :func:`save` (or ``neuroplastic twin fit``) in ``fit_dir``."""
    import xarray as xr

    from ..params import default_parameters
    d = Path(fit_dir)
    for f in ("posterior.nc", "record.yaml", "fit.json"):
        if not (d / f).is_file():
            raise ScenarioError("FIT_DIR", str(d), f"a folder written by 'neuroplastic twin fit' (no {f} here)")
    params = params or default_parameters()
    with xr.open_dataset(d / "posterior.nc") as ds:
        g, ll = ds["g"].values.copy(), ds["loglik"].values.copy()
        seed, version = int(ds.attrs["seed"]), str(ds.attrs["parameter_set"])
    if version != params.version:
        raise ScenarioError("FIT_DIR", str(d), f"a fit made with the current parameter set {params.version} "
                            f"(this one used {version}; fit again)")
    rec = load_record(d / "record.yaml")
    diag = json.loads((d / "fit.json").read_text()).get("diagnostics", {})
    return Twin(rec, np.asarray(g), np.asarray(ll), seed, params, diag)
