"""The stored episode (issue 12, item 1): the sgACC -> stress feedback gives two regimes with hysteresis, and
seeded life events drive recurrence."""

from dataclasses import replace

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.sparse import block_diag

from neuroplastic.brain.model import BrainModel, stress_feedback
from neuroplastic.engine._reference import reference_run
from neuroplastic.engine._simulate import run_arm
from neuroplastic.params import default_parameters
from neuroplastic.population import sample_patients
from neuroplastic.population._life_events import life_event_episodes
from neuroplastic._random import patient_keys
from neuroplastic.scenario import Scenario

DAY = 86400.0


def _settle(model, y0, days):
    """The state after ``days`` with no input. Patients are independent, so the Jacobian is block-diagonal: with
    that sparsity BDF's finite differences cost one call per state variable, however many patients."""
    P, n = y0.shape
    inp = model.null_inputs(P)
    sol = solve_ivp(lambda t, z: model.rhs(z.reshape(y0.shape), inp).ravel(), (0, days * DAY), y0.ravel(),
                    method="BDF", rtol=1e-6, atol=1e-9, jac_sparsity=block_diag([np.ones((n, n))] * P))
    assert sol.status == 0
    return sol.y[:, -1].reshape(y0.shape)


LOOP = {"brain.stress.feedback_gain": 0.5}   # the loop switched on (the shipped set has it off, docs/model.md §14)
ESCITALOPRAM = {"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}


def _observed(treatments, patients, p, duration, every):
    """The observed outputs of one arm of ``treatments`` for ``patients`` under ``p``."""
    sc = Scenario.build(name="arm", duration=duration, output_every=every, treatments=treatments)
    return run_arm(sc, sc.treatments, patients, p).observed


def test_same_exposure_different_history_different_end_state():
    """Hysteresis: pairs of patients with the same traits and the same constant stress exposure, one in the episode
    and one recovered (its load, spines, BDNF and sgACC set back to health), over a range of exposures. Low exposure
    leaves both recovered, high exposure both depressed, and in between the two histories stay apart for three years.
    The window is found, not assumed (it moves with the spine balance and the loop's half point, docs/model.md §14)."""
    p = default_parameters().with_values(LOOP)
    m = BrainModel(p)
    exposures = np.round(np.arange(0.20, 0.445, 0.02), 3)
    P = 2 * exposures.size                       # even rows: the episode's history; odd rows: the recovered one
    y = m.baseline(np.ones(P), episode_rate=np.zeros(P)).copy()   # the exposure is held constant
    v = m.layout.view(y)
    v["stress_exposure"][:] = np.repeat(exposures, 2)
    rec = np.arange(1, P, 2)
    v["stress_load"][rec] = exposures            # the recovered history: no sustained load
    healthy = m.layout.view(m.healthy_state(1))
    # the recovered history: the whole slow state of a healthy brain, with the same exposure
    for name in m.layout.names:
        if name not in ("stress_exposure", "stress_load", "episode_rate", "plasticity_capacity", "stress_initial",
                        "severity_untreated", "mood_integral"):
            v[name][rec] = healthy[name][0]
    v["mood"][rec] = m.fast(y, m.null_inputs(P))["severity"][rec]
    end = m.layout.view(_settle(m, y, 3 * 365))
    load_d, load_r = end["stress_load"][0::2], end["stress_load"][1::2]
    mood_d, mood_r = end["mood"][0::2], end["mood"][1::2]
    assert abs(load_d[0] - load_r[0]) < 1e-3 and load_d[0] < 0.4, (load_d[0], load_r[0])        # one regime: well
    assert abs(load_d[-1] - load_r[-1]) < 1e-3 and load_d[-1] > 0.6, (load_d[-1], load_r[-1])   # one regime: ill
    apart = (load_d > 0.6) & (load_r < 0.4) & (mood_d - mood_r > 0.1)   # severity 0.1 is about 5 HAM-D17 points
    assert apart.any(), np.c_[exposures, load_d, load_r]


def test_without_feedback_there_is_one_end_state():
    """The same two histories converge when the loop gain is 0: the hysteresis is the feedback's."""
    p = default_parameters().with_values({"brain.stress.feedback_gain": 0.0})
    m = BrainModel(p)
    y = m.baseline(np.array([1.0, 1.0]), episode_rate=np.array([0.0, 0.0])).copy()
    v = m.layout.view(y)
    v["stress_load"][1] = 0.1
    end = m.layout.view(_settle(m, y, 3 * 365))
    assert abs(end["stress_load"][0] - end["stress_load"][1]) < 1e-3


def test_baseline_is_a_fixed_point_of_the_loop():
    """The exposure at the start is what, with what the settled sgACC sustains, holds the sampled load."""
    p = default_parameters().with_values(LOOP)
    m = BrainModel(p)
    stress = np.array([0.6, 1.0, 1.4])
    y = m.baseline(stress)
    v = m.layout.view(y)
    rs = m.fast(y, m.null_inputs(3))["activity_sgacc"] / m.rq
    fb = stress_feedback(p.group("brain.stress"), rs)
    np.testing.assert_allclose(np.maximum(stress - fb, 0.0), v["stress_exposure"], atol=1e-12)
    d = m.layout.view(m.rhs(np.array(y), {**m.null_inputs(3)}))
    episode = -v["stress_exposure"] * v["episode_rate"] / p.si("brain.stress.episode_time")
    np.testing.assert_allclose(d["stress_exposure"], episode, atol=1e-15)


def test_life_events_are_seeded_per_patient_and_independent_of_the_cohort():
    keys = patient_keys(11, np.arange(500))
    a = life_event_episodes(keys, 104 * 7 * DAY, 1.0 / (365 * DAY))
    b = life_event_episodes(keys[250:260], 104 * 7 * DAY, 1.0 / (365 * DAY))
    assert len(a) == len(b) == 103
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea.payload.kick[250:260], eb.payload.kick)
    n = sum(int((e.payload.kick > 0).sum()) for e in a)
    assert 800 < n < 1200   # 1 per patient-year over 2 years, 500 patients
    sizes = np.concatenate([e.payload.kick[e.payload.kick > 0] for e in a])
    assert abs(sizes.mean() - 1.0) < 0.1   # unit-mean exponential sizes


