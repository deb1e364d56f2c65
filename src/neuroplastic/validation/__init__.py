"""Calibration and validation against published trials (``neuroplastic validate`` / ``neuroplastic calibrate``).

Targets are data (``data/targets.yaml``); the population is built in (:mod:`.population`); statistics are computed
by :mod:`.runner`; the fit is :mod:`.calibrate`; :func:`run_validation` writes ``validation.json`` and ``report.md``.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..params import default_parameters
from .calibrate import calibrate, calibration_dir, literature_parameters, load_set, next_version, write_set
from .population import population
from .profile import monoamine_profile, protocol_misfits
from .report import figures as draw_figures
from .report import profile_figure, write_json, write_report
from .runner import Simulator, evaluate
from .targets import Target, load_targets

__all__ = ["run_validation", "run_calibration", "load_targets", "population", "Target"]


def pass_count(rows) -> tuple[int, int, int]:
    """(passed, counted, input): rows labelled ``used_for: input`` restate a figure a parameter was read from, so
    they are reported but neither counted nor passed."""
    counted = [r for r in rows if r.get("used_for") != "input"]
    return sum(bool(r["passed"]) for r in counted), len(counted), len(rows) - len(counted)


def _say(console, msg):
    if console is not None:
        (console.print if hasattr(console, "print") else console)(msg)


def hypothesis_parameters(hypothesis: str):
    """The shipped set for ``hypothesis``: what ``neuroplastic simulate`` uses (registry values plus an adopted
    plasticity calibration), plus, for another hypothesis, that hypothesis's own refitted parameters from its
    ``<hypothesis>-v*.yaml`` set. Only parameters belonging to the hypothesis itself (``mood.<hypothesis>.*``) are
    taken from it: everything shared stays one parameter set."""
    p = default_parameters()
    if hypothesis != "plasticity":
        doc = load_set(hypothesis)
        own = {k: v for k, v in (doc or {}).get("overrides", {}).items() if k.startswith(f"mood.{hypothesis}.")}
        if own:
            p = p.with_values(own, version=f"{p.version}+{doc['name']}")
    return p


def _newest_with_cv(hypothesis: str) -> dict | None:
    """The newest calibration set of ``hypothesis`` that carries cross-validation folds."""
    for v in range(next_version(hypothesis, calibration_dir()) - 1, 0, -1):
        doc = load_set(hypothesis, v)
        if doc and doc.get("cross_validation"):
            return doc
    return None


def _identifiability_report() -> dict | None:
    """The adopted set's identifiability report (``calibrate --identifiability``), when one was made for it."""
    import json
    from .calibrate import identifiability_path
    path = identifiability_path("plasticity")
    return json.loads(path.read_text()) if path.exists() else None


def _moved_note(lit, overrides, top: int = 4) -> str:
    """The parameters a fold moved most (relative to each one's range), as 'name prior->value'."""
    moved = sorted(((abs(v - lit.value(k)) / max(lit[k].high - lit[k].low, 1e-12), k, v)
                    for k, v in overrides.items() if abs(v - lit.value(k)) > 1e-9), reverse=True)
    if not moved:
        return "moved: none"
    return "moved most: " + ", ".join(f"{k.split('.')[-1]} {lit.value(k):g}->{v:g}" for _, k, v in moved[:top])


