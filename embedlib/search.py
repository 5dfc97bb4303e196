"""Top-k by inner product, exactly (NumPy) or approximately (an HNSW graph from faiss), and how far apart they are."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from embedlib.layers import _positive_int

__all__ = [
    "approximate_top_k",
    "exact_top_k",
    "gaussian_like",
    "hnsw_index",
    "overlap_at_k",
    "queries_per_second",
    "timed",
]


def gaussian_like(vectors: np.ndarray, n: int, *, seed: int = 42) -> np.ndarray:
    """``n`` float32 vectors drawn from a Gaussian with the mean and covariance of ``vectors``: a large synthetic
    table shaped like a learned one (learned vectors use few directions; uniform noise would use them all)."""
    _positive_int("n", n)
    vectors = np.asarray(vectors, dtype="float64")
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(vectors.mean(axis=0), np.cov(vectors.T), size=n).astype("float32")


def exact_top_k(queries: np.ndarray, items: np.ndarray, *, k: int = 10, batch_size: int = 256) -> np.ndarray:
    """Indices of the ``k`` items with the largest inner product with each query, best first: every item scored."""
    _positive_int("k", k)
    out = np.empty((len(queries), k), dtype="int64")
    for start in range(0, len(queries), batch_size):
        scores = queries[start : start + batch_size] @ items.T
        best = np.argpartition(scores, -k, axis=1)[:, -k:]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        out[start : start + batch_size] = np.take_along_axis(best, order, axis=1)
    return out


def hnsw_index(items: np.ndarray, *, m: int = 16, ef_construction: int = 100):
    """An HNSW graph (Malkov and Yashunin, 2018) over ``items`` for inner-product search, built with faiss. Each item
    is linked to about ``m`` neighbours per layer; ``ef_construction`` is how widely the build looks for them."""
    import faiss  # imported here: only lesson 7's last section needs it

    _positive_int("m", m)
    _positive_int("ef_construction", ef_construction)
    index = faiss.IndexHNSWFlat(items.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.add(np.ascontiguousarray(items, dtype="float32"))
    return index


def approximate_top_k(index, queries: np.ndarray, *, k: int = 10, ef: int = 50) -> np.ndarray:
    """The top ``k`` items for each query as the HNSW ``index`` finds them, searching ``ef`` candidates wide (larger:
    slower, and closer to the exact answer)."""
    _positive_int("k", k)
    _positive_int("ef", ef)
    index.hnsw.efSearch = max(ef, k)
    _, found = index.search(np.ascontiguousarray(queries, dtype="float32"), k)
    return found


def overlap_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """The share of the exact top k that the approximate search also returned (its recall against brute force)."""
    if found.shape != exact.shape:
        raise ValueError(f"`found` and `exact` must have the same shape. Received: {found.shape} and {exact.shape}.")
    return float(np.mean([len(np.intersect1d(a, b)) / exact.shape[1] for a, b in zip(found, exact, strict=True)]))


def timed(function: Callable, *args, **kwargs) -> tuple[object, float]:
    """``function(*args, **kwargs)`` and the seconds it took."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def queries_per_second(search: Callable[[np.ndarray], object], queries: np.ndarray, *, repeats: int = 3) -> float:
    """Queries answered per second by ``search(queries)``, the best of ``repeats`` runs (the least disturbed)."""
    _positive_int("repeats", repeats)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        search(queries)
        best = min(best, time.perf_counter() - start)
    return len(queries) / best
