"""Parameter sets as a batch axis: K candidate sets x N patients in one run equal K runs with one set each."""

import numpy as np
import pytest

import neuroplastic as npl
from neuroplastic.engine._batch import ParameterBatch, classify, run_arm_batch
from neuroplastic.engine._calendar import build_calendar
from neuroplastic.engine._simulate import run_arm
from neuroplastic.errors import ParameterError
from neuroplastic.params import default_parameters
from neuroplastic.population import sample_patients
from neuroplastic.validation.runner import evaluate, evaluate_batch
from neuroplastic.validation.targets import load_targets

SCENARIOS = {
    "escitalopram": {"duration": "3 weeks", "output_every": "1 day",
                     "treatments": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}]},
    "ketamine": {"duration": "3 days", "output_every": "2 h",
                 "treatments": [{"drug": "ketamine", "dose": "0.5 mg/kg", "route": "iv", "infusion": "40 min",
                                 "at": ["0 days"]}]},
    "rtms": {"duration": "1 week", "output_every": "1 day",
             "treatments": [{"tms": {"protocol": "10hz", "pulses": 3000, "intensity": "120% rMT", "days": "weekdays"}},
                            {"placebo": {"form": "sham_tms"}}]},
}
# three candidates moving brain, consolidation, calendar (TMS plan, expectancy) and population parameters
CANDIDATES = [
    {"plasticity.bdnf.w_da": 0.3, "brain.circuit.w_5ht_sgacc": 0.1, "plasticity.consolidation.late_lifetime": 30.0,
     "brain.expectancy.w_vta": 1.0, "placebo.expectancy.sham_tms": 1.5},
    {"plasticity.bdnf.w_da": 0.9, "plasticity.bdnf.creb_max": 1.0, "plasticity.structural.mtor_half": 0.5,
     "plasticity.calcium.facilitation_gain": 5.0},
    {},
]


def _same(a, b):
    for part in ("plasma", "inputs", "observed"):
        da, db = getattr(a, part), getattr(b, part)
        assert sorted(da) == sorted(db)
        for k in da:
            np.testing.assert_allclose(db[k], da[k], rtol=1e-12, atol=1e-12, err_msg=f"{part}:{k}")
    assert np.array_equal(a.time, b.time)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_batched_equals_sequential(name):
    sc = npl.Scenario.build(**SCENARIOS[name])
    p = default_parameters()
    pts = sample_patients(6, "mdd", 3)
    runs = run_arm_batch(sc, sc.treatments, pts, ParameterBatch(p, CANDIDATES))
    assert len(runs) == len(CANDIDATES)
    for values, r in zip(CANDIDATES, runs):
        _same(run_arm(sc, sc.treatments, pts, p.with_values(values)), r)
    # the candidates differ (the batch is not K copies of one run)
    assert not np.array_equal(runs[0].observed["hamd17_expected"], runs[2].observed["hamd17_expected"])


def test_rtms_plan_per_candidate_and_own_cohorts_and_groups():
    """A calendar parameter (the TMS plan's calcium rule) varies per candidate; each candidate has its own cohort;
    a small budget splits the batch into groups: still equal to the sequential runs."""
    sc = npl.Scenario.build(**SCENARIOS["rtms"])
    p = default_parameters()
    values = [{"plasticity.calcium.facilitation_gain": g} for g in (1.0, 3.0, 6.0)]
    cohorts = [sample_patients(3, "mdd", s) for s in (1, 2, 3)]
    runs = run_arm_batch(sc, sc.treatments, cohorts, ParameterBatch(p, values), budget=1.0)
    for v, c, r in zip(values, cohorts, runs):
        _same(run_arm(sc, sc.treatments, c, p.with_values(v)), r)
    assert runs[0].observed["ltp_early"].max() != runs[2].observed["ltp_early"].max()


def test_life_event_rate_per_candidate():
    """The life-event rate is a population value that run_arm itself reads (the events it adds): each candidate's
    patients meet events at its own rate, as in a run with that set alone."""
    sc = npl.Scenario.build(duration="20 weeks", output_every="1 week", treatments=[])
    p = default_parameters()
    pts = sample_patients(8, "mdd", 4)
    values = [{"population.life_events.rate": r} for r in (0.1, 2.0)]
    runs = run_arm_batch(sc, sc.treatments, pts, ParameterBatch(p, values))
    for v, r in zip(values, runs):
        _same(run_arm(sc, sc.treatments, pts, p.with_values(v)), r)
    e = [r.observed["stress_exposure"][-1].sum() for r in runs]
    assert e[1] > e[0]   # more events, more exposure


def test_one_candidate_is_the_unbatched_run_bit_for_bit():
    sc = npl.Scenario.build(**SCENARIOS["escitalopram"])
    p = default_parameters()
    pts = sample_patients(4, "mdd", 5)
    v = {"plasticity.bdnf.w_da": 0.4}
    (r,) = run_arm_batch(sc, sc.treatments, pts, ParameterBatch(p, [v]))
    ref = run_arm(sc, sc.treatments, pts, p.with_values(v))
    for k in ref.observed:
        assert np.array_equal(ref.observed[k], r.observed[k])
    # a batch of two with one value differing is bitwise too (per-patient arrays in place of scalars)
    r2 = run_arm_batch(sc, sc.treatments, pts, ParameterBatch(p, [v, {"plasticity.bdnf.w_da": 0.8}]))[0]
    for k in ref.observed:
        assert np.array_equal(ref.observed[k], r2.observed[k])


