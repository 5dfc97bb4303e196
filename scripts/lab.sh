#!/usr/bin/env bash
# Set up, then open the course in JupyterLab on its index. Its terminals find `embedlib` (see scripts/jupyter/).
# Extra arguments go to `jupyter lab`, e.g. --no-browser or --port 8890.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/jupyter lab lessons/README.md "$@"
