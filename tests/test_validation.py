"""Calibration and validation (issue 6): targets as data, calibration hygiene, a tiny validate run."""

import json
import math

import numpy as np
import pytest

from neuroplastic.params import default_parameters
from neuroplastic.params._registry import load_calibration
from neuroplastic.validation import load_targets, population, run_validation
from neuroplastic.validation.calibrate import FREE, _maps, literature_parameters, load_set
from neuroplastic.validation.targets import FAMILIES


def test_targets_schema_and_reasons():
    protocols, targets = load_targets()
    assert len(targets) >= 15
    for t in targets:
        assert t.family in FAMILIES and t.used_for in ("fit", "check", "input")
        assert t.source.strip() and t.population.strip()
        assert len(t.tolerance_reason.strip()) > 10, t.id          # every tolerance states its reason
        lo, hi = t.interval
        assert lo < hi, t.id
        assert t.protocol in protocols
        if not t.confirmed:                                         # (check) rows say so in their reason
            assert "not confirmed" in t.tolerance_reason, t.id
    assert any(t.used_for == "fit" for t in targets) and any(t.used_for == "check" for t in targets)


def test_population_is_deterministic():
    a, b = population(), population()
    assert a.n == 120
    # stratified: every marginal is covered evenly, so the median patient is the registry's typical patient
    assert abs(np.median(a.stress) - 1.0) < 0.01 and abs(np.median(a.episode_rate) - 1.0) < 0.02
    assert (a.stress == b.stress).all() and (a.placebo == b.placebo).all() and list(a.cyp2c19) == list(b.cyp2c19)


def test_fit_only_touches_calibrated_parameters():
    lit = literature_parameters()
    cal = set(lit.calibrated())
    for names in FREE.values():
        assert set(names) <= cal
    with pytest.raises(ValueError):
        _maps(lit, ["pk.escitalopram.half_life"])
    for hyp in ("plasticity", "monoamine"):
        doc = load_set(hyp)
        if doc:
            assert set(doc["overrides"]) <= cal
            for k, v in doc["overrides"].items():
                assert lit[k].low <= v <= lit[k].high
    shipped = load_calibration()
    if shipped:
        p = default_parameters()
        for k in p:
            if k not in shipped["overrides"]:
                assert p.value(k) == lit.value(k), k                 # literature values untouched


def test_tiny_validate(tmp_path):
    ids = ["klein_single_10mg", "klein_single_20mg", "zarate_response_24h"]
    s = run_validation(tmp_path, hypotheses=("plasticity",), cross_validate=False, targets=ids)
    rows = json.loads((tmp_path / "validation.json").read_text())
    assert sorted(r["target"] for r in rows) == sorted(ids)
    for r in rows:
        assert {"target", "source", "statistic", "observed", "simulated", "tolerance", "passed"} <= set(r)
        assert r["simulated"] is not None and math.isfinite(r["simulated"])
    assert s["total"] == 3 and 0 <= s["passed"] <= 3
    assert (tmp_path / "report.md").read_text().count("targets passed") >= 1
    assert list(tmp_path.glob("*.png"))


def _sampled_first_passage(run, p, scale, criterion, visits, n=40000, seed=3):
    """Monte Carlo of the observation model (scales.observed_scores): independent rounded rater noise per rating."""
    from neuroplastic.mood.scales import SCALES
    from neuroplastic.validation.runner import _at, _mean_rating
    sc = SCALES[scale]
    sd = p.value(sc.sd_key)
    e = _mean_rating(run, p, scale)
    rng = np.random.default_rng(seed)
    out = np.zeros((len(visits), e.shape[1]))
    for j in range(e.shape[1]):
        base = np.round(e[0, j] + sd * rng.standard_normal(n))
        done = np.zeros(n, bool)
        for k, v in enumerate(visits):
            obs = np.round(_at(e[:, j], run["t"], v) + sd * rng.standard_normal(n))
            hit = obs <= sc.remission if criterion == "remission" else obs <= 0.5 * base
            out[k, j] = np.mean(hit & ~done)
            done |= hit
    return out


@pytest.mark.parametrize("criterion", ["remission", "response"])
def test_first_passage_matches_sampled_ratings(criterion):
    """The analytic first-passage probabilities (quadrature over the shared baseline noise, independent noise at
    each visit) agree with sampling the rater model itself."""
    from neuroplastic.validation.runner import _first_passage
    p = default_parameters()
    t = np.arange(0.0, 99.0, 1.0)
    start = np.array([14.0, 17.0, 20.0])                    # QIDS-SR16 expected scores, three patients
    end = np.array([4.0, 7.0, 12.0])
    e = start[None, :] + (end - start)[None, :] * (1 - np.exp(-t / 30.0))[:, None]
    run = {"t": t, "obs": {"qids_sr16_recalled": e}}
    visits = [14, 28, 42, 63, 84, 98]
    exact = _first_passage(run, p, "qids_sr16", criterion, visits)
    mc = _sampled_first_passage(run, p, "qids_sr16", criterion, visits)
    # exact up to sampling error (SE <= 0.0025 at n = 40000)
    tol = 0.01
    assert np.max(np.abs(exact - mc)) < tol


