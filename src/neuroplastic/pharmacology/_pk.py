"""Pharmacokinetics: dose events -> amounts in compartments -> plasma concentrations, for a cohort at once.

Model (per compound c, amounts A in kg, SI time):
    depot:       dA_d/dt = -ka A_d                       (oral, intranasal; bioavailability scales the dose)
    central:     dA_c/dt = ka A_d + R_inf - k_el(t) A_c - (Q/V1) A_c + (Q/V2) A_p
    peripheral:  dA_p/dt = (Q/V1) A_c - (Q/V2) A_p      (two-compartment compounds only)
    metabolite:  dA_m/dt = fm (MW_m/MW_c) k_el(t) A_c - k_el,m A_m
with k_el(t) = [CL (1 - f_2C19 - f_2D6) + CL f_2C19 a_2C19 + (CL f_2D6 + CL_2D6) a_2D6 E(t) I(t)] / V,
a_* the patient's phenotype activity, I(t) = 1 / (1 + sum_i C_i/Ki_i) competitive CYP2D6 inhibition by the
compounds present, and E(t) the active CYP2D6 fraction under mechanism-based inactivation:
    dE/dt = kdeg (1 - E) - kinact C_par/(KI + C_par) E.
Without CYP2D6 inhibitors the system is linear and is propagated exactly (matrix exponential); otherwise with
RK4 sub-steps well inside the fastest time constant. The same right-hand side drives the reference path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import log

import numpy as np

from .._units import Q_
from ..params import ParameterSet
from ._drugs import DRUGS

LN2 = log(2.0)


def expm_batched(M: np.ndarray) -> np.ndarray:
    """Matrix exponential of every matrix in a stack (..., n, n), each on its own.

    Scaling and squaring with a degree-18 Taylor polynomial (truncation error below 1e-20 relative once the scaled
    norm is at most 1/2). The scaling is chosen per matrix, so a matrix's result never depends on the others in
    the stack (a cohort's chunking cannot change the numbers). Much faster than looping scipy's expm over
    thousands of tiny matrices.

    Example
    -------
    >>> A = np.array([[[-1.0, 0.0], [1.0, -2.0]]])
    >>> E = expm_batched(A)
    >>> round(float(E[0, 0, 0]), 12) == round(float(np.exp(-1.0)), 12)
    True
    """
    M = np.asarray(M, float)
    shape = M.shape
    n = shape[-1]
    M = M.reshape(-1, n, n)
    out = np.empty_like(M)
    norm = np.max(np.sum(np.abs(M), axis=-1), axis=-1)
    with np.errstate(divide="ignore"):
        s = np.where(norm > 0.5, np.ceil(np.log2(np.maximum(norm, 0.5) / 0.5)), 0.0).astype(int)
    eye = np.eye(n)
    for sv in np.unique(s):
        sel = np.flatnonzero(s == sv)
        X = M[sel] / (2.0 ** sv)
        E = eye + X / 18.0
        for k in range(17, 0, -1):  # Horner: I + X/1 (I + X/2 (... (I + X/18)))
            E = eye + (X @ E) / k
        for _ in range(sv):
            E = E @ E
        out[sel] = E
    return out.reshape(shape)


def _per_kg(params: ParameterSet, name: str) -> bool:
    return params[name].quantity.dimensionality.get("[mass]", 0) < 0


@dataclass
class _Compound:
    name: str
    central: int
    peripheral: int | None
    V1: np.ndarray          # (P,) m^3
    k_lin: np.ndarray       # (P,) 1/s, clearance not through CYP2D6
    k_2d6: np.ndarray       # (P,) 1/s, CYP2D6 clearance at full enzyme activity (phenotype included)
    k12: np.ndarray | None = None
    k21: np.ndarray | None = None
    metabolites: list[tuple[int, float]] = field(default_factory=list)  # (central index, fm * MW ratio)
    ki_2d6: float | None = None   # kg/m^3, competitive inhibition
    inactivates_2d6: tuple[float, float] | None = None  # (kinact 1/s, KI kg/m^3)


class PKSystem:
    """The compartment system of all drugs in a scenario, for a cohort of ``n_patients``.

    Built by :func:`build_pk_system`; state names are ``"<compound>.central"``, ``"<compound>.peripheral"``,
    ``"<drug>.depot_<route>"`` and ``"cyp2d6.active"`` (when an inactivator is present).
    """

    def __init__(self, names, compounds, depots, n_patients, cyp_kdeg, has_enzyme):
        self.names: tuple[str, ...] = tuple(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.compounds: dict[str, _Compound] = compounds
        self.depots = depots  # (drug, route) -> (index, fraction (P,), ka (P,) or None)
        self.n_patients = n_patients
        self.n = len(self.names)
        self._kdeg = cyp_kdeg
        self._enzyme = self.index.get("cyp2d6.active") if has_enzyme else None
        self._inhibitors = [c for c in compounds.values() if c.ki_2d6 is not None or c.inactivates_2d6 is not None]
        self.nonlinear = bool(self._inhibitors) and any(np.any(c.k_2d6 > 0) for c in compounds.values())
        self._A = self._assemble(include_2d6=not self.nonlinear)
        self._cache: dict = {}

    # -- assembly -------------------------------------------------------------------------------------------
    def _assemble(self, include_2d6: bool) -> np.ndarray:
        P, n = self.n_patients, self.n
        A = np.zeros((P, n, n))
        for (drug, route), (i, frac, ka) in self.depots.items():
            if ka is None:
                continue
            A[:, i, i] -= ka
            A[:, self.compounds[DRUGS[drug].parent].central, i] += ka
        for c in self.compounds.values():
            i = c.central
            k = c.k_lin + (c.k_2d6 if include_2d6 else 0.0)
            A[:, i, i] -= k
            for m, ratio in c.metabolites:
                A[:, m, i] += ratio * k
            if c.peripheral is not None:
                p = c.peripheral
                A[:, i, i] -= c.k12
                A[:, p, i] += c.k12
                A[:, i, p] += c.k21
                A[:, p, p] -= c.k21
        return A

    @property
    def max_rate(self) -> float:
        """Fastest first-order rate in the system (1/s)."""
        return float(np.max(np.abs(np.diagonal(self._assemble(True), axis1=1, axis2=2)))) if self.n else 0.0

    # -- dynamics -------------------------------------------------------------------------------------------
    def initial_state(self) -> np.ndarray:
        x = np.zeros((self.n_patients, self.n))
        if self._enzyme is not None:
            x[:, self._enzyme] = 1.0
        return x

    def concentrations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Total plasma concentration (kg/m^3) of every compound, from a state of shape (..., P, n)."""
        return {name: x[..., c.central] / c.V1 for name, c in self.compounds.items()}

    def _cyp2d6_activity(self, x: np.ndarray) -> np.ndarray:
        inh = 0.0
        for c in self._inhibitors:
            if c.ki_2d6 is not None:
                inh = inh + x[..., c.central] / c.V1 / c.ki_2d6
        act = 1.0 / (1.0 + inh)
        if self._enzyme is not None:
            act = act * x[..., self._enzyme]
        return act

    def rhs(self, x: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """dx/dt for state x (P, n) with zero-order input rates u (P, n) in kg/s."""
        dx = np.einsum("pij,pj->pi", self._A, x)
        if u is not None:
            dx = dx + u
        if self.nonlinear:
            act = self._cyp2d6_activity(x)
            for c in self.compounds.values():
                if not np.any(c.k_2d6 > 0):
                    continue
                r = c.k_2d6 * act * x[:, c.central]
                dx[:, c.central] -= r
                for m, ratio in c.metabolites:
                    dx[:, m] += ratio * r
            if self._enzyme is not None:
                e = x[:, self._enzyme]
                loss = 0.0
                for c in self._inhibitors:
                    if c.inactivates_2d6 is not None:
                        kin, KI = c.inactivates_2d6
                        conc = x[:, c.central] / c.V1
                        loss = loss + kin * conc / (KI + conc)
                dx[:, self._enzyme] = self._kdeg * (1.0 - e) - loss * e
        return dx

    def _linear_step(self, h: float, with_input: bool):
        key = (round(h, 6), with_input)
        hit = self._cache.get(key)
        if hit is None:
            if with_input:
                P, n = self.n_patients, self.n
                M = np.zeros((P, 2 * n, 2 * n))
                M[:, :n, :n] = self._A * h
                M[:, :n, n:] = np.eye(n) * h
                E = expm_batched(M)
                hit = (E[:, :n, :n], E[:, :n, n:])
            else:
                hit = (expm_batched(self._A * h), None)
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def step(self, x: np.ndarray, h: float, u: np.ndarray | None) -> np.ndarray:
        """Advance x by h seconds with constant input u (exact when linear, RK4 sub-steps otherwise)."""
        if h <= 0:
            return x
        if not self.nonlinear:
            E, G = self._linear_step(h, u is not None)
            y = np.einsum("pij,pj->pi", E, x)
            if u is not None:
                y += np.einsum("pij,pj->pi", G, u)
            return y
        nsub = max(1, int(np.ceil(h * self.max_rate / 0.25)))
        dt = h / nsub
        for _ in range(nsub):
            k1 = self.rhs(x, u)
            k2 = self.rhs(x + 0.5 * dt * k1, u)
            k3 = self.rhs(x + 0.5 * dt * k2, u)
            k4 = self.rhs(x + dt * k3, u)
            x = x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        return x


def _phenotype_activity(params: ParameterSet, enzyme: str, phenotypes: np.ndarray) -> np.ndarray:
    out = np.empty(len(phenotypes))
    for ph in np.unique(phenotypes):
        out[phenotypes == ph] = params.si(f"pk.{enzyme}.activity_{ph}")
    return out


def build_pk_system(drug_routes: list[tuple[str, str]], params: ParameterSet, weight: np.ndarray,
                    cyp2c19: np.ndarray, cyp2d6: np.ndarray) -> PKSystem:
    """Build the PK system for the (drug, route) pairs used by a scenario.

    ``weight`` in kg, phenotype arrays of strings (``poor`` ... ``ultrarapid``), all of shape (P,).

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> s = build_pk_system([("escitalopram", "oral")], default_parameters(), np.array([70.0]),
    ...                     np.array(["normal"]), np.array(["normal"]))
    >>> s.names
    ('escitalopram.depot_oral', 'escitalopram.central')
    """
    P = len(weight)
    weight = np.asarray(weight, float)
    ref_w = params.si("pk.allometry.reference_weight")
    expo = params.si("pk.allometry.cl_exponent")
    a2c19 = _phenotype_activity(params, "cyp2c19", np.asarray(cyp2c19))
    a2d6 = _phenotype_activity(params, "cyp2d6", np.asarray(cyp2d6))

    names: list[str] = []
    depots: dict = {}
    drugs = sorted({d for d, _ in drug_routes})
    for drug, route in sorted(set(drug_routes)):
        if route == "iv":
            continue
        depots[(drug, route)] = len(names)
        names.append(f"{drug}.depot_{route}")
    comp_index: dict[str, tuple[int, int | None]] = {}
    for drug in drugs:
        for c in DRUGS[drug].compounds:
            ci = len(names)
            names.append(f"{c}.central")
            pi = None
            if f"pk.{c}.v2" in params:
                pi = len(names)
                names.append(f"{c}.peripheral")
            comp_index[c] = (ci, pi)
    has_enzyme = any(f"pk.{c}.kinact_cyp2d6" in params for c in comp_index)
    if has_enzyme:
        names.append("cyp2d6.active")

    def scaled(name: str, kind: str) -> np.ndarray:
        v = params.si(name)
        if _per_kg(params, name):
            return v * weight
        return v * (weight / ref_w) ** (expo if kind == "cl" else 1.0)

    compounds: dict[str, _Compound] = {}
    for c, (ci, pi) in comp_index.items():
        cl = scaled(f"pk.{c}.cl", "cl")
        if pi is not None:
            V1 = scaled(f"pk.{c}.v1", "v")
            V2 = scaled(f"pk.{c}.v2", "v")
            Qc = scaled(f"pk.{c}.q", "cl")
            k12, k21 = Qc / V1, Qc / V2
        else:
            V1 = cl * params.si(f"pk.{c}.half_life") / LN2
            k12 = k21 = None
        f19 = params.si(f"pk.{c}.fm_cyp2c19") if f"pk.{c}.fm_cyp2c19" in params else 0.0
        f2d6 = params.si(f"pk.{c}.fm_cyp2d6") if f"pk.{c}.fm_cyp2d6" in params else 0.0
        k_lin = cl * ((1.0 - f19 - f2d6) + f19 * a2c19) / V1
        cl2d6 = cl * f2d6
        if f"pk.{c}.cl_cyp2d6" in params:
            cl2d6 = cl2d6 + scaled(f"pk.{c}.cl_cyp2d6", "cl")
        k_2d6 = cl2d6 * a2d6 / V1
        ki = params.si(f"pk.{c}.ki_cyp2d6") if f"pk.{c}.ki_cyp2d6" in params else None
        inact = None
        if f"pk.{c}.kinact_cyp2d6" in params:
            inact = (params.si(f"pk.{c}.kinact_cyp2d6"), params.si(f"pk.{c}.ki_inact_cyp2d6"))
        compounds[c] = _Compound(c, ci, pi, V1, k_lin, np.broadcast_to(k_2d6, (P,)).copy(), k12, k21,
                                 ki_2d6=ki, inactivates_2d6=inact)
    for drug in drugs:
        parent, *mets = DRUGS[drug].compounds
        for m in mets:
            fm = params.si(f"pk.{parent}.fm_{m}")
            ratio = fm * params.si(f"pk.{m}.mw") / params.si(f"pk.{parent}.mw")
            compounds[parent].metabolites.append((comp_index[m][0], ratio))
    depot_info = {}
    for (drug, route), i in depots.items():
        base, _, form = route.partition("_")   # "oral_ir": an oral formulation with its own absorption
        frac = params.si(f"pk.{drug}.f_{base}") if f"pk.{drug}.f_{base}" in params else 1.0
        ka = params.si(f"pk.{drug}.ka_{form}" if form else f"pk.{drug}.ka")
        depot_info[(drug, route)] = (i, np.full(P, frac), np.full(P, ka))
    for drug, route in drug_routes:
        if route == "iv":
            depot_info[(drug, "iv")] = (compounds[DRUGS[drug].parent].central, np.ones(P), None)
    return PKSystem(names, compounds, depot_info, P, params.si("pk.cyp2d6.kdeg"), has_enzyme)
