"""Safety limits are evaluated on what is actually delivered (hardening regressions).

TMS: trains less than one pulse period apart are one train (Rossi 2009 train-duration table); a minimum pause between
trains of rTMS above 1 Hz (Chen 1997); the ``tms`` command and scenarios share one checker. Drugs: per-kg limits hold
for fixed mg doses, per 24 h and for the lightest sampled patient; daily amounts use a rolling 24 h window over the
actual dose times; a minimum interval between doses by route. VNS: device current limit.
"""

import glob
import json
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

import neuroplastic as n
from neuroplastic.errors import SafetyError, ScenarioError
from neuroplastic.physics.tms import check_protocol, make_protocol, protocol_violations, session_summary
from neuroplastic.physics.tms.safety import safety_table
from neuroplastic.scenario import parse_scenario

ZERO_GAP = dict(frequency=20, train_duration=1, inter_train_interval=0)


def scenario(treatment: str, head: str = "", duration: str = "2 weeks"):
    return parse_scenario(f"{head}duration: {duration}\ntreatments:\n  - {treatment}\n")


# --- TMS: the delivered pulse train -------------------------------------------------------------------------------

def test_zero_gap_trains_are_one_train_and_refused():
    p = make_protocol("custom", 3000, **ZERO_GAP)
    assert p.longest_train == 150.0 and p.shortest_pause is None
    with pytest.raises(SafetyError) as err:
        check_protocol(p, 110)
    msg = str(err.value)
    assert err.value.field == "tms.train_duration" and "150 s" in msg and "one train" in msg
    assert "at most 1.6 s per train" in msg and "Rossi 2009" in msg and "allow_unsafe: true" in msg and "\n" not in msg
    check_protocol(p, 110, allow_unsafe=True)


def test_gap_shorter_than_one_pulse_period_merges_trains():
    merged = make_protocol("custom", 400, frequency=20, train_duration=1, inter_train_interval=0.04)
    apart = make_protocol("custom", 400, frequency=20, train_duration=1, inter_train_interval=0.05)
    assert merged.longest_train == 20.0 and apart.longest_train == 1.0
    assert apart.shortest_pause == pytest.approx(0.05)
    assert [e.field for e in protocol_violations(merged, 100)][0] == "tms.train_duration"
    assert [e.field for e in protocol_violations(apart, 100)] == ["tms.inter_train_interval"]


def test_zero_gap_protocol_refused_in_a_scenario():
    tms = "tms: {protocol: custom, frequency: 20 Hz, train_duration: 1 s, inter_train_interval: 0 s, pulses: 3000}"
    with pytest.raises(SafetyError, match="one train"):
        scenario(tms)
    assert scenario(tms, head="allow_unsafe: true\n").allow_unsafe


def test_short_inter_train_interval_refused():
    # Chen 1997: 20 Hz 1.6 s trains at 110% MT safe at 5 s, unsafe at <= 1 s above 100% MT
    assert "Chen" in safety_table()["inter_train_interval"]["source"]
    p = make_protocol("custom", 320, frequency=20, train_duration=1.6, inter_train_interval=1)
    with pytest.raises(SafetyError) as err:
        check_protocol(p, 110)
    assert err.value.field == "tms.inter_train_interval"
    assert "at least 5 s" in str(err.value) and "Chen 1997" in str(err.value) and "allow_unsafe" in str(err.value)
    check_protocol(make_protocol("custom", 320, frequency=20, train_duration=1.6, inter_train_interval=5), 110)
    # at or below 100% rMT: at least 1 s
    check_protocol(p, 100)
    with pytest.raises(SafetyError, match="at least 1 s"):
        check_protocol(make_protocol("custom", 320, frequency=20, train_duration=1.6, inter_train_interval=0.5), 100)
    text = ("tms: {protocol: custom, frequency: 10 Hz, train_duration: 4 s, inter_train_interval: 2 s, pulses: 3000, "
            "intensity: 120% rMT}")
    with pytest.raises(SafetyError, match="inter_train_interval"):
        scenario(text)


def test_clinical_protocols_still_accepted():
    for name, pct in [("10hz", 120), ("1hz", 120), ("5hz", 120), ("20hz", 100), ("itbs", 120), ("ctbs", 80)]:
        assert protocol_violations(make_protocol(name), pct) == [], name
    assert protocol_violations(make_protocol("itbs", 1800), 90) == []   # accelerated iTBS (Cole 2020)
    assert protocol_violations(make_protocol("custom", 1000, frequency=1, train_duration=None,
                                             inter_train_interval=0), 120) == []
    scenario("tms: {protocol: 10hz, pulses: 3000, intensity: 120% rMT, days: weekdays, stop: 6 weeks}")
    scenario("tms: {protocol: itbs, pulses: 1800, intensity: 90% rMT, sessions_per_day: 10, session_interval: 50 min, "
             "days: daily, stop: 5 days}")


