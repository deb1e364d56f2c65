"""The forecast figure: the record's ratings and each option's predictive median with 50% and 80% bands."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..mood.scales import SCALES  # noqa: E402


def forecast_figure(tw, fc: dict, path: Path) -> None:
    rec = tw.record
    scales = list(dict.fromkeys(r.scale for r in rec.ratings))
    fig, axes = plt.subplots(1, len(scales), figsize=(6.5 * len(scales), 4.5), constrained_layout=True, squeeze=False)
    for ax, s in zip(axes[0], scales):
        d = [r.day for r in rec.ratings if r.scale == s]
        y = [r.score for r in rec.ratings if r.scale == s]
        for o in fc["options"]:
            q = o["scales"][s]
            days = [rec.last_day] + o["days"]
            med = [y[-1]] + q["median"]
            line, = ax.plot(days, med, "-", label=f"{o['name']}: P(response) {o['p_response'][s]:.0%}")
            ax.fill_between(o["days"], q["q10"], q["q90"], color=line.get_color(), alpha=0.15)
            ax.fill_between(o["days"], q["q25"], q["q75"], color=line.get_color(), alpha=0.25)
        fit = fc.get("fit", {}).get("scales", {}).get(s)
        if fit:
            ax.fill_between(fc["fit"]["days"], fit["q10"], fit["q90"], color="k", alpha=0.12, label="fit (80%)")
            ax.plot(fc["fit"]["days"], fit["median"], "k-", lw=1)
        ax.plot(d, y, "ko", label="record")
        base = rec.baseline(s)
        ax.axhline(base / 2, ls=":", c="gray", label="response (50% of baseline)")
        ax.axhline(SCALES[s].remission, ls="--", c="green", label=f"remission (<= {SCALES[s].remission:g})")
        ax.set_xlabel("day")
        ax.set_ylabel(f"{s} as rated")
        ax.set_ylim(0, max(max(y) * 1.2, 10))
        ax.set_title(f"{s}: forecast with 50% and 80% bands")
        ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
