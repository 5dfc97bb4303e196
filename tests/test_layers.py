"""SimpleEmbedding: a lookup that gives exactly Keras's outputs; ScaledSigmoid; the NaN trap they guard against."""

import keras
import numpy as np
import pytest

from embedlib.layers import ScaledSigmoid, SimpleEmbedding


def test_simple_embedding_returns_the_rows_it_is_given():
    layer = SimpleEmbedding(4, 3)
    layer.build((None,))
    weights = np.arange(12, dtype="float32").reshape(4, 3)
    layer.set_weights([weights])
    out = np.asarray(layer(np.array([3, 0, 3, 1])))
    assert out.tolist() == [weights[3].tolist(), weights[0].tolist(), weights[3].tolist(), weights[1].tolist()]


def test_same_weights_give_exactly_keras_embeddings_outputs():
    ours, theirs = SimpleEmbedding(50, 8), keras.layers.Embedding(50, 8)
    ours.build((None,)), theirs.build((None,))
    weights = np.random.default_rng(0).normal(size=(50, 8)).astype("float32")
    ours.set_weights([weights]), theirs.set_weights([weights])
    idx = np.random.default_rng(1).integers(0, 50, size=(7, 5))
    assert np.array_equal(np.asarray(ours(idx)), np.asarray(theirs(idx)))
    assert ours.compute_output_shape((7, 5)) == (7, 5, 8)


def test_default_initialisation_is_symmetric_uniform():
    layer = SimpleEmbedding(2000, 16)
    layer.build((None,))
    w = np.asarray(layer.get_weights()[0])
    assert -0.05 <= w.min() < -0.04 and 0.04 < w.max() <= 0.05


def test_config_round_trip():
    layer = SimpleEmbedding(10, 4, embeddings_initializer=keras.initializers.RandomUniform(0, 0.05), name="e")
    clone = SimpleEmbedding.from_config(layer.get_config())
    assert (clone.input_dim, clone.output_dim, clone.name) == (10, 4, "e")
    assert clone.embeddings_initializer.get_config()["maxval"] == 0.05


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_sizes_are_named_in_the_error(bad):
    with pytest.raises(ValueError, match=rf"`output_dim` must be a positive integer. Received: output_dim={bad!r}"):
        SimpleEmbedding(10, bad)


def test_scaled_sigmoid_maps_into_the_range():
    layer = ScaledSigmoid(0.5, 5.0)
    out = np.asarray(layer(np.array([[-1e4], [0.0], [1e4]], dtype="float32"))).ravel()
    assert out.tolist() == pytest.approx([0.5, 2.75, 5.0])
    with pytest.raises(ValueError, match="`low` must be below `high`"):
        ScaledSigmoid(5, 1)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the silent NaN is a JAX-backend behaviour")
def test_jax_lookup_past_the_table_is_nan_not_an_error():
    # This is the trap embedlib's index checks exist for (see prepare.checked_inputs).
    layer = keras.layers.Embedding(5, 2)
    layer.build((None,))
    out = np.asarray(layer(np.array([4, 5])))
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all()
