#!/usr/bin/env bash
# Create .venv (once) and install embedlib with its test tools into it, plus the course's Jupyter kernel and
# JupyterLab settings (scripts/jupyter/). Safe to run again; it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'PY' || { echo "embedlib needs Python 3.11 or newer (set PYTHON=/path/to/python3.x)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.embedlib-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ binder/requirements.txt -nt "$stamp" ]; then
  echo "==> installing embedlib and its dependencies into .venv (first time: about a minute)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  # EMBEDLIB_CONSTRAINTS=binder/requirements.txt (as .ci/run sets) installs the versions Binder pins.
  .venv/bin/python -m pip install --quiet ${EMBEDLIB_CONSTRAINTS:+-c "$EMBEDLIB_CONSTRAINTS"} -e ".[test]"
  touch "$stamp"
fi
# The editable build leaves embedlib.egg-info/ in the checkout; the installed metadata lives in .venv.
rm -rf embedlib.egg-info
.venv/bin/python scripts/jupyter/install.py
