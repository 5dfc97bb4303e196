"""From scores to top-10 lists, judged as the field judges recommenders: a split by time, the whole catalogue.

The protocol (lesson 7): each user's ratings sorted by time, the first 80% (rounded up) to train on and the rest
held out; held-out movies that never occur in training are dropped (no model can recommend them). Every training
movie the user has not rated is a candidate. NDCG@k and recall@k are averaged over users with at least one relevant
movie; coverage is the share of the catalogue that appears in anyone's top k.

The metrics are NumPy on the top-k lists: one top-k per user serves every metric and both relevance variants, and
memory stays at a batch of users × the catalogue. keras-rs's ranking metrics (``keras_rs.metrics.NDCG``,
``RecallAtK``) take every candidate's score and label for each list, 9,742 per user here and 62,000 on ml-25m, so
they serve as the reference the tests check these functions against rather than as the implementation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from embedlib.checks import check_count
from embedlib.data import Dataset
from embedlib.dataset import RatingScale
from embedlib.prepare import IdEncoder, Prepared, train_valid_split

__all__ = [
    "RankingSplit",
    "Scorer",
    "best_k",
    "chronological_split",
    "coverage",
    "evaluate",
    "factor_scorer",
    "model_scorer",
    "ndcg_at_k",
    "paired_difference",
    "per_user_ndcg",
    "popularity_scorer",
    "random_ranking_split",
    "ranking_split",
    "recall_at_k",
    "same_for_everyone",
    "top_k",
    "users_by_history",
]

# Scores for a batch of users (dense user indices): an array of shape (len(users), movie table rows).
Scorer = Callable[[np.ndarray], np.ndarray]


def chronological_split(ratings: pd.DataFrame, *, train_frac: float = 0.8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's ratings sorted by time (ties by movieId): the first ``train_frac`` (rounded up) train, the rest test.

    Rounding up keeps at least one training rating for every user, so every test user has a history.
    """
    if not 0.0 < train_frac < 1.0:
        raise ValueError(f"`train_frac` must be between 0 and 1 (exclusive). Received: train_frac={train_frac!r}.")
    ordered = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    position = ordered.groupby("userId").cumcount().to_numpy()
    size = ordered.groupby("userId")["movieId"].transform("size").to_numpy()
    in_train = position < np.ceil(train_frac * size - 1e-9)
    return ordered[in_train].reset_index(drop=True), ordered[~in_train].reset_index(drop=True)


@dataclass
class RankingSplit:
    """Training and held-out ratings, encoded: users over all users, movies over the training catalogue only.

    ``dropped_rows`` and ``dropped_movies`` count the held-out ratings (and their movies) that were removed because
    the movie (or, on a random split, the user) never occurs in training.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    users: IdEncoder
    movies: IdEncoder
    scale: RatingScale
    dropped_rows: int = 0
    dropped_movies: int = 0

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_movies(self) -> int:
        return len(self.movies)

    def _matrix(self, frame: pd.DataFrame) -> sparse.csr_matrix:
        ones = np.ones(len(frame), dtype="float32")
        shape = (self.users.n_rows, self.movies.n_rows)
        matrix = sparse.csr_matrix((ones, (frame["user"].to_numpy(), frame["movie"].to_numpy())), shape=shape)
        matrix.data[:] = 1.0  # a movie rated twice by one user counts once
        return matrix

    def seen(self) -> sparse.csr_matrix:
        """Users × movies (table rows, row and column 0 reserved): 1 where the user rated the movie in training."""
        return self._matrix(self.train)

    def relevant(self, *, min_rating: float | None = None) -> sparse.csr_matrix:
        """Users × movies: 1 for each held-out movie (rated at least ``min_rating``, if given)."""
        test = self.test if min_rating is None else self.test[self.test["rating"] >= min_rating]
        return self._matrix(test)

    def movie_counts(self) -> np.ndarray:
        """How many training ratings each movie row has (row 0: none)."""
        return np.bincount(self.train["movie"].to_numpy(), minlength=self.movies.n_rows)

    def prepared(self, *, valid_frac: float = 0.1, seed: int = 42) -> Prepared:
        """The training rows as a ``Prepared`` for the rating models: a random ``valid_frac`` of them for early stopping
        (0: none, every training row trains), the held-out ratings as its test set."""
        if valid_frac == 0:
            return Prepared(self.train, self.train.iloc[:0], self.users, self.movies, self.scale, self.test)
        train, valid = train_valid_split(self.train, valid_frac=valid_frac, seed=seed)
        return Prepared(train, valid, self.users, self.movies, self.scale, self.test)


def ranking_split(data: Dataset, *, train_frac: float = 0.8) -> RankingSplit:
    """The lesson's protocol: ``chronological_split`` of ``data.ratings``, encoded, unknown held-out movies dropped."""
    train, test = chronological_split(data.ratings, train_frac=train_frac)
    return _split_from(train, test, data)


