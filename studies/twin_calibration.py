"""Honesty of the digital twin on synthetic patients drawn from the model itself.

Simulates N patients of a population on escitalopram (known traits, rated with rater noise), fits each twin on the
ratings of the first weeks, forecasts the rest, and prints the calibration table: how often the 50/80/95% bands
cover the true future ratings, and the twin's median absolute error against the population-average forecast's.

    .venv/bin/python studies/twin_calibration.py --n 60 --particles 1000

Slow (minutes); not part of CI. docs/howto.md reports its output.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def run(n: int = 60, particles: int = 1000, seed: int = 77, fit_weeks: int = 6, population: str = "mdd",
        drug: dict | None = None) -> dict:
    import neuroplastic as npl
    import neuroplastic.twin as twin
    from neuroplastic.twin._forecast import forecast_many

    drug = drug or {"drug": "escitalopram", "dose": "10 mg", "every": "1 day"}
    visits = [0, 14, 28, 42, 56, 70, 84]
    truth = npl.simulate({"name": "synthetic", "duration": "12 weeks", "seed": seed,
                          "patients": {"n": n, "population": population},
                          "visits": [f"{d} d" for d in visits], "treatments": [drug]}).dataset
    h = truth["hamd17"].values                      # (patient, visit)
    k_fit = sum(1 for d in visits if d <= fit_weeks * 7)
    recs = [twin.parse_record({"population": population, "treatments": [drug],
                               "ratings": [{"day": visits[i], "scale": "hamd17", "score": float(h[p, i])}
                                           for i in range(k_fit)]}) for p in range(n)]
    t0 = time.perf_counter()
    tws = twin.fit_many(recs, particles=particles, seed=seed)
    t_fit = time.perf_counter() - t0
    fcs = forecast_many(tws, {"continue": None}, horizon=(84 - visits[k_fit - 1]) * 86400.0, every=14 * 86400.0)
    t_all = time.perf_counter() - t0
    pop = np.median(h, axis=0)
    cover = {"50%": [], "80%": [], "95%": []}
    err_twin, err_pop = [], []
    for p, fc in enumerate(fcs):
        o = fc["options"][0]
        sc = o["scales"]["hamd17"]
        for i in range(k_fit, len(visits)):
            k = int(np.argmin(np.abs(np.asarray(o["days"]) - visits[i])))
            y = h[p, i]
            cover["50%"].append(sc["q25"][k] <= y <= sc["q75"][k])
            cover["80%"].append(sc["q10"][k] <= y <= sc["q90"][k])
            cover["95%"].append(sc["q2.5"][k] <= y <= sc["q97.5"][k])
            err_twin.append(abs(sc["median"][k] - y))
            err_pop.append(abs(pop[i] - y))
    return {"patients": n, "particles": particles, "fit_days": visits[k_fit - 1],
            "coverage": {k: float(np.mean(v)) for k, v in cover.items()},
            "median_abs_error_twin": float(np.median(err_twin)), "median_abs_error_population": float(np.median(err_pop)),
            "error_ratio": float(np.median(err_twin) / max(np.median(err_pop), 1e-9)),
            "seconds_per_patient": t_all / n, "fit_seconds_per_patient": t_fit / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--particles", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=77)
    a = ap.parse_args()
    r = run(a.n, a.particles, a.seed)
    print(f"{r['patients']} synthetic mdd patients on escitalopram, fitted on days 0-{r['fit_days']}, "
          f"{r['particles']} particles each")
    print("| band | coverage of the true future ratings |\n|---|---|")
    for k, v in r["coverage"].items():
        print(f"| {k} | {v:.0%} |")
    print(f"median absolute error: twin {r['median_abs_error_twin']:.2f}, population {r['median_abs_error_population']:.2f}"
          f" (ratio {r['error_ratio']:.2f}); {r['seconds_per_patient']:.1f} s per patient in a batch")


if __name__ == "__main__":
    main()
