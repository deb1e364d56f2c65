"""Pharmacodynamics: occupancy of transporters and receptors from unbound plasma concentration.

For a target T and the compounds c present, with unbound molar concentration u_c and in vivo affinity K_{c,T},
competitive binding gives occ_T = x / (1 + x), x = sum_c u_c / K_{c,T}.
"""

from __future__ import annotations

import numpy as np

from ..params import ParameterSet

TARGETS = ("sert", "net", "dat", "nmda")


def occupancy(conc: dict[str, np.ndarray], params: ParameterSet, target: str) -> np.ndarray | None:
    """Fractional occupancy of ``target`` from total plasma concentrations (kg/m^3, any array shape).

    Returns None when no compound present binds the target.

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> p = default_parameters()
    >>> c = {"escitalopram": np.array([17e-6])}   # 17 ng/mL in kg/m^3
    >>> round(float(occupancy(c, p, "sert")[0]), 2)
    0.81
    """
    x = None
    for compound, c in conc.items():
        key = f"pd.{compound}.k_{target}"
        if key not in params:
            continue
        fu = params.si(f"pk.{compound}.fu")
        mw = params.si(f"pk.{compound}.mw")  # kg/mol
        unbound_molar = fu * np.asarray(c) / mw  # mol/m^3
        term = unbound_molar / params.si(key)
        x = term if x is None else x + term
    if x is None:
        return None
    return x / (1.0 + x)
