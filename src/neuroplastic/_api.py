from __future__ import annotations

import os
from pathlib import Path

from .engine._simulate import simulate_arms
from .params import ParameterSet, default_parameters
from .results import Result
from .results._result import build_dataset, build_summary
from .scenario import Scenario, load_scenario, parse_scenario


def _as_scenario(scenario) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, dict):
        return Scenario.build(**scenario)
    if isinstance(scenario, (str, os.PathLike)):
        p = Path(scenario)
        if isinstance(scenario, os.PathLike) or (len(str(scenario)) < 4096 and "\n" not in str(scenario) and p.suffix in (".yaml", ".yml")):
            return load_scenario(p)
        return parse_scenario(str(scenario))
    raise TypeError("scenario must be a Scenario, a mapping, YAML text or a path to a YAML file")


def simulate(scenario, *, params: ParameterSet | None = None, frozen: tuple[str, ...] = (), progress=None,
             keep: str = "auto", workers: int | None = None, scheduler: str | None = None,
             checkpoint_dir=None, chunk: int | None = None, max_memory=None) -> Result:
    """Run a scenario and return a :class:`~neuroplastic.results.Result`.

    ``scenario`` is a :class:`Scenario`, a mapping with the YAML keys, YAML text or a path to a YAML file.
    ``frozen`` holds module prefixes whose slow state is kept fixed (``("plasticity",)`` removes all plasticity).
    ``keep`` chooses the output times: ``"full"`` (the ``output_every`` grid), ``"visits"`` (the scenario's
    visits only) or ``"auto"`` (visits for cohorts that define them, the full grid otherwise).
    Patients run in chunks of ``chunk`` (default: about 10,000, fewer when many outputs are kept): in-process for
    small cohorts, in a local process pool with one process per CPU for cohorts of 20,000 patients or more
    (``NEUROPLASTIC_PROCESSES=1`` keeps them in-process), on ``workers`` local Dask worker processes, or on an
    existing Dask ``scheduler`` address; the numbers are identical either way. With ``checkpoint_dir`` every
    finished chunk is stored there and a rerun with the same scenario and parameters skips it (resume).
    Before any work the run's memory and output size are estimated; a run over the budget (``max_memory``: bytes or
    a size such as ``'16 GiB'``; default 8 GiB or half the RAM for memory, 20 GiB for the output) raises
    :class:`~neuroplastic.errors.BudgetError`. A NaN or infinite value anywhere in the outputs raises
    :class:`~neuroplastic.errors.NumericalError` naming the patient, day and variable.

    Example
    -------
    >>> r = simulate({"name": "esc", "duration": "2 days", "output_every": "6 h",
    ...               "treatments": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}]})
    >>> r.dataset["plasma"].attrs["units"], r.dataset.sizes["time"]
    ('ng/mL', 9)
    """
    sc = _as_scenario(scenario)
    params = params or default_parameters()
    from .engine._simulate import Checkpoint
    out_times = _out_times(sc, keep)
    if sc.is_design:   # phases or rules: patients' treatments follow their ratings (trials/_adaptive.py)
        return _simulate_design(sc, params, frozen=frozen, progress=progress, out_times=out_times, workers=workers,
                                scheduler=scheduler, chunk=chunk, max_memory=max_memory)
    ck = (Checkpoint(checkpoint_dir, sc, params, out_times=out_times, chunk=chunk, frozen=frozen)
          if checkpoint_dir is not None else None)
    patients, runs = simulate_arms(sc, params, frozen=frozen, progress=progress, out_times=out_times,
                                   workers=workers, scheduler=scheduler, checkpoint=ck, chunk=chunk,
                                   max_memory=max_memory)
    ds = build_dataset(sc, patients, runs, params)
    summary = build_summary(sc, ds, runs)
    return Result(ds, summary)


def _simulate_design(sc, params, *, frozen, progress, out_times, workers, scheduler, chunk, max_memory) -> Result:
    from .engine._budget import estimate
    from .results._design_results import add_design_variables, design_summary
    from .trials._adaptive import output_times, run_design

    estimate(sc, output_times(sc, out_times), streamed=False, chunk=chunk, workers=workers,
             scheduler=scheduler, max_memory=max_memory).check(max_memory)
    patients, runs, cohorts = run_design(sc, params, frozen=frozen, progress=progress, out_times=out_times,
                                         chunk=chunk, workers=workers, scheduler=scheduler)
    ds = add_design_variables(sc, build_dataset(sc, patients, runs, params), cohorts)
    summary = build_summary(sc, ds, runs)
    summary.update(design_summary(sc, ds, cohorts))
    from .results._result import finite_json
    return Result(ds, finite_json(summary))


def _check_budget(sc: Scenario, keep: str = "auto", *, streamed: bool, max_memory=None, chunk: int | None = None,
                  processes: int | None = None, workers: int | None = None, scheduler: str | None = None):
    """Refuse (BudgetError, one line) a run over the resource budget; returns the estimate. Arithmetic only."""
    from .engine._budget import estimate

    return estimate(sc, _out_times(sc, keep), streamed=streamed, chunk=chunk, processes=processes, workers=workers,
                    scheduler=scheduler, max_memory=max_memory).check(max_memory)


def _out_times(sc: Scenario, keep: str):
    if sc.visits is not None and (keep == "visits" or (keep == "auto" and sc.n_patients > 1)):
        return [v for v in sc.visits if v <= sc.duration]
    return None


def _simulate_to_disk(scenario, out_dir, *, params: ParameterSet | None = None, keep: str = "auto",
                      figure: bool = True, checkpoint_dir=None, checkpoint=None, **kw) -> dict:
    """Like ``simulate(...).save(out_dir)`` with the same files, but each finished chunk of patients goes to disk
    as it arrives and results.nc is assembled from the chunk files, so memory is bounded by a chunk rather than
    the cohort (the command line's path for cohorts). ``checkpoint`` (a Checkpoint made by :func:`_checkpoint`)
    may be passed instead of ``checkpoint_dir`` by a caller that reports on it when the run is interrupted.
    Returns the summary."""
    from .engine._simulate import Checkpoint
    from .results._stream import save_streamed

    sc = _as_scenario(scenario)
    params = params or default_parameters()
    out_times = _out_times(sc, keep)
    # the budget, before any folder is made (simulate_arms checks it again, with the same figures)
    _check_budget(sc, keep, streamed=True, **{k: kw.get(k) for k in ("chunk", "processes", "workers", "scheduler",
                                                                     "max_memory")})
    ck = checkpoint
    if ck is None and checkpoint_dir is not None:
        ck = Checkpoint(checkpoint_dir, sc, params, out_times=out_times, chunk=kw.get("chunk"),
                        frozen=kw.get("frozen", ()))
    return save_streamed(sc, out_dir, params, figure=figure, out_times=out_times, checkpoint=ck, **kw)


def _checkpoint(scenario, folder, *, params: ParameterSet | None = None, keep: str = "auto", chunk: int | None = None):
    """The Checkpoint that ``_simulate_to_disk(scenario, ..., checkpoint_dir=folder)`` would use."""
    from .engine._simulate import Checkpoint

    sc = _as_scenario(scenario)
    return Checkpoint(folder, sc, params or default_parameters(), out_times=_out_times(sc, keep), chunk=chunk)
