"""Brain stimulation through the scenario and CLI: rTMS course, VNS over months, safety refusals, tms command."""

import json
import subprocess
import sys

import numpy as np
import pytest

from neuroplastic import SafetyError, parse_scenario
from conftest import run, series


def test_rtms_course_over_weeks_not_days():
    doc = {"duration": "8 weeks", "treatments": [{"tms": {"protocol": "10hz", "pulses": 3000, "intensity": "120% rMT",
                                                          "sessions_per_day": 1, "days": "weekdays", "stop": "6 weeks"}}]}
    t, h = series(run(doc).dataset, "hamd17_expected")
    _, hn = series(run({"duration": "8 weeks", "treatments": []}).dataset, "hamd17_expected")
    w6 = h[0] - h[42]
    assert w6 >= 4 and (h[0] - h[5]) <= 0.35 * w6
    assert h[42] < hn[42] - 1.5  # active beats no treatment (O'Reardon 2007: active > sham at weeks 4 and 6)
    late = run(doc).dataset["ltp_late"].values[0]
    assert late[42] > late[7] > 0  # consolidated change accumulates across sessions


def test_sessions_schedule_weekdays_and_accelerated():
    s = parse_scenario("duration: 2 weeks\ntreatments:\n  - tms: {protocol: itbs, sessions_per_day: 10, session_interval: 50 min, days: daily, stop: 5 days}\n")
    tms = s.treatments[0].tms
    starts = tms.schedule.session_starts(s.duration, tms.make_protocol().duration)
    assert len(starts) == 50
    w = parse_scenario("duration: 2 weeks\ntreatments:\n  - tms: {protocol: 10hz, days: weekdays}\n").treatments[0].tms
    assert len(w.schedule.session_starts(14 * 86400.0, w.make_protocol().duration)) == 10


def test_unsafe_tms_refused_unless_overridden():
    text = ("duration: 1 week\ntreatments:\n  - tms: {protocol: custom, frequency: 20 Hz, train_duration: 10 s, "
            "inter_train_interval: 1 s, pulses: 2000, intensity: 130% rMT, sessions_per_day: 1, days: daily}\n")
    with pytest.raises(SafetyError, match="Rossi"):
        parse_scenario(text)
    assert parse_scenario("allow_unsafe: true\n" + text).allow_unsafe


def test_vns_builds_over_months_and_device_limits():
    vns = {"current": "1.0 mA", "pulse_width": "250 us", "frequency": "20 Hz", "on": "30 s", "off": "5 min", "start": "2 weeks"}
    ds = run({"duration": "54 weeks", "output_every": "1 week", "treatments": [{"vns": vns}]}).dataset
    sham = [{"placebo": {"form": "implant", "start": "2 weeks"}}]  # the same implant expectancy, no stimulation
    none = run({"duration": "54 weeks", "output_every": "1 week", "treatments": sham}).dataset
    t, h = series(ds, "hamd17_expected")
    _, hn = series(none, "hamd17_expected")
    d12, d54 = hn[12] - h[12], hn[54] - h[54]
    assert 0 < d12 < d54 + 2  # a small VNS-specific gain at 10 weeks of stimulation that persists
    assert (h[0] - h[12]) < 0.5 * (h[0] - h[54])  # more at 12 months than at 10 weeks (Rush 2005)
    lc = ds["lc_firing"].values[0]
    assert lc[3] > lc[0] * 1.05  # LC driven within the first week of stimulation
    with pytest.raises(SafetyError, match="mA"):
        parse_scenario("duration: 1 week\ntreatments:\n  - vns: {current: 5 mA, pulse_width: 250 us, frequency: 20 Hz, on: 30 s, off: 5 min}\n")
    with pytest.raises(SafetyError, match="duty"):
        parse_scenario("duration: 1 week\ntreatments:\n  - vns: {current: 1 mA, pulse_width: 250 us, frequency: 20 Hz, on: 60 s, off: 30 s}\n")


def test_tms_command_json():
    from typer.testing import CliRunner

    from neuroplastic.cli import app

    def tms(*a):  # in-process (the command's own code path); the refusal below runs as a real subprocess
        p = CliRunner().invoke(app, ["tms", *a, "--json"])
        assert p.exit_code == 0, p.output
        return json.loads(p.output)
    r = {k: tms("--protocol", k[0], "--pulses", str(k[1]), "--intensity", "120% rMT") for k in
         [("1hz", 900), ("10hz", 3000), ("itbs", 600), ("ctbs", 600), ("ctbs", 300)]}
    w = {k: v["weight_change_30min"] for k, v in r.items()}
    assert w[("1hz", 900)] < 0 < w[("10hz", 3000)] and w[("itbs", 600)] > 0 > w[("ctbs", 600)]
    assert r[("ctbs", 600)]["aftereffect_duration_min"] > r[("ctbs", 300)]["aftereffect_duration_min"]
    assert 40 < r[("10hz", 3000)]["efield_peak_v_per_m"] < 200
    p = subprocess.run([sys.executable, "-m", "neuroplastic", "tms", "--protocol", "17hz"], capture_output=True, text=True)
    assert p.returncode != 0 and "Traceback" not in p.stderr
