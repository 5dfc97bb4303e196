"""Training helpers: RMSE's shape guard, early stopping, reproducibility, unseen ids."""

import keras
import numpy as np
import pytest

from embedlib.baselines import BiasBaseline, SVDBaseline, global_mean_rmse
from embedlib.models import dot_with_bias, simple_dot
from embedlib.training import evaluate_rmse, fit, predict_ratings, rmse


def test_rmse_value_and_shape_guard():
    assert rmse(np.array([1.0, 3.0]), np.array([2.0, 1.0])) == pytest.approx(np.sqrt(2.5))
    with pytest.raises(ValueError, match=r"same shape. Received: \(3,\) and \(3, 1\)"):
        rmse(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="empty"):
        rmse(np.zeros(0), np.zeros(0))


def test_fit_returns_a_history_table_and_beats_the_floor(tiny_synthetic):
    _, prep = tiny_synthetic
    model = dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=8, rating_range=prep.rating_range, seed=0)
    history = fit(model, prep, epochs=4, batch_size=64, learning_rate=0.01, seed=0, verbose=False)
    assert list(history.columns) == ["epoch", "loss", "rmse", "val_loss", "val_rmse"]
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))
    score = evaluate_rmse(model, prep)
    assert score == pytest.approx(history["val_rmse"].min(), abs=1e-3)  # best weights restored
    assert score < global_mean_rmse(prep)


def test_early_stopping_stops_before_the_last_epoch(tiny_synthetic):
    _, prep = tiny_synthetic
    model = simple_dot(prep.n_users, prep.n_movies, embedding_dim=32, seed=0)
    history = fit(model, prep, epochs=60, batch_size=16, learning_rate=0.05, patience=1, seed=0, verbose=False)
    assert len(history) < 60


def test_same_seed_same_numbers(tiny_synthetic):
    _, prep = tiny_synthetic

    def run(seed):
        model = dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=4, seed=seed)
        fit(model, prep, epochs=2, batch_size=128, seed=seed, verbose=False)
        return evaluate_rmse(model, prep)

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_fit_refuses_nonsense(tiny_synthetic):
    _, prep = tiny_synthetic
    model = simple_dot(prep.n_users, prep.n_movies, embedding_dim=2)
    with pytest.raises(ValueError, match="`epochs` must be a positive integer. Received: epochs=0"):
        fit(model, prep, epochs=0)
    with pytest.raises(ValueError, match="`learning_rate` must be a positive number"):
        fit(model, prep, learning_rate=-1.0)
    with pytest.raises(ValueError, match="`patience` must be zero or a positive integer. Received: patience=-1"):
        fit(model, prep, patience=-1)


def test_fit_runs_the_callers_callbacks_beside_its_own(tiny_synthetic):
    import keras

    _, prep = tiny_synthetic
    seen = []
    callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    history = fit(simple_dot(prep.n_users, prep.n_movies, embedding_dim=2), prep, epochs=2, batch_size=512,
                  verbose=False, callbacks=[callback])  # fmt: skip
    assert seen == [0, 1] and len(history.attrs["epoch_seconds"]) == 2  # fit's own timer still ran


def test_unseen_movies_are_predicted_from_their_untouched_initial_rows(tiny_synthetic):
    _, prep = tiny_synthetic
    unseen = sorted(set(prep.valid["movieId"]) - set(prep.train["movieId"]))
    assert unseen, "the fixture should leave some validation movies out of training"
    model = simple_dot(prep.n_users, prep.n_movies, embedding_dim=4, seed=0)
    rows = prep.movies.encode(unseen)
    before = model.get_layer("movie_embedding").get_weights()[0][rows].copy()
    fit(model, prep, epochs=2, batch_size=64, seed=0, verbose=False)
    after = model.get_layer("movie_embedding").get_weights()[0][rows]
    assert np.array_equal(before, after)
    user = int(prep.train["userId"].iloc[0])
    pred = predict_ratings(model, prep, user, unseen)
    # simple_dot's prediction for them is the user vector dotted with a tiny initial row: far below any rating.
    assert pred.shape == (len(unseen),) and (np.abs(pred) < prep.rating_range[0] + 0.5).all()


def test_unknown_raw_ids_raise_instead_of_nan(tiny_synthetic):
    _, prep = tiny_synthetic
    model = simple_dot(prep.n_users, prep.n_movies, embedding_dim=2)
    with pytest.raises(KeyError, match="Unknown movieId: 10000000"):
        predict_ratings(model, prep, int(prep.train["userId"].iloc[0]), 10_000_000)


def test_baselines_order_on_planted_data(tiny_synthetic):
    _, prep = tiny_synthetic
    floor = global_mean_rmse(prep)
    biases = BiasBaseline().fit(prep).rmse(prep)
    svd = SVDBaseline(n_components=4).fit(prep).rmse(prep)
    assert biases < floor and svd < floor


def test_several_steps_per_call_give_the_same_numbers_as_one(tiny_synthetic):
    # fit's default runs 64 steps per call of Keras's train function; the lessons rely on it changing no number.
    # 150 steps per epoch here, so the last call of each epoch runs a partial group.
    _, prep = tiny_synthetic
    histories, predictions = [], []
    for steps in (1, None):
        model = dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=8, seed=5, rating_range=prep.rating_range)
        histories.append(fit(model, prep, epochs=3, batch_size=32, seed=5, verbose=False, steps_per_execution=steps))
        predictions.append(model.predict(prep.inputs(prep.valid), verbose=0))
    np.testing.assert_allclose(histories[0]["val_rmse"], histories[1]["val_rmse"], rtol=1e-6)
    np.testing.assert_allclose(predictions[0], predictions[1], rtol=1e-6)


def test_pytorch_runs_one_step_per_call_other_backends_64(monkeypatch):
    # Keras's PyTorch trainer runs one step per call of its train function; the others loop over 64.
    from embedlib import training

    for backend, steps in (("torch", 1), ("jax", 64), ("tensorflow", 64)):
        monkeypatch.setattr(keras.backend, "backend", lambda backend=backend: backend)
        assert training.default_steps_per_execution() == steps
