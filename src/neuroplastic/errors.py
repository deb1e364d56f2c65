"""Errors users see: one line naming the field, the value and what is allowed."""

from __future__ import annotations


class NeuroplasticError(Exception):
    """Base class for every error neuroplastic raises on purpose."""


class ScenarioError(NeuroplasticError, ValueError):
    """A scenario (YAML or API) is invalid.

    The message is a single line: ``field: value -- what is allowed``.

    Example
    -------
    >>> str(ScenarioError("treatments[0].dose", "-5 mg", "a positive mass, e.g. '10 mg'"))
    "treatments[0].dose: '-5 mg' is not allowed; expected a positive mass, e.g. '10 mg'"
    """

    def __init__(self, field: str, value: object, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}: {_short_repr(value)} is not allowed; expected {allowed}")


def _short_repr(value: object) -> str:
    """``repr(value)``, bounded: a huge or deeply nested value (a 10,000-item list as a name) is abbreviated,
    never expanded in full, so the message stays one readable line."""
    import reprlib
    from itertools import islice

    class _Repr(reprlib.Repr):
        def repr_dict(self, x, level):  # keys in the order written (reprlib sorts them)
            if not x:
                return "{}"
            if level <= 0:
                return "{...}"
            items = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in islice(x.items(), self.maxdict)]
            return "{" + ", ".join(items + (["..."] if len(x) > self.maxdict else [])) + "}"

    r = _Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 4, 8, 8, 8, 8
    r.maxstring, r.maxother, r.maxlong = 200, 200, 60
    try:
        return r.repr(value)
    except Exception:  # a value whose repr fails (e.g. an int too long to print)
        return f"<{type(value).__name__}>"


class SafetyError(ScenarioError):
    """A dose or stimulation protocol beyond a published safety or labelling limit."""


class ParameterError(NeuroplasticError, KeyError):
    """An unknown parameter name or an invalid parameter override."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it plain
        return str(self.args[0]) if self.args else ""


class NumericalError(NeuroplasticError, ArithmeticError):
    """A simulated value is not finite (NaN or infinite); the run stops and nothing is written.

    Example
    -------
    >>> str(NumericalError(17, 3.25, "plasma_escitalopram", float("nan")))
    'numerical error: patient 17, day 3.25, variable plasma_escitalopram is not finite (nan); nothing was written'
    """

    def __init__(self, patient: int, day: float, variable: str, value: float):
        self.patient, self.day, self.variable, self.value = patient, day, variable, value
        super().__init__(f"numerical error: patient {patient}, day {day:g}, variable {variable} is not finite "
                         f"({value}); nothing was written")


class BudgetError(ScenarioError):
    """A run whose estimated memory or output size exceeds the resource budget, refused before any work.

    The message is one line naming the estimate, the ceiling and how to raise it (``--max-memory`` /
    ``max_memory=``).
    """
