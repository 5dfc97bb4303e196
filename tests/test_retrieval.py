"""The implicit-feedback model: its loss against NumPy, that it learns who watches what, and safe-mode saving."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from embedlib import ranking, retrieval


def softmax_loss_by_hand(users, movies, ids, log_q):
    scores = users @ movies.T - log_q[None, :]
    duplicate = (ids[:, None] == ids[None, :]) & ~np.eye(len(ids), dtype=bool)
    scores = np.where(duplicate, -1e9, scores)
    scores = scores - scores.max(axis=1, keepdims=True)
    log_softmax = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(log_softmax))


def test_in_batch_softmax_loss_matches_numpy_with_duplicates_and_correction():
    rng = np.random.default_rng(0)
    users, movies = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    ids = np.array([1, 2, 2, 3, 4, 1])  # movies 1 and 2 appear twice
    log_q = np.log(rng.uniform(0.01, 0.5, size=6))
    got = retrieval.in_batch_softmax_loss(users, movies, ids, log_q)
    assert float(got) == pytest.approx(softmax_loss_by_hand(users, movies, ids, log_q), rel=1e-5)
    plain = retrieval.in_batch_softmax_loss(users, movies, np.arange(6), None)
    assert float(plain) == pytest.approx(softmax_loss_by_hand(users, movies, np.arange(6), np.zeros(6)), rel=1e-5)


def test_log_popularity_is_the_log_share_with_0_for_empty_rows():
    assert retrieval.log_popularity(np.array([0, 1, 3])) == pytest.approx([0.0, np.log(0.25), np.log(0.75)])
    with pytest.raises(ValueError, match="non-negative"):
        retrieval.log_popularity(np.array([0, 0]))


def two_groups() -> ranking.RankingSplit:
    """Users 1-20 watch movies 1-10, users 21-40 movies 11-20 (each user eight at random, over time)."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(1, 41):
        pool = np.arange(1, 11) if user <= 20 else np.arange(11, 21)
        for t, movie in enumerate(rng.choice(pool, size=8, replace=False)):
            rows.append((user, int(movie), 4.0, t))
    from embedlib.data import HALF_STARS, Dataset

    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    movies = pd.DataFrame({"movieId": np.arange(1, 21), "title": "t", "genres": "g"})
    return ranking.ranking_split(Dataset("groups", ratings, movies, HALF_STARS, "generated"))


def test_the_model_learns_which_group_watches_what():
    split = two_groups()
    model = retrieval.InBatchSoftmaxModel(split.n_users, split.n_movies, movie_counts=split.movie_counts(),
                                          embedding_dim=8, weight_decay=0.0, seed=0)  # fmt: skip
    history = retrieval.fit_implicit(model, split.train, epochs=60, batch_size=64, learning_rate=0.05, verbose=False)
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    top = ranking.top_k(ranking.model_scorer(model), split.seen(), k=2)
    group_of_user = np.arange(1, split.users.n_rows) > 20
    group_of_movie = split.movies.decode(top.ravel()).reshape(top.shape) > 10
    # every recommendation comes from the user's own group; popularity cannot do that
    assert (group_of_movie == group_of_user[:, None]).mean() > 0.95


def test_the_model_saves_and_loads_with_safe_mode_on(tmp_path):
    split = two_groups()
    model = retrieval.InBatchSoftmaxModel(split.n_users, split.n_movies, movie_counts=split.movie_counts(), seed=1)
    retrieval.fit_implicit(model, split.train, epochs=1, verbose=False)
    path = tmp_path / "implicit.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for name in ("user_embedding", "movie_embedding"):
        assert np.array_equal(loaded.get_layer(name).get_weights()[0], model.get_layer(name).get_weights()[0])
    assert np.array_equal(np.asarray(loaded.log_q), np.asarray(model.log_q))
    assert loaded.popularity_correction is True


def test_bad_arguments_are_refused_with_what_to_fix():
    with pytest.raises(ValueError, match="one count per movie row"):
        retrieval.InBatchSoftmaxModel(3, 4, movie_counts=np.ones(4))
    with pytest.raises(ValueError, match="weight_decay"):
        retrieval.InBatchSoftmaxModel(3, 4, weight_decay=-1.0)
    train = pd.DataFrame({"user": [1, 2], "movie": [1, 2]})
    with pytest.raises(ValueError, match="movie_counts"):
        retrieval.fit_implicit(retrieval.InBatchSoftmaxModel(3, 4), train)  # the correction needs the counts
    model = retrieval.InBatchSoftmaxModel(3, 4, popularity_correction=False)
    with pytest.raises(ValueError, match="learning_rate"):
        retrieval.fit_implicit(model, train, learning_rate=0.0)
    with pytest.raises(ValueError, match="epochs"):
        retrieval.fit_implicit(model, train, epochs=0)


def test_next_movie_pairs_follow_each_users_timeline_in_order():
    ratings = pd.DataFrame({"userId": [1, 1, 1, 2, 2, 3], "movieId": [30, 10, 20, 10, 40, 50],
                            "timestamp": [300, 100, 100, 5, 1, 9], "movie": [3, 1, 2, 1, 4, 5]})  # fmt: skip
    pairs = retrieval.next_movie_pairs(ratings)
    # user 1: movies 10 and 20 share a second (ordered by movieId), then 30; user 2: 40 then 10; user 3: one rating
    assert list(map(tuple, pairs[["user", "movie"]].to_numpy())) == [(1, 2), (2, 3), (4, 1)]
