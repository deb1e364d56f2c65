"""The calibration optimiser (CMA-ES): seeded and deterministic, resumable from its journal, records how a set
was made, and refuses to verify a set that records no command. The objective is replaced here by a cheap function
of the candidate values so the optimiser's machinery is tested in seconds; that the batched objective equals the
sequential one is tested in tests/test_batch_params.py."""

import importlib
import json

import numpy as np
import pytest
import yaml

cal = importlib.import_module("neuroplastic.validation.calibrate")


@pytest.fixture
def cheap(monkeypatch):
    """Objective terms = squared distance of each free parameter from a point inside its range (in range units)."""
    calls = []

    def fake(values_list, base, hypothesis, fit_targets, **kw):
        calls.append(len(values_list))
        out = []
        for v in values_list:
            terms = {}
            for name, x in sorted(v.items()):
                p = base[name]
                goal = p.low + 0.3 * (p.high - p.low)
                terms[name] = ((x - goal) / (p.high - p.low)) ** 2 * 100
            out.append(terms)
        return out

    monkeypatch.setattr(cal, "_generation", fake)
    return calls


def test_same_seed_same_fit_and_the_priors_ride_along(cheap):
    a = cal.fit("monoamine", generations=4, popsize=5, seed=3, log=lambda s: None)
    b = cal.fit("monoamine", generations=4, popsize=5, seed=3, log=lambda s: None)
    c = cal.fit("monoamine", generations=4, popsize=5, seed=4, log=lambda s: None)
    assert a["overrides"] == b["overrides"] and a["objective_after"] == b["objective_after"]
    assert a["overrides"] != c["overrides"]
    assert cheap[0] == 6 and set(cheap[1:4]) == {5}, "generation 1 evaluates the priors with its candidates"
    assert a["objective_after"] <= a["objective_before"] and a["evaluations"] == 20
    assert a["optimiser"]["seed"] == 3 and a["optimiser"]["generations"] == 4 and a["optimiser"]["popsize"] == 5
    assert a["data_version"] == cal.data_version()


def test_resume_from_the_journal_equals_an_uninterrupted_fit(cheap, tmp_path):
    full = cal.fit("monoamine", generations=6, popsize=4, seed=2, log=lambda s: None)
    j = tmp_path / "j.jsonl"
    cal.fit("monoamine", generations=3, popsize=4, seed=2, journal=j, log=lambda s: None)   # "interrupted" at 3
    assert len(j.read_text().splitlines()) == 3
    n_before = len(cheap)
    resumed = cal.fit("monoamine", generations=6, popsize=4, seed=2, journal=j, resume=True, log=lambda s: None)
    assert len(cheap) - n_before == 3, "only the missing generations are evaluated"
    assert resumed["overrides"] == full["overrides"] and resumed["objective_after"] == full["objective_after"]


def test_journal_from_other_settings_is_refused(cheap, tmp_path):
    from neuroplastic.errors import NeuroplasticError

    j = tmp_path / "j.jsonl"
    cal.fit("monoamine", generations=2, popsize=4, seed=2, journal=j, log=lambda s: None)
    with pytest.raises(NeuroplasticError, match="other settings"):
        cal.fit("monoamine", generations=3, popsize=4, seed=5, journal=j, resume=True, log=lambda s: None)


def test_written_set_records_command_seed_budget_objective_and_data(cheap, tmp_path):
    rep = cal.fit("monoamine", generations=2, popsize=4, seed=7, log=lambda s: None)
    rep["command"] = "neuroplastic calibrate --hypothesis monoamine --seed 7 --generations 2 --popsize 4"
    doc = yaml.safe_load(cal.write_set(rep, tmp_path).read_text())
    prov = doc["provenance"]
    assert prov["command"].startswith("neuroplastic calibrate") and prov["seed"] == 7
    assert prov["budget"] == {"generations": 2, "popsize": 4} and prov["objective"] == rep["objective_after"]
    assert prov["data_version"] == cal.data_version() and doc["adopted"] is False
    assert "CMA-ES" in doc["fit_report"]["method"]


