"""Numbers that do not depend on how they are computed or kept: rater noise keyed by (seed, patient, scale, time),
no NaN/inf ever written, and a resource budget checked before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest

import neuroplastic as npl
from neuroplastic.errors import BudgetError, NeuroplasticError, NumericalError

SCALES = ("hamd17", "madrs", "qids_sr16")
BASE = {"name": "rater", "duration": "4 weeks", "seed": 12, "patients": {"n": 20, "population": "mdd"},
        "treatments": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}]}


@pytest.fixture(scope="module")
def daily():
    return npl.simulate(dict(BASE, output_every="1 day"), keep="full").dataset


def _same_at_shared_times(a, b):
    for name in SCALES:
        np.testing.assert_array_equal(a[name].sel(time=b["time"]).values, b[name].values, err_msg=name)


def test_rated_scores_do_not_depend_on_output_every(daily):
    weekly = npl.simulate(dict(BASE, output_every="1 week"), keep="full").dataset
    assert weekly.sizes["time"] == 5
    np.testing.assert_array_equal(daily["hamd17_expected"].sel(time=weekly["time"]).values,
                                  weekly["hamd17_expected"].values)
    _same_at_shared_times(daily, weekly)
    six_hourly = npl.simulate(dict(BASE, duration="1 week", output_every="6 h"), keep="full").dataset
    shared = daily["time"].values[daily["time"].values <= 7]
    for name in SCALES:
        np.testing.assert_array_equal(daily[name].sel(time=shared).values, six_hourly[name].sel(time=shared).values)


def test_rated_scores_do_not_depend_on_keep(daily):
    doc = dict(BASE, visits=["0 weeks", "2 weeks", "4 weeks"])
    visits = npl.simulate(doc, keep="visits").dataset
    full = npl.simulate(doc, keep="full").dataset
    assert visits["time"].values.tolist() == [0.0, 14.0, 28.0]
    _same_at_shared_times(full, visits)
    _same_at_shared_times(daily, visits)


def test_rated_scores_do_not_depend_on_chunking(daily):
    chunked = npl.simulate(dict(BASE, output_every="1 day"), keep="full", chunk=6).dataset
    for name in SCALES:
        np.testing.assert_array_equal(daily[name].values, chunked[name].values)


def test_rater_noise_is_per_patient_and_time_not_per_arm():
    """A crossover's patients are the same in every arm: with the same true score they get the same rating."""
    tr = [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}]
    doc = {"name": "x", "duration": "2 weeks", "output_every": "1 week", "seed": 3, "design": "crossover",
           "patients": {"n": 6}, "arms": {"first": tr, "second": tr}}
    ds = npl.simulate(doc).dataset
    for name in SCALES:
        np.testing.assert_array_equal(ds[f"{name}_expected"].sel(arm="first").values,
                                      ds[f"{name}_expected"].sel(arm="second").values)
        np.testing.assert_array_equal(ds[name].sel(arm="first").values, ds[name].sel(arm="second").values)
    noise = ds["hamd17"].sel(arm="first").values - np.round(ds["hamd17_expected"].sel(arm="first").values)
    assert np.abs(noise).max() > 0  # there is rater noise, it is just the patient's own


def test_normals_at_is_keyed_by_time_not_position():
    from neuroplastic._random import normals_at
    ids = np.arange(1000, 1100)
    t = np.arange(0, 85) * 86400.0
    z = normals_at(7, ids, 100, t)
    assert z.shape == (100, 85)
    np.testing.assert_array_equal(z[:, ::7], normals_at(7, ids, 100, t[::7]))
    np.testing.assert_array_equal(z[40:60], normals_at(7, ids[40:60], 100, t))
    assert not np.array_equal(z, normals_at(7, ids, 101, t))  # scales are independent
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 0.3


# -- finite-value guard ------------------------------------------------------------------------------------------

def _nan_params():
    from neuroplastic.params import default_parameters
    return default_parameters().with_values({"pk.escitalopram.cl": float("nan")}, check_range=False)


def test_nan_parameter_stops_the_run_naming_patient_day_and_variable():
    with pytest.raises(NumericalError) as exc:
        npl.simulate(dict(BASE, duration="3 days", patients={"n": 4}), params=_nan_params())
    msg = str(exc.value)
    assert msg.startswith("numerical error: patient ") and "\n" not in msg
    assert "day " in msg and "variable " in msg and "is not finite (nan)" in msg and "nothing was written" in msg
    assert exc.value.variable  # e.g. plasma_escitalopram
    assert isinstance(exc.value, NeuroplasticError)


