"""Model builders: the dot product of two embeddings, with and without biases, biases alone, and an MLP.

They take dense ids (row 0 reserved) and return uncompiled models; ``one_hot_dot`` is the dot model the long way.
"""

from __future__ import annotations

import keras
from keras import layers

from embedlib.checks import check_count, check_rate
from embedlib.layers import ScaledSigmoid

__all__ = ["biases_only", "dot_with_bias", "mlp", "one_hot_dot", "simple_dot"]


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


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        check_count(name, value)


def _bias_terms(user, movie, n_users, n_movies, init_range, seed, embedding_layer, weight_decay=0.0):
    """The user and movie bias lookups both bias models share (seed offsets 4 and 5)."""
    user_bias = _embedding(embedding_layer, n_users + 1, 1, init_range, _seed(seed, 4), "user_bias", weight_decay)
    movie_bias = _embedding(embedding_layer, n_movies + 1, 1, init_range, _seed(seed, 5), "movie_bias", weight_decay)
    return user_bias(user), movie_bias(movie)


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
    _check_sizes(n_users=n_users, n_movies=n_movies, embedding_dim=embedding_dim)
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
    _check_sizes(n_users=n_users, n_movies=n_movies, embedding_dim=embedding_dim)
    check_rate("user_dropout", user_dropout)
    check_rate("movie_dropout", movie_dropout)
    user, movie = _inputs()
    u, m = _vectors(user, movie, n_users, n_movies, embedding_dim, init_range, seed, weight_decay, embedding_layer)
    u = layers.Dropout(user_dropout, seed=_seed(seed, 2), name="user_dropout")(u)
    m = layers.Dropout(movie_dropout, seed=_seed(seed, 3), name="movie_dropout")(m)
    user_bias, movie_bias = _bias_terms(user, movie, n_users, n_movies, init_range, seed, embedding_layer)
    score = layers.Add(name="score")([layers.Dot(axes=1, name="dot")([u, m]), user_bias, movie_bias])
    rating = ScaledSigmoid(*rating_range, name="rating")(score)
    return keras.Model({"user": user, "movie": movie}, rating, name="dot_with_bias")


def one_hot_dot(
    n_users: int,
    n_movies: int,
    *,
    embedding_dim: int = 64,
    init_range: tuple[float, float] = (0.0, 0.05),
    seed: int | None = None,
) -> keras.Model:
    """``simple_dot`` written the long way: each id as a one-hot vector, times a weight matrix (a ``Dense`` layer
    without bias). For the same weights it gives exactly ``simple_dot``'s outputs, at the cost of a matrix product
    with the whole table in every step. The kernels are the layers ``user_weights`` and ``movie_weights``."""
    _check_sizes(n_users=n_users, n_movies=n_movies, embedding_dim=embedding_dim)
    user, movie = _inputs()
    vectors = []
    for ids, rows, name, offset in ((user, n_users + 1, "user", 0), (movie, n_movies + 1, "movie", 1)):
        code = layers.CategoryEncoding(rows, output_mode="one_hot", name=f"{name}_one_hot")(ids)
        init = keras.initializers.RandomUniform(*init_range, seed=_seed(seed, offset))
        vectors.append(
            layers.Dense(embedding_dim, use_bias=False, kernel_initializer=init, name=f"{name}_weights")(code)
        )
    rating = layers.Dot(axes=1, name="dot")(vectors)
    return keras.Model({"user": user, "movie": movie}, rating, name="one_hot_dot")


def biases_only(
    n_users: int,
    n_movies: int,
    *,
    init_range: tuple[float, float] = (0.0, 0.05),
    weight_decay: float = 0.0,
    seed: int | None = None,
    rating_range: tuple[float, float] = (0.5, 5.0),
) -> keras.Model:
    """A user bias plus a movie bias, through the scaled sigmoid: ``dot_with_bias`` without the vectors.

    It is also the linear model on one-hot codes: a bias table of width 1 is a ``Dense(1)`` on the one-hot code.
    ``weight_decay`` here penalises the biases (``dot_with_bias`` leaves its biases free); the seed offsets match
    ``dot_with_bias``'s bias tables.
    """
    _check_sizes(n_users=n_users, n_movies=n_movies)
    user, movie = _inputs()
    user_bias, movie_bias = _bias_terms(
        user, movie, n_users, n_movies, init_range, seed, layers.Embedding, weight_decay
    )
    score = layers.Add(name="score")([user_bias, movie_bias])
    rating = ScaledSigmoid(*rating_range, name="rating")(score)
    return keras.Model({"user": user, "movie": movie}, rating, name="biases_only")


def mlp(
    n_users: int,
    n_movies: int,
    *,
    embedding_dim: int = 64,
    hidden_units: int | tuple[int, ...] = (64,),
    init_range: tuple[float, float] = (0.0, 0.05),
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    seed: int | None = None,
    rating_range: tuple[float, float] = (0.5, 5.0),
) -> keras.Model:
    """A user and a movie vector, concatenated and passed through ReLU layers to one score, then the scaled sigmoid.

    The "neural" alternative to the dot product (fastbook's ``CollabNN``, the MLP half of NeuMF): the network may
    learn any function of the two vectors, the dot product included, but has to learn it from the ratings.

    Args:
        hidden_units: the width of each hidden layer, in order (one number: a single layer).
        dropout: dropout on the concatenated vectors while training.
        The other arguments are as for ``dot_with_bias``.
    """
    _check_sizes(n_users=n_users, n_movies=n_movies, embedding_dim=embedding_dim)
    hidden_units = (hidden_units,) if isinstance(hidden_units, int) else tuple(hidden_units)
    for units in hidden_units:
        check_count("hidden_units", units)
    check_rate("dropout", dropout)
    user, movie = _inputs()
    u, m = _vectors(user, movie, n_users, n_movies, embedding_dim, init_range, seed, weight_decay, layers.Embedding)
    x = layers.Concatenate(name="both")([u, m])
    x = layers.Dropout(dropout, seed=_seed(seed, 2), name="dropout")(x)
    for i, units in enumerate(hidden_units):
        init = keras.initializers.GlorotUniform(seed=_seed(seed, 6 + i))
        x = layers.Dense(units, activation="relu", kernel_initializer=init, name=f"hidden_{i + 1}")(x)
    score = layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=_seed(seed, 5)), name="score")(x)
    rating = ScaledSigmoid(*rating_range, name="rating")(score)
    return keras.Model({"user": user, "movie": movie}, rating, name="mlp")
