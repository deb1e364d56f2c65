"""Parameter sets as a batch axis: K candidate parameter sets x N patients in one vectorised run.

The engine already runs a cohort as one array with a leading patient axis, and every patient's numbers depend only
on its own traits and inputs (the integrator's error control and the steady-state solver decide per patient). So K
parameter sets are K copies of the cohort: copy k carries set k's values as per-patient arrays, and its numbers are
those of a run with set k alone.

Which parameters can vary across the batch (:func:`classify`):

* **brain**: the brain and plasticity groups read by :class:`~neuroplastic.brain.BrainModel` (nuclei, receptors,
  BDNF, structural, neurogenesis, consolidation, meta, homeostatic, excitability, circuit, ketamine, expectancy,
  severity, monoamine, ``brain.stress.episode_time``): per-patient arrays that travel with the input channels, so
  the integrator's per-patient sub-steps and the steady-state solver's subsets see their own values.
* **calendar**: what the event calendar reads (``placebo.*``, ``therapy.*``, ``tms.*``, ``plasticity.calcium.*``,
  ``vns.fibre/nts.*``): one calendar per candidate, merged into one (values per patient); candidates whose calendars
  differ in their events (a practice drive of 0 gives no practice pulses) run on their own.
* **outside**: parameters ``run_arm`` does not read; the caller applies them per candidate (``population.*``: the
  candidates' own patients; ``mood.scales.entry_inflation``, ``entry_inflation_time`` and the rater SDs: rating
  statistics computed afterwards). The one ``population.*`` value ``run_arm`` does read, the life-event rate, is
  carried per patient (each candidate's patients meet events at its own rate).

Not batchable (a :class:`~neuroplastic.errors.ParameterError` names them): the linear decay rates of the exponential
integrator (its weights are cached per step length, one set for all patients: ``BrainModel.LINEAR_DECAY``), PK and PD
(``pk.*``, ``pd.*``: the compartment matrices and affinities are built from scalars), the scale linkings read by
``BrainModel.observe`` (``mood.scales.hamd17_max``, ``madrs_*``/``qids_*`` slope and offset), ``vns.limits.*``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np

from ..errors import ParameterError
from ..params import ParameterSet
from ._calendar import Calendar, build_calendar
from ._simulate import STIMULATION_FIELDS, ArmRun, Patients, run_arm

CALENDAR_PREFIXES = ("placebo.", "therapy.", "tms.", "plasticity.calcium.", "vns.fibre.", "vns.nts.")
OUTSIDE_PREFIXES = ("population.",)
LIFE_EVENT_RATE = "population.life_events.rate"   # "outside", but run_arm reads it: carried per patient
OUTSIDE_NAMES = ("mood.scales.entry_inflation", "mood.scales.entry_inflation_time", "mood.scales.hamd17_rater_sd",
                 "mood.scales.madrs_rater_sd", "mood.scales.qids_rater_sd")


def classify(name: str) -> str:
    """``"brain"``, ``"calendar"`` or ``"outside"`` (see the module docstring); ParameterError when ``name`` cannot
    vary across a batch."""
    from ..brain.model import LINEAR_DECAY_PARAMETERS, per_patient_parameter

    if name in OUTSIDE_NAMES or name.startswith(OUTSIDE_PREFIXES):
        return "outside"
    if name.startswith(CALENDAR_PREFIXES):
        return "calendar"
    if per_patient_parameter(name):
        return "brain"
    if name in LINEAR_DECAY_PARAMETERS:
        why = "a linear decay rate of the exponential integrator (weights cached per step, shared by all patients)"
    elif name.startswith(("pk.", "pd.")):
        why = "pharmacokinetics/dynamics are built from scalar values (compartment matrices, affinities)"
    else:
        why = "read as a scalar by the engine"
    raise ParameterError(f"parameter {name!r} cannot vary across a parameter batch: {why}; run those sets one by one")


class ParameterBatch:
    """K candidate parameter sets: ``base`` with each of ``values`` (name -> value in the declared unit, within range)
    applied.

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> b = ParameterBatch(default_parameters(), [{"plasticity.bdnf.w_da": 0.5}, {"plasticity.bdnf.w_da": 0.9}])
    >>> b.K, b.names, b.per_patient([2, 1])["plasticity.bdnf.w_da"].tolist()
    (2, ('plasticity.bdnf.w_da',), [0.5, 0.5, 0.9])
    """

    def __init__(self, base: ParameterSet, values: Sequence[Mapping[str, float]]):
        if not len(values):
            raise ParameterError("a parameter batch needs at least one set of values")
        self.base = base
        self.sets = [base.with_values(v, version=f"{base.version}+batch{k}") if v else base
                     for k, v in enumerate(values)]
        names = sorted({n for v in values for n in v})
        # only what actually differs between the candidates needs per-patient handling
        self.names = tuple(n for n in names if len({s.si(n) for s in self.sets}) > 1)
        self.kind = {n: classify(n) for n in self.names}
        # every value the candidates share is the same in sets[0]: the engine runs on it, overridden per patient
        self.params = self.sets[0]

    @classmethod
    def _of(cls, batch: "ParameterBatch", sets) -> "ParameterBatch":
        """The candidates ``sets`` (a part of ``batch``) as a batch of their own, with the same varied names."""
        sub = cls.__new__(cls)
        sub.base, sub.sets, sub.names, sub.kind, sub.params = batch.base, list(sets), batch.names, batch.kind, sets[0]
        return sub

    @property
    def K(self) -> int:
        return len(self.sets)

    def stacked(self, name: str, sizes: Sequence[int]) -> np.ndarray:
        """SI values of ``name`` over the stacked patients (candidate k: ``sizes[k]`` copies)."""
        return np.concatenate([np.full(m, s.si(name)) for s, m in zip(self.sets, sizes)])

    def per_patient(self, sizes: Sequence[int]) -> dict[str, np.ndarray]:
        """SI arrays of the varying brain parameters over the stacked patients (candidate k: ``sizes[k]`` copies)."""
        return {n: self.stacked(n, sizes) for n in self.names if self.kind[n] == "brain"}

    def varies_calendar(self) -> bool:
        return any(k == "calendar" for k in self.kind.values())


def stack_patients(parts: Sequence[Patients]) -> Patients:
    """The cohorts ``parts`` as one (ids kept, so each copy keeps its own random streams)."""
    fields = Patients.__dataclass_fields__
    out = {}
    for f in fields:
        vals = [getattr(p, f) for p in parts]
        if all(v is None for v in vals):
            out[f] = None
        elif f == "life_events":   # a cohort without keys meets no life events
            out[f] = np.concatenate([np.full(p.n, np.nan) if v is None else np.asarray(v, float) for p, v in zip(parts, vals)])
        elif f == "life_events_from":   # ... and one without a start meets them from time 0
            out[f] = np.concatenate([np.zeros(p.n) if v is None else np.asarray(v, float) for p, v in zip(parts, vals)])
        elif f in STIMULATION_FIELDS:  # a cohort without them is the median patient
            out[f] = np.concatenate([getattr(p.stimulation(), f) for p in parts])
        else:
            out[f] = np.concatenate([np.ones(p.n) if v is None else np.asarray(v) for p, v in zip(parts, vals)])
    return Patients(**out)


def _merge_calendars(cals: Sequence[Calendar]) -> Calendar:
    """One calendar for the stacked patients of per-candidate calendars with the same events (values per patient)."""
    first = cals[0]
    for c in cals[1:]:
        same = (len(c.doses) == len(first.doses) and len(c.episodes) == len(first.episodes)
                and len(c.pulses) == len(first.pulses)
                and all((a.time, a.drug, a.route, a.duration) == (b.time, b.drug, b.route, b.duration)
                        for a, b in zip(c.doses, first.doses))
                and all((a.time, a.kind) == (b.time, b.kind) for a, b in zip(c.episodes, first.episodes))
                and all((a.start, a.end, a.channel) == (b.start, b.end, b.channel) for a, b in zip(c.pulses, first.pulses)))
        if not same:
            raise ParameterError("the candidates' parameters change the timing of the treatment events; "
                                 "a batch needs the same event calendar for every candidate")
    doses = [replace(d, amount=np.concatenate([c.doses[i].amount for c in cals])) for i, d in enumerate(first.doses)]
    pulses = [replace(p, value=np.concatenate([c.pulses[i].value for c in cals])) for i, p in enumerate(first.pulses)]
    return Calendar(doses, list(first.episodes), pulses)  # payloads: see _batched_calendar


def _batched_calendar(scenario, treatments, parts: Sequence[Patients], batch: ParameterBatch) -> Calendar:
    from ..physics.tms_session import plan_parameters, prime_response_tables
    for tr in treatments:   # every candidate's calcium-rule table of each TMS protocol in one run
        if getattr(tr, "tms", None) is not None:
            prime_response_tables(tr.tms.make_protocol(), [plan_parameters(s) for s in batch.sets])
    cals = [build_calendar(treatments, scenario.duration, p.weight, s, p.placebo, expectancy=scenario.models_expectancy,
                           stimulation=p.stimulation(s))
            for p, s in zip(parts, batch.sets)]
    merged = _merge_calendars(cals)
    # a session's payload (the TMS plan, per patient) may differ per candidate: the merged episode stacks them
    for i, e in enumerate(merged.episodes):
        for field in ("weight_change", "level"):   # a TMS plan's change; an experienced administration's level
            if hasattr(e.payload, field):
                w = np.concatenate([np.broadcast_to(getattr(c.episodes[i].payload, field), (p.n,))
                                    for p, c in zip(parts, cals)])
                merged.episodes[i] = replace(e, payload=replace(e.payload, **{field: w}))
    return merged


def _split(run: ArmRun, sizes: Sequence[int]) -> list[ArmRun]:
    out, a = [], 0
    for m in sizes:
        sl = slice(a, a + m)
        out.append(ArmRun(run.time, {k: v[:, sl] for k, v in run.plasma.items()},
                          {k: v[:, sl] for k, v in run.inputs.items()},
                          {k: v[:, sl] for k, v in run.observed.items()},
                          [replace(d, amount=d.amount[sl]) for d in run.doses], run.sessions))
        a += m
    return out


def run_arm_batch(scenario, treatments, patients: Patients | Sequence[Patients], batch: ParameterBatch, *,
                  budget: float = 1e9, **kw) -> list[ArmRun]:
    """One arm for every candidate of ``batch`` in one vectorised run: a list of K :class:`ArmRun`, run k equal (to
    floating-point round-off; in practice bit for bit) to ``run_arm(scenario, treatments, patients_k, batch.sets[k])``.

    ``patients`` is one cohort (every candidate gets a copy, same ids and random streams) or K cohorts (candidate k's
    own patients, e.g. a population whose traits depend on the candidate's ``population.*`` values). Candidates run
    together in groups whose stored outputs stay within about ``budget`` bytes (:func:`default_chunk`; a protocol
    with a fine output grid runs in several groups). Other keywords go to :func:`run_arm`.
    """
    from ._simulate import default_chunk

    parts = [patients] * batch.K if isinstance(patients, Patients) else list(patients)
    if len(parts) != batch.K:
        raise ValueError(f"{len(parts)} cohorts for {batch.K} parameter sets")
    keep = kw.get("keep")
    n_out = 80 if keep is None else len(keep) + 16  # observables kept, plus the input channels and plasma
    per_group = max(1, int(default_chunk(scenario, kw.get("out_times"), budget, n_out) // max(p.n for p in parts)))
    out: list[ArmRun] = []
    for a in range(0, batch.K, per_group):
        sl = slice(a, min(a + per_group, batch.K))
        out += _run_group(scenario, treatments, parts[sl], batch, batch.sets[sl], **kw)
    return out


def _run_group(scenario, treatments, parts, batch, sets, **kw) -> list[ArmRun]:
    sizes = [p.n for p in parts]
    stacked = stack_patients(parts)
    sub = batch if len(sets) == batch.K else ParameterBatch._of(batch, sets)
    try:
        cal = _batched_calendar(scenario, treatments, parts, sub) if sub.varies_calendar() else None
    except ParameterError:
        # the candidates' calendars differ in their events (e.g. a practice drive of 0 gives no practice pulses):
        # they cannot share one run, so each runs on its own; the same numbers, at sequential cost for this arm
        return [run_arm(scenario, treatments, part, s, **kw) for part, s in zip(parts, sets)]
    if LIFE_EVENT_RATE in sub.names:   # read by run_arm itself (the life events it adds), so carried per patient
        kw = dict(kw, life_event_rate=sub.stacked(LIFE_EVENT_RATE, sizes))
    run = run_arm(scenario, treatments, stacked, sub.params, per_patient=sub.per_patient(sizes), calendar=cal, **kw)
    return _split(run, sizes)
