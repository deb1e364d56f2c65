from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import pint
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from .._units import DAY, HOUR, Q_, parse_quantity, to_si
from ..errors import SafetyError, ScenarioError
from ..pharmacology import DRUGS
from ..therapy.placebo import FORMS as PLACEBO_FORMS
from ._yaml import load_yaml, read_text

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


MAX_NAME = 200            # characters in the scenario name
MAX_DESCRIPTION = 10_000  # characters in the description
MAX_ARM_NAME = 100        # characters in an arm name
MAX_SEED = 2**63 - 1      # fits a NetCDF int64 attribute; the random streams use it modulo 2**64
MAX_DOSE_MG = 10_000.0    # 10 g in one dose: beyond any drug here, even off label
MAX_DOSE_MG_PER_KG = 100.0


def _text(v: Any, field: str, limit: int, *, empty: bool = False, example: str | None = None) -> str:
    """A string of at most ``limit`` characters (never a number, list or mapping converted to one)."""
    if not isinstance(v, str):
        raise ScenarioError(field, v, f"text (a string of at most {limit:,} characters), e.g. {example or field + ': my scenario'}"
                            + ("; quote it if it looks like a number" if isinstance(v, (int, float, bool)) else ""))
    if len(v) > limit or (not empty and not v.strip()):
        raise ScenarioError(field, v if len(v) <= 60 else f"{v[:40]}... ({len(v):,} characters)",
                            f"a non-empty string of at most {limit:,} characters" if not empty else f"at most {limit:,} characters")
    return v


def _flag(d: dict, key: str, field: str = "") -> None:
    """Refuse a flag that is present but not a YAML boolean (``"false"`` in quotes is a string, and true);
    ``field`` is the mapping's place (empty at the top level of the scenario)."""
    if key in d and not isinstance(d[key], bool):
        raise ScenarioError(f"{field}.{key}" if field else key, d[key], "true or false (a YAML boolean, without quotes)")


def _check_stop(parsed: dict, raw: dict, field: str) -> None:
    """Refuse a stop time at or before the start time (both already in seconds in ``parsed``)."""
    if parsed.get("stop") is not None and parsed["stop"] <= parsed.get("start", 0.0):
        raise ScenarioError(f"{field}.stop", raw.get("stop"), f"a time after start ({raw.get('start', '0 days')})")


def _start_stop(raw: dict, field: str) -> dict:
    """Parse the optional ``start`` and ``stop`` times of a treatment mapping."""
    return {k: _time(raw[k], f"{field}.{k}") for k in ("start", "stop") if raw.get(k) is not None}


class _Model(BaseModel):
    model_config = _CFG


class PatientSpec(_Model):
    """Traits of a single virtual patient; anything omitted takes the typical adult with moderate-severe MDD."""

    weight: float | None = 70.0  # kg; None = unknown (then weight-based doses are refused)
    cyp2c19: Literal["poor", "intermediate", "normal", "rapid", "ultrarapid"] = "normal"
    cyp2d6: Literal["poor", "intermediate", "normal", "rapid", "ultrarapid"] = "normal"

    @field_validator("weight", mode="before")
    @classmethod
    def _w(cls, v):
        if v is None:
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raise ScenarioError("patient.weight", v, "a body mass with a unit, e.g. '70 kg'")
        w = to_si(v, "patient.weight", "kg", allowed="a body mass, e.g. '70 kg'")
        if not (20.0 <= w <= 300.0):
            raise ScenarioError("patient.weight", v, "a body mass between 20 kg and 300 kg")
        return w

    motor_depth: float | None = None  # m, scalp to motor hand area (None: the registry median)
    dlpfc_depth: float | None = None  # m, scalp to dlPFC

    @field_validator("motor_depth", "dlpfc_depth", mode="before")
    @classmethod
    def _depth(cls, v, info):
        if v is None:
            return None
        name = f"patient.{info.field_name}"
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raise ScenarioError(name, v, "a scalp-to-cortex distance with a unit, e.g. '18 mm'")
        d = to_si(v, name, "m", allowed="a scalp-to-cortex distance, e.g. '18 mm'")
        if not (5e-3 <= d <= 45e-3):
            raise ScenarioError(name, v, "a scalp-to-cortex distance between 5 mm and 45 mm")
        return d


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
    formulation: str | None = None   # oral formulation (ir, xr, sr, xl) where the drug has several; None: the default
    allow_off_label: bool = False

    @property
    def pk_route(self) -> str:
        """The depot the doses go to: the route, with the formulation where it is not the drug's default."""
        forms = DRUGS[self.drug].formulations
        if self.formulation is None or not forms or self.formulation == forms[0]:
            return self.route
        return f"{self.route}_{self.formulation}"

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
            except ScenarioError as exc:
                if exc.allowed.startswith("a finite"):
                    raise
                q = parse_quantity(dose, f"{f}.dose", "mg/kg",
                                   allowed="a mass (e.g. '10 mg') or a mass per body weight (e.g. '0.5 mg/kg')")
                per_kg = True
            value = float(q.to_base_units().magnitude)
            if not value > 0:
                raise ScenarioError(f"{f}.dose", dose, "a positive dose")
            cap = MAX_DOSE_MG_PER_KG if per_kg else MAX_DOSE_MG
            if value * 1e6 > cap:   # absurd even off label: refused whatever allow_off_label says
                raise ScenarioError(f"{f}.dose", dose, f"at most {cap:,g} {'mg/kg' if per_kg else 'mg'} per dose")
            d["dose"], d["dose_per_kg"] = value, per_kg
        else:
            raise ScenarioError(f"{f}.dose", dose, "a dose with a unit, e.g. '10 mg' or '0.5 mg/kg'")
        _flag(d, "allow_off_label", f)
        route = d.get("route") or info.routes[0]
        if route not in info.routes:
            raise ScenarioError(f"{f}.route", route, f"a route for {name}: {', '.join(info.routes)}")
        d["route"] = route
        if d.get("formulation") is not None:
            form = d["formulation"]
            if not info.formulations:
                raise ScenarioError(f"{f}.formulation", form, f"no formulation for {name} (one oral form is modelled)")
            if form not in info.formulations:
                raise ScenarioError(f"{f}.formulation", form, f"a formulation of {name}: {', '.join(info.formulations)}")
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
        _check_stop(d, data, f)
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

    def doses_in_window(self, window: float, duration: float | None = None) -> int:
        """Most doses (infusion starts) in any window ``[t, t + window)`` of the schedule (rolling window).

        Counted on the actual dose times -- ``at`` times, or ``every`` from ``start`` to ``stop`` (and before
        ``duration`` if given) -- without listing them, so a very short ``every`` costs nothing.

        Example
        -------
        >>> d = DrugTreatment.model_validate({"drug": "sertraline", "dose": "50 mg", "every": "7 h"})
        >>> d.doses_in_window(DAY), d.doses_in_window(DAY, duration=10 * HOUR)   # 0, 7, 14, 21 h in one day
        (4, 2)
        """
        end = min(x for x in (duration, self.stop, np.inf) if x is not None)
        if self.at is not None:
            t = np.asarray([x for x in self.at if x < end])
            if not len(t):
                return 0
            return int((np.searchsorted(t, t + window - 1e-6, side="left") - np.arange(len(t))).max())
        if self.every is None:
            return int(self.start < end)
        per_window = int(np.ceil(window / self.every - 1e-9))
        if not np.isfinite(end):
            return per_window
        n = int(max(0.0, end - self.start) / self.every + 1 - 1e-9)   # as dose_times
        if n > 0 and self.start + (n - 1) * self.every >= end - 1e-6:
            n -= 1
        return min(per_window, max(n, 0))

    def daily_dose_mg(self, weight_kg: float, duration: float | None = None) -> float:
        """Largest amount given within any 24 h (rolling window over the dose times), in mg (labelling check).

        Example
        -------
        >>> d = DrugTreatment.model_validate({"drug": "sertraline", "dose": "50 mg", "every": "7 h"})
        >>> round(d.daily_dose_mg(70.0), 9)   # 0, 7, 14 and 21 h fall in one 24 h window
        200.0
        """
        per = self.dose * (weight_kg if self.dose_per_kg else 1.0) * 1e6
        return per * self.doses_in_window(DAY, duration)


