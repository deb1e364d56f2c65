"""The engine: event calendar, named state with a leading patient axis, the slow integrator and the reference path."""

from ._state import StateLayout, StateVar
from ._calendar import Calendar, build_calendar
from ._integrate import integrate, steady_state

__all__ = ["StateLayout", "StateVar", "Calendar", "build_calendar", "integrate", "steady_state"]
