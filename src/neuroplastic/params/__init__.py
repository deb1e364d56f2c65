"""The parameter registry: every biological, pharmacological and physical parameter declared once.

Each parameter has a value, a unit, a plausible range and either a literature source or the name of the
clinical target it was calibrated against. Parameters live in YAML files under ``neuroplastic/data/parameters``;
a calibrated parameter set is a versioned file of overrides applied on top.
"""

from ._registry import Parameter, ParameterSet, default_parameters

__all__ = ["Parameter", "ParameterSet", "default_parameters"]
