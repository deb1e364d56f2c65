from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StateVar:
    """Declaration of one slow state variable: name, unit, long name, typical time scale (s) and owning module."""

    name: str
    unit: str
    long_name: str
    timescale: float
    module: str
    output: bool = True


class StateLayout:
    """Maps named state variables to columns of a (patient, n) array. No code outside indexes by position.

    Example
    -------
    >>> lay = StateLayout([StateVar("a", "1", "A", 1.0, "m"), StateVar("b", "1", "B", 2.0, "m")])
    >>> y = lay.zeros(3)
    >>> v = lay.view(y); v["b"][:] = 2.0
    >>> y[:, 1].tolist()
    [2.0, 2.0, 2.0]
    """

    def __init__(self, variables: list[StateVar]):
        self.vars = tuple(variables)
        self.names = tuple(v.name for v in self.vars)
        if len(set(self.names)) != len(self.names):
            raise ValueError("duplicate state variable names")
        self.index = {n: i for i, n in enumerate(self.names)}
        self.timescales = np.array([v.timescale for v in self.vars])

    def __len__(self) -> int:
        return len(self.vars)

    def zeros(self, n_patients: int) -> np.ndarray:
        return np.zeros((n_patients, len(self.vars)))

    def view(self, arr: np.ndarray) -> "StateView":
        return StateView(self, arr)

    def pack(self, values: dict[str, np.ndarray], n_patients: int) -> np.ndarray:
        out = self.zeros(n_patients)
        for k, v in values.items():
            out[:, self.index[k]] = v
        return out


class StateView:
    """Named access to the columns of a state array (views, not copies)."""

    __slots__ = ("layout", "arr")

    def __init__(self, layout: StateLayout, arr: np.ndarray):
        self.layout, self.arr = layout, arr

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arr[..., self.layout.index[name]]

    def __setitem__(self, name: str, value) -> None:
        self.arr[..., self.layout.index[name]] = value
