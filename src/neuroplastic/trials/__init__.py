"""Trials: power and sample size by rerunning a trial design (arms, visits, endpoints live in the engine/results)."""

from ._power import power_curve

__all__ = ["power_curve"]
