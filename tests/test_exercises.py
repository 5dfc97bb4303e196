"""The lessons' one-line self-checks: each must say yes to a right answer and no to a wrong one."""

import numpy as np
import pandas as pd

from embedlib import exercises, explore
from embedlib.models import dot_with_bias


def test_check_compares_numbers_within_the_tolerance(capsys):
    assert exercises.check(0.8712, 0.871, tolerance=0.001)
    assert not exercises.check(0.9, 0.871, tolerance=0.001, hint="look at the floor again")
    out = capsys.readouterr().out
    assert "✅" in out and "look at the floor again" in out


def test_same_outputs_needs_the_same_model_and_the_same_weight_penalty(tiny_synthetic, capsys):
    _, prep = tiny_synthetic

    def bias_model(**kwargs):
        return dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=4, seed=1, **kwargs)

    reference = bias_model(weight_decay=1e-4, rating_range=(0.0, 5.5))
    assert exercises.check_same_outputs(bias_model(weight_decay=1e-4, rating_range=(0.0, 5.5)), reference, prep)
    # no weight decay: the same outputs for the same weights, but not the model the exercise asks for
    assert not exercises.check_same_outputs(bias_model(rating_range=(0.0, 5.5)), reference, prep)
    assert "weight penalty" in capsys.readouterr().out
    assert not exercises.check_same_outputs(bias_model(weight_decay=1e-4, rating_range=(0.5, 5.0)), reference, prep)
    assert not exercises.check_same_outputs(..., reference, prep)
    assert "fill in your answer first" in capsys.readouterr().out


def test_check_rebuilt_accepts_only_the_best_rank_k_table(capsys):
    table = pd.DataFrame(np.random.default_rng(0).normal(size=(6, 4)))
    u, s, vt = np.linalg.svd(table.to_numpy(), full_matrices=False)
    assert exercises.check_rebuilt(table, u[:, :1] * s[:1] @ vt[:1])
    assert "✅ RMSE" in capsys.readouterr().out
    assert exercises.check_rebuilt(table, u[:, :2] * s[:2] @ vt[:2], k=2)
    assert not exercises.check_rebuilt(table, u[:, 1:2] * s[1:2] @ vt[1:2])  # rank 1, but not the best one
    assert "Keep only the first 1 factor(s)" in capsys.readouterr().out.splitlines()[-1]
    assert not exercises.check_rebuilt(table, np.zeros((4, 6)))
    assert "shape (4, 6), expected (6, 4)" in capsys.readouterr().out
    assert not exercises.check_rebuilt(table, ...)


def test_check_unseen_as_mean_recomputes_the_answer_from_the_model(tiny_synthetic, capsys):
    _, prep = tiny_synthetic
    model = dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=4, seed=1)
    predicted = model.predict(prep.inputs(prep.valid), verbose=0).reshape(-1)
    seen = prep.valid["movieId"].isin(prep.train["movieId"]).to_numpy()
    assert not seen.all(), "the fixture should have validation movies that training never saw"
    predicted = np.where(seen, predicted, prep.train["rating"].mean())
    right = float(np.sqrt(np.mean((prep.valid["rating"].to_numpy() - predicted) ** 2)))
    assert exercises.check_unseen_as_mean(right, model, prep)
    assert not exercises.check_unseen_as_mean(right + 0.01, model, prep)
    assert "overwrite the never-seen movies' predictions" in capsys.readouterr().out
    assert not exercises.check_unseen_as_mean(None, model, prep)


def test_check_closer_compares_the_two_cosines(capsys):
    table = pd.DataFrame({"a": [1.0, 0.0, 1.0], "b": [0.0, 1.0, 0.1]}, index=["storm", "kiwi", "lemon"])
    assert exercises.check_closer(table, "lemon", to="storm", than="kiwi")
    assert not exercises.check_closer(table, "lemon", to="kiwi", than="storm")
    assert not exercises.check_closer(table.drop("lemon"), "lemon", to="storm", than="kiwi")
    assert "no row named 'lemon'" in capsys.readouterr().out


