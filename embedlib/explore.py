"""Look inside trained models: embedding tables by raw id, PCA, extreme movies, similar movies, recommendations."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
from scipy.linalg import orthogonal_procrustes

from embedlib.compare import genre_matrix
from embedlib.prepare import IdEncoder, Prepared
from embedlib.training import predict

__all__ = [
    "PCAResult",
    "correlations_with",
    "cosine_similarity",
    "extremes",
    "factor_recovery",
    "movie_biases",
    "movie_stats",
    "movie_vectors",
    "pca",
    "recommend",
    "similar_movies",
    "user_biases",
    "user_vectors",
]


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity between the rows of ``a`` and the rows of ``b`` (1-d inputs give a single number)."""
    a2, b2 = np.atleast_2d(a).astype("float64"), np.atleast_2d(b).astype("float64")
    norms = np.linalg.norm(a2, axis=1, keepdims=True) * np.linalg.norm(b2, axis=1, keepdims=True).T
    sims = (a2 @ b2.T) / np.where(norms == 0, 1.0, norms)
    return sims[0, 0] if np.ndim(a) == 1 and np.ndim(b) == 1 else sims


def _table(model: keras.Model, layer: str, encoder: IdEncoder, ids) -> pd.DataFrame:
    try:
        weights = np.asarray(model.get_layer(layer).get_weights()[0])
    except ValueError:
        raise ValueError(
            f"Model {model.name!r} has no layer {layer!r}: build it with embedlib.models (simple_dot, "
            "dot_with_bias) or name its layers user_embedding, movie_embedding, user_bias and movie_bias."
        ) from None
    ids = encoder.ids if ids is None else np.atleast_1d(np.asarray(ids, dtype="int64"))
    return pd.DataFrame(weights[encoder.encode(ids)], index=pd.Index(ids, name=encoder.what))


def movie_vectors(model: keras.Model, prep: Prepared, movie_ids=None) -> pd.DataFrame:
    """The learned movie vectors as a DataFrame indexed by raw movieId (all movies, or those asked for)."""
    return _table(model, "movie_embedding", prep.movies, movie_ids)


def user_vectors(model: keras.Model, prep: Prepared, user_ids=None) -> pd.DataFrame:
    """The learned user vectors as a DataFrame indexed by raw userId (all users, or those asked for)."""
    return _table(model, "user_embedding", prep.users, user_ids)


def movie_biases(model: keras.Model, prep: Prepared, movie_ids=None) -> pd.Series:
    """The learned movie biases as a Series indexed by raw movieId (models with biases only)."""
    return _table(model, "movie_bias", prep.movies, movie_ids)[0].rename("movie_bias")


def user_biases(model: keras.Model, prep: Prepared, user_ids=None) -> pd.Series:
    """The learned user biases as a Series indexed by raw userId (models with biases only)."""
    return _table(model, "user_bias", prep.users, user_ids)[0].rename("user_bias")


@dataclass(frozen=True)
class PCAResult:
    """Scores of each row on the components, the components, and the share of variance each explains."""

    scores: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray


def pca(matrix: np.ndarray, *, n_components: int | None = None, center: bool = False) -> PCAResult:
    """Principal components by SVD. Uncentred by default, as in the tutorial (scikit-learn's PCA always centres)."""
    x = np.asarray(matrix, dtype="float64")
    if center:
        x = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    k = n_components or len(s)
    ratio = s**2 / np.sum(s**2)
    return PCAResult(scores=u[:, :k] * s[:k], components=vt[:k], explained_variance_ratio=ratio[:k])


def movie_stats(prep: Prepared, movies: pd.DataFrame) -> pd.DataFrame:
    """Per movie in the encoder (index = movieId): title, genres, year, mean rating and number of ratings."""
    stats = prep.all_ratings.groupby("movieId")["rating"].agg(mean_rating="mean", n_ratings="size")
    table = movies.set_index("movieId").reindex(prep.movies.ids)
    table.index.name = "movieId"
    return table.join(stats)[["title", "genres", "year", "mean_rating", "n_ratings"]]


