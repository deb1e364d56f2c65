"""neuroplastic: how depression treatments work, from physics and pharmacology to plasticity and rating scales.

The public surface is small: build or load a :class:`Scenario`, call :func:`simulate`, read the
:class:`Result`. Parameters live in one registry (:func:`default_parameters`).
"""

__version__ = "0.1.0"

from ._api import simulate
from .errors import NeuroplasticError, SafetyError, ScenarioError
from .params import ParameterSet, default_parameters
from .results import Result
from .scenario import Scenario, load_scenario, parse_scenario

__all__ = ["simulate", "Scenario", "load_scenario", "parse_scenario", "Result", "ParameterSet",
           "default_parameters", "NeuroplasticError", "ScenarioError", "SafetyError", "__version__"]