def test_check_most_rated_needs_the_movie_and_its_mean(capsys):
    ratings = pd.DataFrame({"movieId": [7, 7, 7, 9, 9], "rating": [4.0, 5.0, 3.5, 1.0, 2.0]})
    assert exercises.check_most_rated(7, 4.17, ratings)
    assert not exercises.check_most_rated(9, 1.5, ratings)
    assert "another has more" in capsys.readouterr().out
    assert not exercises.check_most_rated(7, 3.5, ratings)
    assert not exercises.check_most_rated("Forrest Gump", 4.17, ratings)
    assert not exercises.check_most_rated(7, ..., ratings)
    assert "4.17" not in capsys.readouterr().out  # a wrong answer is never told the right one


def test_check_harshest_user_reads_the_model_biases(tiny_synthetic, capsys):
    _, prep = tiny_synthetic
    model = dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=4, seed=1)
    biases = explore.user_biases(model, prep)
    assert exercises.check_harshest_user(int(biases.idxmin()), model, prep)
    assert not exercises.check_harshest_user(int(biases.idxmax()), model, prep)
    assert "someone's is lower" in capsys.readouterr().out
    assert not exercises.check_harshest_user(10**9, model, prep)


def test_check_best_epoch_finds_the_lowest_validation_rmse():
    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "val_rmse": [0.95, 0.90, 0.91, 0.93]})
    assert exercises.check_best_epoch(2, history)
    assert not exercises.check_best_epoch(4, history)
    assert not exercises.check_best_epoch(None, history)
    assert not exercises.check_best_epoch(2, ...)
    assert exercises.check_first_epoch_below(2, history, 0.92)
    assert not exercises.check_first_epoch_below(3, history, 0.92)
    assert not exercises.check_first_epoch_below(1, history, 0.5)  # never reached


def test_check_strongest_correlation_ignores_the_sign(capsys):
    rng = np.random.default_rng(0)
    year = rng.integers(1950, 2020, 200)
    table = pd.DataFrame({"title": "x", "genres": rng.choice(["Drama", "Comedy"], 200), "year": year,
                          "mean_rating": rng.uniform(1, 5, 200), "n_ratings": 50})  # fmt: skip
    table["PC2"] = -0.1 * year + rng.normal(0, 0.5, 200)  # strongly, and negatively, tied to the year
    assert exercises.check_strongest_correlation("release year", table, "PC2")
    assert not exercises.check_strongest_correlation("mean rating", table, "PC2")
    assert not exercises.check_strongest_correlation("year", table, "PC2")
    assert "as correlations_with names it" in capsys.readouterr().out


def test_check_centred_pc1_share_and_row_gradient():
    vectors = pd.DataFrame(np.random.default_rng(1).normal(size=(50, 4)) + 3.0)
    share = explore.pca(vectors.to_numpy(), center=True).explained_variance_ratio[0]
    assert exercises.check_centred_pc1_share(share + 0.001, vectors)
    assert not exercises.check_centred_pc1_share(explore.pca(vectors.to_numpy()).explained_variance_ratio[0], vectors)
    ids, weights = np.array([1, 4, 4]), np.array([[1.0], [2.0], [3.0]])
    assert exercises.check_row_gradient(5.0, ids, weights, row=4)
    assert not exercises.check_row_gradient(2.0, ids, weights, row=4)  # counted one lookup of row 4, not both
    assert exercises.check_row_gradient(1.0, ids, weights, row=1)


def test_check_reloaded_compares_predictions(tiny_synthetic, tmp_path, capsys):
    import keras

    _, prep = tiny_synthetic
    model = dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=4, seed=1)
    model.save(tmp_path / "m.keras")
    assert exercises.check_reloaded(keras.models.load_model(tmp_path / "m.keras"), model, prep)
    assert not exercises.check_reloaded(
        dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=4, seed=2), model, prep
    )
    assert "differ by up to" in capsys.readouterr().out
    assert not exercises.check_reloaded(str(tmp_path / "m.keras"), model, prep)