def test_a_life_event_raises_the_exposure_and_the_load_follows():
    p = default_parameters().with_values({"population.life_events.rate": 2.0})
    sc = Scenario.build(name="ev", duration="16 weeks", output_every="1 day", treatments=[])
    pts = sample_patients(30, "mdd", seed=3)
    quiet = replace(pts, life_events=None)
    r = run_arm(sc, sc.treatments, pts, p)
    q = run_arm(sc, sc.treatments, quiet, p)
    dE = r.observed["stress_exposure"] - q.observed["stress_exposure"]
    assert (dE >= -1e-9).all() and (dE[-1] > 0.05).sum() >= 5   # (the runs stop at different nodes)
    hit = dE[-1] > 0.05
    assert (r.observed["stress_load"][-1, hit] > q.observed["stress_load"][-1, hit]).all()


def test_fast_path_matches_the_reference_on_the_stress_loop():
    """Exponential-integrator fast path vs solve_ivp per patient, with the loop on, life events and a course that is
    stopped."""
    p = default_parameters().with_values({"population.life_events.rate": 2.0, **LOOP})
    sc = Scenario.build(name="ref", duration="8 weeks", output_every="1 day", treatments=[
        {"drug": "escitalopram", "dose": "10 mg", "every": "1 day", "stop": "4 weeks"}])
    pts = sample_patients(3, "mdd", seed=5)
    fast = run_arm(sc, sc.treatments, pts, p)
    ref = reference_run(sc, sc.treatments, pts, p)
    assert np.ptp(ref["stress_exposure"], axis=0).max() > 0   # an event happened or the exposure resolved
    for k, tol in (("stress_exposure", 1e-5), ("stress_acute", 1e-5), ("stress_load", 1e-4),
                   ("hamd17_expected", 2e-2)):
        np.testing.assert_allclose(fast.observed[k], ref[k], atol=tol, err_msg=k)


