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
        assert t.family in FAMILIES and t.used_for in ("fit", "check")
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
