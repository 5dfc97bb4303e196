"""Small serializable layers: the hand-written embedding lookup and the sigmoid scaled to a rating range."""

from __future__ import annotations

import keras
from keras import ops

from embedlib.checks import check_count

__all__ = ["ScaledSigmoid", "SimpleEmbedding"]


@keras.saving.register_keras_serializable(package="embedlib")
class SimpleEmbedding(keras.layers.Layer):
    """A do-it-yourself embedding: a weight matrix and a row lookup, nothing more.

    Gives exactly ``keras.layers.Embedding``'s outputs for the same weights. The default initialiser is Keras's
    ``"uniform"``, i.e. uniform in [-0.05, 0.05], like the layer in the 2018 tutorial.

    Args:
        input_dim: number of rows (ids 0 … input_dim - 1).
        output_dim: length of each embedding vector.
        embeddings_initializer: how the rows start out.
        embeddings_regularizer: an optional penalty on the weights (e.g. ``keras.regularizers.L2(1e-5)``).
    """

    def __init__(
        self, input_dim: int, output_dim: int, embeddings_initializer="uniform", embeddings_regularizer=None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.input_dim = check_count("input_dim", input_dim)
        self.output_dim = check_count("output_dim", output_dim)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)

    def build(self, input_shape) -> None:
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            name="embeddings",
        )

    def call(self, inputs):
        return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": keras.regularizers.serialize(self.embeddings_regularizer),
        }


@keras.saving.register_keras_serializable(package="embedlib")
class ScaledSigmoid(keras.layers.Layer):
    """``low + (high - low) * sigmoid(x)``: squashes a score into the rating range, with no Lambda layer."""

    def __init__(self, low: float, high: float, **kwargs) -> None:
        super().__init__(**kwargs)
        if not low < high:
            raise ValueError(f"`low` must be below `high`. Received: low={low!r}, high={high!r}.")
        self.low, self.high = float(low), float(high)

    def call(self, inputs):
        return self.low + (self.high - self.low) * ops.sigmoid(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "low": self.low, "high": self.high}
