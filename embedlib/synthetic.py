"""A MovieLens-shaped dataset drawn from planted factors, for offline runs and for checking what a model recovers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from embedlib.dataset import HALF_STARS, Dataset

GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


# Bump when make_synthetic draws different numbers from the same settings: results tied to the old data go stale.
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class PlantedFactors:
    """The truth behind a synthetic dataset.

    ``users`` and ``movies`` are indexed by userId and movieId, with columns ``f0 … f{k-1}`` (the latent factors)
    and ``bias``. A rating is ``global_mean + user bias + movie bias + user·movie + noise``, rounded to half stars
    and clipped to 0.5–5.
    """

    users: pd.DataFrame
    movies: pd.DataFrame
    global_mean: float
    noise_sd: float

    @property
    def factor_columns(self) -> list[str]:
        return [c for c in self.users.columns if c.startswith("f")]


def make_synthetic(
    *,
    seed: int = 0,
    n_users: int = 610,
    n_movies: int = 9_742,
    n_ratings: int = 100_000,
    n_factors: int = 8,
    noise_sd: float = 0.5,
) -> Dataset:
    """Generate a dataset with ml-latest-small's schema, size and long tails, deterministically from ``seed``."""
    if min(n_users, n_movies, n_ratings, n_factors) < 1:
        raise ValueError(
            "`n_users`, `n_movies`, `n_ratings` and `n_factors` must be positive. Received: "
            f"n_users={n_users}, n_movies={n_movies}, n_ratings={n_ratings}, n_factors={n_factors}."
        )
    settings = {"seed": seed, "n_users": n_users, "n_movies": n_movies, "n_ratings": n_ratings}
    settings |= {"n_factors": n_factors, "noise_sd": noise_sd, "generator": GENERATOR_VERSION}
    rng = np.random.default_rng(seed)
    user_ids = np.arange(1, n_users + 1, dtype="int32")
    # Gappy movie ids, like MovieLens's, so that lessons must remap them.
    movie_ids = np.sort(rng.choice(np.arange(1, 20 * n_movies), size=n_movies, replace=False)).astype("int32")

    scale = 1.0 / np.sqrt(n_factors)
    user_f = rng.normal(0.0, 0.9 * np.sqrt(scale), size=(n_users, n_factors))
    movie_f = rng.normal(0.0, 0.9 * np.sqrt(scale), size=(n_movies, n_factors))
    user_b = rng.normal(0.0, 0.35, size=n_users)
    movie_b = rng.normal(0.0, 0.4, size=n_movies)
    global_mean = 3.5

    # Long tails: a few users rate hundreds of movies, most rate a few dozen; popularity is Zipf-like.
    activity = rng.lognormal(0.0, 1.0, size=n_users)
    per_user = np.maximum(20, np.round(activity / activity.sum() * n_ratings)).astype(int)
    per_user = np.minimum(per_user, n_movies // 2)
    popularity = 1.0 / np.arange(1, n_movies + 1) ** 0.9
    popularity = popularity[rng.permutation(n_movies)]
    popularity /= popularity.sum()

    users_idx = np.repeat(np.arange(n_users), per_user)
    movies_idx = np.concatenate([rng.choice(n_movies, size=k, replace=False, p=popularity) for k in per_user])
    signal = np.einsum("ij,ij->i", user_f[users_idx], movie_f[movies_idx])
    raw = global_mean + user_b[users_idx] + movie_b[movies_idx] + signal + rng.normal(0.0, noise_sd, len(users_idx))
    rating = np.clip(np.round(raw * 2) / 2, HALF_STARS.low, HALF_STARS.high).astype("float32")
    timestamp = rng.integers(828_000_000, 1_540_000_000, size=len(users_idx), dtype="int64")

    ratings = pd.DataFrame(
        {"userId": user_ids[users_idx], "movieId": movie_ids[movies_idx], "rating": rating, "timestamp": timestamp}
    )
    years = rng.integers(1920, 2019, size=n_movies)
    genres = ["|".join(sorted(rng.choice(GENRES, size=rng.integers(1, 4), replace=False))) for _ in range(n_movies)]
    movies = pd.DataFrame(
        {
            "movieId": movie_ids,
            "title": [f"Synthetic Movie {i} ({y})" for i, y in zip(movie_ids, years, strict=True)],
            "genres": genres,
            "year": pd.array(years, dtype="Int16"),
        }
    )
    columns = [f"f{i}" for i in range(n_factors)]
    planted = PlantedFactors(
        users=pd.DataFrame(user_f, index=pd.Index(user_ids, name="userId"), columns=columns).assign(bias=user_b),
        movies=pd.DataFrame(movie_f, index=pd.Index(movie_ids, name="movieId"), columns=columns).assign(bias=movie_b),
        global_mean=global_mean,
        noise_sd=noise_sd,
    )
    fingerprint = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return Dataset(
        "synthetic", ratings, movies, HALF_STARS, source="generated", planted=planted, fingerprint=fingerprint
    )
