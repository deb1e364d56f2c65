"""Metaplasticity: the BCM sliding modification threshold (Bienenstock, Cooper & Munro 1982).

    tau_theta dtheta_M/dt = (r / r_ref)^2 - theta_M

theta_M = 1 at the reference activity. Session plasticity (the calcium rule) is scaled by the threshold: recent
high activity raises theta_M and biases later induction toward depression, so long or repeated protocols can
reverse sign (Gamboa 2010).
"""

from __future__ import annotations


def threshold_rate(theta_m, rate_rel, tau):
    """d theta_M / dt (SI).

    Example
    -------
    >>> threshold_rate(1.0, 1.0, 1.0)
    0.0
    """
    return (rate_rel * rate_rel - theta_m) / tau