def _sampled_after_response(run, p, st, when, n=20000, seed=5):
    """Monte Carlo of the observation model for the statistics after response: observed baseline, responders by their
    observed rating at ``responders``, relapse as a run of ``consecutive`` high observed ratings at the visits."""
    from neuroplastic.mood.scales import SCALES
    from neuroplastic.validation.runner import _at, _mean_rating
    from neuroplastic.validation.targets import days
    sc = SCALES[st["scale"]]
    sd = p.value(sc.sd_key)
    e = _mean_rating(run, p, st["scale"])
    rng = np.random.default_rng(seed)
    t0, step, k = days(st["responders"]), days(st.get("every", "2 weeks")), int(st.get("consecutive", 2))
    visits = np.arange(t0 + step, when + 1e-6, step)
    obs = lambda j, v: np.clip(np.round(_at(e[:, j], run["t"], v) + sd * rng.standard_normal(n)), 0, sc.maximum)
    resp_all, rel_all, onset_all, still_all = [], [], [], []
    for j in range(e.shape[1]):
        base = obs(j, 0.0)
        cut = np.full(n, float(st["response_max"])) if "response_max" in st else np.floor(0.5 * base)
        resp = obs(j, t0) <= cut
        run_len, onset = np.zeros(n, int), np.full(n, np.inf)
        for v in visits:
            o = obs(j, v)
            high = o >= st["threshold"] if "threshold" in st else o > cut
            run_len = np.where(high, run_len + 1, 0)
            onset = np.where((run_len >= k) & np.isinf(onset), v - (k - 1) * step - days(st.get("since", st["responders"])), onset)
        still_all.append(obs(j, when) <= cut)
        resp_all.append(resp), rel_all.append(np.isfinite(onset)), onset_all.append(onset)
    resp, rel, onset, still = map(np.concatenate, (resp_all, rel_all, onset_all, still_all))
    return {"relapse_rate": rel[resp].mean(), "sustained_response": still[resp].mean(),
            "median_time_to_relapse": np.median(onset[resp])}


@pytest.mark.parametrize("rule", [
    {"scale": "hamd17", "responders": "16 weeks", "response_max": 12, "every": "1 week", "threshold": 14},
    {"scale": "hamd17", "responders": "12 weeks", "every": "2 weeks", "threshold": 16},
    {"scale": "madrs", "responders": "12 days", "since": "11 days", "every": "3.5 days", "consecutive": 2},
])
def test_relapse_after_response_matches_sampled_ratings(rule):
    """Relapse, sustained response and the median time to relapse among responders read from *observed* ratings
    (Hollon's, Geddes's and Murrough's rules): the exact recursion over runs of high ratings, summed over the shared
    observed baseline, agrees with sampling the rater model itself."""
    from neuroplastic.validation.runner import _after_response
    p = default_parameters()
    t = np.arange(0.0, 400.0, 0.5)
    start = np.array([24.0, 22.0, 26.0, 20.0])              # HAM-D17 expected courses: respond, then some relapse
    low = np.array([7.0, 10.0, 11.0, 9.0])
    late = np.array([8.0, 18.0, 14.0, 22.0])
    fall = (1 - np.exp(-t / 20.0))[:, None]
    rise = np.clip((t - 120.0) / 150.0, 0, 1)[:, None]
    e = start + (low - start) * fall + (late - low) * rise
    if rule["scale"] == "madrs":
        e = 1.4 * e
    run = {"t": t, "obs": {f"{rule['scale']}_recalled": e}}
    when = 360.0 if rule["scale"] == "hamd17" else 94.0
    mc = _sampled_after_response(run, p, rule, when)
    for kind in ("relapse_rate", "sustained_response"):
        exact = _after_response(run, p, {**rule, "kind": kind}, kind, when)
        assert exact == pytest.approx(mc[kind], abs=0.01), kind     # SE about 0.002 at n = 4 x 20000
    if rule["scale"] == "madrs":
        exact = _after_response(run, p, {**rule, "kind": "median_time_to_relapse"}, "median_time_to_relapse", when)
        assert exact == pytest.approx(mc["median_time_to_relapse"], abs=3.5)   # one visit interval


