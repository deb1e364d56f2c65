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


_TIME_DOMAIN = np.uint64(0x7F4A7C159E3779B9)  # keeps time-keyed draws apart from the counter-keyed ones above


def uniforms_at(seed: int, ids, stream: int, times_s) -> np.ndarray:
    """Uniform numbers in (0, 1), shape (len(ids), len(times_s)): entry (i, j) depends only on
    (seed, ids[i], stream, times_s[j] rounded to whole seconds), never on the other ids or times asked for.

    Example
    -------
    >>> a = uniforms_at(3, np.arange(4), 100, [0.0, 86400.0, 604800.0])
    >>> b = uniforms_at(3, np.array([3, 1]), 100, [604800.0])
    >>> bool(np.array_equal(a[[3, 1], 2:], b)), a.shape
    (True, (4, 3))
    """
    ids = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    h = _mix(np.full(ids.shape, np.uint64(int(seed) & _M64)))
    h = _mix(h ^ ids)
    return _at_times(_mix(h ^ np.uint64(int(stream) & _M64)), times_s)


def _at_times(h: np.ndarray, times_s) -> np.ndarray:
    """Uniforms (len(h), len(times_s)) from per-row hashes ``h`` and times rounded to whole seconds."""
    t = np.rint(np.asarray(times_s, dtype=np.float64)).astype(np.int64).astype(np.uint64)
    z = _mix(h[:, None] ^ _mix(t ^ _TIME_DOMAIN)[None, :])
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def normals_at(seed: int, ids, stream: int, times_s) -> np.ndarray:
    """Standard normal numbers, shape (len(ids), len(times_s)): one independent N(0, 1) per (patient, time), a pure
    function of (seed, patient id, stream, time in whole seconds), so a patient's draw at a time is the same
    whatever output grid, visits or chunk it is computed in.

    Example
    -------
    >>> z = normals_at(1, np.arange(200), 5, np.arange(100) * 3600.0)
    >>> abs(float(z.mean())) < 0.03 and abs(float(z.std()) - 1) < 0.03
    True
    >>> bool(np.array_equal(normals_at(1, [7], 5, [3600.0, 7200.0])[0, 1], normals_at(1, [7], 5, [7200.0])[0, 0]))
    True
    """
    return ndtri(uniforms_at(seed, ids, stream, times_s))


def uniforms_keyed(keys, stream: int, times_s) -> np.ndarray:
    """Uniform numbers in (0, 1), shape (len(keys), len(times_s)), from per-patient 64-bit ``keys`` (as made by
    :func:`patient_keys`): entry (i, j) depends only on (keys[i], stream, times_s[j] in whole seconds).

    Example
    -------
    >>> k = patient_keys(5, np.arange(3))
    >>> a = uniforms_keyed(k, 2, [0.0, 604800.0]); b = uniforms_keyed(k[2:], 2, [604800.0])
    >>> bool(a[2, 1] == b[0, 0]), a.shape
    (True, (3, 2))
    """
    h = np.asarray(keys, dtype=np.float64).astype(np.uint64)
    return _at_times(_mix(h ^ np.uint64(int(stream) & _M64)), times_s)


def patient_keys(seed: int, ids) -> np.ndarray:
    """A 52-bit key per patient (a float64 that holds it exactly), a pure function of (seed, patient id): carried
    with the patient's traits so that draws made later (life events) stay the patient's own however cohorts are
    split or stacked.

    Example
    -------
    >>> bool(np.array_equal(patient_keys(1, [4, 5])[1:], patient_keys(1, [5])))
    True
    """
    ids = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    h = _mix(_mix(np.full(ids.shape, np.uint64(int(seed) & _M64)) ^ ids) ^ np.uint64(0x51F1E))
    return (h >> np.uint64(12)).astype(np.float64)
