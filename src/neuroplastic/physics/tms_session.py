"""One TMS session as the engine sees it: what the protocol physically delivers to each patient's target.

Per patient: intensity (% rMT) -> the output that is for this patient's motor depth (optionally Stokes-adjusted)
-> E at this patient's dlPFC depth -> recruitment -> the calcium rule on the millisecond scale -> mean early
efficacy change of the target synapses; times the coupling of the stimulated site into the dlPFC -> sgACC
pathway (physics/tms/targeting.py). Plus the extra dlPFC activity while the session runs, in proportion to the
pulses it delivers per second (:func:`pulse_rate_factor`).

The calcium rule is run once per protocol on a grid of fields (:func:`response_table`, pure and cached) and read
per patient by shape-preserving interpolation; :func:`session_plan` with ``exact=True`` runs it at every patient's
own field instead (the reference path the tests compare against).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..params import ParameterSet

E_GRID = np.linspace(0.0, 320.0, 65)  # V/m, 5 V/m apart: the fields a session can reach at up to 100% output


@dataclass(frozen=True)
class SessionPlan:
    """What one session delivers, per patient (arrays with a leading patient axis)."""

    protocol: str
    n_pulses: int
    intensity_pct_rmt: float
    duration: float            # s
    target: str                # targeting method label
    efield: np.ndarray         # V/m at the target
    recruited: np.ndarray      # mean recruited fraction
    coupling: np.ndarray       # coupling of the stimulated site (1 = mean of the 5-cm rule)
    weight_change: np.ndarray  # relative early change of the dlPFC -> sgACC control pathway at the end of the session
    dlpfc_drive: np.ndarray    # extra dlPFC input while the session runs


def _recruitment(efields, params: ParameterSet) -> np.ndarray:
    """Recruited fraction of the 32 representative neurons at each field: (G, 32)."""
    from .tms import target_recruitment
    return np.stack([target_recruitment(x, params=params) for x in np.atleast_1d(np.asarray(efields, float))])


def _responses(protocol, efields, params: ParameterSet):
    from ..plasticity.synaptic import session_weight_change
    rec = _recruitment(efields, params)
    dw = session_weight_change(protocol.pulse_times(), rec.ravel(), params=params).reshape(rec.shape)
    return rec.mean(axis=1), dw.mean(axis=1)


_TABLES: dict = {}          # (protocol, plan parameters) -> interpolants; bounded FIFO (a generation's candidates fit)
_TABLES_MAX = 4096
_BATCHED_RULE = ("fac_gain", "meta_fast_gain", "meta_slow_scale")   # rule fields that may differ within one run


def _store(key, rec, dw):
    while len(_TABLES) >= _TABLES_MAX:
        _TABLES.pop(next(iter(_TABLES)))
    _TABLES[key] = (PchipInterpolator(E_GRID, rec), PchipInterpolator(E_GRID, dw))


def response_table(protocol, params: ParameterSet):
    """(mean recruitment, mean early change) of a protocol's session as functions of the field at the target
    (V/m): shape-preserving cubic interpolants on :data:`E_GRID` (cached on the protocol and ``params``)."""
    key = (protocol, params)
    if key not in _TABLES:
        rec, dw = _responses(protocol, E_GRID, params)
        _store(key, rec, dw)
    return _TABLES[key]


def prime_response_tables(protocol, param_sets) -> None:
    """Compute the :func:`response_table` of ``protocol`` for several plan parameter sets (calibration candidates)
    in one run of the calcium rule: the synapses of every set side by side, each with its own facilitation gain,
    fast-threshold gain and slow-trace scale. The tables equal the one-by-one ones; sets that differ in any other
    rule or TMS parameter are computed one by one."""
    from ..plasticity.synaptic import session_weight_change

    todo = [ps for ps in dict.fromkeys(param_sets) if (protocol, ps) not in _TABLES]
    rec = _recruitment(E_GRID, todo[0]) if len(todo) >= 2 else None       # (G, 32), the same for all
    rule = stacked_rule(todo, rec.size) if rec is not None else None
    if rule is None:
        for ps in todo:
            response_table(protocol, ps)
        return
    dw = session_weight_change(protocol.pulse_times(), np.tile(rec.ravel(), len(todo)), params=todo[0],
                               rule=rule).reshape(len(todo), *rec.shape)
    for k, ps in enumerate(todo):
        _store((protocol, ps), rec.mean(axis=1), dw[k].mean(axis=1))


def stacked_rule(param_sets, per_set: int):
    """One calcium rule for several parameter sets side by side (``per_set`` synapses each), or None when the sets
    cannot share a run: they may differ only in the rule fields a run holds per synapse (facilitation gain,
    fast-threshold gain, slow-trace scale), not in any other rule or ``tms.*`` parameter.

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> p = default_parameters()
    >>> q = p.with_values({"plasticity.calcium.facilitation_gain": 1.0})
    >>> stacked_rule([p, q], 2).fac_gain.tolist() == [p.value("plasticity.calcium.facilitation_gain")] * 2 + [1.0] * 2
    True
    >>> stacked_rule([p, p.with_values({"plasticity.calcium.tau_ca": 1.1 * p.value("plasticity.calcium.tau_ca")})], 2) is None
    True
    """
    from dataclasses import replace

    from ..plasticity.synaptic import CalciumRule

    rules = [CalciumRule.from_params(ps) for ps in param_sets]
    shared = {k: v for k, v in vars(rules[0]).items() if k not in _BATCHED_RULE}
    if any({k: v for k, v in vars(r).items() if k not in _BATCHED_RULE} != shared for r in rules) or not same_physics(param_sets):
        return None
    return replace(rules[0], **{f: np.repeat([getattr(r, f) for r in rules], per_set) for f in _BATCHED_RULE})


def same_physics(param_sets) -> bool:
    """Whether the sets agree on every ``tms.*`` parameter (stimulator, coil, head, activation), so one field and
    one recruitment serve them all."""
    return len({tuple((k, ps.value(k)) for k in ps if k.startswith("tms.")) for ps in param_sets}) <= 1


_PLAN_PARAMETERS = ("tms.", "plasticity.calcium.")  # everything a plan reads (traits come with the patients)


def plan_parameters(params: ParameterSet) -> ParameterSet:
    """The part of ``params`` a session plan reads (``tms.*``, ``plasticity.calcium.*``): the key of its caches."""
    return ParameterSet({k: params[k] for k in params if k.startswith(_PLAN_PARAMETERS)}, version="tms-plan")


def session_plan(tms, params: ParameterSet, traits=None, *, exact: bool = False) -> SessionPlan:
    """The :class:`SessionPlan` of a validated TMS treatment (``scenario.TMSTreatment``) for patients with
    ``traits`` (:class:`~neuroplastic.physics.tms.targeting.StimulationTraits`; default the median patient).

    The calcium-rule table is cached on the parameters a plan reads (``tms.*``, ``plasticity.calcium.*``) only, so
    parameter sets that differ elsewhere (calibration candidates) share it.

    Example
    -------
    >>> from neuroplastic.scenario import parse_scenario
    >>> from neuroplastic.params import default_parameters
    >>> sc = parse_scenario("duration: 1 day\\ntreatments: [{tms: {protocol: itbs, target: sgacc_anticorrelated}}]")
    >>> plan = session_plan(sc.treatments[0].tms, default_parameters())
    >>> plan.target, bool(plan.coupling[0] > 1)
    ('sgACC-anticorrelated (individual map)', True)
    """
    from .tms.targeting import patient_dose, typical_traits
    sub = plan_parameters(params)
    traits = typical_traits(1, params) if traits is None else traits
    protocol = tms.make_protocol()
    dose = patient_dose(tms.intensity, tms.aim, traits, adjust=tms.adjust, coil=tms.coil, params=sub)
    if exact:
        rec, dw = _responses(protocol, dose.efield, sub)
    else:
        f_rec, f_dw = response_table(protocol, sub)
        rec, dw = f_rec(dose.efield), f_dw(dose.efield)
    k = dose.coupling
    drive = k * rec * params.si("tms.session.dlpfc_drive") * pulse_rate_factor(protocol)
    return SessionPlan(protocol.name, int(protocol.n_pulses), float(tms.intensity), float(protocol.duration),
                       tms.aim.label, dose.efield, rec, k, k * dw, drive)


def pulse_rate_factor(protocol) -> float:
    """The session's mean pulse rate relative to the standard 10 Hz session's (3,000 pulses in 4-s trains 26 s apart,
    O'Reardon 2007: 1.35 pulses a second over its 37 minutes).

    The slow layer sees a session as extra dlPFC input for its duration: the mean of what its pulses evoke, each
    pulse firing the recruited fraction of the target once, so the input scales with the pulses delivered per
    second. A 600-pulse iTBS session delivers its pulses 2.3 times as densely, over 3 minutes; a 1 Hz train at
    0.74 times the rate, over 15 minutes. ``tms.session.dlpfc_drive`` is the input of the standard session.

    Example
    -------
    >>> from neuroplastic.physics.tms.protocols import make_protocol
    >>> round(pulse_rate_factor(make_protocol("10hz")), 6), round(pulse_rate_factor(make_protocol("itbs")), 3)
    (1.0, 2.318)
    >>> round(pulse_rate_factor(make_protocol("1hz")), 3)
    0.741
    """
    return (protocol.n_pulses / protocol.duration) / _standard_pulse_rate()


@lru_cache(maxsize=1)
def _standard_pulse_rate() -> float:
    """Mean pulse rate (1/s) of the standard 10 Hz session: a constant, built once rather than at every plan."""
    from .tms.protocols import make_protocol
    standard = make_protocol("10hz")
    return standard.n_pulses / standard.duration
