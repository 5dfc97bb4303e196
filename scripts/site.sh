#!/usr/bin/env bash
# Build the course website into site-output/ from the committed lessons (nothing is executed: the pages show the
# outputs committed with the lessons). Sets up .venv first; needs no internet once MathJax is in embedlib's cache.
# Preview: .venv/bin/python -m http.server --directory site-output 8000, then open http://localhost:8000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/build_site.py "$@"
