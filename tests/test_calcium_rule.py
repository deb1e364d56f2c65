"""Graupner-Brunel calcium rule with metaplasticity: exactness, invariants, and the TMS outcomes it must give."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.physics.tms import session_summary
from neuroplastic.plasticity.synaptic import (
    CalciumRule, averaged_rates, reference_integrate, session_weight_change, simulate_session, time_above_thresholds,
)
from neuroplastic.physics.tms import make_protocol

RULE = CalciumRule.from_params()


# --- exactness -------------------------------------------------------------------------------------------
def _mixed_train():
    burst = np.array([0.0, 0.02, 0.04])
    return np.concatenate([burst, burst + 0.2, [0.35, 0.45], burst + 0.5, [0.8]])


@pytest.mark.parametrize("bistable", [True, False])
def test_event_driven_matches_fine_fixed_step_reference(bistable):
    # fast metaplastic traces so that the sliding threshold matters inside the short test train
    rule = replace(RULE, meta_fast_tau=0.1, meta_fast_gain=15.0, meta_slow_tau=0.4, meta_slow_scale=0.02,
                   bistable=bistable, tau=5.0)  # shorter tau: bigger changes, a sharper test
    t = _mixed_train()
    rec = np.array([1.0, 0.85, 0.6, 0.3])
    rho0 = np.array([0.5, 0.2, 0.8, 0.5])
    fast = simulate_session(t, rec, rec, rho0, rule=rule)
    ref = reference_integrate(t, rec, rec, rho0, rule=rule, dt=5e-6, t_end=fast.t_end)
    assert np.max(np.abs(fast.rho - rho0)) > 0.02  # something happened
    assert np.max(np.abs(fast.rho - ref)) < 1e-3


def test_single_pair_threshold_times_are_analytic():
    tp, td = time_above_thresholds([0.0])
    c_at_d = RULE.c_post * np.exp(-RULE.delay / RULE.tau_ca) + RULE.c_pre
    assert td[0] == pytest.approx(RULE.delay + RULE.tau_ca * np.log(c_at_d / RULE.theta_d))
    assert tp[0] == pytest.approx(RULE.tau_ca * np.log(c_at_d / RULE.theta_p))


def test_averaged_form_predicts_long_run_fixed_point():
    rule = CalciumRule.from_params(metaplasticity=False, bistable=False)
    t = np.arange(400) * 0.5  # 2 Hz, no calcium summation
    tp, td = time_above_thresholds(t, 1.0, rule=rule)
    rho_bar, tau_eff = averaged_rates(tp / 200.0, td / 200.0, rule=rule)
    end = simulate_session(t, 1.0, rho0=0.5, rule=rule).rho
    assert tau_eff[0] < 200.0 / 3  # several effective time constants elapsed
    assert end[0] == pytest.approx(rho_bar[0], abs=0.01)


def test_unrecruited_synapses_do_not_change_and_weights_map():
    dw = session_weight_change(make_protocol("itbs").pulse_times(), [0.0, 1.0])
    assert dw[0] == 0.0 and dw[1] != 0.0
    assert RULE.weight(1.0) == pytest.approx(RULE.b)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.0, 5.0), min_size=1, max_size=60), st.floats(0.0, 1.0), st.floats(0.0, 1.0),
       st.floats(0.0, 1.0))
def test_rho_stays_in_unit_interval(times, rec, rec2, rho0):
    t = np.sort(np.asarray(times))
    s = simulate_session(t, np.array([rec, rec2, 1.0]), rho0=rho0)
    assert np.all((s.rho >= 0.0) & (s.rho <= 1.0))
    assert np.all((s.m >= 0) & (s.m <= 1)) and np.all((s.l >= 0) & (s.l <= 1))


# --- outcomes that must come out of the mechanism (Huang 2005; Gamboa 2010; Chen 1997) --------------------
@pytest.fixture(scope="module")
def outcomes():
    runs = {("1hz", 900), ("10hz", 3000), ("itbs", 600), ("itbs", 1200), ("ctbs", 300), ("ctbs", 600),
            ("ctbs", 1200)}
    return {k: session_summary(k[0], k[1], 120) for k in runs}


def test_frequency_dependence_signs(outcomes):
    assert outcomes[("1hz", 900)]["weight_change_30min"] < 0
    assert outcomes[("10hz", 3000)]["weight_change_30min"] > 0


def test_theta_burst_pattern_sets_the_sign(outcomes):
    assert outcomes[("itbs", 600)]["weight_change_30min"] > 0
    assert outcomes[("ctbs", 600)]["weight_change_30min"] < 0


def test_ctbs_600_lasts_longer_than_300(outcomes):
    c3, c6 = outcomes[("ctbs", 300)], outcomes[("ctbs", 600)]
    assert c3["weight_change_30min"] < 0
    assert c6["aftereffect_duration_min"] > c3["aftereffect_duration_min"] > 0


def test_doubling_theta_burst_reverses_sign(outcomes):
    itbs_flips = np.sign(outcomes[("itbs", 1200)]["weight_change_end"]) != np.sign(
        outcomes[("itbs", 600)]["weight_change_end"])
    ctbs_flips = np.sign(outcomes[("ctbs", 1200)]["weight_change_end"]) != np.sign(
        outcomes[("ctbs", 600)]["weight_change_end"])
    assert itbs_flips or ctbs_flips


def test_early_change_decays_to_baseline(outcomes):
    s = outcomes[("itbs", 600)]
    assert abs(s["weight_change_30min"]) < abs(s["weight_change_end"])
