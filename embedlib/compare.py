"""Compare movie tables learned by different models: how alike they are, which neighbours, what each one knows.

How alike: linear CKA and Procrustes correlation. Neighbours: shared nearest neighbours by cosine. What each knows: a
genre probe, and vector length against popularity.

Every function takes tables as arrays with one row per movie, the rows of all tables in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.linalg import orthogonal_procrustes
from scipy.stats import spearmanr

from embedlib.checks import check_count

__all__ = [
    "compare_tasks",
    "genre_matrix",
    "genre_probe",
    "linear_cka",
    "nearest_neighbours",
    "neighbour_overlap",
    "norm_popularity_correlation",
    "procrustes_correlation",
]


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    if a.ndim != 2 or b.ndim != 2 or len(a) != len(b):
        raise ValueError(
            f"Both tables must be 2-D with one row per movie, the same movies in the same order. Received shapes "
            f"{a.shape} and {b.shape}."
        )
    if len(a) < 2:
        raise ValueError("The tables need at least 2 rows to be compared.")
    for name, table in (("first", a), ("second", b)):
        if not np.isfinite(table).all():
            raise ValueError(f"The {name} table holds NaN or infinite values: check the model that made it.")
        if np.ptp(table, axis=0).max() == 0:
            raise ValueError(f"Every row of the {name} table is the same: there is nothing to compare.")
    return a - a.mean(axis=0), b - b.mean(axis=0)


def linear_cka(a: np.ndarray, b: np.ndarray) -> float:
    """Linear centred kernel alignment (Kornblith et al., 2019) of two tables with the same rows, in [0, 1].

    It compares which rows are close to which in each table (the rows' dot products, after centring each column), so
    it is 1 for a table and any rotated, mirrored or uniformly scaled copy of it; the tables may have different
    widths.
    """
    a, b = _pair(a, b)
    cross = np.linalg.norm(b.T @ a) ** 2
    return float(cross / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)))


def procrustes_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation between the entries of ``b`` and of ``a`` rotated onto it (orthogonal Procrustes), both centred.
    1 when ``a`` is a rotated, mirrored or uniformly scaled copy of ``b``; it equals ``sqrt(1 - disparity)`` of
    ``scipy.spatial.procrustes``.

    A narrower table gets zero columns added, so tables of different widths can be compared.
    """
    a, b = _pair(a, b)
    width = max(a.shape[1], b.shape[1])
    a = np.pad(a, ((0, 0), (0, width - a.shape[1])))
    b = np.pad(b, ((0, 0), (0, width - b.shape[1])))
    rotation, _ = orthogonal_procrustes(a, b)
    return float(np.corrcoef((a @ rotation).ravel(), b.ravel())[0, 1])


def nearest_neighbours(table: np.ndarray, queries: np.ndarray, *, k: int = 10) -> np.ndarray:
    """Row numbers of each query row's ``k`` nearest rows by cosine similarity, nearest first, the row itself left out.

    Equal similarities are ordered by row number.
    """
    check_count("k", k)
    table = np.asarray(table, dtype="float64")
    queries = np.atleast_1d(np.asarray(queries))
    if table.ndim != 2:
        raise ValueError(f"`table` must be 2-D, one row per movie. Received shape {table.shape}.")
    if k >= len(table):
        raise ValueError(f"`k` must be below the number of rows ({len(table)}). Received: k={k}.")
    if not np.issubdtype(queries.dtype, np.integer) or queries.min() < 0 or queries.max() >= len(table):
        raise ValueError(f"`queries` must be row numbers from 0 to {len(table) - 1}. Received: {queries[:5]!r}...")
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    unit = table / np.where(norms == 0, 1.0, norms)
    sims = unit[queries] @ unit.T
    sims[np.arange(len(queries)), queries] = -np.inf
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def neighbour_overlap(a: np.ndarray, b: np.ndarray, *, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """For each query row, the share of its ``k`` nearest neighbours in ``a`` that are also among them in ``b``."""
    _pair(a, b)
    near_a, near_b = nearest_neighbours(a, queries, k=k), nearest_neighbours(b, queries, k=k)
    return np.array([len(np.intersect1d(x, y)) / k for x, y in zip(near_a, near_b, strict=True)])


def genre_matrix(genres: pd.Series, *, min_movies: int = 20) -> pd.DataFrame:
    """One 0/1 column per genre from MovieLens's ``"Action|Comedy"`` strings (same index as ``genres``), keeping the
    genres at least ``min_movies`` of these movies have; "(no genres listed)" is not a genre."""
    check_count("min_movies", min_movies)
    matrix = genres.str.get_dummies(sep="|").drop(columns="(no genres listed)", errors="ignore")
    return matrix.loc[:, matrix.sum() >= min_movies]


def genre_probe(table: np.ndarray, genres: pd.DataFrame, *, folds: int = 5, seed: int = 42) -> pd.Series:
    """How well a linear model reads each genre off the vectors: ROC AUC per genre on held-out movies (0.5 is chance).

    The probe is a ridge regression of every genre's 0/1 column on the standardised vectors, all genres at once; its
    output ranks the held-out movies for each genre. The AUC is computed in each of ``folds`` cross-validation folds
    (the same folds for every table with the same ``seed``) and averaged. A table with no information scores near
    0.5, often a little below (cross-validation on noise tends to), so compare with a reference table of random
    numbers. The mean of the result is the macro AUC.
    """
    from sklearn.linear_model import Ridge
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    check_count("folds", folds, at_least=2)
    table = np.asarray(table, dtype="float64")
    if len(table) != len(genres):
        raise ValueError(f"`table` has {len(table)} rows but `genres` has {len(genres)}: one row per movie in both.")
    labels = genres.to_numpy()
    counts = labels.sum(axis=0)
    lonely = [g for g, n in zip(genres.columns, counts, strict=True) if n < folds or n > len(labels) - folds]
    if lonely:
        raise ValueError(
            f"Genres {lonely} have fewer than {folds} movies in or out: a fold could hold one class only. "
            "Keep common genres (genre_matrix's min_movies) or use fewer folds."
        )
    auc = []
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(table):
        probe = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(table[train], labels[train])
        auc.append(roc_auc_score(labels[test], probe.predict(table[test]), average=None))
    return pd.Series(np.mean(auc, axis=0), index=genres.columns, name="auc")


def norm_popularity_correlation(table: np.ndarray, counts: np.ndarray) -> float:
    """Spearman correlation between each row's vector length and its number of ratings."""
    table = np.asarray(table, dtype="float64")
    if len(table) != len(counts):
        raise ValueError(f"`table` has {len(table)} rows but `counts` has {len(counts)}: one per movie in both.")
    return float(spearmanr(np.linalg.norm(table, axis=1), counts).statistic)


def compare_tasks(
    tables: dict[tuple[str, int], np.ndarray], measure: Callable[[np.ndarray, np.ndarray], float]
) -> pd.DataFrame:
    """``measure`` between every two tables of different tasks trained with different seeds, and within each task
    between the tables of every two seeds (how far apart one task's own runs land: the noise).

    Pairing different seeds keeps a shared seed (the same starting numbers) from making two tasks look alike.
    ``tables`` maps (task, seed) to a table, every task with the same seeds. Returns one row per pair of tasks
    (``first``, ``second``, with ``first == second`` for the within-task rows) with the ``mean``, ``sd`` and number
    (``n``) of the values measured. The values share tables, so they are not independent: read ``sd`` as the spread
    of the pairs, not as a standard error.
    """
    tasks = list(dict.fromkeys(task for task, _ in tables))
    seeds = sorted({seed for _, seed in tables})
    if set(tables) != {(task, seed) for task in tasks for seed in seeds}:
        raise ValueError("`tables` must hold a table for every task with every seed.")
    if len(seeds) < 3:
        raise ValueError(f"`tables` needs at least 3 seeds per task, for a spread within each task. Received {seeds}.")
    rows = []
    for i, first in enumerate(tasks):
        for second in tasks[i:]:
            if first == second:
                pairs = list(combinations(seeds, 2))
            else:
                pairs = [(a, b) for a in seeds for b in seeds if a != b]
            values = [measure(tables[first, a], tables[second, b]) for a, b in pairs]
            rows.append({"first": first, "second": second, "mean": np.mean(values), "sd": np.std(values, ddof=1),
                         "n": len(values)})  # fmt: skip
    return pd.DataFrame(rows)
