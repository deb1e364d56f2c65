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


def _finish(fig, axes, title, path, fontsize):
    """Legends, title, save and close: the common end of every demo figure."""
    import matplotlib.pyplot as plt

    for a in axes:
        a.legend(fontsize=fontsize)
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _ds(doc):
    return simulate(doc).dataset


KETAMINE = {"name": "ketamine", "duration": "14 days", "output_every": "1 hour", "seed": 1, "recall": "24 h",
            "treatments": [{"drug": "ketamine", "dose": "0.5 mg/kg", "route": "iv", "infusion": "40 min",
                            "at": ["0 days"]}]}
COURSES = {
    "escitalopram 10 mg": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}],
    "10 Hz rTMS, 6 weeks": [{"tms": {"protocol": "10hz", "pulses": 3000, "intensity": "120% rMT",
                                     "days": "weekdays", "stop": "6 weeks"}}],
    "CBT, 16 weekly sessions": [{"psychotherapy": {"kind": "cbt", "every": "1 week", "sessions": 16}}],
    "ketamine x6 over 12 days": [{"drug": "ketamine", "dose": "0.5 mg/kg", "route": "iv", "infusion": "40 min",
                                  "at": ["0 d", "2 d", "4 d", "7 d", "9 d", "11 d"]}],
    "placebo pill": [{"placebo": {"form": "pill"}}],
    "no treatment": [],
}
# what lasts: 12 weeks of treatment (a 6-week rTMS course, its standard length), then 40 weeks without it, or on
# continued escitalopram; blinded withdrawal to a placebo pill as in relapse-prevention trials
_TMS = {"protocol": "10hz", "pulses": 3000, "intensity": "120% rMT", "days": "weekdays", "stop": "6 weeks"}
LASTING = {
    "escitalopram, continued": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}],
    "escitalopram, to placebo at week 12": [{"drug": "escitalopram", "dose": "10 mg", "every": "1 day",
                                             "stop": "12 weeks"}, {"placebo": {"form": "pill", "start": "12 weeks"}}],
    "10 Hz rTMS, 6 weeks": [{"tms": _TMS}],
    "CBT, 12 weekly sessions": [{"psychotherapy": {"kind": "cbt", "every": "1 week", "sessions": 12}}],
    "placebo pill, 12 weeks": [{"placebo": {"form": "pill", "stop": "12 weeks"}}],
}
LASTING_SCENARIO = {"name": "what lasts", "duration": "52 weeks", "output_every": "1 week", "seed": 1,
                    "design": "crossover", "patients": {"n": 150, "population": "mdd"}, "arms": LASTING}


