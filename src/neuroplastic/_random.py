"""Counter-based random numbers: a patient's draws are a pure function of (seed, patient index, stream, k).

Every number is the splitmix64 finaliser (Steele, Lea & Flood 2014) applied to a chain of its keys, so a patient
gets the same numbers whichever chunk, worker or machine computes it, and a cohort of 100,000 is drawn in one
vectorised pass instead of 100,000 generator constructions.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

_M64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _C1
        z = (z ^ (z >> np.uint64(27))) * _C2
        return z ^ (z >> np.uint64(31))


def uniforms(seed: int, ids, stream: int, n: int) -> np.ndarray:
    """Uniform numbers in (0, 1), shape (len(ids), n): row i depends only on (seed, ids[i], stream).

    Example
    -------
    >>> a = uniforms(3, np.arange(4), 17, 2)
    >>> b = uniforms(3, np.array([2, 3]), 17, 2)
    >>> bool(np.array_equal(a[2:], b)), a.shape, bool(((a > 0) & (a < 1)).all())
    (True, (4, 2), True)
    """
    ids = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    h = _mix(np.full(ids.shape, np.uint64(int(seed) & _M64)))
    h = _mix(h ^ ids)
    h = _mix(h ^ np.uint64(int(stream) & _M64))
    k = np.arange(n, dtype=np.uint64)
    z = _mix(h[:, None] ^ _mix(k)[None, :])
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def normals(seed: int, ids, stream: int, n: int) -> np.ndarray:
    """Standard normal numbers, shape (len(ids), n), by the inverse normal CDF of :func:`uniforms`.

    Example
    -------
    >>> z = normals(1, np.arange(20000), 5, 1)
    >>> abs(float(z.mean())) < 0.03 and abs(float(z.std()) - 1) < 0.03
    True
    """
    return ndtri(uniforms(seed, ids, stream, n))
