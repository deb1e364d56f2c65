"""The scenario language: YAML documents and the equivalent Python API, validated once at the boundary.

A validated :class:`Scenario` is frozen and holds SI floats; units never travel further in.
"""

from ._schema import (
    DrugTreatment,
    PatientSpec,
    Scenario,
    Treatment,
    load_scenario,
    parse_scenario,
)

__all__ = ["DrugTreatment", "PatientSpec", "Scenario", "Treatment", "load_scenario", "parse_scenario"]
