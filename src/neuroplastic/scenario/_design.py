"""Trial designs in the scenario language: phases with eligibility, rules that react to the patient's ratings, and
time-to-event endpoints.

Everything here is parsed once into frozen models holding SI seconds. A phase's treatments and a rule's treatments are
written relative to the phase's start or the rule's firing time; :func:`shift` turns them into treatments on the
scenario's clock, ended at the phase's end, and :func:`cut` ends a treatment early (a switch, a stop, a taper).
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from .._units import DAY, WEEK
from ..errors import ScenarioError
from pydantic import BaseModel

from ..mood.scales import SCALES
from ._schema import _CFG, Treatment

WHO = ("all", "responders", "remitters", "non_responders", "non_remitters")
STATUS = ("responded", "not_responded", "remitted", "not_remitted")
ACTIONS = ("switch", "add", "stop", "change_dose", "taper", "randomise")


def _models():
    from . import _schema
    return _schema


def _scale(v: Any, field: str) -> str:
    if v not in SCALES:
        raise ScenarioError(field, v, f"one of {', '.join(SCALES)}")
    return str(v)


def _score(v: Any, field: str, scale: str) -> float:
    top = SCALES[scale].maximum
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= top:
        raise ScenarioError(field, v, f"a {scale} score from 0 to {top:g}")
    return float(v)


def _only(d: dict, allowed, field: str) -> None:
    extra = [k for k in d if k not in allowed]
    if extra:
        close = difflib.get_close_matches(str(extra[0]), sorted(allowed), n=1)
        raise ScenarioError(f"{field}.{extra[0]}", d[extra[0]], "a known key" + (
            f" (did you mean {close[0]!r}?)" if close else f": {', '.join(sorted(allowed))}"))


class Eligibility(BaseModel):
    """Who enters a phase: everyone still in the study, or those meeting a criterion on the rated scale at the
    phase's start (``responders``: at most half the study baseline; ``remitters``: at or below the scale's
    remission score), optionally a stable criterion (score <= ``at_most`` at ``visits`` of the last ``of_last``
    visits ``every`` apart, the last at the phase's start)."""

    model_config = _CFG
    who: Literal[WHO] = "all"
    scale: str = "hamd17"
    at_most: float | None = None
    visits: int | None = None
    of_last: int | None = None
    every: float = WEEK

    def check_times(self, t0: float) -> list[float]:
        """The visit times (s) the criterion reads, the last at ``t0``."""
        n = self.of_last or 1
        return [t0 - k * self.every for k in range(n)][::-1]

class Phase(BaseModel):
    """A phase of a trial: from ``start`` for ``duration`` (s), with one treatment list or randomised arms."""

    model_config = _CFG
    name: str
    start: float
    duration: float
    treatments: tuple[Treatment, ...] | None = None
    arms: tuple[tuple[str, tuple[Treatment, ...]], ...] | None = None
    eligible: Eligibility = Eligibility()

    @property
    def end(self) -> float:
        return self.start + self.duration

    def branches(self) -> list[tuple[str, tuple]]:
        """(label, treatments relative to the phase start) for each way through the phase."""
        if self.arms is not None:
            return [(f"{self.name}/{a}", trs) for a, trs in self.arms]
        return [(self.name, self.treatments or ())]

class Condition(BaseModel):
    """When a rule is evaluated and what it asks of the rated score there."""

    model_config = _CFG
    at: tuple[float, ...] | None = None
    every: float | None = None
    start: float = 0.0
    until: float | None = None
    scale: str = "hamd17"
    status: Literal[STATUS] | None = None
    at_least: float | None = None
    at_most: float | None = None
    change_at_least: float | None = None
    change_at_most: float | None = None
    level: int | None = None           # only patients at this treatment level

    def times(self, duration: float) -> list[float]:
        """Evaluation times (s) within (0, duration)."""
        if self.at is not None:
            return [t for t in self.at if 0 < t < duration]
        end = duration if self.until is None else min(self.until, duration)
        first = self.start if self.start > 0 else self.every
        out, k = [], 0
        while first + k * self.every <= end + 1e-6 and first + k * self.every < duration:
            out.append(first + k * self.every)
            k += 1
        return out

class Action(BaseModel):
    """What a rule does when it fires (times in its treatments count from the firing)."""

    model_config = _CFG
    kind: Literal[ACTIONS]
    treatments: tuple[Treatment, ...] = ()
    drugs: tuple[str, ...] = ()        # stop / change_dose / taper: which drugs (empty: every treatment)
    dose: float | None = None          # change_dose: kg (None: unchanged)
    every: float | None = None         # change_dose: s (None: unchanged)
    over: float | None = None          # taper: s
    options: tuple[tuple[str, "Action"], ...] = ()

class Rule(BaseModel):
    """A per-patient decision at visits: ``when`` the condition holds, ``then`` the action; at most ``times``
    firings per patient; a firing that switches, adds or randomises starts the patient's next level."""

    model_config = _CFG
    name: str
    when: Condition
    then: Action
    times: int = 1

    @property
    def starts_level(self) -> bool:
        return self.then.kind in ("switch", "add", "randomise")

class RelapseEndpoint(BaseModel):
    """Relapse: ``consecutive`` visits ``visits`` apart with the rated score at or above ``at_least``, counted
    from the start of ``phase`` (default: the last phase, or the whole study)."""

    model_config = _CFG
    scale: str = "hamd17"
    at_least: float = 16.0
    consecutive: int = 2
    visits: float = 2 * WEEK
    phase: str | None = None


Action.model_rebuild()


def models():
    """The design models: Eligibility, Phase, Condition, Action, Rule, RelapseEndpoint."""
    return Eligibility, Phase, Condition, Action, Rule, RelapseEndpoint


# -- parsing -------------------------------------------------------------------------------------------------------
def parse_eligible(raw: Any, field: str):
    Eligibility = models()[0]
    S = _models()
    if isinstance(raw, str):
        raw = {"who": raw}
    d = S._mapping(raw, field, "{who: responders, scale: hamd17}")
    _only(d, {"who", "scale", "at_most", "visits", "of_last", "every"}, field)
    out: dict = {}
    if "who" in d:
        if d["who"] not in WHO:
            raise ScenarioError(f"{field}.who", d["who"], ", ".join(WHO))
        out["who"] = d["who"]
    out["scale"] = _scale(d.get("scale", "hamd17"), f"{field}.scale")
    if "at_most" in d:
        out["at_most"] = _score(d["at_most"], f"{field}.at_most", out["scale"])
    for k in ("visits", "of_last"):
        if k in d:
            out[k] = S._pos_int(d[k], f"{field}.{k}", 1, 52)
    if ("visits" in out or "of_last" in out) and "at_most" not in out:
        raise ScenarioError(f"{field}.at_most", None, "a score (at_most) for a stable criterion over visits")
    if "at_most" in out:
        out.setdefault("of_last", out.get("visits", 1))
        out.setdefault("visits", out["of_last"])
        if out["visits"] > out["of_last"]:
            raise ScenarioError(f"{field}.visits", out["visits"], f"at most of_last ({out['of_last']}) visits")
    if "every" in d:
        out["every"] = S._time(d["every"], f"{field}.every", positive=True)
    return S._validate(Eligibility, out, field)


def parse_phases(raw: Any, unsafe: bool) -> tuple:
    """Parse ``phases:`` into Phase models on the scenario clock (each starts where the previous ends)."""
    Phase = models()[1]
    S = _models()
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("phases", raw, "a list of phases, e.g. [{name: open-label, duration: 12 weeks, treatments: [...]}]")
    out, t, names = [], 0.0, set()
    for i, ph in enumerate(raw):
        f = f"phases[{i}]"
        d = S._mapping(ph, f, "{name: open-label, duration: 12 weeks, treatments: [...]}")
        _only(d, {"name", "duration", "treatments", "arms", "eligible"}, f)
        name = S._text(d.get("name", f"phase {i + 1}"), f"{f}.name", S.MAX_ARM_NAME, example="a phase name such as open-label")
        if name in names:
            raise ScenarioError(f"{f}.name", name, "a phase name not used by another phase")
        names.add(name)
        if "duration" not in d:
            raise ScenarioError(f"{f}.duration", None, "a time with a unit, e.g. '12 weeks'")
        dur = S._time(d["duration"], f"{f}.duration", positive=True)
        has_t, has_a = "treatments" in d, "arms" in d
        if has_t == has_a:
            raise ScenarioError(f, "...", "exactly one of 'treatments' or 'arms' in each phase")
        item: dict = {"name": name, "start": t, "duration": dur}
        if has_t:
            tr = d["treatments"] or []
            if not isinstance(tr, list):
                raise ScenarioError(f"{f}.treatments", tr, "a list of treatments")
            item["treatments"] = tuple(S._parse_treatment(x, f"{f}.treatments[{j}]", unsafe) for j, x in enumerate(tr))
        else:
            arms = d["arms"]
            if not isinstance(arms, dict) or not arms:
                raise ScenarioError(f"{f}.arms", arms, "a mapping of arm name -> list of treatments")
            parsed = []
            for an, tr in arms.items():
                an = S._text(an, f"{f}.arms", S.MAX_ARM_NAME, example="an arm name such as placebo")
                tr = tr or []
                if not isinstance(tr, list):
                    raise ScenarioError(f"{f}.arms.{an}", tr, "a list of treatments")
                parsed.append((an, tuple(S._parse_treatment(x, f"{f}.arms.{an}[{j}]", unsafe) for j, x in enumerate(tr))))
            item["arms"] = tuple(parsed)
        if "eligible" in d:
            if i == 0:
                raise ScenarioError(f"{f}.eligible", d["eligible"], "no eligibility in the first phase (everyone enrolled enters it)")
            item["eligible"] = parse_eligible(d["eligible"], f"{f}.eligible")
        out.append(S._validate(Phase, item, f))
        t += dur
    return tuple(out)


def _parse_treatments(raw, field, unsafe):
    S = _models()
    if not isinstance(raw, list) or not raw:
        raise ScenarioError(field, raw, "a non-empty list of treatments")
    return tuple(S._parse_treatment(x, f"{field}[{j}]", unsafe) for j, x in enumerate(raw))


def parse_action(raw: Any, field: str, unsafe: bool, nested: bool = False):
    Action = models()[3]
    S = _models()
    d = S._mapping(raw, field, "{switch: [{drug: sertraline, dose: 100 mg, every: 1 day}]}")
    kinds = [k for k in d if k in ACTIONS]
    if len(kinds) != 1:
        extra = [k for k in d if k not in ACTIONS]
        if extra:
            _only(d, set(ACTIONS), field)
        raise ScenarioError(field, d, f"exactly one of {', '.join(ACTIONS)}")
    k = kinds[0]
    if len(d) != 1:
        other = [x for x in d if x != k][0]
        raise ScenarioError(f"{field}.{other}", d[other], f"nothing beside {k} (one action per rule)")
    v, f = d[k], f"{field}.{k}"
    if k in ("switch", "add"):
        return Action(kind=k, treatments=_parse_treatments(v, f, unsafe))
    if k == "stop":
        drugs = () if v == "all" else _drug_list(v, f)
        return Action(kind=k, drugs=drugs)
    if k == "change_dose":
        dd = S._mapping(v, f, "{drug: citalopram, dose: 40 mg} or {drug: esketamine, every: 1 week}")
        _only(dd, {"drug", "dose", "every"}, f)
        (drug,) = _drug_list([dd.get("drug")], f"{f}.drug")
        if "dose" not in dd and "every" not in dd:
            raise ScenarioError(f, v, "a new dose, a new interval (every), or both")
        from ..pharmacology import DRUGS
        dose = None
        if "dose" in dd:
            iv = {"infusion": "40 min"} if DRUGS[drug].routes[0] == "iv" else {}
            dose = S._validate(S.DrugTreatment, {"drug": drug, "dose": dd["dose"], "_field": f, **iv}, f).dose
        every = S._time(dd["every"], f"{f}.every", positive=True) if "every" in dd else None
        return Action(kind=k, drugs=(drug,), dose=dose, every=every)
    if k == "taper":
        dd = S._mapping(v, f, "{drug: escitalopram, over: 2 weeks}")
        _only(dd, {"drug", "over"}, f)
        (drug,) = _drug_list([dd.get("drug")], f"{f}.drug")
        if "over" not in dd:
            raise ScenarioError(f"{f}.over", None, "a taper duration, e.g. '2 weeks'")
        over = S._time(dd["over"], f"{f}.over", positive=True)
        if over > 26 * WEEK:
            raise ScenarioError(f"{f}.over", dd["over"], "a taper of at most 26 weeks")
        return Action(kind=k, drugs=(drug,), over=over)
    if nested:
        raise ScenarioError(f, v, "switch, add, stop, change_dose or taper inside a randomised option")
    opts = S._mapping(v, f, "{sertraline: {switch: [...]}, augment: {add: [...]}}")
    if len(opts) < 2:
        raise ScenarioError(f, v, "at least two options to randomise among")
    parsed = []
    for name, a in opts.items():
        name = S._text(name, f, S.MAX_ARM_NAME, example="an option name such as sertraline")
        parsed.append((name, parse_action(a, f"{f}.{name}", unsafe, nested=True)))
    return Action(kind=k, options=tuple(parsed))


def _drug_list(v, field):
    from ..pharmacology import DRUGS
    items = v if isinstance(v, list) else [v]
    for x in items:
        if x not in DRUGS:
            raise ScenarioError(field, x, f"all, or a list of drugs from: {', '.join(sorted(DRUGS))}")
    return tuple(items)


def parse_rules(raw: Any, duration: float, unsafe: bool) -> tuple:
    _, _, Condition, _, Rule, _ = models()
    S = _models()
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("rules", raw, "a list of rules, e.g. [{when: {at: 12 weeks, status: not_remitted}, then: {switch: [...]}}]")
    out, names = [], set()
    for i, r in enumerate(raw):
        f = f"rules[{i}]"
        d = S._mapping(r, f, "{name: level 2, when: {at: 12 weeks, status: not_remitted}, then: {switch: [...]}}")
        _only(d, {"name", "when", "then", "times"}, f)
        name = S._text(d.get("name", f"rule {i + 1}"), f"{f}.name", S.MAX_ARM_NAME, example="a rule name such as level 2")
        if name in names:
            raise ScenarioError(f"{f}.name", name, "a rule name not used by another rule")
        names.add(name)
        if "when" not in d or "then" not in d:
            missing = "when" if "when" not in d else "then"
            raise ScenarioError(f"{f}.{missing}", None, "both 'when' (a visit and a condition) and 'then' (an action)")
        w = S._mapping(d["when"], f"{f}.when", "{at: 12 weeks, scale: hamd17, status: not_remitted}")
        fw = f"{f}.when"
        _only(w, {"at", "every", "from", "until", "scale", "status", "at_least", "at_most", "change_at_least",
                  "change_at_most", "level"}, fw)
        c: dict = {"scale": _scale(w.get("scale", "hamd17"), f"{fw}.scale")}
        if ("at" in w) == ("every" in w):
            raise ScenarioError(fw, w, "exactly one of 'at' (a time or a list of times) or 'every' (an interval)")
        if "at" in w:
            at = w["at"] if isinstance(w["at"], list) else [w["at"]]
            if not at:
                raise ScenarioError(f"{fw}.at", w["at"], "a time or a non-empty list of times")
            c["at"] = tuple(sorted(S._time(x, f"{fw}.at", positive=True) for x in at))
            if c["at"][-1] >= duration:
                raise ScenarioError(f"{fw}.at", w["at"], "times before the end of the scenario")
            if "from" in w or "until" in w:
                k = "from" if "from" in w else "until"
                raise ScenarioError(f"{fw}.{k}", w[k], "from/until only with 'every'")
        else:
            c["every"] = S._time(w["every"], f"{fw}.every", positive=True)
            if c["every"] < DAY:
                raise ScenarioError(f"{fw}.every", w["every"], "at least 1 day between evaluations")
            if "from" in w:
                c["start"] = S._time(w["from"], f"{fw}.from")
            if "until" in w:
                c["until"] = S._time(w["until"], f"{fw}.until", positive=True)
        if "status" in w:
            if w["status"] not in STATUS:
                raise ScenarioError(f"{fw}.status", w["status"], ", ".join(STATUS))
            c["status"] = w["status"]
        for k in ("at_least", "at_most"):
            if k in w:
                c[k] = _score(w[k], f"{fw}.{k}", c["scale"])
        for k in ("change_at_least", "change_at_most"):
            if k in w:
                v = w[k]
                top = SCALES[c["scale"]].maximum
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not -top <= v <= top:
                    raise ScenarioError(f"{fw}.{k}", v, f"a change from baseline in {c['scale']} points, from {-top:g} to {top:g}")
                c[k] = float(v)
        if "level" in w:
            c["level"] = S._pos_int(w["level"], f"{fw}.level", 1, 100)
        if not any(k in c for k in ("status", "at_least", "at_most", "change_at_least", "change_at_most")):
            raise ScenarioError(fw, w, "a condition: status (responded, not_responded, remitted, not_remitted), "
                                "at_least/at_most (a score) or change_at_least/change_at_most (from baseline)")
        cond = S._validate(Condition, c, fw)
        if not cond.times(duration):
            raise ScenarioError(fw, w, "at least one evaluation before the end of the scenario")
        then = parse_action(d["then"], f"{f}.then", unsafe)
        times = S._pos_int(d["times"], f"{f}.times", 1, 100) if "times" in d else 1
        out.append(Rule(name=name, when=cond, then=then, times=times))
    return tuple(out)


def parse_endpoints(raw: Any, phases) -> dict:
    RelapseEndpoint = models()[5]
    S = _models()
    d = S._mapping(raw, "endpoints", "{relapse: {scale: hamd17, at_least: 16, consecutive: 2, visits: 2 weeks}}")
    _only(d, {"relapse"}, "endpoints")
    out = {}
    if "relapse" in d:
        f = "endpoints.relapse"
        r = S._mapping(d["relapse"], f, "{scale: hamd17, at_least: 16, consecutive: 2, visits: 2 weeks}")
        _only(r, {"scale", "at_least", "consecutive", "visits", "phase"}, f)
        e: dict = {"scale": _scale(r.get("scale", "hamd17"), f"{f}.scale")}
        if "at_least" in r:
            e["at_least"] = _score(r["at_least"], f"{f}.at_least", e["scale"])
        if "consecutive" in r:
            e["consecutive"] = S._pos_int(r["consecutive"], f"{f}.consecutive", 1, 10)
        if "visits" in r:
            e["visits"] = S._time(r["visits"], f"{f}.visits", positive=True)
            if e["visits"] < DAY:
                raise ScenarioError(f"{f}.visits", r["visits"], "at least 1 day between visits")
        if "phase" in r:
            names = [p.name for p in phases or ()]
            if r["phase"] not in names:
                raise ScenarioError(f"{f}.phase", r["phase"], f"one of the phases: {', '.join(names)}" if names else "no phase (this scenario has none)")
            e["phase"] = r["phase"]
        out["relapse"] = S._validate(RelapseEndpoint, e, f)
    return out


# -- treatments on the scenario clock ------------------------------------------------------------------------------
def shift(tr, t0: float, t_end: float):
    """``tr`` (times relative to ``t0``) on the scenario clock, ended at ``t_end``; None if nothing is left.

    Example
    -------
    >>> from neuroplastic.scenario import Scenario
    >>> tr = Scenario.build(duration="4 weeks", treatments=[{"drug": "sertraline", "dose": "50 mg", "every": "1 day"}]).treatments[0]
    >>> s = shift(tr, 7 * 86400.0, 21 * 86400.0)
    >>> s.drug.start / 86400, s.drug.stop / 86400
    (7.0, 21.0)
    """
    k = tr.kind
    m = getattr(tr, k)
    upd: dict = {}
    if k == "tms":
        sch = m.schedule
        stop = t_end if sch.stop is None else min(sch.stop + t0, t_end)
        if sch.start + t0 >= stop:
            return None
        upd = {"start": sch.start + t0, "stop": stop}
        if sch.day_times is not None:
            upd["day_times"] = tuple(x + t0 for x in sch.day_times)
        return tr.model_copy(update={"tms": m.model_copy(update={"schedule": sch.model_copy(update=upd)})})
    if getattr(m, "at", None) is not None:
        at = tuple(t + t0 for t in m.at if t + t0 < t_end)
        if not at:
            return None
        upd["at"] = at
    upd["start"] = m.start + t0
    if k != "drug" or m.every is not None or getattr(m, "at", None) is None:
        upd["stop"] = t_end if getattr(m, "stop", None) is None else min(m.stop + t0, t_end)
    if k == "drug" and m.every is None and m.at is None:
        upd.pop("stop")   # a single dose
        if upd["start"] >= t_end:
            return None
    elif upd.get("stop") is not None and upd["start"] >= upd["stop"]:
        return None
    return tr.model_copy(update={k: m.model_copy(update=upd)})


def cut(tr, t: float):
    """``tr`` ended at ``t`` (nothing of it given from ``t`` on); None if it had not started by then."""
    k = tr.kind
    m = getattr(tr, k)
    if k == "tms":
        sch = m.schedule
        if sch.start >= t:
            return None
        stop = t if sch.stop is None else min(sch.stop, t)
        return tr.model_copy(update={"tms": m.model_copy(update={"schedule": sch.model_copy(update={"stop": stop})})})
    if getattr(m, "at", None) is not None:
        at = tuple(x for x in m.at if x < t)
        if not at:
            return None
        return tr.model_copy(update={k: m.model_copy(update={"at": at})})
    if m.start >= t:
        return None
    if k == "drug" and m.every is None:
        return tr   # a single dose already given
    stop = t if m.stop is None else min(m.stop, t)
    return tr.model_copy(update={k: m.model_copy(update={"stop": stop})})


def active_drugs(plan, t: float, duration: float) -> set[str]:
    """Drugs of ``plan`` with a dose at or after ``t`` (before ``duration``)."""
    return {tr.drug.drug for tr in plan if tr.drug is not None and any(x >= t for x in tr.drug.dose_times(duration))}


def parse_dropout(raw: Any) -> dict:
    """``dropout: true`` (the registry's trial.dropout.* values) or a mapping overriding them: ``base_hazard`` and
    ``adverse_event_hazard`` as rates (e.g. ``0.03/week``), ``nonimprovement_gain`` as a number; returns SI values."""
    S = _models()
    if raw is True:
        return {}
    d = S._mapping(raw, "dropout", "true, or {base_hazard: 0.02/week, nonimprovement_gain: 0.85, adverse_event_hazard: 0.008/week}")
    _only(d, {"base_hazard", "nonimprovement_gain", "adverse_event_hazard"}, "dropout")
    out = {}
    for k in ("base_hazard", "adverse_event_hazard"):
        if k in d:
            v = S.to_si(d[k], f"dropout.{k}", "1/s", allowed="a rate such as '0.02/week'")
            if not 0 <= v <= 1.0 / DAY:
                raise ScenarioError(f"dropout.{k}", d[k], "a rate from 0 to 1/day")
            out[k] = v
    if "nonimprovement_gain" in d:
        v = d["nonimprovement_gain"]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 10:
            raise ScenarioError("dropout.nonimprovement_gain", v, "a number from 0 to 10")
        out["nonimprovement_gain"] = float(v)
    return out
