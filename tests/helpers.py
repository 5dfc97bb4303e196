"""Helpers shared by several test modules: the real data's folder and tiny MovieLens folders written on the fly.

Imported as ``helpers`` (pytest puts ``tests/`` on ``sys.path``); fixtures stay in ``conftest.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Read at import, before the autouse fixture clears EMBEDLIB_DATA for each test: tests that need the real data
# take it from here.
REAL_DATA_HOME = os.environ.get("EMBEDLIB_DATA") or None
REAL_SMALL = Path(REAL_DATA_HOME) / "ml-latest-small" if REAL_DATA_HOME else None


def real_data_available() -> bool:
    return REAL_SMALL is not None and (REAL_SMALL / "ratings.csv").is_file()


def real_data_home() -> str:
    """The folder holding the real ml-latest-small, or skip saying why."""
    if REAL_SMALL is None:
        pytest.skip("needs the real ml-latest-small: set EMBEDLIB_DATA to the folder holding ml-latest-small/")
    if not (REAL_SMALL / "ratings.csv").is_file():
        pytest.skip(f"EMBEDLIB_DATA={REAL_DATA_HOME} has no ml-latest-small/ratings.csv")
    return REAL_DATA_HOME


RATINGS_HEADER = "userId,movieId,rating,timestamp"
MOVIES_CSV = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
2,Jumanji (1995),Adventure|Children|Fantasy
10,"American President, The (1995)",Comedy|Drama|Romance
47,Seven (a.k.a. Se7en) (1995),Mystery|Thriller
99,Untitled,(no genres listed)
"""
RATINGS_ROWS = [
    "1,1,4.0,964982703",
    "1,2,3.5,964981247",
    "1,10,5.0,964982224",
    "2,1,0.5,964983815",
    "2,47,2.0,964982931",
    "3,2,4.5,964982400",
    "3,47,1.0,964980868",
]


def write_small(folder: Path, ratings: str | None = None, movies: str | None = None) -> Path:
    """A tiny ml-latest-small-shaped folder; pass text to replace either file."""
    target = folder / "ml-latest-small"
    target.mkdir(parents=True, exist_ok=True)
    (target / "ratings.csv").write_text(
        ratings if ratings is not None else "\n".join([RATINGS_HEADER, *RATINGS_ROWS]) + "\n"
    )
    (target / "movies.csv").write_text(movies if movies is not None else MOVIES_CSV)
    return target


# Small parameters for quick lesson runs on synthetic data; each lesson takes the ones its parameters cell has.
SMALL = {
    "dataset": "synthetic",
    "epochs": 2,
    "embedding_dim": 8,
    "batch_size": 256,
    "learning_rate": 0.01,
    "sweep_embedding_dims": [4],
    "table_rows": [100, 1000],
    "profile_steps": 20,
    "fast_epochs": 2,
    "fast_batch_size": 256,
    "fast_learning_rate": 0.01,
    "rating_epochs": 2,
    "ann_items": 2000,
    "implicit_epochs": 1,
    "autorec_epochs": 2,
}


def small_params_for(lessons) -> dict:
    """SMALL without the names none of ``lessons`` (embedlib.runner lessons) takes: the runner refuses those."""
    accepted = {name for lesson in lessons for name in lesson.defaults}
    return {name: value for name, value in SMALL.items() if name in accepted}
