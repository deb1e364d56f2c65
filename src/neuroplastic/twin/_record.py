"""A patient's record: what was given and when, the ratings at each visit, and the traits that are known.

YAML (the scenario language's ``treatments``, a ``ratings`` list, optional ``patient`` traits and ``population``)
or CSV (one row per rating, treatment or trait, as exported from a clinical record system). Parsed once into a
frozen :class:`Record`; every problem is one line naming the entry or row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._units import DAY
from ..errors import ScenarioError
from ..mood.scales import SCALES

POPULATIONS = ("mdd", "trd", "outpatient", "community")
CSV_COLUMNS = ("type", "day", "scale", "score", "drug", "dose", "every", "stop_day", "name", "value")


@dataclass(frozen=True)
class Rating:
    day: float
    scale: str
    score: float


@dataclass(frozen=True)
class Record:
    """A validated record. ``scenario`` holds the treatments and known traits (as a Scenario whose duration is the
    last rating day); ``ratings`` are sorted by day."""

    population: str
    scenario: Any            # neuroplastic.scenario.Scenario
    ratings: tuple[Rating, ...]
    source: str = ""

    @property
    def last_day(self) -> float:
        return max(r.day for r in self.ratings)

    def baseline(self, scale: str) -> float | None:
        """The first rating on ``scale`` (the record's baseline), or None."""
        return next((r.score for r in self.ratings if r.scale == scale), None)

    def to_yaml(self) -> str:
        """The record as YAML (what ``twin fit`` stores beside the posterior)."""
        import yaml
        return yaml.safe_dump(self._doc, sort_keys=False)


def _score(v: Any, field: str, scale: str) -> float:
    top = SCALES[scale].maximum
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or not 0 <= v <= top:
        raise ScenarioError(field, v, f"a {scale} score from 0 to {top:g}")
    return float(v)


def _day(v: Any, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or not 0 <= v <= 20 * 365:
        raise ScenarioError(field, v, "a day number from 0 (the record's first day), e.g. 14")
    return float(v)


def parse_record(doc: Any, source: str = "") -> Record:
    """Validate a record document (the YAML mapping).

    Example
    -------
    >>> r = parse_record({"population": "mdd", "treatments": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}],
    ...                   "ratings": [{"day": 0, "scale": "hamd17", "score": 24}, {"day": 14, "scale": "hamd17", "score": 21}]})
    >>> r.last_day, r.baseline("hamd17")
    (14.0, 24.0)
    """
    from ..scenario import Scenario

    if not isinstance(doc, dict):
        raise ScenarioError("record", type(doc).__name__, "a mapping with population, treatments and ratings")
    allowed = {"population", "patient", "treatments", "ratings", "name"}
    extra = [k for k in doc if k not in allowed]
    if extra:
        raise ScenarioError(str(extra[0]), doc[extra[0]], f"a record key: {', '.join(sorted(allowed))}")
    pop = doc.get("population", "mdd")
    if pop not in POPULATIONS:
        raise ScenarioError("population", pop, f"the population the patient comes from: {', '.join(POPULATIONS)}")
    raw = doc.get("ratings")
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("ratings", raw, "a non-empty list such as [{day: 0, scale: hamd17, score: 24}]")
    ratings, last = [], {}
    for i, r in enumerate(raw):
        f = f"ratings[{i}]"
        if not isinstance(r, dict):
            raise ScenarioError(f, r, "a mapping {day: 14, scale: hamd17, score: 21}")
        extra = [k for k in r if k not in ("day", "scale", "score")]
        if extra:
            raise ScenarioError(f"{f}.{extra[0]}", r[extra[0]], "day, scale and score")
        if r.get("scale") not in SCALES:
            raise ScenarioError(f"{f}.scale", r.get("scale"), f"one of {', '.join(SCALES)}")
        day = _day(r.get("day"), f"{f}.day")
        if day <= last.get(r["scale"], -1.0):
            raise ScenarioError(f"{f}.day", r.get("day"), f"a day after the previous {r['scale']} rating (day {last[r['scale']]:g}); ratings in time order, one per scale and day")
        last[r["scale"]] = day
        ratings.append(Rating(day, r["scale"], _score(r.get("score"), f"{f}.score", r["scale"])))
    if min(x.day for x in ratings) != 0:
        raise ScenarioError("ratings[0].day", ratings[0].day, "a first rating on day 0 (the baseline)")
    end = max(x.day for x in ratings)
    sdoc = {"name": str(doc.get("name", "record")), "duration": f"{max(end, 1.0)} days",
            "treatments": doc.get("treatments") or []}
    if doc.get("patient") is not None:
        sdoc["patient"] = doc["patient"]
    sc = Scenario.build(**sdoc)
    rec = Record(pop, sc, tuple(sorted(ratings, key=lambda x: (x.day, x.scale))), source)
    object.__setattr__(rec, "_doc", {k: doc[k] for k in ("name", "population", "patient", "treatments") if k in doc}
                       | {"ratings": [{"day": x.day, "scale": x.scale, "score": x.score} for x in rec.ratings]})
    return rec


def _csv_record(text: str, source: str) -> Record:
    """A record from CSV: a header with (a subset of) CSV_COLUMNS, one row per event.

    ``type`` is ``rating`` (day, scale, score), ``drug`` (day = start, drug, dose, every, optional stop_day) or
    ``trait`` (name = population, weight, cyp2c19 or cyp2d6; value)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ScenarioError("csv", "empty", f"a header and rows with columns {', '.join(CSV_COLUMNS)}")
    unknown = [c for c in rows[0] if c not in CSV_COLUMNS]
    if unknown:
        raise ScenarioError("csv header", unknown[0], f"columns from {', '.join(CSV_COLUMNS)}")
    doc: dict = {"ratings": [], "treatments": []}
    patient: dict = {}
    for n, row in enumerate(rows, start=2):   # line numbers as a spreadsheet shows them (header = 1)
        kind = (row.get("type") or "").strip()
        where = f"row {n}"

        def num(col, conv=float):
            v = (row.get(col) or "").strip()
            try:
                return conv(v)
            except ValueError:
                raise ScenarioError(f"{where}.{col}", v, "a number") from None

        if kind == "rating":
            doc["ratings"].append({"day": num("day"), "scale": (row.get("scale") or "").strip(), "score": num("score")})
        elif kind == "drug":
            tr: dict = {"drug": (row.get("drug") or "").strip(), "dose": (row.get("dose") or "").strip(),
                        "start": f"{num('day')} days"}
            if (row.get("every") or "").strip():
                tr["every"] = row["every"].strip()
            if (row.get("stop_day") or "").strip():
                tr["stop"] = f"{num('stop_day')} days"
            doc["treatments"].append(tr)
        elif kind == "trait":
            name, value = (row.get("name") or "").strip(), (row.get("value") or "").strip()
            if name == "population":
                doc["population"] = value
            elif name in ("weight", "cyp2c19", "cyp2d6"):
                patient[name] = value
            else:
                raise ScenarioError(f"{where}.name", name, "population, weight, cyp2c19 or cyp2d6")
        else:
            raise ScenarioError(f"{where}.type", kind, "rating, drug or trait")
    if patient:
        doc["patient"] = patient
    try:
        return parse_record(doc, source)
    except ScenarioError as exc:   # name the CSV row, not the list index
        import re
        m = re.match(r"(ratings|treatments)\[(\d+)\](.*)", exc.field)
        if m:
            kind = "rating" if m.group(1) == "ratings" else "drug"
            nth = int(m.group(2))
            line = [i for i, r in enumerate(rows, start=2) if (r.get("type") or "").strip() == kind][nth]
            raise ScenarioError(f"row {line}{m.group(3)}", exc.value, exc.allowed) from None
        raise


def load_record(path: str | Path) -> Record:
    """Read a record from a ``.yaml``/``.yml`` or ``.csv`` file (at most 1 MiB of UTF-8 text)."""
    from ..scenario._yaml import load_yaml, read_text

    p = Path(path)
    text = read_text(p)
    if p.suffix.lower() == ".csv":
        return _csv_record(text, str(p))
    return parse_record(load_yaml(text), str(p))
