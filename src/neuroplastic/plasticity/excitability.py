"""Intrinsic excitability plasticity: a neuron's firing threshold theta adapts to its own activity (Desai 1999).

    tau_ie dtheta/dt = kappa (r / r_ref - 1) - theta

theta is subtracted from the population's input: sustained over-activity raises the threshold.
"""

from __future__ import annotations


def threshold_rate(theta, rate_rel, tau, kappa):
    """d theta / dt (SI).

    Example
    -------
    >>> threshold_rate(0.0, 1.0, 1.0, 0.2)
    0.0
    """
    return (kappa * (rate_rel - 1.0) - theta) / tau
