"""Trial designs: phases with eligibility and randomisation, rules that react to ratings, relapse endpoints.

The engine's claim is causal: a patient's trajectory is an ordinary run of the treatments the design gave it, and
every decision reads only the rated scores a clinician would have seen by then. The tests check exactly that on
small cohorts (a few seconds each), plus determinism across chunkings and the one-line errors of every new key.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import neuroplastic as npl
from neuroplastic import parse_scenario
from neuroplastic.errors import ScenarioError
from neuroplastic.mood.scales import remission, response

MAINT = """
name: maintenance
seed: 5
output_every: 1 week
patients: {n: 40, population: mdd}
phases:
  - {name: open-label, duration: 6 weeks, treatments: [{drug: escitalopram, dose: 10 mg, every: 1 day}]}
  - name: maintenance
    duration: 8 weeks
    eligible: {who: responders, scale: hamd17}
    arms:
      continue: [{drug: escitalopram, dose: 10 mg, every: 1 day}]
      placebo: [{placebo: {form: pill}}]
endpoints:
  relapse: {scale: hamd17, at_least: 14, consecutive: 1, visits: 1 week}
"""

RULES = """
name: switch non-remitters
seed: 3
duration: 10 weeks
output_every: 1 week
patients: {n: 30, population: mdd}
treatments:
  - {drug: citalopram, dose: 20 mg, every: 1 day}
rules:
  - name: level 2
    when: {at: 4 weeks, scale: hamd17, status: not_remitted}
    then:
      randomise:
        sertraline: {switch: [{drug: sertraline, dose: 100 mg, every: 1 day}]}
        augment: {add: [{drug: bupropion, dose: 150 mg, every: 1 day}]}
"""


@pytest.fixture(scope="module")
def maint():
    return npl.simulate(MAINT)


@pytest.fixture(scope="module")
def rules():
    return npl.simulate(RULES)


def _labels(ds):
    return json.loads(ds["arm_at_time"].attrs["labels"])


def test_phase_durations_make_the_scenario():
    sc = parse_scenario(MAINT)
    assert sc.duration == 14 * 7 * 86400.0
    assert [p.start / 86400 for p in sc.phases] == [0.0, 42.0]


def test_eligibility_is_the_rated_response_at_the_boundary(maint):
    ds = maint.dataset
    t = ds["time"].values
    b = ds["hamd17"].values[:, 0]
    at = ds["hamd17"].values[:, int(np.argmin(np.abs(t - 42)))]
    assert np.array_equal(ds["eligible"].sel(phase_name="maintenance").values.astype(bool), response(at, b))


def test_randomisation_is_balanced_among_the_eligible(maint):
    ds = maint.dataset
    labels = _labels(ds)
    last = ds["arm_at_time"].values[:, -1]
    n = {lab: int((last == labels.index(lab)).sum()) for lab in labels}
    el = int(ds["eligible"].sel(phase_name="maintenance").sum())
    assert n["maintenance/continue"] + n["maintenance/placebo"] == el
    assert abs(n["maintenance/continue"] - n["maintenance/placebo"]) <= 1
    assert n.get("off study", 0) == 40 - el
    assert maint.summary["phases"][1]["entered"] == el


def test_a_patient_is_an_ordinary_run_of_its_own_treatments(maint):
    """Causality: a continued patient's whole trajectory equals a plain run of 14 weeks of escitalopram; a placebo
    patient's equals 6 weeks of escitalopram then a placebo pill."""
    ds = maint.dataset
    labels = _labels(ds)
    last = ds["arm_at_time"].values[:, -1]
    for arm, trs in (("maintenance/continue", [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}]),
                     ("maintenance/placebo", [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day", "stop": "6 weeks"},
                                              {"placebo": {"form": "pill", "start": "6 weeks"}}])):
        i = int(np.flatnonzero(last == labels.index(arm))[0])
        plain = npl.simulate({"name": "plain", "seed": 5, "duration": "14 weeks", "output_every": "1 week",
                              "patients": {"n": 40, "population": "mdd"}, "treatments": trs}).dataset
        np.testing.assert_allclose(ds["hamd17_expected"].values[i], plain["hamd17_expected"].values[i], rtol=0, atol=1e-9)
        assert np.array_equal(ds["hamd17"].values[i], plain["hamd17"].values[i])


