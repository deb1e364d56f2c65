from __future__ import annotations

import numpy as np

from ..errors import ScenarioError


def power_curve(scenario, sample_sizes, *, replicates: int = 20, alpha: float = 0.05, scale: str = "hamd17",
                params=None, progress=None) -> dict:
    """Power of a trial design at each sample size (patients per arm).

    The design is rerun ``replicates`` times per size with seeds ``seed, seed+1, ...`` (new patients and rater
    noise each time); power is the fraction of replicates whose primary comparison (ANCOVA on change from
    baseline of the first arm against the reference arm, the placebo arm when there is one) has p < ``alpha``.

    Example
    -------
    >>> from neuroplastic import Scenario
    >>> sc = Scenario.build(duration="1 week", patients={"n": 4, "population": "mdd"}, visits=["0 d", "1 w"],
    ...                     arms={"drug": [{"drug": "sertraline", "dose": "50 mg", "every": "1 day"}],
    ...                           "placebo": [{"placebo": {"form": "pill"}}]})
    >>> r = power_curve(sc, [4], replicates=2)
    >>> sorted(r["power"]) == ["4"] and 0.0 <= r["power"]["4"] <= 1.0
    True
    """
    from .._api import simulate
    from ..scenario._schema import _check_schedules

    if scenario.arms is None or len(scenario.arms) < 2:
        raise ScenarioError("arms", None, "a trial design with at least two arms")
    out = {"alpha": alpha, "replicates": replicates, "scale": scale, "power": {}, "effect": {}, "comparison": None}
    total = len(sample_sizes) * replicates
    done = 0
    for n in sample_sizes:
        if n < 2:
            raise ScenarioError("--n", n, "at least 2 patients per arm")
        if n > 1_000_000:
            raise ScenarioError("--n", n, "at most 1,000,000 patients per arm")
        # the cohort's dose limits (sampled weights) apply to the resized design, as if it had been written so
        _check_schedules(scenario.model_copy(update={"n_patients": int(n),
                                                     "population": scenario.population or "mdd"}))
        ps, eff = [], []
        for r in range(replicates):
            sc = scenario.model_copy(update={"n_patients": int(n), "seed": scenario.seed + r,
                                             "population": scenario.population or "mdd"})
            s = simulate(sc, params=params, keep="visits" if sc.visits else "auto").summary
            comp = s["comparisons"]
            key = next(k for k in comp if k != "reference_arm")
            out["comparison"] = key
            c = comp[key][scale]["change_difference_ancova"]
            ps.append(c["p_value"])
            eff.append(c["estimate"])
            done += 1
            if progress is not None:
                progress(done, total)
        out["power"][str(n)] = float(np.mean(np.array(ps) < alpha))
        out["effect"][str(n)] = {"mean": float(np.mean(eff)), "sd": float(np.std(eff))}
    return out
