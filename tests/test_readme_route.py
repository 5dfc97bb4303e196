"""The README's JupyterLab route on a new user's machine: a fresh copy set up with `bash scripts/setup.sh`, a fresh
HOME with no ~/.keras, and no KERAS_BACKEND anywhere. (tests/test_browser.py drives the same route in Chromium.)"""

from __future__ import annotations

import json
import subprocess
import time

import nbformat
import pytest
from readme_route import clean_env, lab_started_the_readme_way, set_up_checkout

# Builds a fresh environment (a venv, a copy of the checkout or a browser): CI runs these beside the rest.
pytestmark = pytest.mark.fresh_env


KERAS_FIRST = [
    "import keras\nimport embedlib",
    "from embedlib.models import simple_dot\nfrom embedlib.synthetic import make_synthetic\n"
    "from embedlib.training import fit\n\n"
    "data = make_synthetic(seed=1, n_users=50, n_movies=200, n_ratings=3000, n_factors=3)\n"
    "prep = embedlib.prepare_ratings(data, valid_frac=0.2, seed=1)\n"
    "model = simple_dot(prep.n_users, prep.n_movies, embedding_dim=4, seed=1)\n"
    "history = fit(model, prep, epochs=2, batch_size=256, seed=1)",
    'print("backend:", keras.config.backend(), "| epochs trained:", len(history))',
]


def keras_first_notebook(path):
    """A learner's new notebook: `import keras` then `import embedlib` in its first cell, then a model trained."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in KERAS_FIRST]
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    return set_up_checkout(tmp_path_factory)


def execute_in_course_kernel(checkout, notebook, home, **env):
    """Run a notebook with the checkout's papermill: the kernel is found by name (python3) as JupyterLab finds it."""
    out = notebook.with_name(f"{notebook.stem}-out.ipynb")
    done = subprocess.run(
        [str(checkout / ".venv" / "bin" / "papermill"), str(notebook), str(out), "--no-progress-bar"],
        cwd=notebook.parent,
        env=clean_env(home, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done, (nbformat.read(out, as_version=4) if out.exists() else None)


def outputs_text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_setup_makes_the_course_kernel_the_python3_kernel(checkout, tmp_path):
    listed = subprocess.run(
        [str(checkout / ".venv" / "bin" / "jupyter"), "kernelspec", "list", "--json"],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
    )
    specs = json.loads(listed.stdout)["kernelspecs"]
    assert specs["python3"]["resource_dir"] == str(checkout / ".venv" / "share" / "jupyter" / "kernels" / "python3")
    assert specs["python3"]["spec"]["argv"][1] == "{resource_dir}/kernel_launcher.py"
    overrides = json.loads((checkout / ".venv/share/jupyter/lab/settings/overrides.json").read_text())
    assert overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["markdown"] == "Markdown Preview"
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


@pytest.mark.slow
def test_a_notebook_that_imports_keras_first_trains_a_model_in_the_course_kernel(checkout, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    done, nb = execute_in_course_kernel(checkout, keras_first_notebook(tmp_path / "mine.ipynb"), home)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "backend: jax | epochs trained: 2" in outputs_text(nb)
    # Keras wrote its default (tensorflow) into the fresh HOME: the kernel, not keras.json, chose JAX.
    assert json.loads((home / ".keras" / "keras.json").read_text())["backend"] == "tensorflow"


@pytest.mark.slow
def test_the_course_kernel_keeps_a_backend_the_user_set(checkout, tmp_path):
    notebook = tmp_path / "which.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell('import keras\nprint("backend:", keras.config.backend())')]
    nbformat.write(nb, notebook)
    done, out = execute_in_course_kernel(checkout, notebook, tmp_path, KERAS_BACKEND="numpy")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "backend: numpy" in outputs_text(out)


@pytest.mark.slow
def test_a_jupyterlab_terminal_finds_the_embedlib_command(checkout, tmp_path):
    websocket = pytest.importorskip("websocket", reason="needs websocket-client (a dependency of jupyter_server)")
    home = tmp_path / "home"
    home.mkdir()
    with lab_started_the_readme_way(checkout, home, tmp_path / "lab.log") as lab:
        name = json.loads(lab.api("/api/terminals", method="POST"))["name"]
        ws = websocket.create_connection(
            f"{lab.url.replace('http', 'ws')}/terminals/websocket/{name}?token={lab.token}", timeout=60
        )
        ws.settimeout(5)
        ws.send(json.dumps(["stdin", "embedlib lessons; python -m embedlib --help | head -1; echo DONE-$((6*7))\r"]))
        seen, deadline = "", time.time() + 120
        while "DONE-42" not in seen and time.time() < deadline:
            try:
                message = json.loads(ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if message[0] == "stdout":
                seen += message[1]
        ws.close()
    assert "DONE-42" in seen, seen[-2000:]
    assert "command not found" not in seen
    assert "01-embeddings-intro" in seen and "usage: embedlib" in seen
