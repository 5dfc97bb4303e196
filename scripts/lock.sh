#!/usr/bin/env bash
# Compile binder/requirements.in (the direct pins, commented) into binder/requirements.txt: every package Binder's
# image installs, transitive ones included, at one version each, so an image built next year is the image CI tests
# today. Run it after changing binder/requirements.in; commit both files. Needs the package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
.venv/bin/python -m pip install --quiet "uv==0.13.9"
# Binder runs Python 3.11 (binder/runtime.txt) on x86-64 Linux.
.venv/bin/uv pip compile binder/requirements.in --quiet --python-version 3.11 \
  --python-platform x86_64-manylinux_2_28 --output-file binder/requirements.txt \
  --custom-compile-command "bash scripts/lock.sh"
echo "binder/requirements.txt: $(grep -c '==' binder/requirements.txt) packages pinned"
