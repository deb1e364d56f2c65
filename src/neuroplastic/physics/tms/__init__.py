"""Transcranial magnetic stimulation: stimulator waveform, coil fields, activation, protocols, safety.

:func:`session_summary` ties the layers together for one session: protocol -> E at the target for the
intensity (% rMT) -> recruitment of target neurons -> the calcium rule driven by the pulse train
(:mod:`neuroplastic.plasticity.synaptic`) -> early efficacy change and its decay after the session.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from ...errors import ScenarioError
from ...params import ParameterSet, default_parameters
from .activation import efield_at_target, intensity_to_output, motor_threshold_output, recruited_fraction
from .coil import Coil, figure8_coil, get_coil, round_coil
from .fields import biot_savart, primary_efield, sphere_efield, vector_potential
from .protocols import Protocol, make_protocol
from .safety import check_protocol, max_train_duration, protocol_violations
from .waveform import Pulse, peak_didt, rlc_pulse

__all__ = [
    "Coil", "Protocol", "Pulse", "biot_savart", "check_protocol", "efield_at_target", "figure8_coil", "get_coil",
    "intensity_to_output", "make_protocol", "max_train_duration", "motor_threshold_output", "peak_didt",
    "primary_efield", "protocol_violations", "recruited_fraction", "rlc_pulse", "round_coil", "session_summaries", "session_summary",
    "sphere_efield",
    "target_recruitment", "vector_potential",
]


def target_recruitment(efield: float, n: int = 32, params: ParameterSet | None = None) -> np.ndarray:
    """Recruitment of ``n`` representative target neurons whose thresholds spread log-normally.

    Neuron i has threshold ``E_rmt exp(s z_i)`` (z_i the normal quantiles, s = threshold_spread); its
    recruitment is :func:`recruited_fraction` of ``efield`` at that threshold.

    Example
    -------
    >>> r = target_recruitment(80.0)
    >>> r.shape, round(float(r.mean()), 2)
    ((32,), 0.51)
    """
    p = params or default_parameters()
    z = ndtri((np.arange(n) + 0.5) / n)
    th = p.si("tms.activation.e_rmt") * np.exp(p.si("tms.activation.threshold_spread") * z)
    return recruited_fraction(float(efield), th, params=p)


def session_summary(protocol_name: str, pulses: int | None = None, intensity_pct_rmt: float = 120.0,
                    params: ParameterSet | None = None, *, target: str = "dlpfc", coil: str = "figure8",
                    aim=None, motor_depth: float | None = None, target_depth: float | None = None,
                    adjust: str = "none", **custom) -> dict:
    """Physics and early plasticity of one TMS session.

    Parameters
    ----------
    protocol_name : str
        ``1hz``, ``5hz``, ``10hz``, ``20hz``, ``itbs``, ``ctbs`` or ``custom`` (see :func:`make_protocol`).
    pulses : int, optional
        Pulses in the session (default: the protocol's).
    intensity_pct_rmt : float
        Intensity in % of resting motor threshold.
    params : ParameterSet, optional
        Parameter set (default: the shipped registry).
    target, coil : str
        Cortical target (``dlpfc`` or ``motor``) and coil (``figure8`` or ``round``).
    aim : targeting.Target, optional
        How the dlPFC site is found (default the 5-cm rule); with ``target="dlpfc"`` only.
    motor_depth, target_depth : float, optional
        The patient's scalp-to-cortex distances (m) over motor cortex and the target (default the registry medians).
    adjust : {"none", "stokes"}
        Stokes distance adjustment of the output.
    **custom
        Protocol overrides (``frequency``, ``train_duration``, ``inter_train_interval``, ...).

    Returns
    -------
    dict
        ``protocol``, ``pulses``, ``duration_s``, ``frequency_hz``, ``train_duration_s``,
        ``inter_train_interval_s``, ``intensity_pct_rmt``, ``stimulator_output``, ``efield_peak_v_per_m``
        (|E| at the target), ``recruited_fraction``, ``weight_change_end`` (relative change of mean target
        efficacy at the end of the session), ``weight_change_30min`` (the same 30 min later),
        ``aftereffect_duration_min`` (minutes after the session during which |change| exceeds
        ``aftereffect_criterion``, a fixed 5% by default), ``within_safety_limits``, ``safety_note`` (the first
        violation) and ``safety_violations`` (every limit exceeded, one line each). Safety comes from
        :func:`~neuroplastic.physics.tms.safety.protocol_violations`, the checker scenarios use; the summary
        reports unsafe protocols, :func:`check_protocol` refuses them. ``train_duration_s`` and
        ``inter_train_interval_s`` are the longest train and the shortest pause actually delivered.
        For a dlPFC target also: ``target_method``, ``target_site``, ``motor_depth_mm``, ``target_depth_mm``,
        ``adjust``, ``rmt_output`` (the patient's motor threshold, fraction of maximum output),
        ``expected_coupling`` (mean coupling of the method's site into the dlPFC -> sgACC pathway, 1 = the 5-cm
        rule's mean) and ``expected_pathway_change`` (coupling x early change: what the session gives the pathway).

    Example
    -------
    >>> s = session_summary("ctbs", 300)
    >>> s["pulses"], s["weight_change_30min"] < 0, 80 < s["efield_peak_v_per_m"] < 110
    (300, True, True)
    """
    return session_summaries(protocol_name, pulses, intensity_pct_rmt, [params or default_parameters()],
                             target=target, coil=coil, aim=aim, motor_depth=motor_depth, target_depth=target_depth,
                             adjust=adjust, **custom)[0]


def session_summaries(protocol_name: str, pulses: int | None, intensity_pct_rmt: float, param_sets, *,
                      target: str = "dlpfc", coil: str = "figure8", aim=None, motor_depth: float | None = None,
                      target_depth: float | None = None, adjust: str = "none", **custom) -> list[dict]:
    """:func:`session_summary` for several parameter sets (e.g. a generation of calibration candidates): list item
    k equals ``session_summary(..., params=param_sets[k])``. The physics (field, recruitment) is computed once and
    the calcium rule runs once for all sets, synapses side by side, when the sets differ only in the rule fields a
    run holds per synapse (:func:`~neuroplastic.physics.tms_session.stacked_rule`); otherwise set by set.

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> p = default_parameters()
    >>> sets = [p, p.with_values({"plasticity.calcium.facilitation_gain": 1.0})]
    >>> both = session_summaries("itbs", 600, 80.0, sets, target="motor")
    >>> both == [session_summary("itbs", 600, 80.0, q, target="motor") for q in sets]
    True
    """
    from ...plasticity.synaptic import session_weight_change
    from ..tms_session import same_physics, stacked_rule

    param_sets = list(param_sets)
    p = param_sets[0]
    if not same_physics(param_sets):      # the physics differs between the sets: one by one
        return [session_summaries(protocol_name, pulses, intensity_pct_rmt, [q], target=target, coil=coil, aim=aim,
                                  motor_depth=motor_depth, target_depth=target_depth, adjust=adjust, **custom)[0]
                for q in param_sets]
    from dataclasses import replace

    from .targeting import Target, expected_coupling, patient_dose, typical_traits

    proto = make_protocol(protocol_name, pulses, **custom)
    extra = {}
    if target == "motor":
        out_frac = intensity_to_output(intensity_pct_rmt, coil=coil, params=p)
        e = efield_at_target(out_frac, target=target, coil=coil, params=p)
    else:
        aim = aim or Target("5cm")
        tr = typical_traits(1, p)
        if motor_depth is not None:
            tr = replace(tr, motor_depth=np.array([float(motor_depth)]))
        if target_depth is not None:
            tr = replace(tr, dlpfc_depth=np.array([float(target_depth)]))
        dose = patient_dose(intensity_pct_rmt, aim, tr, adjust=adjust, coil=coil, params=p)
        if dose.capped[0]:
            raise ScenarioError("tms.intensity", f"{intensity_pct_rmt}% rMT",
                                f"at most {100.0 / float(dose.base_output[0]):.0f}% rMT (100% of stimulator output "
                                "at this patient's depths)")
        out_frac, e = float(dose.output[0]), float(dose.efield[0])
        extra = {"target_method": aim.method, "target_site": aim.label,
                 "motor_depth_mm": round(float(tr.motor_depth[0]) * 1e3, 2),
                 "target_depth_mm": round(float(tr.dlpfc_depth[0]) * 1e3, 2), "adjust": adjust,
                 "rmt_output": round(float(dose.rmt_output[0]), 4),
                 "expected_coupling": round(expected_coupling(aim, p), 4)}
    rec = target_recruitment(e, params=p)
    rule = stacked_rule(param_sets, rec.size) if len(param_sets) > 1 else None
    if rule is not None:
        dws = session_weight_change(proto.pulse_times(), np.tile(rec, len(param_sets)), params=p,
                                    rule=rule).reshape(len(param_sets), rec.size)
    else:
        dws = [session_weight_change(proto.pulse_times(), rec, params=q) for q in param_sets]
    violations = [str(err) for err in protocol_violations(proto, intensity_pct_rmt)]  # the scenarios' checker
    return [_summary(proto, intensity_pct_rmt, out_frac, e, rec, dw, violations, extra, q)
            for dw, q in zip(dws, param_sets)]


def _summary(proto, intensity_pct_rmt, out_frac, e, rec, dw, violations, extra, p) -> dict:
    from ...plasticity.synaptic import aftereffect_duration, early_change_after

    w0 = 1.0  # all synapses start from the same rho0, so the mean change is the mean of the changes
    change = float(np.mean(dw)) * w0
    safe = not violations
    note = "within the Rossi 2009/2021 and Chen 1997 limits" if safe else violations[0]
    return {
        "protocol": proto.name,
        "pulses": int(proto.n_pulses),
        "duration_s": round(proto.duration, 3),
        "frequency_hz": proto.frequency,
        "train_duration_s": proto.longest_train,
        "inter_train_interval_s": proto.inter_train_interval if proto.shortest_pause is None else proto.shortest_pause,
        "intensity_pct_rmt": float(intensity_pct_rmt),
        "stimulator_output": round(out_frac, 4),
        "efield_peak_v_per_m": round(e, 2),
        "recruited_fraction": round(float(np.mean(rec)), 4),
        "weight_change_end": round(change, 4),
        "weight_change_30min": round(float(early_change_after(change, 30.0, p)), 4),
        "aftereffect_duration_min": round(float(aftereffect_duration(change, p)), 1),
        "aftereffect_criterion": p.si("plasticity.calcium.aftereffect_criterion"),
        "within_safety_limits": safe,
        "safety_note": note,
        "safety_violations": violations,
        **extra,
        **({"expected_pathway_change": round(extra["expected_coupling"] * change, 4)} if extra else {}),
    }
