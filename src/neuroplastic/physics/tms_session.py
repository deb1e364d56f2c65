"""One TMS session as the engine sees it: what the protocol physically delivers to the target.

The plan is computed once per distinct protocol and intensity (pure and cached): pulse train -> E at the target
-> recruitment -> the calcium rule on the millisecond scale -> mean early efficacy change of the target synapses;
plus the extra dlPFC activity while the session runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..params import ParameterSet


@dataclass(frozen=True)
class SessionPlan:
    protocol: str
    n_pulses: int
    intensity_pct_rmt: float
    duration: float          # s
    efield: float            # V/m at the target
    recruited: float         # mean recruited fraction
    weight_change: float     # mean relative early change of target efficacy at the end of the session
    dlpfc_drive: float       # extra dlPFC input while the session runs


@lru_cache(maxsize=256)
def _plan(protocol, intensity: float, coil: str, target: str, params: ParameterSet) -> SessionPlan:
    from ..plasticity.synaptic import session_weight_change
    from .tms import efield_at_target, intensity_to_output, target_recruitment

    out = intensity_to_output(intensity, coil=coil, params=params)
    e = efield_at_target(out, target=target, coil=coil, params=params)
    rec = target_recruitment(e, params=params)
    dw = float(np.mean(session_weight_change(protocol.pulse_times(), rec, params=params)))
    return SessionPlan(protocol.name, int(protocol.n_pulses), intensity, float(protocol.duration), float(e),
                       float(np.mean(rec)), dw, float(np.mean(rec)) * params.si("tms.session.dlpfc_drive"))


_PLAN_PARAMETERS = ("tms.", "plasticity.calcium.")  # everything a plan reads (stimulator to calcium rule)


def session_plan(tms, params: ParameterSet) -> SessionPlan:
    """The :class:`SessionPlan` of a validated TMS treatment (``scenario.TMSTreatment``).

    Cached on the parameters a plan reads (``tms.*``, ``plasticity.calcium.*``) only, so parameter sets that differ
    elsewhere (calibration candidates) share one plan."""
    sub = ParameterSet({k: params[k] for k in params if k.startswith(_PLAN_PARAMETERS)}, version="tms-plan")
    return _plan(tms.make_protocol(), float(tms.intensity), tms.coil, tms.target, sub)
