"""Exact and approximate top-k by inner product."""

from __future__ import annotations

import numpy as np
import pytest

from embedlib import search


def test_exact_top_k_is_the_brute_force_order():
    rng = np.random.default_rng(0)
    items, queries = rng.normal(size=(500, 8)).astype("float32"), rng.normal(size=(20, 8)).astype("float32")
    found = search.exact_top_k(queries, items, k=5, batch_size=7)
    assert np.array_equal(found, np.argsort(-(queries @ items.T), axis=1)[:, :5])


def test_the_hnsw_index_finds_most_of_the_exact_answer_and_more_with_a_wider_search():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    learned = rng.normal(size=(300, 16)) @ np.diag(np.linspace(2, 0.1, 16))  # a few strong directions, like ours
    items = search.gaussian_like(learned, 5000, seed=2)
    queries = search.gaussian_like(learned, 100, seed=3)
    exact = search.exact_top_k(queries, items, k=10)
    assert np.array_equal(search.index_top_k(search.flat_index(items), queries, k=10), exact)
    index = search.hnsw_index(items)
    narrow = search.overlap_at_k(search.index_top_k(index, queries, k=10, ef=10), exact)
    wide = search.overlap_at_k(search.index_top_k(index, queries, k=10, ef=400), exact)
    assert wide >= narrow and wide > 0.9
    # one thread: the same graph, so the same answers, every time
    again = search.index_top_k(search.hnsw_index(items), queries, k=10, ef=10)
    assert np.array_equal(again, search.index_top_k(index, queries, k=10, ef=10))


def test_overlap_at_k_counts_shared_items():
    assert search.overlap_at_k(np.array([[1, 2, 3, 4]]), np.array([[4, 3, 9, 8]])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same shape"):
        search.overlap_at_k(np.zeros((2, 3)), np.zeros((2, 4)))


def test_gaussian_like_keeps_the_mean_and_covariance():
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(2000, 3)) @ np.array([[2.0, 0, 0], [0.5, 1, 0], [0, 0, 0.2]]) + [1, -1, 0]
    sample = search.gaussian_like(vectors, 50_000, seed=5)
    assert sample.dtype == np.float32 and sample.shape == (50_000, 3)
    assert np.allclose(sample.mean(axis=0), vectors.mean(axis=0), atol=0.05)
    assert np.allclose(np.cov(sample.T), np.cov(vectors.T), atol=0.05)
