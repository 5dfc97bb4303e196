"""Fixtures: an isolated cache, no stray data folder, closed figures, tiny datasets. Shared helpers: helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import embedlib  # noqa: F401 - sets the Keras backend (JAX) before any test module imports keras

from helpers import write_small


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """Each test gets an empty cache, no EMBEDLIB_DATA, EMBEDLIB_LESSONS or strict mode unless it sets them."""
    monkeypatch.setenv("EMBEDLIB_CACHE", str(tmp_path_factory.mktemp("cache")))
    for name in ("EMBEDLIB_DATA", "EMBEDLIB_STRICT", "EMBEDLIB_LESSONS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def small_folder(tmp_path) -> Path:
    return write_small(tmp_path / "home")


@pytest.fixture
def tiny_synthetic():
    """A small synthetic dataset, prepared: fast enough to train a model in a second or two."""
    from embedlib.prepare import prepare_ratings
    from embedlib.synthetic import make_synthetic

    data = make_synthetic(seed=3, n_users=60, n_movies=1500, n_ratings=6000, n_factors=4)
    return data, prepare_ratings(data, valid_frac=0.2, seed=1)


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with embedlib from its wheel, plus tensorflow-cpu (where it has wheels).

    One install serves the wheel-only test (KERAS_BACKEND unset, so JAX) and the TensorFlow-backend test.
    """
    import sys

    from readme_route import build_wheel, fresh_venv

    extras = ["tensorflow-cpu"] if sys.version_info < (3, 14) else []
    wheel = build_wheel(tmp_path_factory)  # with the course tools, which run the lesson (papermill, nbformat)
    return fresh_venv(tmp_path_factory.mktemp("wheel-env") / "venv", f"{wheel}[course]", *extras)
