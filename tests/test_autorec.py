"""I-AutoRec: the observed-only loss by hand, the columns it trains on, unseen movies, saving in safe mode."""

import keras
import numpy as np
import pytest

from embedlib import autorec, baselines, training


def test_observed_mse_counts_only_observed_entries_weighing_each_rating_the_same():
    y_true = np.array([[1.0, np.nan, np.nan], [np.nan, 3.0, 2.0]], dtype="float32")
    y_pred = np.array([[0.0, 9.0, 9.0], [9.0, 1.0, 2.0]], dtype="float32")
    loss = float(np.asarray(autorec.ObservedMSE()(y_true, y_pred)))
    assert loss == pytest.approx((1.0 + 4.0 + 0.0) / 3)  # not the mean of the rows' means (1 and 2)


def test_observed_mse_gives_finite_gradients_where_targets_are_missing():
    model = autorec.autorec(4, hidden_units=2, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=autorec.ObservedMSE())
    x = np.random.default_rng(0).uniform(size=(6, 5)).astype("float32")
    y = np.where(x > 0.5, x, np.nan).astype("float32")
    model.fit(x, y, epochs=1, batch_size=6, verbose=0)
    assert all(np.isfinite(np.asarray(w)).all() for w in model.get_weights())


@pytest.fixture
def prepared(tiny_synthetic):
    return tiny_synthetic[1]


def test_rating_columns_put_each_rating_at_its_movie_and_user(prepared):
    columns = autorec.rating_columns(prepared, prepared.train, baseline=None)
    assert columns.shape == (prepared.movies.n_rows, prepared.users.n_rows)
    row = prepared.train.iloc[0]
    movie, user = int(row["movie"]), int(row["user"])
    assert columns[movie, user] == row["rating"]
    assert np.isnan(columns).sum() == columns.size - len(prepared.train)
    biases = baselines.BiasBaseline().fit(prepared)
    residuals = autorec.rating_columns(prepared, prepared.train, baseline=biases, missing=0.0)
    expected = row["rating"] - biases.predict(prepared.train.iloc[:1])[0]
    assert residuals[movie, user] == pytest.approx(expected, rel=1e-6)


def test_rating_columns_refuse_a_matrix_too_big_to_build(prepared, monkeypatch):
    monkeypatch.setattr(autorec, "MAX_ENTRIES", 100)
    with pytest.raises(ValueError, match="more than embedlib builds as dense arrays.*Use a smaller dataset"):
        autorec.rating_columns(prepared, prepared.train, baseline=None)


def test_fit_learns_and_an_unseen_movie_gets_the_baselines_prediction(prepared):
    biases = baselines.BiasBaseline().fit(prepared)
    model = autorec.autorec(prepared.n_users, hidden_units=8, dropout=0.2, seed=1)
    history = autorec.fit_autorec(model, prepared, baseline=biases, epochs=8, batch_size=64, learning_rate=0.01,
                                  seed=1, verbose=False)  # fmt: skip
    assert list(history.columns) == ["epoch", "loss", "rmse", "val_loss", "val_rmse"]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    unseen = prepared.valid[~prepared.valid["movie"].isin(prepared.train["movie"])]
    assert len(unseen) > 0
    predicted = autorec.predict_autorec(model, prepared, unseen, baseline=biases)
    assert predicted == pytest.approx(np.clip(biases.predict(unseen), *prepared.rating_range))
    known = prepared.valid[prepared.valid["movie"].isin(prepared.train["movie"])]
    rmse = training.rmse(known["rating"].to_numpy(), autorec.predict_autorec(model, prepared, known, baseline=biases))
    # The validation RMSE that early stopping watched is exactly this RMSE (the best epoch's weights are kept) ...
    assert history["val_rmse"].min() == pytest.approx(rmse, rel=1e-4)
    # ... and the model learned something the biases did not (synthetic ratings have planted factors).
    assert rmse < biases.rmse(prepared, known) - 0.01


