"""embedlib.environment: the Keras backend embedlib chooses, JAX's compile cache, the environment variables.

The backend: JAX by default, the user's choice kept, a clear error when Keras came first with a backend that cannot
train. Each case runs in a fresh interpreter with its own HOME (Keras reads ~/.keras/keras.json once, on first import).
The compile cache: a second run loads what the first compiled, a switch turns it off, bad entries recompile, and
kernels that fill one cache at the same time never read each other's half-written entries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embedlib import environment


def run_python(code: str, home, *, keras_json_backend: str | None = None, env_backend: str | None = None):
    if keras_json_backend:
        (home / ".keras").mkdir(parents=True, exist_ok=True)
        (home / ".keras" / "keras.json").write_text(json.dumps({"backend": keras_json_backend}))
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["HOME"] = str(home)
    if env_backend is not None:
        env["KERAS_BACKEND"] = env_backend
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


REPORT = "import os, keras; print(keras.config.backend(), os.environ['KERAS_BACKEND'])"


def test_importing_embedlib_first_makes_jax_the_backend_even_if_keras_json_says_tensorflow(tmp_path):
    done = run_python(f"import embedlib; {REPORT}", tmp_path, keras_json_backend="tensorflow")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["jax", "jax"]


def test_a_backend_the_user_chose_is_kept(tmp_path):
    done = run_python(
        "import embedlib, os; print(embedlib.environment.choose_backend(), os.environ['KERAS_BACKEND'])",
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
    assert last.startswith("embedlib.environment.BackendError:"), done.stderr[-2000:]
    assert "'numpy' backend, which cannot train" in last and "import embedlib before keras" in last


@pytest.mark.parametrize("argv", [["-m", "embedlib", "--help"]])
def test_python_dash_m_embedlib_is_the_embedlib_command(argv):
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: embedlib ")


# Trains a tiny Keras model for an epoch, and counts what JAX compiled and what it loaded from the cache.
RUN = """
import json
import jax
counts = {"compiles": 0, "hits": 0}
def on_duration(event, duration, **kw):
    if event == "/jax/core/compile/backend_compile_duration":
        counts["compiles"] += 1
def on_event(event, **kw):
    if event == "/jax/compilation_cache/cache_hits":
        counts["hits"] += 1
jax.monitoring.register_event_duration_secs_listener(on_duration)
jax.monitoring.register_event_listener(on_event)

import embedlib
from embedlib.models import dot_with_bias
from embedlib.synthetic import make_synthetic
from embedlib.training import fit