def _inject_nan(monkeypatch, patient_row=3, time_row=2, variable="severity", chunk_start=None):
    """run_arm that returns a NaN in one output of one patient (by position in its chunk)."""
    from neuroplastic.engine import _simulate

    real = _simulate.run_arm

    def broken(scenario, treatments, patients, *a, **kw):
        r = real(scenario, treatments, patients, *a, **kw)
        if patient_row < patients.n and chunk_start in (None, int(patients.ids[0])):
            r.observed[variable] = r.observed[variable].copy()
            r.observed[variable][time_row, patient_row] = np.nan
        return r
    monkeypatch.setattr(_simulate, "run_arm", broken)


def test_streamed_run_with_nan_writes_nothing(tmp_path, monkeypatch):
    from neuroplastic._api import _simulate_to_disk
    _inject_nan(monkeypatch, patient_row=1, time_row=2)
    doc = dict(BASE, duration="1 week", patients={"n": 9})
    with pytest.raises(NumericalError) as exc:
        _simulate_to_disk(doc, tmp_path / "out", keep="full", chunk=4, processes=0)
    # chunks start at patients 0, 4, 8: row 1 of the first chunk is patient 1, time row 2 is day 2
    assert str(exc.value).startswith("numerical error: patient 1, day 2, variable severity is not finite (nan)")
    assert not (tmp_path / "out" / "results.nc").exists() and not (tmp_path / "out" / "summary.json").exists()
    assert not list(tmp_path.glob(".neuroplastic-*"))  # the temporary folder is gone too


def test_nan_is_named_by_global_patient_id(monkeypatch):
    _inject_nan(monkeypatch, patient_row=1, time_row=0, chunk_start=4)  # the second chunk: patients 4-7
    with pytest.raises(NumericalError, match=r"patient 5, day 0, variable severity"):
        npl.simulate(dict(BASE, duration="1 week", patients={"n": 9}, output_every="1 week"), chunk=4)


def test_cli_nan_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch):
    from typer.testing import CliRunner
    from neuroplastic.cli import app
    _inject_nan(monkeypatch, patient_row=0, time_row=1, variable="hamd17_expected")
    sc = tmp_path / "s.yaml"
    sc.write_text("duration: 1 week\noutput_every: 1 day\npatients: {n: 3}\n"
                  "treatments: [{drug: escitalopram, dose: 10 mg, every: 1 day}]\n")
    res = CliRunner().invoke(app, ["simulate", str(sc), "--out", str(tmp_path / "out"), "--no-figure"])
    assert res.exit_code == 2, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "numerical error: patient 0, day 1, variable hamd17_expected" in lines[0]
    assert not (tmp_path / "out" / "results.nc").exists() and not (tmp_path / "out" / "summary.json").exists()


def test_summary_json_never_holds_nan(tmp_path):
    from neuroplastic.results._result import dumps_summary, finite_json
    s = {"a": float("nan"), "b": [np.float64(np.inf), 1.5], "c": {"d": np.int64(3)}}
    assert finite_json(s) == {"a": None, "b": [None, 1.5], "c": {"d": 3}}
    assert json.loads(dumps_summary(s)) == {"a": None, "b": [None, 1.5], "c": {"d": 3}}
    r = npl.simulate(dict(BASE, duration="1 week", patients={"n": 3}))
    r.save(tmp_path / "o", figure=False)
    text = (tmp_path / "o" / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


# -- resource budget ---------------------------------------------------------------------------------------------

ESC = [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}]
HUGE = {"name": "huge", "duration": "12 weeks", "patients": {"n": 1_000_000}, "arms": {f"a{k}": ESC for k in range(40)}}
FINE = {"name": "fine", "duration": "12 weeks", "output_every": "1 min", "patients": {"n": 1000}, "treatments": ESC}


@pytest.fixture
def no_engine(monkeypatch):
    """Fail the test if any patient is sampled or simulated."""
    from neuroplastic.engine import _simulate

    def boom(*a, **k):
        raise AssertionError("the engine ran before the budget was checked")
    monkeypatch.setattr(_simulate, "patients_from", boom)
    monkeypatch.setattr(_simulate, "run_arm", boom)


