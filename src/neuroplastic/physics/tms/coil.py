"""TMS coil geometries, as wire paths (straight segments) and as equivalent magnetic-dipole sets.

Coordinates are in metres in the coil's own frame: the windings lie in the plane ``z = 0``, centred on the
origin, and a positive current in a wing whose dipoles point along ``+z`` runs counter-clockwise seen from
``+z``. :meth:`Coil.placed` moves a coil to a height above a head centred at the origin.

Turns are modelled as concentric circles from the inner to the outer radius (the spiral pitch is ignored).
The dipole set fills each turn's disc with small area elements (moment = area x normal per ampere), which
is equivalent to the wire loop outside the winding; the element size (``cell``) sets the near-field error
(about (cell / distance)^2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...errors import ScenarioError
from ...params import ParameterSet, default_parameters


@dataclass(frozen=True, eq=False)
class Coil:
    """A coil as straight current segments and as magnetic dipoles (both per ampere of coil current).

    Attributes
    ----------
    name : str
        Label.
    seg_start, seg_end : ndarray, shape (S, 3)
        Segment end points (m); the current flows from start to end.
    dipole_pos : ndarray, shape (K, 3)
        Dipole positions (m).
    dipole_moment : ndarray, shape (K, 3)
        Dipole moments per ampere (A m^2 / A = m^2).
    """

    name: str
    seg_start: np.ndarray
    seg_end: np.ndarray
    dipole_pos: np.ndarray
    dipole_moment: np.ndarray

    def placed(self, height: float) -> "Coil":
        """The same coil translated to ``z = height`` (m), windings parallel to the xy-plane.

        Example
        -------
        >>> round(float(figure8_coil().placed(0.09).dipole_pos[:, 2].mean()), 3)
        0.09
        """
        shift = np.array([0.0, 0.0, float(height)])
        return replace(self, seg_start=self.seg_start + shift, seg_end=self.seg_end + shift,
                       dipole_pos=self.dipole_pos + shift)

    @property
    def n_segments(self) -> int:
        return int(self.seg_start.shape[0])

    @property
    def n_dipoles(self) -> int:
        return int(self.dipole_pos.shape[0])


def _turn_radii(r_in: float, r_out: float, turns: int) -> np.ndarray:
    if turns < 1 or not (0 < r_in <= r_out):
        raise ScenarioError("coil", f"{turns} turns, radii {r_in}-{r_out} m", "turns >= 1 and 0 < inner <= outer radius")
    return np.linspace(r_in, r_out, int(turns))


def _loop_segments(centre, radius, sense, n_seg):
    phi = np.linspace(0.0, 2 * np.pi, n_seg + 1)
    pts = np.stack([centre[0] + radius * np.cos(phi), centre[1] + sense * radius * np.sin(phi),
                    np.zeros_like(phi)], axis=1)
    return pts[:-1], pts[1:]


def _wing_dipoles(centre, radii, sense, cell):
    """Area elements of all turns of one wing, each with moment = area x (number of turns enclosing it)."""
    r_in = radii[0]
    n_inner = max(2, int(np.ceil(r_in / cell)))
    edges = np.concatenate([np.linspace(0.0, r_in, n_inner + 1), radii[1:]])
    counts = np.concatenate([np.full(n_inner, len(radii)), len(radii) - np.arange(1, len(radii))])
    pos, mom = [], []
    for r1, r2, n in zip(edges[:-1], edges[1:], counts):
        rc = 0.5 * (r1 + r2)
        n_phi = max(8, int(np.ceil(2 * np.pi * rc / cell)))
        phi = (np.arange(n_phi) + 0.5) * 2 * np.pi / n_phi
        area = 0.5 * (r2**2 - r1**2) * 2 * np.pi / n_phi
        pos.append(np.stack([centre[0] + rc * np.cos(phi), centre[1] + rc * np.sin(phi), np.zeros(n_phi)], axis=1))
        m = np.zeros((n_phi, 3))
        m[:, 2] = sense * n * area
        mom.append(m)
    return np.concatenate(pos), np.concatenate(mom)


def _build(name, wings, radii, n_seg, cell):
    s0, s1, dp, dm = [], [], [], []
    for centre, sense in wings:
        for r in radii:
            a, b = _loop_segments(centre, r, sense, n_seg)
            s0.append(a)
            s1.append(b)
        p, m = _wing_dipoles(centre, radii, sense, cell)
        dp.append(p)
        dm.append(m)
    return Coil(name=name, seg_start=np.concatenate(s0), seg_end=np.concatenate(s1),
                dipole_pos=np.concatenate(dp), dipole_moment=np.concatenate(dm))


def figure8_coil(params: ParameterSet | None = None, *, n_seg: int = 72, cell: float = 2e-3) -> Coil:
    """The 70 mm figure-of-eight coil: two adjacent wings with opposite current sense.

    The wing centres sit one outer diameter (plus 1 mm) apart on the x-axis; under the coil centre both
    wings carry current along ``+y``, so the induced field at the target is along ``-y`` while dI/dt > 0.

    Parameters
    ----------
    params : ParameterSet, optional
        Supplies ``tms.coil.figure8_*`` (default: the shipped registry).
    n_seg : int
        Straight segments per turn.
    cell : float
        Size of the dipole area elements (m).

    Example
    -------
    >>> c = figure8_coil()
    >>> c.n_segments, bool(abs(c.dipole_moment[:, 2].sum()) < 1e-12)
    (1296, True)
    """
    p = params or default_parameters()
    radii = _turn_radii(p.si("tms.coil.figure8_inner_radius"), p.si("tms.coil.figure8_outer_radius"),
                        int(round(p.value("tms.coil.figure8_turns"))))
    d = radii[-1] + 0.5e-3
    return _build("figure-8 70 mm", [((-d, 0.0), +1.0), ((d, 0.0), -1.0)], radii, n_seg, cell)


def round_coil(params: ParameterSet | None = None, *, n_seg: int = 72, cell: float = 2e-3) -> Coil:
    """The 90 mm round coil: concentric turns centred on the origin, dipoles along ``+z``.

    Example
    -------
    >>> c = round_coil()
    >>> c.n_segments
    1008
    """
    p = params or default_parameters()
    radii = _turn_radii(p.si("tms.coil.round_inner_radius"), p.si("tms.coil.round_outer_radius"),
                        int(round(p.value("tms.coil.round_turns"))))
    return _build("round 90 mm", [((0.0, 0.0), +1.0)], radii, n_seg, cell)


def get_coil(name: str = "figure8", params: ParameterSet | None = None) -> Coil:
    """A coil by name: ``"figure8"`` or ``"round"``.

    Example
    -------
    >>> get_coil("round").name
    'round 90 mm'
    """
    makers = {"figure8": figure8_coil, "figure-8": figure8_coil, "round": round_coil}
    try:
        return makers[str(name).lower()](params)
    except KeyError:
        raise ScenarioError("tms.coil", name, "one of 'figure8', 'round'") from None
