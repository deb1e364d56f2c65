"""simulate(): scenario -> patients -> treatment inputs -> brain -> mood -> results, for every arm."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .._units import DAY, HOUR
from ..brain import BrainModel
from ..mood.scales import SCALES, expected_scores, observed_scores, recalled_severity
from ..params import ParameterSet, default_parameters
from ..pharmacology import DRUGS, TARGETS, build_pk_system, occupancy
from ..scenario import Scenario
from ._calendar import build_calendar
from ._integrate import integrate, make_grid, refine
from ._pk_profile import PKStream


@dataclass(frozen=True)
class Patients:
    """Traits as arrays with a leading patient axis."""

    ids: np.ndarray
    weight: np.ndarray      # kg
    cyp2c19: np.ndarray
    cyp2d6: np.ndarray
    stress: np.ndarray      # 1 = typical moderate-severe episode
    capacity: np.ndarray | None = None      # plasticity capacity (1 typical)
    placebo: np.ndarray | None = None       # placebo responsiveness (1 typical)
    episode_rate: np.ndarray | None = None  # natural-course speed (1 typical)
    # anatomy and connectivity that TMS acts on (physics/tms/targeting.py); None = the median patient
    motor_depth: np.ndarray | None = None      # m, scalp to motor hand area
    dlpfc_depth: np.ndarray | None = None      # m, scalp to dlPFC
    optimum_offset: np.ndarray | None = None   # (P, 3) m, own sgACC-anticorrelated optimum minus the group optimum
    placement: np.ndarray | None = None        # (P, 3) standard-normal deviates of where a method puts the coil
    anticorrelation: np.ndarray | None = None  # dlPFC-sgACC anticorrelation strength (mean 1)
    life_events: np.ndarray | None = None      # per-patient key of the life-event stream (NaN or None: none)
    life_events_from: np.ndarray | None = None  # s, per patient: life events only after this time (None: from 0)

    @property
    def n(self) -> int:
        return len(self.ids)

    def stimulation(self, params: ParameterSet | None = None):
        """The patients' :class:`~neuroplastic.physics.tms.targeting.StimulationTraits`, the median patient where
        a trait is not set."""
        from ..physics.tms.targeting import StimulationTraits, typical_traits
        t = typical_traits(self.n, params)
        return StimulationTraits(*[t.__dict__[f] if getattr(self, f) is None else np.asarray(getattr(self, f), float)
                                   for f in STIMULATION_FIELDS])


STIMULATION_FIELDS = ("motor_depth", "dlpfc_depth", "optimum_offset", "placement", "anticorrelation")


def patients_from(scenario: Scenario, arm_index: int = 0, params: ParameterSet | None = None) -> Patients:
    """The patients of one arm: the scenario's single patient, or a sample of its population drawn from the
    population distributions of ``params`` (the registry's by default), the set the run itself uses.

    In a parallel design arm k gets patients k*n .. (k+1)*n-1 (its own sample); in a crossover every arm
    gets the same patients.
    """
    p = scenario.patient
    if scenario.n_patients == 1 and scenario.population is None:
        weight = 70.0 if p.weight is None else p.weight  # unknown weight: the typical adult for allometric scaling
        depths = {k: np.array([getattr(p, k)]) for k in ("motor_depth", "dlpfc_depth") if getattr(p, k) is not None}
        return Patients(np.arange(1), np.array([weight]), np.array([p.cyp2c19]), np.array([p.cyp2d6]), np.array([1.0]),
                        **depths)
    from ..population import sample_patients
    start = 0 if scenario.design == "crossover" else arm_index * scenario.n_patients
    return sample_patients(scenario.n_patients, scenario.population or "mdd", scenario.seed, start=start, params=params)


@dataclass
class ArmRun:
    """Raw output of one arm on the output grid: arrays shaped (time, patient[, compound])."""

    time: np.ndarray
    plasma: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    observed: dict[str, np.ndarray]
    doses: list
    sessions: list


H_MAX = 6 * HOUR      # longest step of the exponential integrator (smooth inputs)
OBSERVE_BLOCK = 1 << 18  # rows (output times x patients) per block when observables are computed in blocks
H_AFTER = 2 * HOUR     # first step after an event (dose, infusion edge, session, pulse edge); steps then grow


def with_life_events(cal, patients: Patients, duration: float, params: ParameterSet, rate=None):
    """``cal`` with the patients' weekly life-event episodes added (see :mod:`neuroplastic.population._life_events`);
    ``rate`` (1/s, per patient) replaces ``population.life_events.rate`` (a batch of candidates that differ in it)."""
    from ..population._life_events import life_event_episodes
    rate = params.si("population.life_events.rate") if rate is None else rate
    ev = life_event_episodes(patients.life_events, duration, rate, start=patients.life_events_from)
    if not ev:
        return cal
    return replace(cal, episodes=sorted(list(cal.episodes) + ev, key=lambda e: e.time))


def run_arm(scenario: Scenario, treatments, patients: Patients, params: ParameterSet, *,
            frozen: tuple[str, ...] = (), h_max: float | None = None, progress=None, out_times=None,
            method: str | None = None, h_after: float | None = None, tol: float | None = None, h_fine: float | None = None,
            per_patient: dict[str, np.ndarray] | None = None, calendar=None, keep=None,
            life_event_rate: np.ndarray | None = None) -> ArmRun:
    """One arm for a group of patients, on the output grid.

    Inputs (PK, occupancies, pulses) are computed one fine time at a time as the integrator asks for them and
    only the output nodes are kept, so memory is O(patients x (outputs + a few)). ``method`` is ``"etdrk4"``
    (default: steps up to ``h_max`` = 6 h, refined after events from ``h_after`` = 2 h) or ``"rk4"`` (the former
    classical RK4, default ``h_max`` = 1 h, no refinement).

    ``per_patient`` (name -> (P,) array in SI units) gives brain-model parameters a value per patient in place of
    ``params`` (batched parameter sets, see :func:`run_arm_batch`); ``calendar`` replaces the event calendar that
    would be built from ``treatments`` and ``params``; ``keep`` limits the observed outputs to those names (the
    rest are not stored); ``life_event_rate`` (1/s, per patient) replaces ``population.life_events.rate``.
    """
    cal = calendar if calendar is not None else build_calendar(
        treatments, scenario.duration, patients.weight, params, patients.placebo, expectancy=scenario.models_expectancy,
        stimulation=patients.stimulation(params))
    cal = with_life_events(cal, patients, scenario.duration, params, rate=life_event_rate)
    per_patient = dict(per_patient or {})
    model = BrainModel(params, scenario.hypothesis, frozen, scenario.ketamine_mechanism, per_patient=tuple(per_patient))
    lam = model.linear_decay()
    if method is None:
        method = "etdrk4" if np.any(lam) else "rk4"
    if method == "etdrk4":
        h_max = H_MAX if h_max is None else h_max
        h_after = H_AFTER if h_after is None else h_after
    else:
        h_max = HOUR if h_max is None else h_max
    windows = [(pl.start, pl.end) for pl in cal.pulses if pl.end - pl.start <= 6 * HOUR]
    # short infusions, and the two hours after one, when the plasma level (and what follows it fast: an NMDA burst)
    # moves most
    windows += [(d.time, d.time + d.duration + 2 * HOUR) for d in cal.doses if 0 < d.duration <= 6 * HOUR]
    # a rating reads mood over its recall window: the integrator also stops where each output's window starts
    recall = recall_window(scenario)
    req_t = output_times(scenario, out_times)
    lag_t = req_t - recall
    nodes, out_idx = make_grid(scenario.duration, scenario.output_every, cal.times(), h_max=h_max,
                               fine_windows=windows, out_times=out_times, h_after=h_after,
                               extra_stops=lag_t[lag_t > 1e-6], **({} if h_fine is None else {"h_fine": h_fine}))
    lag_node = np.where(lag_t > 1e-6, np.searchsorted(np.round(nodes, 6), np.round(np.maximum(lag_t, 0.0), 6)), -1)
    extra_nodes = np.setdiff1d(lag_node[lag_node >= 0], out_idx)  # window starts that are not output times
    fine = refine(nodes)
    P = patients.n
    T = len(out_idx)
    base = BrainModel.null_inputs(P)  # every channel at its resting level
    carried = model.per_patient_inputs(per_patient)  # per-patient parameters travel with the inputs
    key = np.round(fine, 6)
    # piecewise-constant inputs; outputs report the left limit at a switching instant (the state "just before"
    # a session or the first placebo pill), so the score at a start time is the pre-treatment score
    left = {}
    out_key = key[0::2][out_idx]
    spans = []  # (first fine index on, first fine index off, pulse): on for key in [start, end)
    for pl in cal.pulses:
        spans.append((int(np.searchsorted(key, round(pl.start, 6))), int(np.searchsorted(key, round(pl.end, 6))), pl))
        lon = (out_key > round(pl.start, 6)) & (out_key <= round(pl.end, 6))
        left.setdefault(pl.channel, np.zeros((T, P)))[lon] += pl.value[None, :]
    switch = {j for a, b, _ in spans for j in (a, b)}  # fine indices where a pulse starts or ends
    pulse_channels = sorted({pl.channel for pl in cal.pulses})
    routes = cal.drug_routes()
    stream = None
    if routes:
        system = build_pk_system(routes, params, patients.weight, patients.cyp2c19, patients.cyp2d6)
        stream = PKStream(system, cal.doses, fine)
    out_slots: dict[int, list[int]] = {}  # fine index of an output node -> its output rows
    for i, k in enumerate(out_idx.tolist()):
        out_slots.setdefault(2 * k, []).append(i)
    plasma: dict[str, np.ndarray] = {}
    node_inputs = {k: np.empty((T, P)) for k in base}
    base.update(carried)
    state = {"j": -1, "right": None, "left": None}

    def occupancies(ch, x):
        conc = system.concentrations(x)  # kg/m^3
        for target in TARGETS:
            occ = occupancy(conc, params, target)
            if occ is not None:
                ch[f"{target}_occupancy"] = occ
        return conc

    def pulses_on(j, left):
        ch = dict(base)
        on = {}
        for a, b, pl in spans:
            if (a < j <= b) if left else (a <= j < b):
                v = on.setdefault(pl.channel, base[pl.channel].copy())
                v += pl.value
        ch.update(on)
        return ch

    def inputs_at(j):
        """Input channels just before and just after fine time j (the same dict where nothing switches)."""
        right = pulses_on(j, False)
        if stream is not None:
            x = stream.x if j == 0 else stream.advance()
            conc = occupancies(right, x)
        left = right
        if j > 0 and (j in switch or (stream is not None and stream.left is not stream.x)):
            left = pulses_on(j, True)
            if stream is not None:
                occupancies(left, stream.left)
        for i in out_slots.get(j, ()):
            for name, v in right.items():
                if name in node_inputs:
                    node_inputs[name][i] = v
            if stream is not None:
                for c, v in conc.items():
                    plasma.setdefault(c, np.empty((T, P)))[i] = v
        return left, right

    def inputs(j, side="right"):
        if j != state["j"]:
            assert j == state["j"] + 1, "inputs are computed in order"
            state["j"] = j
            state["left"], state["right"] = inputs_at(j)
        return state[side]

    y0 = model.baseline(patients.stress, patients.capacity, patients.episode_rate, per_patient).copy()
    episodes = None
    if cal.episodes:
        at: dict[int, list] = {}
        node_key = np.round(nodes, 6)
        for e in cal.episodes:
            at.setdefault(int(np.searchsorted(node_key, round(e.time, 6))), []).append(e)

        def episodes(k, y):
            for e in at.get(k, ()):
                y = model.apply_episode(y, e, base)
            return y
    stored = np.concatenate([out_idx, extra_nodes])
    y_out = integrate(model.rhs, y0, nodes, inputs, episodes=episodes, progress=progress, linear=lam,
                      store=stored, method=method, **({} if tol is None else {"tol": tol}))
    iq = model.layout.index["mood_integral"]
    # each window start's stored row (an output row where it is an output time); rows before the start are not read
    nodes_stored, first_row = np.unique(stored, return_index=True)
    lag_row = first_row[np.searchsorted(nodes_stored, np.maximum(lag_node, stored[0]))]
    q_then = y_out[lag_row, :, iq]
    recalled = recalled_severity(y_out[:T, :, iq], q_then, req_t, recall, y0[:, model.layout.index["mood"]])
    y_out = y_out[:T]
    if len(nodes) == 1:  # nothing to integrate: the inputs at t = 0 were never asked for
        inputs(0)
    for k in pulse_channels:
        if k in left:
            node_inputs[k] = base[k][None, :] + left[k]  # pulse-only channels: resting level plus pulses on (t-, t]
    if keep is None and not carried:
        flat_inp = {k: v.reshape(T * P) for k, v in node_inputs.items()}
        y_flat = np.asfortranarray(y_out.reshape(T * P, -1))
        obs = model.observe(y_flat, flat_inp)
        obs = {k: np.ascontiguousarray(np.asarray(v)).reshape(T, P) for k, v in obs.items()}
    else:  # observables in blocks of output times (bounded temporaries), only those in ``keep``
        obs = {}
        rows = max(1, OBSERVE_BLOCK // P)
        for a in range(0, T, rows):
            b = min(T, a + rows)
            blk = {k: v[a:b].reshape((b - a) * P) for k, v in node_inputs.items()}
            blk.update({k: np.tile(v, b - a) for k, v in carried.items()})
            ob = model.observe(np.asfortranarray(y_out[a:b].reshape((b - a) * P, -1)), blk)
            for k in (ob if keep is None else keep):
                if k in ob:
                    obs.setdefault(k, np.empty((T, P)))[a:b] = np.asarray(ob[k]).reshape(b - a, P)
    for name, val in expected_scores(recalled, params).items():
        if keep is None or f"{name}_recalled" in keep:
            obs[f"{name}_recalled"] = val
    if keep is None or "mood_integral" in keep:   # for ratings over another window (validation rows)
        obs["mood_integral"] = np.ascontiguousarray(y_out[:, :, iq])
    return ArmRun(nodes[out_idx], plasma, node_inputs, obs, cal.doses, [e.time for e in cal.episodes])


def recall_window(scenario: Scenario) -> float:
    """The ratings' recall window (s): the scenario's ``recall``, else the scales' own (one week for all three)."""
    if scenario.recall is not None:
        return float(scenario.recall)
    return float(max(sc.recall for sc in SCALES.values()))


def output_times(scenario: Scenario, out_times=None) -> np.ndarray:
    """The output times (s) of a run: ``out_times``, else every ``output_every`` from 0 to the duration."""
    if out_times is not None:
        return np.asarray(out_times, float)
    n_out = int(np.floor(scenario.duration / scenario.output_every + 1e-9)) + 1
    return np.arange(n_out) * scenario.output_every


def _subset(p: Patients, sl: slice) -> Patients:
    return Patients(*[None if getattr(p, f) is None else getattr(p, f)[sl] for f in Patients.__dataclass_fields__])


def _concat(parts: list[ArmRun]) -> ArmRun:
    first = parts[0]
    cat = lambda dicts: {k: np.concatenate([d[k] for d in dicts], axis=1) for k in dicts[0]}
    return ArmRun(first.time, cat([p.plasma for p in parts]), cat([p.inputs for p in parts]),
                  cat([p.observed for p in parts]), first.doses, first.sessions)


def check_finite(run: ArmRun, patients: Patients) -> None:
    """Raise :class:`~neuroplastic.errors.NumericalError` naming the patient (global id), the time and the variable
    of the first (earliest, then lowest patient, then first variable) non-finite value of a chunk's outputs.

    Example
    -------
    >>> r = ArmRun(np.array([0.0, 86400.0]), {}, {}, {"severity": np.array([[0.5, 0.5], [0.4, np.nan]])}, [], [])
    >>> check_finite(r, Patients(np.array([16, 17]), *[np.ones(2)] * 4))
    Traceback (most recent call last):
    ...
    neuroplastic.errors.NumericalError: numerical error: patient 17, day 1, variable severity is not finite (nan); nothing was written
    """
    first = None
    for group, prefix in ((run.plasma, "plasma_"), (run.inputs, ""), (run.observed, "")):
        for name, v in group.items():
            a = np.asarray(v)
            if a.dtype.kind != "f" or np.isfinite(a).all():
                continue
            bad = np.argwhere(~np.isfinite(a.reshape(a.shape[0], -1)))
            i, j = (int(x) for x in bad[0])  # argwhere is in row-major order: earliest time, then lowest patient
            if first is None or (i, j) < first[:2]:
                first = (i, j, prefix + name, float(a.reshape(a.shape[0], -1)[i, j]))
    if first is not None:
        from ..errors import NumericalError
        i, j, name, value = first
        raise NumericalError(int(patients.ids[j % patients.n]), round(float(run.time[i]) / DAY, 6), name, value)


def _run_chunk(job):
    scenario, treatments, patients, params, frozen, out_times = job
    return run_arm(scenario, treatments, patients, params, frozen=frozen, out_times=out_times)


def default_chunk(scenario: Scenario, out_times=None, budget: float = 256e6, n_outputs: int = 80) -> int:
    """Patients per chunk: large enough to amortise numpy's per-call overhead (about 10,000), small enough that a
    chunk's stored outputs stay within ``budget`` bytes (long runs with the full output grid)."""
    if out_times is not None:
        T = len(out_times)
    else:
        T = int(np.floor(scenario.duration / scenario.output_every + 1e-9)) + 1
    per_patient = T * 8.0 * (len(BrainModel.layout) + n_outputs)  # stored state + observables, both float64
    return int(np.clip(budget // per_patient, 500, 10_000))


def chunk_size(scenario: Scenario, out_times=None, chunk: int | None = None) -> int:
    """Patients per chunk: ``chunk``, else ``NEUROPLASTIC_CHUNK`` (tests, tuning), else :func:`default_chunk`."""
    import os

    env = os.environ.get("NEUROPLASTIC_CHUNK")
    return int(chunk or (int(env) if env else 0) or default_chunk(scenario, out_times))


def simulate_arms(scenario: Scenario, params: ParameterSet | None = None, *, frozen=(), progress=None,
                  out_times=None, chunk: int | None = None, workers: int | None = None, scheduler: str | None = None,
                  checkpoint=None, processes: int | None = None, sink=None, max_memory=None):
    """Every arm, with its patients simulated in chunks of at most ``chunk`` patients (default:
    :func:`default_chunk`).

    Memory stays bounded, and since each patient has its own random stream and converges on its own, the numbers
    do not depend on the chunking or on where a chunk runs: in-process, in a local process pool (the default for
    cohorts of 20,000 patients or more: one process per CPU; ``processes`` sets the number, 0 runs in-process),
    on ``workers`` local Dask worker processes, or on an existing Dask ``scheduler`` ("tcp://host:port"). With
    ``checkpoint`` (a :class:`Checkpoint`), finished chunks are stored and a rerun skips them (``--resume``).
    With ``sink``, each finished chunk is passed to ``sink((arm, first patient), patients, run)`` and dropped, and the
    runs returned hold no arrays (only time, compound names, doses and sessions of each arm's first chunk).

    Before any work the run's resources are estimated (:func:`~neuroplastic.engine._budget.estimate`) and a run
    over the budget (``max_memory``: bytes or a size such as '16 GiB'; default 8 GiB or half the RAM, and 20 GiB of
    output) is refused with a :class:`~neuroplastic.errors.BudgetError`; the local process pool is limited to the
    processes whose chunks fit. A chunk with a NaN or infinite value stops the run with a
    :class:`~neuroplastic.errors.NumericalError` before it is stored or handed to ``sink``.
    """
    from ._backends import auto_processes, executor
    from ._budget import estimate

    chunk = chunk_size(scenario, out_times, chunk)
    budget = estimate(scenario, out_times, streamed=sink is not None, chunk=chunk, processes=processes,
                      workers=workers, scheduler=scheduler, max_memory=max_memory).check(max_memory)
    params = params or default_parameters()
    pats = {name: patients_from(scenario, k, params) for k, (name, _) in enumerate(scenario.arm_list())}
    jobs, keys = [], []
    for name, trs in scenario.arm_list():
        n = pats[name].n
        for a in range(0, n, chunk):
            keys.append((name, a))
            jobs.append((scenario, trs, _subset(pats[name], slice(a, min(a + chunk, n))), params, frozen, out_times))
    done: dict = {}
    heads: dict = {}  # with a sink: arm -> its first chunk's run without the arrays

    def emit(i, r, store=True):
        check_finite(r, jobs[i][2])  # a chunk with a NaN or inf stops the run before it is stored or written
        if checkpoint is not None and store:  # store each chunk as it finishes so an interrupted run can resume
            checkpoint.store(keys[i], r)
        if sink is None:
            done[keys[i]] = r
        else:  # hand the chunk on (to disk) and keep nothing but what the summary's bookkeeping needs
            sink(keys[i], jobs[i][2], r)
            if keys[i][1] == 0:
                heads[keys[i][0]] = ArmRun(r.time, dict.fromkeys(r.plasma), {}, {}, r.doses, r.sessions)

    todo = []
    if checkpoint is not None:
        checkpoint.expect(keys, chunk)
    for i, k in enumerate(keys):  # with a sink, stored chunks are loaded one at a time
        r = checkpoint.load(k, len(jobs[i][2].ids)) if checkpoint is not None else None
        if r is None:
            todo.append(i)
        else:
            emit(i, r, store=False)
    if processes is None:
        processes = auto_processes(len(todo), sum(len(jobs[i][2].ids) for i in todo))
        if processes > 1:  # no more processes than the memory budget allows
            processes = max(1, min(processes, budget.concurrency))
    if len(todo) == len(keys) == 1 and not workers and scheduler is None:
        emit(0, run_arm(*jobs[0][:4], frozen=frozen, progress=progress, out_times=out_times), store=False)
    elif todo:
        with executor(workers, scheduler, processes) as imap:
            for n_done, (i, r) in enumerate(zip(todo, imap(_run_chunk, [jobs[i] for i in todo])), 1):
                emit(i, r)
                if progress is not None:
                    progress(n_done, len(todo))
    if sink is not None:
        return pats, {name: heads[name] for name, _ in scenario.arm_list()}
    runs = {}
    for name, _ in scenario.arm_list():
        parts = [done.pop(k) for k in keys if k[0] == name]
        runs[name] = parts[0] if len(parts) == 1 else _concat(parts)
    return pats, runs


class Checkpoint:
    """Finished chunks stored as .npz files in ``folder`` (under the user's output directory), tagged with a hash of
    everything that shapes a chunk (scenario, parameters, output times, chunk size, frozen modules, package
    version) so a changed run never reuses stale chunks. A chunk file that cannot be read back whole (a truncated
    write, a disk error) is deleted and computed again."""

    def __init__(self, folder, scenario: Scenario, params: ParameterSet, *, out_times=None, chunk: int | None = None,
                 frozen=()):
        from pathlib import Path

        from .. import __version__

        self.folder = Path(folder)
        self.chunk = chunk_size(scenario, out_times, chunk)
        times = None if out_times is None else [float(t) for t in out_times]
        self._what = (scenario.model_dump(), params.version, sorted((k, v.value) for k, v in params.items()),
                      times, tuple(frozen), __version__)
        self.tag = self._tag(self.chunk)
        self.total = None  # chunks in the run, once simulate_arms has split it

    def _tag(self, chunk: int) -> str:
        import hashlib
        return hashlib.sha256(repr((self._what, int(chunk))).encode()).hexdigest()[:16]

    def expect(self, keys, chunk: int) -> None:
        """Called by simulate_arms with the run's chunks (and their size, which the tag covers)."""
        if chunk != self.chunk:
            self.chunk, self.tag = chunk, self._tag(chunk)
        self.total = len(keys)

    def finished(self) -> int:
        """How many chunks of this run are stored."""
        if not self.folder.is_dir():
            return 0
        return sum(1 for p in self.folder.glob(f"{self.tag}-*.npz") if not p.name.endswith(".tmp.npz"))

    def _path(self, key):
        name, start = key
        safe = "".join(c if c.isalnum() else "_" for c in str(name))
        return self.folder / f"{self.tag}-{safe}-{start}.npz"

    def load(self, key, n_patients: int | None = None):
        """The stored chunk, or None when there is none or it cannot be read back whole (then it is deleted)."""
        import zipfile

        p = self._path(key)
        if not p.exists():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            groups = {"plasma": {}, "inputs": {}, "observed": {}}
            for k, v in arrays.items():
                g, _, name = k.partition(":")
                if g in groups:
                    groups[g][name] = v
            time = arrays["time"]
            shape = (len(time), n_patients if n_patients is not None else None)
            for g in groups.values():
                for v in g.values():
                    if v.ndim < 2 or v.shape[0] != shape[0] or (shape[1] is not None and v.shape[1] != shape[1]):
                        raise ValueError(f"chunk array of shape {v.shape}, expected {shape}")
            if not groups["observed"]:
                raise ValueError("chunk without outputs")
            return ArmRun(time, groups["plasma"], groups["inputs"], groups["observed"],
                          _doses_from(arrays), list(arrays["sessions"]))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError):
            p.unlink(missing_ok=True)  # corrupt or incomplete: computed again
            return None

    def store(self, key, run: ArmRun) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays = {"time": run.time, "sessions": np.asarray(run.sessions, float),
                  "dose_times": np.asarray([d.time for d in run.doses], float)}
        for g in ("plasma", "inputs", "observed"):
            for k, v in getattr(run, g).items():
                arrays[f"{g}:{k}"] = np.asarray(v)
        tmp = self._path(key).with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(self._path(key))

    def clear(self) -> None:
        import shutil
        shutil.rmtree(self.folder, ignore_errors=True)


def _doses_from(z):
    from ._calendar import Dose
    return [Dose(float(t), "", "", np.zeros(0)) for t in z["dose_times"]]