def test_outpatient_population_matches_stard_entry_scores():
    """The STAR*D-like `outpatient` population reproduces the published entry QIDS-SR16 distribution (15.4, SD 4.8;
    IsHak 2015) from which its stress median and spread were read."""
    from neuroplastic.validation.runner import Simulator, _mean_rating
    p = default_parameters()
    sim = Simulator(p, "plasticity")
    assert sim.protocols["stard_level1"]["population"] == "outpatient"
    e0 = _mean_rating(sim.arm("stard_level1", "drug"), p, "qids_sr16")[0]
    sd = math.sqrt(e0.var() + p.value("mood.scales.qids_rater_sd") ** 2)
    assert abs(e0.mean() - 15.4) < 0.5 and abs(sd - 4.8) < 0.5


def test_recovery_by_a_time_is_cumulative_and_follows_the_community_course():
    """Spijker 2002 reports how many new episodes have *ended* by 3-24 months (a survival analysis of episode
    durations), so its rows read the share whose expected HAM-D17 has reached remission at some time so far: never
    below the remission share at that time and never falling. The `community` population (untreated new episodes
    outside trials) differs from trial patients only in its severity (broad entry) and its natural-course speed,
    which is what the rows read: a four times slower course ends fewer episodes within a year."""
    from neuroplastic.validation.runner import Simulator, _p_criterion, _recovered_by, compute
    p = default_parameters()
    sim = Simulator(p, "plasticity")
    assert sim.protocols["natural_course"]["population"] == "community"
    run = sim.arm("natural_course", "none")
    rec = _recovered_by(run, p, "hamd17").mean(axis=1)
    assert np.all(np.diff(rec) >= 0) and rec[0] < 0.05
    t = run["t"]
    for week in (13, 26, 52, 104):
        i = int(np.argmin(abs(t - 7 * week)))
        assert rec[i] >= float(np.mean(_p_criterion(run, p, "hamd17", "remission", t[i]))) - 0.05
    _, targets = load_targets()
    row = next(x for x in targets if x.id == "spijker_recovered_12m")
    assert compute(row, sim) == pytest.approx(rec[int(np.argmin(abs(t - 7 * 52)))])
    slow = p.with_values({"population.community.episode_rate": p.value("population.community.episode_rate") / 4})
    assert compute(row, Simulator(slow, "plasticity")) < compute(row, sim) - 0.1


def test_monoamine_cannot_give_stard_rates_and_timing():
    """Hypothesis test on STAR*D level 1: no monoamine setting (its own two parameters, across their ranges) fits the
    rate and timing rows together nearly as well as plasticity: a drug effect strong enough for the rates arrives
    within the first visits, a weak one misses the rates."""
    from neuroplastic.validation import hypothesis_parameters
    from neuroplastic.validation.profile import monoamine_profile, protocol_misfits
    from neuroplastic.validation.runner import Simulator, compute
    prof = monoamine_profile(hypothesis_parameters("monoamine"), relief=(0.25, 0.4, 0.55, 0.7, 0.85), half=(0.3, 3.0))
    _, targets = load_targets()
    sim = Simulator(default_parameters(), "plasticity")
    plas = protocol_misfits("stard_level1", {t.id: compute(t, sim) for t in targets if t.protocol == "stard_level1"})
    assert plas["misfit_rates"] <= len(prof["rate_targets"])    # plasticity reproduces the rates
    strong = [g for g in prof["grid"] if g["values"]["stard_remission_hamd17"] >= 0.22]
    assert strong and all(g["values"]["stard_responders_8wk"] < 0.3 for g in strong)   # rates only with early responses
    assert min(g["misfit_all"] for g in prof["grid"]) > 2 * plas["misfit_all"]


def test_peak_time_is_the_vertex_between_samples_and_varies_continuously():
    from neuroplastic.validation.runner import _vertex_time

    t = np.arange(0.0, 3.0, 0.25)
    for vertex in (0.9, 1.0, 1.1):   # a true minimum between output times is found, not the nearest output time
        assert _vertex_time(t, (t - vertex) ** 2) == pytest.approx(vertex, abs=1e-12)
    assert _vertex_time(t, t) == 0.0 and _vertex_time(t, -t) == t[-1]   # at an end of the record: that sample
    shifts = np.linspace(0.9, 1.1, 41)
    peaks = np.array([_vertex_time(t, np.abs(t - s) ** 1.5) for s in shifts])
    assert np.all(np.diff(peaks) >= 0) and np.max(np.diff(peaks)) < 0.05   # no jump from one sample to the next


def test_session_rows_are_the_session_summary_of_their_protocol():
    from neuroplastic.physics.tms import session_summary
    from neuroplastic.validation.runner import Simulator, compute

    targets = {t.id: t for t in load_targets()[1]}
    sim = Simulator(default_parameters())
    for rid in ("huang2005_itbs600_duration", "huang2005_ctbs600_duration"):
        st = targets[rid].statistic
        want = session_summary(st["pattern"], st["pulses"], 120, default_parameters())["aftereffect_duration_min"]
        assert compute(targets[rid], sim) == want
    # the rows see the candidate's parameters: a slower early decay lengthens every after-effect
    slow = Simulator(default_parameters().with_values({"plasticity.calcium.early_decay_tau": 60.0}))
    assert compute(targets["huang2005_ctbs600_duration"], slow) > compute(targets["huang2005_ctbs600_duration"], sim)


