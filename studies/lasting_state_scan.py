"""Why responders keep their response after a treatment stops: the state of the responders, week by week.

The lasting-change issue asks that withdrawing a drug to placebo relapse clearly more than continuing it (Geddes
2003: 41% against 18% over a year), that a finished CBT course protect better than a withdrawn drug, and that most
rTMS responders stay well for six months (Senova 2019: 53%). plasticity-v16 gave relapse of 5%
continued, 10% withdrawn and 10% after CBT (120 patients), and 43% of rTMS responders still responding at week 32
(plasticity-v15: about 30%). This study reruns the two scenarios of those checks
(escitalopram continued, withdrawn to placebo pills at week 16, a 16-session CBT course, placebo pills and no
treatment, 120 MDD patients; a six-week 10 Hz rTMS course, 200 TRD patients), selects the responders as the checks
do, and prints the mean of the state that holds their response (expected HAM-D17, stress exposure and load, sgACC,
spines, consolidated LTP, BDNF, expectancy, synaptic 5-HT) at the weeks that matter, for the shipped set or for
variants. It does not change the shipped set: moving a calibrated value by hand would be a fit by eye (rule 3).

    .venv/bin/python studies/lasting_state_scan.py                                  # shipped set (about 35 s)
    .venv/bin/python studies/lasting_state_scan.py brain.stress.feedback_gain=0.5 population.episode.sd=0.6

A variant is ``name=value[,name=value...]`` in the registry's display unit, or ``shipped``. Not part of CI;
docs/model.md section 14 reports the output.
"""

from __future__ import annotations

import argparse

import numpy as np
from ketamine_course_scan import variant   # the same variant syntax (this folder is on the path when run as a script)

WITHDRAWAL = """
name: continuation, withdrawal and a finished CBT course
duration: 56 weeks
output_every: 7 days
seed: 5
design: crossover
patients: {n: 120, population: mdd}
arms:
  continued: [{drug: escitalopram, dose: 10 mg, every: 1 day}]
  withdrawn:
    - {drug: escitalopram, dose: 10 mg, every: 1 day, stop: 16 weeks}
    - {placebo: {form: pill, start: 16 weeks}}
  cbt: [{psychotherapy: {kind: cbt, every: 1 week, sessions: 16}}]
  placebo: [{placebo: {form: pill}}]
  none: []
"""

TMS = """
name: rTMS durability
duration: 32 weeks
output_every: 7 days
seed: 7
patients: {n: 200, population: trd}
arms:
  rtms: [{tms: {protocol: 10hz, pulses: 3000, intensity: 120% rMT, days: weekdays, stop: 6 weeks}}]
"""

STATE = ("hamd17_expected", "stress_exposure", "stress_load", "activity_sgacc", "spine_density", "ltp_late", "bdnf",
         "expectancy", "synaptic_5ht")


def _weeks(ds):
    return ds["time"].values.astype(float) / 7.0   # output time is in days


def _week_index(ds, week: float) -> int:
    return int(np.argmin(abs(_weeks(ds) - week)))


def _by_patient(ds, name: str, arm: str) -> np.ndarray:
    """Output variable ``name`` of ``arm`` as a (patient, time) float array."""
    return ds[name].sel(arm=arm).transpose("patient", "time").values.astype(float)


def withdrawal_responders(ds, arm: str):
    """Responders at weeks 14 and 16 (HAM-D17 <= 12 at both) and whether each relapses (>= 16 at two successive
    fortnightly ratings after week 16), as the relapse check reads them."""
    w = _weeks(ds)
    h = _by_patient(ds, "hamd17", arm)
    i14, i16 = _week_index(ds, 14), _week_index(ds, 16)
    resp = (h[:, i14] <= 12) & (h[:, i16] <= 12)
    visits = np.where((w > 16) & (np.round(w - 16) % 2 == 0))[0]
    high = h[:, visits] >= 16
    relapse = (high[:, 1:] & high[:, :-1]).any(axis=1)
    return resp, relapse


