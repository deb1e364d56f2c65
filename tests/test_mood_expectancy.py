"""Mood as slow state read through recall windows, and expectancy with one shared rule (issue 12, items 2 and 3)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.engine._calendar import build_calendar
from neuroplastic.engine._reference import reference_run
from neuroplastic.engine._simulate import patients_from, run_arm
from neuroplastic.errors import ScenarioError
from neuroplastic.mood.scales import recalled_severity
from neuroplastic.params import default_parameters
from neuroplastic.scenario import Scenario

DAY = 86400.0


def _run(treatments, duration="10 weeks", every="2 hours", **kw):
    sc = Scenario.build(name="t", duration=duration, output_every=every, treatments=treatments, **kw)
    p = default_parameters()
    return run_arm(sc, sc.treatments, patients_from(sc), p), sc, p


def test_every_form_follows_one_expectancy_rule():
    """The same administrations give the same expectancy time course for every form, scaled by the form's level:
    no form has a duration or an end rule of its own."""
    p = default_parameters()
    courses = {}
    for form in ("pill", "saline", "nasal_spray", "sham_tms"):
        r, _, _ = _run([{"placebo": {"form": form, "at": ["0 d", "3 d"]}}], duration="6 weeks")
        level = p.value(f"placebo.expectancy.{'saline' if form == 'nasal_spray' else form}")
        courses[form] = r.observed["expectancy"][:, 0] / level
    ref = courses["pill"]
    assert ref.max() > 0.2
    for form, c in courses.items():
        np.testing.assert_allclose(c, ref, atol=1e-9, err_msg=form)


def test_expectancy_builds_and_extinguishes_with_the_shared_constants():
    p = default_parameters()
    tb, te = p.si("brain.expectancy.build_time"), p.si("brain.expectancy.extinction_time")
    a = p.value("brain.expectancy.reinforcement")
    r, _, _ = _run([{"placebo": {"form": "saline", "at": ["0 d"]}}], duration="12 weeks", every="1 day")
    t = r.time
    e = r.observed["expectancy"][:, 0]
    # one administration of level 1 reinforces the cue to a: E(t) = a te/(te - tb) (exp(-t/te) - exp(-t/tb))
    # (cue extinguishing, E following)
    exact = a * te / (te - tb) * (np.exp(-t / te) - np.exp(-t / tb))
    np.testing.assert_allclose(e, exact, atol=2e-4)


@pytest.mark.parametrize("alpha", [0.4, 1.0])
def test_each_administration_reinforces_a_fraction_of_the_shortfall(alpha):
    """Rescorla-Wagner: the k-th administration of level L lifts the cue c to c + a (L - c); between administrations
    the cue extinguishes with the shared time constant. A single administration leaves a fraction a of the belief,
    a course approaches the full level (Posternak & Zimmerman 2007), and a = 1 is the one-shot rule."""
    p = default_parameters().with_values({"brain.expectancy.reinforcement": alpha})
    te = p.si("brain.expectancy.extinction_time")
    days = [0, 2, 4, 7, 9, 11]
    sc = Scenario.build(name="t", duration="14 days", output_every="1 day",
                        treatments=[{"placebo": {"form": "saline", "at": [f"{d} d" for d in days]}}])
    r = run_arm(sc, sc.treatments, patients_from(sc), p)
    t = r.time / DAY
    cue = r.observed["expectancy_cue"][:, 0]
    level = p.value("placebo.expectancy.saline")
    c, last, want = 0.0, 0.0, []
    for d in days:
        c = c * np.exp(-(d - last) * DAY / te)
        c = c + alpha * (level - c)
        last = d
        want.append(c)
    for d, w in zip(days, want):
        k = int(np.argmin(abs(t - (d + 1))))  # a day later: extinguished for one day since
        assert cue[k] == pytest.approx(w * np.exp(-DAY / te), rel=1e-3)
    if alpha < 1:
        assert want[0] == pytest.approx(alpha * level) and (np.diff(want) > 0).all()   # a course builds the belief
    else:
        assert np.allclose(want, level)                                              # one shot: full at once


def test_administrations_reinforce_and_beliefs_do_not_add():
    p = default_parameters()
    cal = build_calendar(Scenario.build(duration="2 weeks", treatments=[
        {"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}, {"placebo": {"form": "pill"}}]).treatments,
        14 * DAY, np.array([70.0]), p, expectancy=True)
    exp = [e for e in cal.episodes if e.kind == "experience"]
    assert [round(e.time / DAY) for e in exp] == list(range(14))   # one experience a day, not two
    assert all(float(e.payload.level[0]) == 1.0 for e in exp)


@pytest.mark.parametrize("treatment,stop_day", [
    ({"placebo": {"form": "pill", "stop": "8 weeks"}}, 56),
    ({"drug": "escitalopram", "dose": "10 mg", "every": "1 day", "stop": "8 weeks"}, 56),
    ({"placebo": {"form": "saline", "at": ["0 d", "2 d", "4 d"]}}, 4),
])
def test_stopping_a_treatment_moves_the_score_gradually(treatment, stop_day):
    """No treatment edge moves the expected score by more than a point within a day (issue 12)."""
    r, _, _ = _run([treatment], duration="12 weeks")
    t = r.time / DAY
    h = r.observed["hamd17_expected"][:, 0]
    grid = np.arange(stop_day - 0.25, stop_day + 14, 1 / 12)
    step = np.abs(np.interp(grid + 1, t, h) - np.interp(grid, t, h))
    assert step.max() < 1.0


def test_rating_is_mood_averaged_over_the_recall_window():
    """The recalled score is the score of mood averaged over the past week (exact window, not a filter)."""
    # sampled every 10 minutes: the surprise of the first dose moves mood within hours, and the trapezoid rule
    # below must resolve it to reach the exact window mean the rating reads
    r, sc, p = _run([{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}], duration="4 weeks",
                    every="10 min")
    t = r.time / DAY
    sev = r.observed["severity"][:, 0]
    k = int(np.searchsorted(t, 20.0))
    w = (t >= 13.0 - 1e-9) & (t <= 20.0 + 1e-9)
    mean_sev = np.trapezoid(sev[w], t[w]) / 7.0
    assert r.observed["hamd17_recalled"][k, 0] == pytest.approx(52 * mean_sev, abs=2e-3)
    # before a week has passed the window reaches back to the untreated mood
    k2 = int(np.searchsorted(t, 3.0))
    w2 = t <= 3.0 + 1e-9
    mean2 = (np.trapezoid(sev[w2], t[w2]) + 4.0 * sev[0]) / 7.0
    assert r.observed["hamd17_recalled"][k2, 0] == pytest.approx(52 * mean2, abs=2e-3)


def test_a_shorter_recall_follows_mood_more_closely():
    ket = [{"drug": "ketamine", "dose": "0.5 mg/kg", "route": "iv", "infusion": "40 min", "at": ["0 d"]}]
    week, _, _ = _run(ket, duration="4 days", every="1 hour")
    day, _, _ = _run(ket, duration="4 days", every="1 hour", recall="24 h")
    k = 24
    e = week.observed["madrs_expected"][k, 0]
    b = week.observed["madrs_expected"][0, 0]
    assert b - day.observed["madrs_recalled"][k, 0] > b - week.observed["madrs_recalled"][k, 0] > 0
    assert abs(day.observed["madrs_recalled"][k, 0] - e) < abs(week.observed["madrs_recalled"][k, 0] - e)


def test_fast_path_matches_the_reference_on_mood_and_expectancy():
    sc = Scenario.build(name="ref", duration="3 weeks", output_every="1 day", treatments=[
        {"drug": "escitalopram", "dose": "10 mg", "every": "1 day", "stop": "10 days"},
        {"placebo": {"form": "saline", "at": ["0 d", "5 d"]}}])
    p = default_parameters()
    pts = patients_from(sc)
    fast = run_arm(sc, sc.treatments, pts, p)
    ref = reference_run(sc, sc.treatments, pts, p)
    for k, tol in (("expectancy", 1e-4), ("severity", 1e-4), ("hamd17_expected", 5e-3), ("hamd17_recalled", 5e-3)):
        np.testing.assert_allclose(fast.observed[k], ref[k], atol=tol, err_msg=k)


@settings(max_examples=60, deadline=None)
@given(m=st.floats(0.0, 1.0), t_days=st.floats(0.0, 60.0), w_days=st.floats(1 / 24, 28.0))
def test_constant_mood_is_recalled_as_itself(m, t_days, w_days):
    t, w = t_days * DAY, w_days * DAY
    q_now = np.array([[m * t_days]])
    q_then = np.array([[m * max(t_days - w_days, 0.0)]])
    got = recalled_severity(q_now, q_then, np.array([t]), w, np.array([m]))
    assert got[0, 0] == pytest.approx(m, abs=1e-9)


@pytest.mark.parametrize("value", ["10 min", "6 weeks", "soon"])
def test_recall_window_is_checked(value):
    with pytest.raises(ScenarioError) as e:
        Scenario.build(duration="1 week", treatments=[], recall=value)
    assert "recall" in str(e.value) and "\n" not in str(e.value)


def test_a_row_rates_its_own_window_from_the_mood_integral():
    """Validation rows with their own ``recall`` read mood's running integral: with the run's own window they give
    the run's recalled ratings; with a shorter one they follow mood more closely."""
    from neuroplastic.validation.runner import _arm_record, _recall_view
    r, sc, p = _run([{"drug": "ketamine", "dose": "0.5 mg/kg", "route": "iv", "infusion": "40 min", "at": ["0 d"]}],
                    duration="3 days", every="1 hour", recall="24 h")
    run = _arm_record(r)
    same = _recall_view(run, 1.0, p)
    np.testing.assert_allclose(same["obs"]["madrs_recalled"], run["obs"]["madrs_recalled"], atol=1e-9)
    short = _recall_view(run, 2 / 24, p)
    k = 2   # 2 h after the start of the infusion
    e, b = run["obs"]["madrs_expected"][:k + 1, 0], run["obs"]["madrs_expected"][0, 0]
    assert e[-1] < short["obs"]["madrs_recalled"][k, 0] < run["obs"]["madrs_recalled"][k, 0] <= b + 1e-9


