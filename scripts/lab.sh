#!/usr/bin/env bash
# Set up, then open the course in JupyterLab. The environment's commands (embedlib, python, pip) come first on PATH,
# so they work in JupyterLab's terminals too. Extra arguments go to `jupyter lab`, e.g. --no-browser or --port 8890.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export VIRTUAL_ENV="$PWD/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
exec jupyter lab lessons/README.md "$@"
