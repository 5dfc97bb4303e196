"""From a ratings table to model inputs: dense ids, a seeded split, and checked index arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from embedlib.data import Dataset, RatingScale

__all__ = ["IdEncoder", "Prepared", "prepare_ratings", "train_valid_split", "train_valid_test_split"]


class IdEncoder:
    """Owns both directions of a raw id ↔ dense index mapping.

    Known ids map to 1…n in sorted order; index 0 is reserved (it belongs to no id), so an embedding table for the
    encoded ids has ``n_rows = n + 1`` rows.
    """

    def __init__(self, ids: np.ndarray | pd.Series, what: str = "id") -> None:
        self.ids = np.unique(np.asarray(ids)).astype("int64")
        self.what = what

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"IdEncoder({self.what}: {len(self):,} ids, {self.n_rows:,} rows)"

    @property
    def n_rows(self) -> int:
        """Rows an embedding table needs: one per id plus the reserved row 0."""
        return len(self.ids) + 1

    def encode(self, ids: np.ndarray | pd.Series | list[int] | int) -> np.ndarray:
        """Raw ids to dense indices (int32). Raises ``KeyError`` naming the ids it does not know."""
        raw = np.atleast_1d(np.asarray(ids, dtype="int64"))
        pos = np.searchsorted(self.ids, raw)
        known = (pos < len(self.ids)) & (self.ids[np.minimum(pos, len(self.ids) - 1)] == raw)
        if not known.all():
            unknown = np.unique(raw[~known])
            raise KeyError(
                f"Unknown {self.what}: {', '.join(map(str, unknown[:5]))}{' …' if len(unknown) > 5 else ''} "
                f"({len(unknown)} in all). Known {self.what}s are the {len(self):,} in the ratings the encoder was "
                "built from."
            )
        return (pos + 1).astype("int32")

    def decode(self, index: np.ndarray | list[int] | int) -> np.ndarray:
        """Dense indices back to raw ids. Raises ``IndexError`` for 0 or anything past the table."""
        idx = np.atleast_1d(np.asarray(index, dtype="int64"))
        bad = (idx < 1) | (idx > len(self.ids))
        if bad.any():
            raise IndexError(
                f"Index {int(idx[bad][0])} belongs to no {self.what}: valid indices are 1 to {len(self.ids)} "
                "(0 is reserved)."
            )
        return self.ids[idx - 1]


def train_valid_split(
    ratings: pd.DataFrame, *, valid_frac: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ratings at random into training and validation rows."""
    train, valid, _ = train_valid_test_split(ratings, valid_frac=valid_frac, test_frac=0.0, seed=seed)
    return train, valid


def train_valid_test_split(
    ratings: pd.DataFrame, *, valid_frac: float = 0.2, test_frac: float = 0.0, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split ratings at random into training, validation and test rows.

    The validation rows depend only on ``seed`` and ``valid_frac``: asking for a test split takes its rows out of
    training, so validation numbers stay comparable with a run that has no test split.
    """
    if not 0.0 < valid_frac < 1.0:
        raise ValueError(f"`valid_frac` must be between 0 and 1 (exclusive). Received: valid_frac={valid_frac!r}.")
    if not 0.0 <= test_frac < 1.0 - valid_frac:
        raise ValueError(
            f"`test_frac` must be at least 0 and leave rows for training (valid_frac + test_frac < 1). "
            f"Received: test_frac={test_frac!r} with valid_frac={valid_frac!r}."
        )
    order = np.random.default_rng(seed).permutation(len(ratings))
    n_valid = int(round(valid_frac * len(ratings)))
    n_test = int(round(test_frac * len(ratings)))
    valid, test, train = order[:n_valid], order[n_valid : n_valid + n_test], order[n_valid + n_test :]

    def rows(index: np.ndarray) -> pd.DataFrame:
        return ratings.iloc[np.sort(index)].reset_index(drop=True)

    return rows(train), rows(valid), rows(test)


@dataclass
class Prepared:
    """A dataset ready for the models: encoded train, validation and test tables and the encoders behind them.

    Each table keeps the raw ``userId`` and ``movieId`` and adds dense ``user`` and ``movie`` indices. ``test`` is
    empty unless a test split was asked for.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    users: IdEncoder
    movies: IdEncoder
    scale: RatingScale
    test: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        if self.test is None:
            self.test = self.valid.iloc[:0]

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_movies(self) -> int:
        return len(self.movies)

    @property
    def all_ratings(self) -> pd.DataFrame:
        """Every rating: training, validation and test rows together."""
        return pd.concat([self.train, self.valid, self.test])

    @property
    def rating_range(self) -> tuple[float, float]:
        return (self.scale.low, self.scale.high)

    def inputs(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The model inputs for the rows of ``frame``, checked to lie inside the embedding tables."""
        return checked_inputs(
            frame["user"].to_numpy(), frame["movie"].to_numpy(), self.users.n_rows, self.movies.n_rows
        )

    def targets(self, frame: pd.DataFrame) -> np.ndarray:
        """Ratings as a float32 column of shape (n, 1), the shape the models output."""
        return frame["rating"].to_numpy(dtype="float32").reshape(-1, 1)

    def unseen_in_training(self) -> dict[str, int]:
        """How many validation users, movies and rows involve ids that never appear in training."""
        new_users = ~self.valid["userId"].isin(self.train["userId"])
        new_movies = ~self.valid["movieId"].isin(self.train["movieId"])
        return {
            "valid_users_unseen": int(self.valid.loc[new_users, "userId"].nunique()),
            "valid_movies_unseen": int(self.valid.loc[new_movies, "movieId"].nunique()),
            "valid_rows_with_unseen_movie": int(new_movies.sum()),
            "valid_movies": int(self.valid["movieId"].nunique()),
        }


def checked_inputs(users: np.ndarray, movies: np.ndarray, user_rows: int, movie_rows: int) -> dict[str, np.ndarray]:
    """Model inputs from index arrays, refusing indices outside the tables.

    On the JAX backend an embedding lookup past the end of its table returns NaN instead of raising, so the check
    has to happen here, before the model sees the indices.
    """
    out = {}
    for name, values, rows in (("user", users, user_rows), ("movie", movies, movie_rows)):
        values = np.asarray(values)
        if values.size and (values.min() < 0 or values.max() >= rows):
            bad = values[(values < 0) | (values >= rows)][0]
            raise IndexError(
                f"`{name}` index {int(bad)} is outside the embedding table (valid: 0 to {rows - 1}). Encode raw ids "
                "with the Prepared encoders (`prep.users.encode`, `prep.movies.encode`) before predicting."
            )
        out[name] = values.astype("int32")
    return out


def prepare_ratings(data: Dataset, *, valid_frac: float = 0.2, test_frac: float = 0.0, seed: int = 42) -> Prepared:
    """Encode users and movies densely over all ratings, then split at random into train, validation and test.

    The validation rows are the same whatever ``test_frac`` is (see ``train_valid_test_split``).
    """
    ratings = data.ratings
    users = IdEncoder(ratings["userId"], "userId")
    movies = IdEncoder(ratings["movieId"], "movieId")
    encoded = ratings.assign(user=users.encode(ratings["userId"]), movie=movies.encode(ratings["movieId"]))
    train, valid, test = train_valid_test_split(encoded, valid_frac=valid_frac, test_frac=test_frac, seed=seed)
    return Prepared(train, valid, users, movies, data.scale, test)
