"""Psychotherapy as patterned activity.

A session drives the dlPFC for its length (engagement with negative material under guidance); between sessions,
daily practice drives the dlPFC (thought records) and the reward node (scheduled rewarding activity). What the
activity does to mood is left to the shared plasticity modules.
"""

from __future__ import annotations

import numpy as np

from .._units import DAY
from ..params import ParameterSet

KINDS = ("cbt", "ba")


def pulses(kind: str, session_times: list[float], session_length: float, params: ParameterSet, duration: float,
           n_patients: int):
    """Input pulses (start, end, channel, value) for a course of sessions."""
    p = params.group(f"therapy.{kind}")
    hours = params.si("therapy.practice.hours_per_day")
    out = []
    for t in session_times:
        out.append((t, min(t + session_length, duration), "dlpfc_drive", np.full(n_patients, p["session_dlpfc_drive"])))
    if session_times:
        start = session_times[0]
        end = min(duration, session_times[-1] + 7 * DAY)
        day = np.floor(start / DAY) * DAY + 18 * 3600.0  # practice in the early evening
        while day < end:
            if day >= start:
                a, b = day, min(day + hours, duration)
                if p["practice_dlpfc_drive"] > 0:
                    out.append((a, b, "dlpfc_drive", np.full(n_patients, p["practice_dlpfc_drive"])))
                if p["practice_reward_drive"] > 0:
                    out.append((a, b, "reward_drive", np.full(n_patients, p["practice_reward_drive"])))
            day += DAY
    return out
