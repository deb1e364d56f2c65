"""Magnetic and induced electric fields of a TMS coil.

* :func:`biot_savart` -- B of straight current segments (exact for each segment), vectorised over points.
* :func:`vector_potential` / :func:`primary_efield` -- A of straight segments and the primary field
  ``E_p = -dA/dt``: the field in unbounded tissue, without the surface charges a bounded head adds.
* :func:`sphere_efield` -- the total induced field inside a spherically symmetric conductor centred at the
  origin, for a coil given as magnetic dipoles outside it (Heller & van Hulsteyn 1992 IEEE Trans Biomed Eng
  39:1089; Eaton 1992 Med Biol Eng Comput 30:433). It is independent of the conductivity profile and has
  no radial component at the surface.
"""

from __future__ import annotations

import numpy as np

MU0 = 4e-7 * np.pi
_K = MU0 / (4 * np.pi)


def _chunks(n: int, per: int):
    for i in range(0, n, per):
        yield slice(i, min(n, i + per))


def biot_savart(seg_start, seg_end, points, current: float = 1.0) -> np.ndarray:
    """Magnetic flux density (T) of straight segments carrying ``current`` (A) at ``points`` (M, 3).

    For a segment from ``a`` to ``b`` seen from the field point, B = mu0 I/(4 pi) (|a|+|b|) (a x b) /
    (|a||b| (|a||b| + a.b)) (a, b measured from the point).

    Example
    -------
    >>> import numpy as np
    >>> phi = np.linspace(0, 2 * np.pi, 2001)
    >>> ring = np.stack([np.cos(phi), np.sin(phi), 0 * phi], 1) * 0.05
    >>> bz = biot_savart(ring[:-1], ring[1:], np.zeros((1, 3)))[0, 2]
    >>> round(float(bz / (MU0 / (2 * 0.05))), 5)   # loop centre: mu0 I / 2R
    1.0
    """
    s0 = np.asarray(seg_start, float)
    s1 = np.asarray(seg_end, float)
    pts = np.atleast_2d(np.asarray(points, float))
    out = np.empty_like(pts)
    for sl in _chunks(len(pts), max(1, 2_000_000 // max(1, len(s0)))):
        a = s0[None, :, :] - pts[sl, None, :]
        b = s1[None, :, :] - pts[sl, None, :]
        na = np.linalg.norm(a, axis=2)
        nb = np.linalg.norm(b, axis=2)
        den = na * nb * (na * nb + np.einsum("ijk,ijk->ij", a, b))
        fac = np.where(den > 0, (na + nb) / np.where(den > 0, den, 1.0), 0.0)
        out[sl] = np.einsum("ij,ijk->ik", fac, np.cross(a, b))
    return _K * current * out


def vector_potential(seg_start, seg_end, points, current: float = 1.0) -> np.ndarray:
    """Magnetic vector potential (T m) of straight segments at ``points`` (M, 3).

    A = mu0 I/(4 pi) u ln((|b| + b.u)/(|a| + a.u)) for a segment along unit vector u from a to b (measured
    from the point).

    Example
    -------
    >>> import numpy as np
    >>> A = vector_potential([[0, -1, 0]], [[0, 1, 0]], [[0.1, 0, 0]])
    >>> bool(A[0, 1] > 0 and A[0, 0] == 0)
    True
    """
    s0 = np.asarray(seg_start, float)
    s1 = np.asarray(seg_end, float)
    pts = np.atleast_2d(np.asarray(points, float))
    d = s1 - s0
    length = np.linalg.norm(d, axis=1)
    u = d / length[:, None]
    out = np.empty_like(pts)
    for sl in _chunks(len(pts), max(1, 2_000_000 // max(1, len(s0)))):
        a = s0[None] - pts[sl, None]
        b = s1[None] - pts[sl, None]
        na = np.linalg.norm(a, axis=2)
        nb = np.linalg.norm(b, axis=2)
        au = np.einsum("ijk,jk->ij", a, u)
        bu = np.einsum("ijk,jk->ij", b, u)
        out[sl] = np.log((nb + bu) / (na + au)) @ u
    return _K * current * out


def primary_efield(seg_start, seg_end, points, didt: float) -> np.ndarray:
    """Primary induced field ``E_p = -dI/dt * A_per_ampere`` (V/m), with no boundary (surface-charge) term.

    Example
    -------
    >>> E = primary_efield([[0, -1, 0]], [[0, 1, 0]], [[0.1, 0, 0]], didt=1e8)
    >>> bool(E[0, 1] < 0)   # opposes the rising current
    True
    """
    return -float(didt) * vector_potential(seg_start, seg_end, points, 1.0)


def sphere_efield(points, dipole_pos, dipole_moment, didt: float) -> np.ndarray:
    """Total induced E (V/m) inside a spherical conductor centred at the origin (Heller & van Hulsteyn 1992).

    For a dipole m at r2 and field point r1: a = r2 - r1, F = |a| (|r2||a| + r2.a),
    grad F = (|a|^2/|r2| + 2|a| + 2|r2| + r2.a/|a|) r2 - (|a| + 2|r2| + r2.a/|a|) r1,
    E = -(mu0/4 pi) dI/dt F^-2 [F (r1 x m) - (m.grad F)(r1 x r2)], summed over dipoles.

    Parameters
    ----------
    points : array (M, 3)
        Field points inside the sphere (m).
    dipole_pos, dipole_moment : arrays (K, 3)
        Dipole positions outside the sphere (m) and moments per ampere (m^2).
    didt : float
        Coil dI/dt (A/s).

    Example
    -------
    >>> import numpy as np
    >>> E = sphere_efield([[0.0, 0.0, 0.05]], [[0.0, 0.0, 0.1]], [[0.0, 0.0, 1e-3]], 1e8)
    >>> float(np.abs(E).max())   # on the axis of a radial dipole the field vanishes
    0.0
    """
    r1_all = np.atleast_2d(np.asarray(points, float))
    r2 = np.asarray(dipole_pos, float)
    m = np.asarray(dipole_moment, float)
    n2 = np.linalg.norm(r2, axis=1)
    mr2 = np.einsum("jk,jk->j", m, r2)
    out = np.empty_like(r1_all)
    for sl in _chunks(len(r1_all), max(1, 1_000_000 // max(1, len(r2)))):
        r1 = r1_all[sl][:, None, :]
        a = r2[None] - r1
        na = np.linalg.norm(a, axis=2)
        r2a = np.einsum("jk,ijk->ij", r2, a)
        F = na * (n2[None] * na + r2a)
        c1 = na**2 / n2[None] + 2 * na + 2 * n2[None] + r2a / na
        c2 = na + 2 * n2[None] + r2a / na
        mdotgrad = c1 * mr2[None] - c2 * np.einsum("jk,ik->ij", m, r1_all[sl])
        r1b = np.broadcast_to(r1, a.shape)
        r1xm = np.cross(r1b, m[None])
        r1xr2 = np.cross(r1b, r2[None])
        term = (F[..., None] * r1xm - mdotgrad[..., None] * r1xr2) / (F**2)[..., None]
        out[sl] = term.sum(axis=1)
    return -_K * float(didt) * out