def test_relapse_day_is_the_first_visit_at_or_above_the_threshold(maint):
    ds = maint.dataset
    t = ds["time"].values
    visits = [42 + 7 * k for k in range(1, 9)]
    rows = [int(np.argmin(np.abs(t - v))) for v in visits]
    el = ds["eligible"].sel(phase_name="maintenance").values.astype(bool)
    s = ds["hamd17"].values[:, rows]
    expect = np.where((s >= 14).any(axis=1) & el, (np.argmax(s >= 14, axis=1) + 1) * 7.0, np.nan)
    np.testing.assert_array_equal(ds["relapse_day"].values, expect)
    arms = maint.summary["endpoints"]["relapse"]["arms"]
    assert set(arms) == {"continue", "placebo"}
    assert sum(a["relapses"] for a in arms.values()) == int(np.isfinite(expect).sum())


def test_summary_reports_km_and_a_hazard_ratio_with_ci(maint):
    ep = maint.summary["endpoints"]["relapse"]
    hr = ep["hazard_ratios"]["continue vs placebo"]
    assert "model" in hr and ("note" in hr or hr["ci95"][0] <= hr["estimate"] <= hr["ci95"][1])
    for a in ep["arms"].values():
        assert a["km_curve"]["relapse_free"][0] == 1.0
        assert np.all(np.diff(a["km_curve"]["relapse_free"]) <= 0)


def test_rule_fires_on_the_rated_score_a_clinician_sees(rules):
    ds = rules.dataset
    t = ds["time"].values
    at = ds["hamd17"].values[:, int(np.argmin(np.abs(t - 28)))]
    fired = np.isfinite(ds["rule_fired_day"].sel(rule="level 2").values)
    assert np.array_equal(fired, ~remission(at, "hamd17"))
    lv = ds["level"].values
    assert np.all(lv[fired, -1] == 2) and np.all(lv[~fired, -1] == 1)
    assert np.all(lv[:, 0] == 1)


def test_switch_replaces_the_drug_and_augmentation_adds_one(rules):
    ds = rules.dataset
    labels = _labels(ds)
    last = ds["arm_at_time"].values[:, -1]
    comp = list(ds["compound"].values)
    pl = ds["plasma"].values   # patient, compound, time
    sw = last == labels.index("level 2: sertraline")
    au = last == labels.index("level 2: augment")
    assert sw.any() and au.any() and abs(int(sw.sum()) - int(au.sum())) <= 1
    cit, ser, bup = comp.index("citalopram"), comp.index("sertraline"), comp.index("bupropion")
    assert np.all(pl[sw, ser, -1] > 0) and np.all(pl[sw, cit, -1] < 0.05 * pl[sw, cit, 4])   # washed out
    assert np.all(pl[au, bup, -1] > 0) and np.all(pl[au, cit, -1] > 0.5 * pl[au, cit, 4])
    assert np.all(pl[~(sw | au), ser, :] == 0)
    levels = rules.summary["levels"]
    assert [x["level"] for x in levels] == [1, 2] and levels[1]["entered"] == int((sw | au).sum())


@pytest.mark.parametrize("split", ["chunks of 7", "process pool", pytest.param("dask workers", marks=pytest.mark.skipif(
    not os.environ.get("NEUROPLASTIC_SLOW"), reason="starts a Dask cluster: set NEUROPLASTIC_SLOW=1"))])
def test_same_numbers_however_the_work_is_split(split, monkeypatch, rules):
    """Rules included: any chunking or back end gives the numbers of the one-chunk, in-process run."""
    kw = {}
    if split == "chunks of 7":
        monkeypatch.setenv("NEUROPLASTIC_CHUNK", "7")
    elif split == "process pool":
        monkeypatch.setenv("NEUROPLASTIC_POOL_MIN", "1")
        monkeypatch.setenv("NEUROPLASTIC_CHUNK", "10")
    else:
        kw["workers"] = 2
    again = npl.simulate(RULES, **kw).dataset
    for v in ("hamd17", "hamd17_expected", "arm_at_time", "level", "rule_fired_day"):
        np.testing.assert_array_equal(again[v].values, rules.dataset[v].values)


