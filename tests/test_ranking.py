"""The ranking protocol: the split by time, top-k with seen movies removed, and the metrics, against hand-computed
cases and against keras-rs's ranking metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from embedlib import models, ranking
from embedlib.data import HALF_STARS, Dataset


def dataset(rows: list[tuple[int, int, float, int]]) -> Dataset:
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    movies = pd.DataFrame({"movieId": sorted(ratings["movieId"].unique())}).assign(title="t", genres="g")
    return Dataset("tiny", ratings, movies, HALF_STARS, "generated")


# user 1 rates five movies over time (movie 30 and 10 at the same second), user 2 three; movie 99 is only held out.
ROWS = [
    (1, 50, 4.0, 100),
    (1, 30, 3.0, 200),
    (1, 10, 5.0, 200),
    (1, 20, 2.0, 300),
    (1, 40, 4.5, 400),
    (2, 10, 3.0, 10),
    (2, 20, 4.0, 20),
    (2, 99, 5.0, 30),
]


def test_chronological_split_takes_each_users_first_80_percent_rounded_up_ties_by_movie():
    train, test = ranking.chronological_split(dataset(ROWS).ratings, train_frac=0.8)
    # user 1: ceil(0.8 * 5) = 4 to train; the tie at t=200 goes to movie 10 first
    assert train.query("userId == 1")["movieId"].tolist() == [50, 10, 30, 20]
    assert test.query("userId == 1")["movieId"].tolist() == [40]
    # user 2: ceil(0.8 * 3) = 3: everything trains
    assert train.query("userId == 2")["movieId"].tolist() == [10, 20, 99]
    assert test.query("userId == 2").empty


def test_ranking_split_drops_held_out_movies_never_seen_in_training():
    # user 2 has five ratings: 10, 20, 40, 60 train and 70 is held out, but nobody rated 70 in training
    rows = [*ROWS[:5], (2, 10, 3.0, 10), (2, 20, 4.0, 20), (2, 40, 5.0, 30), (2, 60, 3.0, 40), (2, 70, 3.0, 50)]
    split = ranking.ranking_split(dataset(rows))
    assert split.dropped_rows == 1 and split.dropped_movies == 1
    assert split.test["movieId"].tolist() == [40]  # user 1's held-out movie, which user 2 rated in training
    assert split.n_movies == 6  # the training catalogue: 10, 20, 30, 40, 50, 60


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, 1.5])
def test_train_frac_must_be_between_0_and_1(bad):
    with pytest.raises(ValueError, match="train_frac"):
        ranking.chronological_split(dataset(ROWS).ratings, train_frac=bad)


def test_top_k_never_returns_seen_movies_or_row_0_and_is_best_first():
    seen = sparse.csr_matrix(np.array([[0, 0, 0, 0, 0], [0, 1, 0, 0, 1], [0, 0, 0, 1, 0]]))
    scores = np.array([[9.0, 5.0, 1.0, 3.0, 4.0]] * 3)
    top = ranking.top_k(lambda users: scores[users], seen, k=2)
    assert top.tolist() == [[3, 2], [1, 4]]  # user 1 has seen movies 1 and 4, user 2 movie 3


def test_top_k_breaks_ties_by_movie_row_lowest_first():
    seen = sparse.csr_matrix((3, 8))  # user rows 1 and 2 (row 0 is reserved), nothing seen
    scores = np.array([[0, 1, 3, 1, 3, 1, 0, 1.0], [0, 2, 2, 2, 2, 2, 2, 2.0]])
    top = ranking.top_k(lambda users: scores[users - 1], seen, k=4, users=np.array([1, 2]))
    assert top.tolist() == [[2, 4, 1, 3], [1, 2, 3, 4]]


def test_paired_difference_brackets_the_mean_difference():
    rng = np.random.default_rng(0)
    a = rng.normal(0.3, 0.1, size=500)
    b = a - 0.05 + rng.normal(0, 0.01, size=500)
    result = ranking.paired_difference(a, b, seed=1)
    assert result["low"] < 0.05 < result["high"] and result["high"] - result["low"] < 0.01
    assert result["difference"] == pytest.approx(0.05, abs=0.002) and result["users"] == 500
    with pytest.raises(ValueError, match="two users"):
        ranking.paired_difference([0.1, np.nan], [0.2, 0.3])


def test_top_k_is_the_same_in_any_batch_size():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 200))
    seen = sparse.random(50, 200, density=0.1, random_state=1, format="csr")
    one = ranking.top_k(lambda users: scores[users], seen, k=10, batch_size=1)
    many = ranking.top_k(lambda users: scores[users], seen, k=10, batch_size=256)
    assert np.array_equal(one, many)


def test_top_k_refuses_a_scorer_of_the_wrong_shape_and_a_k_too_large():
    seen = sparse.csr_matrix((3, 5))
    with pytest.raises(ValueError, match="expected"):
        ranking.top_k(lambda users: np.zeros((len(users), 4)), seen, k=2)
    with pytest.raises(ValueError, match="at most the number of movies"):
        ranking.top_k(lambda users: np.zeros((len(users), 5)), seen, k=5)


def test_metrics_match_a_case_computed_by_hand():
    # three relevant movies (rows 1, 2, 3); the list has them at ranks 1 and 4
    top = np.array([[1, 7, 8, 2, 9, 10, 11, 12, 13, 14]])
    relevant = sparse.csr_matrix(([1, 1, 1], ([0, 0, 0], [1, 2, 3])), shape=(1, 15))
    ndcg = ranking.ndcg_at_k(top, relevant, np.array([0]))[0]
    expected = (1 + 1 / np.log2(5)) / (1 + 1 / np.log2(3) + 1 / np.log2(4))
    assert ndcg == pytest.approx(expected)
    assert ranking.recall_at_k(top, relevant, np.array([0]))[0] == pytest.approx(2 / 3)
    # more relevant movies than slots: recall divides by k, and the ideal list is all hits
    many = sparse.csr_matrix(np.ones((1, 15)))
    assert ranking.recall_at_k(top, many, np.array([0]))[0] == pytest.approx(1.0)
    assert ranking.ndcg_at_k(top, many, np.array([0]))[0] == pytest.approx(1.0)


def test_coverage_counts_distinct_movies_over_all_lists():
    assert ranking.coverage(np.array([[1, 2], [2, 3]]), n_movies=6) == pytest.approx(0.5)


def test_metrics_agree_with_keras_rs_on_random_inputs():
    keras_rs = pytest.importorskip("keras_rs")
    rng = np.random.default_rng(7)
    n_users, n_rows, k = 40, 60, 10
    scores = rng.normal(size=(n_users, n_rows))
    seen_dense = (rng.random((n_users, n_rows)) < 0.2) & (np.arange(n_rows) > 0)
    seen = sparse.csr_matrix(seen_dense)
    unseen = ~seen_dense & (np.arange(n_rows) > 0)
    relevant_dense = (rng.random((n_users, n_rows)) < 0.15) & unseen
    for user in range(n_users):  # some users with one relevant movie, some with more than k
        relevant_dense[user, rng.choice(np.flatnonzero(unseen[user]))] = True
    relevant_dense[:5] = unseen[:5]
    users = np.flatnonzero(relevant_dense.any(axis=1))
    relevant = sparse.csr_matrix(relevant_dense)
    top = ranking.top_k(lambda u: scores[u], seen, k=k, users=users)
    ours_ndcg = ranking.ndcg_at_k(top, relevant, users)
    ours_recall = ranking.recall_at_k(top, relevant, users)
    # keras-rs sees every candidate: the seen movies and row 0 are masked out of the list
    mask = unseen[users]
    labels = relevant_dense[users].astype("float32")
    ndcg = keras_rs.metrics.NDCG(k=k, shuffle_ties=False)
    ndcg.update_state({"labels": labels, "mask": mask}, scores[users].astype("float32"))
    recall = keras_rs.metrics.RecallAtK(k=k, shuffle_ties=False)
    recall.update_state({"labels": labels, "mask": mask}, scores[users].astype("float32"))
    assert float(ndcg.result()) == pytest.approx(ours_ndcg.mean(), abs=1e-5)
    # keras-rs divides hits by all relevant movies; the protocol by min(|relevant|, k)
    n_relevant = relevant_dense[users].sum(axis=1)
    assert float(recall.result()) == pytest.approx(
        np.mean(ours_recall * np.minimum(n_relevant, k) / n_relevant), abs=1e-5
    )


def test_evaluate_scores_the_popularity_floor_by_hand():
    rows = [(u, m, 4.0, t) for u, ms in {1: [1, 2, 3], 2: [1, 2, 4], 3: [1, 5, 2]}.items() for t, m in enumerate(ms)]
    rows += [(1, 5, 4.0, 10), (2, 3, 2.0, 10), (3, 4, 5.0, 10)]  # the held-out (last) rating of each user
    split = ranking.ranking_split(dataset(rows), train_frac=0.75)
    result = ranking.evaluate(ranking.popularity_scorer(split), split, k=1)
    # popularity: movie 1 (3 ratings), 2 (3), then 3, 4, 5 (1 each). Every user has seen 1 and 2, so each gets one of
    # the tied movies 3, 4, 5 at rank 1; hits are counted whatever the tie-break, so check against the list itself
    top = ranking.top_k(ranking.popularity_scorer(split), split.seen(), k=1)
    held_out = split.relevant()
    hits = [held_out[user, top[user - 1, 0]] for user in (1, 2, 3)]
    assert result["ndcg@1"] == pytest.approx(np.mean(hits))
    assert result["users"] == 3
    liked = ranking.evaluate(ranking.popularity_scorer(split), split, k=1, min_rating=4.0)
    assert liked["users"] == 2  # user 2's held-out rating is 2 stars


def test_model_scorer_ranks_like_the_models_predictions(tiny_synthetic):
    data, _ = tiny_synthetic
    split = ranking.ranking_split(data)
    model = models.dot_with_bias(split.n_users, split.n_movies, embedding_dim=4, seed=0)
    for layer in model.layers:  # spread the weights so that ties cannot decide the order
        if layer.weights:
            layer.set_weights([np.random.default_rng(1).normal(size=w.shape) for w in layer.get_weights()])
    users = np.array([1, 2, 3])
    top = ranking.top_k(ranking.model_scorer(model), split.seen(), k=5, users=users)
    movies = np.arange(1, split.movies.n_rows)
    for user, row in zip(users, top, strict=True):
        predicted = model.predict({"user": np.full(len(movies), user), "movie": movies}, verbose=0).ravel()
        predicted[np.isin(movies, split.seen()[user].indices)] = -np.inf
        assert row.tolist() == movies[np.argsort(-predicted, kind="stable")[:5]].tolist()


def test_prediction_scorer_gives_the_models_own_predictions_for_every_movie_row(tiny_synthetic):
    data, _ = tiny_synthetic
    split = ranking.ranking_split(data)
    model = models.mlp(split.n_users, split.n_movies, embedding_dim=3, hidden_units=(4,), seed=0)
    scores = ranking.prediction_scorer(model, split.movies.n_rows, batch_size=1000)(np.array([2, 5]))
    assert scores.shape == (2, split.movies.n_rows)
    movies = np.arange(split.movies.n_rows)
    expected = model.predict({"user": np.full(len(movies), 5), "movie": movies}, verbose=0).ravel()
    assert np.allclose(scores[1], expected, rtol=1e-6)
    assert len(np.unique(scores[1])) > 100  # a real score per movie, not one value broadcast
    with pytest.raises(ValueError, match="more than the model's movie table has"):
        ranking.prediction_scorer(model, split.movies.n_rows + 3)


def test_model_scorer_says_which_layers_it_needs():
    import keras

    inputs = keras.Input(shape=(2,))
    with pytest.raises(ValueError, match="user_embedding"):
        ranking.model_scorer(keras.Model(inputs, keras.layers.Dense(1)(inputs)))


def test_prepared_keeps_the_held_out_ratings_as_its_test_set(tiny_synthetic):
    data, _ = tiny_synthetic
    split = ranking.ranking_split(data)
    prep = split.prepared(valid_frac=0.1, seed=0)
    assert len(prep.train) + len(prep.valid) == len(split.train) and prep.test is split.test
    every_row = split.prepared(valid_frac=0)
    assert len(every_row.train) == len(split.train) and every_row.valid.empty


def test_random_ranking_split_keeps_the_protocols_rules(tiny_synthetic):
    data, _ = tiny_synthetic
    split = ranking.random_ranking_split(data, seed=3)
    assert split.test["movieId"].isin(split.train["movieId"]).all()
    assert len(split.train) + len(split.test) + split.dropped_rows == len(data.ratings)


def test_users_by_history_bins_training_counts(tiny_synthetic):
    data, _ = tiny_synthetic
    split = ranking.ranking_split(data)
    groups = ranking.users_by_history(split, edges=(50, 100))
    counts = split.train.groupby("user").size()
    assert (groups[counts.index[counts < 50]] == "0–49").all()
    assert list(groups.cat.categories) == ["0–49", "50–99", "100+"]