def _pos_int(v, field, lo=1, hi=100000):
    if not isinstance(v, int) or isinstance(v, bool) or not (lo <= v <= hi):
        raise ScenarioError(field, v, f"a whole number from {lo} to {hi}")
    return v


def _mapping(v, field, example):
    if not isinstance(v, dict):
        raise ScenarioError(field, v, f"a mapping such as {example}")
    return dict(v)


def _only(d, allowed, field):
    extra = [k for k in d if k not in allowed]
    if extra:
        close = difflib.get_close_matches(str(extra[0]), sorted(allowed), n=1)
        raise ScenarioError(f"{field}.{extra[0]}", d[extra[0]], "a known key" + (f" (did you mean {close[0]!r}?)" if close else f": {', '.join(sorted(allowed))}"))


def _pct_rmt(v, field):
    import re
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*%\s*(r?MT)?\s*", str(v), flags=re.I) if isinstance(v, str) else None
    if not m:
        raise ScenarioError(field, v, "an intensity as a percentage of resting motor threshold, e.g. '120% rMT'")
    x = float(m.group(1))
    if not (1.0 <= x <= 200.0):
        raise ScenarioError(field, v, "an intensity from 1% to 200% rMT")
    return x


class SessionSchedule(_Model):
    """Sessions from start to stop, several a day at a set interval, on ``days``: weekdays, daily, or an explicit
    list (``day_times``, the start of each session day); ``sessions_per_week`` (a list, one entry per course week
    from the start's week) tapers a course: a week's sessions are spread over its weekdays (daily courses: its days)
    and the course ends when the list does."""

    sessions_per_day: int = 1
    session_interval: float = 50 * 60.0   # s, from the end of one session to the start of the next
    days: Literal["weekdays", "daily", "list"] = "weekdays"
    day_times: tuple[float, ...] | None = None      # s, with days: list
    sessions_per_week: tuple[int, ...] | None = None
    start: float = 0.0
    stop: float | None = None
    first_session_time: float = 9 * 3600.0

    def session_days(self, end: float) -> list[int]:
        """Day numbers (days since the scenario's start) with sessions, before ``end`` (s)."""
        if self.days == "list":
            return sorted({int(np.floor(t / DAY + 1e-9)) for t in self.day_times or () if self.start - DAY < t < end})
        day0 = int(np.floor(self.start / DAY))
        out = []
        d = day0
        if self.sessions_per_week is not None:
            for k, n in enumerate(self.sessions_per_week):
                week = day0 + 7 * k
                pool = list(range(week, week + 7)) if self.days == "daily" else \
                    [x for x in range(week, week + 7) if x % 7 < 5][:5]
                if n >= len(pool):
                    pick = pool
                elif n == 1:
                    pick = pool[:1]
                else:
                    pick = [pool[int(round(j * (len(pool) - 1) / (n - 1)))] for j in range(n)] if n else []
                out += [x for x in pick if x * DAY < end]
            return out
        while d * DAY < end:
            if self.days == "daily" or d % 7 < 5:
                out.append(d)
            d += 1
        return out

    def session_starts(self, duration: float, session_length: float) -> list[float]:
        end = duration if self.stop is None else min(self.stop, duration)
        out = []
        for d in self.session_days(end):
            for k in range(self.sessions_per_day):
                t = d * DAY + self.first_session_time + k * (session_length + self.session_interval)
                if self.start <= t < end and t < duration:
                    out.append(float(t))
        return out


def _schedule(d: dict, field: str) -> dict:
    out = {}
    if "sessions_per_day" in d:
        out["sessions_per_day"] = _pos_int(d["sessions_per_day"], f"{field}.sessions_per_day", 1, 20)
    if "session_interval" in d:
        out["session_interval"] = _time(d["session_interval"], f"{field}.session_interval")
    if "days" in d:
        v = d["days"]
        if isinstance(v, list):
            if not v:
                raise ScenarioError(f"{field}.days", v, "weekdays, daily, or a non-empty list of days, e.g. [0 d, 2 d, 4 d]")
            times = [_time(x, f"{field}.days[{i}]") for i, x in enumerate(v)]
            if len({int(np.floor(t / DAY + 1e-9)) for t in times}) != len(times):
                raise ScenarioError(f"{field}.days", v, "distinct days (a day once; sessions_per_day sets how many that day)")
            out["days"], out["day_times"] = "list", tuple(sorted(times))
        elif v in ("weekdays", "daily"):
            out["days"] = v
        else:
            raise ScenarioError(f"{field}.days", v, "weekdays, daily, or a list of days, e.g. [0 d, 2 d, 4 d]")
    if "sessions_per_week" in d:
        v = d["sessions_per_week"]
        if out.get("days") == "list":
            raise ScenarioError(f"{field}.sessions_per_week", v, "either a list of days or sessions_per_week, not both")
        if not isinstance(v, list) or not v:
            raise ScenarioError(f"{field}.sessions_per_week", v, "a list with one number per course week, e.g. [5, 5, 5, 3, 2, 1]")
        top = 7 if out.get("days") == "daily" else 5
        out["sessions_per_week"] = tuple(_pos_int(x, f"{field}.sessions_per_week[{i}]", 0, top) for i, x in enumerate(v))
        if len(v) > 520:
            raise ScenarioError(f"{field}.sessions_per_week", f"{len(v)} weeks", "at most 520 weeks")
    out.update(_start_stop(d, field))
    _check_stop(out, d, field)
    return out


