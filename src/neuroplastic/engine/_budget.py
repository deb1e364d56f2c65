"""The resource budget: what a run will need, estimated from the scenario alone and checked before any work.

A run is refused (:class:`~neuroplastic.errors.BudgetError`, one line) when its estimated peak memory or the size
of its output exceeds the ceiling, or when a patient would need more integration steps than :data:`MAX_STEPS`.
Nothing is sampled or simulated to make the estimate: it is arithmetic on the scenario (arms, patients, output
times, dose and session counts), so even a run of 40 arms x 1,000,000 patients is refused in milliseconds.

What is counted (float64 values, 8 bytes each; the factors were measured with tracemalloc on 2,000 and 200
patient chunks, 85 and 2,017 output times):

* output: arms x patients x output times x (51 model outputs + one plasma series per compound) -- the Dataset,
  i.e. results.nc (uncompressed) or the in-memory ``Result``;
* a chunk in the engine: patients x output times x (25 state variables + 80 observables and inputs + compounds),
  plus two arrays of the chunk's patients and about 600 bytes per dose event (the event calendar and the PK bolus
  table) and about 200 bytes per integration step (the time grid);
* a finished chunk turned into its Dataset slice (streamed runs): about 120 values per patient and output time;
* the summary, computed one variable of one arm at a time: 4 values per patient and output time;
* in memory (``neuroplastic.simulate``): the arms' runs, concatenated, and the Dataset built from them.

Chunks running side by side (the local process pool) multiply the chunk's memory; the pool is made smaller when
that would exceed the ceiling (never below one process), so only a single chunk that does not fit refuses a run.

Default ceilings: peak memory 8 GiB or half the physical memory, whichever is smaller (a laptop runs it next to
other work; the 100,000-patient, 12-week cohort needs about 1 GiB streamed); output 20 GiB (the same cohort writes
3.5 GiB). ``max_memory`` (``--max-memory``) replaces both ceilings by one figure.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .._units import DAY, format_size, parse_size

GiB = 2.0 ** 30
DEFAULT_MEMORY = 8 * GiB
DEFAULT_OUTPUT = 20 * GiB
MAX_STEPS = 5_000_000          # integration steps per patient (about 4 right-hand sides each)

_STATE = 25                     # BrainModel.layout
_ENGINE_PER_OUTPUT = _STATE + 80
_SINK_PER_OUTPUT = 120
_SUMMARY_PER_OUTPUT = 4
_RUN_PER_OUTPUT = 60            # an ArmRun as kept after the chunk finishes
_PER_EVENT = 600.0              # bytes per dose event besides the per-patient amounts
_PER_STEP = 200.0               # bytes per integration step (grid, midpoints, rounded keys)
_H_MAX = 6 * 3600.0
_H_AFTER = 2 * 3600.0


@dataclass(frozen=True)
class Budget:
    """The estimate of one run; sizes in bytes."""

    arms: int
    patients: int               # per arm
    output_times: int
    variables: int              # Dataset values per patient and output time
    chunk: int                  # patients per chunk
    concurrency: int            # worker processes running chunks side by side (0: in-process)
    pk_events: int              # dose events (infusion starts and ends) per patient, all arms
    steps: int                  # integration steps per patient (largest arm)
    output_bytes: float
    chunk_bytes: float          # one chunk in the engine
    peak_bytes: float
    streamed: bool
    events_field: str = "treatments"
    event_bytes: float = 0.0    # the part of chunk_bytes that the dose events take

    def check(self, max_memory=None) -> "Budget":
        """Raise :class:`~neuroplastic.errors.BudgetError` if over a ceiling; return self.

        Example
        -------
        >>> from neuroplastic.scenario import Scenario
        >>> sc = Scenario.build(duration="12 weeks", patients={"n": 1000000}, arms={f"a{k}": [] for k in range(40)})
        >>> estimate(sc, streamed=True, processes=0).check()
        Traceback (most recent call last):
        ...
        neuroplastic.errors.BudgetError: patients.n: '1000000 x 40 arms' is not allowed; expected a run within the resource budget: estimated output 1.6 TiB > 20.0 GiB (raise with --max-memory '1.7 TiB')
        >>> estimate(sc, streamed=True, processes=0).check("1.7 TiB").output_bytes < 1.7 * 2**40
        True
        """
        from ..errors import BudgetError

        if self.steps > MAX_STEPS:
            raise BudgetError(self.events_field, f"{self.pk_events:,} dose events",
                              f"at most {MAX_STEPS:,} integration steps per patient; this schedule needs about "
                              f"{self.steps:,} (dose less often or simulate a shorter time)")
        mem_cap, out_cap = ceilings(max_memory)
        over = []
        if self.peak_bytes > mem_cap:
            what = "peak memory" if self.streamed or self.chunk_bytes >= self.output_bytes else "peak memory (the whole result is kept in memory)"
            over.append((f"estimated {what} {format_size(self.peak_bytes)} > {format_size(mem_cap)}", self.peak_bytes))
        if self.output_bytes > out_cap:
            over.append((f"estimated output {format_size(self.output_bytes)} > {format_size(out_cap)}", self.output_bytes))
        if not over:
            return self
        need = max(b for _, b in over)
        raise_to = format_size(_round_up(need * 1.05))
        if self.peak_bytes > mem_cap and self.event_bytes > 0.5 * self.chunk_bytes:
            field, value = self.events_field, f"{self.pk_events:,} dose events x {self.chunk:,} patients per chunk"
        elif self.chunk_bytes > mem_cap and self.output_times > 1000:
            field, value = "output_every", f"{self.output_times:,} output times x {self.chunk:,} patients per chunk"
        else:
            field = "patients.n"
            value = f"{self.patients} x {self.arms} arms" if self.arms > 1 else self.patients
        raise BudgetError(field, value, "a run within the resource budget: " + " and ".join(m for m, _ in over)
                          + f" (raise with --max-memory {raise_to!r})")


def _round_up(b: float) -> float:
    """Up to two significant figures of the unit format_size will show."""
    for f in (2**40, 2**30, 2**20, 2**10, 1):
        if b >= f:
            x = b / f
            step = 10 ** (math.floor(math.log10(x)) - 1)
            return math.ceil(x / step) * step * f
    return b


def physical_memory() -> float | None:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def ceilings(max_memory=None) -> tuple[float, float]:
    """(memory ceiling, output ceiling) in bytes: the defaults, or ``max_memory`` (bytes or '16 GiB') for both."""
    if max_memory is not None:
        b = parse_size(max_memory)
        return b, b
    ram = physical_memory()
    return (DEFAULT_MEMORY if ram is None else min(DEFAULT_MEMORY, 0.5 * ram)), DEFAULT_OUTPUT


def _drug_events(d, duration: float) -> tuple[int, float]:
    """(dose events, typical interval) of one drug treatment, counted without listing the times."""
    if d.at is not None:
        n = sum(1 for t in d.at if t < duration)
        gap = duration / max(n, 1)
    elif d.every is None:
        n, gap = (1 if d.start < duration else 0), duration
    else:
        end = min(duration, d.stop if d.stop is not None else duration)
        n = max(0, int(max(0.0, end - d.start) / d.every + 1 - 1e-9))
        if n and d.start + (n - 1) * d.every >= end - 1e-6:
            n -= 1
        gap = d.every
    return n * (2 if d.infusion else 1), gap


def _steps_after(gap: float) -> float:
    """Integration steps an event adds: the ramp from h_after to h_max, or one step when events are denser."""
    if gap <= _H_AFTER:
        return 1.0
    return min(4.0, 1.0 + math.log2(gap / _H_AFTER))


def estimate(scenario, out_times=None, *, streamed: bool = False, chunk: int | None = None,
             processes: int | None = None, workers: int | None = None, scheduler: str | None = None,
             max_memory=None) -> Budget:
    """The resources a run of ``scenario`` will need (see the module docstring), without sampling or simulating.

    ``out_times``: the kept output times (None: the ``output_every`` grid); ``streamed``: chunks go to disk as they
    finish (the command line's cohort path) rather than being kept for an in-memory ``Result``. A local process
    pool is counted with as many processes as fit ``max_memory`` (the default ceiling when None), at least one:
    ``Budget.concurrency`` is the pool size the run will use.

    Example
    -------
    >>> from neuroplastic.scenario import Scenario
    >>> sc = Scenario.build(duration="12 weeks", patients={"n": 100000},
    ...                     treatments=[{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}])
    >>> b = estimate(sc, streamed=True, processes=16)
    >>> b.output_times, b.variables, round(b.output_bytes / 2**30, 1), b.peak_bytes < 8 * 2**30
    (85, 66, 4.2, True)
    """
    from ..pharmacology import DRUGS
    from ._backends import auto_processes
    from ._simulate import chunk_size

    arms = scenario.arm_list()
    A, N = len(arms), scenario.n_patients
    if out_times is not None:
        T = len(out_times)
    else:
        T = int(math.floor(scenario.duration / scenario.output_every + 1e-9)) + 1
    compounds, events, steps, field = set(), 0, 0, "treatments"
    for ai, (name, trs) in enumerate(arms):
        arm_events, arm_steps = 0, 0.0
        prefix = "treatments" if scenario.arms is None else f"arms.{name}"
        worst = (0, None)
        for i, tr in enumerate(trs):
            n, gap = 0, scenario.duration
            if tr.drug is not None:
                compounds.update(DRUGS[tr.drug.drug].compounds)
                n, gap = _drug_events(tr.drug, scenario.duration)
                arm_events += n
            elif tr.tms is not None:
                sched = tr.tms.schedule
                n = int(getattr(sched, "sessions_per_day", 1) or 1) * int(scenario.duration / DAY + 1) * 3
                gap = DAY / max(n, 1)
            elif tr.psychotherapy is not None:
                n = 2 * len(tr.psychotherapy.session_times(scenario.duration))
            arm_steps += n * _steps_after(gap)
            if n > worst[0]:
                worst = (n, f"{prefix}[{i}]" + (".every" if tr.drug is not None and tr.drug.every else ""))
        events += arm_events
        total_steps = int(arm_steps + scenario.duration / _H_MAX + (T if out_times is None else T) + 1)
        if total_steps > steps:
            steps, field = total_steps, worst[1] or prefix
    V = _output_variables() + len(compounds)
    C = min(N, chunk_size(scenario, out_times, chunk))
    n_jobs = A * math.ceil(N / C)
    if scheduler is not None:
        conc = 0  # chunks run elsewhere
    elif workers:
        conc = int(workers)
    else:
        conc = auto_processes(n_jobs, A * N) if processes is None else int(processes)
    arm_events = events / max(A, 1)
    event_bytes = arm_events * (C * 16.0 + _PER_EVENT)
    chunk_bytes = C * T * 8.0 * (_ENGINE_PER_OUTPUT + len(compounds)) + C * 8.0 * 200 + event_bytes + steps * _PER_STEP
    output_bytes = A * N * T * V * 8.0
    summary = N * T * 8.0 * _SUMMARY_PER_OUTPUT
    sink = C * T * 8.0 * _SINK_PER_OUTPUT  # a finished chunk and its Dataset slice (streamed runs)
    if streamed:
        rest = sink + summary
    else:
        rest = A * N * T * 8.0 * (_RUN_PER_OUTPUT + len(compounds)) + 2 * output_bytes
    if conc > 1 and scheduler is None and not workers:  # a local pool: as many processes as fit the ceiling
        conc = max(1, min(conc, int((ceilings(max_memory)[0] - rest) // max(chunk_bytes, 1.0))))
    if conc >= 1:  # chunks computed in other processes while this one writes (or keeps) finished ones
        peak = conc * chunk_bytes + rest
    elif streamed:  # in-process: a chunk is computed, then written, one after the other
        peak = max(chunk_bytes, sink) + summary
    else:
        peak = chunk_bytes + rest
    return Budget(A, N, T, V, C, conc, events, steps, output_bytes, chunk_bytes, peak, streamed, field, event_bytes)


def _output_variables() -> int:
    from ..results._meta import OUTPUTS
    return len(OUTPUTS)