def random_ranking_split(data: Dataset, *, train_frac: float = 0.8, seed: int = 42) -> RankingSplit:
    """The same protocol on a random split that ignores time: to measure how much a random split flatters a model."""
    train, test = train_valid_split(data.ratings, valid_frac=1.0 - train_frac, seed=seed)
    return _split_from(train, test, data)


def _split_from(train: pd.DataFrame, test: pd.DataFrame, data: Dataset) -> RankingSplit:
    known = test["movieId"].isin(train["movieId"]) & test["userId"].isin(train["userId"])
    users = IdEncoder(train["userId"], "userId")
    movies = IdEncoder(train["movieId"], "movieId")

    def encode(frame: pd.DataFrame) -> pd.DataFrame:
        encoded = frame.assign(user=users.encode(frame["userId"]), movie=movies.encode(frame["movieId"]))
        return encoded.reset_index(drop=True)

    return RankingSplit(
        encode(train),
        encode(test[known]),
        users,
        movies,
        data.scale,
        dropped_rows=int((~known).sum()),
        dropped_movies=int(test.loc[~known, "movieId"].nunique()),
    )


def same_for_everyone(movie_scores: np.ndarray) -> Scorer:
    """One score per movie row, the same list for every user (a user's own seen movies are still removed)."""
    scores = np.asarray(movie_scores, dtype="float64").reshape(-1)
    return lambda users: np.broadcast_to(scores, (len(users), len(scores)))


def popularity_scorer(split: RankingSplit) -> Scorer:
    """Score every movie by its number of training ratings: the floor every recommender must beat."""
    return same_for_everyone(split.movie_counts())


def factor_scorer(user_vectors: np.ndarray, movie_vectors: np.ndarray, movie_bias: np.ndarray | None = None) -> Scorer:
    """Score = user vector · movie vector (+ movie bias), for tables indexed by dense ids (row 0 reserved).

    A user's own bias and a monotonic output (a sigmoid) do not change the order of one user's list, so they are
    left out.
    """
    users_table = np.asarray(user_vectors, dtype="float32")
    movies_t = np.asarray(movie_vectors, dtype="float32").T
    bias = None if movie_bias is None else np.asarray(movie_bias, dtype="float32").reshape(1, -1)

    def score(users: np.ndarray) -> np.ndarray:
        scores = users_table[users] @ movies_t
        return scores if bias is None else scores + bias

    return score


def model_scorer(model) -> Scorer:
    """A ``factor_scorer`` from a Keras model with ``user_embedding`` and ``movie_embedding`` layers (and, if it has
    one, ``movie_bias``): every embedding model of the course."""
    names = {layer.name for layer in model.layers}
    missing = {"user_embedding", "movie_embedding"} - names
    if missing:
        raise ValueError(
            f"`model` has no layer named {', '.join(sorted(missing))}: model_scorer reads the course's embedding "
            f"models (simple_dot, dot_with_bias, the implicit model). Its layers: {', '.join(sorted(names))}."
        )
    user = np.asarray(model.get_layer("user_embedding").get_weights()[0])
    movie = np.asarray(model.get_layer("movie_embedding").get_weights()[0])
    bias = np.asarray(model.get_layer("movie_bias").get_weights()[0]) if "movie_bias" in names else None
    return factor_scorer(user, movie, bias)