class TMSTreatment(_Model):
    """Repetitive TMS: a protocol (what each session delivers) on a session schedule."""

    protocol: str
    pulses: int | None = None
    intensity: float = 120.0        # % rMT
    frequency: float | None = None  # Hz, custom
    train_duration: float | None = None
    inter_train_interval: float | None = None
    target: Literal["5cm", "beam_f3", "mni", "sgacc_anticorrelated"] = "5cm"
    target_mni: tuple[float, float, float] | None = None  # mm, MNI space, with target: mni
    adjust: Literal["none", "stokes"] = "none"
    coil: Literal["figure8", "round"] = "figure8"
    schedule: SessionSchedule = SessionSchedule()
    allow_unsafe: bool = False

    @property
    def aim(self):
        """The targeting method as a :class:`~neuroplastic.physics.tms.targeting.Target`."""
        from ..physics.tms.targeting import Target
        return Target(self.target, self.target_mni)

    def make_protocol(self):
        from ..physics.tms.protocols import make_protocol
        custom = {k: getattr(self, k) for k in ("frequency", "train_duration", "inter_train_interval")
                  if getattr(self, k) is not None}
        return make_protocol(self.protocol, self.pulses, **custom)


_TARGETS_HELP = "5cm, beam_f3, sgacc_anticorrelated, or mni: [x, y, z] (mm, left dlPFC)"


def _target(v, field: str) -> dict:
    """``target:`` of a TMS treatment: a method name, or ``{mni: [x, y, z]}`` (mm). ``dlpfc`` is the 5-cm rule."""
    if isinstance(v, dict):
        if set(v) != {"mni"}:
            raise ScenarioError(field, v, _TARGETS_HELP)
        xyz = v["mni"]
        if not (isinstance(xyz, list) and len(xyz) == 3 and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in xyz)):
            raise ScenarioError(f"{field}.mni", xyz, "three MNI coordinates in mm, e.g. [-38, 44, 26]")
        x, y, z = (float(c) for c in xyz)
        if not (-75 <= x <= -10 and -20 <= y <= 75 and -10 <= z <= 80):
            raise ScenarioError(f"{field}.mni", xyz, "a left frontal coordinate: x in [-75, -10], y in [-20, 75], z in [-10, 80] mm")
        return {"target": "mni", "target_mni": (x, y, z)}
    name = str(v).lower()
    if name == "dlpfc":  # the historical default: the 5-cm rule
        name = "5cm"
    if name not in ("5cm", "beam_f3", "sgacc_anticorrelated"):
        close = difflib.get_close_matches(name, ["5cm", "beam_f3", "sgacc_anticorrelated"], n=1)
        raise ScenarioError(field, v, _TARGETS_HELP + (f" (did you mean {close[0]!r}?)" if close else ""))
    return {"target": name}


