"""The lessons whose code depends on the backend, on Keras's TensorFlow backend (Colab ships TensorFlow): a separate
environment outside the checkout with embedlib's wheel and tensorflow-cpu, KERAS_BACKEND=tensorflow, synthetic data,
small parameters.

Lesson 5 (a layer written with `keras.ops`, inside the dot model, trained with `fit`) and lesson 6 (TensorFlow's
sparse gradient, the JAX-only parts it skips, and lesson 3's bias model trained with `embedlib.training.fit`) and
lesson 7 (a model that overrides `compute_loss`, with `keras.ops` in its loss) and lesson 8 (one-hot codes through
`CategoryEncoding`, a loss that masks NaN targets with `keras.ops.where`) run here. Lessons 1 and 4 are NumPy and pandas, and lessons 2 and 3 build their models from the same Keras layers and
train them with the same `fit`; EMBEDLIB_TF_LESSONS=all runs every lesson (about 8 minutes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from readme_route import ROOT, clean_env

from embedlib import course

from helpers import small_params_for

# Builds a fresh environment (a venv, a copy of the checkout or a browser): CI runs these beside the rest.
pytestmark = pytest.mark.fresh_env


RUN_ALL = """
import json, sys
from pathlib import Path
import nbformat, papermill
from embedlib import cli, course, execute
lessons = course.find_lessons(Path(sys.argv[1]))
results = execute.run_lessons(lessons, json.loads(sys.argv[2]), Path(sys.argv[3]), progress=False)
print(cli.format_table(results))
probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import keras; print(keras.config.backend())")])
probe.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nbformat.write(probe, Path(sys.argv[3]) / "probe.ipynb")
ran = papermill.execute_notebook(Path(sys.argv[3]) / "probe.ipynb", Path(sys.argv[3]) / "probe-out.ipynb", progress_bar=False)
print("keras backend in the lessons' kernel:", ran.cells[0].outputs[0]["text"].strip())
sys.exit(0 if all(r.ok for r in results) else 1)
"""


TF_LESSONS = ("05", "06", "07", "08")


def tf_lessons() -> list[Path]:
    chosen = os.environ.get("EMBEDLIB_TF_LESSONS", "")
    every = sorted((ROOT / "lessons").glob("[0-9]*.ipynb"))
    return every if chosen == "all" else [p for p in every if p.name[:2] in TF_LESSONS]


@pytest.mark.slow
def test_the_backend_dependent_lessons_run_on_the_tensorflow_backend(wheel_venv, tmp_path):
    if sys.version_info >= (3, 14):
        pytest.skip("tensorflow-cpu has no wheels for this Python yet")
    bin_dir = wheel_venv
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    for lesson in tf_lessons():
        shutil.copy(lesson, lessons / lesson.name)
    small = small_params_for(course.find_lessons(lessons))
    out = tmp_path / "out"
    home = tmp_path / "home"
    home.mkdir()
    run = subprocess.run(
        [str(bin_dir / "python"), "-c", RUN_ALL, str(lessons), json.dumps(small), str(out)],
        cwd=tmp_path,
        env=clean_env(home, KERAS_BACKEND="tensorflow"),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    print(run.stdout[-3000:])
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "keras backend in the lessons' kernel: tensorflow" in run.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert [e["lesson"] for e in summary["lessons"]] == sorted(p.stem for p in lessons.glob("[0-9]*.ipynb"))
    assert {e["status"] for e in summary["lessons"]} == {"ok"}
