"""Row-wise training for the course's models: update only the embedding rows a batch looked up. JAX only.

On the JAX backend, Keras differentiates an embedding lookup into a dense, table-sized gradient, and its optimizers
then update every row of every table at every step, although a batch of 32 ratings touches at most 32 users and 32
movies. ``fit_rowwise`` trains the same Keras model the sparse way, as Koren, Bell and Volinsky (2009) and
scikit-surprise do:

- per step, the batch's rows are gathered once from each table;
- the loss is differentiated with respect to those gathered rows, not the tables;
- the gradients of repeated ids are summed, and only those rows (and their optimizer state) are updated;
- a whole epoch (``jax.lax.scan`` over the minibatches) is compiled as one call.

The loss is per rating: ``½ (prediction − rating)² + ½ λ (‖u‖² + ‖m‖² + b_u² + b_m²)`` summed over the batch, so
the L2 penalty λ (``per_rating_weight_decay``) applies to the rows in the batch, once per rating they take part in
(scikit-surprise's ``reg_all``). The builders' ``weight_decay``, a Keras regulariser on whole tables, is not used here.

Optimizers:

- ``"sgd"``: ``row -= learning_rate * gradient`` (scikit-surprise's SVD update when ``batch_size=1``);
- ``"adagrad"``: Keras's Adagrad (accumulator starting at 0.1), per row;
- ``"adam"``: a *lazy* Adam, as TensorFlow's ``LazyAdam``: a row's moments are updated only in the steps that look
  it up, with the bias correction of the global step. Keras's dense Adam instead decays every row's moments at
  every step and keeps moving rows the batch did not touch along their old momentum. Both agree on rows that are
  looked up every step; lazy Adam is the one whose cost does not grow with the table.

The trained weights are written back into the model's own layers, so evaluation, ``embedlib.explore`` and saving
to ``.keras`` work unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pandas as pd

from embedlib.checks import check_count, check_non_negative, check_positive
from embedlib.prepare import Prepared

__all__ = ["DEFAULT_LEARNING_RATES", "OPTIMIZERS", "fit_rowwise"]

OPTIMIZERS = ("sgd", "adagrad", "adam")
DEFAULT_LEARNING_RATES = {"sgd": 0.005, "adagrad": 0.05, "adam": 1e-3}
SIMPLE_DOT_LAYERS = {"user", "movie", "user_embedding", "movie_embedding", "dot"}
DOT_WITH_BIAS_LAYERS = SIMPLE_DOT_LAYERS | {
    "user_dropout",
    "movie_dropout",
    "user_bias",
    "movie_bias",
    "score",
    "rating",
}
ADAM_BETA_1, ADAM_BETA_2, EPSILON, ADAGRAD_START = 0.9, 0.999, 1e-7, 0.1  # Keras's defaults


@dataclass(frozen=True)
class Structure:
    """What the row-wise path needs to know about a model, read from its layer names and configs."""

    biases: bool  # a user_bias and a movie_bias table besides the embeddings
    user_dropout: float = 0.0
    movie_dropout: float = 0.0
    rating_range: tuple[float, float] | None = None  # None: the output is the raw score


def read_structure(model: keras.Model) -> Structure:
    """The structure of a ``simple_dot`` or ``dot_with_bias`` model; anything else is refused."""
    names = {layer.name for layer in model.layers}
    if names == SIMPLE_DOT_LAYERS:
        return Structure(biases=False)
    if names == DOT_WITH_BIAS_LAYERS:
        rating = model.get_layer("rating").get_config()
        return Structure(
            biases=True,
            user_dropout=float(model.get_layer("user_dropout").get_config()["rate"]),
            movie_dropout=float(model.get_layer("movie_dropout").get_config()["rate"]),
            rating_range=(float(rating["low"]), float(rating["high"])),
        )
    raise ValueError(
        "fit_rowwise trains models built by embedlib.models.simple_dot or dot_with_bias. Received a model with "
        f"layers {sorted(names)}; expected {sorted(SIMPLE_DOT_LAYERS)} or {sorted(DOT_WITH_BIAS_LAYERS)}. Train "
        "other models with embedlib.training.fit."
    )


def _hash32(x):
    """A fast integer hash (Wellons's "lowbias32"): uniform 32-bit values from a counter, for dropout masks."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _dropout(x, rate: float, key):
    """Keras's (inverted) dropout: zero a fraction ``rate`` of the entries, scale the rest up by 1 / (1 - rate).

    ``key`` is a uint32 that differs per step and per table; the mask hashes it with each entry's position. This
    draws the same distribution as ``jax.random.bernoulli`` at a fraction of its cost, which at batch 32 was most of
    the epoch.
    """
    if not rate:
        return x
    counter = jnp.arange(x.size, dtype="uint32").reshape(x.shape)
    bits = _hash32(counter ^ _hash32(key))
    keep = bits >= jnp.uint32(min(int(rate * 2**32), 2**32 - 1))
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def _score(rows: dict, structure: Structure, key, training: bool):
    """The model's forward pass on gathered rows: dropout, dot, biases, scaled sigmoid.

    With biases, each row holds the embedding followed by the bias: one table, one gather and one update per id.
    """
    u, m = rows["user"], rows["movie"]
    if structure.biases:
        (u, bias_u), (m, bias_m) = (u[:, :-1], u[:, -1]), (m[:, :-1], m[:, -1])
    if training:
        u = _dropout(u, structure.user_dropout, key * jnp.uint32(2))
        m = _dropout(m, structure.movie_dropout, key * jnp.uint32(2) + jnp.uint32(1))
    score = jnp.sum(u * m, axis=-1)
    if structure.biases:
        score = score + bias_u + bias_m
    if structure.rating_range is not None:
        low, high = structure.rating_range
        score = low + (high - low) * jax.nn.sigmoid(score)
    return score


def _update_rows(table, state, ids, grads, step, optimizer: str, learning_rate: float):
    """Apply one optimizer step to the rows ``ids`` of ``table`` only; repeated ids have their gradients summed.

    ``ids`` is padded with ``len(table)`` (out of range): those slots are dropped by the scatters.
    """
    unique, inverse = jnp.unique(ids, size=ids.shape[0], fill_value=table.shape[0], return_inverse=True)
    g = jax.ops.segment_sum(grads, inverse.reshape(-1), num_segments=ids.shape[0])
    rows = table.at[unique].get(mode="fill", fill_value=0.0)
    if optimizer == "sgd":
        return table.at[unique].set(rows - learning_rate * g, mode="drop"), state
    if optimizer == "adagrad":
        acc = state["acc"].at[unique].get(mode="fill", fill_value=1.0) + g * g
        new_rows = rows - learning_rate * g / (jnp.sqrt(acc) + EPSILON)
        return table.at[unique].set(new_rows, mode="drop"), {"acc": state["acc"].at[unique].set(acc, mode="drop")}
    m = ADAM_BETA_1 * state["m"].at[unique].get(mode="fill", fill_value=0.0) + (1 - ADAM_BETA_1) * g
    v = ADAM_BETA_2 * state["v"].at[unique].get(mode="fill", fill_value=0.0) + (1 - ADAM_BETA_2) * g * g
    t = step.astype(table.dtype) + 1
    rate = learning_rate * jnp.sqrt(1 - ADAM_BETA_2**t) / (1 - ADAM_BETA_1**t)
    new_rows = rows - rate * m / (jnp.sqrt(v) + EPSILON)
    return table.at[unique].set(new_rows, mode="drop"), {
        "m": state["m"].at[unique].set(m, mode="drop"),
        "v": state["v"].at[unique].set(v, mode="drop"),
    }


def _initial_state(table, optimizer: str) -> dict:
    if optimizer == "sgd":
        return {}
    if optimizer == "adagrad":
        return {"acc": jnp.full_like(table, ADAGRAD_START)}
    return {"m": jnp.zeros_like(table), "v": jnp.zeros_like(table)}


@partial(
    jax.jit,
    static_argnames=("structure", "optimizer", "learning_rate", "weight_decay"),
    donate_argnames=("tables", "states"),
)
def _train_epoch(tables, states, step, key, batches, *, structure, optimizer, learning_rate, weight_decay):
    """One epoch as one compiled call: a scan over the minibatches in ``batches`` (user, movie, rating, weight)."""

    def loss_fn(rows, ids, ratings, weights, step_key):
        error = _score(rows, structure, step_key, training=True) - ratings
        penalty = sum(jnp.sum(r * r, axis=-1) for r in rows.values())
        loss = 0.5 * jnp.sum(weights * (error * error + weight_decay * penalty))
        return loss, jnp.sum(weights * error * error)

    def one_step(carry, batch):
        tables, states, step, sq_error = carry
        ids = {"user": batch[0], "movie": batch[1]}
        rows = {name: jnp.take(tables[name], ids[name], axis=0, mode="clip") for name in tables}
        grads, batch_sq_error = jax.grad(loss_fn, has_aux=True)(
            rows, ids, batch[2], batch[3], _hash32(key + step.astype("uint32"))
        )
        new_tables, new_states = {}, {}
        for name in tables:
            new_tables[name], new_states[name] = _update_rows(
                tables[name], states[name], ids[name], grads[name], step, optimizer, learning_rate
            )
        return (new_tables, new_states, step + 1, sq_error + batch_sq_error), None

    users, movies, ratings, weights = batches
    (tables, states, step, sq_error), _ = jax.lax.scan(
        one_step, (tables, states, step, jnp.zeros((), "float32")), (users, movies, ratings, weights)
    )
    return tables, states, step, sq_error / jnp.sum(weights)


@partial(jax.jit, static_argnames=("structure",))
def _predict(tables, users, movies, *, structure):
    ids = {"user": users, "movie": movies}
    rows = {name: jnp.take(tables[name], ids[name], axis=0) for name in tables}
    return _score(rows, structure, None, training=False)


def _batches(users, movies, ratings, batch_size: int, rng: np.random.Generator, user_rows: int, movie_rows: int):
    """Shuffled minibatches as (n_batches, batch_size) arrays; the last one padded with out-of-range ids, weight 0."""
    order = rng.permutation(len(ratings))
    n_batches = -(-len(ratings) // batch_size)
    pad = n_batches * batch_size - len(ratings)

    def padded(values, fill, dtype):
        return np.concatenate([values[order], np.full(pad, fill, dtype)]).astype(dtype).reshape(n_batches, -1)

    return (
        padded(users, user_rows, "int32"),
        padded(movies, movie_rows, "int32"),
        padded(ratings, 0.0, "float32"),
        padded(np.ones(len(ratings), "float32"), 0.0, "float32"),
    )


def _check(
    optimizer: str, epochs: int, batch_size: int, patience: int, learning_rate: float, per_rating_weight_decay: float
) -> None:
    if keras.backend.backend() != "jax":
        raise RuntimeError(
            f"fit_rowwise needs the JAX backend; Keras is running on {keras.backend.backend()!r}. Set "
            "KERAS_BACKEND=jax before importing Keras, or train with embedlib.training.fit (any backend)."
        )
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"`optimizer` must be one of {', '.join(OPTIMIZERS)}. Received: optimizer={optimizer!r}.")
    check_count("epochs", epochs)
    check_count("batch_size", batch_size)
    check_count("patience", patience, at_least=0)
    check_positive("learning_rate", learning_rate)
    check_non_negative("per_rating_weight_decay", per_rating_weight_decay)


def fit_rowwise(
    model: keras.Model,
    prep: Prepared,
    *,
    optimizer: str = "adam",
    learning_rate: float | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    per_rating_weight_decay: float = 0.0,
    patience: int = 2,
    seed: int = 42,
    verbose: bool = True,
) -> pd.DataFrame:
    """Train a ``simple_dot`` or ``dot_with_bias`` model in place, updating only the rows each batch looks up.

    JAX backend only (raises ``RuntimeError`` on others). Starts from the model's current weights, stops early on
    validation loss after ``patience`` epochs without improvement and keeps the best epoch's weights.

    Args:
        optimizer: ``"sgd"``, ``"adagrad"`` or ``"adam"`` (lazy Adam; see the module docstring).
        learning_rate: defaults to ``DEFAULT_LEARNING_RATES[optimizer]`` (0.005 for SGD as in scikit-surprise).
        per_rating_weight_decay: L2 penalty on the rows in the batch, once per rating they take part in
            (scikit-surprise's ``reg_all``, 0.02 by default there); not the builders' whole-table ``weight_decay``.
        seed: seeds the shuffling and the dropout masks.

    Returns:
        The history as ``embedlib.training.fit`` gives it: one row per epoch with ``epoch``, ``loss``, ``rmse``,
        ``val_loss``, ``val_rmse``. ``loss`` is the training MSE (with dropout, without the L2 term). The wall
        time of each epoch is in ``history.attrs["epoch_seconds"]``.
    """
    learning_rate = DEFAULT_LEARNING_RATES.get(optimizer) if learning_rate is None else learning_rate
    _check(optimizer, epochs, batch_size, patience, learning_rate, per_rating_weight_decay)
    structure = read_structure(model)
    layers = {who: [f"{who}_embedding", *([f"{who}_bias"] if structure.biases else [])] for who in ("user", "movie")}
    tables = {
        who: jnp.concatenate([keras.ops.convert_to_numpy(model.get_layer(n).embeddings) for n in names], axis=1)
        for who, names in layers.items()
    }
    states = {name: _initial_state(table, optimizer) for name, table in tables.items()}
    train, valid = prep.inputs(prep.train), prep.inputs(prep.valid)
    train_y, valid_y = prep.targets(prep.train).reshape(-1), prep.targets(prep.valid).reshape(-1)
    rng, key, step = np.random.default_rng(seed), _hash32(jnp.uint32(seed % 2**32)), jnp.zeros((), "int32")
    options = {"structure": structure, "optimizer": optimizer, "learning_rate": float(learning_rate),
               "weight_decay": float(per_rating_weight_decay)}  # fmt: skip

    history, seconds, best_loss, waited = [], [], np.inf, 0
    best = {who: np.array(t) for who, t in tables.items()}
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        batches = _batches(
            train["user"], train["movie"], train_y, batch_size, rng, prep.users.n_rows, prep.movies.n_rows
        )
        tables, states, step, train_mse = _train_epoch(tables, states, step, key, batches, **options)
        predicted = _predict(tables, valid["user"], valid["movie"], structure=structure)
        val_mse = float(jnp.mean((predicted - valid_y) ** 2))
        train_mse = float(train_mse)
        history.append(
            {"epoch": epoch, "loss": train_mse, "rmse": train_mse**0.5, "val_loss": val_mse, "val_rmse": val_mse**0.5}
        )
        seconds.append(time.perf_counter() - start)
        if verbose:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in history[-1].items() if k != "epoch")
            print(f"epoch {epoch:>2}/{epochs}  {shown}  ({seconds[-1]:.2f} s)")
        if val_mse < best_loss:
            # a copy: the next epoch updates the tables in place (their buffers are donated to it)
            best, best_loss, waited = {who: np.array(t) for who, t in tables.items()}, val_mse, 0
        else:
            waited += 1
            if waited >= patience:  # as keras.callbacks.EarlyStopping counts
                break
    for who, names in layers.items():
        columns = best[who]
        model.get_layer(names[0]).embeddings.assign(columns[:, : columns.shape[1] - len(names) + 1])
        if structure.biases:
            model.get_layer(names[1]).embeddings.assign(columns[:, -1:])
    frame = pd.DataFrame(history)
    frame.attrs["epoch_seconds"] = seconds
    return frame
