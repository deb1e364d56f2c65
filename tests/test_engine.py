"""The engine: fast path against the solve_ivp reference path; exact event handling; grid; determinism."""

import numpy as np
import pytest

import neuroplastic as npl
from neuroplastic.engine._integrate import make_grid
from neuroplastic.engine._reference import reference_run
from neuroplastic.engine._simulate import patients_from, run_arm
from neuroplastic.params import default_parameters

CASES = {
    # drug scenario, (plasma rel tol, HAM-D17 abs tol in points, spine density abs tol)
    "escitalopram": ({"duration": "3 weeks", "output_every": "6 h",
                      "treatments": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}]}, (1e-6, 0.01, 1e-4)),
    "fluoxetine (nonlinear CYP2D6)": ({"duration": "3 weeks", "output_every": "12 h",
                                       "treatments": [{"drug": "fluoxetine", "dose": "20 mg", "every": "1 day"}]}, (1e-5, 0.01, 1e-4)),
    "ketamine infusion": ({"duration": "3 days", "output_every": "1 h",
                           "treatments": [{"drug": "ketamine", "dose": "0.5 mg/kg", "route": "iv", "infusion": "40 min",
                                           "at": ["0 days"]}]}, (1e-6, 0.15, 5e-3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_path_matches_reference(name):
    doc, (tol_c, tol_h, tol_s) = CASES[name]
    sc = npl.Scenario.build(**doc)
    pts = patients_from(sc)
    p = default_parameters()
    fast = run_arm(sc, sc.treatments, pts, p)
    ref = reference_run(sc, sc.treatments, pts, p)
    for c, v in fast.plasma.items():
        assert np.max(np.abs(v - ref[f"plasma:{c}"])) <= tol_c * np.max(ref[f"plasma:{c}"])
    assert np.max(np.abs(fast.observed["hamd17_expected"] - ref["hamd17_expected"])) <= tol_h
    assert np.max(np.abs(fast.observed["spine_density"] - ref["spine_density"])) <= tol_s


def test_grid_holds_outputs_and_events():
    nodes, idx = make_grid(86400.0, 3600.0, np.array([1234.5, 50000.0]))
    assert 1234.5 in nodes and 50000.0 in nodes
    assert np.allclose(nodes[idx], np.arange(25) * 3600.0)


def test_dose_between_grid_points_handled_exactly():
    """A dose at 07:30 appears in plasma from 07:30 on, whatever the output grid."""
    doc = {"duration": "1 day", "output_every": "1 h",
           "treatments": [{"drug": "escitalopram", "dose": "10 mg", "at": ["7.5 h"]}]}
    ds = npl.simulate(doc).dataset
    c = ds["plasma"].sel(compound="escitalopram").values[0]
    t = ds["time"].values * 24
    assert np.all(c[t <= 7] == 0) and c[t >= 8][0] > 0


def test_same_seed_same_numbers():
    doc = {"duration": "2 weeks", "seed": 7, "treatments": [{"drug": "sertraline", "dose": "50 mg", "every": "1 day"}]}
    a, b = npl.simulate(doc).dataset, npl.simulate(doc).dataset
    assert np.array_equal(a["hamd17"].values, b["hamd17"].values)
    c = npl.simulate({**doc, "seed": 8}).dataset
    assert not np.array_equal(a["hamd17"].values, c["hamd17"].values)
    assert np.array_equal(a["hamd17_expected"].values, c["hamd17_expected"].values)


def test_sessions_and_pulses_match_reference():
    """TMS session episodes, therapy sessions and expectancy pulses: fast path vs solve_ivp."""
    doc = {"duration": "10 days", "output_every": "12 h", "treatments": [
        {"tms": {"protocol": "itbs", "days": "daily", "sessions_per_day": 2, "session_interval": "50 min"}},
        {"psychotherapy": {"kind": "cbt", "every": "3 days", "sessions": 3}},
        {"placebo": {"form": "pill", "start": "2 days"}}]}
    sc = npl.Scenario.build(**doc)
    pts = patients_from(sc)
    p = default_parameters()
    fast = run_arm(sc, sc.treatments, pts, p)
    ref = reference_run(sc, sc.treatments, pts, p)
    for k in ("hamd17_expected", "ltp_early", "ltp_late", "spine_density", "bdnf"):
        assert np.max(np.abs(fast.observed[k] - ref[k])) < 0.02 * max(1.0, np.max(np.abs(ref[k]))), k


# -- the exponential integrator against fine classical RK4 -------------------------------------------------------
INTEGRATOR_CASES = {
    "escitalopram": {"duration": "3 weeks", "output_every": "1 day",
                     "treatments": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}]},
    "ketamine infusions (fast burst)": {"duration": "1 week", "output_every": "2 h", "treatments": [
        {"drug": "ketamine", "dose": "0.5 mg/kg", "route": "iv", "infusion": "40 min", "at": ["0 days", "3 days"]}]},
    "rTMS (daily sessions, episodes)": {"duration": "2 weeks", "output_every": "6 h",
                                        "treatments": [{"tms": {"protocol": "10hz", "days": "weekdays"}}]},
    "CBT (weekly sessions, practice, expectancy)": {"duration": "3 weeks", "output_every": "12 h", "treatments": [
        {"psychotherapy": {"kind": "cbt", "every": "1 week", "sessions": 4}}, {"placebo": {"form": "pill"}}]},
}


