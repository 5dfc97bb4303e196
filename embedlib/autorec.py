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

from embedlib.checks import check_count, check_non_negative, check_positive
from embedlib.prepare import Prepared
from embedlib.training import EpochLine, EpochTimer, default_steps_per_execution, set_seed

__all__ = [
    "ObservedMSE",
    "autorec",
    "fit_autorec",
    "movie_codes",
    "predict_autorec",
    "predict_from_columns",
    "rating_columns",
]

MAX_ENTRIES = 300_000_000  # movies × users above this (1.2 GB per float32 matrix) is refused: see rating_columns


@keras.saving.register_keras_serializable(package="embedlib")
class ObservedMSE(keras.losses.Loss):
    """Mean squared error over the observed entries of a batch: a NaN in ``y_true`` marks a missing rating.

    Each row returns its squared errors divided by the number of observed entries in the whole batch, and the rows
    are summed, so every observed rating of the batch weighs the same (as in RMSE), whichever movie it belongs to.
    """

    def __init__(self, name: str = "observed_mse", **kwargs) -> None:
        super().__init__(name=name, reduction="sum", **kwargs)

    def call(self, y_true, y_pred):
        observed = ops.logical_not(ops.isnan(y_true))
        # where() twice: NaN must not reach the subtraction either, or its gradient turns NaN on TensorFlow
        error = ops.where(observed, ops.where(observed, y_true, 0.0) - y_pred, 0.0)
        n_observed = ops.maximum(ops.sum(ops.cast(observed, y_pred.dtype)), 1.0)
        return ops.sum(ops.square(error), axis=-1) / n_observed

    def get_config(self) -> dict:
        return {"name": self.name}


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
        activation: of the code layer: "sigmoid" as in the paper, or "linear" for a linear autoencoder.
        weight_decay: L2 penalty on both weight matrices (not on the biases), as in the paper.
        dropout: share of each input column's entries set to 0 while training (a denoising autoencoder; 0 in the
            paper).
        seed: seeds the initialisers.
    """
    check_count("n_users", n_users)
    check_count("hidden_units", hidden_units)
    check_non_negative("weight_decay", weight_decay)
    penalty = keras.regularizers.L2(weight_decay) if weight_decay else None
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}.")
    column = keras.Input(shape=(n_users + 1,), name="ratings")
    dropped = keras.layers.Dropout(dropout, seed=None if seed is None else seed + 2, name="dropout")(column)
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
        kernel_initializer=keras.initializers.GlorotUniform(seed=None if seed is None else seed + 1),
        name="decoder",
    )(code)
    return keras.Model(column, out, name="autorec")


def _residuals(frame: pd.DataFrame, baseline) -> np.ndarray:
    ratings = frame["rating"].to_numpy(dtype="float64")
    return ratings if baseline is None else ratings - baseline.predict(frame)


def rating_columns(prep: Prepared, frame: pd.DataFrame, *, baseline=None, missing: float = np.nan) -> np.ndarray:
    """Movies × users (table rows, row 0 reserved): the ratings of ``frame`` (minus ``baseline``'s predictions, if
    given), ``missing`` elsewhere. A float32 array, so its size is checked first."""
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
    baseline=None,
    observed_only: bool = True,
    epochs: int = 100,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    patience: int = 5,
    seed: int = 42,
    verbose: bool = True,
) -> pd.DataFrame:
    """Train on the training ratings' columns with Adam; stop early on the validation ratings, keep the best weights.

    The input is always a movie's training column, with 0 for a missing rating. The targets are the same column with
    only the observed ratings counted (``observed_only``) or with every missing one counted as 0, as a plain
    autoencoder (and a truncated SVD) would. The validation loss counts the validation ratings only, either way.
    ``baseline`` (a fitted ``BiasBaseline``) makes the model learn the residual after its predictions.

    Returns the history as a DataFrame (``epoch``, ``loss``, ``val_loss``), the loss in squared stars.
    """
    check_count("epochs", epochs)
    check_count("batch_size", batch_size)
    check_count("patience", patience, at_least=0)
    check_positive("learning_rate", learning_rate)
    inputs = rating_columns(prep, prep.train, baseline=baseline, missing=0.0)
    targets = rating_columns(prep, prep.train, baseline=baseline) if observed_only else inputs
    known = prep.valid["movie"].isin(prep.train["movie"])  # the others are the baseline's: see predict_autorec
    valid = rating_columns(prep, prep.valid[known], baseline=baseline)
    set_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=ObservedMSE(),
        steps_per_execution=default_steps_per_execution(),
    )
    timer = EpochTimer()
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True), timer]
    if verbose:
        callbacks.append(EpochLine())
    history = model.fit(
        inputs,
        targets,
        validation_data=(inputs, valid),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    frame.attrs["epoch_seconds"] = timer.seconds
    return frame


def predict_from_columns(prep: Prepared, frame: pd.DataFrame, output: np.ndarray, *, baseline=None) -> np.ndarray:
    """Predicted ratings for the encoded rows of ``frame``, read off ``output`` (movies × users, a model's output for
    every training column, or any reconstruction of them), clipped to the rating range.

    A movie with no training rating has nothing to encode: it gets the baseline's prediction (the mean and the
    user's bias), or the training mean without one.
    """
    movies, users = frame["movie"].to_numpy(), frame["user"].to_numpy()
    known = np.isin(movies, prep.train["movie"].to_numpy())
    residual = np.where(known, output[movies, users], 0.0)
    if baseline is None:
        base = np.where(known, 0.0, prep.train["rating"].mean())
    else:
        base = baseline.predict(frame)
    return np.clip(base + residual, *prep.rating_range)


def predict_autorec(model: keras.Model, prep: Prepared, frame: pd.DataFrame, *, baseline=None) -> np.ndarray:
    """Predicted ratings for the encoded rows of ``frame``: every movie's training column goes through the model
    once, and ``predict_from_columns`` reads them off (unseen movies get the baseline's prediction)."""
    inputs = rating_columns(prep, prep.train, baseline=baseline, missing=0.0)
    output = np.asarray(model.predict(inputs, batch_size=1024, verbose=0))
    return predict_from_columns(prep, frame, output, baseline=baseline)


def movie_codes(model: keras.Model, prep: Prepared, movie_ids=None, *, baseline=None) -> pd.DataFrame:
    """AutoRec's movie vectors: the code layer's output for each movie's training column, as a DataFrame indexed by
    raw movieId (all movies, or those asked for), like ``explore.movie_vectors``."""
    encoder = keras.Model(model.inputs, model.get_layer("encoder").output)
    inputs = rating_columns(prep, prep.train, baseline=baseline, missing=0.0)
    codes = np.asarray(encoder.predict(inputs, batch_size=1024, verbose=0))
    ids = prep.movies.ids if movie_ids is None else np.atleast_1d(np.asarray(movie_ids, dtype="int64"))
    return pd.DataFrame(codes[prep.movies.encode(ids)], index=pd.Index(ids, name="movieId"))
