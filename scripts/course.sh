#!/usr/bin/env bash
# Set up, then run the whole course headless. Extra arguments go to `embedlib run`, e.g. -p dataset synthetic.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONDONTWRITEBYTECODE=1  # nothing written into the checkout; packages use the bytecode pip compiled
exec .venv/bin/embedlib run --all --output-dir course-output "$@"
