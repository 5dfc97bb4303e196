"""embedlib: the helper library of a course on embeddings through collaborative filtering on MovieLens.

Importing embedlib makes JAX the Keras backend when ``KERAS_BACKEND`` is unset and Keras is not loaded yet; if Keras
was imported first with a backend that cannot train, it says how to fix that (see ``embedlib.backend``). With JAX it
also keeps compiled code on disk (``embedlib.compile_cache``). The names a lesson needs most are here; the rest live
in the modules, in the order data flows: data → prepare → models → training → explore → plots → runner; lesson 7's
ranking protocol is in ranking (the split by time, top-k, metrics), retrieval (the implicit model) and search.
"""

from embedlib.backend import choose_backend

choose_backend()

from embedlib import compile_cache  # noqa: E402
from embedlib.data import Dataset, DatasetError, load_movielens  # noqa: E402
from embedlib.prepare import IdEncoder, Prepared, prepare_ratings, train_valid_split  # noqa: E402
from embedlib.record import record_dataset, record_metrics  # noqa: E402

compile_cache.enable()  # compiled code kept on disk (JAX only; EMBEDLIB_COMPILE_CACHE=0 turns it off)

__version__ = "0.1.0"
__all__ = [
    "Dataset",
    "DatasetError",
    "IdEncoder",
    "Prepared",
    "load_movielens",
    "prepare_ratings",
    "record_dataset",
    "record_metrics",
    "train_valid_split",
]