def test_fit_stays_inside_the_registry_ranges(cheap):
    rep = cal.fit("monoamine", generations=5, popsize=6, seed=1, sigma0=0.9, log=lambda s: None)
    base = cal.literature_parameters()
    for name, v in rep["overrides"].items():
        assert base[name].low <= v <= base[name].high


def test_folds_in_lockstep_equal_separate_fits(monkeypatch):
    """The cross-validation folds run beside the full fit in one batch per generation; each search's result equals
    the fit it would reach on its own."""
    def fake(values_list, base, hypothesis, rows_per, **kw):
        out = []
        for v, rows in zip(values_list, rows_per):
            x = [(v[n] - base[n].low) / (base[n].high - base[n].low) for n in sorted(v)]
            out.append({t.id: (x[i % len(x)] - 0.2 - 0.5 * (t.family == "ketamine")) ** 2 * 10
                        for i, t in enumerate(rows)})
        return out

    monkeypatch.setattr(cal, "_generation", fake)
    quiet = {"generations": 3, "popsize": 5, "seed": 4, "log": lambda s: None}
    together = cal.fit_many("plasticity", (None, "ketamine"), **quiet)
    alone = [cal.fit("plasticity", **quiet), cal.fit("plasticity", exclude_family="ketamine", **quiet)]
    for a, b in zip(together, alone):
        assert a["overrides"] == b["overrides"] and a["objective_after"] == b["objective_after"]
    assert together[0]["objective_after"] != together[1]["objective_after"]
    assert "zarate_response_24h" not in together[1]["fit_targets"]


def test_verify_refuses_a_set_without_a_command():
    """A set from a manual search (plasticity-v4, shipped before the command-made v8) cannot be reproduced, and verify
    says so instead of pretending (verifying the adopted set reruns the whole fit: the shared check h_verify)."""
    res = cal.verify("plasticity", version=4)
    assert res["name"] == "plasticity-v4"
    assert res["ok"] is False and "cannot be reproduced" in res["line"]


def test_generation_split_over_shares_keeps_candidate_order(monkeypatch):
    """--workers splits a generation into jobs (one protocol each); the terms come back in candidate order."""
    from contextlib import contextmanager

    @contextmanager
    def fake_executor(workers=None, scheduler=None):
        yield lambda f, items: (f(x) for x in items)

    from types import SimpleNamespace

    row = lambda i: SimpleNamespace(id=i, protocol="p")
    monkeypatch.setattr("neuroplastic.engine._backends.executor", fake_executor)
    monkeypatch.setattr(cal, "objective_terms_batch",
                        lambda vl, base, hyp, tg, rows_per: [{r.id: v["k"] for r in rs} for v, rs in zip(vl, rows_per)])
    monkeypatch.setattr(cal, "_rows", lambda ids: [row(i) for i in ids])
    rows = [[row("x")] if i % 2 else [row("x"), row("y")] for i in range(7)]
    got = cal._generation([{"k": float(i)} for i in range(7)], None, "plasticity", rows, workers=3)
    assert [t["x"] for t in got] == [float(i) for i in range(7)]
    assert [sorted(t) for t in got] == [[r.id for r in rs] for rs in rows]


