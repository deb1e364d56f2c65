"""Psychotherapy as patterned activity.

A session drives the dlPFC for its length (engagement with negative material under guidance); between sessions,
daily practice drives the dlPFC (thought records) and the reward node (scheduled rewarding activity). A session and
the practice are the same cognitive work and share one dlPFC drive per therapy (``therapy.<kind>.dlpfc_drive``). The
practice is learned session by session: after k sessions it is ``1 - (1 - s)^k`` of its full amount
(``therapy.practice.skill_per_session``). What the activity does to mood is left to the shared plasticity modules.
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
        out.append((t, min(t + session_length, duration), "dlpfc_drive", np.full(n_patients, p["dlpfc_drive"])))
    if session_times:
        start = session_times[0]
        end = min(duration, session_times[-1] + 7 * DAY)
        day = np.floor(start / DAY) * DAY + 18 * 3600.0  # practice in the early evening
        learn = params.value("therapy.practice.skill_per_session")
        times = np.sort(np.asarray(session_times, float))
        while day < end:
            if day >= start:
                a, b = day, min(day + hours, duration)
                # the skills practised are learned session by session: after k sessions the share 1 - (1 - s)^k
                skill = 1.0 - (1.0 - learn) ** int(np.searchsorted(times, day, side="right"))
                # emitted even at a drive of 0, so the calendar's timing never depends on parameter values: a
                # batch of candidate parameter sets then shares one calendar instead of running one at a time
                out.append((a, b, "dlpfc_drive", np.full(n_patients, skill * p["dlpfc_drive"])))
                out.append((a, b, "reward_drive", np.full(n_patients, skill * p["practice_reward_drive"])))
            day += DAY
    return out
