"""Run target protocols on the built-in population and compute each target's statistic.

Rates use the rater-noise model of ``mood/scales.py`` analytically (no sampling): with mean rating E_t (the expected
score plus the entry inflation of ratings) and rater SD s, an observed rating is round(E_t + e), e ~ N(0, s^2), drawn
independently at every rating, so
  remission            P(obs_t <= c)                = Phi((c + 0.5 - E_t) / s)
  response             P(obs_t <= floor(B / 2))     = sum_b P(B = b) Phi((floor(b / 2) + 0.5 - E_t) / s)
  early improvement    P(obs_t <= floor((1-f) B))   likewise,
where B is the observed (whole-point) baseline, P(B = b) = Phi((b + 0.5 - E_0)/s) - Phi((b - 0.5 - E_0)/s); averaged
over patients. Statistics that combine several ratings of one patient (first passage at the protocol's visits; early
improvement as a predictor of response) follow the same model exactly: given the patient's expected course and the
observed baseline, the events at different visits are independent, and the baseline they share is summed over.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from ..engine._simulate import Patients, run_arm
from ..mood.scales import SCALES, entry_inflation, expected_scores, recalled_severity
from ..params import ParameterSet
from ..population import typical_patient
from ..scenario import Scenario
from .population import population
from .targets import MODEL_FLOOR, Target, days, load_targets

_SCENARIO_KEYS = ("duration", "output_every", "recall")


def _out_times(protocol: dict, scenario: Scenario):
    """Output times (s) of a protocol with ``also_output`` (extra sampling instants, e.g. the end of an infusion where
    plasma peaks) on top of its regular ``output_every`` grid; None for a plain regular grid. Sparse output times
    let the integrator take its own steps between them instead of one step per output."""
    extra = protocol.get("also_output")
    if not extra:
        return None
    dur, every = scenario.duration, scenario.output_every
    grid = np.arange(0.0, dur + 1e-6, every)
    return np.unique(np.round(np.concatenate([grid, [days(x) * 86400.0 for x in extra]]), 6))


class Simulator:
    """Runs and caches protocol arms for one parameter set and hypothesis."""

    def __init__(self, params: ParameterSet, hypothesis: str = "plasticity", pop: Patients | None = None):
        self.params = params
        self.hypothesis = hypothesis
        self._pop = pop
        self.protocols, _ = load_targets()
        self._cache: dict[tuple[str, str], dict] = {}
        self._sessions: dict[tuple, dict] = {}   # single-session summaries (session_statistic)
        self.runs = 0

    def session(self, protocol: str, pattern: str, pulses: int) -> dict:
        """:func:`~neuroplastic.physics.tms.session_summary` of ``pattern`` with ``pulses`` at the ``session``
        protocol's intensity and target, with this simulator's parameter set (cached)."""
        from ..physics.tms import session_summary

        key = (protocol, pattern, int(pulses))
        if key not in self._sessions:
            ses = self.protocols[protocol]["session"]
            self._sessions[key] = session_summary(pattern, int(pulses), float(ses["intensity_pct_rmt"]), self.params,
                                                  target=ses.get("target", "dlpfc"))
        return self._sessions[key]

    def scenario(self, protocol: str, arm: str) -> Scenario:
        pr = self.protocols[protocol]
        doc = {k: pr[k] for k in _SCENARIO_KEYS if k in pr}
        doc.update(name=f"{protocol}:{arm}", hypothesis=self.hypothesis, treatments=pr["arms"][arm],
                   allow_off_label=True)
        return Scenario.build(**doc)

    def patients(self, protocol: str, params: ParameterSet | None = None) -> Patients:
        """The protocol's patients (their traits depend on the ``population.*`` values of ``params``)."""
        pr = self.protocols[protocol]
        if pr.get("single_patient"):
            return typical_patient()
        if self._pop is not None:
            return self._pop
        return population(kind=pr.get("population", "mdd"), params=params or self.params)

    def arm(self, protocol: str, arm: str) -> dict:
        key = (protocol, arm)
        if key not in self._cache:
            sc = self.scenario(protocol, arm)
            r = run_arm(sc, sc.treatments, self.patients(protocol), self.params,
                        out_times=_out_times(self.protocols[protocol], sc))
            self.runs += 1
            self._cache[key] = _arm_record(r)
        return self._cache[key]


