"""Top-k by inner product: exact (NumPy, or faiss's brute force) or approximate (a faiss HNSW graph), and how they differ."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from embedlib.checks import check_count
from embedlib.ranking import best_k

__all__ = [
    "exact_top_k",
    "flat_index",
    "gaussian_like",
    "hnsw_index",
    "index_top_k",
    "overlap_at_k",
    "queries_per_second",
    "timed",
]


def gaussian_like(vectors: np.ndarray, n: int, *, seed: int = 42) -> np.ndarray:
    """``n`` float32 vectors drawn from a Gaussian with the mean and covariance of ``vectors``: a large synthetic
    table shaped like a learned one (learned vectors use few directions; uniform noise would use them all)."""
    check_count("n", n)
    vectors = np.asarray(vectors, dtype="float64")
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(vectors.mean(axis=0), np.cov(vectors.T), size=n).astype("float32")


def exact_top_k(queries: np.ndarray, items: np.ndarray, *, k: int = 10, batch_size: int = 256) -> np.ndarray:
    """Indices of the ``k`` items with the largest inner product with each query, best first (ties: lowest index
    first): every item scored."""
    check_count("k", k)
    out = np.empty((len(queries), k), dtype="int64")
    for start in range(0, len(queries), batch_size):
        out[start : start + batch_size] = best_k(queries[start : start + batch_size] @ items.T, k)
    return out


def flat_index(items: np.ndarray):
    """An exact inner-product index over ``items`` (faiss's brute force): every item scored, with the same optimised
    code as the approximate index, so that timing the two compares the methods, not the implementations."""
    import faiss  # imported here: only lesson 7's last section needs it

    index = faiss.IndexFlatIP(items.shape[1])
    index.add(np.ascontiguousarray(items, dtype="float32"))
    return index


def hnsw_index(items: np.ndarray, *, m: int = 16, ef_construction: int = 100, threads: int = 1):
    """An HNSW graph (Malkov and Yashunin, 2018) over ``items`` for inner-product search, built with faiss. Each item
    is linked to about ``m`` neighbours per layer; ``ef_construction`` is how widely the build looks for them.

    With more than one thread the items are inserted in parallel, in an order that varies from run to run, and so
    does the graph (and the recall it gives): ``threads=1`` (the default) makes the build reproducible.
    """
    import faiss

    check_count("m", m)
    check_count("ef_construction", ef_construction)
    check_count("threads", threads)
    index = faiss.IndexHNSWFlat(items.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        index.add(np.ascontiguousarray(items, dtype="float32"))
    finally:
        faiss.omp_set_num_threads(previous)
    return index


def index_top_k(index, queries: np.ndarray, *, k: int = 10, ef: int | None = None) -> np.ndarray:
    """The top ``k`` items for each query as a faiss ``index`` finds them, best first. For an HNSW index, ``ef`` is
    how wide the search looks (larger: slower, and closer to the exact answer)."""
    check_count("k", k)
    if ef is not None:
        check_count("ef", ef)
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
    check_count("repeats", repeats)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        search(queries)
        best = min(best, time.perf_counter() - start)
    return len(queries) / best
