"""Row-wise training: hand-checked updates, untouched rows, factor recovery as good as Keras fit, the Keras model."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

import embedlib
from embedlib.explore import factor_recovery, movie_vectors
from embedlib.models import dot_with_bias, simple_dot
from embedlib.prepare import IdEncoder, Prepared
from embedlib.rowwise import fit_rowwise
from embedlib.synthetic import make_synthetic
from embedlib.training import evaluate_rmse, fit, predict

TABLES = ("user_embedding", "movie_embedding", "user_bias", "movie_bias")


def tiny_prep(users: list[int], movies: list[int], ratings: list[float]) -> Prepared:
    """Three users, three movies, the given training rows (already encoded) and one validation row."""
    from embedlib.data import RatingScale

    train = pd.DataFrame({"user": users, "movie": movies, "rating": ratings})
    train["userId"], train["movieId"] = train["user"], train["movie"]
    valid = pd.DataFrame({"user": [1], "movie": [1], "rating": [3.0], "userId": [1], "movieId": [1]})
    return Prepared(
        train, valid, IdEncoder([1, 2, 3], "userId"), IdEncoder([1, 2, 3], "movieId"), RatingScale(0.5, 5, 0.5)
    )


def table(model: keras.Model, name: str) -> np.ndarray:
    return keras.ops.convert_to_numpy(model.get_layer(name).embeddings).copy()


def test_one_sgd_step_is_the_per_rating_update_on_the_looked_up_rows_only():
    # user 1 rates movies 2 and 3 in one batch: its gradient is the sum over both ratings, with L2 once per rating
    prep = tiny_prep([1, 1], [2, 3], [4.0, 2.0])
    model = simple_dot(3, 3, embedding_dim=2, init_range=(0.1, 0.9), seed=7)
    u0, m0 = table(model, "user_embedding"), table(model, "movie_embedding")
    lr, l2 = 0.1, 0.5
    fit_rowwise(
        model,
        prep,
        optimizer="sgd",
        learning_rate=lr,
        per_rating_weight_decay=l2,
        epochs=1,
        batch_size=2,
        verbose=False,
    )
    err = np.array([u0[1] @ m0[2] - 4.0, u0[1] @ m0[3] - 2.0])
    expected_u1 = u0[1] - lr * (err[0] * m0[2] + err[1] * m0[3] + 2 * l2 * u0[1])
    expected_m2 = m0[2] - lr * (err[0] * u0[1] + l2 * m0[2])
    u1, m1 = table(model, "user_embedding"), table(model, "movie_embedding")
    np.testing.assert_allclose(u1[1], expected_u1, rtol=1e-5)
    np.testing.assert_allclose(m1[2], expected_m2, rtol=1e-5)
    # rows no rating looked up are exactly as they were: the reserved row 0, users 2 and 3, movie 1
    np.testing.assert_array_equal(u1[[0, 2, 3]], u0[[0, 2, 3]])
    np.testing.assert_array_equal(m1[[0, 1]], m0[[0, 1]])


@pytest.mark.parametrize("optimizer", ["adagrad", "adam"])
def test_stateful_optimizers_leave_rows_outside_the_batches_alone(optimizer):
    prep = tiny_prep([1, 2, 1, 2], [2, 2, 3, 3], [4.0, 3.0, 2.0, 5.0])
    model = dot_with_bias(3, 3, embedding_dim=2, seed=1)
    before = {name: table(model, name) for name in TABLES}
    fit_rowwise(model, prep, optimizer=optimizer, learning_rate=0.05, epochs=3, patience=3, batch_size=2, verbose=False)
    for name in TABLES:
        after = table(model, name)
        untouched = [0, 3] if name.startswith("user") else [0, 1]
        np.testing.assert_array_equal(after[untouched], before[name][untouched], err_msg=name)
        assert not np.allclose(after[[1, 2]], before[name][[1, 2]]), f"{name}: trained rows did not move"


@pytest.fixture(scope="module")
def planted():
    data = make_synthetic(seed=5, n_users=150, n_movies=120, n_ratings=12_000, n_factors=3)
    return data, embedlib.prepare_ratings(data, valid_frac=0.2, seed=1)


def _bias_model(prep: Prepared) -> keras.Model:
    return dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=8, rating_range=prep.rating_range, seed=0)


@pytest.fixture(scope="module")
def keras_fitted(planted):
    data, prep = planted
    model = _bias_model(prep)
    fit(model, prep, epochs=20, batch_size=64, learning_rate=0.01, verbose=False)
    return model


@pytest.fixture(scope="module")
def rowwise_fitted(planted):
    data, prep = planted
    model = _bias_model(prep)
    history = fit_rowwise(model, prep, epochs=20, batch_size=64, learning_rate=0.01, verbose=False)
    return model, history


def test_rowwise_recovers_planted_factors_as_well_as_keras_fit(planted, keras_fitted, rowwise_fitted):
    data, prep = planted
    truth = data.planted.movies[data.planted.factor_columns]
    recovered = {
        "keras": factor_recovery(movie_vectors(keras_fitted, prep), truth).correlations.mean(),
        "rowwise": factor_recovery(movie_vectors(rowwise_fitted[0], prep), truth).correlations.mean(),
    }
    assert recovered["keras"] > 0.8, recovered  # the bar the row-wise path is compared against is a real one
    assert recovered["rowwise"] >= recovered["keras"] - 0.03, recovered
    rmse = {"keras": evaluate_rmse(keras_fitted, prep), "rowwise": evaluate_rmse(rowwise_fitted[0], prep)}
    assert rmse["rowwise"] <= rmse["keras"] + 0.01, rmse


def test_history_has_fits_columns_and_the_model_predicts_what_rowwise_measured(planted, rowwise_fitted):
    _, prep = planted
    model, history = rowwise_fitted
    assert list(history.columns) == ["epoch", "loss", "rmse", "val_loss", "val_rmse"]
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))
    # the weights written back are the best epoch's: Keras's own predictions score exactly that
    assert evaluate_rmse(model, prep) == pytest.approx(history["val_rmse"].min(), abs=1e-5)


def test_trained_model_saves_and_loads_in_safe_mode_with_identical_predictions(planted, rowwise_fitted, tmp_path):
    _, prep = planted
    model, _ = rowwise_fitted
    path = tmp_path / "rowwise.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(predict(loaded, prep, prep.valid), predict(model, prep, prep.valid))


def test_same_seed_same_history_and_other_seed_differs(tiny_synthetic):
    _, prep = tiny_synthetic

    def run(seed):
        model = dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=4, rating_range=prep.rating_range, seed=0)
        return fit_rowwise(model, prep, epochs=2, batch_size=64, seed=seed, verbose=False)

    first = run(3)
    pd.testing.assert_frame_equal(first, run(3))
    assert not np.allclose(first["val_rmse"], run(4)["val_rmse"])


def test_early_stopping_counts_patience_like_keras(tiny_synthetic):
    _, prep = tiny_synthetic
    model = simple_dot(prep.n_users, prep.n_movies, embedding_dim=32, seed=0)
    # 32 dims on 5,000 ratings overfit within a few epochs; patience 0 stops at the first epoch that is worse
    history = fit_rowwise(model, prep, learning_rate=0.05, epochs=30, patience=0, verbose=False)
    losses = history["val_loss"].to_numpy()
    assert 1 < len(losses) < 30
    assert (np.diff(losses[:-1]) < 0).all() and losses[-1] >= losses[-2], losses
    assert evaluate_rmse(model, prep) == pytest.approx(np.sqrt(losses[-2]), abs=1e-5)  # best weights restored


def test_refuses_other_models_optimizers_and_backends(tiny_synthetic, monkeypatch):
    _, prep = tiny_synthetic
    model = simple_dot(prep.n_users, prep.n_movies, embedding_dim=4, seed=0)
    with pytest.raises(
        ValueError, match="`optimizer` must be one of sgd, adagrad, adam. Received: optimizer='rmsprop'"
    ):
        fit_rowwise(model, prep, optimizer="rmsprop")
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        fit_rowwise(model, prep, batch_size=0)
    other = keras.Sequential([keras.Input((), dtype="int32"), keras.layers.Embedding(10, 2, name="user_embedding")])
    with pytest.raises(ValueError, match="simple_dot or dot_with_bias"):
        fit_rowwise(other, prep)
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    with pytest.raises(RuntimeError, match="needs the JAX backend; Keras is running on 'tensorflow'"):
        fit_rowwise(model, prep)
