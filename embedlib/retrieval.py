"""An implicit-feedback embedding model: user and movie vectors learned from who rated what, with in-batch softmax.

Each training pair (user, movie) in a batch is a positive; the other movies of the same batch are its negatives.
Popular movies turn up in batches more often, so they would be pushed down as negatives more often: the logQ
correction (Yi et al., 2019) subtracts the log of each movie's share of the training pairs from its score while
training. At recommendation time the score is the plain dot product, so ``ranking.model_scorer`` reads the model.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from keras import ops

from embedlib.checks import check_count, check_non_negative, check_positive
from embedlib.training import EpochLine, default_steps_per_execution, set_seed

__all__ = ["InBatchSoftmaxModel", "fit_implicit", "in_batch_softmax_loss", "log_popularity", "next_movie_pairs"]


def log_popularity(movie_counts: np.ndarray) -> np.ndarray:
    """log of each movie row's share of the training pairs; 0 for rows with no pair (row 0, unseen movies)."""
    counts = np.asarray(movie_counts, dtype="float64")
    if counts.ndim != 1 or counts.sum() <= 0 or (counts < 0).any():
        raise ValueError("`movie_counts` must be a 1-D array of non-negative counts with at least one pair.")
    with np.errstate(divide="ignore"):
        return np.where(counts > 0, np.log(counts / counts.sum()), 0.0).astype("float32")


def in_batch_softmax_loss(user_vectors, movie_vectors, movie_ids, log_q=None):
    """Softmax cross-entropy of each user against every movie in the batch, its own movie being the right answer.

    ``log_q`` (the log share of each movie among training pairs, looked up for the batch's movies) is subtracted
    from the scores; a movie that appears twice in a batch is not counted as a negative for its own duplicate.
    """
    scores = ops.matmul(user_vectors, ops.transpose(movie_vectors))  # (batch, batch): user i against movie j
    if log_q is not None:
        scores = scores - ops.expand_dims(log_q, 0)
    n = ops.shape(scores)[0]
    duplicate = ops.logical_and(
        ops.equal(ops.expand_dims(movie_ids, 1), ops.expand_dims(movie_ids, 0)),
        ops.logical_not(ops.eye(n, dtype="bool")),
    )
    scores = ops.where(duplicate, ops.full_like(scores, -1e9), scores)
    losses = keras.losses.sparse_categorical_crossentropy(ops.arange(n), scores, from_logits=True)
    return ops.mean(losses)


@keras.saving.register_keras_serializable(package="embedlib")
class InBatchSoftmaxModel(keras.Model):
    """User and movie embeddings whose dot product scores a movie for a user, trained with ``in_batch_softmax_loss``.

    Args:
        n_users, n_movies: how many ids were encoded; the tables get one more row (row 0 is reserved).
        movie_counts: training pairs per movie row, for the logQ correction (None: no correction).
        embedding_dim: length of each vector.
        weight_decay: L2 penalty on both tables (a Keras regulariser: the whole tables' squared sum, at every step).
        seed: seeds the initialisers.
    """

    def __init__(
        self,
        n_users: int,
        n_movies: int,
        *,
        movie_counts: np.ndarray | None = None,
        embedding_dim: int = 64,
        weight_decay: float = 1e-4,
        seed: int | None = None,
        popularity_correction: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("n_users", n_users), ("n_movies", n_movies), ("embedding_dim", embedding_dim)):
            check_count(name, value)
        self.weight_decay = check_non_negative("weight_decay", weight_decay)
        self.n_users, self.n_movies, self.embedding_dim, self.seed = n_users, n_movies, embedding_dim, seed
        self.popularity_correction = popularity_correction
        penalty = keras.regularizers.L2(weight_decay) if weight_decay else None

        def table(rows: int, name: str, offset: int) -> keras.layers.Embedding:
            init = keras.initializers.RandomNormal(stddev=0.05, seed=None if seed is None else seed + offset)
            layer = keras.layers.Embedding(rows, embedding_dim, embeddings_initializer=init, name=name,
                                           embeddings_regularizer=penalty)  # fmt: skip
            layer.build()
            return layer

        self.user_embedding = table(n_users + 1, "user_embedding", 0)
        self.movie_embedding = table(n_movies + 1, "movie_embedding", 1)
        self.log_q = self.add_weight(shape=(n_movies + 1,), initializer="zeros", trainable=False, name="log_q")
        if movie_counts is not None:
            if len(movie_counts) != n_movies + 1:
                raise ValueError(
                    f"`movie_counts` must have one count per movie row ({n_movies + 1}, row 0 included). "
                    f"Received {len(movie_counts)}."
                )
            self.log_q.assign(log_popularity(movie_counts))
        self.built = True

    def call(self, inputs):
        return self.user_embedding(inputs["user"]), self.movie_embedding(inputs["movie"])

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        user_vectors, movie_vectors = y_pred
        log_q = ops.take(self.log_q, x["movie"]) if self.popularity_correction else None
        loss = in_batch_softmax_loss(user_vectors, movie_vectors, x["movie"], log_q)
        return loss + ops.sum(ops.stack(self.losses)) if self.losses else loss

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "n_users": self.n_users,
            "n_movies": self.n_movies,
            "embedding_dim": self.embedding_dim,
            "weight_decay": self.weight_decay,
            "seed": self.seed,
            "popularity_correction": self.popularity_correction,
        }


def fit_implicit(
    model: InBatchSoftmaxModel,
    train: pd.DataFrame,
    *,
    epochs: int = 15,
    batch_size: int = 512,
    learning_rate: float = 0.005,
    seed: int = 42,
    verbose: bool = True,
) -> pd.DataFrame:
    """Train on the (user, movie) pairs of ``train`` (encoded columns ``user`` and ``movie``) with Adam, shuffled
    every epoch, for a fixed number of epochs. Returns the loss per epoch as a table (``epoch``, ``loss``).

    There is no early stopping: a ranking metric would need a held-out set of its own. Choose ``epochs`` on a split
    carved out of the training rows, never on the test rows.
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        check_count(name, value)
    if model.popularity_correction and not np.any(np.asarray(model.log_q)):
        raise ValueError(
            "The model applies the logQ correction but knows no movie counts: build it with "
            "`movie_counts=split.movie_counts()`, or with `popularity_correction=False`."
        )
    check_positive("learning_rate", learning_rate)
    set_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate), steps_per_execution=default_steps_per_execution()
    )
    pairs = {"user": train["user"].to_numpy("int32"), "movie": train["movie"].to_numpy("int32")}
    history = model.fit(
        pairs, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=[EpochLine()] if verbose else []
    )
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    return frame


def next_movie_pairs(ratings: pd.DataFrame) -> pd.DataFrame:
    """Each user's ratings in time order, each paired with the one before: columns ``user`` (the previous movie's
    row, which plays the part of the user in ``InBatchSoftmaxModel``) and ``movie`` (the next one).

    Train ``InBatchSoftmaxModel(n_movies, n_movies, ...)`` on them with ``fit_implicit`` and it learns what tends to
    be rated next. Ratings made in the same second are ordered by movieId, as in ``ranking.chronological_split``.
    """
    ordered = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    same_user = ordered["userId"].to_numpy()[1:] == ordered["userId"].to_numpy()[:-1]
    movies = ordered["movie"].to_numpy()
    return pd.DataFrame({"user": movies[:-1][same_user], "movie": movies[1:][same_user]})