def test_every_entry_training_counts_missing_ratings_as_zero_and_without_a_baseline_unseen_get_the_mean(prepared):
    model = autorec.autorec(prepared.n_users, hidden_units=4, activation="linear", seed=0)
    history = autorec.fit_autorec(model, prepared, baseline=None, observed_only=False, epochs=2, batch_size=128,
                                  seed=0, verbose=False)  # fmt: skip
    # Raw ratings with the missing ones as 0: the training loss is dominated by zeros, far below a rating's square.
    assert history["loss"].iloc[-1] < 1.0 < history["val_rmse"].iloc[-1] ** 2
    unseen = prepared.valid[~prepared.valid["movie"].isin(prepared.train["movie"])]
    expected = np.full(len(unseen), np.clip(prepared.train["rating"].mean(), *prepared.rating_range))
    assert autorec.predict_autorec(model, prepared, unseen, baseline=None) == pytest.approx(expected)


def test_observed_rmse_is_the_rmse_of_every_observed_entry_across_batches():
    metric = autorec.ObservedRMSE()
    batches = [([[1.0, np.nan]], [[0.0, 7.0]]), ([[np.nan, np.nan]], [[5.0, 5.0]]), ([[3.0, 3.0]], [[3.0, 6.0]])]
    for y_true, y_pred in batches:  # one rating (error 1), a batch with nothing observed, two (errors 0 and 3)
        metric.update_state(np.array(y_true, dtype="float32"), np.array(y_pred, dtype="float32"))
    assert float(metric.result()) == pytest.approx(np.sqrt((1 + 0 + 9) / 3))


def test_predict_from_columns_reads_the_output_and_clips(prepared):
    known = prepared.train.iloc[:2]
    output = np.zeros((prepared.movies.n_rows, prepared.users.n_rows))
    output[known["movie"].iloc[0], known["user"].iloc[0]] = 100.0
    predicted = autorec.predict_from_columns(prepared, known, output, baseline=None)
    assert predicted[0] == prepared.rating_range[1] and predicted[1] == pytest.approx(0.0 + prepared.rating_range[0])
    with pytest.raises(ValueError, match="`output` must be movies × users"):
        autorec.predict_from_columns(prepared, known, output.T, baseline=None)


def test_movie_codes_are_indexed_by_raw_movie_id(prepared):
    model = autorec.autorec(prepared.n_users, hidden_units=3, seed=0)
    ids = prepared.movies.ids[[0, 5]]
    codes = autorec.movie_codes(model, prepared, ids, baseline=None)
    assert codes.shape == (2, 3) and codes.index.tolist() == ids.tolist()
    assert np.array_equal(codes.to_numpy(), autorec.movie_codes(model, prepared, baseline=None).loc[ids].to_numpy())


def test_autorec_saves_and_loads_in_safe_mode_with_its_loss(tmp_path):
    model = autorec.autorec(5, hidden_units=3, activation="linear", dropout=0.5, weight_decay=1e-3, seed=0)
    model.compile(optimizer="adam", loss=autorec.ObservedMSE())
    x = np.random.default_rng(0).uniform(size=(4, 6)).astype("float32")
    model.fit(x, np.where(x > 0.5, x, np.nan), epochs=1, verbose=0)  # the optimizer's state is saved too
    model.save(tmp_path / "autorec.keras")
    loaded = keras.saving.load_model(tmp_path / "autorec.keras", safe_mode=True)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in loaded.layers)
    assert np.array_equal(np.asarray(model.predict(x, verbose=0)), np.asarray(loaded.predict(x, verbose=0)))
    assert isinstance(loaded.loss, autorec.ObservedMSE)
    assert isinstance(autorec.ObservedMSE.from_config(autorec.ObservedMSE().get_config()), autorec.ObservedMSE)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`hidden_units` must be a positive integer"):
        autorec.autorec(5, hidden_units=0)
    with pytest.raises(ValueError, match=r"`dropout` must be in \[0, 1\)"):
        autorec.autorec(5, dropout=1.0)
    with pytest.raises(ValueError, match="`weight_decay` must be zero or a positive number"):
        autorec.autorec(5, weight_decay=-1.0)