def prediction_scorer(model, movie_rows: int, *, batch_size: int = 16_384) -> Scorer:
    """Score all ``movie_rows`` movie rows for each user with ``model.predict`` on every (user, movie) pair: for
    models whose score is not a dot product of two tables, such as ``models.mlp``. Slower than ``model_scorer`` by
    the size of the network, and exactly as good."""
    check_count("movie_rows", movie_rows)
    check_count("batch_size", batch_size)
    names = {layer.name for layer in model.layers}
    table_rows = model.get_layer("movie_embedding").input_dim if "movie_embedding" in names else None
    if table_rows is not None and movie_rows > table_rows:  # on JAX, a lookup past the table gives NaN silently
        raise ValueError(f"`movie_rows` ({movie_rows}) is more than the model's movie table has ({table_rows}).")

    def score(users: np.ndarray) -> np.ndarray:
        pairs = {"user": np.repeat(np.asarray(users, dtype="int32"), movie_rows),
                 "movie": np.tile(np.arange(movie_rows, dtype="int32"), len(users))}  # fmt: skip
        return np.asarray(model.predict(pairs, batch_size=batch_size, verbose=0)).reshape(len(users), movie_rows)

    return score


def best_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` largest scores, best first; equal scores in order of column index.

    Linear in the row length (no full sort): the ``k``-th largest value is found by partitioning, everything above
    it is kept, and the ties at it are filled in from the lowest column up.
    """
    threshold = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    above = scores > threshold
    at = scores == threshold
    room = k - above.sum(axis=1, keepdims=True)
    chosen = above | (at & (np.cumsum(at, axis=1) <= room))
    _, columns = np.nonzero(chosen)  # row-major: k columns per row, in increasing column order
    columns = columns.reshape(len(scores), k)
    order = np.argsort(-np.take_along_axis(scores, columns, axis=1), axis=1, kind="stable")
    return np.take_along_axis(columns, order, axis=1)


def top_k(
    scorer: Scorer, seen: sparse.csr_matrix, *, k: int = 10, users: np.ndarray | None = None, batch_size: int = 256
) -> np.ndarray:
    """The ``k`` best-scored movie rows for each user, best first, never a movie the user has seen (nor row 0).

    Equal scores are ranked by movie row, lowest first, so a list never depends on the order the computer happened
    to visit them (popularity counts tie often). Users are scored ``batch_size`` at a time, so memory stays at
    ``batch_size`` × movies scores whatever the number of users. ``users`` defaults to every user row (1 … n); the
    result has one row per user asked for. A user with fewer than ``k`` unseen movies would get seen ones (or row 0)
    at the end of the list; that cannot happen on MovieLens, where the catalogue dwarfs any user's history.
    """
    check_count("k", k)
    check_count("batch_size", batch_size)
    n_rows = seen.shape[1]
    if k > n_rows - 1:
        raise ValueError(f"`k` must be at most the number of movies ({n_rows - 1}). Received: k={k}.")
    users = np.arange(1, seen.shape[0]) if users is None else np.asarray(users)
    out = np.empty((len(users), k), dtype="int64")
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        scores = np.array(scorer(batch), dtype="float64")  # a copy: the mask below must not touch the scorer's data
        if scores.shape != (len(batch), n_rows):
            raise ValueError(
                f"The scorer returned shape {scores.shape} for {len(batch)} users; expected {(len(batch), n_rows)} "
                "(one score per movie table row)."
            )
        scores[:, 0] = -np.inf
        rows = seen[batch]
        scores[np.repeat(np.arange(len(batch)), np.diff(rows.indptr)), rows.indices] = -np.inf
        out[start : start + len(batch)] = best_k(scores, k)
    return out


def _hits(top: np.ndarray, relevant: sparse.csr_matrix, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rel = relevant[users]
    hits = np.asarray(rel[np.arange(len(users))[:, None], top].todense()) > 0
    return hits, np.diff(rel.indptr)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(top: np.ndarray, relevant: sparse.csr_matrix, users: np.ndarray) -> np.ndarray:
    """NDCG@k of each user's list (``top[i]`` is user ``users[i]``'s): binary gain, log2 discount, ideal DCG over
    min(|relevant|, k) items. NaN for a user with nothing relevant."""
    k = top.shape[1]
    hits, n_relevant = _hits(top, relevant, users)
    ideal = np.concatenate([[0.0], np.cumsum(_discounts(k))])[np.minimum(n_relevant, k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, hits @ _discounts(k) / ideal, np.nan)


def recall_at_k(top: np.ndarray, relevant: sparse.csr_matrix, users: np.ndarray) -> np.ndarray:
    """Hits in each user's top k divided by min(|relevant|, k): "truncated" recall (Liang et al., 2018), which a
    perfect list always scores 1 on. keras-rs and many papers divide by |relevant| instead. NaN for a user with
    nothing relevant."""
    k = top.shape[1]
    hits, n_relevant = _hits(top, relevant, users)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, hits.sum(axis=1) / np.minimum(n_relevant, k), np.nan)


def coverage(top: np.ndarray, n_movies: int) -> float:
    """The share of the ``n_movies`` catalogue that appears in at least one list."""
    return len(np.unique(top)) / n_movies


def evaluate(
    scorer: Scorer, split: RankingSplit, *, k: int = 10, min_rating: float | None = None, batch_size: int = 256
) -> dict[str, float]:
    """NDCG@k, recall@k (averaged over users with at least one relevant held-out movie) and catalogue coverage.

    ``min_rating`` counts only held-out movies rated at least that as relevant (e.g. 4); coverage is over the lists
    of the same users.
    """
    relevant = split.relevant(min_rating=min_rating)
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    if len(users) == 0:
        raise ValueError("No user has a relevant held-out movie: there is nothing to evaluate.")
    top = top_k(scorer, split.seen(), k=k, users=users, batch_size=batch_size)
    return {
        f"ndcg@{k}": float(np.mean(ndcg_at_k(top, relevant, users))),
        f"recall@{k}": float(np.mean(recall_at_k(top, relevant, users))),
        "coverage": coverage(top, split.n_movies),
        "users": len(users),
    }


def paired_difference(
    a: np.ndarray, b: np.ndarray, *, level: float = 0.95, n_resamples: int = 2000, seed: int = 42
) -> dict[str, float]:
    """Mean of ``a - b`` over users (per-user scores of two models on the same users) with a bootstrap confidence
    interval: the noise from which users happen to be in the test set, which seeds alone do not show."""
    import inspect

    from scipy.stats import bootstrap

    difference = np.asarray(a, dtype="float64") - np.asarray(b, dtype="float64")
    difference = difference[~np.isnan(difference)]
    if len(difference) < 2:
        raise ValueError("`a` and `b` need at least two users with a score in both.")
    generator = np.random.default_rng(seed)
    # SciPy 1.15 renamed random_state to rng; embedlib supports older SciPy too
    seeding = {"rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state": generator}
    result = bootstrap((difference,), np.mean, confidence_level=level, n_resamples=n_resamples, **seeding)
    low, high = result.confidence_interval
    return {"difference": float(difference.mean()), "low": float(low), "high": float(high), "users": len(difference)}


def per_user_ndcg(scorer: Scorer, split: RankingSplit, *, k: int = 10, min_rating: float | None = None) -> pd.Series:
    """Each user's NDCG@k (NaN where nothing is relevant), indexed by user row: for per-user comparisons."""
    relevant = split.relevant(min_rating=min_rating)
    users = np.arange(1, split.users.n_rows)
    top = top_k(scorer, split.seen(), k=k, users=users)
    return pd.Series(ndcg_at_k(top, relevant, users), index=users)


def users_by_history(split: RankingSplit, *, edges: tuple[int, ...] = (20, 50, 200)) -> pd.Series:
    """Each user row's number of training ratings, binned by ``edges`` (labels like "20–49"), for per-group scores."""
    counts = np.bincount(split.train["user"].to_numpy(), minlength=split.users.n_rows)[1:]
    bounds = [0, *edges, math.inf]
    labels = [f"{lo}–{hi - 1}" if hi != math.inf else f"{lo}+" for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return pd.Series(pd.cut(counts, bounds, right=False, labels=labels), index=np.arange(1, split.users.n_rows))
