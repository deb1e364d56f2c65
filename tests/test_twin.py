"""The digital twin: records are refused with one line naming the entry or row; the fit is deterministic and does
not depend on which records share its runs; on synthetic patients drawn from the model its bands are honest."""

from __future__ import annotations

import os

import numpy as np
import pytest

import neuroplastic as npl
import neuroplastic.twin as twin
from neuroplastic.errors import ScenarioError
from neuroplastic.twin._forecast import forecast_many

ESC = [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}]


def rec(scores, days=(0, 14, 28, 42), **kw):
    return twin.parse_record({"population": "mdd", "treatments": ESC, **kw,
                              "ratings": [{"day": d, "scale": "hamd17", "score": s} for d, s in zip(days, scores)]})


@pytest.mark.parametrize("doc,hint", [
    ({"ratings": [{"day": 0, "scale": "hamd99", "score": 3}]}, "ratings[0].scale"),
    ({"ratings": [{"day": 0, "scale": "hamd17", "score": 60}]}, "ratings[0].score"),
    ({"ratings": [{"day": 0, "scale": "hamd17", "score": 20}, {"day": 14, "scale": "hamd17", "score": 18},
                  {"day": 7, "scale": "hamd17", "score": 19}]}, "ratings[2].day"),
    ({"ratings": [{"day": 3, "scale": "hamd17", "score": 20}]}, "day 0"),
    ({"ratings": []}, "ratings"),
    ({"population": "martians", "ratings": [{"day": 0, "scale": "hamd17", "score": 20}]}, "population"),
    ({"treatments": [{"drug": "escitalopram", "dose": "90 mg", "every": "1 day"}],
      "ratings": [{"day": 0, "scale": "hamd17", "score": 20}, {"day": 7, "scale": "hamd17", "score": 18}]}, "treatments[0].dose"),
    ({"ratings": [{"day": 0, "scale": "hamd17", "score": 20}], "diagnosis": "mdd"}, "diagnosis"),
])
def test_bad_records_get_one_line(doc, hint):
    with pytest.raises(ScenarioError) as exc:
        twin.parse_record(doc)
    assert "\n" not in str(exc.value) and hint in str(exc.value), str(exc.value)


def test_csv_record_names_the_row(tmp_path):
    good = tmp_path / "a.csv"
    good.write_text("type,day,scale,score,drug,dose,every,name,value\n"
                    "trait,,,,,,,population,mdd\n"
                    "trait,,,,,,,weight,80 kg\n"
                    "drug,0,,,escitalopram,10 mg,1 day,,\n"
                    "rating,0,hamd17,24,,,,,\n"
                    "rating,14,hamd17,20,,,,,\n")
    r = twin.load_record(good)
    assert r.last_day == 14 and r.scenario.patient.weight == 80.0 and r.scenario.treatments[0].drug.drug == "escitalopram"
    bad = tmp_path / "b.csv"
    bad.write_text("type,day,scale,score\nrating,0,hamd17,24\nrating,14,hamd17,99\n")
    with pytest.raises(ScenarioError, match=r"row 3\.score: 99"):
        twin.load_record(bad)
    bad.write_text("type,day,scale,score\nrating,0,hamd17,24\nrating,x,hamd17,20\n")
    with pytest.raises(ScenarioError, match=r"row 3\.day"):
        twin.load_record(bad)


@pytest.fixture(scope="module")
def fitted():
    """Three records fitted as one batch (they share every engine run): partial, fast and no improvement."""
    a, fast, slow = twin.fit_many([rec([24, 21, 18, 17]), rec([25, 16, 10, 7]), rec([25, 24, 24, 25])],
                                  particles=150, seed=2)
    return {"a": a, "fast": fast, "slow": slow}


def test_fit_is_deterministic_and_independent_of_batch_companions(fitted):
    """Record a fitted alone (at its batch position) gets the posterior it got in the batch of three: what a Dask
    worker fitting its share of a batch (``cli._fit_job``: fit_many with the records' batch positions) relies on."""
    one = twin.fit_many([rec([24, 21, 18, 17])], particles=150, seed=2, positions=[0])[0]
    np.testing.assert_array_equal(one.g, fitted["a"].g)
    np.testing.assert_array_equal(one.loglik, fitted["a"].loglik)


def test_known_traits_are_held():
    tw = twin.fit(rec([24, 21, 18, 17], patient={"weight": "95 kg", "cyp2c19": "poor"}), particles=100, seed=1)
    pts = tw.patients()
    assert np.all(pts.weight == 95.0) and np.all(pts.cyp2c19 == "poor")
    assert tw.trait_summary()["cyp2c19"] == {"poor": 1.0}


def test_an_improving_record_shifts_the_posterior_toward_responders(fitted):
    fast, slow = fitted["fast"], fitted["slow"]
    f = fast.forecast({"continue": None}, horizon="4 weeks", every="2 weeks")["options"][0]
    s = slow.forecast({"continue": None}, horizon="4 weeks", every="2 weeks")["options"][0]
    assert f["scales"]["hamd17"]["median"][-1] + 5 < s["scales"]["hamd17"]["median"][-1]
    assert f["p_response"]["hamd17"] > 0.7 > 0.2 > s["p_response"]["hamd17"]
    assert f["p_relapse"]["hamd17"] is not None and s["p_relapse"]["hamd17"] is None