def run_demo(out_dir: Path, console=None, workers: int | None = None) -> list[Path]:
    """Run the demo scenarios (in parallel processes) and write the figures into ``out_dir``."""
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    say = (lambda m: console.print(m, highlight=False)) if console else (lambda m: None)
    docs = {f"pill:{d}": _pill(d, dose) for d, dose in PILLS}
    docs["mono"] = _pill("escitalopram", "10 mg", "monoamine")
    docs["ketamine"] = KETAMINE
    docs["lasting"] = LASTING_SCENARIO
    for name, trs in COURSES.items():
        docs[f"course:{name}"] = {"name": name, "duration": "16 weeks", "seed": 1, "treatments": trs}
    say(f"  running {len(docs)} scenarios: six pills, two hypotheses, ketamine hourly, rTMS, CBT, placebo, none, "
        "and a year of what lasts ...")
    n = workers or min(len(docs), os.cpu_count() or 1)
    if n > 1:  # the engine's pool: Ctrl-C and SIGTERM stop it at once, its workers leave the signals to this process
        from .engine._backends import executor
        with executor(processes=n) as imap:
            res = dict(zip(docs, imap(_ds, list(docs.values()))))
    else:
        res = {k: _ds(v) for k, v in docs.items()}
    runs = {d: res[f"pill:{d}"] for d, _ in PILLS}
    mono = res["mono"]
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
    files.append(_finish(fig, ax, "A typical patient with moderate-severe depression on six antidepressants (plasticity hypothesis)", out_dir / "pills.png", 7))

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
    files.append(_finish(fig, ax, "Escitalopram 10 mg: the chemical-imbalance account predicts relief in days, the plasticity account in weeks", out_dir / "hypotheses.png", 8))
    d7 = {}
    for name, ds in (("plasticity", plast), ("monoamine", mono)):
        h = ds["hamd17_expected"].values[0]
        d7[name] = (h[0] - h[7]) / max(h[0] - h[56], 1e-9)
    say(f"  share of the week-8 improvement reached by day 7: plasticity {d7['plasticity']:.0%}, monoamine {d7['monoamine']:.0%}")

    # Figure 3: ketamine on an hourly grid
    ket = res["ketamine"]
    t = ket["time"].values
    fig, ax = plt.subplots(1, 4, figsize=(18, 4.4), constrained_layout=True)
    ax[0].plot(t * 24, 100 * ket["nmda_occupancy"].values[0], label="NMDA occupancy (%)")
    ax[0].plot(t * 24, 100 * ket["glutamate_burst"].values[0], label="glutamate burst (% of max)")
    ax[0].set(xlim=(0, 24), xlabel="hour", title="Hours: NMDA block and disinhibition")
    ax[1].plot(t, ket["bdnf"].values[0], label="BDNF protein")
    ax[1].plot(t, ket["trkb_signal"].values[0], label="TrkB signal (released BDNF)")
    ax[1].set(xlabel="day", title="BDNF: translation and release")
    s0 = float(ket["spine_density"].values[0][0])
    ax[2].plot(t, ket["spine_density"].values[0] / s0, label="synapse density (relative to day 0)")
    ax[2].plot(t, 1 + (ket["spines_labile"].values[0] - ket["spines_labile"].values[0][0]) / s0,
               label="1 + new (labile) spines (relative to day 0)")
    ax[2].set(xlabel="day", title="Synapses form within a day, then are pruned")
    ax[3].plot(t, ket["madrs"].values[0], ".", ms=2, alpha=0.3, label="MADRS as rated (past 24 h)")
    ax[3].plot(t, ket["madrs_expected"].values[0], label="MADRS expected")
    ax[3].set(xlabel="day", ylim=(0, 40), title="Mood: within a day, fading over 1-2 weeks")
    files.append(_finish(fig, ax, "Ketamine breaks the weeks-long pattern through a fast synaptogenic route (same biology, different input)", out_dir / "ketamine.png", 8))

    # Figure 4: every kind of treatment on the same patient
    fig, ax = plt.subplots(figsize=(9, 5), constrained_layout=True)
    for name in COURSES:
        ds = res[f"course:{name}"]
        ax.plot(ds["time"].values / 7, ds["hamd17_expected"].values[0], label=name)
    ax.axhline(7, ls="--", c="green", lw=0.8)
    ax.set(xlabel="week", ylabel="HAM-D17 (expected)", ylim=(0, 30))
    files.append(_finish(fig, [ax], "One patient, one parameter set: pills, stimulation, therapy, ketamine, placebo",
                         out_dir / "treatments.png", 8))

    # Figure 5: what lasts -- week-12 responders followed for 40 weeks after the treatment stopped (or continued)
    files.append(_lasting_figure(res["lasting"], out_dir / "lasting.png"))
    return files


def _lasting_figure(ds, path):
    """Mean rating (noise-free, over the recall window) of each arm's week-12 responders, weeks 0-52."""
    import matplotlib.pyplot as plt

    t = ds["time"].values / 7
    k12 = int(np.argmin(np.abs(t - 12)))
    fig, ax = plt.subplots(figsize=(9, 5), constrained_layout=True)
    for arm in ds["arm"].values:
        h = ds["hamd17_recalled"].sel(arm=arm).values    # (patient, time)
        resp = h[:, k12] <= 0.5 * h[:, 0]
        if resp.sum() < 5:
            continue
        ax.plot(t, h[resp].mean(axis=0), label=f"{arm} ({int(resp.sum())} responders)")
    ax.axvline(12, ls=":", c="grey", lw=0.8)
    ax.axhline(7, ls="--", c="green", lw=0.8)
    ax.set(xlabel="week", ylabel="HAM-D17 of week-12 responders (mean, noise-free rating)", ylim=(0, 30))
    return _finish(fig, [ax], "What lasts: 12 weeks of treatment, then 40 weeks without it (or continued)", path, 8)
