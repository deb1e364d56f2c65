"""The shared biology: published time scales, the two hypotheses, and no treatment carrying its own mood effect."""

import numpy as np
import pytest

import neuroplastic as npl
from conftest import pill, run, series


def _share(ds):
    t, h = series(ds, "hamd17_expected")
    b = h[0]
    return (b - np.interp(7, t, h)) / (b - np.interp(56, t, h)), h


def test_ssri_onset_over_weeks_under_plasticity():
    ds = pill("escitalopram", "10 mg").dataset
    share, h = _share(ds)
    t = ds["time"].values
    assert h[0] >= 20  # moderate-severe baseline
    assert 0 < share <= 0.35  # Taylor 2006: about a third of the drug effect in week 1 at most
    first = t[h <= h[0] / 2][0] / 7
    assert 3 <= first <= 10  # response between weeks 3 and 10 (STAR*D: mean ~5.7 weeks)
    for k in ("hamd17", "madrs", "qids_sr16"):
        v = ds[k].values
        assert not np.isnan(v).any() and v.min() >= 0
    assert ds["hamd17"].values.max() <= 52 and ds["madrs"].values.max() <= 60


def test_monoamine_hypothesis_is_fast():
    sm, hm = _share(pill("escitalopram", "10 mg", hypothesis="monoamine").dataset)
    sp, _ = _share(pill("escitalopram", "10 mg").dataset)
    assert sm >= 0.5 and sm >= 2 * sp
    assert hm[0] - hm[56] > 0


def test_hypotheses_share_pharmacology_and_chemistry():
    """The hypotheses differ only in what mood is read from: on the same steps (no per-patient error control,
    whose step choice also reads mood) the pharmacology and the biology are the same numbers."""
    from neuroplastic.engine._simulate import patients_from, run_arm
    from neuroplastic.params import default_parameters
    from neuroplastic.scenario import Scenario
    runs = []
    for hyp in ("plasticity", "monoamine"):
        sc = Scenario.build(duration="8 weeks", hypothesis=hyp, treatments=[{"drug": "escitalopram", "dose": "10 mg",
                                                                                 "every": "1 day"}])
        runs.append(run_arm(sc, sc.treatments, patients_from(sc), default_parameters(), tol=float("inf")))
    a, b = runs
    np.testing.assert_array_equal(a.plasma["escitalopram"], b.plasma["escitalopram"])
    for k in ("sert_occupancy", "synaptic_5ht", "raphe_firing", "ht1a_sensitivity", "bdnf", "spine_density"):
        np.testing.assert_array_equal(a.observed.get(k, a.inputs.get(k)), b.observed.get(k, b.inputs.get(k)), k)
    assert not np.array_equal(a.observed["severity"], b.observed["severity"])


def test_raphe_firing_suppressed_then_recovers():
    ds = pill("escitalopram", "10 mg", weeks=6).dataset
    t, f = series(ds, "raphe_firing")
    f0 = f[0]
    assert f[1:4].min() < 0.85 * f0  # suppressed in the first days (Blier & de Montigny 1994)
    assert np.interp(21, t, f) > 0.95 * f0  # recovered by 2-3 weeks
    _, a = series(ds, "ht1a_sensitivity")
    assert 0.15 <= 1 - np.interp(3, t, a) <= 0.6  # Le Poul 1995: ~40% desensitised by day 3
    assert 0.5 <= 1 - np.interp(21, t, a) <= 0.85  # 60-80% by day 21


def test_synaptic_serotonin_plateau_within_two_weeks():
    ds = pill("escitalopram", "10 mg", weeks=8).dataset
    t, s = series(ds, "synaptic_5ht")
    rise = s - s[0]
    assert np.interp(14, t, rise) >= 0.8 * rise[-1]
    assert np.interp(1, t, rise) >= 0.2 * rise[-1]  # the rise starts at once (acute reuptake block), the rest follows desensitisation


