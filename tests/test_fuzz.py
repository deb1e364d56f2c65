"""Property-based fuzzing of the scenario boundary (hardening).

Whatever a careless or hostile user writes, the loader either returns a validated Scenario or raises a
NeuroplasticError whose message is one line; the command line either exits 0 with finite outputs or exits 2 with
one line on stderr and nothing written.

CI runs a bounded number of examples with a fixed derivation (``derandomize``) so a red run reproduces. The longer
run documented in docs/howto.md draws fresh examples:

    NEUROPLASTIC_FUZZ_EXAMPLES=2000 NEUROPLASTIC_FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import xarray as xr
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neuroplastic import parse_scenario
from neuroplastic.errors import NeuroplasticError

N = int(os.environ.get("NEUROPLASTIC_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=N or 150, deadline=None, derandomize=not os.environ.get("NEUROPLASTIC_FUZZ_RANDOM"),
                suppress_health_check=list(HealthCheck), database=None)
FUZZ_CLI = settings(FUZZ, max_examples=max(1, N // 10) if N else 14)

KEYS = ["name", "description", "duration", "output_every", "seed", "hypothesis", "ketamine_mechanism", "patient",
        "patients", "treatments", "arms", "visits", "allow_off_label", "allow_unsafe", "design", "expectancy"]
TREATMENT_KEYS = ["drug", "dose", "route", "every", "at", "start", "stop", "infusion", "allow_off_label", "tms",
                  "vns", "psychotherapy", "placebo", "protocol", "pulses", "intensity", "frequency", "current",
                  "form", "sessions_per_day", "days", "allow_unsafe", "train_duration", "inter_train_interval"]
UNITS = ["mg", "mg/kg", "g", "ug", "h", "hour", "min", "s", "ms", "day", "days", "week", "weeks", "year", "Hz", "kHz",
         "mA", "A", "us", "kg", "% rMT", "%", "m", "", "furlong", "mg/day", "degC"]
NASTY = ["[/x]", "[link=http://x]esc[/link]", "[bold]", "\x00", "é", "∞", "🧠", "\u202e", "{{x}}", "%s", "${HOME}",
         "!!python/object:os.system", "../../etc/passwd", "/", "", " ", "nan", "inf", "-inf", "1e400", "true", "false",
         "null", "~", "0x1F", "1_000", "12 weeks", "10 mg", "120% rMT", "escitalopram", "ketamine", "pill", "sham_tms",
         "weekdays", "plasticity", "monoamine"]

magnitudes = st.one_of(st.integers(-10, 10 ** 6), st.floats(allow_nan=True, allow_infinity=True),
                       st.sampled_from([0, 1, 0.5, 1e-12, 1e30, -1]))
quantities = st.builds(lambda m, u: f"{m} {u}".strip(), magnitudes, st.sampled_from(UNITS))
scalars = st.one_of(st.none(), st.booleans(), magnitudes, quantities, st.sampled_from(NASTY),
                    st.text(max_size=40))


def _tree(children):
    return st.one_of(st.lists(children, max_size=4),
                     st.dictionaries(st.one_of(st.sampled_from(KEYS + TREATMENT_KEYS), st.text(max_size=8)),
                                     children, max_size=5))


values = st.recursive(scalars, _tree, max_leaves=12)
documents = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)


def _one_line_error(text: str) -> None:
    try:
        parse_scenario(text)
    except NeuroplasticError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg and len(msg) < 2000, msg
    # any other exception type escapes and fails the test


@FUZZ
@given(documents)
def test_loader_random_documents(doc):
    """Random mappings of the scenario's keys: a Scenario or one clear line, never another exception."""
    _one_line_error(yaml.safe_dump(doc, allow_unicode=True))


