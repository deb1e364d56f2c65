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
        super().__init__(f"{field}: {value!r} is not allowed; expected {allowed}")


class SafetyError(ScenarioError):
    """A dose or stimulation protocol beyond a published safety or labelling limit."""


class ParameterError(NeuroplasticError, KeyError):
    """An unknown parameter name or an invalid parameter override."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it plain
        return str(self.args[0]) if self.args else ""