def test_split_by_protocol_runs_each_protocol_once_and_merges_the_terms(monkeypatch):
    """With --workers each job is one protocol for every candidate that reads it (no protocol is simulated twice),
    and each candidate gets back exactly its own rows' terms, merged over the jobs; identifiability's residual
    array is reassembled column by column the same way."""
    from contextlib import contextmanager
    from types import SimpleNamespace

    @contextmanager
    def fake_executor(workers=None, scheduler=None):
        yield lambda f, items: (f(x) for x in items)

    rows = {i: SimpleNamespace(id=i, protocol=p) for i, p in (("a1", "A"), ("a2", "A"), ("b1", "B"), ("c1", "C"))}
    jobs = []

    def fake_terms(vl, base, hyp, tg, rows_per):
        jobs.append(({r.protocol for rs in rows_per for r in rs}, [v["k"] for v in vl]))
        return [{r.id: v["k"] * 100 + int(r.id[1]) for r in rs} for v, rs in zip(vl, rows_per)]

    monkeypatch.setattr("neuroplastic.engine._backends.executor", fake_executor)
    monkeypatch.setattr(cal, "objective_terms_batch", fake_terms)
    monkeypatch.setattr(cal, "_rows", lambda ids: [rows[i] for i in ids])
    per = [[rows["a1"], rows["b1"]], [rows["a2"]], [rows["b1"], rows["c1"]]]
    got = cal._generation([{"k": 0.0}, {"k": 1.0}, {"k": 2.0}], None, "plasticity", per, workers=2)
    assert sorted((sorted(p), ks) for p, ks in jobs) == [(["A"], [0.0, 1.0]), (["B"], [0.0, 2.0]), (["C"], [2.0])]
    assert got == [{"a1": 1.0, "b1": 1.0}, {"a2": 102.0}, {"b1": 201.0, "c1": 201.0}]

    def fake_resid(vl, base, hyp, tg):
        return np.array([[v["k"] * 10 + int(t.id[1]) + (t.protocol == "B") for t in tg] for v in vl])

    monkeypatch.setattr(cal, "residuals_batch", fake_resid)
    targets = list(rows.values())
    R = cal._split_run(cal._residual_job, [{"k": 0.0}, {"k": 1.0}], None, "plasticity", targets, 2, None)
    assert np.array_equal(R, fake_resid([{"k": 0.0}, {"k": 1.0}], None, None, targets))


def test_generation_runs_a_repeated_candidate_once_on_the_union_of_its_rows(monkeypatch):
    """The priors ride along with the first generation of the full fit and of every fold: they run once, on every
    row any of their searches reads, and each search gets its own rows back."""
    from types import SimpleNamespace

    calls = []

    def fake(vl, base, hyp, tg, rows_per):
        calls.append([[r.id for r in rs] for rs in rows_per])
        return [{r.id: v["k"] * 10 + len(r.id) for r in rs} for v, rs in zip(vl, rows_per)]

    monkeypatch.setattr(cal, "objective_terms_batch", fake)
    a, b, c = (SimpleNamespace(id=i, protocol=i) for i in ("a", "bb", "ccc"))
    got = cal._generation([{"k": 0.0}, {"k": 1.0}, {"k": 0.0}], None, "plasticity", [[a, b], [a], [b, c]])
    assert calls == [[["a", "bb", "ccc"], ["a"]]]
    assert got == [{"a": 1.0, "bb": 2.0}, {"a": 11.0}, {"bb": 2.0, "ccc": 3.0}]


def test_identifiability_flags_a_parameter_no_row_moves(monkeypatch):
    """With residuals linear in two parameters and blind to the others, the Fisher interval of a moved parameter
    matches the analytic one and every unmoved parameter is flagged."""
    names = cal.FREE["monoamine"]
    base = cal.literature_parameters()
    maps = cal._maps(base, names)
    slope = 20.0   # half-widths per unit of the first parameter's range, seen by two rows

    def fake(values_list, base_, hypothesis, fit_targets):
        u = np.array([[maps[0][1](v[names[0]])] for v in values_list])
        return np.hstack([slope * u, slope * u, np.zeros((len(values_list), 1))])

    monkeypatch.setattr(cal, "residuals_batch", fake)
    res = cal.identifiability("monoamine", log=lambda s: None)
    first, second = res["parameters"]
    assert first["identifiable"] and abs(first["sensitivity"] - slope * 2 ** 0.5) < 1e-3  # reported to 4 decimals
    assert not second["identifiable"] and second["sensitivity"] == 0
    assert res["unidentifiable"] == [names[1]]
