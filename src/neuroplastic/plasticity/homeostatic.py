"""Homeostatic synaptic scaling (Turrigiano 1998), as partial proportional compensation.

    tau_hs dsigma/dt = (1 - sigma) - kappa (r / r_ref - 1)

sigma multiplies the excitatory drive of the scaled population; over-activity scales it down over days.
"""

from __future__ import annotations


def scaling_rate(sigma, rate_rel, tau, kappa):
    """d sigma / dt (SI).

    Example
    -------
    >>> scaling_rate(1.0, 1.0, 1.0, 0.3)
    0.0
    """
    return ((1.0 - sigma) - kappa * (rate_rel - 1.0)) / tau
