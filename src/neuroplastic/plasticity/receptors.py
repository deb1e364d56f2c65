"""Receptor desensitisation: autoreceptor sensitivity A adapts until feedback returns to its set point.

    dA/dt = k (o0 - A o)

A = 1 at the untreated baseline (o = o0). An SSRI raises 5-HT1A occupancy o; A falls over days toward o0/o, so
feedback inhibition A o returns to baseline and raphe firing recovers (Le Poul 1995; Blier & de Montigny 1994).
When the drug stops, A returns to 1 over weeks (time scale 1/(k o0)).
"""

from __future__ import annotations


def desensitisation_rate(A, occ, occ0, k):
    """dA/dt for autoreceptor sensitivity ``A`` (SI).

    Example
    -------
    >>> desensitisation_rate(1.0, 0.2, 0.2, 1.0)
    0.0
    """
    return k * (occ0 - A * occ)