def _parse_tms(raw, field, allow_unsafe) -> TMSTreatment:
    d = _mapping(raw, field, "{protocol: 10hz, pulses: 3000, intensity: 120% rMT, days: weekdays, stop: 6 weeks}")
    keys = {"protocol", "pulses", "intensity", "frequency", "train_duration", "inter_train_interval", "target", "coil",
            "adjust", "sessions_per_day", "session_interval", "days", "sessions_per_week", "start", "stop", "allow_unsafe"}
    _only(d, keys, field)
    _flag(d, "allow_unsafe", field)
    from ..physics.tms.protocols import NAMES
    proto = str(d.get("protocol", "")).lower()
    if proto not in NAMES:
        close = difflib.get_close_matches(proto, NAMES, n=1)
        raise ScenarioError(f"{field}.protocol", d.get("protocol"), f"one of {', '.join(NAMES)}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    out: dict[str, Any] = {"protocol": proto}
    if d.get("pulses") is not None:
        out["pulses"] = _pos_int(d["pulses"], f"{field}.pulses", 1, 20000)
    if "intensity" in d:
        out["intensity"] = _pct_rmt(d["intensity"], f"{field}.intensity")
    if d.get("frequency") is not None:
        out["frequency"] = to_si(d["frequency"], f"{field}.frequency", "Hz", allowed="a frequency, e.g. '10 Hz'")
        if not 0 < out["frequency"] <= 100:
            raise ScenarioError(f"{field}.frequency", d["frequency"], "a frequency between 0 and 100 Hz")
    for k in ("train_duration", "inter_train_interval"):
        if d.get(k) is not None:
            out[k] = _time(d[k], f"{field}.{k}", positive=(k == "train_duration"))
    if proto == "custom" and "frequency" not in out:
        raise ScenarioError(f"{field}.frequency", None, "a frequency for a custom protocol, e.g. '10 Hz'")
    if "target" in d:
        out.update(_target(d["target"], f"{field}.target"))
    if "adjust" in d:
        if d["adjust"] not in ("none", "stokes"):
            raise ScenarioError(f"{field}.adjust", d["adjust"], "none or stokes (Stokes 2007 scalp-cortex distance adjustment)")
        out["adjust"] = d["adjust"]
    if "coil" in d:
        out["coil"] = d["coil"]
    out["schedule"] = SessionSchedule(**_schedule(d, field))
    unsafe = bool(d.get("allow_unsafe", False)) or allow_unsafe
    out["allow_unsafe"] = unsafe
    tms = _validate(TMSTreatment, out, field)
    protocol = tms.make_protocol()
    from ..physics.tms.safety import check_protocol
    check_protocol(protocol, tms.intensity, allow_unsafe=unsafe)
    sched = tms.schedule
    daily = sched.sessions_per_day * int(protocol.n_pulses)
    from ..physics.tms.safety import safety_table
    cap = int(safety_table()["daily"]["max_pulses_per_day"])
    if daily > cap and not unsafe:
        from ..errors import SafetyError
        raise SafetyError(f"{field}.sessions_per_day", f"{sched.sessions_per_day} sessions of {protocol.n_pulses} pulses ({daily} a day)",
                          f"at most {cap} pulses a day, the most given in published accelerated series (Cole 2020, 2022); "
                          "set allow_unsafe: true to override")
    day_span = sched.first_session_time + sched.sessions_per_day * protocol.duration + (sched.sessions_per_day - 1) * sched.session_interval
    if day_span > DAY:
        raise ScenarioError(f"{field}.sessions_per_day", sched.sessions_per_day,
                            f"sessions that fit in one day ({sched.sessions_per_day} x {protocol.duration / 60:.0f} min with {sched.session_interval / 60:.0f} min between them do not)")
    return tms


class VNSTreatment(_Model):
    """Vagus nerve stimulation from an implanted electrode, duty-cycled, from start (to stop)."""

    current: float      # A
    pulse_width: float  # s
    frequency: float    # Hz
    on: float           # s
    off: float          # s
    start: float = 0.0
    stop: float | None = None

    def settings(self):
        from ..physics.vns import VNSSettings
        return VNSSettings(self.current, self.pulse_width, self.frequency, self.on, self.off)


def _parse_vns(raw, field, allow_unsafe) -> VNSTreatment:
    d = _mapping(raw, field, "{current: 1.0 mA, pulse_width: 250 us, frequency: 20 Hz, on: 30 s, off: 5 min}")
    # YAML 1.1 reads the bare keys `on`/`off` as booleans
    for b, name in ((True, "on"), (False, "off")):
        if b in d and name in d:   # `on:` and `"on":` both given: one would silently win
            raise ScenarioError(f"{field}.{name}", d[name], f"'{name}' given once")
    d = {("on" if k is True else "off" if k is False else k): v for k, v in d.items()}
    _only(d, {"current", "pulse_width", "frequency", "on", "off", "start", "stop", "allow_unsafe"}, field)
    _flag(d, "allow_unsafe", field)
    out: dict[str, Any] = {}
    for k, dim, ex in (("current", "mA", "'1.0 mA'"), ("pulse_width", "us", "'250 us'"), ("frequency", "Hz", "'20 Hz'")):
        if k not in d:
            raise ScenarioError(f"{field}.{k}", None, f"a value such as {ex}")
        out[k] = to_si(d[k], f"{field}.{k}", dim, allowed=f"a quantity such as {ex}")
        if not out[k] > 0:
            raise ScenarioError(f"{field}.{k}", d[k], f"a positive value such as {ex}")
    for k in ("on", "off"):
        if k not in d:
            raise ScenarioError(f"{field}.{k}", None, "a time such as '30 s' (on) or '5 min' (off)")
        out[k] = _time(d[k], f"{field}.{k}", positive=True)
    out.update(_start_stop(d, field))
    _check_stop(out, d, field)
    v = _validate(VNSTreatment, out, field)
    from ..physics.vns import check_limits
    check_limits(v.settings(), field, allow_unsafe=allow_unsafe or bool(d.get("allow_unsafe", False)))
    return v


class PsychotherapyTreatment(_Model):
    """Psychotherapy: sessions at a fixed interval (CBT or behavioural activation) with daily practice between them."""

    kind: Literal["cbt", "ba"]
    every: float = 7 * DAY
    sessions: int = 16
    session_length: float = 50 * 60.0
    start: float = 0.0
    stop: float | None = None   # s; the course ends here (no sessions or practice after it)

    def end(self, duration: float) -> float:
        """When the course's input ends: ``stop``, or the scenario's end."""
        return duration if self.stop is None else min(duration, self.stop)

    def session_times(self, duration: float) -> list[float]:
        first = np.floor(self.start / DAY) * DAY + 10 * 3600.0 if self.start % DAY == 0 else self.start
        end = self.end(duration)
        return [first + k * self.every for k in range(self.sessions) if first + k * self.every < end]


def _parse_psychotherapy(raw, field) -> PsychotherapyTreatment:
    d = _mapping(raw, field, "{kind: cbt, every: 1 week, sessions: 16}")
    _only(d, {"kind", "every", "sessions", "session_length", "start", "stop"}, field)
    if d.get("kind") not in ("cbt", "ba", "behavioural_activation", "behavioral_activation"):
        raise ScenarioError(f"{field}.kind", d.get("kind"), "cbt or ba (behavioural activation)")
    out: dict[str, Any] = {"kind": "ba" if str(d["kind"]).startswith("behav") else d["kind"]}
    if "every" in d:
        out["every"] = _time(d["every"], f"{field}.every", positive=True)
    if "sessions" in d:
        out["sessions"] = _pos_int(d["sessions"], f"{field}.sessions", 1, 500)
    if "session_length" in d:
        out["session_length"] = _time(d["session_length"], f"{field}.session_length", positive=True)
        if out["session_length"] > 4 * 3600:
            raise ScenarioError(f"{field}.session_length", d["session_length"], "at most 4 hours")
    out.update(_start_stop(d, field))
    _check_stop(out, d, field)
    pt = _validate(PsychotherapyTreatment, out, field)
    if pt.session_length >= pt.every:
        raise ScenarioError(f"{field}.every", d.get("every"), "an interval longer than a session")
    return pt


class PlaceboTreatment(_Model):
    """A placebo: what is believed to be a treatment (pill, sham TMS, saline infusion, nasal spray, an implant).

    With neither ``at`` nor ``every`` the belief is held from ``start`` to ``stop``; with ``at`` (a list of times) or
    ``every`` (from ``start`` to ``stop``) each administration is an event the patient experiences, and the belief
    follows those events (:func:`neuroplastic.therapy.placebo.belief_windows`).
    """

    form: Literal[PLACEBO_FORMS]
    start: float = 0.0
    stop: float | None = None
    at: tuple[float, ...] | None = None
    every: float | None = None

    def administrations(self, duration: float) -> list[float] | None:
        """Times (s) of the administrations before ``duration``; None for a belief held from start to stop."""
        if self.at is not None:
            return [t for t in self.at if t < duration]
        if self.every is None:
            return None
        end = min(duration, self.stop if self.stop is not None else duration)
        n = int(max(0.0, end - self.start) / self.every + 1 - 1e-9)
        return [t for t in (self.start + k * self.every for k in range(n)) if t < end - 1e-6]


_PLACEBO_IGNORED = {"dose", "infusion", "route", "protocol", "pulses", "intensity", "sessions_per_day",
                    "session_interval", "days", "frequency", "train_duration", "inter_train_interval", "coil", "target",
                    "sessions", "session_length", "kind", "current", "pulse_width", "on", "off", True, False}
_PLACEBO_KEYS = ("form", "start", "stop", "at", "every")


def _parse_placebo(raw, field) -> PlaceboTreatment:
    d = _mapping(raw, field, "{form: pill}")
    if d.get("form") not in PLACEBO_FORMS:
        raise ScenarioError(f"{field}.form", d.get("form"), ", ".join(PLACEBO_FORMS[:-1]) + " or " + PLACEBO_FORMS[-1])
    # a placebo is modelled as expectancy that follows its administrations (therapy/placebo.py); keys the model
    # does not read (a dose, an infusion length, sham-TMS session settings) are refused rather than ignored
    ignored = [k for k in d if k not in _PLACEBO_KEYS]
    if ignored:
        k = ignored[0]
        known = k in _PLACEBO_IGNORED
        raise ScenarioError(f"{field}.{k}", d[k], "only form, start, stop, at (a list of times) or every in a placebo: "
                            + ("a placebo is modelled as expectancy that follows its administrations, so its dose, "
                               "infusion length and session settings (sessions_per_day, session_interval, days) do not "
                               "change it" if known else f"{k!r} is not a placebo setting"
                               + "".join(f" (did you mean {c!r}?)" for c in difflib.get_close_matches(str(k), _PLACEBO_KEYS, n=1))))
    out: dict[str, Any] = {"form": d["form"]}
    out.update(_start_stop(d, field))
    if "at" in d:
        at = d["at"] if isinstance(d["at"], list) else [d["at"]]
        if "start" in d or "every" in d:
            raise ScenarioError(f"{field}.at", d["at"], "either 'at' or 'start'/'every', not both")
        if not at:
            raise ScenarioError(f"{field}.at", d["at"], "a non-empty list of times, e.g. [0 d, 3 d, 7 d]")
        times = sorted(_time(x, f"{field}.at[{i}]") for i, x in enumerate(at))
        if len(set(times)) != len(times):
            raise ScenarioError(f"{field}.at", d["at"], "distinct administration times")
        out["at"], out["start"] = tuple(times), times[0]
        if "stop" in d:
            raise ScenarioError(f"{field}.stop", d["stop"], "no stop with 'at' (the list says when it is given)")
    if "every" in d:
        out["every"] = _time(d["every"], f"{field}.every", positive=True)
        if out["every"] < 3600.0:
            raise ScenarioError(f"{field}.every", d["every"], "at least 1 h between placebo administrations")
    if d["form"] == "implant" and ("at" in d or "every" in d):
        k = "at" if "at" in d else "every"
        raise ScenarioError(f"{field}.{k}", d[k], "start and stop only for an implant (it is on, not given)")
    _check_stop(out, d, field)
    return _validate(PlaceboTreatment, out, field)


class Treatment(_Model):
    """Wrapper for any treatment kind; exactly one of its fields is set."""

    drug: DrugTreatment | None = None
    tms: TMSTreatment | None = None
    vns: VNSTreatment | None = None
    psychotherapy: PsychotherapyTreatment | None = None
    placebo: PlaceboTreatment | None = None

    @property
    def kind(self) -> str:
        return next(k for k in ("drug", "tms", "vns", "psychotherapy", "placebo") if getattr(self, k) is not None)


_KINDS = ("drug", "tms", "vns", "psychotherapy", "placebo")


def _parse_treatment(raw: Any, field: str, allow_unsafe: bool = False) -> Treatment:
    if not isinstance(raw, dict):
        raise ScenarioError(field, raw, "a mapping such as {drug: escitalopram, dose: 10 mg, every: 1 day}")
    kinds = [k for k in raw if k in _KINDS]
    if len(kinds) != 1:
        raise ScenarioError(field, raw, f"a treatment with exactly one of {', '.join(_KINDS)}, e.g. {{drug: escitalopram, dose: 10 mg, every: 1 day}}")
    k = kinds[0]
    if k == "drug":
        return Treatment(drug=_validate(DrugTreatment, {**raw, "_field": field}, field))
    if len(raw) != 1:
        extra = [x for x in raw if x != k][0]
        raise ScenarioError(f"{field}.{extra}", raw[extra], f"settings inside the {k} mapping")
    f = f"{field}.{k}"
    if k == "tms":
        return Treatment(tms=_parse_tms(raw[k], f, allow_unsafe))
    if k == "vns":
        return Treatment(vns=_parse_vns(raw[k], f, allow_unsafe))
    if k == "psychotherapy":
        return Treatment(psychotherapy=_parse_psychotherapy(raw[k], f))
    return Treatment(placebo=_parse_placebo(raw[k], f))


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
    ketamine_mechanism: Literal["both", "disinhibition", "eef2"] = "both"
    patient: PatientSpec = PatientSpec()
    n_patients: int = 1
    population: str | None = None
    design: Literal["parallel", "crossover"] = "parallel"
    expectancy: bool | None = None
    recall: float | None = None      # s; the ratings' recall window (None: each scale's own, one week)

    @property
    def models_expectancy(self) -> bool:
        """Whether knowing one is treated adds expectancy to every treatment. Explicit ``expectancy:`` wins;
        by default it is on: a patient who takes a pill, sits through TMS sessions or goes to therapy expects
        benefit, open label or blinded (Rutherford & Roose 2013). ``expectancy: false`` isolates what the
        treatment itself does."""
        return self.expectancy is not False
    treatments: tuple[Treatment, ...] = ()
    arms: tuple[tuple[str, tuple[Treatment, ...]], ...] | None = None
    visits: tuple[float, ...] | None = None
    allow_off_label: bool = False
    allow_unsafe: bool = False
    phases: tuple | None = None      # design.Phase, ... (scenario/_design.py)
    rules: tuple = ()                # design.Rule, ...
    endpoints: dict | None = None    # name -> endpoint model (relapse)
    dropout: dict | None = None      # trial.dropout.* overrides (SI); None: no dropout

    @property
    def is_design(self) -> bool:
        """Whether the run makes per-patient decisions: phases, rules or dropout (trials/_adaptive.py)."""
        return self.phases is not None or bool(self.rules) or self.dropout is not None

    @classmethod
    def build(cls, **doc: Any) -> "Scenario":
        """Validate a scenario document (a mapping with the YAML keys)."""
        return _build(doc)

    def arm_list(self) -> list[tuple[str, tuple[Treatment, ...]]]:
        """The arms to run: the named arms, or one arm holding ``treatments``. With phases: every way through each
        phase (``phase/arm``), its treatments on the scenario clock (what the resource budget counts)."""
        if self.phases is not None:
            from ._design import shift
            return [(label, tuple(x for x in (shift(t, ph.start, ph.end) for t in trs) if x is not None))
                    for ph in self.phases for label, trs in ph.branches()]
        return list(self.arms) if self.arms is not None else [("treatment", self.treatments)]


_KEYS = {"name", "description", "duration", "output_every", "seed", "hypothesis", "ketamine_mechanism", "patient", "patients",
         "treatments", "arms", "visits", "allow_off_label", "allow_unsafe", "design", "expectancy", "phases", "rules",
         "endpoints", "dropout", "recall"}


def _build(doc: Any) -> Scenario:
    if not isinstance(doc, dict):
        raise ScenarioError("scenario", type(doc).__name__, "a YAML mapping with at least 'duration' and 'treatments'")
    unknown = [k for k in doc if k not in _KEYS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), sorted(_KEYS), n=1)
        raise ScenarioError(str(unknown[0]), doc[unknown[0]], "a known key" + (f" (did you mean {close[0]!r}?)" if close else f": {', '.join(sorted(_KEYS))}"))
    out: dict[str, Any] = {}
    if "name" in doc:
        out["name"] = _text(doc["name"], "name", MAX_NAME)
    if "description" in doc:
        out["description"] = _text(doc["description"], "description", MAX_DESCRIPTION, empty=True)
    phases = None
    if "phases" in doc:
        from . import _design
        for k in ("treatments", "arms"):
            if k in doc:
                raise ScenarioError(k, "...", "treatments and arms inside each phase when 'phases' is given")
        phases = _design.parse_phases(doc["phases"], doc.get("allow_unsafe") is True)
        total = phases[-1].end
        if "duration" in doc and abs(_time(doc["duration"], "duration", positive=True) - total) > 1e-6:
            raise ScenarioError("duration", doc["duration"], f"the phases' total ({total / DAY:g} days), or no duration")
        doc = {**doc, "duration": f"{total} s"}
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
        if out["output_every"] > out["duration"]:
            raise ScenarioError("output_every", doc["output_every"], f"an interval no longer than the duration ({doc['duration']})")
    if "recall" in doc:
        out["recall"] = _time(doc["recall"], "recall", positive=True)
        if not 3600.0 - 1e-6 <= out["recall"] <= 28 * DAY + 1e-6:
            raise ScenarioError("recall", doc["recall"], "a recall window from 1 hour to 4 weeks (the scales rate the past week)")
    if "seed" in doc:
        s = doc["seed"]
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s <= MAX_SEED:
            raise ScenarioError("seed", s, f"a whole number from 0 to {MAX_SEED} (2**63 - 1)")
        out["seed"] = s
    if "hypothesis" in doc:
        h = doc["hypothesis"]
        if h not in HYPOTHESES:
            raise ScenarioError("hypothesis", h, f"one of {', '.join(HYPOTHESES)}")
        out["hypothesis"] = h
    if "ketamine_mechanism" in doc:
        km = doc["ketamine_mechanism"]
        if km not in ("both", "disinhibition", "eef2"):
            raise ScenarioError("ketamine_mechanism", km, "one of both, disinhibition, eef2")
        out["ketamine_mechanism"] = km
    for flag in ("allow_off_label", "allow_unsafe", "expectancy"):
        _flag(doc, flag)
        if flag in doc:
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
        if n > 1_000_000:
            raise ScenarioError("patients.n", n, "at most 1,000,000 patients per arm")
        out["n_patients"] = n
        if isinstance(pts, dict):
            extra = [k for k in pts if k not in ("n", "population")]
            if extra:
                raise ScenarioError(f"patients.{extra[0]}", pts[extra[0]], "n and population")
            if pts.get("population") is not None:
                from ..population import POPULATIONS   # deferred: population imports the engine, which imports this
                if pts["population"] not in POPULATIONS:
                    raise ScenarioError("patients.population", pts["population"], f"one of {', '.join(POPULATIONS)}")
                out["population"] = str(pts["population"])
    if "design" in doc:
        if doc["design"] not in ("parallel", "crossover"):
            raise ScenarioError("design", doc["design"], "parallel or crossover")
        out["design"] = doc["design"]
    unsafe = bool(out.get("allow_unsafe", False))
    has_t, has_a = "treatments" in doc, "arms" in doc
    if has_t and has_a:
        raise ScenarioError("arms", "...", "either 'treatments' or 'arms', not both")
    if has_t:
        tr = doc["treatments"] or []
        if not isinstance(tr, list):
            raise ScenarioError("treatments", tr, "a list of treatments")
        out["treatments"] = tuple(_parse_treatment(t, f"treatments[{i}]", unsafe) for i, t in enumerate(tr))
    if has_a:
        arms = doc["arms"]
        if not isinstance(arms, dict) or not arms:
            raise ScenarioError("arms", arms, "a mapping of arm name -> list of treatments")
        parsed = []
        for name, tr in arms.items():
            name = _text(name, "arms", MAX_ARM_NAME, example="an arm name such as placebo")
            if tr is None:
                tr = []
            if not isinstance(tr, list):
                raise ScenarioError(f"arms.{name}", tr, "a list of treatments")
            parsed.append((name, tuple(_parse_treatment(t, f"arms.{name}[{i}]", unsafe) for i, t in enumerate(tr))))
        out["arms"] = tuple(parsed)
    if "visits" in doc:
        v = doc["visits"]
        if not isinstance(v, list) or not v:
            raise ScenarioError("visits", v, "a list of times, e.g. [0 d, 1 w, 2 w]")
        out["visits"] = _visits(v, out["duration"], doc["duration"])
    if "design" in doc and phases is not None:
        raise ScenarioError("design", doc["design"], "no design with phases (a phase's arms are randomised among the eligible)")
    if phases is not None:
        out["phases"] = phases
    if "rules" in doc:
        from . import _design
        out["rules"] = _design.parse_rules(doc["rules"], out["duration"], unsafe)
    if "endpoints" in doc:
        from . import _design
        out["endpoints"] = _design.parse_endpoints(doc["endpoints"], phases)
    if doc.get("dropout") not in (None, False):
        from . import _design
        if out.get("n_patients", 1) == 1 and out.get("population") is None:
            raise ScenarioError("dropout", doc["dropout"], "a cohort for dropout (patients: {n: 200, population: mdd}); "
                                "a single patient is followed to the end")
        out["dropout"] = _design.parse_dropout(doc["dropout"])
    sc = _validate(Scenario, out, "scenario")
    if phases is not None:   # each phase's arms checked as a scenario of the phase's length, fields named in full
        for i, ph in enumerate(phases):
            part = sc.model_copy(update={"phases": None, "rules": (), "duration": ph.duration,
                                         "treatments": ph.treatments or (), "arms": ph.arms})
            _prefixed(f"phases[{i}].", part)
    else:
        _check_starts(sc)
        _check_schedules(sc)
    _check_changed_doses(sc)
    for i, r in enumerate(sc.rules):   # a rule's treatments, from its first evaluation to the end
        acts = [r.then] if r.then.kind != "randomise" else [a for _, a in r.then.options]
        t0 = r.when.times(sc.duration)[0]
        for j, a in enumerate(acts):
            if a.treatments:
                where = f"rules[{i}].then." + (a.kind if r.then.kind != "randomise" else f"randomise.{r.then.options[j][0]}.{a.kind}")
                part = sc.model_copy(update={"phases": None, "rules": (), "duration": sc.duration - t0,
                                             "treatments": a.treatments, "arms": None})
                _prefixed(where, part, strip="treatments")
    return sc