@settings(max_examples=60, deadline=None)
@given(z=st.floats(-20.0, 20.0))
def test_no_circuit_state_rates_better_than_healthy(z):
    """Severity is a deficit: an imbalance on the healthy side of the healthy circuit (z < 0) reads as healthy."""
    from neuroplastic.mood.severity import from_circuit

    p = default_parameters().group("mood.severity")
    healthy = float(from_circuit(p, 0.0))
    assert float(from_circuit(p, z)) >= healthy - 1e-15
    if z <= 0:
        assert float(from_circuit(p, z)) == healthy


def test_ketamine_never_takes_the_score_below_healthy():
    """An infusion that drives dlPFC above its healthy rate leaves the expected score at the healthy level at most
    (the issue's floor), while still improving a depressed patient by many points within a day."""
    from neuroplastic import parse_scenario, simulate

    sc = parse_scenario("name: k\nduration: 3 days\noutput_every: 1 hour\nseed: 1\ntreatments:\n"
                        "  - {drug: ketamine, dose: 0.5 mg/kg, route: iv, infusion: 40 min, at: [0 d]}\n")
    ds = simulate(sc).dataset
    madrs = ds["madrs_expected"].squeeze().values
    from neuroplastic.brain.model import BrainModel
    m = BrainModel(default_parameters())
    healthy = float(m.observe(m.healthy_state(1), m.null_inputs(1))["madrs_expected"][0])
    assert madrs[0] - madrs.min() > 10
    assert madrs.min() >= healthy - 1e-6


