"""Vagus nerve stimulation: electrode current, pulse width, frequency and duty cycle -> fibre recruitment -> NTS drive.

    I_th(pw)  = I_rh (1 + t_ch / pw)                                  Weiss strength-duration, A fibres
    recruited = Phi( ln(I / I_th) / sigma )                            log-normal spread of fibre thresholds
    NTS       = recruited * f / (f + f_half)                           frequency following, saturating
    lc_drive  = 1 + g_LC * NTS * on / (on + off)                       duty-averaged drive to the locus coeruleus

Only the physical delivery is computed here; the brain model turns locus coeruleus drive into NE, alpha2
desensitisation, NE->raphe excitation and plasticity.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import erf, log, sqrt

from ..errors import SafetyError
from ..params import ParameterSet, default_parameters


@dataclass(frozen=True)
class VNSSettings:
    current: float       # A
    pulse_width: float   # s
    frequency: float     # Hz
    on: float            # s
    off: float           # s

    @property
    def duty(self) -> float:
        return self.on / (self.on + self.off)


def recruitment(s: VNSSettings, params: ParameterSet | None = None) -> float:
    """Fraction of vagal A fibres recruited.

    Example
    -------
    >>> round(recruitment(VNSSettings(1.0e-3, 250e-6, 20.0, 30.0, 300.0)), 2)
    0.9
    """
    p = (params or default_parameters()).group("vns.fibre")
    ith = p["rheobase"] * (1.0 + p["chronaxie"] / s.pulse_width)
    if s.current <= 0:
        return 0.0
    z = log(s.current / ith) / p["threshold_spread"]
    return 0.5 * (1.0 + erf(z / sqrt(2.0)))


def lc_drive(s: VNSSettings, params: ParameterSet | None = None) -> float:
    """Duty-averaged drive to the locus coeruleus (1 = no stimulation)."""
    params = params or default_parameters()
    p = params.group("vns.nts")
    nts = recruitment(s, params) * s.frequency / (s.frequency + p["frequency_half"])
    return 1.0 + p["lc_gain"] * nts * s.duty


def check_limits(s: VNSSettings, field: str, params: ParameterSet | None = None, allow_unsafe: bool = False) -> None:
    """Refuse settings beyond the device labelling unless ``allow_unsafe``."""
    if allow_unsafe:
        return
    lim = (params or default_parameters()).group("vns.limits")
    src = "VNS Therapy System physician's manual; set allow_unsafe: true to override"
    if s.current > lim["current_max"] + 1e-12:
        raise SafetyError(f"{field}.current", f"{s.current * 1e3:g} mA", f"at most {lim['current_max'] * 1e3:g} mA (device limit, {src})")
    if not (lim["pulse_width_min"] - 1e-12 <= s.pulse_width <= lim["pulse_width_max"] + 1e-12):
        raise SafetyError(f"{field}.pulse_width", f"{s.pulse_width * 1e6:g} us", f"{lim['pulse_width_min'] * 1e6:g}-{lim['pulse_width_max'] * 1e6:g} us (device limit, {src})")
    if s.frequency > lim["frequency_max"] + 1e-9:
        raise SafetyError(f"{field}.frequency", f"{s.frequency:g} Hz", f"at most {lim['frequency_max']:g} Hz (device limit, {src})")
    if s.duty > lim["duty_max"] + 1e-9:
        raise SafetyError(f"{field}.on", f"{s.on:g} s on / {s.off:g} s off", f"a duty cycle of at most {lim['duty_max']:.0%} (safety limit, {src})")
