"""Figures a clinician can read."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def _first(da):
    for d in list(da.dims):
        if d not in ("time", "compound"):
            da = da.isel({d: 0})
    return da


def overview(ds: xr.Dataset, path: Path, summary: dict | None = None) -> None:
    """Concentrations, occupancies, mechanisms and HAM-D17 of the first patient (and arm) over time.

    Doses are marked as ticks along the top of each panel, stimulation/therapy sessions as grey ticks. A trial
    design (``arm_at_time`` in the dataset) adds a row: mean rated HAM-D17 by what patients were assigned at the end,
    and the Kaplan-Meier relapse-free curves of a relapse endpoint (from ``summary``)."""
    t = ds["time"].values
    dose_days = np.atleast_1d(ds.attrs.get("dose_days", []))
    session_days = np.atleast_1d(ds.attrs.get("session_days", []))
    design = "arm_at_time" in ds
    fig, axes = plt.subplots(3 if design else 2, 2, figsize=(12, 11 if design else 7.5), constrained_layout=True)
    ax = axes[0, 0]
    if "plasma" in ds and ds["compound"].size:
        pl = _first(ds["plasma"])
        for c in ds["compound"].values:
            ax.plot(t, pl.sel(compound=c).values, label=str(c))
        ax.set_yscale("log")
        top = float(np.nanmax(pl.values)) if pl.size else 1.0
        ax.set_ylim(max(top * 1e-3, 1e-2), top * 2)
        ax.legend(fontsize=8)
        ax.set_ylabel("plasma (ng/mL)")
        ax.set_title("Pharmacokinetics")
    elif len(session_days):
        _sessions_panel(ds, ax, session_days)
    else:
        ax.set_ylabel("plasma (ng/mL)")
        ax.set_title("Pharmacokinetics (no drug)")
    ax = axes[0, 1]
    for k in ("sert_occupancy", "net_occupancy", "dat_occupancy", "nmda_occupancy"):
        v = _first(ds[k]).values
        if v.max() > 0:
            ax.plot(t, 100 * v, label=k.split("_")[0].upper())
    ax.set_ylim(0, 100)
    ax.set_ylabel("occupancy (%)")
    ax.set_title("Transporter / receptor occupancy")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax = axes[1, 0]
    for k, lab in (("synaptic_5ht", "synaptic 5-HT"), ("raphe_firing", "raphe firing"), ("bdnf", "BDNF"),
                   ("spine_density", "synapse density"), ("neurogenesis_mature", "mature adult-born neurons")):
        v = _first(ds[k]).values
        ax.plot(t, v / v[0], label=lab)
    ax.set_ylabel("relative to day 0")
    ax.set_title("Mechanisms")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    ax.plot(t, _first(ds["hamd17"]).values, ".", ms=3, alpha=0.4, label="HAM-D17 as rated")
    ax.plot(t, _first(ds["hamd17_expected"]).values, "-", label="HAM-D17 expected")
    b = float(_first(ds["hamd17_expected"]).values[0])
    ax.axhline(b / 2, ls=":", c="gray", label="response (50% of baseline)")
    ax.axhline(7, ls="--", c="green", label="remission (<= 7)")
    ax.set_ylim(0, 52)
    ax.set_ylabel("HAM-D17")
    ax.set_title("Clinical rating")
    ax.legend(fontsize=8)
    for a in axes[:2].flat:
        a.set_xlabel("time (days)")
        a.set_xlim(t[0], t[-1])
        if len(dose_days):
            a.plot(dose_days, np.full(len(dose_days), 0.98), "|", c="k", ms=6, transform=a.get_xaxis_transform(),
                   label=None)
        if len(session_days):
            a.plot(session_days, np.full(len(session_days), 0.95), "|", c="gray", ms=6,
                   transform=a.get_xaxis_transform(), label=None)
    if design:   # after the ticks: the relapse panel's axis is time since the followed period began
        _design_row(ds, axes[2], summary or {})
    fig.suptitle(f"{ds.attrs.get('title', '')} ({ds.attrs.get('hypothesis', '')} hypothesis)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _sessions_panel(ds: xr.Dataset, ax, session_days: np.ndarray) -> None:
    """Session timing: sessions per day (bars) and, on the right axis, the early and consolidated change of the
    dlPFC -> sgACC pathway of the first patient (what the sessions leave behind)."""
    days = np.floor(session_days + 1e-9)
    uniq, counts = np.unique(days, return_counts=True)
    ax.bar(uniq + 0.5, counts, width=0.8, color="0.75", label="sessions per day")
    ax.set_ylim(0, max(counts.max() * 1.3, 1.5))
    ax.set_ylabel("sessions per day")
    gaps = np.diff(np.sort(session_days)) * 24 * 60
    same_day = gaps[gaps < 12 * 60]
    note = f"{len(session_days)} sessions"
    if len(same_day):
        note += f", {np.median(same_day):.0f} min apart within a day (start to start)"
    ax.set_title("Stimulation sessions: " + note, fontsize=9)
    t = ds["time"].values
    ax2 = ax.twinx()
    for k, lab, c in (("ltp_early", "early change", "tab:orange"), ("ltp_late", "consolidated change", "tab:red")):
        if k in ds:
            ax2.plot(t, 100 * _first(ds[k]).values, c=c, label=lab)
    ax2.set_ylabel("dlPFC->sgACC pathway change (%)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right")


def _design_row(ds: xr.Dataset, axes, summary: dict) -> None:
    import json

    t = ds["time"].values
    ax = axes[0]
    code = _first(ds["arm_at_time"]) if "arm" in ds.dims else ds["arm_at_time"]
    labels = json.loads(ds["arm_at_time"].attrs["labels"])
    hamd = ds["hamd17"].isel(arm=0) if "arm" in ds.dims else ds["hamd17"]
    last = code.values[:, -1]
    for j, lab in enumerate(labels):
        m = last == j
        if m.any():
            ax.plot(t, hamd.values[m].mean(axis=0), label=f"{lab} (n={int(m.sum())})")
    ax.set_ylim(0, 35)
    ax.set_ylabel("mean HAM-D17 as rated")
    ax.set_title("By assignment at the end" + (" (first arm)" if "arm" in ds.dims else ""))
    ax.legend(fontsize=7)
    ax.set_xlabel("time (days)")
    ax = axes[1]
    ep = summary.get("endpoints", {}).get("relapse")
    if ep:
        for arm, v in ep["arms"].items():
            ax.step(v["km_curve"]["day"] + [ep["definition"]["to_day"] - ep["definition"]["from_day"]],
                    v["km_curve"]["relapse_free"] + v["km_curve"]["relapse_free"][-1:], where="post",
                    label=f"{arm} (n={v['n']}, {v['relapses']} relapses)")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("relapse-free (Kaplan-Meier)")
        ax.set_title("Time to relapse")
        ax.set_xlabel(f"days since day {ep['definition']['from_day']:g}")
        ax.legend(fontsize=7)
    else:
        ax.set_axis_off()