def test_an_administration_signals_its_surprise_once():
    """The phasic drive of an administration is its prediction error: the level beyond what an administration was
    predicted to bring. A first dose carries all of it, a second none, one after weeks of extinction none either
    (extinction lowers the expectation of benefit, not what an administration is known to signal), and a stronger
    form after a weaker one the difference."""
    from neuroplastic.brain.model import BrainModel

    p = default_parameters()
    m = BrainModel(p)
    y = m.healthy_state(2)
    first = m.experience(y, np.array([1.0, 2.0]))
    v = m.layout.view(first)
    np.testing.assert_allclose(v["expectancy_surprise"], [1.0, 2.0])
    np.testing.assert_allclose(v["expectancy_prediction"], [1.0, 2.0])
    again = m.layout.view(m.experience(first, np.array([1.0, 2.0])))
    np.testing.assert_allclose(again["expectancy_surprise"], [1.0, 2.0])   # nothing new: no further surprise
    faded = first.copy()
    fv = m.layout.view(faded)
    fv["expectancy_surprise"][:] = 0.0
    fv["expectancy_cue"][:] = [0.25, 0.5]     # weeks of extinction between sessions
    after = m.layout.view(m.experience(faded, np.array([1.0, 2.0])))
    np.testing.assert_allclose(after["expectancy_surprise"], [0.0, 0.0])
    np.testing.assert_allclose(after["expectancy_cue"], [1.0, 2.0])        # the cue is reinforced again
    stronger = m.layout.view(m.experience(faded, np.array([1.5, 2.0])))
    np.testing.assert_allclose(stronger["expectancy_surprise"], [0.5, 0.0])


