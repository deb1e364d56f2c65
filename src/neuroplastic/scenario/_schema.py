from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal, Union

import pint
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from .._units import DAY, HOUR, Q_, parse_quantity, to_si
from ..errors import SafetyError, ScenarioError
from ..pharmacology import DRUGS

PHENOTYPES_2C19 = ("poor", "intermediate", "normal", "rapid", "ultrarapid")
PHENOTYPES_2D6 = ("poor", "intermediate", "normal", "rapid", "ultrarapid")
HYPOTHESES = ("plasticity", "monoamine")

_CFG = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


def _time(v: Any, field: str, *, positive: bool = False, allow_zero: bool = True) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        raise ScenarioError(field, v, "a time with a unit, e.g. '2 weeks' or '36 h'")
    s = to_si(v, field, "second", allowed="a time with a unit, e.g. '2 weeks', '36 h', '40 min'")
    if s < 0 or (positive and s == 0) or (not allow_zero and s == 0):
        raise ScenarioError(field, v, "a positive time" if positive else "a time of at least 0")
    return s


class _Model(BaseModel):
    model_config = _CFG


class PatientSpec(_Model):
    """Traits of a single virtual patient; anything omitted takes the typical adult with moderate-severe MDD."""

    weight: float = 70.0  # kg
    cyp2c19: Literal["poor", "intermediate", "normal", "rapid", "ultrarapid"] = "normal"
    cyp2d6: Literal["poor", "intermediate", "normal", "rapid", "ultrarapid"] = "normal"

    @field_validator("weight", mode="before")
    @classmethod
    def _w(cls, v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raise ScenarioError("patient.weight", v, "a body mass with a unit, e.g. '70 kg'")
        w = to_si(v, "patient.weight", "kg", allowed="a body mass, e.g. '70 kg'")
        if not (20.0 <= w <= 300.0):
            raise ScenarioError("patient.weight", v, "a body mass between 20 kg and 300 kg")
        return w


class DrugTreatment(_Model):
    """A drug given orally, by infusion or intranasally on a schedule.

    Exactly one of ``every`` (repeat from ``start`` until ``stop``) or ``at`` (explicit times) may be given;
    with neither, one dose at ``start``. ``dose`` is a mass, or a mass per body weight (``0.5 mg/kg``).
    """

    drug: str
    dose: float                      # kg, or kg per kg when dose_per_kg
    dose_per_kg: bool = False
    route: str | None = None
    every: float | None = None       # s
    at: tuple[float, ...] | None = None
    start: float = 0.0
    stop: float | None = None
    infusion: float | None = None    # s
    allow_off_label: bool = False

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any):
        if not isinstance(data, dict):
            raise ScenarioError("treatment", data, "a mapping such as {drug: escitalopram, dose: 10 mg, every: 1 day}")
        d = dict(data)
        f = d.pop("_field", "treatment")
        name = d.get("drug")
        if not isinstance(name, str) or name not in DRUGS:
            close = difflib.get_close_matches(str(name), list(DRUGS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ScenarioError(f"{f}.drug", name, f"one of {', '.join(sorted(DRUGS))}{hint}")
        info = DRUGS[name]
        dose = d.get("dose")
        if dose is None:
            raise ScenarioError(f"{f}.dose", None, f"a dose such as {info.typical_dose!r}")
        if isinstance(dose, (int, float)) and not isinstance(dose, bool):
            raise ScenarioError(f"{f}.dose", dose, "a dose with a unit, e.g. '10 mg' or '0.5 mg/kg'")
        if isinstance(dose, (str, pint.Quantity)):
            try:
                q = parse_quantity(dose, f"{f}.dose", "mg")
                per_kg = False
            except ScenarioError:
                q = parse_quantity(dose, f"{f}.dose", "mg/kg",
                                   allowed="a mass (e.g. '10 mg') or a mass per body weight (e.g. '0.5 mg/kg')")
                per_kg = True
            value = float(q.to_base_units().magnitude)
            if not value > 0:
                raise ScenarioError(f"{f}.dose", dose, "a positive dose")
            d["dose"], d["dose_per_kg"] = value, per_kg
        route = d.get("route") or info.routes[0]
        if route not in info.routes:
            raise ScenarioError(f"{f}.route", route, f"a route for {name}: {', '.join(info.routes)}")
        d["route"] = route
        for key in ("every", "start", "stop", "infusion"):
            if d.get(key) is not None:
                d[key] = _time(d[key], f"{f}.{key}", positive=key in ("every", "infusion"))
        if d.get("at") is not None:
            at = d["at"]
            if not isinstance(at, (list, tuple)) or not at:
                raise ScenarioError(f"{f}.at", at, "a non-empty list of times, e.g. [0 days, 2 days]")
            d["at"] = tuple(sorted(_time(x, f"{f}.at[{i}]") for i, x in enumerate(at)))
            if len(set(d["at"])) != len(d["at"]):
                raise ScenarioError(f"{f}.at", at, "distinct dose times")
        if d.get("every") is not None and d.get("at") is not None:
            raise ScenarioError(f"{f}.at", data.get("at"), "either 'every' or 'at', not both")
        if d.get("stop") is not None and d["stop"] <= d.get("start", 0.0):
            raise ScenarioError(f"{f}.stop", data.get("stop"), f"a time after start ({data.get('start', '0 days')})")
        if route == "iv" and d.get("infusion") is None:
            raise ScenarioError(f"{f}.infusion", None, "an infusion duration for IV dosing, e.g. '40 min'")
        if route != "iv" and d.get("infusion") is not None:
            raise ScenarioError(f"{f}.infusion", data.get("infusion"), "no infusion for a non-IV route")
        if d.get("infusion") is not None:
            gaps = []
            if d.get("every") is not None:
                gaps.append(d["every"])
            if d.get("at"):
                gaps += [b - a for a, b in zip(d["at"], d["at"][1:])]
            if gaps and min(gaps) < d["infusion"]:
                raise ScenarioError(f"{f}.infusion", data.get("infusion"), "an infusion shorter than the interval between doses (infusions overlap)")
        if d.get("dose_per_kg") and route != "iv":
            raise ScenarioError(f"{f}.dose", dose, f"a fixed dose in mg for {name} ({route})")
        return d

    def dose_times(self, duration: float) -> list[float]:
        """Dose (or infusion start) times in seconds within [0, duration)."""
        if self.at is not None:
            return [t for t in self.at if t < duration]
        if self.every is None:
            return [self.start] if self.start < duration else []
        end = min(duration, self.stop if self.stop is not None else duration)
        n = int(max(0.0, (end - self.start)) / self.every + 1 - 1e-9)
        times = [self.start + k * self.every for k in range(max(n, 0))]
        return [t for t in times if t < end - 1e-6]

    def daily_dose_mg(self, weight_kg: float) -> float:
        """Largest amount given within any 24 h, in mg (for the labelling check)."""
        per = self.dose * (weight_kg if self.dose_per_kg else 1.0) * 1e6
        if self.every is not None:
            return per * max(1, int(DAY / self.every + 1e-9))
        if self.at:
            t = self.at
            return per * max(sum(1 for s in t if a <= s < a + DAY) for a in t)
        return per


class Treatment(_Model):
    """Wrapper for any treatment kind; exactly one of its fields is set."""

    drug: DrugTreatment | None = None


_NOT_YET = {"tms", "vns", "psychotherapy", "placebo"}


def _parse_treatment(raw: Any, field: str) -> Treatment:
    if not isinstance(raw, dict):
        raise ScenarioError(field, raw, "a mapping such as {drug: escitalopram, dose: 10 mg, every: 1 day}")
    if "drug" in raw:
        return Treatment(drug=_validate(DrugTreatment, {**raw, "_field": field}, field))
    kinds = [k for k in raw if k in _NOT_YET]
    if kinds:
        raise ScenarioError(f"{field}.{kinds[0]}", raw[kinds[0]], "a supported treatment kind (drug); "
                            f"{kinds[0]} is not yet supported")
    raise ScenarioError(field, raw, "a treatment with a 'drug' key, e.g. {drug: escitalopram, dose: 10 mg, every: 1 day}")


class Scenario(_Model):
    """A validated, frozen scenario. Times are SI seconds.

    Build it from YAML with :func:`parse_scenario` / :func:`load_scenario`, or from Python keywords with the same
    names as the YAML keys (quantities as strings or pint Quantities):

    Example
    -------
    >>> s = Scenario.build(name="esc", duration="12 weeks", treatments=[
    ...     {"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}])
    >>> s.duration / 86400
    84.0
    """

    name: str = "scenario"
    description: str = ""
    duration: float
    output_every: float = DAY
    seed: int = 0
    hypothesis: Literal["plasticity", "monoamine"] = "plasticity"
    patient: PatientSpec = PatientSpec()
    n_patients: int = 1
    population: str | None = None
    treatments: tuple[Treatment, ...] = ()
    arms: tuple[tuple[str, tuple[Treatment, ...]], ...] | None = None
    visits: tuple[float, ...] | None = None
    allow_off_label: bool = False
    allow_unsafe: bool = False

    @classmethod
    def build(cls, **doc: Any) -> "Scenario":
        """Validate a scenario document (a mapping with the YAML keys)."""
        return _build(doc)

    def arm_list(self) -> list[tuple[str, tuple[Treatment, ...]]]:
        """The arms to run: the named arms, or one arm holding ``treatments``."""
        return list(self.arms) if self.arms is not None else [("treatment", self.treatments)]


_KEYS = {"name", "description", "duration", "output_every", "seed", "hypothesis", "patient", "patients",
         "treatments", "arms", "visits", "allow_off_label", "allow_unsafe", "design"}


def _build(doc: Any) -> Scenario:
    if not isinstance(doc, dict):
        raise ScenarioError("scenario", type(doc).__name__, "a YAML mapping with at least 'duration' and 'treatments'")
    unknown = [k for k in doc if k not in _KEYS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), sorted(_KEYS), n=1)
        raise ScenarioError(str(unknown[0]), doc[unknown[0]], "a known key" + (f" (did you mean {close[0]!r}?)" if close else f": {', '.join(sorted(_KEYS))}"))
    out: dict[str, Any] = {}
    if "name" in doc:
        out["name"] = str(doc["name"])
    if "description" in doc:
        out["description"] = str(doc["description"])
    if "duration" not in doc:
        raise ScenarioError("duration", None, "a time with a unit, e.g. '12 weeks'")
    out["duration"] = _time(doc["duration"], "duration", positive=True)
    if out["duration"] > 20 * 365.25 * DAY:
        raise ScenarioError("duration", doc["duration"], "at most 20 years")
    if "output_every" in doc:
        out["output_every"] = _time(doc["output_every"], "output_every", positive=True)
        if out["output_every"] < 60.0:
            raise ScenarioError("output_every", doc["output_every"], "at least 1 min")
        if out["duration"] / out["output_every"] > 2_000_000:
            raise ScenarioError("output_every", doc["output_every"], "an interval giving at most 2 million output times")
    if "seed" in doc:
        s = doc["seed"]
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            raise ScenarioError("seed", s, "a non-negative integer")
        out["seed"] = s
    if "hypothesis" in doc:
        h = doc["hypothesis"]
        if h not in HYPOTHESES:
            raise ScenarioError("hypothesis", h, f"one of {', '.join(HYPOTHESES)}")
        out["hypothesis"] = h
    for flag in ("allow_off_label", "allow_unsafe"):
        if flag in doc:
            if not isinstance(doc[flag], bool):
                raise ScenarioError(flag, doc[flag], "true or false")
            out[flag] = doc[flag]
    if "patient" in doc and doc["patient"] is not None:
        pt = doc["patient"]
        if not isinstance(pt, dict):
            raise ScenarioError("patient", pt, "a mapping of traits, e.g. {cyp2c19: poor, weight: 80 kg}")
        for k, allowed in (("cyp2c19", PHENOTYPES_2C19), ("cyp2d6", PHENOTYPES_2D6)):
            if k in pt and pt[k] not in allowed:
                raise ScenarioError(f"patient.{k}", pt[k], f"one of {', '.join(allowed)}")
        extra = [k for k in pt if k not in PatientSpec.model_fields]
        if extra:
            raise ScenarioError(f"patient.{extra[0]}", pt[extra[0]], f"a known trait: {', '.join(PatientSpec.model_fields)}")
        out["patient"] = _validate(PatientSpec, pt, "patient")
    if "patients" in doc:
        pts = doc["patients"]
        n = pts.get("n") if isinstance(pts, dict) else pts
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ScenarioError("patients.n", n, "a positive integer")
        if n > 1:
            raise ScenarioError("patients.n", n, "1: cohorts of several patients are not yet supported")
        if isinstance(pts, dict) and pts.get("population") is not None:
            out["population"] = str(pts["population"])
    has_t, has_a = "treatments" in doc, "arms" in doc
    if has_t and has_a:
        raise ScenarioError("arms", "...", "either 'treatments' or 'arms', not both")
    if has_t:
        tr = doc["treatments"] or []
        if not isinstance(tr, list):
            raise ScenarioError("treatments", tr, "a list of treatments")
        out["treatments"] = tuple(_parse_treatment(t, f"treatments[{i}]") for i, t in enumerate(tr))
    if has_a:
        arms = doc["arms"]
        if not isinstance(arms, dict) or not arms:
            raise ScenarioError("arms", arms, "a mapping of arm name -> list of treatments")
        parsed = []
        for name, tr in arms.items():
            if tr is None:
                tr = []
            if not isinstance(tr, list):
                raise ScenarioError(f"arms.{name}", tr, "a list of treatments")
            parsed.append((str(name), tuple(_parse_treatment(t, f"arms.{name}[{i}]") for i, t in enumerate(tr))))
        out["arms"] = tuple(parsed)
    if "visits" in doc:
        v = doc["visits"]
        if not isinstance(v, list) or not v:
            raise ScenarioError("visits", v, "a list of times, e.g. [0 d, 1 w, 2 w]")
        out["visits"] = tuple(sorted(_time(x, f"visits[{i}]") for i, x in enumerate(v)))
    sc = _validate(Scenario, out, "scenario")
    _check_schedules(sc)
    return sc


def _validate(model, data, field):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        inner = err.get("ctx", {}).get("error")
        if isinstance(inner, ScenarioError):
            raise inner.__class__(inner.field, inner.value, inner.allowed) from None
        loc = ".".join(str(x) for x in err["loc"])
        raise ScenarioError(f"{field}.{loc}" if loc else field, err.get("input"), err["msg"].lower()) from None


def _check_schedules(sc: Scenario) -> None:
    weight = sc.patient.weight
    for arm, trs in sc.arm_list():
        prefix = "treatments" if sc.arms is None else f"arms.{arm}"
        seen: dict[str, list[tuple[float, float, int]]] = {}
        for i, t in enumerate(trs):
            d = t.drug
            if d is None:
                continue
            f = f"{prefix}[{i}]"
            times = d.dose_times(sc.duration)
            if not times:
                raise ScenarioError(f"{f}.start", f"{d.start / DAY:g} days", f"a first dose before the end of the scenario ({sc.duration / DAY:g} days)")
            if d.at is not None and d.at[-1] >= sc.duration:
                raise ScenarioError(f"{f}.at", f"{d.at[-1] / DAY:g} days", f"times within the scenario duration ({sc.duration / DAY:g} days)")
            info = DRUGS[d.drug]
            off_label_ok = sc.allow_off_label or d.allow_off_label
            if not off_label_ok:
                if d.dose_per_kg and info.max_dose_per_kg:
                    lim = Q_(info.max_dose_per_kg).to("mg/kg").magnitude
                    if d.dose * 1e6 > lim * (1 + 1e-9):
                        raise SafetyError(f"{f}.dose", f"{d.dose * 1e6:g} mg/kg", f"at most {lim:g} mg/kg per dose ({info.max_source}); set allow_off_label: true to override")
                elif info.max_daily_dose:
                    lim = Q_(info.max_daily_dose).to("mg").magnitude
                    daily = d.daily_dose_mg(weight)
                    if daily > lim * (1 + 1e-9):
                        raise SafetyError(f"{f}.dose", f"{daily:g} mg/day", f"at most {lim:g} mg/day ({info.max_source}); set allow_off_label: true to override")
            span = (times[0], times[-1] + (d.every or d.infusion or 0.0))
            for (a, b, j) in seen.get(d.drug, []):
                if span[0] < b and a < span[1]:
                    raise ScenarioError(f"{f}.start", f"{d.start / DAY:g} days", f"a schedule for {d.drug} that does not overlap {prefix}[{j}] (combine them into one treatment)")
            seen.setdefault(d.drug, []).append((span[0], span[1], i))


def parse_scenario(text: str) -> Scenario:
    """Parse and validate a scenario from YAML text (safe loader; no object construction).

    Example
    -------
    >>> s = parse_scenario("duration: 2 weeks\\ntreatments:\\n  - {drug: sertraline, dose: 50 mg, every: 1 day}\\n")
    >>> s.treatments[0].drug.dose   # kg
    5e-05
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ScenarioError("yaml", where, f"well-formed YAML ({problem})") from None
    return _build(doc)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ScenarioError("scenario file", str(p), f"a readable file ({exc.strerror})") from None
    return parse_scenario(text)
