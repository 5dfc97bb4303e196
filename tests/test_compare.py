"""Comparing embedding tables: values on hand-built cases (rotations, copies, planted labels, known neighbours)."""

import numpy as np
import pandas as pd
import pytest

from embedlib import compare


def rotation(d: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


@pytest.fixture
def table():
    return np.random.default_rng(1).normal(size=(300, 6))


def test_cka_is_1_for_a_rotated_mirrored_or_scaled_copy_and_symmetric(table):
    mirrored = table * np.array([-1, 1, 1, 1, 1, 1])
    for copy in (table @ rotation(6), mirrored, 3.5 * table, table + 10):
        assert compare.linear_cka(table, copy) == pytest.approx(1.0, abs=1e-10)
    other = np.random.default_rng(2).normal(size=(300, 4))
    assert compare.linear_cka(table, other) == pytest.approx(compare.linear_cka(other, table), abs=1e-12)
    assert compare.linear_cka(table, other) < 0.1  # unrelated tables (of another width) are far apart


def test_cka_equals_its_kernel_form_and_procrustes_equals_scipys(table):
    other = np.random.default_rng(6).normal(size=(300, 4)) + table[:, :4]
    n = len(table)
    centring = np.eye(n) - 1 / n

    def hsic(k, m):
        return np.trace(k @ centring @ m @ centring)

    k, m = table @ table.T, other @ other.T
    assert compare.linear_cka(table, other) == pytest.approx(hsic(k, m) / np.sqrt(hsic(k, k) * hsic(m, m)), rel=1e-9)
    from scipy.spatial import procrustes

    _, _, disparity = procrustes(table[:, :4], other)
    assert compare.procrustes_correlation(table[:, :4], other) == pytest.approx(np.sqrt(1 - disparity), rel=1e-9)


def test_tables_with_nothing_to_compare_are_refused(table):
    with pytest.raises(ValueError, match="NaN or infinite"):
        compare.linear_cka(table, np.full_like(table, np.nan))
    with pytest.raises(ValueError, match="Every row of the second table is the same"):
        compare.procrustes_correlation(table, np.ones_like(table))


def test_cka_sees_a_shared_part_in_between(table):
    half = np.hstack([table[:, :3], np.random.default_rng(3).normal(size=(300, 3))])
    assert 0.3 < compare.linear_cka(table, half) < 0.8


def test_procrustes_correlation_is_1_for_a_rotated_copy_and_low_for_noise(table):
    assert compare.procrustes_correlation(table, table @ rotation(6, seed=4)) == pytest.approx(1.0, abs=1e-10)
    noise = np.random.default_rng(5).normal(size=(300, 6))
    assert abs(compare.procrustes_correlation(table, noise)) < 0.3
    # A narrower table is padded with zero columns: its rotated copy inside a wider table still matches.
    wider = np.hstack([table[:, :4] @ rotation(4), np.zeros((300, 2))])
    assert compare.procrustes_correlation(table[:, :4], wider) == pytest.approx(1.0, abs=1e-10)


def test_tables_of_different_movies_are_refused():
    with pytest.raises(ValueError, match=r"same movies in the same order. Received shapes \(3, 2\) and \(4, 2\)"):
        compare.linear_cka(np.ones((3, 2)), np.ones((4, 2)))


def test_nearest_neighbours_by_cosine_leave_the_row_out_and_break_ties_by_row():
    points = np.array([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [1.0, 1.0], [3.0, 0.0], [0.0, 2.0]])
    near = compare.nearest_neighbours(points, np.array([0, 2]), k=2)
    # Row 0 points along x: row 4 is the same direction (cosine 1), row 1 nearly; row 0 itself is never listed.
    # Row 2 points along y: row 5 too (cosine 1), then row 3 (cosine 0.71).
    assert near.tolist() == [[4, 1], [5, 3]]
    tie = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0], [0.0, 3.0]])  # rows 1, 2 and 3: the same direction
    assert compare.nearest_neighbours(tie, np.array([3]), k=2).tolist() == [[1, 2]]  # equal: by row number
    with pytest.raises(ValueError, match="`k` must be below the number of rows"):
        compare.nearest_neighbours(points, np.array([0]), k=6)
    with pytest.raises(ValueError, match="`queries` must be row numbers from 0 to 5"):
        compare.nearest_neighbours(points, np.array([-1]), k=2)