def _check_changed_doses(sc: "Scenario") -> None:
    """A rule's change_dose, applied to every schedule of that drug the scenario can give, must stay within the
    labelled limits (checked before any work; the run checks the schedule it actually changes again)."""
    if sc.allow_off_label:
        return
    schedules = [t for _, trs in (sc.arm_list() if sc.phases is None else []) for t in trs]
    for ph in sc.phases or ():
        schedules += [t for _, trs in ph.branches() for t in trs]
    for r in sc.rules:
        acts = [r.then] if r.then.kind != "randomise" else [a for _, a in r.then.options]
        for a in acts:
            schedules += list(a.treatments)
    weights = _dose_check_weights(sc)
    for i, r in enumerate(sc.rules):
        if r.then.kind != "change_dose":
            continue
        a = r.then
        for t in schedules:
            d = t.drug
            if d is None or d.drug != a.drugs[0] or d.every is None or d.allow_off_label:
                continue
            upd = {k: v for k, v in (("dose", a.dose), ("every", a.every)) if v is not None}
            new = d.model_copy(update=upd)
            _check_dose_interval(new, f"rules[{i}].then.change_dose")
            _check_dose_limits(new, f"rules[{i}].then.change_dose", sc.duration, weights)


def _prefixed(prefix: str, part: "Scenario", strip: str | None = None) -> None:
    """Run the start and schedule checks on ``part``, naming fields under ``prefix``."""
    try:
        _check_starts(part)
        _check_schedules(part)
    except ScenarioError as exc:
        field = exc.field
        if strip and field.startswith(strip):
            field = field[len(strip):]
            prefix = prefix.rstrip(".")
        raise exc.__class__(prefix + field, exc.value, exc.allowed) from None