def run_validation(out_dir: Path, *, hypotheses=("plasticity", "monoamine"), cross_validate: bool = True,
                   console=None, targets: list[str] | None = None, figures: bool = True) -> dict:
    """Run every target (or the ids in ``targets``) under each hypothesis; write ``validation.json`` (the rows of
    the first hypothesis, with the shipped set), ``validation_all.json`` (every hypothesis and CV fold), ``report.md``
    and figures into ``out_dir``. Returns a summary with the pass count of the first hypothesis."""
    t0 = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _, all_t = load_targets()
    tg = [t for t in all_t if targets is None or t.id in targets]
    by_hyp, sims, rows = {}, {}, []
    for hyp in hypotheses:
        _say(console, f"validate: {len(tg)} targets under {hyp}")
        r, sim = evaluate(tg, hypothesis_parameters(hyp), hyp)
        by_hyp[hyp], sims[hyp] = r, sim
        rows += r
    cv_rows = []
    plas = {r["target"]: r for r in by_hyp.get("plasticity", [])}
    cv_doc = _newest_with_cv("plasticity")
    if cross_validate and "plasticity" in hypotheses:
        doc = cv_doc or {}
        lit = literature_parameters()
        for c in doc.get("cross_validation", []):
            fam_t = [t for t in tg if t.family == c["held_out"]]
            if not fam_t:
                continue
            _say(console, f"validate: cross-validation, {c['held_out']} held out")
            r, _ = evaluate(fam_t, lit.with_values(c["overrides"], version=f"cv-{c['held_out']}"), "plasticity")
            for x in r:
                x["hypothesis"] = f"plasticity (CV, {c['held_out']} held out)"
            rows += r
            cv_rows.append({"held_out": c["held_out"], "n": len(fam_t), "passed_cv": sum(x["passed"] for x in r),
                            "passed_full": sum(plas[t.id]["passed"] for t in fam_t),
                            "note": c.get("note") or _moved_note(lit, c["overrides"])})
    profile = None
    if "monoamine" in hypotheses and "plasticity" in hypotheses and any(t.protocol == "stard_level1" for t in tg):
        _say(console, "validate: monoamine profile on STAR*D (its own parameters over their ranges)")
        profile = monoamine_profile(hypothesis_parameters("monoamine"))
        for key, hyp in (("plasticity", "plasticity"), ("monoamine_fit", "monoamine")):   # the shipped/refitted sets
            vals = {r["target"]: r["simulated"] for r in by_hyp[hyp] if r["target"] in profile["targets"]}
            profile[key] = {"values": vals, **protocol_misfits("stard_level1", vals)}
    first = by_hyp[hypotheses[0]]
    npass, ncount, ninput = pass_count(first)
    figs = []
    if figures:
        figs = draw_figures(out, tg, sims) + ([profile_figure(out, profile)] if profile else [])
    from ..params._registry import load_calibration
    shipped = load_calibration().get("name", "")
    fitdoc = load_set("plasticity", int(shipped.split("-v")[-1])) if shipped else {}
    meta = {"params_version": hypothesis_parameters("plasticity").version, "seconds": time.time() - t0,
            "fit": (fitdoc or {}).get("fit_report", {}), "adopted": bool(shipped), "shipped_set": shipped,
            "cv_set": (cv_doc or {}).get("name"), "cv_method": ((cv_doc or {}).get("fit_report") or {}).get("method"),
            "default_version": default_parameters().version, "profile": profile,
            "identifiability": _identifiability_report()}
    write_json(out, first)  # the shipped parameter set's rows: what the pass count is about
    write_json(out, rows, "validation_all.json")  # plus the other hypothesis and the cross-validation folds
    write_report(out, rows, by_hyp, cv_rows, figs, meta)
    line = (f"{npass}/{ncount} targets passed ({100 * npass / max(ncount, 1):.0f}%) under {hypotheses[0]}"
            f" ({ninput} input rows not counted)")
    _say(console, line)
    summary = {"passed": npass, "total": ncount, "input_rows": ninput, "line": line,
               "seconds": round(time.time() - t0, 1),
               "by_hypothesis": {h: pass_count(rs)[0] for h, rs in by_hyp.items()},
               "cross_validation": cv_rows, "out": str(out)}
    return summary


def run_calibration(out_dir: Path | None = None, *, hypothesis: str = "plasticity", generations: int = 16,
                    popsize: int | None = None, seed: int = 1, sigma0: float = 0.25, cross_validate: bool = False,
                    resume: bool = False, workers: int | None = None, scheduler: str | None = None,
                    command: str | None = None, progress=None, console=None) -> dict:
    """Fit ``hypothesis``'s free calibrated parameters to the fit targets with CMA-ES and write
    ``<hypothesis>-vN.yaml`` (into ``out_dir``, or the package's data/calibration when None), recording the
    command, seed, budget, objective and data version. A journal beside it makes an interrupted fit resumable."""
    where = Path(out_dir) if out_dir is not None else calibration_dir()
    rep, cv = calibrate(hypothesis, generations=generations, popsize=popsize, seed=seed, sigma0=sigma0,
                        cross_validate=cross_validate, journal_dir=where, resume=resume, workers=workers,
                        scheduler=scheduler, progress=progress, log=lambda s: _say(console, s))
    rep["optimiser"]["workers"] = workers   # how the generations were split (the numbers do not depend on it)
    rep["command"] = command or (f"neuroplastic calibrate --hypothesis {hypothesis} --seed {seed} "
                                 f"--generations {generations} --sigma0 {sigma0:g}" + (f" --popsize {popsize}" if popsize else "")
                                 + (" --cross-validate" if cross_validate else ""))
    path = write_set(rep, where, cv=cv)
    for j in where.glob(f".{hypothesis}-seed{seed}-*.journal.jsonl"):   # finished: the set records the result
        j.unlink()
    rep["path"] = str(path)
    return rep