def test_neurogenesis_matures_over_weeks():
    ds = pill("escitalopram", "10 mg").dataset
    t, young = series(ds, "neurogenesis_immature_total")
    _, prog = series(ds, "neurogenesis_progenitors")
    d = young - young[0]
    assert np.interp(7, t, d) < 0.1 * d[-1]  # little change in the first week
    half = t[d >= 0.5 * d[-1]][0]
    assert 14 <= half <= 56
    assert np.interp(14, t, prog - prog[0]) > np.interp(14, t, d)  # proliferation leads maturation


@pytest.mark.parametrize("drug,dose", [("sertraline", "50 mg"), ("venlafaxine", "75 mg"), ("duloxetine", "60 mg"),
                                       ("bupropion", "300 mg"), ("fluoxetine", "20 mg"), ("citalopram", "20 mg"),
                                       ("paroxetine", "20 mg")])
def test_every_pill_gives_plausible_twelve_weeks(drug, dose):
    ds = pill(drug, dose).dataset
    share, h = _share(ds)
    assert 20 <= h[0] <= 30
    assert 0.2 * h[0] <= h[0] - h[-1] <= 0.9 * h[0]  # real improvement, not a cure to zero
    assert share <= 0.4


def test_fluoxetine_benefit_outlasts_escitalopram_after_stopping():
    f = pill("fluoxetine", "20 mg", weeks=14, stop="8 weeks").dataset
    e = pill("escitalopram", "10 mg", weeks=14, stop="8 weeks").dataset
    _, hf = series(f, "hamd17_expected")
    _, he = series(e, "hamd17_expected")
    # lost benefit 6 weeks after stopping, relative to the benefit at stopping
    lost_f = (hf[-1] - hf[56]) / (hf[0] - hf[56])
    lost_e = (he[-1] - he[56]) / (he[0] - he[56])
    assert lost_f < lost_e


def test_removing_plasticity_removes_lasting_benefit():
    """No treatment module holds a mood effect: with plasticity frozen (synaptic and structural change, and the
    learned expectation of benefit, brain.expectancy), no treatment's benefit outlasts it."""
    frozen_all = ("plasticity", "brain.expectancy")
    none = {"duration": "12 weeks", "treatments": []}
    nat_live = npl.simulate(none).dataset["hamd17_expected"].values[0]
    nat_frozen = npl.simulate(none, frozen=frozen_all).dataset["hamd17_expected"].values[0]
    for tr in ({"drug": "escitalopram", "dose": "10 mg", "every": "1 day", "stop": "8 weeks"},
               {"drug": "bupropion", "dose": "300 mg", "every": "1 day", "stop": "8 weeks"},
               {"drug": "ketamine", "dose": "0.5 mg/kg", "route": "iv", "infusion": "40 min", "at": ["0 days", "7 days"]},
               {"tms": {"protocol": "10hz", "days": "weekdays", "stop": "6 weeks"}},
               {"psychotherapy": {"kind": "cbt", "sessions": 8}}):
        doc = {"duration": "12 weeks", "treatments": [tr]}
        live = npl.simulate(doc).dataset["hamd17_expected"].values[0] - nat_live
        frozen = npl.simulate(doc, frozen=frozen_all).dataset["hamd17_expected"].values[0] - nat_frozen
        assert abs(frozen[-1]) < 0.05, tr  # weeks after the treatment ended, nothing is left without plasticity
        assert live[-1] < -0.2, tr  # with plasticity some benefit persists (ketamine fades most)


def test_untreated_patient_follows_slow_natural_course_and_mechanisms_have_units():
    ds = run({"duration": "4 weeks", "treatments": []}).dataset
    h = ds["hamd17_expected"].values[0]
    assert np.all(np.diff(h) <= 1e-9) and h[0] - h[-1] < 0.15 * h[0]  # slow spontaneous improvement only
    for name, da in ds.data_vars.items():
        assert da.attrs.get("units") is not None and da.attrs.get("long_name"), name
    for k in ("spine_density", "bdnf", "neurogenesis_mature", "ht1a_sensitivity", "raphe_firing", "synaptic_5ht",
              "activity_dlpfc", "activity_sgacc", "activity_hippocampus", "activity_reward"):
        assert k in ds