def _visits(v: list, duration: float, raw_duration: Any) -> tuple[float, ...]:
    """Visit times: the first at 0 (the baseline rating), none after the duration, no time twice."""
    times = [_time(x, f"visits[{i}]") for i, x in enumerate(v)]
    seen: dict[float, int] = {}
    for i, t in enumerate(times):
        if t in seen:
            raise ScenarioError(f"visits[{i}]", v[i], f"distinct visit times (the same as visits[{seen[t]}])")
        seen[t] = i
        if t > duration:
            raise ScenarioError(f"visits[{i}]", v[i], f"a time within the duration ({raw_duration})")
    if min(times) != 0.0:
        i = times.index(min(times))
        raise ScenarioError(f"visits[{i}]", v[i], "a first visit at 0 days (the baseline rating), e.g. [0 d, 2 w, 4 w]")
    return tuple(sorted(times))


MAX_DOSES = 200_000   # doses of one treatment in one scenario (hourly for 20 years is 175,320)


def _check_starts(sc: Scenario) -> None:
    """Refuse a treatment that would deliver nothing before the end of the scenario (drugs: see _check_schedules),
    and a drug schedule with more doses than :data:`MAX_DOSES` (counted, not listed)."""
    end_days = f"{sc.duration / DAY:g} days"
    for arm, trs in sc.arm_list():
        prefix = "treatments" if sc.arms is None else f"arms.{arm}"
        for i, t in enumerate(trs):
            f = f"{prefix}[{i}].{t.kind}"
            if t.drug is not None:
                d = t.drug
                if d.every is not None:
                    end = min(sc.duration, d.stop if d.stop is not None else sc.duration)
                    if (end - d.start) / d.every > MAX_DOSES:
                        raise ScenarioError(f"{prefix}[{i}].every", f"{d.every:g} s",
                                            f"a schedule of at most {MAX_DOSES:,} doses (this one has "
                                            f"{(end - d.start) / d.every:,.0f})")
            elif t.tms is not None:
                sched = t.tms.schedule
                if sched.start >= sc.duration:
                    raise ScenarioError(f"{f}.start", f"{sched.start / DAY:g} days", f"a start before the end of the scenario ({end_days})")
                if not sched.session_starts(sc.duration, t.tms.make_protocol().duration):
                    raise ScenarioError(f"{f}.start", f"{sched.start / DAY:g} days",
                                        f"a course with at least one session before the end of the scenario ({end_days}; "
                                        f"sessions start at {sched.first_session_time / HOUR:g}:00 on "
                                        f"{'the listed days' if sched.days == 'list' else sched.days})")
            elif t.vns is not None:
                if t.vns.start >= sc.duration:
                    raise ScenarioError(f"{f}.start", f"{t.vns.start / DAY:g} days", f"a start before the end of the scenario ({end_days})")
            elif t.psychotherapy is not None:
                pt = t.psychotherapy
                if not pt.session_times(sc.duration):
                    raise ScenarioError(f"{f}.start", f"{pt.start / DAY:g} days",
                                        f"a first session before the end of the scenario ({end_days}; sessions start at 10:00)")
            elif t.placebo is not None:
                if t.placebo.at is not None and t.placebo.at[-1] >= sc.duration:
                    raise ScenarioError(f"{f}.at", f"{t.placebo.at[-1] / DAY:g} days", f"times within the scenario duration ({end_days})")
                if t.placebo.start >= sc.duration:
                    raise ScenarioError(f"{f}.start", f"{t.placebo.start / DAY:g} days", f"a start before the end of the scenario ({end_days})")


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


