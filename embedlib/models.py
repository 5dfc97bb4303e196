"""Model builders: the tutorial's dot-product model and its version with biases. They return uncompiled models."""

from __future__ import annotations

import keras
from keras import layers

from embedlib.checks import check_count
from embedlib.layers import ScaledSigmoid

__all__ = ["dot_with_bias", "simple_dot"]


def _seed(seed: int | None, offset: int) -> int | None:
    return None if seed is None else seed + offset


def _inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    return keras.Input(shape=(), dtype="int32", name="user"), keras.Input(shape=(), dtype="int32", name="movie")


def _embedding(
    layer_class,
    rows: int,
    dim: int,
    init_range: tuple[float, float],
    seed: int | None,
    name: str,
    weight_decay: float = 0.0,
):
    low, high = init_range
    init = keras.initializers.RandomUniform(minval=low, maxval=high, seed=seed)
    penalty = keras.regularizers.L2(weight_decay) if weight_decay else None
    return layer_class(rows, dim, embeddings_initializer=init, embeddings_regularizer=penalty, name=name)


def _vectors(user, movie, n_users, n_movies, embedding_dim, init_range, seed, weight_decay, embedding_layer):
    """The user and movie vectors both builders start from (seed offsets 0 and 1)."""
    u = _embedding(
        embedding_layer, n_users + 1, embedding_dim, init_range, _seed(seed, 0), "user_embedding", weight_decay
    )(user)
    m = _embedding(
        embedding_layer, n_movies + 1, embedding_dim, init_range, _seed(seed, 1), "movie_embedding", weight_decay
    )(movie)
    return u, m


def _check_rate(name: str, rate: float) -> float:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={rate!r}.")
    return rate


def simple_dot(
    n_users: int,
    n_movies: int,
    *,
    embedding_dim: int = 64,
    init_range: tuple[float, float] = (0.0, 0.05),
    weight_decay: float = 0.0,
    embedding_layer: type[keras.layers.Layer] = layers.Embedding,
    seed: int | None = None,
) -> keras.Model:
    """Predict a rating as the dot product of a user and a movie embedding.

    Args:
        n_users, n_movies: how many ids were encoded; the tables get one more row (row 0 is reserved).
        embedding_dim: length of each vector.
        init_range: the uniform range the vectors start in; [0, 0.05] as in the tutorial.
        weight_decay: L2 penalty on the user and movie tables (a Keras regulariser: the whole tables' squared sum,
            added to every step's loss); 0 in the tutorial.
        embedding_layer: the lookup layer class, e.g. ``keras.layers.Embedding`` or ``SimpleEmbedding``.
        seed: seeds the initialisers, for reproducible runs.
    """
    for name, value in (("n_users", n_users), ("n_movies", n_movies), ("embedding_dim", embedding_dim)):
        check_count(name, value)
    user, movie = _inputs()
    u, m = _vectors(user, movie, n_users, n_movies, embedding_dim, init_range, seed, weight_decay, embedding_layer)
    rating = layers.Dot(axes=1, name="dot")([u, m])
    return keras.Model({"user": user, "movie": movie}, rating, name="simple_dot")


def dot_with_bias(
    n_users: int,
    n_movies: int,
    *,
    embedding_dim: int = 64,
    init_range: tuple[float, float] = (0.0, 0.05),
    weight_decay: float = 0.0,
    embedding_layer: type[keras.layers.Layer] = layers.Embedding,
    seed: int | None = None,
    user_dropout: float = 0.3,
    movie_dropout: float = 0.6,
    rating_range: tuple[float, float] = (0.5, 5.0),
) -> keras.Model:
    """Dot product plus a user and a movie bias, through a sigmoid scaled to the rating range.

    Args:
        user_dropout, movie_dropout: dropout on the user and movie vectors (0.3 and 0.6 in the tutorial).
        rating_range: (lowest, highest) rating; the output never leaves it.
        The other arguments are as for ``simple_dot``.
    """
    for name, value in (("n_users", n_users), ("n_movies", n_movies), ("embedding_dim", embedding_dim)):
        check_count(name, value)
    _check_rate("user_dropout", user_dropout)
    _check_rate("movie_dropout", movie_dropout)
    user, movie = _inputs()
    u, m = _vectors(user, movie, n_users, n_movies, embedding_dim, init_range, seed, weight_decay, embedding_layer)
    u = layers.Dropout(user_dropout, seed=_seed(seed, 2), name="user_dropout")(u)
    m = layers.Dropout(movie_dropout, seed=_seed(seed, 3), name="movie_dropout")(m)
    user_bias = _embedding(embedding_layer, n_users + 1, 1, init_range, _seed(seed, 4), "user_bias")(user)
    movie_bias = _embedding(embedding_layer, n_movies + 1, 1, init_range, _seed(seed, 5), "movie_bias")(movie)
    score = layers.Add(name="score")([layers.Dot(axes=1, name="dot")([u, m]), user_bias, movie_bias])
    rating = ScaledSigmoid(*rating_range, name="rating")(score)
    return keras.Model({"user": user, "movie": movie}, rating, name="dot_with_bias")