def test_spaced_sessions_carry_no_recurring_surprise():
    """Weekly sessions: the cue extinguishes between them, but only the first session is a surprise, so no later
    session (and so not the last one) moves mood within hours."""
    r, _, _ = _run([{"psychotherapy": {"kind": "cbt", "every": "1 week", "sessions": 8}}], duration="10 weeks",
                   every="6 hours")
    t = r.time / DAY
    s = r.observed["expectancy_surprise"][:, 0]
    assert s.max() > 0.1
    assert s[t > 6.5].max() < 1e-6 * s.max()


def test_a_first_administration_acts_within_hours_and_settles_within_a_day():
    """Daly 2018's placebo spray: the change two hours after the first dose is larger than the change a day later,
    which is what the expectation then holds; a daily course's later doses signal almost nothing new."""
    p = default_parameters()
    r, _, _ = _run([{"placebo": {"form": "nasal_spray", "at": ["0 d"]}}], duration="9 days", every="1 hour")
    t = r.time / DAY
    m = r.observed["madrs_expected"][:, 0]
    at = lambda d: float(np.interp(d, t, m)) - m[0]
    assert at(2 / 24) < at(1.0) - 3.0 < 0.0
    assert abs(at(8.0) - at(2.0)) < 3.0   # the settled part holds for the week (extinction over weeks)
    pills, _, _ = _run([{"placebo": {"form": "pill"}}], duration="3 weeks", every="1 hour")
    s = pills.observed["expectancy_surprise"][:, 0]
    tp = pills.time / DAY
    assert s[(tp > 10) & (tp < 11)].max() < 0.05 * s.max()
    tau = p.si("brain.expectancy.surprise_time") / DAY
    k = int(np.searchsorted(t, 2 / 24))
    assert r.observed["expectancy_surprise"][k, 0] == pytest.approx(np.exp(-t[k] / tau), rel=1e-6)


def test_fast_path_matches_the_reference_on_the_surprise():
    sc = Scenario.build(name="ref", duration="3 days", output_every="1 hour", treatments=[
        {"placebo": {"form": "nasal_spray", "at": ["0 d", "2 d"]}}])
    p = default_parameters()
    pts = patients_from(sc)
    fast = run_arm(sc, sc.treatments, pts, p)
    ref = reference_run(sc, sc.treatments, pts, p)
    for k, tol in (("expectancy_surprise", 1e-6), ("madrs_expected", 1e-2)):
        np.testing.assert_allclose(fast.observed[k], ref[k], atol=tol, err_msg=k)
