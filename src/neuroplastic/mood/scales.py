"""Clinical rating scales from latent severity, with rater noise; response and remission as clinicians define them.

HAM-D17 expected score = 52 x severity. MADRS and QIDS-SR16 follow published linkings to HAM-D17
(Leucht 2018; Rush 2003). A rating reads latent mood over its recall window: all three scales rate the past week
(Hamilton 1960 as used in trials; Montgomery & Asberg 1979; Rush 2003), so the noise-free rating at time t is the
score of mood averaged over (t - W, t] (:func:`recalled_severity`); a scenario can set a shorter window (``recall:
24 h``, as ketamine trials rated). Observed scores add rater noise (normal, rounded to whole points, clipped to the range),
drawn per (patient, scale, time) so results do not depend on how patients are split or which times are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._random import normals_at
from .._units import DAY
from ..params import ParameterSet


@dataclass(frozen=True)
class Scale:
    name: str
    long_name: str
    maximum: float
    remission: float       # remitted when score <= this
    slope_key: str | None
    offset_key: str | None
    sd_key: str
    recall: float = 7 * DAY  # s; the period the rating asks about


SCALES = {
    "hamd17": Scale("hamd17", "Hamilton Depression Rating Scale, 17 items", 52, 7, None, None, "mood.scales.hamd17_rater_sd"),
    "madrs": Scale("madrs", "Montgomery-Asberg Depression Rating Scale", 60, 10, "mood.scales.madrs_slope", "mood.scales.madrs_offset", "mood.scales.madrs_rater_sd"),
    "qids_sr16": Scale("qids_sr16", "Quick Inventory of Depressive Symptomatology, self-report (16 items)", 27, 5, "mood.scales.qids_slope", "mood.scales.qids_offset", "mood.scales.qids_rater_sd"),
}


def expected_scores(severity: np.ndarray, params: ParameterSet) -> dict[str, np.ndarray]:
    """Noise-free expected score on every scale.

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> s = expected_scores(np.array([0.5]), default_parameters())
    >>> float(s["hamd17"][0])
    26.0
    """
    hamd = np.clip(params.value("mood.scales.hamd17_max") * severity, 0, 52)
    out = {"hamd17": hamd}
    for name, sc in SCALES.items():
        if sc.slope_key:
            out[name] = np.clip(params.value(sc.slope_key) * hamd + params.value(sc.offset_key), 0, sc.maximum)
    return out


def recalled_severity(q_now: np.ndarray, q_then: np.ndarray, t_now: np.ndarray, window: float,
                      mood0: np.ndarray) -> np.ndarray:
    """Mood averaged over the recall window (t - W, t]: ``(Q(t) - Q(t - W)) / W``, from the running integral Q of
    mood (severity x days since the start). Before the start mood was at its untreated level ``mood0``, so where
    t - W < 0 the integral there is ``(t - W) x mood0`` (``q_then`` is then not read). Shapes (time, patient);
    ``t_now`` (time,) in s, ``window`` in s.

    Example
    -------
    >>> q = np.array([[0.0], [3.5]])            # mood 0.5 for one week
    >>> recalled_severity(q, np.array([[0.0], [0.0]]), np.array([0.0, 7 * 86400.0]), 7 * 86400.0, np.array([0.5]))
    array([[0.5],
           [0.5]])
    """
    t_now = np.asarray(t_now, float)
    w_days = window / DAY
    before = (t_now - window) < -1e-6
    then = np.where(before[:, None], ((t_now - window) / DAY)[:, None] * np.asarray(mood0, float)[None, :], q_then)
    return (q_now - then) / w_days


def entry_inflation(params: ParameterSet, scale: str, time_days) -> np.ndarray:
    """Mean rating inflation (scale points) at ``time_days`` after entry: I exp(-t / tau_I), carried from HAM-D17 to
    the other scales by their linking slope.

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> p = default_parameters()
    >>> bool(entry_inflation(p, "hamd17", [0.0])[0] == p.value("mood.scales.entry_inflation"))
    True
    """
    sc = SCALES[scale]
    slope = params.value(sc.slope_key) if sc.slope_key else 1.0
    tau = params.value("mood.scales.entry_inflation_time")
    return slope * params.value("mood.scales.entry_inflation") * np.exp(-np.asarray(time_days, float) / tau)


def observed_scores(expected: dict[str, np.ndarray], params: ParameterSet, seed: int,
                    patient_ids: np.ndarray, time_days: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Scores as a rater would record them; arrays (time, patient).

    observed = round(expected + inflation(t) + noise), clipped to the scale range, where noise ~ N(0, sd) is a pure
    function of (seed, patient id, scale, time in whole seconds) -- :func:`~neuroplastic._random.normals_at` -- so a
    patient's rating at a time does not depend on the output grid, the visits kept or the chunking, and
    inflation(t) = I exp(-t / tau_I) is the rating inflation at entry that makes scores regress toward the mean
    (HAM-D17 points, carried to the other scales by their linking slope). Without ``time_days`` the rows are taken
    as days 0, 1, 2, ... for the noise and no inflation is added.

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> e = {"hamd17": np.full((3, 2), 20.0)}
    >>> o = observed_scores(e, default_parameters(), 1, np.array([0, 1]))
    >>> o["hamd17"].shape, bool(np.all(o["hamd17"] == np.round(o["hamd17"])))
    ((3, 2), True)
    """
    out = {}
    for name, e in expected.items():
        sc = SCALES[name]
        k = list(SCALES).index(name)
        sd = params.value(sc.sd_key)
        infl = 0.0 if time_days is None else entry_inflation(params, name, time_days)[:, None]
        days = np.arange(e.shape[0], dtype=float) if time_days is None else np.asarray(time_days, float)
        noise = sd * normals_at(seed, patient_ids, 100 + k, days * DAY).T
        out[name] = np.clip(np.round(e + infl + noise), 0, sc.maximum)
    return out


def response(scores: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Response: a fall of at least 50% from baseline.

    Example
    -------
    >>> response(np.array([12.0, 13.0]), np.array([24.0, 24.0])).tolist()
    [True, False]
    """
    return scores <= 0.5 * baseline


def remission(scores: np.ndarray, scale: str) -> np.ndarray:
    """Remission: HAM-D17 <= 7, MADRS <= 10, QIDS-SR16 <= 5."""
    return scores <= SCALES[scale].remission
