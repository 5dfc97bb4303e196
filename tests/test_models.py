"""The two builders: values, not only shapes; range of the bias model; save and load in safe mode."""

import keras
import numpy as np
import pytest

from embedlib.layers import SimpleEmbedding
from embedlib.models import biases_only, dot_with_bias, mlp, one_hot_dot, simple_dot


def set_tables(model, **tables):
    for name, weights in tables.items():
        model.get_layer(name).set_weights([np.asarray(weights, dtype="float32")])


def test_simple_dot_is_a_per_row_dot_product():
    model = simple_dot(n_users=2, n_movies=3, embedding_dim=2)
    users = np.array([[0, 0], [1, 2], [3, -1]])
    movies = np.array([[0, 0], [1, 1], [2, 0], [0, 5]])
    set_tables(model, user_embedding=users, movie_embedding=movies)
    out = np.asarray(model.predict({"user": np.array([1, 2, 2]), "movie": np.array([1, 2, 3])}, verbose=0))
    # 1·1+2·1 = 3, 3·2+(-1)·0 = 6, 3·0+(-1)·5 = -5: one value per row, never summed over the batch.
    assert out.shape == (3, 1) and out.ravel().tolist() == [3.0, 6.0, -5.0]


def test_dot_with_bias_adds_biases_then_squashes_into_the_range():
    model = dot_with_bias(n_users=1, n_movies=1, embedding_dim=1, rating_range=(1.0, 5.0))
    set_tables(
        model,
        user_embedding=[[0], [2]],
        movie_embedding=[[0], [0.5]],
        user_bias=[[0], [-0.5]],
        movie_bias=[[0], [0.25]],
    )
    out = float(np.asarray(model.predict({"user": np.array([1]), "movie": np.array([1])}, verbose=0))[0, 0])
    score = 2 * 0.5 - 0.5 + 0.25
    assert out == pytest.approx(1.0 + 4.0 / (1 + np.exp(-score)), rel=1e-6)


def test_initialisation_range_and_table_sizes():
    model = simple_dot(n_users=10, n_movies=20, embedding_dim=4, seed=0)
    movie_table = model.get_layer("movie_embedding").get_weights()[0]
    assert movie_table.shape == (21, 4) and model.get_layer("user_embedding").get_weights()[0].shape == (11, 4)
    assert 0.0 <= movie_table.min() and movie_table.max() <= 0.05


def test_seeded_builders_are_reproducible():
    a = simple_dot(10, 20, seed=3).get_layer("movie_embedding").get_weights()[0]
    b = simple_dot(10, 20, seed=3).get_layer("movie_embedding").get_weights()[0]
    assert np.array_equal(a, b)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`embedding_dim` must be a positive integer. Received: embedding_dim=0"):
        simple_dot(10, 10, embedding_dim=0)
    with pytest.raises(ValueError, match=r"`movie_dropout` must be in \[0, 1\). Received: movie_dropout=1.5"):
        dot_with_bias(10, 10, movie_dropout=1.5)


@pytest.mark.parametrize(
    "build",
    [
        lambda: simple_dot(5, 7, embedding_dim=3, seed=1),
        lambda: dot_with_bias(5, 7, embedding_dim=3, seed=1),
        lambda: simple_dot(5, 7, embedding_dim=3, embedding_layer=SimpleEmbedding, seed=1),
        lambda: dot_with_bias(5, 7, embedding_dim=3, embedding_layer=SimpleEmbedding, seed=1),
        lambda: dot_with_bias(5, 7, embedding_dim=3, weight_decay=1e-4, seed=1),
        lambda: dot_with_bias(5, 7, embedding_dim=3, embedding_layer=SimpleEmbedding, weight_decay=1e-4, seed=1),
        lambda: biases_only(5, 7, weight_decay=1e-4, seed=1),
        lambda: mlp(5, 7, embedding_dim=3, hidden_units=(4, 2), dropout=0.2, weight_decay=1e-4, seed=1),
        lambda: one_hot_dot(5, 7, embedding_dim=3, seed=1),
    ],
    ids=[
        "dot",
        "bias",
        "dot-diy",
        "bias-diy",
        "bias-weight-decay",
        "bias-diy-weight-decay",
        "biases-only",
        "mlp",
        "one-hot",
    ],
)
def test_models_save_and_load_in_safe_mode(tmp_path, build):
    model = build()
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)
    inputs = {"user": np.array([1, 5, 0]), "movie": np.array([7, 1, 3])}
    before = np.asarray(model.predict(inputs, verbose=0))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert np.array_equal(before, np.asarray(loaded.predict(inputs, verbose=0)))