def test_change_dose_and_taper_reshape_the_schedule():
    from neuroplastic.scenario._design import shift
    from neuroplastic.trials._adaptive import Cohort, _apply
    from neuroplastic.engine._simulate import patients_from
    sc = parse_scenario("""
duration: 8 weeks
treatments: [{drug: escitalopram, dose: 10 mg, every: 1 day}]
rules:
  - {name: up, when: {at: 2 weeks, status: not_remitted}, then: {change_dose: {drug: escitalopram, dose: 20 mg}}}
  - {name: down, when: {at: 4 weeks, status: not_remitted}, then: {taper: {drug: escitalopram, over: 2 weeks}}}
""")
    plan = tuple(shift(t, 0.0, sc.duration) for t in sc.treatments)
    c = Cohort("x", patients_from(sc), [plan], [[(0.0, "x")]], [[(0.0, 1)]], np.ones(1, bool), np.full(1, np.inf),
               runs=[None])
    _apply(c, 0, sc.rules[0].then, 14 * 86400.0, sc.duration, sc, "up", sc.rules[0])
    _apply(c, 0, sc.rules[1].then, 28 * 86400.0, sc.duration, sc, "down", sc.rules[1])
    doses = sorted((t, round(tr.drug.dose * 1e6, 6)) for tr in c.plans[0] for t in tr.drug.dose_times(sc.duration))
    day = {round(t / 86400): d for t, d in doses}
    assert day[13] == 10 and day[14] == 20 and day[27] == 20
    assert day[28] == round(20 * 2 / 3, 6) and day[35] == round(20 / 3, 6)
    assert max(day) == 41   # nothing after the two-week taper


@pytest.mark.parametrize("text,hint", [
    ("phases: []\n", "phases"),
    ("phases: [{name: a, duration: 2 weeks}]\n", "exactly one of 'treatments' or 'arms'"),
    ("phases: [{name: a, duration: 2 weeks, treatments: []}, {name: a, duration: 2 weeks, treatments: []}]\n", "phases[1].name"),
    ("phases: [{name: a, duration: 2 weeks, treatments: [], eligible: responders}]\n", "phases[0].eligible"),
    ("phases: [{name: a, duration: 2 weeks, treatments: []}, {name: b, duration: 1 week, treatments: [], eligible: {who: winners}}]\n",
     "phases[1].eligible.who"),
    ("phases: [{name: a, duration: 2 weeks, treatments: []}, {name: b, duration: 1 week, treatments: [], eligible: {who: all, visits: 3}}]\n",
     "at_most"),
    ("duration: 3 weeks\nphases: [{name: a, duration: 2 weeks, treatments: []}]\n", "the phases' total"),
    ("phases: [{name: a, duration: 2 weeks, treatments: [{drug: escitalopram, dose: 90 mg, every: 1 day}]}]\n",
     "phases[0].treatments[0].dose"),
    ("phases: [{name: a, duration: 2 weeks, arms: {x: [{drug: ketamine, dose: 5 mg/kg, infusion: 40 min}]}}]\n",
     "phases[0].arms.x[0].dose"),
    ("phases: [{name: a, duration: 2 weeks, treatments: []}]\ntreatments: []\n", "inside each phase"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 2 weeks, status: remitted}}]\n", "rules[0].then"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 2 weeks}, then: {stop: all}}]\n", "a condition"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 6 weeks, status: remitted}, then: {stop: all}}]\n", "rules[0].when.at"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 2 weeks, every: 1 week, status: remitted}, then: {stop: all}}]\n", "exactly one of 'at'"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 2 weeks, status: happy}, then: {stop: all}}]\n", "rules[0].when.status"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 2 weeks, at_least: 99}, then: {stop: all}}]\n", "rules[0].when.at_least"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 2 weeks, status: remitted}, then: {jump: all}}]\n", "rules[0].then.jump"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 2 weeks, status: remitted}, then: {stop: aspirin}}]\n", "rules[0].then.stop"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 2 weeks, status: remitted}, then: {switch: [{drug: sertraline, dose: 500 mg, every: 1 day}]}}]\n",
     "rules[0].then.switch[0].dose"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 2 weeks, status: remitted}, then: {randomise: {a: {stop: all}}}}]\n", "two options"),
    ("duration: 4 weeks\ntreatments: []\nrules: [{when: {at: 2 weeks, status: remitted}, then: {taper: {drug: sertraline}}}]\n", "then.taper.over"),
    ("duration: 4 weeks\ntreatments: []\nendpoints: {relapse: {at_least: 100}}\n", "endpoints.relapse.at_least"),
    ("duration: 4 weeks\ntreatments: []\nendpoints: {relapse: {phase: maintenance}}\n", "endpoints.relapse.phase"),
    ("duration: 4 weeks\ntreatments: []\nendpoints: {survival: {}}\n", "endpoints.survival"),
])
def test_bad_design_keys_get_one_line(text, hint):
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text)
    msg = str(exc.value)
    assert "\n" not in msg and hint in msg, msg