def extremes(
    table: pd.DataFrame, column: str, *, n: int = 10, min_ratings: int = 20
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` lowest and ``n`` highest rows on ``column`` among movies rated more than ``min_ratings`` times."""
    popular = table[table["n_ratings"] > min_ratings].sort_values(column)
    return popular.head(n), popular.tail(n).iloc[::-1]


def correlations_with(table: pd.DataFrame, column: str = "PC1", *, min_ratings: int = 20) -> pd.Series:
    """Pearson correlation of ``column`` with mean rating, log number of ratings, year and each genre (0/1)."""
    popular = table[table["n_ratings"] > min_ratings]
    features = pd.DataFrame(
        {
            "mean rating": popular["mean_rating"],
            "log10 number of ratings": np.log10(popular["n_ratings"].astype("float64")),
            "release year": popular["year"].astype("float64"),
        }
    )
    genres = genre_matrix(popular["genres"], min_movies=1)
    features = features.join(genres.add_prefix("genre: "))
    corr = features.corrwith(popular[column].astype("float64"))
    return corr.sort_values(key=np.abs, ascending=False).rename(f"correlation with {column}")


def similar_movies(vectors: pd.DataFrame, stats: pd.DataFrame, movie_id: int, *, n: int = 10) -> pd.DataFrame:
    """The ``n`` movies whose vectors have the highest cosine similarity to ``movie_id``'s (itself excluded)."""
    if movie_id not in vectors.index:
        raise KeyError(f"movieId {movie_id} has no embedding: it is not among the {len(vectors):,} rated movies.")
    sims = pd.Series(cosine_similarity(vectors.loc[[movie_id]].to_numpy(), vectors.to_numpy())[0], index=vectors.index)
    best = sims.drop(movie_id).nlargest(n)
    return stats.loc[best.index, ["title", "genres", "mean_rating", "n_ratings"]].assign(cosine=best)


def recommend(model: keras.Model, prep: Prepared, stats: pd.DataFrame, user_id: int, *, n: int = 10) -> pd.DataFrame:
    """Top-``n`` movies for ``user_id`` by predicted rating, excluding every movie the user rated (train or valid).

    Returned with real movieIds as the index, never dense indices.
    """
    user = prep.users.encode(user_id)[0]
    rated = prep.all_ratings.query("userId == @user_id")["movieId"]
    candidates = np.setdiff1d(prep.movies.ids, rated.to_numpy())
    frame = pd.DataFrame({"user": user, "movie": prep.movies.encode(candidates)})
    scores = pd.Series(predict(model, prep, frame), index=pd.Index(candidates, name="movieId"))
    best = scores.nlargest(n)
    return stats.loc[best.index, ["title", "genres", "mean_rating", "n_ratings"]].assign(predicted=best)


@dataclass(frozen=True)
class Recovery:
    """How well learned vectors match planted ones after an orthogonal alignment."""

    correlations: np.ndarray  # one per planted factor
    aligned: np.ndarray
    planted: np.ndarray


def factor_recovery(learned: pd.DataFrame, planted: pd.DataFrame) -> Recovery:
    """Align learned vectors to planted factors (same ids) and correlate them factor by factor.

    A model may learn the planted space in any rotation and scale, so the learned vectors are centred, reduced to as
    many principal components as there are planted factors, scaled, and rotated onto the planted factors
    (orthogonal Procrustes) before comparing.
    """
    ids = learned.index.intersection(planted.index)
    x = learned.loc[ids].to_numpy(dtype="float64")
    y = planted.loc[ids].to_numpy(dtype="float64")
    k = y.shape[1]
    x_k = pca(x, n_components=k, center=True).scores
    x_k = x_k / np.linalg.norm(x_k) * np.linalg.norm(y - y.mean(axis=0))
    rotation, _ = orthogonal_procrustes(x_k, y - y.mean(axis=0))
    aligned = x_k @ rotation
    corr = np.array([np.corrcoef(aligned[:, i], y[:, i])[0, 1] for i in range(k)])
    return Recovery(correlations=corr, aligned=aligned, planted=y)