def test_neighbour_overlap_counts_shared_neighbours(table):
    queries = np.arange(20)
    assert compare.neighbour_overlap(table, table @ rotation(6), queries=queries, k=5).tolist() == [1.0] * 20
    a = np.array([[1.0, 0], [1, 0.1], [1, 0.2], [0, 1], [0.1, 1]])
    b = np.array([[1.0, 0], [0, 1], [1, 0.2], [1, 0.1], [0.1, 1]])  # rows 1 and 3 swapped places
    assert compare.neighbour_overlap(a, b, queries=np.array([0]), k=2).tolist() == [0.5]  # {1, 2} vs {2, 3}


def test_genre_matrix_splits_the_strings_and_keeps_common_genres():
    genres = pd.Series(["Action|Comedy", "Comedy", "(no genres listed)", "Drama|Comedy"], index=[10, 20, 30, 40])
    matrix = compare.genre_matrix(genres, min_movies=2)
    assert matrix.columns.tolist() == ["Comedy"] and matrix["Comedy"].tolist() == [1, 1, 0, 1]
    assert compare.genre_matrix(genres, min_movies=1).columns.tolist() == ["Action", "Comedy", "Drama"]


def test_genre_probe_reads_a_planted_genre_and_not_noise():
    rng = np.random.default_rng(0)
    labels = pd.DataFrame({"Planted": rng.integers(0, 2, 400), "Unrelated": rng.integers(0, 2, 400)})
    table = np.column_stack([labels["Planted"] + rng.normal(0, 0.3, 400), rng.normal(size=(400, 5))])
    auc = compare.genre_probe(table, labels, seed=0)
    assert auc["Planted"] > 0.95 and 0.4 < auc["Unrelated"] < 0.6
    assert auc.equals(compare.genre_probe(table, labels, seed=0))  # the same folds for the same seed
    lonely = labels.assign(Rare=0)
    lonely.loc[:2, "Rare"] = 1
    with pytest.raises(ValueError, match=r"Genres \['Rare'\] have fewer than 5 movies in or out"):
        compare.genre_probe(table, lonely)


def test_genre_probe_of_noise_averages_chance():
    rng = np.random.default_rng(1)
    labels = pd.DataFrame({f"g{i}": rng.integers(0, 2, 600) for i in range(10)})
    auc = compare.genre_probe(rng.normal(size=(600, 20)), labels, seed=1)
    assert abs(auc.mean() - 0.5) < 0.05 and auc.max() < 0.6


def test_norm_popularity_correlation_follows_vector_length():
    counts = np.array([1, 5, 20, 80, 300])
    table = np.outer(np.log(counts), [0.6, 0.8])
    assert compare.norm_popularity_correlation(table, counts) == pytest.approx(1.0)
    assert compare.norm_popularity_correlation(table[::-1], counts) == pytest.approx(-1.0)


def test_compare_tasks_measures_within_a_task_across_seeds_and_between_tasks_per_seed():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 3))
    tables = {("a", s): base @ rotation(3, seed=s) for s in (1, 2, 3)}
    tables |= {("b", s): rng.normal(size=(50, 3)) for s in (1, 2, 3)}
    result = compare.compare_tasks(tables, compare.linear_cka).set_index(["first", "second"])
    assert result.loc[("a", "a"), "mean"] == pytest.approx(1.0) and result.loc[("a", "a"), "n"] == 3
    assert result.loc[("a", "a"), "sd"] == pytest.approx(0.0, abs=1e-9)
    assert result.loc[("b", "b"), "mean"] < 0.5 and result.loc[("a", "b"), "mean"] < 0.5
    assert result.loc[("a", "b"), "n"] == 6  # every pair of different seeds: (1, 2), (1, 3), (2, 1), ...
    pairs = [compare.linear_cka(tables["a", s], tables["b", t]) for s in (1, 2, 3) for t in (1, 2, 3) if s != t]
    assert result.loc[("a", "b"), "mean"] == pytest.approx(np.mean(pairs))
    assert result.loc[("a", "b"), "sd"] == pytest.approx(np.std(pairs, ddof=1))
    assert list(result.index) == [("a", "a"), ("a", "b"), ("b", "b")]
    with pytest.raises(ValueError, match="at least 3 seeds"):
        compare.compare_tasks({key: t for key, t in tables.items() if key[1] != 3}, compare.linear_cka)
    del tables["b", 2]
    with pytest.raises(ValueError, match="a table for every task with every seed"):
        compare.compare_tasks(tables, compare.linear_cka)