def rtms_responders(ds):
    """Responders at week 6 (HAM-D17 at most half its baseline) and whether each still responds at week 32."""
    h = _by_patient(ds, "hamd17", "rtms")
    i6, i32 = _week_index(ds, 6), _week_index(ds, 32)
    return h[:, i6] <= 0.5 * h[:, 0], h[:, i32] <= 0.5 * h[:, 0]


def state_table(ds, arm: str, who: np.ndarray, weeks) -> list[str]:
    """One line per state variable: its mean over the patients ``who`` at ``weeks``."""
    idx = [_week_index(ds, k) for k in weeks]
    lines = []
    for name in STATE:
        x = _by_patient(ds, name, arm)
        m = x[who].mean(axis=0) if who.any() else np.full(x.shape[1], np.nan)
        lines.append(f"    {name:18s}" + "".join(f"{m[i]:9.3f}" for i in idx))
    return lines


def drug_specific_table(ds, weeks) -> list[str]:
    """The drug-specific responders (the design is a crossover, so every arm has the same patients): responders to
    continued escitalopram who do not respond to placebo pills. Their mean expected HAM-D17 in each drug or placebo
    arm at ``weeks`` and their relapse after withdrawal, against the responders who respond to both."""
    rc, _ = withdrawal_responders(ds, "continued")
    rp, _ = withdrawal_responders(ds, "placebo")
    rw, rel = withdrawal_responders(ds, "withdrawn")
    idx = [_week_index(ds, k) for k in weeks]
    score = {arm: _by_patient(ds, "hamd17_expected", arm)[:, idx] for arm in ("continued", "withdrawn", "placebo", "none")}
    lines = []
    for label, who in (("drug-specific", rc & ~rp), ("also on placebo", rc & rp)):
        both = who & rw
        share = float(rel[both].mean()) if both.any() else float("nan")
        lines.append(f"  {label} responders: {int(who.sum())} of {int(rc.sum())}, relapse after withdrawal {share:.0%}")
        for arm, x in score.items():
            m = x[who].mean(axis=0) if who.any() else np.full(len(idx), np.nan)
            lines.append(f"    {arm:10s} expected HAM-D17" + "".join(f"{v:9.2f}" for v in m))
    return lines


def main():
    import neuroplastic as npl

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("variants", nargs="*", default=["shipped"])
    args = ap.parse_args()
    base = npl.default_parameters()
    for spec in args.variants:
        p = variant(base, spec)
        print(f"== {spec}")
        ds = npl.simulate(npl.parse_scenario(WITHDRAWAL), params=p).dataset
        weeks = (0, 8, 16, 20, 30, 56)
        for arm in ("continued", "withdrawn", "cbt", "placebo", "none"):
            resp, rel = withdrawal_responders(ds, arm)
            share = float(rel[resp].mean()) if resp.any() else float("nan")
            print(f"  {arm}: {int(resp.sum())} responders at weeks 14-16, relapse {share:.0%}; weeks"
                  + "".join(f"{k:9d}" for k in weeks))
            print("\n".join(state_table(ds, arm, resp, weeks)))
        print("\n".join(drug_specific_table(ds, weeks)))
        ds = npl.simulate(npl.parse_scenario(TMS), params=p).dataset
        resp, kept = rtms_responders(ds)
        weeks = (0, 6, 12, 20, 32)
        print(f"  rtms: {int(resp.sum())} responders at week 6, {float(kept[resp].mean()) if resp.any() else float('nan'):.0%}"
              " still responding at week 32; weeks" + "".join(f"{k:9d}" for k in weeks))
        print("\n".join(state_table(ds, "rtms", resp, weeks)))
        print("    non-responders' expectancy at week 6:"
              f" {float(_by_patient(ds, 'expectancy', 'rtms')[~resp][:, _week_index(ds, 6)].mean()):.3f}",
              flush=True)


if __name__ == "__main__":
    main()
