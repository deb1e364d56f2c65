"""Trial endpoints and statistics (statsmodels): ANCOVA on change from baseline, response and remission rates with
confidence intervals, number needed to treat, and Kaplan-Meier time to response."""

from __future__ import annotations

import numpy as np

from ..mood.scales import response


def first_response_day(scores: np.ndarray, t_days: np.ndarray):
    """Per patient: first time the score is <= 50% of baseline (event) or the last time (censored).

    Example
    -------
    >>> d, ev = first_response_day(np.array([[20, 12, 9], [20, 18, 15]]), np.array([0.0, 7.0, 14.0]))
    >>> d.tolist(), ev.tolist()
    ([14.0, 14.0], [True, False])
    """
    base = scores[:, :1]
    hit = response(scores[:, 1:], base)
    event = hit.any(axis=1)
    idx = np.where(event, hit.argmax(axis=1) + 1, len(t_days) - 1)
    return t_days[idx], event


def km_median(days: np.ndarray, event: np.ndarray):
    """Kaplan-Meier median time to response (None when fewer than half respond)."""
    if not event.any():
        return None
    from statsmodels.duration.survfunc import SurvfuncRight
    sf = SurvfuncRight(days, event.astype(int))
    q = sf.quantile(0.5)
    return None if q is None or not np.isfinite(q) else float(q)


def rate_ci(x: np.ndarray):
    """Proportion with a Wilson 95% CI."""
    from statsmodels.stats.proportion import proportion_confint
    k, n = int(np.sum(x)), len(x)
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return {"rate": k / n, "ci95": [float(lo), float(hi)], "n": n}


def compare(arm: dict, ref: dict) -> dict:
    """Compare one arm with the reference arm. Each dict holds arrays: baseline, final, responder, remitter."""
    import statsmodels.api as sm
    from statsmodels.stats.proportion import proportions_ztest

    out = {}
    y = np.concatenate([arm["final"] - arm["baseline"], ref["final"] - ref["baseline"]])
    grp = np.concatenate([np.ones(len(arm["final"])), np.zeros(len(ref["final"]))])
    base = np.concatenate([arm["baseline"], ref["baseline"]])
    X = sm.add_constant(np.column_stack([grp, base - base.mean()]))
    fit = sm.OLS(y, X).fit()
    lo, hi = fit.conf_int()[1]
    out["change_difference_ancova"] = {"estimate": float(fit.params[1]), "ci95": [float(lo), float(hi)],
                                       "p_value": float(fit.pvalues[1]), "model": "change ~ arm + baseline (OLS)"}
    for key in ("responder", "remitter"):
        a, r = arm[key], ref[key]
        pa, pr = a.mean(), r.mean()
        rd = pa - pr
        se = np.sqrt(pa * (1 - pa) / len(a) + pr * (1 - pr) / len(r))
        if se > 0:
            _, p = proportions_ztest([int(a.sum()), int(r.sum())], [len(a), len(r)])
        else:
            p = 1.0
        out[f"{key[:-2]}_difference" if key == "responder" else "remission_difference"] = {
            "estimate": float(rd), "ci95": [float(rd - 1.96 * se), float(rd + 1.96 * se)], "p_value": float(p),
            "nnt": (float(1.0 / rd) if rd > 0 else None)}
    return out


def km_curve(days: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate of the event-free proportion: (event times in days, survival just after each), starting
    at (0, 1).

    Example
    -------
    >>> t, s = km_curve(np.array([2.0, 4.0, 4.0, 6.0]), np.array([True, True, False, False]))
    >>> t.tolist(), [round(float(x), 3) for x in s]
    ([0.0, 2.0, 4.0], [1.0, 0.75, 0.5])
    """
    if not event.any():
        return np.array([0.0]), np.array([1.0])
    from statsmodels.duration.survfunc import SurvfuncRight
    sf = SurvfuncRight(days, event.astype(int))
    return np.concatenate([[0.0], sf.surv_times]), np.concatenate([[1.0], sf.surv_prob])


def km_at(days: np.ndarray, event: np.ndarray, at_days: float) -> float:
    """Kaplan-Meier probability of the event by ``at_days`` (1 - event-free proportion)."""
    t, s = km_curve(days, event)
    return float(1.0 - s[np.searchsorted(t, at_days, side="right") - 1])


def hazard_ratio(days: np.ndarray, event: np.ndarray, group: np.ndarray) -> dict:
    """Cox proportional-hazards ratio of ``group`` (1) against the reference (0), with a 95% CI and the Wald p-value
    (statsmodels PHReg, Breslow ties), and the log-rank p-value (statsmodels survdiff).

    Example
    -------
    >>> rng = np.random.default_rng(1)   # event rates 1/10 and 1/5 per day: a true hazard ratio of 2
    >>> d = np.concatenate([rng.exponential(10, 400), rng.exponential(5, 400)])
    >>> hr = hazard_ratio(np.minimum(d, 30), d < 30, np.repeat([0, 1], 400))
    >>> hr["ci95"][0] < 2.0 < hr["ci95"][1]
    True
    """
    import statsmodels.api as sm
    from statsmodels.duration.survfunc import survdiff

    days, event, group = np.asarray(days, float), np.asarray(event, bool), np.asarray(group, float)
    out = {"model": "Cox proportional hazards (statsmodels PHReg, Breslow ties)", "estimate": None, "ci95": [None, None],
           "confidence_interval": "95%, Wald, on the log hazard ratio", "p_value": None, "logrank_p_value": None}
    if len(np.unique(group)) < 2:
        return out
    if not event[group == 1].any() or not event[group == 0].any():   # the partial likelihood has no finite maximum
        out["note"] = "not estimable: no events in " + ("either arm" if not event.any() else "one arm")
        return out
    fit = sm.PHReg(days, group[:, None], status=event.astype(int), ties="breslow").fit(disp=0)
    b, se = float(fit.params[0]), float(fit.bse[0])
    out.update(estimate=float(np.exp(b)), ci95=[float(np.exp(b - 1.96 * se)), float(np.exp(b + 1.96 * se))],
               p_value=float(fit.pvalues[0]))
    _, p = survdiff(days, event.astype(int), group)
    out["logrank_p_value"] = float(p)
    return out
