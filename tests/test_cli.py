"""The command line, as a user runs it: files, dims and units; bad input refused with one line and nothing written."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

NP = [sys.executable, "-m", "neuroplastic"]


def cli(*args, timeout=300):
    return subprocess.run([*NP, *args], capture_output=True, text=True, timeout=timeout)


def test_simulate_writes_results(tmp_path):
    sc = tmp_path / "s.yaml"
    sc.write_text("name: esc\nduration: 3 weeks\noutput_every: 12 h\nseed: 1\ntreatments:\n"
                  "  - {drug: fluoxetine, dose: 20 mg, every: 1 day}\n")
    out = tmp_path / "out"
    p = cli("simulate", str(sc), "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert {f.name for f in out.iterdir()} == {"results.nc", "summary.json", "overview.png"}
    ds = xr.open_dataset(out / "results.nc")
    assert ds["time"].attrs["units"] == "day" and ds.sizes["time"] == 43
    assert ds["plasma"].dims == ("patient", "compound", "time") and ds["plasma"].attrs["units"] == "ng/mL"
    assert set(ds["compound"].values) == {"fluoxetine", "norfluoxetine"}
    for k in ("sert_occupancy", "net_occupancy", "dat_occupancy", "nmda_occupancy"):
        assert ds[k].dims == ("patient", "time") and 0 <= float(ds[k].min()) and float(ds[k].max()) <= 1
    for name, da in ds.data_vars.items():
        assert "units" in da.attrs and "long_name" in da.attrs, name
    s = json.loads((out / "summary.json").read_text())
    assert s["hamd17"]["baseline_mean"] > 20 and "fluoxetine" in s["pharmacokinetics"]


BAD = {
    "unknown drug": "duration: 4 weeks\ntreatments:\n  - {drug: escitalopramm, dose: 10 mg, every: 1 day}\n",
    "wrong unit": "duration: 4 weeks\ntreatments:\n  - {drug: escitalopram, dose: 10 Hz, every: 1 day}\n",
    "negative dose": "duration: 4 weeks\ntreatments:\n  - {drug: sertraline, dose: -50 mg, every: 1 day}\n",
    "above label max": "duration: 4 weeks\ntreatments:\n  - {drug: escitalopram, dose: 400 mg, every: 1 day}\n",
    "malformed yaml": "duration: 4 weeks\ntreatments: [ {drug: escitalopram, dose: 10 mg\n",
    "bad duration": "duration: soon\ntreatments:\n  - {drug: escitalopram, dose: 10 mg, every: 1 day}\n",
    "unknown route": "duration: 1 day\ntreatments:\n  - {drug: ketamine, dose: 0.5 mg/kg, route: rectal, infusion: 40 min, at: [0 days]}\n",
    "cohort population": "duration: 1 week\npatients: {n: 10, population: martians}\ntreatments: []\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_refused_cleanly(tmp_path, name):
    sc = tmp_path / "s.yaml"
    sc.write_text(BAD[name])
    out = tmp_path / "out"
    p = cli("simulate", str(sc), "--out", str(out))
    msg = (p.stderr + p.stdout).strip()
    assert p.returncode != 0
    assert "Traceback" not in msg and msg and len(msg.splitlines()) <= 2
    assert not out.exists()
    assert not list(tmp_path.glob(".neuroplastic-*"))


def test_missing_file(tmp_path):
    p = cli("simulate", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o"))
    assert p.returncode != 0 and "Traceback" not in p.stderr


def test_drugs_lists_library():
    p = cli("drugs", "--json")
    rows = json.loads(p.stdout)
    names = {r["drug"] for r in rows}
    assert {"escitalopram", "fluoxetine", "ketamine", "esketamine", "bupropion"} <= names
    esc = next(r for r in rows if r["drug"] == "escitalopram")
    assert esc["half_lives"]["escitalopram"] == "30 h" and "prescribing information" in esc["half_life_sources"]["escitalopram"].lower()