@pytest.mark.parametrize("doc, field, figure", [
    (HUGE, "patients.n: '1000000 x 40 arms'", "estimated output 1.6 TiB > 20.0 GiB"),
    (FINE, "output_every: '120,961 output times", "estimated peak memory"),
])
def test_budget_refuses_before_any_work(doc, field, figure, no_engine, tmp_path):
    from neuroplastic._api import _simulate_to_disk
    with pytest.raises(BudgetError) as exc:
        npl.simulate(doc)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(field) and "--max-memory" in msg
    with pytest.raises(BudgetError) as exc:
        _simulate_to_disk(doc, tmp_path / "out")
    assert figure in str(exc.value)
    assert not (tmp_path / "out").exists() and not list(tmp_path.iterdir())


def test_cli_budget_refusal_is_one_line_and_writes_nothing(tmp_path, no_engine):
    import yaml
    from typer.testing import CliRunner
    from neuroplastic.cli import app
    sc = tmp_path / "fine.yaml"
    sc.write_text(yaml.safe_dump(FINE))
    res = CliRunner().invoke(app, ["simulate", str(sc), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "estimated peak memory" in lines[0] and "--max-memory" in lines[0]
    assert not (tmp_path / "out").exists()
    res = CliRunner().invoke(app, ["simulate", str(sc), "--out", str(tmp_path / "out"), "--max-memory", "lots"])
    assert res.exit_code == 2 and "--max-memory: 'lots' is not allowed" in res.output


def test_max_memory_raises_the_ceiling(no_engine):
    from neuroplastic._api import _check_budget
    from neuroplastic.scenario import Scenario
    sc = Scenario.build(**FINE)
    with pytest.raises(BudgetError):
        _check_budget(sc, streamed=True)
    b = _check_budget(sc, streamed=True, max_memory="200 GiB")  # the estimate passes; nothing is run
    assert b.output_bytes > 20 * 2**30 and b.peak_bytes < 200 * 2**30
    with pytest.raises(BudgetError, match="raise with --max-memory"):
        _check_budget(sc, streamed=True, max_memory="16 GiB")


def test_usual_cohorts_fit_the_default_budget(no_engine):
    """The 100,000-patient 12-week streamed cohort (benchmark f_scale) and --keep full on 20,000 patients."""
    from neuroplastic.engine._budget import ceilings, estimate
    from neuroplastic.scenario import Scenario
    mem, out = ceilings()
    big = Scenario.build(name="f_scale", duration="12 weeks", patients={"n": 100_000}, treatments=ESC)
    for procs in (None, 0, 16, 64):
        b = estimate(big, streamed=True, processes=procs).check()
        assert b.peak_bytes <= mem and b.output_bytes < out
    assert estimate(big, streamed=True, processes=64).concurrency < 64  # the pool shrinks to fit, never refuses
    mid = Scenario.build(name="keep_full", duration="12 weeks", patients={"n": 20_000}, treatments=ESC,
                         visits=["0 weeks", "6 weeks", "12 weeks"])
    from neuroplastic._api import _check_budget
    _check_budget(mid, "full", streamed=True)
    _check_budget(mid, "full", streamed=False)


def test_dose_events_are_counted_without_listing_them():
    from neuroplastic.engine._budget import estimate
    from neuroplastic.scenario import Scenario
    sc = Scenario.build(duration="12 weeks", allow_off_label=True,
                        treatments=[{"drug": "escitalopram", "dose": "1 mg", "every": "4 h"}])
    b = estimate(sc)
    assert b.pk_events == len(sc.treatments[0].drug.dose_times(sc.duration)) == 84 * 6
    assert b.steps > b.pk_events


def test_dense_dosing_is_refused_by_its_event_memory(no_engine):
    from neuroplastic.engine._budget import estimate
    from neuroplastic.scenario import Scenario
    dense = [{"drug": "escitalopram", "dose": "1 mg", "every": "40 s"}]
    one = Scenario.build(duration="12 weeks", allow_off_label=True, treatments=dense)
    assert estimate(one).check().pk_events == 181_440  # one patient: fits
    many = Scenario.build(duration="12 weeks", allow_off_label=True, patients={"n": 10_000}, treatments=dense)
    with pytest.raises(BudgetError, match=r"^treatments\[0\]\.every: '181,440 dose events x .* --max-memory"):
        estimate(many, streamed=True, processes=0).check()