def test_a_baseline_only_record_gives_the_population_forecast():
    """With nothing after baseline the twin forecasts what the population does from that baseline."""
    pop = npl.simulate({"name": "pop", "duration": "8 weeks", "seed": 5, "patients": {"n": 600, "population": "mdd"},
                        "visits": ["0 d", "4 w", "8 w"], "treatments": ESC}).dataset["hamd17"].values
    b = float(np.median(pop[:, 0]))
    near = np.abs(pop[:, 0] - b) <= 1
    tw = twin.fit(rec([b], days=(0,)), particles=600, seed=5)
    o = tw.forecast({"continue": None}, horizon="8 weeks", every="4 weeks")["options"][0]["scales"]["hamd17"]
    assert abs(o["median"][-1] - np.median(pop[near, 2])) <= 1.5
    assert abs((o["q90"][-1] - o["q10"][-1]) - np.subtract(*np.quantile(pop[near, 2], [0.9, 0.1]))) <= 3


@pytest.mark.skipif(not os.environ.get("NEUROPLASTIC_SLOW"),
                    reason="50 synthetic patients (~1 min): set NEUROPLASTIC_SLOW=1 (kept out of CI for its time)")
def test_honest_bands_on_synthetic_patients():
    """50 patients drawn from the model (known traits, rated with rater noise): fitted on weeks 0-4, the 80% band
    holds 70-90% of the true ratings of weeks 6-12, and the twin's median absolute error is at most 80% of the
    population-average forecast's."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studies"))
    from twin_calibration import run
    # 60 particles and four weeks of ratings keep CI short; the 1000-particle, six-week table is in docs/howto.md
    r = run(n=50, particles=60, seed=11, fit_weeks=4)
    assert 0.70 <= r["coverage"]["80%"] <= 0.90, r
    assert r["error_ratio"] <= 0.8, r


def test_forecast_options_and_errors(tmp_path, fitted):
    tw = fitted["a"]
    fc = tw.forecast({"continue": None, "stop": [], "raise": [{"drug": "escitalopram", "dose": "20 mg", "every": "1 day"}]},
                     horizon="6 weeks", every="2 weeks")
    names = [o["name"] for o in fc["options"]]
    assert names == ["continue", "stop", "raise"] and fc["options"][0]["days"] == [56.0, 70.0, 84.0]
    for o in fc["options"]:
        q = o["scales"]["hamd17"]
        assert all(a <= b <= c <= d <= e for a, b, c, d, e in zip(q["q2.5"], q["q10"], q["median"], q["q90"], q["q97.5"]))
    with pytest.raises(ScenarioError, match="raise.treatments\\[0\\].dose"):
        tw.forecast({"raise": [{"drug": "escitalopram", "dose": "60 mg", "every": "1 day"}]})
    twin.save(tw, tmp_path / "fit")
    back = twin.load(tmp_path / "fit")
    np.testing.assert_array_equal(back.g, tw.g)
    assert back.forecast({"continue": None}, horizon="2 weeks", every="2 weeks") == \
        tw.forecast({"continue": None}, horizon="2 weeks", every="2 weeks")


def test_twin_cli_round_trip_and_one_line_errors(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    ex = Path(__file__).resolve().parents[1] / "examples" / "twin"
    run = lambda *a: subprocess.run([sys.executable, "-m", "neuroplastic", "twin", *a], capture_output=True, text=True)  # noqa: E731
    p = run("fit", str(ex / "escitalopram_6_weeks.yaml"), "--out", str(tmp_path / "f"), "--particles", "100")
    assert p.returncode == 0, p.stderr
    p = run("forecast", str(tmp_path / "f"), "--option", "continue", "--option", f"raise={ex / 'raise_dose.yaml'}",
            "--horizon", "4 weeks", "--every", "2 weeks")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "f" / "forecast.json").is_file() and (tmp_path / "f" / "forecast.png").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text("ratings:\n  - {day: 0, scale: hamd17, score: 70}\n")
    p = run("fit", str(bad), "--out", str(tmp_path / "g"))
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert p.returncode == 2 and len(lines) == 1 and "ratings[0].score" in lines[0]
    assert not (tmp_path / "g").exists()
    p = run("forecast", str(tmp_path / "f"), "--option", "raise")
    assert p.returncode == 2 and "NAME=FILE.yaml" in p.stderr


def test_forecast_ranks_the_options_and_carries_the_fit(fitted):
    tw = fitted["a"]
    fc = tw.forecast({"continue": None, "stop": []}, horizon="6 weeks", every="3 weeks")
    rk = fc["ranking"]
    assert rk["scale"] == "hamd17" and {o["name"] for o in rk["options"]} == {"continue", "stop"}
    p = [o["p_remission"] for o in rk["options"]]
    assert p == sorted(p, reverse=True)
    assert fc["fit"]["days"][:4] == [0.0, 7.0, 14.0, 21.0] and len(fc["fit"]["scales"]["hamd17"]["median"]) == len(fc["fit"]["days"])


def test_forecast_paths_meet_life_events_after_the_last_rating():
    """The record's period is in the fitted traits (its fit meets no events, so the posterior does not depend on the
    event rate); the months ahead bring each particle its own seeded life events, which widen the upper band."""
    base = npl.default_parameters()
    r = rec([24, 18, 12, 9])
    rare, often = (twin.fit(r, particles=120, seed=3, params=base.with_values({"population.life_events.rate": x}))
                   for x in (0.05, 2.0))
    np.testing.assert_array_equal(rare.g, often.g)
    q = [tw.forecast({"continue": None}, horizon="26 weeks", every="13 weeks")["options"][0]["scales"]["hamd17"]
         for tw in (rare, often)]
    assert q[1]["q97.5"][-1] > q[0]["q97.5"][-1]
    assert q[1]["mean"][-1] > q[0]["mean"][-1]
    again = often.forecast({"continue": None}, horizon="26 weeks", every="13 weeks")["options"][0]["scales"]["hamd17"]
    assert again == q[1]