def test_without_gain_the_load_is_the_exposure():
    """The shipped set (gain 0): the load is exactly the resolving exposure plus the life events, as before the loop."""
    p = default_parameters().with_values({"population.life_events.rate": 2.0})
    assert p.value("brain.stress.feedback_gain") == 0.0
    sc = Scenario.build(name="ev", duration="12 weeks", output_every="1 day", treatments=[
        {"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}])
    r = run_arm(sc, sc.treatments, sample_patients(10, "mdd", seed=2), p)
    np.testing.assert_allclose(r.observed["stress_load"], r.observed["stress_exposure"], atol=1e-9)


def test_relapse_and_sustained_response_statistics():
    """The statistics of the relapse and durability rows on hand-made rating courses: among week-12 responders,
    relapse is an observed rating >= threshold at two successive visits; a single high rating is not a relapse. With
    the rater noise at the bottom of its range the courses are far from every cut, so the counts are exact; with the
    shipped noise the rate moves a little: a relapsing patient can be rated below the threshold, a well one above it
    (the rows read observed ratings)."""
    from neuroplastic.validation.runner import _after_response

    p = default_parameters().with_values({"mood.scales.hamd17_rater_sd": 0.5})
    t = np.arange(0, 21) * 7.0
    base = np.full((len(t), 4), 24.0)
    courses = base.copy()
    courses[12:14, 0] = 10.0; courses[14:, 0] = 18.0     # responder, relapses from week 14 on
    courses[12:, 1] = 10.0                               # responder, stays well
    courses[12:, 2] = 10.0; courses[14, 2] = 18.0        # responder, one high rating only
    courses[:, 3] = 20.0; courses[0, 3] = 24.0           # non-responder: not counted
    run = {"t": t, "obs": {"hamd17_recalled": courses}}
    st = {"scale": "hamd17", "responders": "12 weeks", "every": "2 weeks", "threshold": 16}
    assert _after_response(run, p, st, "relapse_rate", 20 * 7.0) == pytest.approx(1 / 3, abs=1e-6)
    assert _after_response(run, p, st, "sustained_response", 20 * 7.0) == pytest.approx(2 / 3, abs=1e-6)
    noisy = _after_response(run, default_parameters(), st, "relapse_rate", 20 * 7.0)
    # with rater SD 2 the relapsing patient's 18s are rated below 16 about one time in ten and the others' 10s almost
    # never at or above it: near the exact count, not equal to it
    assert abs(noisy - 1 / 3) < 0.03 and abs(noisy - 1 / 3) > 1e-3


def test_serotonin_damps_what_a_new_event_leaves_not_the_episode():
    """Stress reactivity (relapse, issue 12): a life event adds to the acute response only; of that, the share
    1 / (1 + k x / (1 + x)) passes into the exposure (x the synaptic 5-HT excess), at the rate A / tau_A; the
    episode's own exposure and load are left as they are."""
    p = default_parameters()
    k = p.value("brain.stress.buffer_5ht")
    tau = p.si("brain.stress.acute_time")
    assert k > 0
    model = BrainModel(p)
    y = model.baseline(np.array([1.0, 1.0]))
    inp = model.null_inputs(2)
    inp["sert_occupancy"] = np.array([0.0, 0.8])          # off and on an SSRI
    y2 = model.life_event(y, np.array([1.0, 1.0]))
    v, v2 = model.layout.view(y), model.layout.view(y2)
    ev = p.value("brain.stress.event_load")
    np.testing.assert_allclose(v2["stress_acute"] - v["stress_acute"], ev)
    for name in ("stress_exposure", "stress_load"):       # nothing lasting is added at the event itself
        np.testing.assert_array_equal(v2[name], v[name])
    d, d2 = (model.layout.view(model.rhs(z, inp)) for z in (y, y2))
    f = model.fast(y2, inp)
    x = np.maximum(f["synaptic_5ht"] / p.si("brain.raphe.level0") - 1.0, 0.0)
    assert x[0] < 1e-9 and x[1] > 0.2
    inflow = ev / tau / (1.0 + k * x / (1.0 + x))
    np.testing.assert_allclose(d2["stress_exposure"] - d["stress_exposure"], inflow, rtol=1e-9)
    np.testing.assert_allclose(d2["stress_load"] - d["stress_load"], inflow, rtol=1e-9)
    np.testing.assert_allclose(d2["stress_acute"] - d["stress_acute"], -ev / tau, rtol=1e-9)


def test_withdrawal_relapse_accrues_without_a_step():
    """Withdrawn responders meet the same life events as continued ones; the difference in their mean expected
    HAM-D17 grows over months, never by more than 1 point within a week after the stop (no step)."""
    pts = sample_patients(40, "mdd", seed=11)
    p = default_parameters().with_values({"population.life_events.rate": 2.0})
    h = {name: _observed(tr, pts, p, "52 weeks", "1 day")["hamd17_expected"].mean(axis=1)
         for name, tr in (("c", [ESCITALOPRAM]), ("w", [dict(ESCITALOPRAM, stop="12 weeks")]))}
    gap = h["w"] - h["c"]
    assert np.abs(np.diff(gap[84:])).max() < 0.5          # day to day after the stop
    assert np.abs(gap[84 + 7] - gap[84]) < 1.0             # the first week after the stop
    assert gap[-1] > gap[84 + 28] > gap[84] - 0.1          # and it accrues over months


def test_the_drug_protects_against_life_events_while_it_is_taken():
    """The same patients meeting the same life events: withdrawing the drug costs more HAM-D17 with events than
    without them (the drug buffers what new events leave), and without the buffer the events cost the two arms
    alike."""
    pts = sample_patients(40, "mdd", seed=11)

    def cost(p, patients):
        c, w = (_observed(tr, patients, p, "40 weeks", "1 week")["hamd17_expected"][-12:].mean()
                for tr in ([ESCITALOPRAM], [dict(ESCITALOPRAM, stop="12 weeks")]))
        return w - c

    p = default_parameters().with_values({"population.life_events.rate": 2.0})
    quiet = replace(pts, life_events=None)
    with_events, without = cost(p, pts), cost(p, quiet)
    assert with_events > without + 0.3
    p0 = p.with_values({"brain.stress.buffer_5ht": 0.0})
    assert abs(cost(p0, pts) - cost(p0, quiet)) < 0.5 * (with_events - without)


def test_consolidated_control_buffers_what_a_new_event_leaves():
    """What a course consolidates into the prefrontal control synapses (late change z) also blunts later stressors:
    of an event's acute response the share 1 / (1 + k_c z) passes into the exposure (no drug on board); the
    episode's own exposure is untouched."""
    p = default_parameters()
    kc = p.value("brain.stress.buffer_control")
    tau = p.si("brain.stress.acute_time")
    assert kc > 0
    model = BrainModel(p)
    y = model.baseline(np.array([1.0, 1.0, 1.0])).copy()
    v = model.layout.view(y)
    v["ltp_late"] = np.array([0.0, 0.05, 0.2])            # nothing, a little and a course's worth of late change
    inp = model.null_inputs(3)
    y2 = model.life_event(y, np.ones(3))
    d, d2 = (model.layout.view(model.rhs(z, inp)) for z in (y, y2))
    ev = p.value("brain.stress.event_load")
    inflow = d2["stress_exposure"] - d["stress_exposure"]
    np.testing.assert_allclose(inflow, ev / tau / (1.0 + kc * np.array([0.0, 0.05, 0.2])), rtol=1e-9)
    assert inflow[0] > inflow[1] > inflow[2] > 0


def test_a_finished_cbt_course_protects_against_later_events_more_than_a_withdrawn_drug():
    """The same patients meeting the same life events after the treatment has ended (week 16 on): what a CBT course
    consolidated keeps the events from adding as much lasting exposure as they add after an SSRI is withdrawn
    (Hollon 2005: 31% against 76% relapse over a year). The direction of the mechanism is tested, not its size: at
    plasticity-v22 the difference is small (0.50 against 0.53 for these 40 patients), because a 16-session course
    consolidates little late change in the typical patient (docs/model.md section 14)."""
    pts = sample_patients(40, "mdd", seed=11)
    pts = replace(pts, life_events_from=np.full(pts.n, 16 * 7 * DAY))   # events only once both courses are over
    p = default_parameters().with_values({"population.life_events.rate": 2.0})
    arms = {"cbt": [{"psychotherapy": {"kind": "cbt", "every": "1 week", "sessions": 16}}],
            "withdrawn": [dict(ESCITALOPRAM, stop="16 weeks")]}
    added = {}
    for name, tr in arms.items():   # what the events added after week 16
        e = [_observed(tr, q, p, "52 weeks", "1 week")["stress_exposure"][16:].mean()
             for q in (pts, replace(pts, life_events=None))]
        added[name] = e[0] - e[1]
    assert 0 < added["cbt"] < added["withdrawn"]
