"""Which Keras backend the course runs on: JAX, unless ``KERAS_BACKEND`` or an earlier ``import keras`` decided.

Keras reads its backend once, on first import, from ``KERAS_BACKEND`` or else ``~/.keras/keras.json`` (which Keras
itself writes with ``"tensorflow"`` the first time). ``import embedlib`` therefore sets the variable only when it is
unset and Keras is not loaded yet. When Keras came first, embedlib keeps its backend if it can train the course's
models and otherwise stops with an error that says how to fix it.
"""

from __future__ import annotations

import os
import sys

__all__ = ["DEFAULT_BACKEND", "TRAINING_BACKENDS", "BackendError", "choose_backend"]

DEFAULT_BACKEND = "jax"
TRAINING_BACKENDS = ("jax", "tensorflow", "torch")  # Keras's numpy and openvino backends cannot train

HOW_TO_FIX = (
    "Restart the kernel, then either import embedlib before keras, or set the backend before importing keras "
    "(`%env KERAS_BACKEND=jax` in a notebook, `export KERAS_BACKEND=jax` in a shell). The course's kernel, "
    "installed by `bash scripts/setup.sh`, sets it for you."
)


class BackendError(ImportError):
    """Keras is loaded with a backend the course's models cannot train on."""


def choose_backend() -> str:
    """Default Keras to JAX if nothing chose a backend yet; return the backend Keras uses or will use."""
    config = sys.modules.get("keras.src.backend.config")  # present once `import keras` has succeeded
    if config is None:
        return os.environ.setdefault("KERAS_BACKEND", DEFAULT_BACKEND)
    backend = config.backend()
    if backend not in TRAINING_BACKENDS:
        raise BackendError(
            f"Keras was imported before embedlib and runs on the {backend!r} backend, which cannot train models "
            f"(set by KERAS_BACKEND or ~/.keras/keras.json). {HOW_TO_FIX}"
        )
    # Runs started from this kernel (a sweep, the runner's records) must use, and report, the same backend.
    os.environ.setdefault("KERAS_BACKEND", backend)
    return backend