@pytest.mark.parametrize("name", ["pk.escitalopram.half_life", "pd.paroxetine.k_sert", "plasticity.bdnf.protein_time",
                                  "mood.monoamine.lag", "mood.scales.madrs_slope"])
def test_unbatchable_parameters_are_refused(name):
    p = default_parameters()
    lo, hi = p[name].low, p[name].high
    with pytest.raises(ParameterError, match="cannot vary across a parameter batch"):
        ParameterBatch(p, [{name: lo}, {name: hi}])
    ParameterBatch(p, [{name: lo}, {name: lo}])  # the same value in every candidate is not a batch axis


def test_every_fitted_parameter_can_be_batched():
    from neuroplastic.validation.calibrate import FREE
    for names in FREE.values():
        for n in names:
            classify(n)


def test_validation_rows_batched_equal_sequential():
    """evaluate_batch == K calls of evaluate on a few targets (placebo/drug RCT, STAR*D outpatients, VNS with its
    implant expectancy), K = 3 with distinct values of several calibrated parameters."""
    _, targets = load_targets()
    ids = {"furukawa_placebo_response", "kirsch_drug_placebo_difference", "stard_remission_hamd17",
           "rush_vns_response_active"}
    tg = [t for t in targets if t.id in ids]
    assert len(tg) == len(ids)
    p = default_parameters()
    cal = set(p.calibrated())
    values = [
        {"plasticity.bdnf.w_da": 0.5, "population.placebo.sd": 0.8, "mood.scales.entry_inflation": 2.0,
         "placebo.expectancy.implant": 0.8, "population.outpatient.episode_rate": 0.6},
        {"plasticity.bdnf.creb_max": 1.2, "brain.circuit.w_da_reward": 0.5, "population.trd.stress_median": 1.5,
         "population.capacity.sd": 0.3},
        {"brain.expectancy.w_vta": 0.8, "population.episode.sd": 0.6, "brain.circuit.w_5ht_sgacc": 0.3},
    ]
    assert all(set(v) <= cal for v in values)
    rows_b, sim = evaluate_batch(tg, p, values, "plasticity")
    assert sim.runs == 4  # ssri_rct drug and placebo, stard drug, vns drug: each once for all candidates
    for v, rows in zip(values, rows_b):
        ref, _ = evaluate(tg, p.with_values(v), "plasticity")
        assert [r["target"] for r in rows] == [r["target"] for r in ref]
        for a, b in zip(ref, rows):
            assert a["error"] is None and b["error"] is None
            assert abs(a["simulated"] - b["simulated"]) <= 1e-9, a["target"]
            assert {k: x for k, x in a.items() if k != "simulated"} == {k: x for k, x in b.items() if k != "simulated"}
    assert rows_b[0][0]["simulated"] != rows_b[1][0]["simulated"]


def test_objective_terms_batch_equals_objective_terms():
    from neuroplastic.validation.calibrate import objective_terms, objective_terms_batch
    _, targets = load_targets()
    tg = [t for t in targets if t.id in ("klein_esc_6h", "klein_esc_54h")]
    p = default_parameters()
    values = [{"brain.circuit.w_5ht_sgacc": 0.1}, {}, {"plasticity.bdnf.w_da": 0.2}]
    got = objective_terms_batch(values, p, "plasticity", tg)
    assert got == [objective_terms(v, p, "plasticity", tg) for v in values]


def test_a_candidate_runs_only_the_protocols_its_rows_read():
    """With rows per candidate (a cross-validation fold holds a family out), an arm runs only for the candidates
    whose rows read its protocol, and each candidate's terms equal its own sequential evaluation."""
    from neuroplastic.validation.calibrate import objective_terms, objective_terms_batch
    from neuroplastic.validation.runner import BatchSimulator
    _, targets = load_targets()
    klein = [t for t in targets if t.id in ("klein_esc_6h", "klein_esc_54h")]
    other = next(t for t in targets if t.id == "meyer_sert_escitalopram")
    p = default_parameters()
    values = [{"brain.circuit.w_5ht_sgacc": 0.1}, {}]
    rows_per = [klein, [klein[0], other]]
    got = objective_terms_batch(values, p, "plasticity", (), rows_per=rows_per)
    assert got == [objective_terms(v, p, "plasticity", r) for v, r in zip(values, rows_per)]
    assert list(got[0]) == [t.id for t in klein] and list(got[1]) == [klein[0].id, other.id]
    sim = BatchSimulator(p, values, "plasticity", needs=[{t.protocol for t in r} for r in rows_per])
    sim.views[1].arm(other.protocol, next(iter(sim.protocols[other.protocol]["arms"])))
    assert [k for k in range(2) if k in next(iter(sim._cache.values()))] == [1]


