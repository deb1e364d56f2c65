"""`neuroplastic demo`: the guided tour, written as figures a reader takes in at a glance."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._api import simulate

PILLS = [("escitalopram", "10 mg"), ("sertraline", "50 mg"), ("fluoxetine", "20 mg"),
         ("venlafaxine", "75 mg"), ("duloxetine", "60 mg"), ("bupropion", "300 mg")]


def _pill(drug, dose, hypothesis="plasticity", weeks=12, every="1 day", output="1 day"):
    return {"name": f"{drug} {dose}", "duration": f"{weeks} weeks", "output_every": output, "seed": 1,
            "hypothesis": hypothesis, "treatments": [{"drug": drug, "dose": dose, "every": every}]}


def run_demo(out_dir: Path, console=None) -> list[Path]:
    """Run the demo scenarios and write the figures into ``out_dir``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    say = (lambda m: console.print(m, highlight=False)) if console else (lambda m: None)
    runs = {}
    for drug, dose in PILLS:
        say(f"  {drug} {dose} daily, 12 weeks ...")
        runs[drug] = simulate(_pill(drug, dose)).dataset
    say("  escitalopram under the monoamine hypothesis ...")
    mono = simulate(_pill("escitalopram", "10 mg", "monoamine")).dataset
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []

    # Figure 1: pharmacology of the pills side by side (first two weeks) and mood over 12 weeks
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    for drug, ds in runs.items():
        t = ds["time"].values
        parent = str(ds["compound"].values[0]) if drug not in ds["compound"].values else drug
        ax[0].plot(t, ds["plasma"].sel(compound=parent).values[0], label=drug)
        occ = {k: ds[k].values[0] for k in ("sert_occupancy", "net_occupancy", "dat_occupancy")}
        main = max(occ, key=lambda k: occ[k].max())
        ax[1].plot(t, 100 * occ[main], label=f"{drug} ({main.split('_')[0].upper()})")
        ax[2].plot(t / 7, ds["hamd17_expected"].values[0], label=drug)
    ax[0].set(yscale="log", ylim=(1, None), xlabel="day", ylabel="plasma parent drug (ng/mL)", title="Concentrations")
    ax[1].set(xlabel="day", ylabel="main transporter occupancy (%)", ylim=(0, 100), title="Occupancy: within days")
    b = float(runs["escitalopram"]["hamd17_expected"].values[0][0])
    ax[2].axhline(b / 2, ls=":", c="gray", label="response")
    ax[2].axhline(7, ls="--", c="green", label="remission")
    ax[2].set(xlabel="week", ylabel="HAM-D17 (expected)", ylim=(0, 30), title="Mood: over weeks")
    for a in ax:
        a.legend(fontsize=7)
    fig.suptitle("A typical patient with moderate-severe depression on six antidepressants (plasticity hypothesis)")
    f = out_dir / "pills.png"
    fig.savefig(f, dpi=110)
    plt.close(fig)
    files.append(f)

    # Figure 2: the two hypotheses on escitalopram
    plast = runs["escitalopram"]
    t = plast["time"].values / 7
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    ax[0].plot(t, plast["synaptic_5ht"].values[0], label="synaptic 5-HT (nM)")
    ax[0].plot(t, plast["raphe_firing"].values[0], label="raphe firing (Hz)")
    ax[0].plot(t, plast["ht1a_sensitivity"].values[0], label="5-HT1A sensitivity")
    ax[0].set(xlabel="week", title="Shared chemistry (identical in both)")
    for k, lab in (("bdnf", "BDNF"), ("spine_density", "synapse density"),
                   ("neurogenesis_immature_total", "young adult-born neurons"), ("activity_sgacc", "sgACC activity")):
        v = plast[k].values[0]
        ax[1].plot(t, v / v[0], label=lab)
    ax[1].set(xlabel="week", ylabel="relative to day 0", title="Plasticity: slow remodelling")
    ax[2].plot(t, mono["hamd17_expected"].values[0], c="tab:red", label="monoamine (chemical imbalance)")
    ax[2].plot(t, plast["hamd17_expected"].values[0], c="tab:blue", label="plasticity")
    ax[2].set(xlabel="week", ylabel="HAM-D17 (expected)", ylim=(0, 30), title="Predicted mood")
    for a in ax:
        a.legend(fontsize=8)
    fig.suptitle("Escitalopram 10 mg: the chemical-imbalance account predicts relief in days, the plasticity account in weeks")
    f = out_dir / "hypotheses.png"
    fig.savefig(f, dpi=110)
    plt.close(fig)
    files.append(f)
    d7 = {}
    for name, ds in (("plasticity", plast), ("monoamine", mono)):
        h = ds["hamd17_expected"].values[0]
        d7[name] = (h[0] - h[7]) / max(h[0] - h[56], 1e-9)
    say(f"  share of the week-8 improvement reached by day 7: plasticity {d7['plasticity']:.0%}, monoamine {d7['monoamine']:.0%}")
    return files
