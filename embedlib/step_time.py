"""How long one training step takes as the embedding table grows: Keras's dense update against the row-wise one."""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np
import pandas as pd

from embedlib.data import RatingScale
from embedlib.models import simple_dot
from embedlib.prepare import IdEncoder, Prepared
from embedlib.rowwise import fit_rowwise

__all__ = ["METHODS", "step_seconds"]

METHODS = ("keras adam", "keras sgd", "rowwise adam")


def _random_ratings(n_users: int, movie_rows: int, n: int, seed: int) -> Prepared:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user": rng.integers(1, n_users + 1, n).astype("int32"),
            "movie": rng.integers(1, movie_rows, n).astype("int32"),
            "rating": rng.uniform(0.5, 5.0, n).astype("float32"),
        }
    )
    users, movies = IdEncoder(np.arange(1, n_users + 1), "userId"), IdEncoder(np.arange(1, movie_rows), "movieId")
    return Prepared(frame, frame.iloc[:256], users, movies, RatingScale(0.5, 5.0, 0.5))  # validation: a token


def step_seconds(
    method: str,
    movie_rows: int,
    *,
    n_users: int = 610,
    steps: int = 200,
    batch_size: int = 32,
    embedding_dim: int = 64,
    seed: int = 0,
    build: Callable[..., keras.Model] = simple_dot,
) -> float:
    """Seconds per training step of a model (``simple_dot`` unless ``build`` says otherwise) on random ratings, timed
    once the step is compiled.

    ``method`` is one of ``METHODS``: Keras ``fit`` with Adam or SGD (a dense, table-sized update on JAX), or
    ``fit_rowwise`` with lazy Adam (JAX only). ``build`` makes the model instead of ``simple_dot``, e.g.
    ``models.one_hot_dot``; it is called as ``build(n_users, n_movies, embedding_dim=..., seed=...)``.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(METHODS)}. Received: method={method!r}.")
    prep = _random_ratings(n_users, movie_rows, steps * batch_size, seed)
    model = build(n_users, movie_rows - 1, embedding_dim=embedding_dim, seed=seed)
    if method == "rowwise adam":
        # An epoch takes milliseconds here: the median of four (after the compiling one) steadies the figure.
        history = fit_rowwise(model, prep, epochs=5, batch_size=batch_size, patience=5, seed=seed, verbose=False)
        return float(np.median(history.attrs["epoch_seconds"][1:])) / steps
    model.compile(keras.optimizers.get(method.split()[1]), "mse")
    warm_up = prep.train.iloc[: 2 * batch_size]  # compiles the step: the timed epoch has only full batches, too
    model.fit(prep.inputs(warm_up), prep.targets(warm_up), batch_size=batch_size, epochs=1, verbose=0)
    x, y = prep.inputs(prep.train), prep.targets(prep.train)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    return (time.perf_counter() - start) / steps
