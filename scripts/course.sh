#!/usr/bin/env bash
# Set up, then run the whole course headless. Extra arguments go to `embedlib run`, e.g. -p dataset synthetic.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONPYCACHEPREFIX="$PWD/.venv/pycache"  # bytecode stays out of the checkout
exec .venv/bin/embedlib run --all --output-dir course-output "$@"