data = make_synthetic(seed=1, n_users=20, n_movies=30, n_ratings=400, n_factors=2)
prep = embedlib.prepare_ratings(data, valid_frac=0.2, seed=1)
model = dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=4, rating_range=prep.rating_range, seed=0)
fit(model, prep, epochs=1, batch_size=64, verbose=False)
counts["compiled"] = counts["compiles"] - counts["hits"]
print("COUNTS", json.dumps(counts))
"""


def run_counting(cache: Path, **env: str) -> dict:
    environment = {**os.environ, "EMBEDLIB_CACHE": str(cache), **env}
    environment.pop("JAX_COMPILATION_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", RUN], env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("COUNTS "))
    return json.loads(line.removeprefix("COUNTS "))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    cache = tmp_path_factory.mktemp("compile-cache")
    return cache, run_counting(cache), run_counting(cache)


def test_second_run_loads_every_compilation_from_the_cache(two_runs):
    cache, first, second = two_runs
    assert first["compiled"] >= 3 and first["hits"] == 0, first  # Keras's train and eval steps, and more
    assert second["compiled"] == 0 and second["hits"] == first["compiled"], second
    assert any((cache / "jax-compiled").iterdir())


def test_an_entry_that_cannot_be_loaded_costs_a_recompile_not_an_error(two_runs, tmp_path):
    cache, first, _ = two_runs
    damaged = tmp_path / "damaged"
    for entry in (cache / "jax-compiled").rglob("*"):
        if entry.is_file():
            target = damaged / entry.relative_to(cache)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"not an executable for this CPU")
    again = run_counting(damaged)
    assert again["hits"] == 0 and again["compiled"] == first["compiled"], again


def test_the_switch_turns_it_off(tmp_path):
    counts = run_counting(tmp_path, EMBEDLIB_COMPILE_CACHE="0")
    assert counts["hits"] == 0 and counts["compiled"] >= 3
    assert not (tmp_path / "jax-compiled").exists()


def test_kernels_filling_one_cache_at_once_never_read_a_half_written_entry(tmp_path):
    # JAX locks its cache only when it has a size limit; without the lock, a run that reads an entry another run is
    # still writing warns "Error reading persistent compilation cache entry" and compiles again.
    runs = 4
    environment_ = {**os.environ, "EMBEDLIB_CACHE": str(tmp_path), "PYTHONWARNINGS": "always"}
    environment_.pop("JAX_COMPILATION_CACHE_DIR", None)
    started = [
        subprocess.Popen([sys.executable, "-c", RUN], env=environment_, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(runs)
    ]
    outputs = [p.communicate(timeout=600) for p in started]
    assert all(p.returncode == 0 for p in started), [err.decode()[-2000:] for _, err in outputs]
    assert not any(b"Error reading persistent compilation cache" in err for _, err in outputs)
    assert (tmp_path / "jax-compiled" / ".lockfile").exists()  # the limit is set, so JAX locks


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [("1", False, True), ("yes", False, True), ("0", False, False), ("", False, False), ("", True, True),
     ("0", True, False), ("off", True, False), ("on", True, True), (" Yes ", False, True)],
)  # fmt: skip
def test_env_flag_reads_yes_and_no(monkeypatch, value, default, expected):
    monkeypatch.setenv("EMBEDLIB_SOME_FLAG", value)
    assert environment.env_flag("EMBEDLIB_SOME_FLAG", default=default) is expected


def test_write_atomic_leaves_no_temporary_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(TypeError):
        environment.write_atomic(target, 42)  # neither str nor bytes
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_env_flag_refuses_a_word_it_does_not_know(monkeypatch):
    monkeypatch.setenv("EMBEDLIB_STRICT", "disable")
    with pytest.raises(
        ValueError, match="EMBEDLIB_STRICT='disable' is neither yes nor no: set it to one of 0, 1, false, no"
    ):
        environment.env_flag("EMBEDLIB_STRICT")


def test_write_atomic_gives_new_files_the_usual_permissions_and_keeps_an_existing_files(tmp_path):
    fresh = environment.write_atomic(tmp_path / "new.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~mask
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    environment.write_atomic(kept, "new")
    assert kept.stat().st_mode & 0o777 == 0o640 and kept.read_text() == "new"


CHILD = "import embedlib, jax; print(jax.config.jax_compilation_cache_dir, jax.config.jax_compilation_cache_max_size)"


def test_a_process_started_from_embedlib_decides_its_own_compile_cache(tmp_path):
    # This pytest process imported embedlib, which wrote JAX_* variables; a kernel inherits them.
    parent = dict(os.environ)
    assert environment.SET_BY_EMBEDLIB in parent or "jax" in sys.modules
    own = subprocess.run(
        [sys.executable, "-c", CHILD], env={**parent, "EMBEDLIB_CACHE": str(tmp_path / "c")},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert own.returncode == 0, own.stderr[-2000:]
    assert own.stdout.split() == [str(tmp_path / "c" / "jax-compiled"), str(environment.COMPILE_CACHE_MAX_BYTES)]
    off = subprocess.run(
        [sys.executable, "-c", CHILD], env={**parent, "EMBEDLIB_COMPILE_CACHE": "0"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert off.returncode == 0, off.stderr[-2000:]
    assert off.stdout.split() == ["None", "-1"]
    users = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in parent.items() if not k.startswith("JAX_") and k != environment.SET_BY_EMBEDLIB},
             "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "mine"), "JAX_COMPILATION_CACHE_MAX_SIZE": "12345"},
    )  # fmt: skip
    assert users.stdout.split() == [str(tmp_path / "mine"), "12345"], users.stderr[-2000:]


def test_an_empty_keras_backend_means_jax_as_it_means_unset_to_keras(tmp_path):
    done = run_python("import embedlib, keras; print(keras.config.backend())", tmp_path, keras_json_backend="tensorflow",
                      env_backend="")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["jax"]