def _arm_record(r) -> dict:
    return {"t": r.time / 86400.0, "obs": r.observed, "inp": r.inputs, "plasma": r.plasma}


class BatchSimulator:
    """Runs each protocol arm once for K candidate parameter sets (``base`` with each of ``values`` applied) as one
    vectorised run of K x N patients; ``views[k]`` is a :class:`Simulator` for candidate k that reads its slice.
    See :mod:`neuroplastic.engine._batch` for which parameters may differ between the candidates."""

    def __init__(self, base: ParameterSet, values, hypothesis: str = "plasticity", pop: Patients | None = None,
                 budget: float = 2e9, keep=None, needs=None):
        from ..engine._batch import ParameterBatch

        self.keep = None if keep is None else tuple(keep)  # observables stored (None: all)
        # per candidate, the protocols its rows read (None: every candidate reads every protocol); an arm runs only
        # for the candidates that read its protocol (a cross-validation fold does not run its held-out family)
        self.needs = None if needs is None else [frozenset(n) for n in needs]
        self.budget = budget  # bytes of stored outputs per group of candidates run together (run_arm_batch)
        self.batch = ParameterBatch(base, values)
        self.hypothesis = hypothesis
        self._sim = Simulator(self.batch.params, hypothesis, pop)
        self.protocols = self._sim.protocols
        self._cache: dict[tuple[str, str], dict[int, dict]] = {}   # (protocol, arm) -> candidate -> record
        self._sessions: dict[tuple, list[dict]] = {}   # single-session summaries, one per candidate
        self.runs = 0
        self.views = [_CandidateView(self, k) for k in range(self.batch.K)]

    def session(self, protocol: str, pattern: str, pulses: int, k: int) -> dict:
        """Candidate k's :meth:`Simulator.session`; the first request computes every candidate's in one run of the
        calcium rule (:func:`~neuroplastic.physics.tms.session_summaries`)."""
        from ..physics.tms import session_summaries

        key = (protocol, pattern, int(pulses))
        if key not in self._sessions:
            ses = self.protocols[protocol]["session"]
            self._sessions[key] = session_summaries(pattern, int(pulses), float(ses["intensity_pct_rmt"]),
                                                    self.batch.sets, target=ses.get("target", "dlpfc"))
        return self._sessions[key][k]

    def arm(self, protocol: str, arm: str, k: int) -> dict:
        """Candidate k's run of one protocol arm; the first request runs it, in one batch, for every candidate that
        reads the protocol (a candidate's run does not depend on which others share its batch)."""
        from ..engine._batch import ParameterBatch, run_arm_batch

        got = self._cache.setdefault((protocol, arm), {})
        if k not in got:
            who = [j for j in range(self.batch.K)
                   if j not in got and (self.needs is None or protocol in self.needs[j])]
            if k not in who:
                who = [k]
            sets = [self.batch.sets[j] for j in who]
            sub = self.batch if len(who) == self.batch.K else ParameterBatch._of(self.batch, sets)
            sc = self._sim.scenario(protocol, arm)
            pats = [self._sim.patients(protocol, s) for s in sets]
            runs = run_arm_batch(sc, sc.treatments, pats, sub, budget=self.budget, keep=self.keep,
                                 out_times=_out_times(self.protocols[protocol], sc))
            self.runs += 1
            got.update({j: _arm_record(r) for j, r in zip(who, runs)})
        return got[k]


class _CandidateView(Simulator):
    """Candidate k of a :class:`BatchSimulator`, seen as a Simulator for its own parameter set."""

    def __init__(self, batch: BatchSimulator, k: int):
        self.params = batch.batch.sets[k]
        self.hypothesis = batch.hypothesis
        self._pop = batch._sim._pop
        self.protocols = batch.protocols
        self._cache = {}
        self._sessions = {}
        self.runs = 0
        self._batch, self._k = batch, k

    def arm(self, protocol: str, arm: str) -> dict:
        return self._batch.arm(protocol, arm, self._k)

    def session(self, protocol: str, pattern: str, pulses: int) -> dict:
        return self._batch.session(protocol, pattern, pulses, self._k)


# ------------------------------------------------------------------ helpers

