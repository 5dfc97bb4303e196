"""The Keras backend embedlib chooses: JAX by default, the user's choice kept, a clear error when Keras came first
with a backend that cannot train. Each case runs in a fresh interpreter with its own HOME (Keras reads
~/.keras/keras.json once, on first import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run_python(code: str, home, *, keras_json_backend: str | None = None, env_backend: str | None = None):
    if keras_json_backend:
        (home / ".keras").mkdir(parents=True, exist_ok=True)
        (home / ".keras" / "keras.json").write_text(json.dumps({"backend": keras_json_backend}))
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["HOME"] = str(home)
    if env_backend:
        env["KERAS_BACKEND"] = env_backend
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


REPORT = "import os, keras; print(keras.config.backend(), os.environ['KERAS_BACKEND'])"


def test_importing_embedlib_first_makes_jax_the_backend_even_if_keras_json_says_tensorflow(tmp_path):
    done = run_python(f"import embedlib; {REPORT}", tmp_path, keras_json_backend="tensorflow")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["jax", "jax"]


def test_a_backend_the_user_chose_is_kept(tmp_path):
    done = run_python(
        "import embedlib, os; print(embedlib.backend.choose_backend(), os.environ['KERAS_BACKEND'])",
        tmp_path,
        env_backend="torch",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["torch", "torch"]


def test_keras_imported_first_on_a_training_backend_is_kept_and_reported(tmp_path):
    # keras.json says jax and KERAS_BACKEND is unset: Keras chose, so embedlib must report Keras's choice.
    done = run_python(f"import keras, embedlib; {REPORT}", tmp_path, keras_json_backend="jax")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["jax", "jax"]


def test_keras_imported_first_on_a_backend_that_cannot_train_is_a_clear_error(tmp_path):
    done = run_python("import keras, embedlib", tmp_path, keras_json_backend="numpy")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("embedlib.backend.BackendError:"), done.stderr[-2000:]
    assert "'numpy' backend, which cannot train" in last and "import embedlib before keras" in last


@pytest.mark.parametrize("argv", [["-m", "embedlib", "--help"]])
def test_python_dash_m_embedlib_is_the_embedlib_command(argv):
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: embedlib ")
