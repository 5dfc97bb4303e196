"""One-line self-checks for the lessons' exercises: they tell the learner, kindly, whether an answer is right.

Each check works out the expected answer itself, so the exercise cell never shows it.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from embedlib import explore
from embedlib.prepare import Prepared

__all__ = [
    "check",
    "check_best_epoch",
    "check_centred_pc1_share",
    "check_closer",
    "check_first_epoch_below",
    "check_harshest_user",
    "check_most_rated",
    "check_rebuilt",
    "check_reloaded",
    "check_row_gradient",
    "check_same_outputs",
    "check_strongest_correlation",
    "check_unseen_as_mean",
]


def _say(ok: bool, message: str) -> bool:
    print(("✅ " if ok else "❌ Not yet: ") + message)
    return ok


def _unanswered(*answers: object) -> bool:
    return any(answer is None or answer is Ellipsis for answer in answers)


FILL_IN = "fill in your answer first (it is still None or ...)."


def check(answer: object, expected: object, *, tolerance: float = 0.0, hint: str = "") -> bool:
    """Compare an answer with the expected value (numbers within ``tolerance``); print a friendly verdict."""
    if _unanswered(answer):
        return _say(False, FILL_IN)
    if isinstance(expected, (int, float, np.number)) and not isinstance(expected, bool):
        try:
            ok = abs(float(answer) - float(expected)) <= tolerance
        except (TypeError, ValueError):
            return _say(False, f"expected a number, got {answer!r} (of type {type(answer).__name__}).")
    else:
        ok = answer == expected
    return _say(ok, "that's right." if ok else f"{answer!r} is not what the data says. {hint}".rstrip())


def check_rebuilt(table: pd.DataFrame, rebuilt: object, *, k: int = 1) -> bool:
    """Check a rank-``k`` rebuild of ``table``: its RMSE must equal the best possible, from the ``k`` largest singular values."""
    if rebuilt is None or rebuilt is Ellipsis:
        return _say(False, "fill in your answer first (it is still None or ...).")
    values = np.asarray(table, dtype=float)
    guess = np.asarray(rebuilt, dtype=float)
    if guess.shape != values.shape:
        return _say(False, f"your table has shape {guess.shape}, expected {values.shape} like the ratings.")
    singular = np.linalg.svd(values, compute_uv=False)
    best = float(np.sqrt((singular[k:] ** 2).sum() / values.size))
    error = float(np.sqrt(((values - guess) ** 2).mean()))
    ok = abs(error - best) <= 1e-6
    return _say(
        ok,
        f"RMSE {error:.3f}, the best any rank-{k} table can do."
        if ok
        else f"RMSE {error:.3f}, but the best rank-{k} table reaches {best:.3f}. "
        f"Keep only the first {k} factor(s): the first {k} column(s) of U, value(s) of s and row(s) of Vt.",
    )


def check_unseen_as_mean(answer: object, model: keras.Model, prep: Prepared) -> bool:
    """Check the validation RMSE of ``model`` when movies never seen in training are predicted as the training mean."""
    if answer is None or answer is Ellipsis:
        return _say(False, "fill in your answer first (it is still None or ...).")
    valid = prep.valid
    predicted = np.asarray(model.predict(prep.inputs(valid), batch_size=8192, verbose=0)).reshape(-1)
    seen = valid["movieId"].isin(prep.train["movieId"]).to_numpy()
    predicted = np.where(seen, predicted, prep.train["rating"].mean())
    expected = float(np.sqrt(np.mean((prep.targets(valid).reshape(-1) - predicted) ** 2)))
    return check(
        answer,
        expected,
        tolerance=1e-3,
        hint="Predict every validation row, overwrite the never-seen movies' predictions with the training mean, "
        "then take the RMSE over all validation rows.",
    )


def check_same_outputs(model: keras.Model, reference: keras.Model, prep: Prepared, *, n_rows: int = 512) -> bool:
    """Copy ``reference``'s weights into ``model`` layer by layer (matched by name); compare their predictions and
    their weight penalties (``model.losses``: an L2 regulariser changes training, not outputs).

    Both models are called in inference mode (dropout off) on the first ``n_rows`` validation rows.
    """
    if _unanswered(model):
        return _say(False, FILL_IN)
    rows = prep.inputs(prep.valid.head(n_rows))
    model(rows)  # builds a subclassed model's layers, so that they have weights to receive
    weighted = [layer for layer in reference.layers if layer.weights]
    for layer in weighted:
        try:
            target = model.get_layer(layer.name)
        except ValueError:
            return _say(False, f"your model has no layer named {layer.name!r}. Name your layers as the reference does.")
        if [w.shape for w in target.weights] != [w.shape for w in layer.weights]:
            return _say(
                False,
                f"layer {layer.name!r} has weights of shapes {[tuple(w.shape) for w in target.weights]}, "
                f"expected {[tuple(w.shape) for w in layer.weights]}.",
            )
        target.set_weights(layer.get_weights())
    mine = np.asarray(model.predict(rows, verbose=0)).reshape(-1)
    theirs = np.asarray(reference.predict(rows, verbose=0)).reshape(-1)
    gap = float(np.max(np.abs(mine - theirs)))
    # A weight penalty never changes an output, only training: compare it on its own.
    penalties = [sum(float(keras.ops.convert_to_numpy(loss)) for loss in m.losses) for m in (model, reference)]
    if gap < 1e-5 and not np.isclose(*penalties, rtol=1e-5, atol=1e-12):
        return _say(
            False,
            f"same outputs, but your model's weight penalty is {penalties[0]:.3g} where the reference's is "
            f"{penalties[1]:.3g}. Check `embeddings_regularizer` on the layers the reference regularises.",
        )
    return _say(
        gap < 1e-5,
        f"same weights, same outputs (largest difference {gap:.1e})."
        if gap < 1e-5
        else f"with the same weights your outputs differ by up to {gap:.3f}. Compare your layers with the reference.",
    )


def check_closer(table: pd.DataFrame, word: str, *, to: str, than: str) -> bool:
    """Check that ``word``'s row of ``table`` has a higher cosine similarity with row ``to`` than with row ``than``."""
    if _unanswered(table):
        return _say(False, FILL_IN)
    missing = [name for name in (word, to, than) if name not in table.index]
    if missing:
        return _say(False, f"no row named {missing[0]!r} in your table; add it with table.loc[{missing[0]!r}] = [...].")
    sims = explore.cosine_similarity(table.loc[[word]].to_numpy(float), table.loc[[to, than]].to_numpy(float))[0]
    ok = sims[0] > sims[1]
    verdict = f"cosine with {to!r} {sims[0]:.3f}, with {than!r} {sims[1]:.3f}."
    return _say(ok, verdict if ok else f"{verdict} Make {word!r} point more the way {to!r} does.")