def _at(series: np.ndarray, t: np.ndarray, when: float) -> np.ndarray:
    """Row of ``series`` (time, patient) at ``when`` days (linear interpolation between outputs)."""
    if series.ndim == 1:
        return np.interp(when, t, series)
    return np.array([np.interp(when, t, series[:, j]) for j in range(series.shape[1])])


def _scale(params: ParameterSet, name: str):
    sc = SCALES[name]
    return sc, params.value(sc.sd_key)


def _recall_view(run, recall_days: float, params: ParameterSet) -> dict:
    """``run`` with its recalled ratings taken over ``recall_days`` instead of the protocol's window: mood averaged
    over (t - W, t] from its running integral (linear between the output times; exact where t - W is one), the
    untreated mood before the start (:func:`~neuroplastic.mood.scales.recalled_severity`)."""
    t = np.asarray(run["t"], float)
    q = run["obs"]["mood_integral"]
    lag = t - recall_days
    j = np.clip(np.searchsorted(t, lag, side="right") - 1, 0, len(t) - 1)
    k = np.minimum(j + 1, len(t) - 1)
    w = np.where(k > j, (lag - t[j]) / np.maximum(t[k] - t[j], 1e-12), 0.0)
    q_then = q[j] * (1 - w)[:, None] + q[k] * w[:, None]
    sev = recalled_severity(q, q_then, t * 86400.0, recall_days * 86400.0, run["obs"]["severity"][0])
    obs = dict(run["obs"])
    obs.update({f"{s}_recalled": v for s, v in expected_scores(sev, params).items()})
    return {**run, "obs": obs}


def _mean_rating(run, params, scale):
    """Mean observed rating (time, patient): the noise-free rating over the recall window plus the entry inflation."""
    return run["obs"][f"{scale}_recalled"] + entry_inflation(params, scale, run["t"])[:, None]


def _baseline_levels(e0: np.ndarray, sd: float, maximum: float):
    """Whole-point observed baselines B and their probabilities P(B = b) under rounded rater noise: (level, patient)."""
    k = np.arange(-int(math.ceil(7 * sd)) - 1, int(math.ceil(7 * sd)) + 2)
    b = np.clip(np.round(e0)[None, :] + k[:, None], 0, maximum)
    upper = np.where(b >= maximum, np.inf, b + 0.5)
    lower = np.where(b <= 0, -np.inf, b - 0.5)
    w = norm.cdf((upper - e0[None, :]) / sd) - norm.cdf((lower - e0[None, :]) / sd)
    # clipped duplicates at the range ends carry zero width after the first one
    w = np.where(np.vstack([np.zeros((1, b.shape[1]), bool), b[1:] == b[:-1]]), 0.0, w)
    return b, w


def _p_given_baseline(run, params, scale, criterion, when, fall=0.5):
    """P(meeting ``criterion`` at ``when``) per patient given the observed baseline: arrays (p, w), both
    (level, patient), where w is the probability of each whole-point baseline level. Remission does not depend on the
    baseline (one level of weight 1); response is a fall of at least 50% (early improvement: ``fall``) from the
    observed baseline B, i.e. an observed score <= floor((1 - fall) B)."""
    sc, sd = _scale(params, scale)
    e = _mean_rating(run, params, scale)
    et = _at(e, run["t"], when)[None, :]
    if criterion == "remission":
        return norm.cdf((sc.remission + 0.5 - et) / sd), np.ones_like(et)
    if criterion != "response":
        raise ValueError(criterion)
    b, w = _baseline_levels(e[0], sd, sc.maximum)
    return norm.cdf((np.floor((1.0 - fall) * b + 1e-9) + 0.5 - et) / sd), w


def _p_criterion(run, params, scale, criterion, when, fall=0.5):
    """P(an observed rating meets ``criterion`` at ``when``) per patient (response: a fall of at least ``fall``)."""
    p, w = _p_given_baseline(run, params, scale, criterion, when, fall)
    return (p * w).sum(axis=0)


def _first_passage(run, params, scale, criterion, visits):
    """P(first meeting ``criterion`` at each visit) per patient: array (visit, patient)."""
    pw = [_p_given_baseline(run, params, scale, criterion, v) for v in visits]
    p = np.stack([x[0] for x in pw])                                              # (visit, level, patient)
    w = pw[0][1]
    none_before = np.cumprod(np.vstack([np.ones((1,) + p.shape[1:]), 1.0 - p[:-1]]), axis=0)
    return (p * none_before * w[None]).sum(axis=1)