@pytest.mark.parametrize("name", sorted(INTEGRATOR_CASES))
def test_default_integrator_matches_fine_rk4(name):
    """ETDRK4 at its default steps (up to 6 h) against classical RK4 at 10-minute steps (itself within 1e-4
    HAM-D17 points of the solve_ivp reference on these scenarios)."""
    from neuroplastic.population import sample_patients
    sc = npl.Scenario.build(**INTEGRATOR_CASES[name])
    pts = sample_patients(2, "mdd", seed=3)
    p = default_parameters()
    fast = run_arm(sc, sc.treatments, pts, p)
    fine = run_arm(sc, sc.treatments, pts, p, method="rk4", h_max=600.0)
    assert np.max(np.abs(fast.observed["hamd17_expected"] - fine.observed["hamd17_expected"])) < 0.02
    for k in ("ltp_early", "ltp_late", "spine_density", "bdnf"):
        assert np.max(np.abs(fast.observed[k] - fine.observed[k])) < 1e-3 * max(1.0, np.max(np.abs(fine.observed[k]))), k


def test_linear_decay_is_the_exact_self_term():
    """BrainModel.linear_decay lists exact -y/tau terms: what remains of rhs has (almost) no self-dependence."""
    from neuroplastic.brain import BrainModel
    p = default_parameters()
    m = BrainModel(p)
    lam = m.linear_decay()
    assert lam.shape == (len(m.layout),) and np.all(lam >= 0) and lam.any()
    y = np.array(m.baseline(np.array([1.0, 1.5])))
    y[:, m.layout.index["ltp_early"]] = [0.02, 0.3]
    inp = m.null_inputs(2)
    inp["sert_occupancy"] = inp["sert_occupancy"] + 0.8
    N = lambda z: m.rhs(z, inp) + lam * z
    for i in np.flatnonzero(lam):
        e = 1e-6
        z = y.copy()
        z[:, i] += e
        self_rate = (N(z)[:, i] - N(y)[:, i]) / e
        assert np.all(np.abs(self_rate) < 0.5 * lam[i]), m.layout.names[i]  # feedback only, no second decay


def test_chunks_and_sub_steps_give_identical_numbers():
    """Sub-stepping is decided per patient, so chunking cannot change a single bit."""
    from neuroplastic.engine._simulate import simulate_arms
    sc = npl.Scenario.build(duration="1 week", seed=4, patients={"n": 7, "population": "mdd"},
                            treatments=[{"tms": {"protocol": "itbs", "days": "daily"}},
                                        {"drug": "ketamine", "dose": "0.5 mg/kg", "route": "iv", "infusion": "40 min",
                                         "at": ["2 days"]}])
    _, a = simulate_arms(sc, chunk=7, processes=0)
    _, b = simulate_arms(sc, chunk=3, processes=0)
    _, c = simulate_arms(sc, chunk=2, processes=2)
    for k in ("hamd17_expected", "ltp_late", "spine_density"):
        assert np.array_equal(a["treatment"].observed[k], b["treatment"].observed[k]), k
        assert np.array_equal(a["treatment"].observed[k], c["treatment"].observed[k]), k


def test_newton_steady_state_is_a_fixed_point_per_patient():
    from neuroplastic.brain import BrainModel
    from neuroplastic.population import sample_patients
    p = default_parameters()
    pts = sample_patients(40, "trd", seed=2)
    m = BrainModel(p)
    y = np.array(m.baseline(pts.stress, pts.capacity, pts.episode_rate))
    m._mask[m.layout.index["stress_load"]] = 0.0  # held while the baseline settles
    m._mask[m.layout.index["stress_exposure"]] = 0.0
    m._mask[m.layout.index["mood_integral"]] = 0.0  # a running integral from the start, not a settling state
    g = m.rhs(y, m.null_inputs(len(y))) * m.layout.timescales
    assert np.max(np.abs(g)) < 1e-9
    one = np.array(m.baseline(pts.stress[5:6], pts.capacity[5:6], pts.episode_rate[5:6]))
    assert np.array_equal(one[0], y[5])


def test_a_patient_already_not_finite_is_not_sub_stepped():
    """A non-finite patient (a calibration candidate that blew up) stays NaN without being refined at every step,
    and the other patients' numbers are exactly those of a run without it."""
    from neuroplastic.engine._integrate import integrate

    lam = np.array([1e-4, 2e-4])
    rhs = lambda y, inp: -lam * y + np.sin(y[:, ::-1]) * 1e-4 * inp["u"][:, None]  # noqa: E731
    nodes = np.linspace(0.0, 86400.0, 25)
    inputs = lambda j, side="right": {"u": np.ones(2)}  # noqa: E731
    y0 = np.array([[1.0, 0.5], [np.nan, 0.5]])
    alone = integrate(rhs, y0[:1], nodes, lambda j, side="right": {"u": np.ones(1)}, linear=lam, tol=1e-12)
    substeps_alone = integrate.last_stats["substeps"]
    both = integrate(rhs, y0, nodes, inputs, linear=lam, tol=1e-12)
    assert integrate.last_stats["substeps"] == substeps_alone, "the NaN patient adds no sub-steps"
    assert np.array_equal(both[:, 0], alone[:, 0]) and np.isnan(both[-1, 1]).any()
