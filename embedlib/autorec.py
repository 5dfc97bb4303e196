"""I-AutoRec (Sedhain et al., 2015): each movie's column of ratings, through a narrow layer and back.

The input is one movie's ratings from every user (0 where a user did not rate it); the output is a rating for every
user. The loss counts only the ratings that exist (``ObservedMSE``), so the network is never taught that a missing
rating is a zero. Optionally the model learns the residual after a bias model, so that a movie it knows nothing about
is predicted by the biases alone. The columns are dense arrays: fine up to ml-1m, refused beyond.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from keras import ops

from embedlib.checks import check_count, check_non_negative, check_positive, check_rate
from embedlib.prepare import Prepared
from embedlib.training import default_steps_per_execution, fit_with_early_stopping, set_seed

__all__ = [
    "ObservedMSE",
    "ObservedRMSE",
    "autorec",
    "fit_autorec",
    "movie_codes",
    "predict_autorec",
    "predict_from_columns",
    "rating_columns",
]

MAX_ENTRIES = 60_000_000  # movies × users: fit_autorec holds four such float32 matrices (ml-1m: 22 million entries)


def _observed_errors(y_true, y_pred):
    observed = ops.logical_not(ops.isnan(y_true))
    # NaN must never enter the arithmetic: where(observed, square(y_true - y_pred), 0) would pass NaN gradients
    error = ops.where(observed, ops.where(observed, y_true, 0.0) - y_pred, 0.0)
    return ops.square(error), ops.cast(observed, y_pred.dtype)


@keras.saving.register_keras_serializable(package="embedlib")
class ObservedMSE(keras.losses.Loss):
    """Mean squared error over the observed entries of a batch: a NaN in ``y_true`` marks a missing rating.

    Each row returns its squared errors divided by the number of observed entries in the whole batch, and the rows
    are summed, so every observed rating of a batch weighs the same, whichever movie it belongs to (batches with more
    ratings do not weigh more, though). A batch with nothing observed gives 0. Sample weights are not supported.
    """

    def __init__(self, name: str = "observed_mse", dtype=None) -> None:
        super().__init__(name=name, reduction="sum", dtype=dtype)

    def call(self, y_true, y_pred):
        squares, observed = _observed_errors(y_true, y_pred)
        return ops.sum(squares, axis=-1) / ops.maximum(ops.sum(observed), 1.0)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="embedlib")
class ObservedRMSE(keras.metrics.Metric):
    """RMSE over every observed entry seen since the last reset (NaN in ``y_true`` marks a missing rating): unlike a
    mean of per-batch losses, this is exactly the RMSE of the ratings scored, however they fall into batches."""

    def __init__(self, name: str = "rmse", dtype=None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.squares = self.add_variable(shape=(), initializer="zeros", name="squares")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        squares, observed = _observed_errors(y_true, y_pred)
        self.squares.assign_add(ops.cast(ops.sum(squares), self.dtype))
        self.count.assign_add(ops.cast(ops.sum(observed), self.dtype))

    def result(self):
        return ops.sqrt(self.squares / ops.maximum(self.count, 1.0))


def autorec(
    n_users: int,
    *,
    hidden_units: int = 64,
    activation: str = "sigmoid",
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    seed: int | None = None,
) -> keras.Model:
    """I-AutoRec: a movie's column of ``n_users + 1`` ratings (row 0 reserved) → ``hidden_units`` codes → the column.

    Args:
        n_users: how many user ids were encoded.
        hidden_units: the width of the code, the movie's vector.
        activation: of the code layer: "sigmoid" as in the paper, or "linear" for a linear (strictly, affine: the
            layers have biases) autoencoder.
        weight_decay: L2 penalty on both weight matrices (not on the biases). The paper's penalty is on a sum over
            all ratings; here the loss is a mean, so its values do not carry over.
        dropout: share of each input column's entries set to 0 while training (the rest are scaled up to keep the
            sum, as Keras's dropout does): a denoising autoencoder. 0 in the paper.
        seed: seeds the initialisers and the dropout.
    """
    check_count("n_users", n_users)
    check_count("hidden_units", hidden_units)
    check_non_negative("weight_decay", weight_decay)
    check_rate("dropout", dropout)
    penalty = keras.regularizers.L2(weight_decay) if weight_decay else None
    column = keras.Input(shape=(n_users + 1,), name="ratings")
    dropped = keras.layers.Dropout(dropout, seed=_offset(seed, 2), name="dropout")(column)
    code = keras.layers.Dense(
        hidden_units,
        activation=activation,
        kernel_regularizer=penalty,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        name="encoder",
    )(dropped)
    out = keras.layers.Dense(
        n_users + 1,
        kernel_regularizer=penalty,
        kernel_initializer=keras.initializers.GlorotUniform(seed=_offset(seed, 1)),
        name="decoder",
    )(code)
    return keras.Model(column, out, name="autorec")


def _offset(seed: int | None, offset: int) -> int | None:
    return None if seed is None else seed + offset


def _residuals(frame: pd.DataFrame, baseline) -> np.ndarray:
    ratings = frame["rating"].to_numpy(dtype="float64")
    return ratings if baseline is None else ratings - baseline.predict(frame)


def rating_columns(prep: Prepared, frame: pd.DataFrame, *, baseline, missing: float = np.nan) -> np.ndarray:
    """Movies × users (table rows, row 0 reserved): the ratings of ``frame``, minus ``baseline``'s predictions (a
    fitted ``BiasBaseline``, or None for the raw ratings), and ``missing`` elsewhere. A float32 array, so its size
    is checked first."""
    shape = (prep.movies.n_rows, prep.users.n_rows)
    if shape[0] * shape[1] > MAX_ENTRIES:
        raise ValueError(
            f"AutoRec's columns would hold {shape[0]:,} movies × {shape[1]:,} users, more than embedlib builds as "
            f"dense arrays ({MAX_ENTRIES:,} entries). Use a smaller dataset (ml-latest-small, ml-100k or ml-1m)."
        )
    columns = np.full(shape, missing, dtype="float32")
    columns[frame["movie"].to_numpy(), frame["user"].to_numpy()] = _residuals(frame, baseline)
    return columns


def fit_autorec(
    model: keras.Model,
    prep: Prepared,
    *,
    baseline,
    observed_only: bool = True,
    epochs: int = 100,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    patience: int = 5,
    seed: int = 42,
    verbose: bool = True,
) -> pd.DataFrame:
    """Train on the columns of the movies rated in training, with Adam; stop early on the validation RMSE (computed
    over every validation rating of those movies) and keep the best weights.

    The input is always a movie's training column, with 0 for a missing rating. The targets are the same column with
    only the observed ratings counted (``observed_only``) or with every missing one counted as 0, as a plain
    autoencoder (and a truncated SVD) would. ``baseline`` (a fitted ``BiasBaseline``, or None: required, so that
    ``predict_autorec`` is called with the same one) makes the model learn the residual after its predictions.

    Returns the history as a DataFrame (``epoch``, ``loss``, ``rmse``, ``val_loss``, ``val_rmse``); the loss includes
    the L2 penalty, if any.
    """
    check_count("epochs", epochs)
    check_count("batch_size", batch_size)
    check_count("patience", patience, at_least=0)
    check_positive("learning_rate", learning_rate)
    rated = np.unique(prep.train["movie"].to_numpy())  # row 0 and movies nobody rated in training have no column
    inputs = rating_columns(prep, prep.train, baseline=baseline, missing=0.0)[rated]
    targets = rating_columns(prep, prep.train, baseline=baseline)[rated] if observed_only else inputs
    known = prep.valid["movie"].isin(prep.train["movie"])  # the others are the baseline's: see predict_from_columns
    valid = rating_columns(prep, prep.valid[known], baseline=baseline)[rated]
    set_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=ObservedMSE(),
        metrics=[ObservedRMSE()],
        steps_per_execution=default_steps_per_execution(),
    )
    return fit_with_early_stopping(
        model,
        inputs,
        targets,
        validation_data=(inputs, valid),
        epochs=epochs,
        batch_size=batch_size,
        patience=patience,
        monitor="val_rmse",
        verbose=verbose,
        shuffle=True,
    )


def predict_from_columns(prep: Prepared, frame: pd.DataFrame, output: np.ndarray, *, baseline) -> np.ndarray:
    """Predicted ratings for the encoded rows of ``frame``, read off ``output`` (movies × users, a model's output for
    every training column, or any reconstruction of them), clipped to the rating range.

    A movie or a user with no training rating has nothing learned: the prediction is the baseline's (for an unseen
    movie, the mean and the user's bias), or the training mean without a baseline.
    """
    shape = (prep.movies.n_rows, prep.users.n_rows)
    if np.shape(output) != shape:
        raise ValueError(
            f"`output` must be movies × users, {shape}, as rating_columns builds. Received {np.shape(output)}."
        )
    movies, users = frame["movie"].to_numpy(), frame["user"].to_numpy()
    known = np.isin(movies, prep.train["movie"].to_numpy()) & np.isin(users, prep.train["user"].to_numpy())
    residual = np.where(known, np.asarray(output)[movies, users], 0.0)
    if baseline is None:
        base = np.where(known, 0.0, prep.train["rating"].mean())
    else:
        base = baseline.predict(frame)
    return np.clip(base + residual, *prep.rating_range)


def predict_autorec(model: keras.Model, prep: Prepared, frame: pd.DataFrame, *, baseline) -> np.ndarray:
    """Predicted ratings for the encoded rows of ``frame``: every movie's training column goes through the model
    once, and ``predict_from_columns`` reads them off. ``baseline`` must be the one the model was trained with."""
    inputs = rating_columns(prep, prep.train, baseline=baseline, missing=0.0)
    output = np.asarray(model.predict(inputs, batch_size=1024, verbose=0))
    return predict_from_columns(prep, frame, output, baseline=baseline)


def movie_codes(model: keras.Model, prep: Prepared, movie_ids=None, *, baseline) -> pd.DataFrame:
    """AutoRec's movie vectors: the code layer's output for each movie's training column, as a DataFrame indexed by
    raw movieId (all movies, or those asked for), like ``explore.movie_vectors``. A movie with no training rating
    gets the code of an empty column."""
    try:
        encoder = keras.Model(model.inputs, model.get_layer("encoder").output)
    except ValueError:
        raise ValueError(
            f"Model {model.name!r} has no layer 'encoder': build it with embedlib.autorec.autorec."
        ) from None
    inputs = rating_columns(prep, prep.train, baseline=baseline, missing=0.0)
    codes = np.asarray(encoder.predict(inputs, batch_size=1024, verbose=0))
    ids = prep.movies.ids if movie_ids is None else np.atleast_1d(np.asarray(movie_ids, dtype="int64"))
    return pd.DataFrame(codes[prep.movies.encode(ids)], index=pd.Index(ids, name="movieId"))
