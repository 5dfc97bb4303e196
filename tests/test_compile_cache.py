"""The compile cache: a second run loads what the first compiled; a switch turns it off; bad entries recompile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert any((cache / "jax-compilation-cache").iterdir())


def test_an_entry_that_cannot_be_loaded_costs_a_recompile_not_an_error(two_runs, tmp_path):
    cache, first, _ = two_runs
    damaged = tmp_path / "damaged"
    for entry in (cache / "jax-compilation-cache").rglob("*"):
        if entry.is_file():
            target = damaged / entry.relative_to(cache)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"not an executable for this CPU")
    again = run_counting(damaged)
    assert again["hits"] == 0 and again["compiled"] == first["compiled"], again


def test_the_switch_turns_it_off(tmp_path):
    counts = run_counting(tmp_path, EMBEDLIB_COMPILE_CACHE="0")
    assert counts["hits"] == 0 and counts["compiled"] >= 3
    assert not (tmp_path / "jax-compilation-cache").exists()