DROPOUT = """
name: dropout
duration: 8 weeks
seed: 3
patients: {n: 120, population: mdd}
visits: [0 d, 1 w, 2 w, 4 w, 6 w, 8 w]
dropout: true
arms:
  escitalopram: [{drug: escitalopram, dose: 10 mg, every: 1 day}]
  placebo: [{placebo: {form: pill}}]
"""


@pytest.fixture(scope="module")
def dropped():
    return npl.simulate(DROPOUT)


def test_dropout_rates_are_those_of_published_trials(dropped):
    """About a quarter of patients leave an 8-week trial (placebo arms ~26%, drug arms a little more)."""
    arms = dropped.summary["dropout"]["arms"]["hamd17"]
    for a in arms.values():
        assert 0.12 <= a["dropout_rate"] <= 0.40, a


def test_dropout_is_informative_and_analyses_differ(dropped):
    """Non-improvers leave more often, so LOCF, completers and MMRM give different drug-placebo differences; the
    simulated truth (every patient) is known beside them."""
    ds = dropped.dataset
    day = ds["dropout_day"].values        # arm, patient
    s = ds["hamd17"].values
    t = ds["time"].values
    # the hazard of leaving at a visit rises with the rated score (relative to baseline) at the visit before: pooled
    # over visits, those who leave at a visit were less improved at the one before than those who stay past it
    visits = (7, 14, 28, 42, 56)
    leavers, stayers = [], []
    for prev, now in zip(visits[1:-1], visits[2:]):
        ratio = s[:, :, int(np.argmin(np.abs(t - prev)))] / np.maximum(s[:, :, 0], 1.0)
        there = ~(day <= prev)                       # in the study at the earlier visit (NaN: never left)
        leavers.append(ratio[there & (day == now)])
        stayers.append(ratio[there & ~(day <= now)])
    assert np.concatenate(leavers).mean() > np.concatenate(stayers).mean()
    comp = dropped.summary["dropout"]["comparisons"]["hamd17"]["escitalopram vs placebo"]
    vals = [comp["all_patients"], comp["completers"], comp["locf"], comp["mmrm"]["estimate"]]
    assert all(v is not None for v in vals) and len({round(v, 6) for v in vals}) == 4
    assert comp["mmrm"]["ci95"][0] < comp["mmrm"]["estimate"] < comp["mmrm"]["ci95"][1]


def test_dropouts_are_out_of_the_study_from_their_missed_visit(dropped):
    ds = dropped.dataset
    day = ds["dropout_day"].values
    ins = ds["in_study"].values
    t = ds["time"].values
    a, i = np.argwhere(np.isfinite(day))[0]
    assert day[a, i] in (7, 14, 28, 42, 56)
    assert np.all(ins[a, i, t < day[a, i]] == 1) and np.all(ins[a, i, t >= day[a, i]] == 0)


def test_dropout_draws_are_the_patients_own(monkeypatch, dropped):
    monkeypatch.setenv("NEUROPLASTIC_CHUNK", "13")
    again = npl.simulate(DROPOUT).dataset
    np.testing.assert_array_equal(again["dropout_day"].values, dropped.dataset["dropout_day"].values)


def test_dropout_needs_a_cohort():
    with pytest.raises(ScenarioError, match="a cohort for dropout"):
        parse_scenario("duration: 4 weeks\ndropout: true\ntreatments: []\n")
    with pytest.raises(ScenarioError, match="dropout.base_hazard"):
        parse_scenario("duration: 4 weeks\npatients: {n: 10}\ndropout: {base_hazard: 3 mg}\ntreatments: []\n")


