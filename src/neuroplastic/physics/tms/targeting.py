"""Where the coil sits, how deep the cortex lies, and what that means for one patient's session.

Two per-patient facts turn a nominal prescription (protocol, % rMT, a targeting method) into what reaches the
circuit:

* **Depth.** The patient's scalp-to-cortex distance over the motor hand area sets the resting motor threshold
  (rMT, the output at which E at motor cortex reaches the threshold field); the distance over dlPFC sets the field
  that output gives at the target. Both follow the coil and spherical-head physics of
  :mod:`~neuroplastic.physics.tms.activation` at the patient's depths, so 120% rMT is a different cortical field in
  different patients. ``adjust: stokes`` raises the output by ``tms.adjust.stokes_gradient`` (Stokes 2007: 2.8% of
  maximum output per mm) times the extra depth of the target over motor cortex.
* **Site.** Each patient has an own optimal dlPFC site (most anticorrelated with the subgenual cingulate), scattered
  about the group optimum. A targeting method puts the coil at a site scattered about the method's mean: the 5-cm
  rule and Beam F3 about their published average sites; ``mni`` about the given coordinate (navigation error);
  ``sgacc_anticorrelated`` about the patient's own optimum (error of the individual connectivity map). The
  stimulated site's coupling into the dlPFC -> sgACC control pathway is ::

      A_i(site) = a_i [b + (1 - b) exp(-|site - optimum_i|^2 / (2 lambda^2))]

  with a_i the patient's anticorrelation strength (log-normal, mean 1), b the site-independent share and lambda the
  map's spatial scale. The session's early change and its dlPFC drive scale with ``A_i / A_ref``, where A_ref is the
  population mean of A at the 5-cm rule, the site of the registered trials the session gains were set on (so a
  gain of 1 means "as in those trials"); the mean is closed-form for Gaussian scatter.

Each patient draws its anatomy and placement deviates from its own random stream (:func:`stimulation_traits`), the
same deviates whichever method is used, so methods compare on the same patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.interpolate import PchipInterpolator

from ...errors import ScenarioError
from ...params import ParameterSet, default_parameters
from .coil import get_coil
from .fields import sphere_efield
from .waveform import peak_didt

METHODS = ("5cm", "beam_f3", "mni", "sgacc_anticorrelated")
ADJUSTMENTS = ("none", "stokes")
STREAM_STIMULATION = 31  # the per-patient random stream of anatomy and placement (see neuroplastic._random)
_MM = 1e-3


@dataclass(frozen=True)
class Target:
    """A targeting method; ``mni`` (mm, MNI space) only for ``method == "mni"``.

    Example
    -------
    >>> Target("mni", (-38.0, 44.0, 26.0)).label
    'MNI (-38, 44, 26)'
    """

    method: str = "5cm"
    mni: tuple[float, float, float] | None = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ScenarioError("tms.target", self.method, "one of " + ", ".join(METHODS) + " (mni: [x, y, z])")
        if (self.method == "mni") != (self.mni is not None):
            raise ScenarioError("tms.target", self.method, "mni: [x, y, z] with three coordinates in mm")

    @property
    def label(self) -> str:
        if self.method == "mni":
            return "MNI (" + ", ".join(f"{c:.0f}" for c in self.mni) + ")"
        return {"5cm": "5-cm rule", "beam_f3": "Beam F3", "sgacc_anticorrelated": "sgACC-anticorrelated (individual map)"}[self.method]


@dataclass(frozen=True)
class StimulationTraits:
    """Per-patient anatomy and connectivity (leading patient axis, SI units).

    ``motor_depth``, ``dlpfc_depth`` (m): scalp-to-cortex distances; ``optimum_offset`` (P, 3) (m): the patient's own
    optimal site relative to the group optimum; ``placement`` (P, 3): standard-normal deviates of where a method puts
    the coil (scaled by the method's spread); ``anticorrelation`` (P,): dlPFC-sgACC anticorrelation strength (mean 1).
    """

    motor_depth: np.ndarray
    dlpfc_depth: np.ndarray
    optimum_offset: np.ndarray
    placement: np.ndarray
    anticorrelation: np.ndarray

    @property
    def n(self) -> int:
        return len(self.motor_depth)


def typical_traits(n: int = 1, params: ParameterSet | None = None) -> StimulationTraits:
    """The median patient ``n`` times: registry depths, optimum at the group site, coil on the method's mean site.

    Example
    -------
    >>> t = typical_traits(2)
    >>> round(float(t.motor_depth[0]) * 1e3, 1), t.placement.shape
    (18.0, (2, 3))
    """
    p = params or default_parameters()
    return StimulationTraits(np.full(n, p.si("tms.head.motor_depth")), np.full(n, p.si("tms.head.dlpfc_depth")),
                             np.zeros((n, 3)), np.zeros((n, 3)), np.ones(n))


def traits_from_normals(g: np.ndarray, params: ParameterSet | None = None) -> StimulationTraits:
    """Traits from standard-normal deviates ``g`` (P, 9): motor depth, dlPFC depth, optimum offset (3), placement
    (3), anticorrelation. Depths are normal (clipped to 5-45 mm), the strength log-normal with mean 1.

    Example
    -------
    >>> t = traits_from_normals(np.zeros((1, 9)))
    >>> round(float(t.dlpfc_depth[0]) * 1e3, 1), float(t.anticorrelation[0]) < 1
    (20.0, True)
    """
    p = params or default_parameters()
    g = np.asarray(g, float)
    md = np.clip(p.si("tms.head.motor_depth") + p.si("population.depth.motor_sd") * g[:, 0], 5 * _MM, 45 * _MM)
    dd = np.clip(p.si("tms.head.dlpfc_depth") + p.si("population.depth.dlpfc_sd") * g[:, 1], 5 * _MM, 45 * _MM)
    s = p.value("tms.targeting.anticorrelation_sd")
    return StimulationTraits(md, dd, p.si("tms.targeting.optimum_spread") * g[:, 2:5], g[:, 5:8].copy(),
                             np.exp(s * g[:, 8] - 0.5 * s * s))


def stimulation_traits(seed: int, ids, params: ParameterSet | None = None) -> StimulationTraits:
    """Traits of patients ``ids`` from their own stream (seed, id, 31): the same patient, the same anatomy,
    whatever else is sampled or however the cohort is split.

    Example
    -------
    >>> a, b = stimulation_traits(1, np.arange(4)), stimulation_traits(1, np.array([3]))
    >>> bool(a.dlpfc_depth[3] == b.dlpfc_depth[0])
    True
    """
    from ..._random import normals
    return traits_from_normals(normals(seed, ids, STREAM_STIMULATION, 9), params)


# -- sites ---------------------------------------------------------------------------------------------------
def _xyz(p: ParameterSet, stem: str) -> np.ndarray:
    return np.array([p.si(f"tms.targeting.{stem}_{a}") for a in "xyz"])


def method_site(target: Target, params: ParameterSet | None = None) -> tuple[np.ndarray, float, bool]:
    """(mean site (m, MNI), scatter SD per axis (m), whether the site follows the patient's own optimum).

    Example
    -------
    >>> site, sd, own = method_site(Target("beam_f3"))
    >>> round(sd * 1e3, 1), own
    (4.2, False)
    """
    p = params or default_parameters()
    if target.method == "5cm":
        return _xyz(p, "five_cm"), p.si("tms.targeting.five_cm_spread"), False
    if target.method == "beam_f3":
        return _xyz(p, "beam_f3"), p.si("tms.targeting.beam_f3_spread"), False
    if target.method == "mni":
        return np.asarray(target.mni, float) * _MM, p.si("tms.targeting.navigation_spread"), False
    sd = float(np.hypot(p.si("tms.targeting.map_spread"), p.si("tms.targeting.navigation_spread")))
    return _xyz(p, "optimum"), sd, True


def stimulated_sites(target: Target, traits: StimulationTraits, params: ParameterSet | None = None) -> np.ndarray:
    """Where the coil's centre acts, per patient (P, 3), m in MNI space."""
    p = params or default_parameters()
    mean, sd, own = method_site(target, p)
    base = mean + (traits.optimum_offset if own else 0.0)
    return base + sd * traits.placement


def distance_to_optimum(target: Target, traits: StimulationTraits, params: ParameterSet | None = None) -> np.ndarray:
    """Distance (m) from the stimulated site to the patient's own optimal site, per patient."""
    p = params or default_parameters()
    opt = _xyz(p, "optimum") + traits.optimum_offset
    return np.linalg.norm(stimulated_sites(target, traits, p) - opt, axis=1)


def _site_term(p: ParameterSet, d2):
    b, lam = p.value("tms.targeting.background"), p.si("tms.targeting.map_scale")
    return b + (1.0 - b) * np.exp(-np.asarray(d2, float) / (2 * lam * lam))


def _mean_site_term(p: ParameterSet, target: Target) -> float:
    """E[b + (1 - b) exp(-|delta|^2 / 2 lambda^2)] over the population, delta ~ N(mu, s^2 I) in 3-D (closed form)."""
    mean, sd, own = method_site(target, p)
    mu = np.zeros(3) if own else mean - _xyz(p, "optimum")
    s2 = sd * sd + (0.0 if own else p.si("tms.targeting.optimum_spread") ** 2)
    lam2 = p.si("tms.targeting.map_scale") ** 2
    g = (lam2 / (lam2 + s2)) ** 1.5 * np.exp(-float(mu @ mu) / (2 * (lam2 + s2)))
    b = p.value("tms.targeting.background")
    return float(b + (1.0 - b) * g)


def coupling(target: Target, traits: StimulationTraits, params: ParameterSet | None = None) -> np.ndarray:
    """Coupling of the stimulated site into the dlPFC -> sgACC control pathway, per patient, relative to the
    population mean at the 5-cm rule (1 = the coupling of the trials the session gains were registered on).

    Example
    -------
    >>> t = typical_traits(1)
    >>> bool(coupling(Target("sgacc_anticorrelated"), t)[0] > coupling(Target("5cm"), t)[0])
    True
    """
    p = params or default_parameters()
    d = distance_to_optimum(target, traits, p)
    return traits.anticorrelation * _site_term(p, d * d) / _mean_site_term(p, Target("5cm"))


def expected_coupling(target: Target, params: ParameterSet | None = None) -> float:
    """Population-mean :func:`coupling` of a method (what a patient can expect before their map is known).

    Example
    -------
    >>> round(expected_coupling(Target("5cm")), 6)
    1.0
    """
    p = params or default_parameters()
    return _mean_site_term(p, target) / _mean_site_term(p, Target("5cm"))


# -- depth -----------------------------------------------------------------------------------------------------
_DEPTH_GRID = np.linspace(4e-3, 46e-3, 22)  # m; log E is smooth in depth, a shape-preserving cubic on 2-mm knots


@lru_cache(maxsize=16)
def _field_table(coil: str, params: ParameterSet) -> PchipInterpolator:
    R = params.si("tms.head.radius")
    c = get_coil(coil, params).placed(R + params.si("tms.coil.scalp_gap"))
    didt = peak_didt(1.0, params)
    logs = []
    for depth in _DEPTH_GRID:
        r = R - depth
        ang = np.linspace(0.0, 0.08 / R, 81)
        pts = np.stack([r * np.sin(ang), np.zeros_like(ang), r * np.cos(ang)], axis=1)
        logs.append(np.log(np.max(np.linalg.norm(sphere_efield(pts, c.dipole_pos, c.dipole_moment, didt), axis=1))))
    return PchipInterpolator(_DEPTH_GRID, np.array(logs))


def field_per_output(depth, coil: str = "figure8", params: ParameterSet | None = None) -> np.ndarray:
    """Peak |E| (V/m) at 100% stimulator output on a cortical shell ``depth`` (m) below the scalp.

    Example
    -------
    >>> e = field_per_output(np.array([0.015, 0.02]))
    >>> bool(e[0] > e[1])
    True
    """
    p = params or default_parameters()
    d = np.asarray(depth, float)
    if np.any((d < _DEPTH_GRID[0]) | (d > _DEPTH_GRID[-1])):
        raise ScenarioError("tms.depth", f"{np.min(d) * 1e3:.1f}-{np.max(d) * 1e3:.1f} mm",
                            f"scalp-to-cortex distances between {_DEPTH_GRID[0] * 1e3:.0f} and {_DEPTH_GRID[-1] * 1e3:.0f} mm")
    # the table reads tms.* only: keyed on those, parameter sets that differ elsewhere share it
    sub = ParameterSet({k: p[k] for k in p if k.startswith("tms.")}, version="tms-field")
    return np.exp(_field_table(str(coil).lower(), sub)(d))


@dataclass(frozen=True)
class Dose:
    """What one prescription delivers to each patient: rMT, the (adjusted) output of 100% rMT and the session output
    (fractions of maximum), field at the target (V/m), coupling of the site and distance to the patient's optimum
    (m); ``capped`` marks patients whose output hit 100% of the stimulator."""

    rmt_output: np.ndarray
    base_output: np.ndarray
    output: np.ndarray
    efield: np.ndarray
    coupling: np.ndarray
    distance: np.ndarray
    capped: np.ndarray


def patient_dose(intensity_pct_rmt: float, target: Target, traits: StimulationTraits, *, adjust: str = "none",
                 coil: str = "figure8", params: ParameterSet | None = None) -> Dose:
    """Per-patient delivery of a prescription (``intensity`` in % rMT, a targeting method, a depth adjustment).

    Example
    -------
    >>> t = typical_traits(1)
    >>> plain = patient_dose(120, Target("5cm"), t)
    >>> adjusted = patient_dose(120, Target("5cm"), t, adjust="stokes")
    >>> bool(adjusted.efield[0] > plain.efield[0])   # the dlPFC lies deeper than motor cortex: Stokes raises output
    True
    """
    p = params or default_parameters()
    if adjust not in ADJUSTMENTS:
        raise ScenarioError("tms.adjust", adjust, "one of " + ", ".join(ADJUSTMENTS))
    e_rmt = p.si("tms.activation.e_rmt")
    rmt = e_rmt / field_per_output(traits.motor_depth, coil, p)
    base = rmt.copy()
    if adjust == "stokes":
        base = base + p.si("tms.adjust.stokes_gradient") * (traits.dlpfc_depth - traits.motor_depth)
    out = float(intensity_pct_rmt) / 100.0 * base
    capped = out > 1.0
    out = np.minimum(out, 1.0)
    e = out * field_per_output(traits.dlpfc_depth, coil, p)
    return Dose(rmt, base, out, e, coupling(target, traits, p), distance_to_optimum(target, traits, p), capped)