def _recovered_by(run, params, scale):
    """Whether each patient's episode has ended by each output time (time, patient): its expected rating (noise-free,
    over the recall window) has reached the scale's remission level at some output time so far. A cumulative share,
    as a survival analysis of episode durations reports it (recovery, not remission at one visit: a patient who
    recovers and relapses later still counts as recovered)."""
    sc, _ = _scale(params, scale)
    e = _mean_rating(run, params, scale)
    return np.maximum.accumulate(e <= sc.remission + 0.5, axis=0)


def _change(run, scale, when, params):
    e = _mean_rating(run, params, scale)
    return float(np.mean(_at(e, run["t"], when) - e[0]))


def _change_series(run, scale, params):
    e = _mean_rating(run, params, scale)
    return (e - e[0][None, :]).mean(axis=1)


def _with_attrition(attrition, scale, when, rate_at):
    """A rate at the exit ``when`` as the source computed it under attrition: a fraction f of patients leaves, at
    times spread over the periods of ``timing`` ([start, end, share] rows; uniform within a period, a point when
    start = end; default uniform over (0, when]). For ``failure`` scales a missing exit rating counts as not
    meeting the criterion; for ``locf`` scales the last rating before leaving is the exit rating (a patient who
    leaves at baseline keeps the baseline score)."""
    if not attrition:
        return rate_at(when)
    f = float(attrition["fraction"])
    rule = attrition.get("missing_exit", {}).get(scale, "failure")
    if rule == "failure":
        return (1.0 - f) * rate_at(when)
    if rule != "locf":
        raise ValueError(f"attrition rule {rule!r}: expected failure or locf")
    timing = attrition.get("timing") or [["0 days", f"{when} days", 1.0]]
    left = 0.0
    for a, b, share in timing:
        a, b = days(a), min(days(b), when)
        ts = [a] if b <= a else list(a + (b - a) * (np.arange(12) + 0.5) / 12)
        left += float(share) * float(np.mean([rate_at(t) for t in ts]))
    return (1.0 - f) * rate_at(when) + f * left


def _own_reference_rate(run, params, st: dict, crit: str) -> float:
    """The arm's own rate at ``st["ref_time"]``, the denominator of a within-arm risk ratio; NaN (the row fails)
    where it is below what a rate over the model population resolves (MODEL_FLOOR, 0.05), e.g. no one responds at
    24 h, so that a ratio of two near-zero rates cannot swamp the objective."""
    b = float(np.mean(_p_criterion(run, params, st["scale"], crit, days(st["ref_time"]))))
    return b if b >= MODEL_FLOOR["response_rate"] else float("nan")


