"""One-line self-checks for the lessons' exercises: they tell the learner, kindly, whether an answer is right."""

from __future__ import annotations

import keras
import numpy as np

from embedlib.prepare import Prepared

__all__ = ["check", "check_same_outputs"]


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


def check_same_outputs(model: keras.Model, reference: keras.Model, prep: Prepared, *, n_rows: int = 512) -> bool:
    """Copy ``reference``'s weights into ``model`` layer by layer (matched by name) and compare their predictions.

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
    return _say(
        gap < 1e-5,
        f"same weights, same outputs (largest difference {gap:.1e})."
        if gap < 1e-5
        else f"with the same weights your outputs differ by up to {gap:.3f}. Compare your layers with the reference.",
    )
