"""Inspection helpers: PCA without centring, extremes, similarity, recommendations with real ids, recovery."""

import numpy as np
import pandas as pd
import pytest

from embedlib.explore import (
    correlations_with,
    cosine_similarity,
    extremes,
    factor_recovery,
    movie_stats,
    movie_vectors,
    pca,
    recommend,
    similar_movies,
)
from embedlib.models import simple_dot


def test_cosine_similarity_of_one_hot_and_dense_vectors():
    one_hot = np.eye(3)
    assert cosine_similarity(one_hot[0], one_hot[1]) == 0.0 == cosine_similarity(one_hot[0], one_hot[2])
    assert cosine_similarity(np.array([1.0, 2.0]), np.array([2.0, 4.0])) == pytest.approx(1.0)
    assert cosine_similarity(one_hot, one_hot).shape == (3, 3)


def test_pca_is_uncentred_by_default_and_reconstructs():
    x = np.random.default_rng(0).normal(loc=3.0, size=(40, 5))
    result = pca(x)
    assert result.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert np.allclose(result.scores @ result.components, x)
    # uncentred data with a large mean: the first component carries the mean, so it dominates
    assert result.explained_variance_ratio[0] > pca(x, center=True).explained_variance_ratio[0]


def stats_and_model(tiny_synthetic):
    data, prep = tiny_synthetic
    return data, prep, movie_stats(prep, data.movies), simple_dot(prep.n_users, prep.n_movies, embedding_dim=3, seed=0)


def test_movie_stats_and_extremes(tiny_synthetic):
    data, prep, stats, _ = stats_and_model(tiny_synthetic)
    assert len(stats) == prep.n_movies and stats["n_ratings"].sum() == len(data.ratings)
    stats = stats.assign(PC1=np.arange(len(stats), dtype=float))
    low, high = extremes(stats, "PC1", n=5, min_ratings=20)
    assert len(low) == 5 and (low["n_ratings"] > 20).all() and (high["n_ratings"] > 20).all()
    assert low["PC1"].is_monotonic_increasing and high["PC1"].is_monotonic_decreasing
    corr = correlations_with(stats, "PC1")
    assert "mean rating" in corr.index and corr.abs().max() <= 1


def test_similar_movies_excludes_itself_and_ranks_by_cosine(tiny_synthetic):
    _, prep, stats, model = stats_and_model(tiny_synthetic)
    vectors = movie_vectors(model, prep)
    movie = int(vectors.index[0])
    table = similar_movies(vectors, stats, movie, n=5)
    assert movie not in table.index and len(table) == 5 and table["cosine"].is_monotonic_decreasing
    with pytest.raises(KeyError, match="movieId -1 has no embedding"):
        similar_movies(vectors, stats, -1)


def test_recommendations_are_real_unrated_movie_ids(tiny_synthetic):
    _, prep, stats, model = stats_and_model(tiny_synthetic)
    user = int(prep.train["userId"].iloc[0])
    recs = recommend(model, prep, stats, user, n=7)
    rated = set(pd.concat([prep.train, prep.valid]).query("userId == @user")["movieId"])
    assert len(recs) == 7 and not set(recs.index) & rated
    assert set(recs.index) <= set(prep.movies.ids)  # raw movieIds, not dense indices
    assert recs["predicted"].is_monotonic_decreasing


def test_factor_recovery_sees_through_rotation_and_scale():
    rng = np.random.default_rng(0)
    planted = pd.DataFrame(rng.normal(size=(300, 3)))
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    learned = pd.DataFrame(np.hstack([planted.to_numpy() @ rotation * 7.0, np.zeros((300, 2))]))
    assert factor_recovery(learned, planted).correlations == pytest.approx([1, 1, 1], abs=1e-6)
    noise = pd.DataFrame(rng.normal(size=(300, 5)))
    assert np.abs(factor_recovery(noise, planted).correlations).max() < 0.5


def test_raw_id_accessors_follow_the_encoders():
    from embedlib.explore import movie_biases, movie_vectors, user_biases, user_vectors
    from embedlib.models import dot_with_bias
    from embedlib.prepare import prepare_ratings
    from embedlib.synthetic import make_synthetic

    data = make_synthetic(n_users=12, n_movies=15, n_ratings=150, seed=0)
    prep = prepare_ratings(data, seed=0)
    model = dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=3, seed=0)
    table = model.get_layer("movie_embedding").get_weights()[0]
    some = prep.movies.ids[[4, 0]]
    vectors = movie_vectors(model, prep, some)
    assert list(vectors.index) == list(some) and vectors.index.name == "movieId"
    np.testing.assert_array_equal(vectors.to_numpy(), table[prep.movies.encode(some)])
    assert movie_vectors(model, prep).shape == (prep.n_movies, 3)
    assert user_vectors(model, prep).index.name == "userId"
    bias = model.get_layer("user_bias").get_weights()[0]
    np.testing.assert_array_equal(user_biases(model, prep).to_numpy(), bias[1:, 0])
    assert movie_biases(model, prep, some).index.tolist() == list(some)
    with pytest.raises(KeyError):
        movie_vectors(model, prep, [10**9])
