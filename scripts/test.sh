#!/usr/bin/env bash
# Set up, then run every test: the library, the lessons with papermill, the lessons' outputs with nbval.
# Extra arguments go to pytest, e.g. -k runner or -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONDONTWRITEBYTECODE=1  # nothing written into the checkout; packages use the bytecode pip compiled
exec .venv/bin/python -m pytest "$@"