def test_tms_day_lists_and_tapers():
    sc = parse_scenario("duration: 10 weeks\ntreatments:\n"
                        "  - tms: {protocol: 10hz, pulses: 3000, sessions_per_week: [5, 5, 3, 2, 1]}\n")
    days = [int(x // 86400) for x in sc.treatments[0].tms.schedule.session_starts(sc.duration, 1200.0)]
    assert days == [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 14, 16, 18, 21, 25, 28]
    sc = parse_scenario("duration: 3 weeks\ntreatments:\n"
                        "  - tms: {protocol: itbs, days: [0 d, 2 d, 9 d], sessions_per_day: 2}\n")
    days = [int(x // 86400) for x in sc.treatments[0].tms.schedule.session_starts(sc.duration, 200.0)]
    assert days == [0, 0, 2, 2, 9, 9]


@pytest.mark.parametrize("drug,forms", [("venlafaxine", {"ir": 2.0, "xr": 5.3}), ("bupropion", {"ir": 2.0, "sr": 3.0, "xl": 5.0})])
def test_formulations_have_their_labelled_tmax(drug, forms):
    for form, tmax in forms.items():
        r = npl.simulate({"duration": "1 day", "output_every": "10 min", "treatments": [
            {"drug": drug, "dose": "75 mg", "formulation": form}]})
        pl = r.dataset["plasma"].sel(compound=drug).values
        assert abs(r.dataset["time"].values[int(np.argmax(pl))] * 24 - tmax) <= 0.5, (form, tmax)


def test_formulation_refused_where_the_drug_has_one():
    with pytest.raises(ScenarioError, match="no formulation for sertraline"):
        parse_scenario("duration: 1 week\ntreatments: [{drug: sertraline, dose: 50 mg, every: 1 day, formulation: xr}]\n")
    with pytest.raises(ScenarioError, match="a formulation of bupropion: sr, ir, xl"):
        parse_scenario("duration: 1 week\ntreatments: [{drug: bupropion, dose: 150 mg, every: 1 day, formulation: xr}]\n")


def test_stable_remission_criterion_counts_visits():
    """Eligible = MADRS <= 12 at 3 of the last 4 weekly visits before the boundary."""
    res = npl.simulate("""
name: stable remitters
seed: 4
output_every: 1 week
patients: {n: 40, population: mdd}
phases:
  - {name: acute, duration: 8 weeks, treatments: [{drug: sertraline, dose: 100 mg, every: 1 day}]}
  - name: continuation
    duration: 2 weeks
    eligible: {who: all, scale: madrs, at_most: 12, visits: 3, of_last: 4, every: 1 week}
    treatments: [{drug: sertraline, dose: 100 mg, every: 1 day}]
""")
    ds = res.dataset
    t = ds["time"].values
    rows = [int(np.argmin(np.abs(t - d))) for d in (35, 42, 49, 56)]
    expect = (ds["madrs"].values[:, rows] <= 12).sum(axis=1) >= 3
    assert np.array_equal(ds["eligible"].sel(phase_name="continuation").values.astype(bool), expect)
    assert 0 < expect.sum() < 40


def test_change_dose_can_change_the_interval():
    sc = parse_scenario("""
duration: 8 weeks
patients: {n: 3, population: trd}
treatments: [{drug: esketamine, dose: 56 mg, every: 3.5 days}]
rules:
  - {name: weekly, when: {at: 4 weeks, status: responded}, then: {change_dose: {drug: esketamine, every: 1 week}}}
""")
    a = sc.rules[0].then
    assert a.every == 7 * 86400.0 and a.dose is None


def test_changed_dose_beyond_the_label_refused_before_running():
    from neuroplastic.errors import SafetyError
    with pytest.raises(SafetyError, match=r"rules\[0\]\.then\.change_dose.*at most 20 mg/day"):
        parse_scenario("""
duration: 6 weeks
patients: {n: 4, population: mdd}
treatments: [{drug: escitalopram, dose: 10 mg, every: 1 day}]
rules:
  - {name: up, when: {at: 2 weeks, status: not_remitted}, then: {change_dose: {drug: escitalopram, dose: 30 mg}}}
""")


def test_bad_design_through_the_command_line_is_one_line(tmp_path):
    import subprocess
    import sys
    f = tmp_path / "bad.yaml"
    f.write_text("phases:\n  - {name: a, duration: 2 weeks, treatments: []}\n"
                 "  - {name: b, duration: 2 weeks, treatments: [], eligible: {who: lucky}}\n")
    p = subprocess.run([sys.executable, "-m", "neuroplastic", "simulate", str(f), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "phases[1].eligible.who" in lines[0]
    assert not (tmp_path / "o").exists()

