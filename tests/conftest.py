import functools
import json

import numpy as np
import pytest

import neuroplastic as npl


@functools.lru_cache(maxsize=None)
def _run(key):
    return npl.simulate(json.loads(key))


def run(doc: dict):
    """Cached simulate() for test documents (plain dicts of strings)."""
    return _run(json.dumps(doc, sort_keys=True))


def pill(drug, dose, weeks=12, hypothesis="plasticity", stop=None, output="1 day", patient=None):
    tr = {"drug": drug, "dose": dose, "every": "1 day"}
    if stop:
        tr["stop"] = stop
    doc = {"name": drug, "duration": f"{weeks} weeks", "output_every": output, "seed": 1, "hypothesis": hypothesis,
           "treatments": [tr]}
    if patient:
        doc["patient"] = patient
    return run(doc)


def series(ds, var, **sel):
    da = ds[var]
    for k, v in sel.items():
        da = da.sel({k: v})
    while da.ndim > 1:
        da = da.isel({[d for d in da.dims if d != "time"][0]: 0})
    return ds["time"].values, da.values


@pytest.fixture
def tmp_out(tmp_path):
    return tmp_path / "out"