def compute(target: Target, sim: Simulator) -> float:
    """The simulated value of ``target``'s statistic."""
    st = target.statistic
    kind = st["kind"]
    p = sim.params
    if kind in SESSION_KINDS:
        return session_statistic(sim, target.protocol, st)
    run = sim.arm(target.protocol, st["arm"])
    ref = sim.arm(target.protocol, st["ref"]) if "ref" in st else None
    protocol_run, protocol_ref = run, ref
    if "recall" in st:   # a rating over its own window (e.g. the time since the first dose)
        run = _recall_view(run, days(st["recall"]), p)
        ref = None if ref is None else _recall_view(ref, days(st["recall"]), p)
    when = days(st["time"])
    crit = st.get("criterion", "response")
    if kind in ("remission_rate", "response_rate"):
        crit = kind.split("_")[0]
        return _with_attrition(sim.protocols[target.protocol].get("attrition"), st["scale"], when,
                               lambda t: float(np.mean(_p_criterion(run, p, st["scale"], crit, t))))
    if kind == "rate_difference":
        return float(np.mean(_p_criterion(run, p, st["scale"], crit, when))
                     - np.mean(_p_criterion(ref, p, st["scale"], crit, when)))
    if kind == "risk_ratio":
        a = np.mean(_p_criterion(run, p, st["scale"], crit, when))
        if ref is None:   # the arm at `time` against itself at `ref_time`
            return float(a / _own_reference_rate(run, p, st, crit))
        b = np.mean(_p_criterion(ref, p, st["scale"], crit, when))
        return float(a / b) if b > 1e-9 else float("inf")
    if kind == "mean_change":
        return _change(run, st["scale"], when, p)
    if kind in ("baseline_mean", "baseline_sd"):
        e0 = _mean_rating(run, p, st["scale"])[0]          # mean observed entry rating per patient
        if kind == "baseline_mean":
            return float(e0.mean())
        return float(np.sqrt(e0.var() + p.value(SCALES[st["scale"]].sd_key) ** 2))   # between patients + rater
    if kind == "mean_difference":
        return _change(run, st["scale"], when, p) - _change(ref, st["scale"], when, p)
    if kind == "mean_percent_change":
        e = _mean_rating(run, p, st["scale"])
        return float(100.0 * np.mean((_at(e, run["t"], when) - e[0]) / np.maximum(e[0], 1e-9)))
    if kind == "effect_share":
        total = _change(run, st["scale"], days(st["total"]), p) - _change(ref, st["scale"], days(st["total"]), p)
        part = _change(run, st["scale"], when, p) - _change(ref, st["scale"], when, p)
        return float(part / total) if abs(total) > 1e-9 else float("nan")
    if kind == "early_improvement_rate":
        return float(np.mean(_p_criterion(run, p, st["scale"], "response", when, st["fall"])))
    if kind in ("early_improvement_sensitivity", "early_improvement_specificity"):
        ei, w = _p_given_baseline(run, p, st["scale"], "response", when, st["fall"])     # (level, patient)
        r, _ = _p_given_baseline(run, p, st["scale"], "response", days(st["endpoint"]))
        if kind.endswith("sensitivity"):
            return float((w * ei * r).sum() / max((w * r).sum(), 1e-12))
        return float((w * (1 - ei) * (1 - r)).sum() / max((w * (1 - r)).sum(), 1e-12))
    if kind == "recovered_by":
        return float(_at(_recovered_by(run, p, st["scale"]).mean(axis=1), run["t"], when))
    if kind in ("late_share", "mean_time_to"):
        visits = [v * 7.0 for v in sim.protocols[target.protocol]["visits_weeks"] if 0 < v * 7.0 <= when + 1e-9]
        first = _first_passage(run, p, st["scale"], crit, visits)                    # (visit, patient)
        total = first.sum()
        if total < 1e-12:
            return float("nan")
        if kind == "late_share":
            late = np.array(visits) >= days(st["after"]) - 1e-9
            return float(first[late].sum() / total)
        return float((first * (np.array(visits)[:, None] / 7.0)).sum() / total)
    if kind == "plasma_max":
        c = run["plasma"][st["compound"]]
        m = run["t"] <= when + 1e-9
        return float(np.max(c[m].mean(axis=1)) * 1e6)   # kg/m^3 -> ng/mL
    if kind == "peak_time":
        d = _change_series(run, st["scale"], p) - _change_series(ref, st["scale"], p)
        m = run["t"] <= when + 1e-9
        return _vertex_time(run["t"][m], d[m])
    if kind == "effect_ratio":
        prun, pref = run, ref
        if "peak_recall" in st:   # the rating at `peak` over its own window; `recall` stays the window at `time`
            prun, pref = (_recall_view(x, days(st["peak_recall"]), p) for x in (protocol_run, protocol_ref))
        d1 = _change(prun, st["scale"], days(st["peak"]), p) - _change(pref, st["scale"], days(st["peak"]), p)
        d2 = _change(run, st["scale"], when, p) - _change(ref, st["scale"], when, p)
        # a ratio to a peak difference below a thousandth of a scale point (no effect at the peak, e.g. ketamine
        # under the monoamine hypothesis, where the two arms differ only by round-off) is undefined, not huge
        return float(d2 / d1) if abs(d1) > 1e-3 else float("nan")
    if kind == "desensitised_fraction":
        v = run["obs"][st["variable"]].mean(axis=1)
        return float(1.0 - np.interp(when, run["t"], v) / v[0])
    if kind == "relative_change":
        v = run["obs"][st["variable"]].mean(axis=1)
        return float(np.interp(when, run["t"], v) / v[0] - 1.0)
    if kind == "recovery_time":
        v = run["obs"][st["variable"]].mean(axis=1)
        t = run["t"]
        k = int(np.argmin(v))
        ok = np.nonzero((v >= st["fraction"] * v[0]) & (np.arange(len(v)) > k))[0]
        return float(t[ok[0]]) if len(ok) else float("nan")
    if kind == "occupancy_mean":
        v = run["inp"][st["channel"]].mean(axis=1)
        t = run["t"]
        m = (t >= when - days(st["window"]) - 1e-9) & (t <= when + 1e-9)
        return float(v[m].mean())
    if kind == "occupancy_at":
        v = run["inp"][st["channel"]].mean(axis=1)
        return float(np.interp(when, run["t"], v))
    if kind in ("plasma_trough", "plasma_average"):
        return plasma_window(run, st, kind)
    if kind in ("relapse_rate", "sustained_response", "median_time_to_relapse"):
        return _after_response(run, p, st, kind, when)
    raise ValueError(f"unknown statistic kind {kind!r}")


