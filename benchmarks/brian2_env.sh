#!/usr/bin/env bash
# Build a side environment where Brian2 2.9.0 imports (numpy < 2.4) and run the calcium-kernel benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .bench-brian2/bin/python ]; then
  python3 -m venv .bench-brian2
  .bench-brian2/bin/pip install -q numpy==2.3.5 scipy==1.17.1 xarray==2026.9.0 pint==0.25.3 pydantic==2.14.4 \
      pyyaml==6.0.4 typer==0.29.2 rich==15.0.0 matplotlib==3.11.2 pandas==3.1.1 statsmodels==0.15.0 brian2==2.9.0 cython
fi
PYTHONPATH=src .bench-brian2/bin/python benchmarks/bench_calcium_vs_brian2.py "$@"
