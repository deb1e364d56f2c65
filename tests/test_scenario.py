"""The scenario language: the issue's examples verbatim, clear one-line errors, and no crashes on random input."""

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuroplastic import Scenario, ScenarioError, parse_scenario

ESC = """
name: Escitalopram 10 mg daily
duration: 12 weeks
output_every: 1 day          # "1 hour" must work too
seed: 1
hypothesis: plasticity        # or: monoamine
patient: {cyp2c19: poor}     # optional trait overrides; default is a typical adult with moderate-severe MDD
treatments:
  - drug: escitalopram
    dose: 10 mg
    every: 1 day
    start: 0 days             # optional
    stop: 8 weeks             # optional
"""

KET = """
name: Ketamine infusion
duration: 14 days
output_every: 1 hour
treatments:
  - drug: ketamine
    dose: 0.5 mg/kg
    route: iv
    infusion: 40 min
    at: [0 days]
"""


def test_issue_examples_verbatim():
    s = parse_scenario(ESC)
    assert s.duration == 12 * 7 * 86400 and s.patient.cyp2c19 == "poor"
    d = s.treatments[0].drug
    assert d.dose == pytest.approx(10e-6) and d.stop == 8 * 7 * 86400
    assert len(d.dose_times(s.duration)) == 56
    k = parse_scenario(KET)
    assert k.output_every == 3600 and k.treatments[0].drug.dose_per_kg
    assert parse_scenario(ESC.replace("output_every: 1 day", "output_every: 1 hour")).output_every == 3600


@pytest.mark.parametrize("text", ["36 h", "2 weeks", "1.5 days", "90 min", "1 wk"])
def test_any_time_unit(text):
    assert parse_scenario(f"duration: {text}\ntreatments: []\n").duration > 0


def test_arms_and_cohorts_accepted():
    s = parse_scenario("duration: 2 weeks\narms:\n  a: [{drug: sertraline, dose: 50 mg, every: 1 day}]\n  b: []\n")
    assert [a for a, _ in s.arm_list()] == ["a", "b"]
    c = parse_scenario("duration: 2 weeks\npatients: {n: 100, population: mdd}\nvisits: [0 d, 1 w, 2 w]\ntreatments: []\n")
    assert c.n_patients == 100 and c.population == "mdd" and c.visits == (0.0, 7 * 86400.0, 14 * 86400.0)
    with pytest.raises(ScenarioError, match="mdd"):
        parse_scenario("duration: 2 weeks\npatients: {n: 10, population: martians}\ntreatments: []\n")


BAD = {
    "unknown drug": ("treatments:\n  - {drug: escitalopramm, dose: 10 mg, every: 1 day}", "escitalopram"),
    "wrong unit": ("treatments:\n  - {drug: escitalopram, dose: 10 Hz, every: 1 day}", "dose"),
    "negative dose": ("treatments:\n  - {drug: sertraline, dose: -50 mg, every: 1 day}", "positive"),
    "zero dose": ("treatments:\n  - {drug: sertraline, dose: 0 mg, every: 1 day}", "positive"),
    "above label": ("treatments:\n  - {drug: escitalopram, dose: 400 mg, every: 1 day}", "allow_off_label"),
    "twice daily above label": ("treatments:\n  - {drug: escitalopram, dose: 15 mg, every: 12 h}", "20 mg/day"),
    "bare number": ("treatments:\n  - {drug: escitalopram, dose: 10, every: 1 day}", "unit"),
    "per kg oral": ("treatments:\n  - {drug: escitalopram, dose: 0.1 mg/kg, every: 1 day}", "fixed dose"),
    "unknown route": ("treatments:\n  - {drug: ketamine, dose: 0.5 mg/kg, route: rectal, infusion: 40 min, at: [0 days]}", "route"),
    "stop before start": ("treatments:\n  - {drug: sertraline, dose: 50 mg, every: 1 day, start: 2 weeks, stop: 1 week}", "after start"),
    "overlapping infusions": ("treatments:\n  - {drug: ketamine, dose: 0.5 mg/kg, route: iv, infusion: 2 days, every: 1 day}", "overlap"),
    "overlapping schedules": ("treatments:\n  - {drug: sertraline, dose: 50 mg, every: 1 day}\n  - {drug: sertraline, dose: 50 mg, every: 1 day, start: 1 week}", "overlap"),
    "every and at": ("treatments:\n  - {drug: sertraline, dose: 50 mg, every: 1 day, at: [0 days]}", "not both"),
    "unknown key": ("treatmnts: []", "treatments"),
    "bad hypothesis": ("hypothesis: serotonin\ntreatments: []", "plasticity"),
    "bad phenotype": ("patient: {cyp2c19: slow}\ntreatments: []", "poor"),
    "weight-based dose without a weight": ("patient: {weight: null}\ntreatments:\n  - {drug: ketamine, dose: 0.5 mg/kg, route: iv, infusion: 40 min, at: [0 days]}", "patient weight"),
    "start after end": ("treatments:\n  - {drug: sertraline, dose: 50 mg, every: 1 day, start: 10 weeks}", "before the end"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_one_line(name):
    body, hint = BAD[name]
    with pytest.raises(ScenarioError) as exc:
        parse_scenario("duration: 4 weeks\n" + body + "\n")
    msg = str(exc.value)
    assert "\n" not in msg and hint in msg


def test_off_label_override_and_weight_required_range():
    s = parse_scenario("duration: 1 week\nallow_off_label: true\ntreatments:\n  - {drug: citalopram, dose: 60 mg, every: 1 day}\n")
    assert s.treatments[0].drug.dose == pytest.approx(60e-6)
    with pytest.raises(ScenarioError, match="weight"):
        parse_scenario("duration: 1 week\npatient: {weight: 5 kg}\ntreatments: []\n")


def test_malformed_yaml_and_no_object_construction():
    with pytest.raises(ScenarioError, match="YAML"):
        parse_scenario("duration: 4 weeks\ntreatments: [ {drug: escitalopram, dose: 10 mg\n")
    with pytest.raises(ScenarioError):
        parse_scenario("!!python/object/apply:os.system ['echo hacked']")


def test_python_api_equivalent():
    a = Scenario.build(duration="12 weeks", treatments=[{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}])
    b = parse_scenario("duration: 12 weeks\ntreatments:\n  - {drug: escitalopram, dose: 10 mg, every: 1 day}\n")
    assert a == b


_scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 500), st.floats(allow_nan=True),
                    st.sampled_from(["10 mg", "1 day", "0.5 mg/kg", "-3 h", "10 Hz", "soon", "escitalopram", "ketamine",
                                     "iv", "oral", "poor", "", "12 weeks", "40 min", "1e309 mg"]))
_keys = st.sampled_from(["name", "duration", "output_every", "seed", "hypothesis", "patient", "patients", "treatments",
                         "arms", "drug", "dose", "every", "at", "start", "stop", "route", "infusion", "weight",
                         "cyp2c19", "allow_off_label", "junk"])
_docs = st.recursive(_scalar, lambda ch: st.one_of(st.lists(ch, max_size=4), st.dictionaries(_keys, ch, max_size=6)),
                     max_leaves=25)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_docs)
def test_random_documents_only_validation_errors(doc):
    try:
        Scenario.build(**doc) if isinstance(doc, dict) and all(isinstance(k, str) for k in doc) else parse_scenario(yaml.safe_dump(doc))
    except ScenarioError as exc:
        assert "\n" not in str(exc)