@pytest.mark.parametrize("layer", [keras.layers.Embedding, SimpleEmbedding])
def test_l2_penalty_enters_the_loss_for_both_layer_classes(layer):
    plain = dot_with_bias(5, 7, embedding_dim=3, embedding_layer=layer, seed=1)
    penalised = dot_with_bias(5, 7, embedding_dim=3, embedding_layer=layer, weight_decay=0.5, seed=1)
    inputs = {"user": np.array([1]), "movie": np.array([2])}
    plain(inputs), penalised(inputs)
    assert not plain.losses and len(penalised.losses) == 2
    table = penalised.get_layer("movie_embedding").get_weights()[0]
    movie_penalty = min(float(np.asarray(loss)) for loss in penalised.losses)
    assert movie_penalty > 0 and float(np.asarray(sum(penalised.losses))) == pytest.approx(
        0.5 * (np.sum(table**2) + np.sum(penalised.get_layer("user_embedding").get_weights()[0] ** 2)), rel=1e-5
    )


def test_one_hot_dot_gives_exactly_the_lookups_outputs_for_the_same_weights():
    lookup = simple_dot(6, 9, embedding_dim=4, init_range=(-1.0, 1.0), seed=3)
    long_way = one_hot_dot(6, 9, embedding_dim=4, seed=7)
    long_way.get_layer("user_weights").set_weights(lookup.get_layer("user_embedding").get_weights())
    long_way.get_layer("movie_weights").set_weights(lookup.get_layer("movie_embedding").get_weights())
    inputs = {"user": np.array([0, 1, 6, 3, 6]), "movie": np.array([9, 2, 0, 5, 9])}
    expected = np.asarray(lookup.predict(inputs, verbose=0))
    assert np.array_equal(np.asarray(long_way.predict(inputs, verbose=0)), expected)
    assert np.abs(expected).max() > 0.1  # real numbers, not zeros compared with zeros


def test_biases_only_is_a_sum_of_two_biases_through_the_scaled_sigmoid():
    model = biases_only(n_users=2, n_movies=1, rating_range=(1.0, 5.0))
    set_tables(model, user_bias=[[0], [0.5], [-1.0]], movie_bias=[[0], [0.25]])
    out = np.asarray(model.predict({"user": np.array([1, 2]), "movie": np.array([1, 1])}, verbose=0)).ravel()
    expected = [1.0 + 4.0 / (1 + np.exp(-score)) for score in (0.75, -0.75)]
    assert out == pytest.approx(expected, rel=1e-6)
    assert {layer.name for layer in model.layers} >= {"user_bias", "movie_bias"}


def test_mlp_concatenates_the_vectors_and_stays_in_the_rating_range():
    model = mlp(4, 5, embedding_dim=3, hidden_units=(6,), rating_range=(0.5, 5.0), seed=2)
    assert model.get_layer("hidden_1").kernel.shape == (6, 6)  # user and movie vectors side by side
    set_tables(model, movie_embedding=np.full((6, 3), 50.0))
    out = np.asarray(model.predict({"user": np.arange(5), "movie": np.arange(5)}, verbose=0))
    assert out.shape == (5, 1) and 0.5 <= out.min() and out.max() <= 5.0
    first, second = (mlp(4, 5, hidden_units=(6,), seed=2).get_layer("hidden_1").get_weights()[0] for _ in range(2))
    assert np.array_equal(first, second)


def test_new_builders_name_their_bad_arguments():
    with pytest.raises(ValueError, match="`hidden_units` must be a positive integer. Received: hidden_units=0"):
        mlp(3, 3, hidden_units=(4, 0))
    with pytest.raises(ValueError, match=r"`dropout` must be in \[0, 1\). Received: dropout=1.0"):
        mlp(3, 3, dropout=1.0)
    with pytest.raises(ValueError, match="`n_movies` must be a positive integer"):
        biases_only(3, 0)
    assert mlp(3, 3, hidden_units=5).get_layer("hidden_1").units == 5  # one number: one layer
