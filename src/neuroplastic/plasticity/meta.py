"""Metaplasticity: the BCM sliding modification threshold (Bienenstock, Cooper & Munro 1982).

Activity-dependent (rate-based) change of the dlPFC->sgACC control synapses follows the BCM form that calcium rules
reduce to at the rate level (Shouval 2002):

    dh/dt  += eta x (x - theta_M),      x = a_dlPFC / r_ref
    tau_theta dtheta_M/dt = x - theta_M

theta_M tracks recent activity, so sustained activity changes nothing, while activity above the recent mean
(a therapy session, expectation, a stimulation session) potentiates and activity below it depresses. After a
period of high activity the threshold is high and later induction is biased toward depression, which is how
long or repeated protocols can reverse sign (Gamboa 2010).
"""

from __future__ import annotations


def threshold_rate(theta_m, rate_rel, tau):
    """d theta_M / dt (SI).

    Example
    -------
    >>> threshold_rate(1.0, 1.0, 1.0)
    0.0
    """
    return (rate_rel - theta_m) / tau


def bcm_rate(rate_rel, theta_m, eta):
    """Activity-dependent change rate of synaptic efficacy (SI).

    Example
    -------
    >>> bcm_rate(1.2, 1.0, 1.0) > 0 > bcm_rate(0.8, 1.0, 1.0)
    True
    """
    return eta * rate_rel * (rate_rel - theta_m)
