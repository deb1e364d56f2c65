"""Results: the xarray Dataset with units, the JSON summary and the overview figure."""

from ._result import Result

__all__ = ["Result"]