def _dose_check_weights(sc: Scenario) -> tuple[float, float, str]:
    """Body weights (kg) at which dose limits are checked: (lightest, heaviest, how they were chosen).

    One patient: the patient's weight. A cohort or population samples weights per patient, so the check must hold
    for every patient it can draw: a fixed dose (mg) is checked in mg/kg at the lightest weight the sampler can
    return and a weight-based dose (mg/kg) in mg at the heaviest (``population.WEIGHT_RANGE_KG``). An unknown
    single-patient weight is treated like a population.
    """
    from ..population._sample import WEIGHT_RANGE_KG   # deferred: population imports the engine, which imports this
    if sc.n_patients == 1 and sc.population is None and sc.patient.weight is not None:
        w = float(sc.patient.weight)
        return w, w, f"{w:g} kg"
    lo, hi = WEIGHT_RANGE_KG
    return lo, hi, f"{lo:g} kg, " + ("the lightest weight sampled" if sc.patient.weight is not None else "weight unknown")


def _check_dose_interval(d: DrugTreatment, f: str) -> None:
    """Refuse doses closer together than the route's minimum interval (dose_intervals.yaml)."""
    from ..pharmacology._drugs import min_dose_interval
    need, src = min_dose_interval(d.route)
    gaps = []
    if d.every is not None:
        gaps.append(("every", d.every))
    if d.at is not None and len(d.at) > 1:
        gaps.append(("at", float(np.min(np.diff(d.at)))))

    def span(x: float) -> str:
        return f"{x:.3g} s" if x < 60 else f"{x / 60:.3g} min" if x < HOUR else f"{x / HOUR:.3g} h"

    for key, gap in gaps:
        free = gap - (d.infusion or 0.0)   # iv: from the end of one infusion to the start of the next
        if free < need - 1e-6:
            what = f"{span(gap)} between doses" + (f" ({span(max(free, 0.0))} after a {span(d.infusion)} infusion)"
                                                  if d.infusion else "")
            rule = f"at least {span(need)} " + ("from the end of one infusion to the next" if d.infusion
                                                 else f"between {d.route} doses")
            raise SafetyError(f"{f}.{key}", what, f"{rule} ({src}); set allow_off_label: true to override")


