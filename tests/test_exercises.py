"""The lessons' one-line self-checks: each must say yes to a right answer and no to a wrong one."""

import numpy as np
import pandas as pd

from embedlib import exercises
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
