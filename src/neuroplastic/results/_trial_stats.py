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
