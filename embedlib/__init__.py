"""embedlib: the helper library of a course on embeddings through collaborative filtering on MovieLens.

Importing embedlib makes JAX the Keras backend when ``KERAS_BACKEND`` is unset and Keras is not loaded yet; if Keras
was imported first with a backend that cannot train, it says how to fix that. With JAX it also keeps compiled code on
disk. Both are in ``embedlib.environment``; importing embedlib loads nothing heavier, so ``embedlib --help`` is quick.

The names a lesson needs most are here (loaded on first use); the rest live in the modules, in the order data flows:
data → prepare → models → training → explore → plots; lesson 7's ranking protocol is in ranking (the split by time,
top-k, metrics), retrieval (the implicit model) and search. ``course`` (what a lesson accepts), ``execute`` and
``sweep`` run the lessons headless, and ``cli`` is the ``embedlib`` command.
"""

from __future__ import annotations

import importlib

from embedlib.environment import choose_backend, enable_compile_cache

choose_backend()
enable_compile_cache()  # compiled code kept on disk (JAX only; EMBEDLIB_COMPILE_CACHE=0 turns it off)

__version__ = "0.1.0"

_WHERE = {
    "Dataset": "embedlib.dataset",
    "DatasetError": "embedlib.dataset",
    "load_movielens": "embedlib.data",
    "IdEncoder": "embedlib.prepare",
    "Prepared": "embedlib.prepare",
    "prepare_ratings": "embedlib.prepare",
    "train_valid_split": "embedlib.prepare",
    "record_dataset": "embedlib.record",
    "record_metrics": "embedlib.record",
    "record_table": "embedlib.record",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> object:
    """Load ``embedlib.load_movielens`` and the other names above from their modules on first use."""
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'embedlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