def test_candidates_differing_only_in_a_drive_share_one_calendar():
    """A practice drive of 0 still gives the practice pulses (of value 0), so candidates that differ only in drive
    share one calendar and one batched run; the numbers equal sequential runs (candidates whose calendars do differ
    in timing still fall back to separate runs)."""
    sc = npl.Scenario.build(duration="2 weeks", output_every="1 day",
                            treatments=[{"psychotherapy": {"kind": "cbt", "every": "1 week", "sessions": 2}}])
    p = default_parameters()
    pts = sample_patients(4, "mdd", 5)
    cands = [{"therapy.cbt.dlpfc_drive": 0.0}, {"therapy.cbt.dlpfc_drive": 0.2}]
    cals = [build_calendar(sc.treatments, sc.duration, pts.weight, p.with_values(v), pts.placebo) for v in cands]
    assert [(x.start, x.end, x.channel) for x in cals[0].pulses] == [(x.start, x.end, x.channel) for x in cals[1].pulses]
    runs = run_arm_batch(sc, sc.treatments, pts, ParameterBatch(p, cands))
    for values, r in zip(cands, runs):
        _same(run_arm(sc, sc.treatments, pts, p.with_values(values)), r)
    assert not np.array_equal(runs[0].observed["hamd17_expected"], runs[1].observed["hamd17_expected"])


def test_calcium_tables_of_many_candidates_in_one_run_equal_one_by_one():
    """The calcium-rule tables of several candidates (differing in the three rule parameters a fit moves) come from
    one run with every candidate's synapses side by side; each equals the table computed alone, bit for bit."""
    from neuroplastic.physics import tms_session as ts
    from neuroplastic.scenario import parse_scenario

    base = default_parameters()
    protocol = parse_scenario("duration: 1 day\ntreatments: [{tms: {protocol: itbs}}]").treatments[0].tms.make_protocol()
    sets = [ts.plan_parameters(base.with_values({"plasticity.calcium.facilitation_gain": g,
                                                 "plasticity.calcium.meta_fast_gain": 5.0 + 4 * g,
                                                 "plasticity.calcium.meta_slow_scale": 0.02 + 0.01 * g},
                                                version=f"cal-{g}")) for g in (0.5, 2.0, 4.0)]
    ts._TABLES.clear()
    ts.prime_response_tables(protocol, sets)
    together = [ts._TABLES[(protocol, s)][1](ts.E_GRID) for s in sets]
    ts._TABLES.clear()
    alone = [ts.response_table(protocol, s)[1](ts.E_GRID) for s in sets]
    ts._TABLES.clear()
    for a, b in zip(alone, together):
        assert np.array_equal(a, b)
    assert not np.allclose(alone[0], alone[2])


def test_a_synapse_of_the_calcium_rule_does_not_depend_on_the_others():
    """Each synapse's end state depends only on its own recruitment (per-synapse end time and step counts)."""
    from neuroplastic.plasticity.synaptic import simulate_session

    t = np.concatenate([np.arange(30) * 0.1, 20.0 + np.arange(30) * 0.1])
    few = simulate_session(t, np.array([0.3, 0.8]))
    many = simulate_session(t, np.array([0.3, 0.8, 1.0, 0.05, 0.6]))
    assert np.array_equal(few.rho, many.rho[:2]) and np.array_equal(few.l, many.l[:2])


def test_single_session_rows_of_many_candidates_in_one_run_equal_one_by_one(monkeypatch):
    """The single-session rows (TMS after-effects: calcium rule plus its decay) of K candidates come from one run of
    the calcium rule per session shape, and equal the candidate-by-candidate rows."""
    import neuroplastic.plasticity.synaptic as synaptic
    from neuroplastic.validation.runner import SESSION_KINDS

    _, targets = load_targets()
    tg = [t for t in targets if t.statistic["kind"] in SESSION_KINDS]
    assert tg
    p = default_parameters()
    values = [{"plasticity.calcium.facilitation_gain": 1.5, "plasticity.calcium.early_decay_tau": 40.0},
              {"plasticity.calcium.meta_fast_gain": 0.5, "plasticity.calcium.meta_slow_scale": 0.06},
              {}]
    calls = []
    real = synaptic.simulate_session
    monkeypatch.setattr(synaptic, "simulate_session", lambda *a, **k: calls.append(1) or real(*a, **k))
    rows_b, sim = evaluate_batch(tg, p, values, "plasticity")
    shapes = {(t.protocol, t.statistic["pattern"], int(n)) for t in tg
              for n in (t.statistic["pulses"], t.statistic.get("ref_pulses")) if n is not None}
    assert len(calls) == len(shapes) == len(sim._sessions)
    for v, rows in zip(values, rows_b):
        ref, _ = evaluate(tg, p.with_values(v), "plasticity")
        assert [(r["target"], r["simulated"]) for r in rows] == [(r["target"], r["simulated"]) for r in ref]
    assert rows_b[0] != rows_b[2]
