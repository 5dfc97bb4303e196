"""Read GroupLens's MovieLens file layouts into the course's two tables, refusing files that are not what they claim.

Three layouts: ``csv`` (ml-latest-small, ml-25m: ``ratings.csv`` and ``movies.csv`` with headers), ``100k``
(``u.data`` and ``u.item``) and ``1m`` (``ratings.dat`` and ``movies.dat``). Every reader returns ``ratings`` (userId,
movieId, rating, timestamp with compact dtypes) and ``movies`` (movieId, title, genres, year); a bad value is a
``DatasetError`` that names the file, the row and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from embedlib.dataset import DatasetError, RatingScale

__all__ = ["LAYOUTS", "check_ratings", "check_references"]

RATINGS_COLUMNS = ("userId", "movieId", "rating", "timestamp")
MOVIES_COLUMNS = ("movieId", "title", "genres")
RATINGS_DTYPES = {"userId": "int32", "movieId": "int32", "rating": "float32", "timestamp": "int64"}
ML_100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


def _first_line(path: Path, encoding: str = "utf-8") -> str:
    with open(path, encoding=encoding, errors="replace") as f:
        return f.readline().rstrip("\r\n")


def _check_header(path: Path, expected: tuple[str, ...]) -> None:
    first = _first_line(path)
    if not first.strip():
        raise DatasetError(f"{path.name} in {path.parent} is empty. Expected a header row: {', '.join(expected)}.")
    header = [c.strip().strip('"') for c in first.split(",")]
    if header[: len(expected)] == list(expected):
        return
    if re.fullmatch(r"-?\d+(\.\d+)?", header[0]):
        raise DatasetError(
            f"{path.name} in {path.parent} has no header row (first line: {first!r}). "
            f"Expected columns: {', '.join(expected)}. Add that line at the top of the file."
        )
    missing = [c for c in expected if c not in header]
    raise DatasetError(
        f"{path.name} in {path.parent} has columns {header}, expected {list(expected)} "
        f"(missing: {', '.join(missing) or 'none'}; they must come in that order). Rename the columns to match."
    )


def _read_numeric(path: Path, read: Callable[..., pd.DataFrame], columns: tuple[str, ...], **kwargs) -> pd.DataFrame:
    """Read with compact dtypes; on a bad value, find it and say where it is."""
    dtypes = {c: RATINGS_DTYPES[c] for c in columns}
    try:
        frame = read(dtype=dtypes, **kwargs)
    except (ValueError, TypeError, OverflowError) as exc:
        raw = read(dtype=str, keep_default_na=False, **kwargs)
        for column in columns:
            values = pd.to_numeric(raw[column].str.strip(), errors="coerce")
            bad = values.isna() | (~np.isfinite(values))
            if RATINGS_DTYPES[column].startswith("int"):
                bad |= values.notna() & (values != values.round())
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise DatasetError(
                    f"{path.name} in {path.parent}: column {column!r} has a value that is not a number "
                    f"({raw[column].iloc[row]!r} in data row {row + 1}). Fix or remove that row."
                ) from exc
        raise DatasetError(f"{path.name} in {path.parent} could not be read: {exc}") from exc
    if frame.empty:
        raise DatasetError(f"{path.name} in {path.parent} has a header but no rows. Download it again.")
    return frame


def read_csv_layout(ratings_path: Path, movies_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    _check_header(ratings_path, RATINGS_COLUMNS)
    _check_header(movies_path, MOVIES_COLUMNS)

    def read(**kw):
        return pd.read_csv(ratings_path, usecols=list(RATINGS_COLUMNS), **kw)

    ratings = _read_numeric(ratings_path, read, RATINGS_COLUMNS)
    movies = pd.read_csv(movies_path, dtype={"title": str, "genres": str}, keep_default_na=False)
    movies = _numeric_movie_ids(movies, movies_path)
    return ratings, _with_year(movies[list(MOVIES_COLUMNS)])


def read_100k_layout(ratings_path: Path, movies_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    def read(**kw):
        return pd.read_csv(ratings_path, sep="\t", header=None, names=list(RATINGS_COLUMNS), **kw)

    ratings = _read_numeric(ratings_path, read, RATINGS_COLUMNS)
    items = pd.read_csv(movies_path, sep="|", header=None, encoding="latin-1", dtype=str, keep_default_na=False)
    if items.shape[1] != 5 + len(ML_100K_GENRES):
        raise DatasetError(
            f"{movies_path.name} in {movies_path.parent} has {items.shape[1]} '|'-separated fields, expected "
            f"{5 + len(ML_100K_GENRES)} (id, title, dates, URL and {len(ML_100K_GENRES)} genre flags)."
        )
    flags = items.iloc[:, 5:].to_numpy() == "1"
    genres = [
        "|".join(g for g, on in zip(ML_100K_GENRES, row, strict=True) if on) or "(no genres listed)" for row in flags
    ]
    movies = pd.DataFrame({"movieId": items[0], "title": items[1], "genres": genres})
    return ratings, _with_year(_numeric_movie_ids(movies, movies_path))


def read_1m_layout(ratings_path: Path, movies_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    # "::" as a separator forces pandas's slow Python engine; ":" with every other field kept is equivalent and fast.
    def read(**kw):
        return pd.read_csv(ratings_path, sep=":", header=None, usecols=[0, 2, 4, 6], **kw).set_axis(
            list(RATINGS_COLUMNS), axis=1
        )

    def read_named(dtype, **kw):
        if isinstance(dtype, dict):
            dtype = {i: dtype[c] for i, c in zip([0, 2, 4, 6], RATINGS_COLUMNS, strict=True)}
        return read(dtype=dtype, **kw)

    ratings = _read_numeric(ratings_path, read_named, RATINGS_COLUMNS)
    with open(movies_path, encoding="latin-1") as f:
        rows = [line.rstrip("\r\n").split("::", 2) for line in f if line.strip()]
    if any(len(r) != 3 for r in rows):
        raise DatasetError(f"{movies_path.name} in {movies_path.parent} has lines that are not MovieID::Title::Genres.")
    movies = pd.DataFrame(rows, columns=list(MOVIES_COLUMNS))
    return ratings, _with_year(_numeric_movie_ids(movies, movies_path))


def _numeric_movie_ids(movies: pd.DataFrame, path: Path) -> pd.DataFrame:
    ids = pd.to_numeric(movies["movieId"], errors="coerce")
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DatasetError(
            f"{path.name} in {path.parent}: movieId {movies['movieId'].iloc[row]!r} in data row {row + 1} is not a "
            "number. Fix or remove that row."
        )
    return movies.assign(movieId=ids.astype("int32"))


def _with_year(movies: pd.DataFrame) -> pd.DataFrame:
    years = movies["title"].str.extract(r"\((\d{4})(?:[-–]\d{4})?\)\s*$", expand=False)
    return movies.assign(year=pd.to_numeric(years).astype("Int16")).reset_index(drop=True)


def check_ratings(ratings: pd.DataFrame, scale: RatingScale, path: Path) -> None:
    """Refuse ratings off the scale and negative ids, naming the first bad row."""
    bad = scale.invalid(ratings["rating"])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DatasetError(
            f"{path.name} in {path.parent}: {int(bad.sum()):,} ratings are outside the scale {scale.low:g}-"
            f"{scale.high:g} in steps of {scale.step:g} (first: {ratings['rating'].iloc[row]:g} in data row "
            f"{row + 1}). Fix or remove those rows."
        )
    if (ratings[["userId", "movieId"]] < 0).any().any():
        raise DatasetError(f"{path.name} in {path.parent} has negative ids. Ids must be positive integers.")


def check_references(ratings: pd.DataFrame, movies: pd.DataFrame, paths: list[Path]) -> None:
    """Refuse ratings of movies the movies file does not list."""
    orphan = ~ratings["movieId"].isin(movies["movieId"])
    if orphan.any():
        row = int(np.flatnonzero(orphan.to_numpy())[0])
        example = ratings.iloc[row]
        raise DatasetError(
            f"{paths[0].name} in {paths[0].parent}: {int(orphan.sum()):,} ratings reference movies missing from "
            f"{paths[1].name} (first: data row {row + 1}, userId={int(example['userId'])}, "
            f"movieId={int(example['movieId'])}). The copy was altered: download it again from GroupLens."
        )


LAYOUTS: dict[str, Callable[[Path, Path], tuple[pd.DataFrame, pd.DataFrame]]] = {
    "csv": read_csv_layout,
    "100k": read_100k_layout,
    "1m": read_1m_layout,
}