def check_most_rated(movie_id: object, mean_rating: object, ratings: pd.DataFrame) -> bool:
    """Check the movieId with the most ratings in ``ratings`` and its mean rating (within 0.005 stars)."""
    if _unanswered(movie_id, mean_rating):
        return _say(False, FILL_IN)
    per_movie = ratings.groupby("movieId")["rating"].agg(["size", "mean"])
    top = per_movie["size"].idxmax()
    if movie_id not in per_movie.index:
        return _say(False, f"{movie_id!r} is not a movieId with ratings. Give the movieId, not the title.")
    if per_movie.loc[movie_id, "size"] < per_movie.loc[top, "size"]:
        return _say(False, f"movie {movie_id} has {per_movie.loc[movie_id, 'size']} ratings, and another has more. "
                    "Count the ratings per movieId and take the largest count.")  # fmt: skip
    return check(mean_rating, float(per_movie.loc[top, "mean"]), tolerance=0.005,
                 hint="That is the right movie; now average its ratings.")  # fmt: skip


def check_harshest_user(user_id: object, model: keras.Model, prep: Prepared) -> bool:
    """Check the userId whose learned bias is the lowest in ``model``."""
    if _unanswered(user_id):
        return _say(False, FILL_IN)
    biases = explore.user_biases(model, prep)
    if user_id not in biases.index:
        return _say(False, f"{user_id!r} is not a userId the model knows. Give a userId, as in data.ratings.")
    ok = user_id == biases.idxmin()
    return _say(ok, "that's right." if ok else f"user {user_id}'s bias is {biases[user_id]:.2f}; someone's is lower.")