def _after_response(run, params, st, kind, when):
    """Among the patients responding at ``responders``: the share who relapse by ``when`` (``relapse_rate``: an
    observed rating >= ``threshold`` at ``consecutive`` successive visits every ``every`` after it; without a
    threshold, no longer responding) or who still respond at ``when`` (``sustained_response``).

    Responders are those whose *observed* rating meets the response criterion (at most ``response_max`` if given,
    else at most half of the observed baseline), and relapse is read from observed ratings, as the trials read them:
    the rater-noise model of the module docstring, exactly. Given a patient's expected course and observed baseline
    the ratings at different visits are independent, so the chance of a run of ``consecutive`` high ratings follows
    from a recursion over the current run length, and the shared baseline is summed over. The rate is the expected
    number of relapsing responders over the expected number of responders (patients count equally).
    ``median_time_to_relapse``: the responders' median time from ``since`` (default ``responders``) to the first
    visit of their relapse run (no ``threshold``: no longer responding); nan when fewer than half relapse by ``when``.
    """
    sc, sd = _scale(params, st["scale"])
    e = _mean_rating(run, params, st["scale"])
    t = run["t"]
    t0 = days(st["responders"])
    b, w = _baseline_levels(e[0], sd, sc.maximum)                                     # (level, patient)
    cut = (np.full_like(b, math.floor(float(st["response_max"]) + 1e-9)) if "response_max" in st
           else np.floor(0.5 * b + 1e-9))                                            # response: observed <= cut

    def responding(at):                        # P(observed rating <= cut at ``at`` | B = b): (level, patient)
        return norm.cdf((cut + 0.5 - _at(e, t, at)[None, :]) / sd)

    p_resp = responding(t0) * w                                                       # P(B = b, responder at t0)
    mass = float(p_resp.sum())
    if mass <= 0.0:
        return float("nan")
    if kind == "sustained_response":
        return float((p_resp * responding(when)).sum() / mass)
    step = days(st.get("every", "2 weeks"))
    visits = np.arange(t0 + step, when + 1e-6, step)
    k = int(st.get("consecutive", 2))
    run_p = np.zeros((k,) + b.shape)          # P(no relapse yet, current run of high ratings = j), j < k
    run_p[0] = 1.0
    done = []                                  # P(the relapse run completes at visit i) per (level, patient)
    for v in visits:
        # high: at or above a fixed threshold, or (no threshold given) no longer responding (above the cut)
        hi = (1.0 - norm.cdf((float(st["threshold"]) - 0.5 - _at(e, t, v)[None, :]) / sd) if "threshold" in st
              else 1.0 - responding(v))
        hi = np.broadcast_to(hi, b.shape)
        done.append(run_p[k - 1] * hi)
        run_p = np.concatenate([(run_p.sum(axis=0) * (1.0 - hi))[None], run_p[:-1] * hi[None]])
    done = np.stack(done)                                                             # (visit, level, patient)
    if kind == "median_time_to_relapse":
        origin = days(st["since"]) if "since" in st else t0
        onset = visits - (k - 1) * step - origin                        # the run's first visit, for each completion
        cdf = np.cumsum((done * p_resp[None]).sum(axis=(1, 2))) / mass
        i = int(np.searchsorted(cdf, 0.5))
        return float(onset[i]) if i < len(onset) else float("nan")     # days
    return float((done.sum(axis=0) * p_resp).sum() / mass)


