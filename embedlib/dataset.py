"""The dataset type every loader returns, and the rating scales; no loading here (that is ``data`` and ``synthetic``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded when ratings are checked, so the dataset registry (and `embedlib --help`) stays quick
    import pandas as pd

__all__ = ["HALF_STARS", "WHOLE_STARS", "Dataset", "DatasetError", "RatingScale"]


class DatasetError(ValueError):
    """The data could not be had, or is not what it should be. The message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class RatingScale:
    """The ratings a dataset allows: from ``low`` to ``high`` in steps of ``step``."""

    low: float
    high: float
    step: float

    def invalid(self, ratings: pd.Series) -> pd.Series:
        """Mask of the ratings outside the scale or off its steps."""
        import numpy as np
        import pandas as pd

        values = ratings.to_numpy(dtype="float64")
        off_step = np.abs((values - self.low) / self.step - np.round((values - self.low) / self.step)) > 1e-6
        return pd.Series((values < self.low) | (values > self.high) | off_step, index=ratings.index)


HALF_STARS = RatingScale(0.5, 5.0, 0.5)
WHOLE_STARS = RatingScale(1.0, 5.0, 1.0)


@dataclass
class Dataset:
    """Ratings and movies of one dataset, with where they came from.

    ``ratings``: userId, movieId (int32), rating (float32), timestamp (int64).
    ``movies``: movieId (int32), title, genres ("|"-separated), year (nullable Int16, parsed from the title).
    ``fingerprint``: a short hash of what was loaded (the files' SHA-256s, or the generator's settings), so that a
    result can be tied to the exact data it came from.
    """

    name: str
    ratings: pd.DataFrame
    movies: pd.DataFrame
    scale: RatingScale
    source: str  # a folder, "cache", "download" or "generated"
    known_version: bool = True
    fallback_reason: str | None = None  # set when the real data was asked for and synthetic was used instead
    planted: object | None = None  # synthetic only: the factors the ratings were drawn from
    fingerprint: str | None = None

    @property
    def is_fallback(self) -> bool:
        return self.fallback_reason is not None

    def counts(self) -> dict[str, int]:
        """Numbers of ratings, users, rated movies and movies."""
        return {
            "ratings": len(self.ratings),
            "users": int(self.ratings["userId"].nunique()),
            "rated_movies": int(self.ratings["movieId"].nunique()),
            "movies": len(self.movies),
        }

    def __repr__(self) -> str:
        c = self.counts()
        extra = f", fallback: {self.fallback_reason}" if self.is_fallback else ""
        return (
            f"Dataset({self.name!r}: {c['ratings']:,} ratings by {c['users']:,} users on {c['rated_movies']:,} movies "
            f"of {c['movies']:,}, ratings {self.scale.low:g}-{self.scale.high:g}, from {self.source}{extra})"
        )
