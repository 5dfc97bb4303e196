"""Step timing for lesson 6's figure: every method gives a time per step, and a wrong method is refused."""

from __future__ import annotations

import math

import keras
import pytest

from embedlib.step_time import METHODS, step_seconds


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs_and_gives_a_finite_time_per_step(method):
    if method.startswith("rowwise") and keras.backend.backend() != "jax":
        pytest.skip("the row-wise trainer needs JAX")
    seconds = step_seconds(method, 50, n_users=20, steps=8, batch_size=4, embedding_dim=4)
    assert isinstance(seconds, float) and math.isfinite(seconds)


def test_an_unknown_method_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="keras adam, keras sgd, rowwise adam"):
        step_seconds("keras adagrad", 50)


def test_step_seconds_times_the_model_that_build_makes():
    from embedlib.models import one_hot_dot

    calls = []

    def build(n_users, n_movies, **options):
        calls.append((n_users, n_movies, options))
        return one_hot_dot(n_users, n_movies, **options)

    seconds = step_seconds("keras adam", 50, n_users=20, steps=4, batch_size=4, embedding_dim=4, build=build)
    assert calls == [(20, 49, {"embedding_dim": 4, "seed": 0})] and math.isfinite(seconds)