@FUZZ
@given(st.one_of(st.text(max_size=200),
                 st.lists(st.sampled_from(["duration: 1 week", "name: &a [x, x]", "x: *a", "name: *b", "a: &b {k: 1}",
                                           "treatments: [", "- {drug: escitalopram}", "  dose: 10 mg", "---",
                                           "!!python/object/apply:os.system ['true']", "name: !!binary aGVsbG8=",
                                           "duration: 1 week", "[[[[[[", "{a: {b: {c:", "? [a, b]\n: 1", "\t",
                                           "seed: 99999999999999999999999999", "name: [/x]", "%YAML 1.1"]),
                          max_size=8).map("\n".join)))
def test_loader_random_text(text):
    """Arbitrary text, YAML fragments, tags, anchors and aliases."""
    _one_line_error(text)


# -- the command line ------------------------------------------------------------------------------------------

def _base():
    return {"name": "fuzz", "duration": "3 days", "output_every": "12 h", "seed": 3,
            "treatments": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}]}


SHORT_DURATIONS = ["1 day", "3 days", "1 week", "2 weeks", "-1 day", "0 days", "nan h", "inf h", "soon", 3, None]
SMALL = st.sampled_from([{"drug": "sertraline", "dose": "50 mg", "every": "1 day"},
                         {"drug": "ketamine", "dose": "0.5 mg/kg", "route": "iv", "infusion": "40 min",
                          "at": ["0 days"]},
                         {"tms": {"protocol": "itbs", "intensity": "120% rMT"}},
                         {"psychotherapy": {"kind": "cbt"}},
                         {"placebo": {"form": "pill"}},
                         {"vns": {"current": "1 mA", "pulse_width": "250 us", "frequency": "20 Hz", "on": "30 s",
                                  "off": "5 min"}}])


@st.composite
def near_valid(draw):
    """A valid short scenario with a few fields replaced, removed or added: mostly one step from valid."""
    doc = _base()
    doc["duration"] = draw(st.sampled_from(SHORT_DURATIONS))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(KEYS))
        action = draw(st.sampled_from(["set", "drop", "treatment"]))
        if action == "drop":
            doc.pop(key, None)
        elif action == "treatment":
            tr = dict(draw(SMALL))
            if draw(st.booleans()):
                inner = next(iter(tr.values())) if len(tr) == 1 else tr
                inner[draw(st.sampled_from(TREATMENT_KEYS))] = draw(scalars)
            doc["treatments"] = [tr]
        elif key not in ("duration", "patients", "arms"):   # keep runs short: no large cohorts, few arms
            doc[key] = draw(values)
    return doc


@FUZZ_CLI
@given(near_valid())
@example({**_base(), "duration": "nan h"})
@example({**_base(), "output_every": "inf h"})
@example({**_base(), "name": "[/x] [link=x]esc[/link]"})
@example({**_base(), "treatments": [{"drug": "escitalopram", "dose": "inf mg", "every": "1 day",
                                      "allow_off_label": True}]})
@example({**_base(), "treatments": [{"tms": {"protocol": "custom", "frequency": "50 Hz", "train_duration": "10 s",
                                             "inter_train_interval": "1 s", "allow_unsafe": "false"}}]})
def test_cli_random_scenarios(tmp_path_factory, doc):
    """exit 0 with finite outputs, or exit 2 with one line and nothing written."""
    from typer.testing import CliRunner

    from neuroplastic.cli import app

    d = tmp_path_factory.mktemp("fuzz")
    f = d / "s.yaml"
    f.write_text(yaml.safe_dump(doc, allow_unicode=True))
    out = d / "out"
    r = CliRunner().invoke(app, ["simulate", str(f), "--out", str(out), "--no-figure"])
    if r.exit_code == 0:
        summary = json.loads((out / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(c))
        assert summary
        with xr.open_dataset(out / "results.nc") as ds:
            for name, da in ds.data_vars.items():
                if np.issubdtype(da.dtype, np.number):
                    assert np.all(np.isfinite(da.values)), name
        return
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2, (r.exit_code, r.stderr, r.exception)
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert not out.exists(), "nothing may be written on a refused scenario"
    assert not [p for p in d.iterdir() if p.name != "s.yaml"], sorted(p.name for p in d.iterdir())

