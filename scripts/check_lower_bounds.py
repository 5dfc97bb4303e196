"""Keep pyproject.toml's lower bounds honest: install exactly those versions and run the library's tests on them.

Run by .ci/run with Python 3.11+ (about 4 minutes on 2 busy cores, most of it pip). The environment lives in a
temporary folder and is deleted afterwards; the lessons and papermill tests are left to the main suite, which runs
on Binder's pins.
Usage: .venv/bin/python scripts/check_lower_bounds.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_TESTS = [
    "tests/test_data.py",
    "tests/test_prepare.py",
    "tests/test_models.py",
    "tests/test_training.py",
    "tests/test_explore.py",
    "tests/test_layers.py",
    "tests/test_plots.py",
    "tests/test_record.py",
    "tests/test_ranking.py",
    "tests/test_retrieval.py",
    "tests/test_search.py",
]
PAIRED = {"jax": "jaxlib"}  # released in step: the lowest jax needs the same jaxlib


def lowest_versions() -> list[str]:
    """``name==low`` for every dependency of the library and of the course tools, and for pytest, from their ``>=``
    bounds in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pytest_bound = [d for d in extras["test"] if d.startswith("pytest")]
    pins = []
    for requirement in [*project["dependencies"], *extras["course"], *pytest_bound]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([\w.]+)(?:,<[\w.]+)?", requirement)
        if not match:
            sys.exit(f"check_lower_bounds: {requirement!r} has no plain >= lower bound to check")
        name, low = match.groups()
        pins.append(f"{name}=={low}")
        if name in PAIRED:
            pins.append(f"{PAIRED[name]}=={low}")
    return pins


def main() -> int:
    pins = lowest_versions()
    print("lower bounds:", " ".join(pins), flush=True)
    with tempfile.TemporaryDirectory(prefix="embedlib-lower-bounds-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        install = [python, "-m", "pip", "install", "--quiet", "--only-binary", ":all:", *pins]
        if subprocess.run(install).returncode != 0:
            print("check_lower_bounds: the lower bounds cannot be installed together: raise them", file=sys.stderr)
            return 1
        # embedlib from the source tree (no install: building would leave build/ and egg-info in the checkout).
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
        tests = [python, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider", *LIBRARY_TESTS]
        done = subprocess.run(tests, cwd=ROOT, env=env)
    if done.returncode != 0:
        print(
            "check_lower_bounds: the library fails on its lower bounds: raise them in pyproject.toml", file=sys.stderr
        )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