def test_median_time_to_relapse_counts_from_the_last_dose(monkeypatch):
    """Responders at day 12; visits every 3.5 days; relapse = no longer responding at two successive visits, dated
    at the first of them and counted from ``since``. Three responders relapse at 7, 14 and never; one non-responder."""
    from neuroplastic.validation import runner
    t = np.arange(0.0, 60.0, 0.5)
    base = 30.0
    def course(relapse_day):   # 30 at entry, 10 from day 1 on, back to 25 from relapse_day (if any)
        y = np.where(t < 1, base, 10.0)
        return np.where(t >= relapse_day, 25.0, y) if relapse_day is not None else y
    e = np.stack([course(12 + 7 - 0.1), course(12 + 14 - 0.1), course(None), np.full_like(t, base)], axis=1)
    monkeypatch.setattr(runner, "_mean_rating", lambda run, params, scale: e)
    st = {"kind": "median_time_to_relapse", "scale": "madrs", "responders": "12 days", "since": "11 days",
          "time": "50 days", "every": "3.5 days", "consecutive": 2}
    p = default_parameters().with_values({"mood.scales.madrs_rater_sd": 0.5})   # every course far from the cut
    got = runner._after_response({"t": t}, p, st, st["kind"], 50.0)
    assert got == pytest.approx(15.0)   # onsets 8 and 15 days after day 11 (and one censored): the median is 15
    st["time"] = "20 days"              # fewer than half of the responders relapse by then
    assert np.isnan(runner._after_response({"t": t}, p, st, st["kind"], 20.0))


class _ArmStub:
    """A simulator whose arms are empty records, for statistics whose rates a test stubs."""
    params = default_parameters()
    protocols: dict = {}

    def arm(self, protocol, arm):
        return {}


def test_risk_ratio_over_time_compares_an_arm_with_itself(monkeypatch):
    """``ref_time`` turns a risk ratio into the arm's rate at ``time`` over its own rate at ``ref_time`` (Han 2016:
    how much of the 24-h ketamine response is left at 72 h and day 7)."""
    from neuroplastic.validation import runner

    rate = {1.0: np.array([0.5, 0.6]), 3.0: np.array([0.4, 0.5]), 7.0: np.array([0.1, 0.3])}
    monkeypatch.setattr(runner, "_p_criterion", lambda run, params, scale, crit, when: rate[round(when, 6)])

    rows = {t.id: t for t in load_targets()[1]}
    assert runner.compute(rows["han_response_72h_ratio"], _ArmStub()) == pytest.approx(0.45 / 0.55)
    assert runner.compute(rows["han_response_d7_ratio"], _ArmStub()) == pytest.approx(0.2 / 0.55)


def test_effect_ratio_reads_each_time_over_its_own_recall_window(monkeypatch):
    """An 2021's ratio compares the drug - placebo difference rated 3 h after the dose over the 3 h since it with the
    difference at 24 h rated over the protocol's 24-h window: ``recall`` is the window of the rating at ``time``,
    ``peak_recall`` that of the rating at ``peak``."""
    from neuroplastic.validation import runner

    class Stub(_ArmStub):
        def arm(self, protocol, arm):
            return {"arm": arm, "window": "protocol"}

    monkeypatch.setattr(runner, "_recall_view", lambda run, recall_days, params: {**run, "window": round(recall_days * 24)})
    change = {("esk84", 3, 3 / 24): -18.0, ("placebo", 3, 3 / 24): -10.0,
              ("esk84", 24, 1.0): -20.0, ("placebo", 24, 1.0): -6.0}
    monkeypatch.setattr(runner, "_change", lambda run, scale, when, params: change[(run["arm"], run["window"], round(when, 6))])

    row = {t.id: t for t in load_targets()[1]}["an_difference_3h_ratio"]
    assert runner.compute(row, Stub()) == pytest.approx(8.0 / 14.0)


def test_risk_ratio_over_time_is_undefined_without_a_reference_rate(monkeypatch):
    """Nobody responding at the reference time (the monoamine hypothesis 24 h after ketamine) makes the ratio
    undefined, a failed row, not a huge number that would swamp the objective."""
    from neuroplastic.validation import runner

    monkeypatch.setattr(runner, "_p_criterion", lambda run, params, scale, crit, when: np.array([1e-6, 3e-6]))

    row = {t.id: t for t in load_targets()[1]}["han_response_72h_ratio"]
    value = runner.compute(row, _ArmStub())
    assert np.isnan(value) and row.misfit(value) == 25.0