SESSION_KINDS = frozenset({"aftereffect_duration", "weight_change_30min", "aftereffect_ratio"})


def session_statistic(sim: Simulator, protocol: str, st: dict) -> float:
    """A single-session statistic of a ``session`` protocol, from :func:`~neuroplastic.physics.tms.session_summary`
    of the row's ``pattern`` and ``pulses`` at the protocol's intensity and target with the simulator's parameter set
    (cached per simulator): ``aftereffect_duration`` (minutes), ``weight_change_30min`` (fraction) or
    ``aftereffect_ratio`` (end-of-session change with ``pulses`` over that with ``ref_pulses``: negative when
    lengthening the session reverses its after-effect)."""
    s = sim.session(protocol, st["pattern"], st["pulses"])
    if st["kind"] == "aftereffect_ratio":
        ref = sim.session(protocol, st["pattern"], st["ref_pulses"])["weight_change_end"]
        return float(s["weight_change_end"] / ref) if abs(ref) > 1e-12 else float("nan")
    return float(s["aftereffect_duration_min"] if st["kind"] == "aftereffect_duration" else s["weight_change_30min"])


def _vertex_time(t: np.ndarray, d: np.ndarray) -> float:
    """Time of the minimum of the sampled curve ``d(t)``: the vertex of the parabola through the lowest sample and its
    two neighbours (kept inside them), so the peak time varies continuously with the curve instead of jumping from
    one output time to the next; the lowest sample itself at either end of the record."""
    k = int(np.argmin(d))
    if k == 0 or k == len(d) - 1:
        return float(t[k])
    a, b, _ = np.polyfit(t[k - 1:k + 2] - t[k], d[k - 1:k + 2], 2)   # through the three points (centred times)
    if not a > 0:
        return float(t[k])
    return float(t[k] + min(max(-b / (2.0 * a), t[k - 1] - t[k]), t[k + 1] - t[k]))


def _plasma_sum(run, compounds) -> np.ndarray:
    """Mean total plasma concentration (ng/mL) over patients of the sum of ``compounds`` (parent + metabolite)."""
    names = [compounds] if isinstance(compounds, str) else list(compounds)
    return sum(run["plasma"][c].mean(axis=1) for c in names) * 1e6   # kg/m^3 -> ng/mL


def plasma_window(run, st: dict, kind: str) -> float:
    """Steady-state plasma statistic over the last dosing interval before ``time``: ``plasma_trough`` (the minimum,
    i.e. the pre-dose level a therapeutic-drug-monitoring sample measures) or ``plasma_average`` (the mean), of the
    summed ``compounds`` in ng/mL."""
    c = _plasma_sum(run, st["compounds"])
    t = run["t"]
    when, win = days(st["time"]), days(st.get("window", "1 day"))
    m = (t >= when - win - 1e-9) & (t <= when + 1e-9)
    return float(c[m].min() if kind == "plasma_trough" else c[m].mean())


