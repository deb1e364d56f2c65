"""Stimulator discharge: the coil current of an RLC circuit, biphasic or monophasic.

The capacitor C, charged to V0, discharges through the coil inductance L and the circuit resistance R.
In the underdamped case the current is ``I(t) = V0/(omega L) exp(-alpha t) sin(omega t)`` with
``alpha = R/(2L)`` and ``omega = sqrt(1/(LC) - alpha**2)``. A *biphasic* pulse lasts one full cycle (the
thyristor/diode pair lets the current reverse once); a *monophasic* pulse follows the same rise to the
first current peak, after which the damping diode clamps the capacitor and the current decays
exponentially with ``tau_mono``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ScenarioError
from ...params import ParameterSet, default_parameters

WAVEFORMS = ("biphasic", "monophasic")


@dataclass(frozen=True, eq=False)
class Pulse:
    """A sampled coil-current pulse (SI units: s, A, A/s)."""

    t: np.ndarray
    current: np.ndarray
    didt: np.ndarray
    waveform: str

    @property
    def peak_current(self) -> float:
        """Largest |I| over the pulse (A)."""
        return float(np.max(np.abs(self.current)))

    @property
    def peak_didt(self) -> float:
        """Largest |dI/dt| over the pulse (A/s)."""
        return float(np.max(np.abs(self.didt)))

    @property
    def duration(self) -> float:
        """Length of the sampled pulse (s)."""
        return float(self.t[-1] - self.t[0])


def _circuit(params: ParameterSet | None):
    p = params or default_parameters()
    C = p.si("tms.stimulator.capacitance")
    L = p.si("tms.stimulator.inductance")
    R = p.si("tms.stimulator.resistance")
    v_max = p.si("tms.stimulator.max_voltage")
    alpha = R / (2 * L)
    w2 = 1.0 / (L * C) - alpha**2
    if w2 <= 0:
        raise ScenarioError("tms.stimulator.resistance", R, f"an underdamped circuit, R < {2 * np.sqrt(L / C):.3g} ohm")
    return C, L, R, v_max, alpha, float(np.sqrt(w2)), p


def _check_output(output_fraction: float) -> float:
    x = float(output_fraction)
    if not (0.0 <= x <= 1.0) or not np.isfinite(x):
        raise ScenarioError("tms.output", output_fraction, "a fraction of maximum stimulator output in [0, 1]")
    return x


def peak_didt(output_fraction: float = 1.0, params: ParameterSet | None = None) -> float:
    """Peak rate of change of the coil current (A/s): ``V0/L`` at the start of the discharge.

    Parameters
    ----------
    output_fraction : float
        Stimulator output as a fraction of maximum (1.0 = 100% MSO); V0 scales linearly with it.
    params : ParameterSet, optional
        Parameter set (default: :func:`~neuroplastic.params.default_parameters`).

    Example
    -------
    >>> 1e7 < peak_didt(1.0) < 1e9
    True
    """
    _, L, _, v_max, _, _, _ = _circuit(params)
    return _check_output(output_fraction) * v_max / L


def rlc_pulse(output_fraction: float = 1.0, waveform: str = "biphasic", dt: float = 1e-6,
              params: ParameterSet | None = None) -> Pulse:
    """Coil current and its derivative for one stimulator discharge.

    Parameters
    ----------
    output_fraction : float
        Stimulator output as a fraction of maximum (scales the capacitor voltage).
    waveform : {"biphasic", "monophasic"}
        Biphasic: one full damped sine cycle. Monophasic: rise to the first peak, then exponential decay.
    dt : float
        Sampling step (s).
    params : ParameterSet, optional
        Parameter set (default: the shipped registry).

    Returns
    -------
    Pulse
        Time grid (s), current (A) and dI/dt (A/s).

    Example
    -------
    >>> p = rlc_pulse(1.0)
    >>> 2e3 < p.peak_current < 7e3, 1e7 < p.peak_didt < 1e8, 0.2e-3 < p.duration < 0.4e-3
    (True, True, True)
    """
    C, L, R, v_max, alpha, omega, p = _circuit(params)
    v0 = _check_output(output_fraction) * v_max
    amp = v0 / (omega * L)
    if waveform == "biphasic":
        t = np.arange(0.0, 2 * np.pi / omega + dt / 2, dt)
        env = amp * np.exp(-alpha * t)
        current = env * np.sin(omega * t)
        didt = env * (omega * np.cos(omega * t) - alpha * np.sin(omega * t))
    elif waveform == "monophasic":
        tau_m = p.si("tms.stimulator.monophasic_decay")
        t_pk = np.arctan2(omega, alpha) / omega
        t = np.arange(0.0, t_pk + tau_m * np.log(100.0) + dt / 2, dt)
        env = amp * np.exp(-alpha * t)
        rise = t <= t_pk
        i_pk = amp * np.exp(-alpha * t_pk) * np.sin(omega * t_pk)
        current = np.where(rise, env * np.sin(omega * t), i_pk * np.exp(-(t - t_pk) / tau_m))
        didt = np.where(rise, env * (omega * np.cos(omega * t) - alpha * np.sin(omega * t)), -current / tau_m)
    else:
        raise ScenarioError("tms.waveform", waveform, "one of " + ", ".join(WAVEFORMS))
    return Pulse(t=t, current=current, didt=didt, waveform=waveform)


def pulse_width(params: ParameterSet | None = None) -> float:
    """Duration of one biphasic cycle, ``2 pi / omega`` (s).

    Example
    -------
    >>> round(pulse_width() * 1e6)  # microseconds
    342
    """
    return float(2 * np.pi / _circuit(params)[5])