def _check_dose_limits(d: DrugTreatment, f: str, duration: float, weights: tuple[float, float, str]) -> None:
    """Refuse a schedule above the drug's labelled or studied limits (drugs.yaml), per dose, per 24 h and per 7 days.

    Limits are evaluated on the actual dose times (rolling windows, :meth:`DrugTreatment.doses_in_window`) and in
    the limit's unit whatever the dose's unit (see :func:`_dose_check_weights`).
    """
    info = DRUGS[d.drug]
    lo, hi, how = weights
    tail = "; set allow_off_label: true to override"
    dose_mg = d.dose * 1e6                                   # mg, or mg/kg when dose_per_kg
    per_kg = dose_mg if d.dose_per_kg else dose_mg / lo      # mg/kg for the patient with the most per kg
    per_mg = dose_mg * hi if d.dose_per_kg else dose_mg      # mg for the patient with the most mg
    shown = (lambda x: f"{x:g} mg/kg") if d.dose_per_kg else \
        (lambda x: f"{x * lo:g} mg ({x:.3g} mg/kg at {how})")  # noqa: E731
    if info.max_dose_per_kg:
        lim = Q_(info.max_dose_per_kg).to("mg/kg").magnitude
        if per_kg > lim * (1 + 1e-9):
            raise SafetyError(f"{f}.dose", shown(per_kg), f"at most {lim:g} mg/kg per dose ({info.max_source}){tail}")
    n_day = d.doses_in_window(DAY, duration)
    if info.max_daily_dose_per_kg:
        lim = Q_(info.max_daily_dose_per_kg).to("mg/kg").magnitude
        if per_kg * n_day > lim * (1 + 1e-9):
            raise SafetyError(f"{f}.dose", f"{n_day} doses of {shown(per_kg)} in 24 h",
                              f"at most {lim:g} mg/kg per 24 h ({info.max_source}){tail}")
    if info.max_daily_dose:
        lim = Q_(info.max_daily_dose).to("mg").magnitude
        daily = per_mg * n_day
        if daily > lim * (1 + 1e-9):
            at = f" at {hi:g} kg" if d.dose_per_kg else ""
            raise SafetyError(f"{f}.dose", f"{daily:g} mg/day{at}", f"at most {lim:g} mg/day ({info.max_source}){tail}")
    if info.max_weekly_dose:
        lim = Q_(info.max_weekly_dose).to("mg").magnitude
        weekly = per_mg * d.doses_in_window(7 * DAY, duration)
        if weekly > lim * (1 + 1e-9):
            raise SafetyError(f"{f}.dose", f"{weekly:g} mg in 7 days",
                              f"at most {lim:g} mg per 7 days ({info.max_source}){tail}")


def _check_schedules(sc: Scenario) -> None:
    weights = _dose_check_weights(sc)
    for arm, trs in sc.arm_list():
        prefix = "treatments" if sc.arms is None else f"arms.{arm}"
        seen: dict[str, list[tuple[float, float, int]]] = {}
        for i, t in enumerate(trs):
            d = t.drug
            if d is None:
                continue
            f = f"{prefix}[{i}]"
            off_label_ok = sc.allow_off_label or d.allow_off_label
            if not off_label_ok:   # before listing dose times: `every: 1 s` is refused without building them
                _check_dose_interval(d, f)
            times = d.dose_times(sc.duration)
            if not times:
                raise ScenarioError(f"{f}.start", f"{d.start / DAY:g} days", f"a first dose before the end of the scenario ({sc.duration / DAY:g} days)")
            if d.at is not None and d.at[-1] >= sc.duration:
                raise ScenarioError(f"{f}.at", f"{d.at[-1] / DAY:g} days", f"times within the scenario duration ({sc.duration / DAY:g} days)")
            if d.dose_per_kg and sc.patient.weight is None and sc.n_patients == 1 and sc.population is None:
                raise ScenarioError(f"{f}.dose", f"{d.dose * 1e6:g} mg/kg", "a fixed dose, or a patient weight (patient: {weight: 70 kg}) for a weight-based dose")
            if not off_label_ok:
                _check_dose_limits(d, f, sc.duration, weights)
            span = (times[0], times[-1] + (d.every or d.infusion or 0.0))
            for (a, b, j) in seen.get(d.drug, []):
                if span[0] < b and a < span[1]:
                    raise ScenarioError(f"{f}.start", f"{d.start / DAY:g} days", f"a schedule for {d.drug} that does not overlap {prefix}[{j}] (combine them into one treatment)")
            seen.setdefault(d.drug, []).append((span[0], span[1], i))


def parse_scenario(text: str) -> Scenario:
    """Parse and validate a scenario from YAML text (safe loader; no object construction; duplicate keys, alias
    bombs and deep nesting refused, see :mod:`._yaml`).

    Example
    -------
    >>> s = parse_scenario("duration: 2 weeks\\ntreatments:\\n  - {drug: sertraline, dose: 50 mg, every: 1 day}\\n")
    >>> round(s.treatments[0].drug.dose * 1e6, 9)   # stored in kg
    50.0
    """
    if not isinstance(text, str):
        raise ScenarioError("scenario text", type(text).__name__, "YAML text (a str)")
    return _build(load_yaml(text))


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file (at most 1 MiB of UTF-8 text; see :mod:`._yaml`)."""
    return parse_scenario(read_text(path))