def trajectory(target: Target, sim: Simulator):
    """(days, simulated curve, label) to draw behind the published point, or None."""
    st = target.statistic
    if st["kind"] in SESSION_KINDS:
        return None
    run = sim.arm(target.protocol, st["arm"])
    t = run["t"]
    kind = st["kind"]
    p = sim.params
    if "scale" in st and kind == "mean_percent_change":
        e = _mean_rating(run, p, st["scale"])
        return t, 100.0 * ((e - e[0][None, :]) / np.maximum(e[0][None, :], 1e-9)).mean(axis=1), f"{st['scale']} % change"
    if "scale" in st and kind in ("mean_change", "mean_difference", "effect_share", "peak_time", "effect_ratio"):
        y = _change_series(run, st["scale"], p)
        if "ref" in st:
            y = y - _change_series(sim.arm(target.protocol, st["ref"]), st["scale"], p)
        return t, y, f"{st['scale']} change" + (" vs " + st["ref"] if "ref" in st else "")
    if kind in ("remission_rate", "response_rate", "rate_difference", "risk_ratio", "early_improvement_rate",
                "early_improvement_sensitivity", "early_improvement_specificity", "late_share", "mean_time_to"):
        crit = "remission" if kind == "remission_rate" else st.get("criterion", "response")
        ts = t[:: max(1, len(t) // 120)]
        y = np.array([np.mean(_p_criterion(run, p, st["scale"], crit, x)) for x in ts])
        if kind in ("rate_difference", "risk_ratio") and "ref" in st:
            r = sim.arm(target.protocol, st["ref"])
            yr = np.array([np.mean(_p_criterion(r, p, st["scale"], crit, x)) for x in ts])
            y = y - yr if kind == "rate_difference" else np.where(yr > 1e-9, y / np.maximum(yr, 1e-9), np.nan)
        elif kind == "risk_ratio" and "ref_time" in st:
            y = y / _own_reference_rate(run, p, st, crit)
        return ts, y, f"{crit} ({st['scale']})"
    if kind == "recovered_by":
        return t, _recovered_by(run, p, st["scale"]).mean(axis=1), f"recovered by then ({st['scale']})"
    if kind in ("desensitised_fraction", "relative_change", "recovery_time"):
        v = run["obs"][st["variable"]].mean(axis=1)
        return t, (1 - v / v[0]) if kind == "desensitised_fraction" else v / v[0] - 1 if kind == "relative_change" else v, st["variable"]
    if kind in ("occupancy_mean", "occupancy_at"):
        return t, run["inp"][st["channel"]].mean(axis=1), st["channel"]
    if kind == "plasma_max":
        return t, run["plasma"][st["compound"]].mean(axis=1) * 1e6, "plasma ng/mL"
    if kind in ("plasma_trough", "plasma_average"):
        return t, _plasma_sum(run, st["compounds"]), "plasma ng/mL (" + "+".join(np.atleast_1d(st["compounds"])) + ")"
    return None


def evaluate(targets, params: ParameterSet, hypothesis: str, sim: Simulator | None = None) -> tuple[list[dict], Simulator]:
    """One result row per target."""
    sim = sim or Simulator(params, hypothesis)
    rows = []
    for tg in targets:
        try:
            val = compute(tg, sim)
        except Exception as exc:  # a protocol that cannot run is a failed row, reported as such
            val, err = float("nan"), f"{type(exc).__name__}: {exc}"
        else:
            err = None
        lo, hi = tg.interval
        rows.append({
            "target": tg.id, "source": tg.source, "statistic": tg.statistic["kind"], "family": tg.family,
            "observed": tg.value, "simulated": None if not math.isfinite(val) else round(val, 6),
            "tolerance": tg.tolerance, "interval": [lo, hi], "tolerance_reason": tg.tolerance_reason,
            "passed": bool(tg.passed(val)), "hypothesis": hypothesis, "used_for": tg.used_for,
            "confirmed": tg.confirmed, "unit": tg.unit, "time": tg.statistic.get("time"), "error": err,
        })
    return rows, sim


def observables(targets) -> list[str]:
    """The observed outputs :func:`compute` reads for ``targets`` (the expected scores and any named variable)."""
    names = [f"{s}_recalled" for s in SCALES]
    if any("recall" in t.statistic for t in targets):
        names += ["mood_integral", "severity"]
    names += sorted({t.statistic["variable"] for t in targets if "variable" in t.statistic} - set(names))
    return names


def evaluate_batch(targets, params: ParameterSet, values, hypothesis: str,
                   sim: BatchSimulator | None = None) -> tuple[list[list[dict]], BatchSimulator]:
    """:func:`evaluate` for K candidate parameter sets at once: ``params`` with each of ``values`` (a list of
    name -> value dicts, declared units) applied, every protocol arm run once for all candidates (K x N patients).
    Returns K row lists, row list k equal to ``evaluate(targets, params.with_values(values[k]), hypothesis)[0]``.

    Example (not run: a few seconds per arm)
    ----------------------------------------
    >>> rows, _ = evaluate_batch(targets, default_parameters(), [{"plasticity.bdnf.w_da": 0.5},
    ...                                                          {"plasticity.bdnf.w_da": 0.9}], "plasticity")  # doctest: +SKIP
    """
    sim = sim or BatchSimulator(params, values, hypothesis, keep=observables(targets))
    return [evaluate(targets, view.params, hypothesis, sim=view)[0] for view in sim.views], sim
