"""One-line self-checks for the lessons' exercises: they tell the learner, kindly, whether an answer is right."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from embedlib.prepare import Prepared

__all__ = ["check", "check_rebuilt", "check_same_outputs", "check_unseen_as_mean"]


def _say(ok: bool, message: str) -> bool:
    print(("✅ " if ok else "❌ Not yet: ") + message)
    return ok


def check(answer: object, expected: object, *, tolerance: float = 0.0, hint: str = "") -> bool:
    """Compare an answer with the expected value (numbers within ``tolerance``); print a friendly verdict."""
    if answer is None or answer is Ellipsis:
        return _say(False, "fill in your answer first (it is still None or ...).")
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
        f"Keep only the first {k} factor(s): U[:, :{k}] * s[:{k}] @ Vt[:{k}].",
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
