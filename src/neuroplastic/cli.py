"""Command line: `neuroplastic simulate | demo | drugs | tms | params`.

Bad input ends with one clear line on stderr and a non-zero exit; nothing is written.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="neuroplastic: treatment physics and pharmacology -> neural activity -> plasticity -> rating scales.")
err = Console(stderr=True)
out = Console()


def _fail(msg: str, code: int = 2):
    # user text (names, values) is escaped: a '[/x]' in a scenario name is printed, never parsed as Rich markup
    err.print(f"[bold red]error:[/] {escape(' '.join(str(msg).split()))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _guard(fn, interrupted=None):
    """Run fn; turn every error into one line (set NEUROPLASTIC_DEBUG=1 for the traceback).

    Ctrl-C (SIGINT) and SIGTERM stop the run: the clean-up of every back end and temporary folder runs, then one
    line (``interrupted()`` says what was kept) and exit 130 / 143."""
    from .errors import NeuroplasticError
    try:
        with _signals():
            return fn()
    except typer.Exit:
        raise
    except KeyboardInterrupt as exc:
        _stopped(exc, interrupted() if interrupted is not None else "nothing was written")
    except NeuroplasticError as exc:
        _fail(str(exc))
    except BrokenPipeError:  # `neuroplastic drugs --json | head`: the reader left; stop quietly, like other tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(141)
    except Exception as exc:  # pragma: no cover - unexpected
        if os.environ.get("NEUROPLASTIC_DEBUG"):
            raise
        _fail(f"internal error ({type(exc).__name__}: {exc}); rerun with NEUROPLASTIC_DEBUG=1 for details", 1)


class Interrupted(KeyboardInterrupt):
    """A signal (SIGTERM, SIGINT) turned into an exception in the main thread, so every ``finally`` runs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


CLEANUP_LIMIT = 10.0  # seconds: a clean-up that takes longer is cut short (children killed, process exits)


def _on_signal(signum, frame):
    import signal
    for s in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not interrupt the clean-up
        signal.signal(s, signal.SIG_IGN)
    _watchdog(128 + signum)
    raise Interrupted(signum)


def _redeliver(hook):
    """sys.unraisablehook: a handler that ran inside a gc callback or a ``__del__`` (Dask's GC diagnosis, for one)
    has its exception swallowed there; the signal is then delivered again a moment later, outside of it."""
    def unraisable(u):
        if isinstance(u.exc_value, Interrupted):
            import signal
            import threading
            for s in (signal.SIGINT, signal.SIGTERM):
                signal.signal(s, _on_signal)
            t = threading.Timer(0.05, os.kill, (os.getpid(), u.exc_value.signum))
            t.daemon = True
            t.start()
            return
        hook(u)
    return unraisable


class _signals:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread while a command runs."""

    def __enter__(self):
        import signal
        import threading
        self.old = {}
        self.hook = sys.unraisablehook
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self.old[s] = signal.signal(s, _on_signal)
            sys.unraisablehook = _redeliver(self.hook)
        return self

    def __exit__(self, typ, exc, tb):
        import signal
        if not (typ is not None and issubclass(typ, KeyboardInterrupt)):  # after a signal, later ones stay ignored
            for s, h in self.old.items():
                signal.signal(s, h if h is not None else signal.SIG_DFL)
            sys.unraisablehook = self.hook
        return False


def _watchdog(code: int) -> None:
    import threading

    def fire():
        _kill_descendants()
        err.print(f"[bold yellow]interrupted:[/] clean-up took longer than {CLEANUP_LIMIT:g} s; stopped",
                  highlight=False, soft_wrap=True)
        os._exit(code)
    if getattr(_watchdog, "started", False):
        return
    _watchdog.started = True
    t = threading.Timer(CLEANUP_LIMIT, fire)
    t.daemon = True
    t.start()


def _kill_descendants() -> None:
    """SIGKILL every process below this one (pool workers, the forkserver, Dask workers)."""
    import signal
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    todo, seen = [os.getpid()], []
    while todo:
        for c in children.get(todo.pop(), ()):
            seen.append(c)
            todo.append(c)
    for pid in seen:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _stopped(exc: BaseException, what: str):
    import signal
    code = 128 + (exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)
    err.print(f"[bold yellow]interrupted:[/] {escape(' '.join(str(what).split()))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _given_empty(option: str = "--out") -> bool:
    """Whether the command line gave ``option`` an empty string (a Path turns '' into '.')."""
    argv = sys.argv[1:]
    return any(a == f"{option}=" or (a == option and i + 1 < len(argv) and argv[i + 1] == "") for i, a in enumerate(argv))


def _check_out(path: Path, kind: str = "simulate", *, overwrite: bool = False, resume: bool = False) -> bool:
    """Refuse an --out that ``kind`` must not write to (one line, exit 2, nothing written); True when it holds
    ``kind``'s earlier output, which the new output replaces as a whole (see neuroplastic._outdir)."""
    from ._outdir import DestinationError, check_destination
    try:
        return check_destination(path, kind, overwrite=overwrite, resume=resume,
                                 given_empty=str(path) == "." and _given_empty())
    except DestinationError as exc:
        _fail(str(exc))