def check_best_epoch(epoch: object, history: pd.DataFrame) -> bool:
    """Check the epoch with the lowest validation RMSE in a history table (columns ``epoch`` and ``val_rmse``)."""
    if _unanswered(epoch, history):
        return _say(False, FILL_IN)
    best = int(history.loc[history["val_rmse"].idxmin(), "epoch"])
    return check(epoch, best, hint="Look for the epoch with the lowest val_rmse; after it, the model overfits.")


def check_strongest_correlation(feature: object, table: pd.DataFrame, column: str, *, min_ratings: int = 20) -> bool:
    """Check the feature of ``explore.correlations_with(table, column)`` with the largest correlation either way."""
    if _unanswered(feature):
        return _say(False, FILL_IN)
    correlations = explore.correlations_with(table, column, min_ratings=min_ratings)
    if feature not in correlations.index:
        return _say(False, f"{feature!r} is not one of the features; write it as correlations_with names it.")
    ok = feature == correlations.abs().idxmax()
    return _say(
        ok,
        "that's right."
        if ok
        else f"{feature!r} correlates {correlations[feature]:.3f}; another feature has "
        "a larger correlation. Compare sizes, whatever the sign.",
    )


def check_centred_pc1_share(share: object, vectors: pd.DataFrame) -> bool:
    """Check the share of variance the first component explains once ``vectors`` are centred (within 0.005)."""
    expected = float(explore.pca(np.asarray(vectors, dtype=float), center=True).explained_variance_ratio[0])
    return check(share, expected, tolerance=0.005, hint="Use explained_variance_ratio[0] of the centred PCA.")


def check_reloaded(loaded: object, original: keras.Model, prep: Prepared, *, n_rows: int = 512) -> bool:
    """Check that ``loaded`` is a Keras model that predicts what ``original`` predicts (first ``n_rows`` validation rows)."""
    if _unanswered(loaded):
        return _say(False, FILL_IN)
    if not isinstance(loaded, keras.Model):
        return _say(False, f"expected the model keras.models.load_model returns, got {type(loaded).__name__}.")
    rows = prep.inputs(prep.valid.head(n_rows))
    gap = float(np.max(np.abs(loaded.predict(rows, verbose=0) - original.predict(rows, verbose=0))))
    ok = gap < 1e-6
    return _say(ok, "it loads and predicts what the saved model predicts." if ok
                else f"it loads, but its predictions differ by up to {gap:.3f}: is it the model you saved?")  # fmt: skip


def check_row_gradient(answer: object, ids: np.ndarray, weights: np.ndarray, *, row: int) -> bool:
    """Check the gradient of ``row`` for the loss ``(table[ids] * weights).sum()`` (the same in every column)."""
    expected = float(np.asarray(weights, dtype=float).reshape(len(ids), -1)[np.asarray(ids) == row, 0].sum())
    return check(answer, expected, tolerance=1e-6, hint=f"Which entries of ids are {row}? Each lookup adds its weight.")


def check_first_epoch_below(epoch: object, history: pd.DataFrame, target: float) -> bool:
    """Check the first epoch of a history table whose validation RMSE is at or below ``target``."""
    if _unanswered(epoch, history):
        return _say(False, FILL_IN)
    reached = history.loc[history["val_rmse"] <= target, "epoch"]
    if reached.empty:
        return _say(False, f"no epoch of this history reaches {target:.4f}; train for more epochs.")
    return check(epoch, int(reached.iloc[0]), hint=f"Find the first epoch whose val_rmse is at most {target:.4f}.")