def test_summary_uses_the_scenario_checker():
    cases = [("10hz", None, 120, {}), ("20hz", None, 110, {}), ("custom", 3000, 110, ZERO_GAP),
             ("custom", 320, 110, dict(frequency=20, train_duration=1.6, inter_train_interval=1)), ("itbs", 600, 130, {})]
    for name, pulses, pct, custom in cases:
        s = session_summary(name, pulses, pct, **custom)
        found = [str(e) for e in protocol_violations(make_protocol(name, pulses, **custom), pct)]
        assert s["safety_violations"] == found and s["within_safety_limits"] == (not found), name


def test_tms_command_reports_zero_gap_unsafe():
    from neuroplastic.cli import app
    r = CliRunner().invoke(app, ["tms", "--protocol", "custom", "--frequency", "20 Hz", "--train-duration", "1 s",
                                 "--inter-train-interval", "0 s", "--pulses", "3000", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["within_safety_limits"] is False
    assert s["train_duration_s"] == 150.0
    assert s["safety_violations"] and s["safety_violations"][0].startswith("tms.train_duration")
    ok = json.loads(CliRunner().invoke(app, ["tms", "--protocol", "10hz", "--json"]).stdout)
    assert ok["within_safety_limits"] is True and ok["safety_violations"] == []


# --- drugs: per kg, per day, per route ----------------------------------------------------------------------------

KET = "drug: ketamine, route: iv, infusion: 40 min"


def test_ketamine_fixed_mg_dose_checked_per_kg():
    with pytest.raises(SafetyError) as err:
        scenario(f"{{{KET}, dose: 3500 mg, at: [0 days]}}")
    assert err.value.field == "treatments[0].dose" and "mg/kg" in str(err.value) and "allow_off_label" in str(err.value)
    scenario(f"{{{KET}, dose: 35 mg, at: [0 days]}}")                       # 0.5 mg/kg at 70 kg
    scenario(f"{{{KET}, dose: 50 mg, at: [0 days]}}")                       # 0.71 mg/kg at 70 kg
    with pytest.raises(SafetyError, match="40 kg"):                           # a cohort's lightest patient: 1.25 mg/kg
        scenario(f"{{{KET}, dose: 50 mg, at: [0 days]}}", head="patients: {n: 20, population: trd}\n")
    with pytest.raises(SafetyError, match="mg/kg"):                           # a light single patient
        scenario(f"{{{KET}, dose: 50 mg, at: [0 days]}}", head="patient: {weight: 45 kg}\n")
    scenario(f"{{{KET}, dose: 3500 mg, at: [0 days]}}", head="allow_off_label: true\n")


def test_ketamine_per_day_limit():
    with pytest.raises(SafetyError):
        scenario(f"{{{KET}, dose: 1 mg/kg, every: 1 hour}}")
    with pytest.raises(SafetyError, match="per 24 h"):
        scenario(f"{{{KET}, dose: 0.6 mg/kg, at: [0 h, 4 h]}}")
    with pytest.raises(SafetyError, match="per 24 h"):
        scenario(f"{{{KET}, dose: 1 mg/kg, every: 3 h}}")
    scenario(f"{{{KET}, dose: 0.5 mg/kg, every: 1 day}}")
    scenario(f"{{{KET}, dose: 1 mg/kg, at: [0 days, 1 days]}}")             # 24 h apart: one a day
    scenario(f"{{{KET}, dose: 0.5 mg/kg, at: [0 days, 3 days]}}", head="patients: {n: 20, population: trd}\n")


def test_esketamine_label():
    scenario("{drug: esketamine, dose: 56 mg, at: [0 d, 3 d, 7 d, 10 d]}")
    scenario("{drug: esketamine, dose: 84 mg, at: [0 d, 3 d, 7 d, 10 d]}")
    scenario("{drug: esketamine, dose: 28 mg, at: [0 min, 5 min, 10 min]}")  # three devices 5 min apart = 84 mg
    with pytest.raises(SafetyError, match="mg/day"):
        scenario("{drug: esketamine, dose: 28 mg, at: [0 min, 5 min, 10 min, 15 min]}")
    with pytest.raises(SafetyError, match="per 7 days"):
        scenario("{drug: esketamine, dose: 84 mg, every: 1 day}")
    with pytest.raises(SafetyError, match="5 min"):
        scenario("{drug: esketamine, dose: 28 mg, at: [0 min, 1 min]}")


def test_daily_dose_is_a_rolling_24h_window():
    # every 7 h gives 4 doses in some 24 h window (0, 7, 14, 21 h); int(24 / 7) = 3 would let 240 mg/day through
    with pytest.raises(SafetyError, match="240 mg/day"):
        scenario("{drug: sertraline, dose: 60 mg, every: 7 h}")
    d = scenario("{drug: sertraline, dose: 50 mg, every: 7 h}").treatments[0].drug
    assert d.daily_dose_mg(70.0) == pytest.approx(200.0)
    assert d.doses_in_window(86400.0) == 4
    assert d.doses_in_window(86400.0, duration=10 * 3600.0) == 2
    stopped = scenario("{drug: sertraline, dose: 100 mg, every: 6 h, stop: 12 h}").treatments[0].drug
    assert stopped.doses_in_window(86400.0) == 2 and stopped.daily_dose_mg(70.0) == pytest.approx(200.0)
    at = scenario("{drug: escitalopram, dose: 10 mg, at: [0 h, 20 h, 28 h, 47 h]}").treatments[0].drug
    assert at.doses_in_window(86400.0) == 2
    with pytest.raises(SafetyError, match="30 mg/day"):
        scenario("{drug: escitalopram, dose: 10 mg, at: [0 h, 8 h, 16 h, 48 h]}")
    # exactly 24 h apart: one dose per window
    assert scenario("{drug: escitalopram, dose: 20 mg, every: 1 day}").treatments[0].drug.daily_dose_mg(70.0) == 20.0


def test_dose_every_second_refused_quickly():
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError):   # refused (by the dose-count cap or the interval) without listing the doses
        scenario("{drug: escitalopram, dose: 10 mg, every: 1 s}", duration="20 years")
    assert time.perf_counter() - t0 < 5
    with pytest.raises(SafetyError) as err:
        scenario("{drug: escitalopram, dose: 10 mg, every: 1 s}", duration="1 day")
    assert err.value.field == "treatments[0].every" and "at least 4 h between oral doses" in str(err.value)
    assert "allow_off_label: true" in str(err.value) and isinstance(err.value, ScenarioError)
    with pytest.raises(SafetyError, match="treatments\\[0\\].at"):
        scenario("{drug: sertraline, dose: 25 mg, at: [0 h, 1 h]}")
    with pytest.raises(SafetyError, match="end of one infusion"):
        scenario(f"{{{KET}, dose: 0.25 mg/kg, at: [0 h, 1 h]}}")
    scenario("{drug: venlafaxine, dose: 75 mg, every: 8 h}")                # IR three times a day
    scenario("{drug: sertraline, dose: 25 mg, at: [0 h, 1 h]}", head="allow_off_label: true\n", duration="1 day")


# --- VNS ----------------------------------------------------------------------------------------------------------

def test_vns_50_ma_refused():
    vns = "vns: {{current: {}, pulse_width: 250 us, frequency: 20 Hz, on: 30 s, off: 5 min}}"
    with pytest.raises(SafetyError) as err:
        scenario(vns.format("50 mA"))
    assert err.value.field == "treatments[0].vns.current" and "3.5 mA" in str(err.value)
    assert "allow_unsafe" in str(err.value)
    scenario(vns.format("1.0 mA"))
    scenario(vns.format("3.5 mA"))


# --- what ships still loads -----------------------------------------------------------------------------------------

def test_examples_and_validation_protocols_accepted():
    for f in glob.glob("examples/*.yaml"):
        n.load_scenario(f)
    from neuroplastic.scenario import Scenario
    from neuroplastic.validation import runner
    from neuroplastic.validation.targets import load_targets
    protocols, _ = load_targets()
    for name, pr in protocols.items():
        for arm, tr in pr.get("arms", {}).items():   # single-session protocols (tbs_session) have no arms
            doc = {k: pr[k] for k in runner._SCENARIO_KEYS if k in pr}
            Scenario.build(**doc, name=f"{name}:{arm}", treatments=tr)   # without allow_off_label


def test_cli_refusal_is_one_line_exit_2(tmp_path):
    sc = tmp_path / "ket.yaml"
    sc.write_text(f"duration: 2 days\ntreatments:\n  - {{{KET}, dose: 3500 mg, at: [0 days]}}\n")
    p = subprocess.run([sys.executable, "-m", "neuroplastic", "simulate", str(sc), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "mg/kg" in p.stderr and "Traceback" not in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ket.yaml"]