def _kept(state: dict) -> str:
    """What an interrupted cohort run leaves for --resume."""
    ck = state.get("checkpoint")
    n = ck.finished() if ck is not None else 0
    if not n:
        return "nothing was written"
    of = f" of {ck.total}" if ck.total else ""
    return f"{n}{of} chunks finished are kept in {state['partial']}; rerun with --resume to continue"


def _staged(out_dir: Path, write):
    """``write(folder)`` into a new folder beside ``out_dir``, then put it in place as a whole (nothing half-written,
    no stale file of an earlier run); returns what ``write`` returned."""
    import shutil

    from ._outdir import publish, staging
    new = staging(out_dir)
    try:
        res = write(new)
        publish(new, out_dir)
        return res
    finally:
        shutil.rmtree(new, ignore_errors=True)


@app.command()
def simulate(scenario: Path = typer.Argument(..., help="scenario YAML file"),
             out_dir: Path = typer.Option(..., "--out", help="directory for results.nc, summary.json, overview.png"),
             no_figure: bool = typer.Option(False, "--no-figure", help="skip overview.png"),
             keep: str = typer.Option("auto", "--keep", help="full | visits | auto (visits for cohorts with visits)"),
             workers: Optional[int] = typer.Option(None, "--workers", help="run patient chunks on a local Dask cluster of N worker processes"),
             scheduler: Optional[str] = typer.Option(None, "--scheduler", help="run on an existing Dask scheduler, e.g. tcp://host:8786"),
             resume: bool = typer.Option(False, "--resume", help="continue an interrupted cohort run from its finished chunks"),
             overwrite: bool = typer.Option(False, "--overwrite", help="replace the results of an earlier run in --out (the whole folder)"),
             max_memory: Optional[str] = typer.Option(None, "--max-memory", help="resource budget for estimated peak memory and output size, e.g. '16 GiB' (default 8 GiB or half the RAM; output 20 GiB)")):
    """Run a scenario and write DIR/results.nc, DIR/summary.json and DIR/overview.png."""
    from . import load_scenario
    from . import simulate as run

    state: dict = {}  # what an interrupted run keeps, for its one line

    def go():
        _check_out(out_dir, "simulate", overwrite=overwrite, resume=resume)
        sc = load_scenario(scenario)
        from rich.progress import Progress
        with Progress(transient=True, console=err, disable=not err.is_terminal) as prog:
            task = prog.add_task(f"simulating {escape(sc.name)}", total=1.0)
            from .errors import ScenarioError
            if keep not in ("auto", "full", "visits"):
                raise ScenarioError("--keep", keep, "full, visits or auto")
            if workers is not None and workers < 1:
                raise ScenarioError("--workers", workers, "a positive number of worker processes")
            if resume and sc.is_design:
                raise ScenarioError("--resume", True, "a fixed-arm cohort (a design with phases, rules or dropout "
                                    "decides as it runs and is not checkpointed; run it again)")
            if scheduler is not None and not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://")):
                raise ScenarioError("--scheduler", scheduler, "a Dask scheduler address such as tcp://127.0.0.1:8786")
            from ._api import _check_budget  # refuse a run over the resource budget before anything is touched
            _check_budget(sc, keep, streamed=sc.n_patients > 1 and not sc.is_design, max_memory=max_memory, workers=workers,
                          scheduler=scheduler)
            # a cohort: chunks streamed to disk; a design (phases, rules) runs in memory, its groups decided as it goes
            partial = out_dir / ".partial" if sc.n_patients > 1 and not sc.is_design else None
            if partial is not None and not resume and partial.exists():
                import shutil
                shutil.rmtree(partial)
            bar = lambda k, n: prog.update(task, completed=k / n)
            if partial is not None:  # a cohort: chunks streamed to disk, results.nc assembled from them
                from ._api import _checkpoint, _simulate_to_disk
                state.update(partial=partial, checkpoint=_checkpoint(sc, partial, keep=keep))
                s = _simulate_to_disk(sc, out_dir, keep=keep, figure=not no_figure, checkpoint=state["checkpoint"],
                                      replace=True,
                                      workers=workers, scheduler=scheduler, progress=bar, max_memory=max_memory)
            else:
                res = run(sc, keep=keep, workers=workers, scheduler=scheduler, progress=bar, max_memory=max_memory)
            prog.update(task, completed=1.0)
        if partial is None:
            res.save(out_dir, figure=not no_figure, replace=True)
            s = res.summary
        else:
            import shutil
            shutil.rmtree(partial, ignore_errors=True)
        line = f"wrote {out_dir}/results.nc, summary.json" + ("" if no_figure else ", overview.png")
        h = s.get("hamd17") if "hamd17" in s else None
        if h:
            line += f"  (HAM-D17 {h['baseline_mean']:.1f} -> {h['final_mean']:.1f})"
        for arm, v in s.get("arms", {}).items():
            hh = v["hamd17"]
            line += f"\n  {arm}: HAM-D17 {hh['baseline_mean']:.1f} -> {hh['final_mean']:.1f}, response {hh['response_rate']:.0%}, remission {hh['remission_rate']:.0%}"
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    _guard(go, lambda: _kept(state))


