"""Binder, as far as it can be proved offline: repo2docker's build plan, and an environment made only from binder/.

Both are slow (a fresh virtual environment is installed from the package registry) and marked so.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from readme_route import copy_checkout

from helpers import REAL_DATA_HOME

# Builds a fresh environment (a venv, a copy of the checkout or a browser): CI runs these beside the rest.
pytestmark = pytest.mark.fresh_env


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_repo2docker_plans_the_image_from_binder():
    repo2docker = shutil.which("repo2docker") or str(Path(sys.executable).with_name("repo2docker"))
    if not Path(repo2docker).exists():
        pytest.skip("needs jupyter-repo2docker (pip install -e '.[test]')")
    plan = subprocess.run(
        [repo2docker, "--no-build", "--debug", str(ROOT)], capture_output=True, text=True, timeout=300
    )
    assert plan.returncode == 0, plan.stderr[-2000:]
    text = plan.stdout + plan.stderr
    assert "Building conda environment for python=3.11" in text
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in text
    assert "RUN ./binder/postBuild" in text and 'R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in text
    assert "tensorflow" not in text.lower() and "torch" not in text.lower()


def post_build_python_steps() -> list[list[str]]:
    """postBuild's `python ...` lines: installing embedlib, then the course kernel and settings."""
    lines = (ROOT / "binder" / "postBuild").read_text().splitlines()
    steps = [shlex.split(line, comments=True) for line in lines]
    steps = [step for step in steps if step and step[0] == "python"]
    assert any(step[1:4] == ["-m", "pip", "install"] for step in steps), "postBuild does not install embedlib"
    return steps


@pytest.mark.slow
def test_an_environment_built_only_from_binder_runs_the_first_lesson(tmp_path):
    venv = tmp_path / "binder-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", str(ROOT / "binder" / "requirements.txt")],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    repo = copy_checkout(tmp_path / "repo")  # an editable install writes embedlib.egg-info beside the sources
    for step in post_build_python_steps():
        done = subprocess.run([python, *step[1:]], cwd=repo, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]

    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}  # the course kernel chooses JAX
    params = [] if REAL_DATA_HOME else ["-p", "dataset", "synthetic"]
    out = tmp_path / "out"
    run = subprocess.run(
        [str(venv / "bin" / "embedlib"), "run", "01", "--output-dir", str(out), "--no-progress", *params],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert (out / "01-embeddings-intro.ipynb").exists()
    assert (
        str(venv)
        in subprocess.run(
            [python, "-c", "import embedlib; print(embedlib.__file__, __import__('sys').prefix)"],
            capture_output=True,
            text=True,
        ).stdout
    )
