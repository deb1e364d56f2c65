"""BDNF: transcription (cAMP-CREB, slow), translation (eEF2, fast) and activity-dependent release (TrkB signal).

    x      = sum_m w_m (M_m - 1)                                   monoamine drive (M relative to baseline)
    C*     = max(1 - s_B stress, 0) (1 + c_max x / (1 + |x|))      CREB transcriptional drive target
    dC/dt  = (C* - C) / tau_CREB
    e      = b / (b + b_half),  b = resting NMDA block             eEF2 de-phosphorylation (Autry 2011)
    dB/dt  = (C (1 + g_e e) - B) / tau_B                           BDNF protein
    R      = k r_act (a_dlPFC - 1)                                 activity-dependent release (phasic), k capacity
    T      = B max(1 + R, 0)                                       TrkB signal

Release follows dlPFC firing, whatever raises it: a stimulation train, a session's engagement, or the pyramidal
burst that a ketamine-type NMDA block disinhibits (that burst reaches TrkB only through the firing it causes).
"""

from __future__ import annotations

import numpy as np


def monoamine_drive(p: dict, m5, mne, mda):
    return p["w_5ht"] * (m5 - 1.0) + p["w_ne"] * (mne - 1.0) + p["w_da"] * (mda - 1.0)


def creb_target(p: dict, drive, stress):
    """Target of the CREB drive; stress suppresses transcription at most to nothing (a load beyond 1/s_B, which
    life events can pile onto a slowly resolving episode, must not make the drive, and with it BDNF, negative).

    Example
    -------
    >>> p = {"stress_suppression": 0.3, "creb_max": 0.4}
    >>> float(creb_target(p, 0.0, 1.0)), float(creb_target(p, 0.0, 10.0))
    (0.7, 0.0)
    """
    return np.maximum(1.0 - p["stress_suppression"] * stress, 0.0) * (1.0 + p["creb_max"] * drive / (1.0 + np.abs(drive)))


def eef2_translation(p: dict, nmda_block):
    return p["eef2_gain"] * nmda_block / (nmda_block + p["eef2_half_block"])


def release(p: dict, excess, capacity):
    """Activity-dependent BDNF release relative to the tonic level, from dlPFC firing ``excess`` (relative rate above
    a reference: the healthy rate for the TrkB signal, the recent mean for the phasic release).

    Example
    -------
    >>> p = {"release_activity": 0.5}
    >>> float(release(p, 2.0, 1.0))
    1.0
    """
    return capacity * p["release_activity"] * excess


def trkb_signal(p: dict, bdnf, dlpfc_rel, capacity):
    """TrkB activation from BDNF protein and activity-dependent release.

    Example
    -------
    >>> p = {"release_activity": 0.5}
    >>> float(trkb_signal(p, 1.0, 1.0, 1.0)), float(trkb_signal(p, 0.8, 3.0, 1.0))
    (1.0, 1.6)
    """
    return bdnf * np.maximum(1.0 + release(p, dlpfc_rel - 1.0, capacity), 0.0)