@app.command()
def demo(out_dir: Path = typer.Option(Path("neuroplastic-demo"), "--out", help="directory for the demo figures")):
    """The guided tour: pharmacology, mood under several pills, and the two hypotheses side by side."""
    from .demo import run_demo

    def go():
        _check_out(out_dir, "demo")  # a folder with an earlier demo is replaced (the README's first command, rerun)
        files = _staged(out_dir, lambda new: run_demo(new, console=out))
        out.print(f"demo written: {', '.join(str(out_dir / f.name) for f in files)}", highlight=False, markup=False, soft_wrap=True)
    _guard(go)


@app.command()
def drugs(as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table")):
    """The drug library: class, compounds, routes, usual and maximum doses, half-lives and sources."""
    from .pharmacology import DRUGS
    from .params import default_parameters

    p = default_parameters()
    rows = []
    for name, d in sorted(DRUGS.items()):
        hl = {}
        for c in d.compounds:
            if f"pk.{c}.half_life" in p:
                hl[c] = f"{p.value(f'pk.{c}.half_life'):g} h"
            else:
                hl[c] = "two-compartment"
        rows.append({"drug": name, "class": d.drug_class, "compounds": list(d.compounds), "routes": list(d.routes),
                     "typical_dose": d.typical_dose, "max_dose": d.max_daily_dose and f"{d.max_daily_dose}/day" or d.max_dose_per_kg,
                     "half_lives": hl, "source": d.max_source,
                     "half_life_sources": {c: p[f"pk.{c}.half_life"].source for c in d.compounds if f"pk.{c}.half_life" in p}})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    t = Table(title="neuroplastic drug library", show_lines=True)
    for col in ("drug", "class", "routes", "typical dose", "max", "half-lives", "labelling source"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["drug"], r["class"], ", ".join(r["routes"]), r["typical_dose"], str(r["max_dose"]),
                  "\n".join(f"{k}: {v}" for k, v in r["half_lives"].items()), r["source"])
    out.print(t)


@app.command()
def params(prefix: str = typer.Argument("", help="only parameters whose name starts with this"),
           as_json: bool = typer.Option(False, "--json")):
    """The parameter registry: value, unit, plausible range and source of every parameter."""
    from .params import default_parameters

    p = default_parameters()
    rows = [{"name": k, "value": v.value, "unit": v.unit, "range": [v.low, v.high],
             "source": v.source, "calibrated": v.calibrated, "fit_rows": list(v.fit_rows)}
            for k, v in p.items() if k.startswith(prefix)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    t = Table(title=f"parameters ({p.version})")
    for col in ("name", "value", "unit", "range", "source / calibration"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["name"], f"{r['value']:g}", r["unit"], f"{r['range'][0]:g}-{r['range'][1]:g}",
                  r["source"] or f"calibrated against {r['calibrated']}")
    out.print(t)
    if not prefix:
        from .validation.targets import load_targets
        n_fit = sum(1 for tg in load_targets()[1] if tg.used_for == "fit")
        n_cal = len(p.calibrated())
        out.print(f"{n_cal} calibrated (free) parameters against {n_fit} fit rows "
                  f"({n_fit / max(n_cal, 1):.1f} rows per parameter)")


@app.command()
def tms(protocol: str = typer.Option(..., "--protocol", help="1hz | 5hz | 10hz | 20hz | itbs | ctbs | custom"),
        pulses: Optional[int] = typer.Option(None, "--pulses", help="pulses in the session (protocol default)"),
        intensity: str = typer.Option("120% rMT", "--intensity", help="e.g. '120% rMT'"),
        frequency: Optional[str] = typer.Option(None, "--frequency", help="custom protocols, e.g. '15 Hz'"),
        train_duration: Optional[str] = typer.Option(None, "--train-duration", help="custom protocols, e.g. '4 s'"),
        inter_train_interval: Optional[str] = typer.Option(None, "--inter-train-interval", help="custom protocols, e.g. '26 s'"),
        coil: str = typer.Option("figure8", "--coil", help="figure8 | round"),
        target: str = typer.Option("5cm", "--target", help="5cm | beam_f3 | sgacc_anticorrelated | mni:X,Y,Z (mm) | motor"),
        motor_depth: Optional[str] = typer.Option(None, "--motor-depth", help="the patient's scalp-to-motor-cortex distance, e.g. '18 mm' (default the median)"),
        target_depth: Optional[str] = typer.Option(None, "--target-depth", help="the patient's scalp-to-target distance, e.g. '22 mm' (default the median)"),
        adjust: str = typer.Option("none", "--adjust", help="none | stokes (distance-adjusted motor threshold)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """One TMS session without a scenario: where it lands, the field at the patient's target, early plasticity and
    its after-effect, and the site's expected coupling into the dlPFC -> sgACC pathway."""
    def go():
        from .errors import ScenarioError
        from .physics.tms import session_summary
        from ._units import to_si
        from .scenario._schema import _parse_tms

        doc = {"protocol": protocol, "intensity": intensity, "allow_unsafe": True}
        for k, v in (("pulses", pulses), ("frequency", frequency), ("train_duration", train_duration),
                     ("inter_train_interval", inter_train_interval)):
            if v is not None:
                doc[k] = v
        if coil not in ("figure8", "round"):
            raise ScenarioError("--coil", coil, "figure8 or round")
        region = "motor" if target == "motor" else "dlpfc"
        if region == "dlpfc":
            t = target.strip()
            if t.lower().startswith("mni:"):
                parts = [x for x in t[4:].strip(" []").split(",") if x.strip()]
                try:
                    doc["target"] = {"mni": [float(x) for x in parts]}
                except ValueError:
                    raise ScenarioError("--target", target, "mni:X,Y,Z with three numbers in mm, e.g. mni:-38,44,26") from None
            else:
                doc["target"] = t
        if adjust not in ("none", "stokes"):
            raise ScenarioError("--adjust", adjust, "none or stokes")
        depths = {}
        for name, v in (("--motor-depth", motor_depth), ("--target-depth", target_depth)):
            if v is not None:
                d = to_si(v, name, "m", allowed="a scalp-to-cortex distance, e.g. '18 mm'")
                if not 5e-3 <= d <= 45e-3:
                    raise ScenarioError(name, v, "a scalp-to-cortex distance between 5 mm and 45 mm")
                depths[name] = d
        tr = _parse_tms(doc, "tms", allow_unsafe=True)
        custom = {k: getattr(tr, k) for k in ("frequency", "train_duration", "inter_train_interval") if getattr(tr, k) is not None}
        s = session_summary(tr.protocol, tr.pulses, tr.intensity, coil=coil, target=region, aim=tr.aim if region == "dlpfc" else None,
                            motor_depth=depths.get("--motor-depth"), target_depth=depths.get("--target-depth"),
                            adjust=adjust, **custom)
        if as_json:
            print(json.dumps(s, indent=2))
            return
        tab = Table(title=escape(f"TMS session: {s['protocol']} x {s['pulses']} at {s['intensity_pct_rmt']:g}% rMT"))
        tab.add_column("quantity")
        tab.add_column("value")
        for k, v in s.items():
            tab.add_row(escape(k), escape(str(v)))
        out.print(tab)
    _guard(go)


@app.command()
def validate(out_dir: Path = typer.Option(Path("validation-report"), "--out", help="directory for validation.json, report.md and figures"),
             no_cv: bool = typer.Option(False, "--no-cv", help="skip the cross-validation table")):
    """Run every published target under both hypotheses; write validation.json and report.md (exit 0 whatever passes)."""
    def go():
        _check_out(out_dir, "validate")  # a folder with an earlier report is replaced as a whole
        from .validation import run_validation
        res = _staged(out_dir, lambda new: run_validation(new, cross_validate=not no_cv, console=err))
        out.print(res.get("line") or f"{res['passed']}/{res['total']} targets pass", highlight=False, markup=False, soft_wrap=True)
    _guard(go)


@app.command()
def calibrate(hypothesis: str = typer.Option("plasticity", "--hypothesis", help="plasticity | monoamine"),
              out_dir: Optional[Path] = typer.Option(None, "--out", help="where to write <hypothesis>-vN.yaml (default: a new version beside the shipped sets)"),
              generations: int = typer.Option(16, "--generations", help="CMA-ES generations (each one batched run of every fit target for all its candidates)"),
              popsize: Optional[int] = typer.Option(None, "--popsize", help="candidates per generation (default 4 + 3 ln(parameters))"),
              seed: int = typer.Option(1, "--seed", help="seed of the optimiser's random draws"),
              sigma0: float = typer.Option(0.25, "--sigma0", help="initial CMA-ES step, as a fraction of each parameter's (mapped) range"),
              cross_validate: bool = typer.Option(False, "--cross-validate", help="also refit once per treatment family held out (same optimiser and budget)"),
              resume: bool = typer.Option(False, "--resume", help="continue an interrupted fit from its journal"),
              verify: bool = typer.Option(False, "--verify", help="rerun the fit the adopted set records and report whether its objective is reproduced (within 1%)"),
              identifiability: bool = typer.Option(False, "--identifiability", help="sensitivity and Fisher-information interval of each free parameter at the shipped set (writes identifiability.json into --out, or beside the adopted set, where validate reports it)"),
              workers: Optional[int] = typer.Option(None, "--workers", help="split each generation over a local Dask cluster of N worker processes"),
              scheduler: Optional[str] = typer.Option(None, "--scheduler", help="split each generation over an existing Dask scheduler")):
    """Fit the registry's calibrated parameters to the training targets with CMA-ES (offline; minutes)."""
    def go():
        from .errors import ScenarioError
        if hypothesis not in ("plasticity", "monoamine"):
            raise ScenarioError("--hypothesis", hypothesis, "plasticity or monoamine")
        if not 1 <= generations <= 10_000:
            raise ScenarioError("--generations", generations, "a whole number from 1 to 10,000")
        if popsize is not None and not 2 <= popsize <= 1000:
            raise ScenarioError("--popsize", popsize, "a whole number from 2 to 1000")
        if seed < 1 or seed > 2 ** 32 - 1:
            raise ScenarioError("--seed", seed, "a whole number from 1 to 2**32-1")
        if workers is not None and workers < 1:
            raise ScenarioError("--workers", workers, "a positive number of worker processes")
        from rich.progress import Progress
        if verify:
            from .validation.calibrate import verify as run_verify
            with Progress(transient=True, console=err, disable=not err.is_terminal) as prog:
                task = prog.add_task("verifying", total=1.0)
                res = run_verify(hypothesis, workers=workers, scheduler=scheduler,
                                 progress=lambda k, n, f: prog.update(task, completed=k / n), log=lambda s: None)
            out.print(res["line"], highlight=False, markup=False, soft_wrap=True)
            if not res["ok"]:
                raise typer.Exit(1)
            return
        if identifiability:
            from .validation.calibrate import identifiability as run_ident
            if out_dir is not None:
                _check_out(out_dir, "identifiability")
            res = run_ident(hypothesis, workers=workers, scheduler=scheduler, log=lambda s: None)
            tab = Table(title=f"identifiability of the {hypothesis} parameters at the shipped set")
            for col in ("parameter", "value", "sensitivity", "95% interval", "moves most", "identifiable"):
                tab.add_column(col, overflow="fold")
            for r in res["parameters"]:
                tab.add_row(r["parameter"], f"{r['value']:g}", f"{r['sensitivity']:.3g}",
                            f"{r['interval_95'][0]:.3g} - {r['interval_95'][1]:.3g}", ", ".join(r["moves_most"]),
                            "yes" if r["identifiable"] else "NO")
            out.print(tab)
            if out_dir is not None:
                _staged(out_dir, lambda d: (d / "identifiability.json").write_text(json.dumps(res, indent=2)))
            else:   # beside the shipped set it describes, where `validate` reports it
                from .validation.calibrate import identifiability_path
                identifiability_path(hypothesis).write_text(json.dumps(res, indent=2))
                out.print(f"written: {identifiability_path(hypothesis)}", highlight=False, markup=False)
            return
        if not 0.0 < sigma0 <= 0.5:   # checked before anything is written
            raise ScenarioError("--sigma0", sigma0, "a step between 0 and 0.5 of the parameter ranges")
        if out_dir is not None:
            _check_out(out_dir, "calibrate")  # adds the next version beside earlier sets, never replaces one
        from .validation import run_calibration
        command = "neuroplastic calibrate " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 and sys.argv[1] == "calibrate" else None
        with Progress(transient=True, console=err, disable=not err.is_terminal) as prog:
            task = prog.add_task(f"CMA-ES {hypothesis}", total=generations)
            bar = lambda k, n, f: prog.update(task, completed=k, description=f"CMA-ES {hypothesis}: best {f:.2f}")  # noqa: E731
            res = run_calibration(out_dir, hypothesis=hypothesis, generations=generations, popsize=popsize,
                                  seed=seed, sigma0=sigma0, cross_validate=cross_validate, resume=resume, workers=workers,
                                  scheduler=scheduler, command=command, progress=bar, console=None)
        out.print(f"calibration written: {res.get('path', res)}  (objective {res['objective_before']:.2f} -> "
                  f"{res['objective_after']:.2f} in {res['evaluations']} evaluations, {res['seconds']:.0f} s)",
                  highlight=False, markup=False, soft_wrap=True)
    _guard(go)


@app.command()
def power(trial: Path = typer.Argument(..., help="trial scenario YAML (with arms)"),
          n: str = typer.Option(..., "--n", help="patients per arm, comma-separated, e.g. 50,100,200"),
          replicates: int = typer.Option(20, "--replicates", help="trial reruns per sample size"),
          alpha: float = typer.Option(0.05, "--alpha"),
          out_dir: Optional[Path] = typer.Option(None, "--out", help="write power.json and power.png here"),
          as_json: bool = typer.Option(False, "--json"),
          overwrite: bool = typer.Option(False, "--overwrite", help="replace an earlier power.json/power.png in --out (the whole folder)")):
    """Power per sample size by rerunning a trial design with new patients each time."""
    def go():
        from . import load_scenario
        from .errors import ScenarioError
        from .trials import power_curve
        try:
            sizes = [int(x) for x in n.split(",") if x.strip()]
        except ValueError:
            raise ScenarioError("--n", n, "comma-separated whole numbers, e.g. 50,100,200") from None
        if not sizes or replicates < 1 or not (0 < alpha < 1):
            raise ScenarioError("--n/--replicates/--alpha", f"{n}/{replicates}/{alpha}", "sizes, replicates >= 1, 0 < alpha < 1")
        if out_dir is not None:
            _check_out(out_dir, "power", overwrite=overwrite)
        sc = load_scenario(trial)
        from rich.progress import Progress
        with Progress(transient=True, console=err, disable=not err.is_terminal) as prog:
            task = prog.add_task("power", total=len(sizes) * replicates)
            res = power_curve(sc, sizes, replicates=replicates, alpha=alpha,
                              progress=lambda k, t: prog.update(task, completed=k))
        if out_dir is not None:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            def write(new):
                (new / "power.json").write_text(json.dumps(res, indent=2))
                fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
                ax.plot(sizes, [res["power"][str(s)] for s in sizes], "o-")
                ax.axhline(0.8, ls=":", c="gray")
                ax.set(xlabel="patients per arm", ylabel=f"power (alpha {alpha})", ylim=(0, 1), title=res["comparison"])
                fig.savefig(new / "power.png", dpi=110)
                plt.close(fig)
            _staged(out_dir, write)
        if as_json:
            print(json.dumps(res, indent=2))
        else:
            tab = Table(title=escape(f"power: {res['comparison']} ({replicates} replicates, alpha {alpha})"))
            for col in ("patients per arm", "power", "mean effect (HAM-D17)"):
                tab.add_column(col)
            for s in sizes:
                tab.add_row(str(s), f"{res['power'][str(s)]:.2f}", f"{res['effect'][str(s)]['mean']:.2f}")
            out.print(tab)
    _guard(go)


twin_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="A patient's digital twin: fit a record's ratings, forecast each next treatment.")
app.add_typer(twin_app, name="twin")


def _twin_records(path: Path):
    """(name, Record) for a record file, or for every .yaml/.yml/.csv record in a folder (sorted by name)."""
    from .twin import load_record
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.suffix.lower() in (".yaml", ".yml", ".csv") and f.is_file())
        if not files:
            from .errors import ScenarioError
            raise ScenarioError("RECORD", str(path), "a record file (.yaml, .csv) or a folder holding some")
        out = []
        for f in files:
            try:
                out.append((f.stem, load_record(f)))
            except Exception as exc:
                from .errors import ScenarioError
                if isinstance(exc, ScenarioError):
                    raise exc.__class__(f"{f.name}: {exc.field}", exc.value, exc.allowed) from None
                raise
        return out
    if not path.exists():
        from .errors import ScenarioError
        raise ScenarioError("RECORD", str(path), "an existing record file (.yaml, .csv) or folder")
    return [(path.stem, load_record(path))]


@twin_app.command("fit")
def twin_fit(record: Path = typer.Argument(..., help="record file (.yaml or .csv), or a folder of them (batch)"),
             out_dir: Path = typer.Option(..., "--out", help="folder for posterior.nc, record.yaml, fit.json (a batch: one subfolder per record)"),
             particles: int = typer.Option(2000, "--particles", help="posterior particles per record"),
             seed: int = typer.Option(0, "--seed", help="random seed (the same seed gives the same posterior)"),
             workers: Optional[int] = typer.Option(None, "--workers", help="batch: fit on a local Dask cluster of N worker processes"),
             scheduler: Optional[str] = typer.Option(None, "--scheduler", help="batch: fit on an existing Dask scheduler"),
             overwrite: bool = typer.Option(False, "--overwrite", help="replace an earlier fit in --out")):
    """Fit the posterior over a patient's traits given the record's ratings (sequential Monte Carlo)."""
    def go():
        from .errors import ScenarioError
        if not 50 <= particles <= 100_000:
            raise ScenarioError("--particles", particles, "a number of particles from 50 to 100,000")
        if workers is not None and workers < 1:
            raise ScenarioError("--workers", workers, "a positive number of worker processes")
        recs = _twin_records(record)
        batch = record.is_dir()
        if not batch:
            _check_out(out_dir, "twin", overwrite=overwrite)
        elif out_dir.exists():
            _check_out(out_dir, "twin", overwrite=overwrite) if not any(out_dir.iterdir()) else None
            for sub in out_dir.iterdir():
                if not sub.is_dir():
                    _fail(f"--out: {str(out_dir)!r} is not allowed; it holds files twin fit did not write ({sub.name})")
                _check_out(sub, "twin", overwrite=overwrite)
        from .twin import save
        twins = _fit_records([r for _, r in recs], particles, seed, workers, scheduler)

        def write(folder):
            if batch:
                for (name, _), tw in zip(recs, twins):
                    save(tw, folder / name)
            else:
                save(twins[0], folder)
        if batch:
            _staged(out_dir, write)
        else:
            _staged(out_dir, write)
        for (name, _), tw in zip(recs, twins):
            st = tw.trait_summary()["stress_load"]
            out.print(f"{name}: {len(tw.g)} particles, tempering steps {len(tw.diagnostics['steps'])}, "
                      f"min ESS {min(x['ess_before_resampling'] for x in tw.diagnostics['steps']):.0f}; "
                      f"stress load {st['median']:.2f} [{st['q10']:.2f}, {st['q90']:.2f}]",
                      highlight=False, markup=False, soft_wrap=True)
        out.print(f"wrote {out_dir}", highlight=False, markup=False)
    _guard(go)


def _fit_job(job):
    from .twin import fit_many
    recs, positions, particles, seed = job
    return fit_many(recs, particles=particles, seed=seed, positions=positions)


def _fit_records(recs, particles, seed, workers, scheduler):
    """Every record's twin: in-process as one batch, or split over Dask workers (the same numbers: each record's
    random streams are keyed by its position in the batch)."""
    from .twin import fit_many
    if not workers and scheduler is None:
        return fit_many(recs, particles=particles, seed=seed)
    from .engine._backends import executor
    n = max(1, workers or 2)
    parts = [list(range(i, len(recs), n)) for i in range(min(n, len(recs)))]
    out: list = [None] * len(recs)
    with executor(workers, scheduler, 0) as imap:
        for idx, res in zip(parts, imap(_fit_job, [([recs[i] for i in idx], idx, particles, seed) for idx in parts])):
            for i, tw in zip(idx, res):
                out[i] = tw
    return out


@twin_app.command("forecast")
def twin_forecast(fit_dir: Path = typer.Argument(..., help="folder written by 'neuroplastic twin fit'"),
                  option: list[str] = typer.Option(..., "--option", help="NAME=FILE.yaml (a list of treatments from the last rating), or continue"),
                  horizon: str = typer.Option("12 weeks", "--horizon", help="how far after the last rating"),
                  every: str = typer.Option("2 weeks", "--every", help="forecast visits this far apart"),
                  seed: Optional[int] = typer.Option(None, "--seed", help="seed of the predictive rater noise (default: the fit's)")):
    """Forecast each option: predictive median and 50/80/95% bands per scale, P(response), P(remission), P(relapse)."""
    def go():
        from .errors import ScenarioError
        from .scenario._schema import _time
        from .scenario._yaml import load_yaml, read_text
        from .twin import load, parse_option
        h = _time(horizon, "--horizon", positive=True)
        e = _time(every, "--every", positive=True)
        if h > 5 * 365.25 * 86400:
            raise ScenarioError("--horizon", horizon, "at most 5 years")
        tw = load(fit_dir)
        opts = {}
        for o in option:
            name, sep, file = o.partition("=")
            name = name.strip()
            if not name:
                raise ScenarioError("--option", o, "NAME=FILE.yaml or continue")
            if name in opts:
                raise ScenarioError("--option", o, "distinct option names")
            if not sep or file.strip() == "continue":
                if name != "continue" and not sep:
                    raise ScenarioError("--option", o, "NAME=FILE.yaml (a list of treatments) or continue")
                opts[name] = None
                continue
            f = Path(file)
            if not f.is_file():
                raise ScenarioError(f"--option {name}", file, "an existing YAML file with a list of treatments")
            opts[name] = parse_option(load_yaml(read_text(f)), f"--option {name}", h)
        fc = tw.forecast(opts, horizon=h, every=e, seed=seed)
        from .results._result import dumps_summary
        tmp = fit_dir / ".forecast.json.tmp"
        tmp.write_text(dumps_summary(fc))
        tmp.replace(fit_dir / "forecast.json")
        from .twin._figures import forecast_figure
        forecast_figure(tw, fc, fit_dir / "forecast.png")
        for ob in fc["options"]:
            s = ob["scales"]
            sc = tw.record.ratings[0].scale
            out.print(f"{ob['name']}: {sc} at day {ob['days'][-1]:g} median {s[sc]['median'][-1]:g} "
                      f"[80%: {s[sc]['q10'][-1]:g}-{s[sc]['q90'][-1]:g}], P(response) {ob['p_response'][sc]:.0%}, "
                      f"P(remission) {ob['p_remission'][sc]:.0%}", highlight=False, markup=False, soft_wrap=True)
        rk = fc["ranking"]
        out.print(f"ranking by {rk['by']} ({rk['scale']}): " + ", ".join(o["name"] for o in rk["options"]),
                  highlight=False, markup=False, soft_wrap=True)
        out.print(f"wrote {fit_dir}/forecast.json, forecast.png", highlight=False, markup=False)
    _guard(go)


@app.command()
def explore(host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (default loopback only; "
                                     "another address makes the app reachable from other machines)"),
            port: int = typer.Option(0, "--port", help="port (default: a free one, printed on start)")):
    """The explorer: build, run and compare scenarios in the browser (a local web app; nothing leaves the machine)."""
    def go():
        from .errors import ScenarioError
        if not 0 <= port <= 65535:
            raise ScenarioError("--port", port, "a port number from 0 (any free port) to 65535")
        import ipaddress
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if host != "localhost":
                raise ScenarioError("--host", host, "an IP address such as 127.0.0.1 (loopback) or 0.0.0.0") from None
        try:
            from .explore import serve
        except ImportError as e:  # pragma: no cover - the web stack is a pinned dependency
            raise ScenarioError("explore", str(e), "the web dependencies (fastapi, uvicorn, bokeh) installed") from None
        try:
            serve(host, port, announce=lambda m: out.print(m, highlight=False, markup=False, soft_wrap=True))
        except OSError as e:
            raise ScenarioError("--port", port, f"a port this machine can listen on ({e.strerror or e})") from None
    _guard(go)


def main():
    """The ``neuroplastic`` command. Usage errors (an unknown option, ``--workers abc``) are one line on stderr
    with exit code 2, like every other refusal, instead of Click's multi-line usage box."""
    try:  # typer (pinned) carries its own copy of Click
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover - a typer that uses Click itself
        from click import exceptions as cx

    try:
        rv = app(prog_name="neuroplastic", standalone_mode=False)
    except cx.NoArgsIsHelpError as exc:   # `neuroplastic` or a command without its arguments: the help text
        exc.show()
        sys.exit(exc.exit_code)
    except cx.ClickException as exc:
        where = getattr(getattr(exc, "ctx", None), "command_path", None)
        hint = f" (see '{where} --help')" if where and isinstance(exc, cx.UsageError) else ""
        err.print(f"[bold red]error:[/] {escape(' '.join(exc.format_message().split()))}{escape(hint)}",
                  highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
