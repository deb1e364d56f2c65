"""Adult neurogenesis in the dentate gyrus: a staged population so that maturation takes weeks.

    proliferation  p = p_h max(0, 1 - s_N stress) max(0, 1 + w_bdnf (B - 1) + w_5ht (C - 1))   C the CREB drive
    dN1/dt = p - N1/tau - mu N1                  amplifying progenitors
    dN2/dt = N1/tau - N2/tau - mu N2             neuroblasts
    dN3/dt = N2/tau - N3/tau                     immature neurons
    dN4/dt = N3/tau - N4/tau                     late immature neurons
    dNm/dt = N4/tau - Nm/tau_m                   mature adult-born neurons (relative, 1 = healthy)
p_h is derived so the healthy pool of mature adult-born neurons is 1.
"""

from __future__ import annotations

import numpy as np

STAGES = ("neurogenesis_progenitors", "neurogenesis_neuroblasts", "neurogenesis_immature", "neurogenesis_late_immature")


def healthy(p: dict):
    """Healthy stage sizes (N1..N4, Nm) and proliferation p_h."""
    tau, mu, tm = p["stage_time"], p["early_death"], p["mature_lifetime"]
    n4 = tau / tm
    n3 = n4
    n2 = n3
    n1 = n2 * (1.0 / tau + mu) * tau
    ph = n1 * (1.0 / tau + mu)
    return (n1, n2, n3, n4, 1.0), ph


def rates(p: dict, N, bdnf, creb, stress):
    tau, mu, tm = p["stage_time"], p["early_death"], p["mature_lifetime"]
    _, ph = healthy(p)
    # stress suppresses proliferation at most to none (never a negative rate at a load beyond 1/s_N)
    prolif = ph * np.maximum(1.0 - p["stress_suppression"] * stress, 0.0) * np.maximum(
        0.0, 1.0 + p["w_bdnf"] * (bdnf - 1.0) + p["w_5ht"] * (creb - 1.0))
    n1, n2, n3, n4, nm = N
    return (prolif - n1 / tau - mu * n1,
            n1 / tau - n2 / tau - mu * n2,
            n2 / tau - n3 / tau,
            n3 / tau - n4 / tau,
            n4 / tau - nm / tm)


def young_index(p: dict, N):
    """Functional index of young adult-born neurons (about 3-8 weeks old, hyperexcitable; Ge 2007, Snyder 2011):
    the immature and late-immature stages (N3 + N4), relative to healthy (1 when healthy).

    Example
    -------
    >>> p = {"stage_time": 7.0, "early_death": 0.05, "mature_lifetime": 180.0}
    >>> Ns, _ = healthy(p)
    >>> round(float(young_index(p, Ns)), 12)
    1.0
    """
    Ns, _ = healthy(p)
    return (N[2] + N[3]) / (Ns[2] + Ns[3])
