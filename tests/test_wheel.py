"""A single lesson downloaded alone: embedlib installed from its wheel into a fresh virtual environment (no
checkout anywhere on sys.path), the notebook copied into an empty folder and run top to bottom."""

from __future__ import annotations

import shutil
import subprocess

import nbformat
import pytest
from readme_route import REAL_DATA_HOME, ROOT, clean_env

from embedlib.record import read_records

# Builds a fresh environment (a venv, a copy of the checkout or a browser): CI runs these beside the rest.
pytestmark = pytest.mark.fresh_env

# Lesson 3 uses the most of embedlib: models, training, baselines, explore, plots, exercises and records.
LESSON = "03-biases.ipynb"
SMALL = ["-p", "epochs", "2", "-p", "embedding_dim", "8", "-p", "batch_size", "256", "-p", "learning_rate", "0.01"]


@pytest.mark.slow
def test_one_lesson_runs_alone_with_embedlib_from_the_wheel(wheel_venv, tmp_path):
    bin_dir = wheel_venv
    alone = tmp_path / "my-course"
    alone.mkdir()
    shutil.copy(ROOT / "lessons" / LESSON, alone / LESSON)
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home, **({"EMBEDLIB_DATA": REAL_DATA_HOME} if REAL_DATA_HOME else {}))
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import embedlib; print(embedlib.__file__)"],
        cwd=alone,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(bin_dir.parent)), where.stdout + where.stderr
    dataset = [] if REAL_DATA_HOME else ["-p", "dataset", "synthetic"]
    params = [*SMALL, *dataset, "-y", "sweep_embedding_dims: [4]"]
    run = subprocess.run(
        [str(bin_dir / "papermill"), LESSON, "executed.ipynb", "--no-progress-bar", *params],
        cwd=alone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    executed = nbformat.read(alone / "executed.ipynb", as_version=4)
    assert not [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    records = read_records(executed)
    # What tests/test_lessons.py's small runs check for the other lessons: sane numbers, the models as written.
    assert records["builder_matches"] is True
    assert records["val_rmse"] < records["global_mean_rmse"] and records["bias_only_rmse"] < records["global_mean_rmse"]
    assert "sweep_best_val_rmse" in records
    assert {"test_rmse_global_mean", "test_rmse_bias_model", "test_rmse_weight_decay"} <= set(records)
    # The lesson writes nothing beside itself (its exploration loop runs in-process).
    assert sorted(p.name for p in alone.iterdir()) == [LESSON, "executed.ipynb"]
