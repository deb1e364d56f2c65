"""From stimulator output to the E-field at a cortical target and the fraction of target neurons recruited.

Geometry: the head is a sphere of radius ``tms.head.radius`` centred at the origin; the coil windings lie
``tms.coil.scalp_gap`` above the scalp at the vertex; the target sits ``tms.head.<target>_depth`` below the
scalp under the coil centre. The field scales linearly with stimulator output (V0, hence dI/dt).

The *resting motor threshold* (rMT) of a patient is the stimulator output at which E at the motor target
equals that patient's threshold field ``E_rmt`` (default ``tms.activation.e_rmt``). Intensities are given
in % rMT, as in the clinic.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...errors import ScenarioError
from ...params import ParameterSet, default_parameters
from .coil import get_coil
from .fields import sphere_efield
from .waveform import peak_didt

TARGETS = ("motor", "dlpfc")


@lru_cache(maxsize=64)
def _e_per_output(coil: str, target: str, params: ParameterSet) -> float:
    if target not in TARGETS:
        raise ScenarioError("tms.target", target, "one of " + ", ".join(TARGETS))
    R = params.si("tms.head.radius")
    c = get_coil(coil, params).placed(R + params.si("tms.coil.scalp_gap"))
    # peak |E| on the target depth shell beneath the coil: under the centre for a figure-of-eight, under the
    # winding for a round coil (whose field vanishes on its axis)
    r = R - params.si(f"tms.head.{target}_depth")
    ang = np.linspace(0.0, 0.08 / R, 81)
    points = np.stack([r * np.sin(ang), np.zeros_like(ang), r * np.cos(ang)], axis=1)
    E = sphere_efield(points, c.dipole_pos, c.dipole_moment, peak_didt(1.0, params))
    return float(np.max(np.linalg.norm(E, axis=1)))


def efield_at_target(output_fraction: float, target: str = "dlpfc", coil: str = "figure8",
                     params: ParameterSet | None = None) -> float:
    """Peak |E| (V/m) at a cortical target for a stimulator output (fraction of maximum).

    Parameters
    ----------
    output_fraction : float
        Stimulator output in [0, 1] (1 = 100% maximum stimulator output).
    target : {"dlpfc", "motor"}
        Cortical target under the coil centre.
    coil : {"figure8", "round"}
        Coil geometry.
    params : ParameterSet, optional
        Parameter set (default: the shipped registry).

    Example
    -------
    >>> e1, e2 = efield_at_target(0.3, "motor"), efield_at_target(0.6, "motor")
    >>> round(e2 / e1, 6)
    2.0
    """
    p = params or default_parameters()
    x = float(output_fraction)
    if not (0.0 <= x <= 1.0):
        raise ScenarioError("tms.output", output_fraction, "a fraction of maximum stimulator output in [0, 1]")
    return x * _e_per_output(str(coil).lower(), target, p)


def motor_threshold_output(e_rmt: float | None = None, coil: str = "figure8",
                           params: ParameterSet | None = None) -> float:
    """Stimulator output (fraction of maximum) at which E at the motor target equals ``e_rmt`` (V/m).

    Example
    -------
    >>> 0.3 < motor_threshold_output() < 0.8   # typical rMT: 40-70% of maximum output
    True
    """
    p = params or default_parameters()
    e = p.si("tms.activation.e_rmt") if e_rmt is None else float(e_rmt)
    if not e > 0:
        raise ScenarioError("tms.e_rmt", e_rmt, "a positive field strength in V/m")
    return e / _e_per_output(str(coil).lower(), "motor", p)


def intensity_to_output(pct_rmt: float, rmt_output: float | None = None, coil: str = "figure8",
                        params: ParameterSet | None = None) -> float:
    """Stimulator output (fraction of maximum) for an intensity in % of resting motor threshold.

    Parameters
    ----------
    pct_rmt : float
        Intensity in percent of the patient's rMT (e.g. 120).
    rmt_output : float, optional
        The patient's rMT as a fraction of maximum output; default from :func:`motor_threshold_output`.

    Raises
    ------
    ScenarioError
        If the intensity is not positive or needs more than 100% of the stimulator's output.

    Example
    -------
    >>> intensity_to_output(120, rmt_output=0.5)
    0.6
    """
    x = float(pct_rmt)
    if not (x > 0 and np.isfinite(x)):
        raise ScenarioError("tms.intensity", f"{pct_rmt}% rMT", "a positive percentage of resting motor threshold")
    base = motor_threshold_output(coil=coil, params=params) if rmt_output is None else float(rmt_output)
    out = x / 100.0 * base
    if out > 1.0:
        raise ScenarioError("tms.intensity", f"{pct_rmt}% rMT",
                            f"at most {100.0 / base:.0f}% rMT (100% of stimulator output for this patient)")
    return out


def recruited_fraction(efield, e_threshold: float | None = None, pulse_width: float | None = None,
                       params: ParameterSet | None = None):
    """Fraction of target neurons activated by a field ``efield`` (V/m): a sigmoid of E / E_threshold.

    ``E_threshold`` (default ``tms.activation.e_rmt``) applies at the reference pulse width; for another
    pulse width the threshold follows the Lapicque strength-duration law, scaled by
    ``(1 + tau_sd / pw) / (1 + tau_sd / pw_ref)``. At threshold half the neurons are recruited.

    Example
    -------
    >>> float(recruited_fraction(80.0, 80.0))
    0.5
    >>> bool(recruited_fraction(96.0, 80.0) > 0.8)
    True
    """
    p = params or default_parameters()
    e_th = p.si("tms.activation.e_rmt") if e_threshold is None else np.asarray(e_threshold, float)
    if pulse_width is not None:
        tau = p.si("tms.activation.sd_time_constant")
        ref = p.si("tms.activation.reference_pulse_width")
        e_th = e_th * (1 + tau / float(pulse_width)) / (1 + tau / ref)
    s = p.si("tms.activation.slope")
    x = (np.asarray(efield, float) / e_th - 1.0) / s
    return 1.0 / (1.0 + np.exp(-x))
