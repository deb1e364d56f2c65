"""The brain: neuromodulatory nuclei and the mood-regulating circuit, solved in quasi-steady state on the slow clock."""

from .model import BrainModel, INPUT_CHANNELS

__all__ = ["BrainModel", "INPUT_CHANNELS"]
