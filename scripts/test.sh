#!/usr/bin/env bash
# Set up, then run every test: the library, the lessons with papermill, the lessons' outputs with nbval.
# Extra arguments go to pytest, e.g. -k runner or -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONDONTWRITEBYTECODE=1  # nothing written into the checkout; packages use the bytecode pip compiled
# Two workers (pytest-xdist) where two CPUs are free, each taking whole groups of tests (conftest.py says which),
# in the order conftest.py gives them, longest first (xdist would otherwise order them by their number of tests);
# pass -n 0 to run in this process, e.g. with -k or --pdb.
workers=$(.venv/bin/python -c "from embedlib.execute import default_jobs; print(default_jobs())")
exec .venv/bin/python -m pytest -n "$workers" --dist loadgroup --no-loadscope-reorder "$@"
