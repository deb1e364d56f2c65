"""The calibration objective's terms on the fit rows for given parameter sets, evaluated as one batch.

Used to scan a prior after a structural change (the calibration README records each scan): every argument is a
JSON object of parameter values in their display units (``{}`` is the shipped set); the script prints each set's
objective J and writes every row's term per set to OUT (JSON list of {row: term}). ``ROWS=a,b`` restricts the
evaluation to fit rows whose id contains one of the substrings (a quick look at a few rows; J is then partial).

    .venv/bin/python scripts/objective_terms.py /tmp/terms.json '{}' '{"brain.expectancy.w_surprise": 1.0}'
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> None:
    import neuroplastic as npl
    from neuroplastic.validation.calibrate import objective_terms_batch
    from neuroplastic.validation.targets import load_targets

    out, sets = argv[0], [json.loads(a) for a in argv[1:]]
    _, targets = load_targets()
    only = [s for s in os.environ.get("ROWS", "").split(",") if s]
    rows = [t for t in targets if t.used_for == "fit" and (not only or any(s in t.id for s in only))]
    terms = objective_terms_batch(sets, npl.default_parameters(), "plasticity", rows)
    with open(out, "w") as f:
        json.dump([{k: float(v) for k, v in r.items()} for r in terms], f, indent=1)
    for values, r in zip(sets, terms):
        print(f"J {sum(r.values()):8.2f}  {json.dumps(values)}")


if __name__ == "__main__":
    main(sys.argv[1:])
