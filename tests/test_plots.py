"""Every figure function draws on the Axes it is given, titles and labels it, and returns it."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from embedlib import plots
from embedlib.explore import factor_recovery


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    n = 60
    return pd.DataFrame(
        {
            "title": [f"Movie {i}" for i in range(n)],
            "mean_rating": rng.uniform(1, 5, n),
            "n_ratings": rng.integers(1, 100, n),
            "PC1": rng.normal(size=n),
            "PC2": rng.normal(size=n),
            "bias": rng.normal(size=n),
        }
    )


def labelled(ax):
    return bool(ax.get_title()) and bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def test_each_axes_plot_is_titled_and_labelled(tiny_synthetic, table):
    data, _ = tiny_synthetic
    history = pd.DataFrame({"epoch": [1, 2, 3], "rmse": [1.2, 1.0, 0.9], "val_rmse": [1.1, 1.0, 1.05]})
    calls = [
        lambda ax: plots.plot_rating_distribution(data.ratings, ax=ax),
        lambda ax: plots.plot_history(history, references={"global mean": 1.04}, ax=ax),
        lambda ax: plots.plot_embedding_heatmap(np.zeros((3, 4)), ["a", "b", "c"], ax=ax),
        lambda ax: plots.plot_value_distribution(np.arange(10.0), ax=ax),
        lambda ax: plots.plot_scree(np.array([0.5, 0.3, 0.2]), ax=ax),
        lambda ax: plots.plot_pc_map(table, ["Movie 3"], ax=ax, min_ratings=0),
        lambda ax: plots.plot_bias_vs_mean(table, ax=ax),
        lambda ax: plots.plot_rank_frequency(data.ratings, by="movieId", ax=ax),
        lambda ax: plots.plot_norm_vs_popularity(
            pd.DataFrame(np.ones((3, 2)), index=[1, 2, 3]), pd.Series({1: 5, 2: 50}), ax=ax
        ),
        lambda ax: plots.plot_exploration(
            pd.DataFrame({"size": [8, 32, 128], "val_rmse": [0.9, 0.85, 0.86]}), "size", ax=ax
        ),
    ]
    for call in calls:
        fig, ax = plt.subplots()
        assert call(ax) is ax and labelled(ax), call
        plt.close(fig)


def test_model_comparison_writes_values_and_tells_baselines_apart():
    ax = plots.plot_model_comparison(pd.Series({"dot": 1.06, "bias": 0.85, "mean": 1.05}), baselines=["mean"])
    assert ax.get_title() and ax.get_xlabel()
    assert {t.get_text() for t in ax.texts} >= {"1.060", "0.850", "1.050"}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["baseline", "embedding model"]
    low, high = ax.get_xlim()
    assert 0.5 < low < 0.85 and 1.06 < high < 1.5  # spans the scores, so small differences show


def test_history_uses_the_current_axes_by_default():
    fig, ax = plt.subplots()
    history = pd.DataFrame({"epoch": [1, 2], "rmse": [1.0, 0.9], "val_rmse": [1.1, 1.0]})
    assert plots.plot_history(history) is ax and len(ax.lines) == 2


def test_sweep_figure_has_one_panel_per_parameter():
    results = pd.DataFrame(
        {
            "embedding_dim": [8, 8, 32, 32],
            "epochs": [1, 2, 1, 2],
            "val_rmse": [1.0, 0.9, 0.95, 0.85],
            "status": ["ok"] * 4,
        }
    )
    fig = plots.plot_sweep(results, ["embedding_dim", "epochs"])
    assert len(fig.axes) == 2 and all(labelled(ax) for ax in fig.axes)


def test_factor_recovery_grid_has_one_panel_per_planted_factor():
    rng = np.random.default_rng(1)
    planted = pd.DataFrame(rng.normal(size=(50, 3)))
    recovery = factor_recovery(planted @ rng.normal(size=(3, 6)), planted)
    fig = plots.plot_factor_recovery_grid(recovery)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3 and all(labelled(ax) for ax in visible)


def test_reference_lines_differ_by_line_style_not_only_colour():
    history = pd.DataFrame({"epoch": [1, 2], "rmse": [1.0, 0.9], "val_rmse": [1.1, 1.0]})
    ax = plots.plot_history(history, references={"global mean": 1.04, "biases only": 0.87})
    styles = [line.get_linestyle() for line in ax.lines[2:]]
    assert len(set(styles)) == 2


def test_pc_map_labels_stay_inside_the_axes(table):
    fig, ax = plt.subplots(figsize=(5, 4))
    plots.plot_pc_map(table, [f"Movie {i}" for i in range(10)], ax=ax, min_ratings=0)
    fig.canvas.draw()
    box = ax.get_window_extent()
    for text in ax.texts:
        extent = text.get_window_extent()
        assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, text.get_text()


def test_short_titles_for_map_labels():
    assert plots.short_title("Matrix, The (1999)") == "The Matrix (1999)"
    assert plots.short_title("Star Wars: Episode IV - A New Hope (1977)") == "A New Hope (1977)"
    assert (
        plots.short_title("Star Wars: Episode V - The Empire Strikes Back (1980)") == "The Empire Strikes Back (1980)"
    )
    assert plots.short_title("Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1964)") == (
        "Dr. Strangelove (1964)"
    )
    assert plots.short_title("Terminator 2: Judgment Day (1991)") == "Terminator 2: Judgment Day (1991)"  # short enough
    assert plots.short_title("Untitled") == "Untitled"


def test_ranking_comparison_puts_the_best_on_top_with_error_bars_only_where_given():
    scores = pd.Series({"popularity": 0.087, "implicit": 0.118, "bias model": 0.075})
    ax = plots.plot_ranking_comparison(scores, errors={"implicit": 0.002}, floor="popularity", title="NDCG@10")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["bias model", "popularity", "implicit"]
    assert ax.get_title() == "NDCG@10" and ax.get_xlabel() and ax.get_xlim()[0] == 0
    shown = [t.get_text() for t in ax.texts]
    assert "0.118 ± 0.002" in shown and "0.087" in shown and "0.075" in shown
    assert len(ax.containers) == 2  # the bars, and one error bar
    floor = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(floor) == 1 and floor[0].get_xdata()[0] == pytest.approx(0.087)


def test_history_takes_the_callers_styling():
    history = pd.DataFrame({"epoch": [1, 2], "rmse": [1.2, 1.0], "val_rmse": [1.1, 1.05]})
    ax = plots.plot_history(history, color="black", marker="x")
    assert [line.get_color() for line in ax.lines[:2]] == ["black", "black"]
    assert [line.get_marker() for line in ax.lines[:2]] == ["x", "x"]


def test_model_comparison_draws_error_bars_where_given():
    scores = pd.Series({"floor": 0.875, "dot": 0.856, "mlp": 0.864})
    ax = plots.plot_model_comparison(scores, baselines=["floor"], errors={"dot": 0.0015, "mlp": 0.002}, xlabel="RMSE")
    shown = [t.get_text() for t in ax.texts]
    assert "0.8560 ± 0.0015" in shown and "0.8750" in shown and ax.get_xlabel() == "RMSE"
    assert len(ax.containers) == 2  # one error bar per model given one
    assert [t.get_text() for t in ax.get_yticklabels()] == ["floor", "mlp", "dot"]  # worst at the bottom
    assert ax.get_xlim()[0] < 0.856 - 0.0015


def test_similarity_matrix_is_symmetric_with_every_value_written():
    import numpy as np

    pairs = pd.DataFrame({"first": ["a", "a", "b"], "second": ["a", "b", "b"], "mean": [0.9, 0.2, 0.95]})
    ax = plots.plot_similarity_matrix(pairs, title="CKA")
    assert ax.get_title() == "CKA"
    assert sorted(t.get_text() for t in ax.texts) == ["0.20", "0.20", "0.90", "0.95"]
    values = ax.collections[0].get_array().reshape(2, 2)
    assert np.allclose(values, [[0.9, 0.2], [0.2, 0.95]])


def test_scree_says_what_an_uncentred_pca_splits_up_on_one_linear_axis():
    fig, ax = plt.subplots()
    plots.plot_scree(np.array([0.5, 0.3, 0.2]), ax=ax)
    assert "sum of squares" in ax.get_ylabel() and "sum of squares" in ax.get_title()
    assert ax.get_yscale() == "linear" and ax.get_ylim() == (0, 100) and len(fig.axes) == 1
    assert [round(b.get_height()) for b in ax.patches] == [50, 30, 20]
    assert ax.get_lines()[0].get_ydata().tolist() == pytest.approx([50, 80, 100])
    ax.clear()
    assert "variance" in plots.plot_scree(np.array([0.6, 0.4]), ax=ax, centred=True).get_ylabel()


def test_history_can_name_the_training_curve_for_what_it_is():
    history = pd.DataFrame({"epoch": [1, 2], "rmse": [1.0, 0.9], "val_rmse": [1.1, 1.0]})
    ax = plots.plot_history(history, training_label="training RMSE, with dropout on")
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == [
        "training RMSE, with dropout on",
        "validation RMSE",
    ]


def test_pc_map_numbers_its_movies_and_lists_every_title_in_the_legend(table):
    fig, ax = plt.subplots(figsize=(6, 4))
    titles = [f"Movie {i}" for i in range(4)]
    plots.plot_pc_map(table, titles, ax=ax, min_ratings=0)
    numbers = sorted(int(t.get_text()) for t in ax.texts)
    listed = [t.get_text() for t in ax.get_legend().get_texts()]
    assert numbers == list(range(1, len(listed) + 1)) and sorted(listed) == sorted(set(titles) & set(table["title"]))


def test_exploration_shows_repeated_runs_with_their_mean_and_sd():
    runs = pd.DataFrame({"size": [16, 16, 64, 64], "val_rmse": [0.86, 0.862, 0.864, 0.868]})
    ax = plots.plot_exploration(runs, "size")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "one run" in labels and "mean ± sd of the runs" in labels
    assert len(ax.collections[0].get_offsets()) == 4  # every run is drawn
    means = ax.containers[0].lines[0].get_ydata()
    assert means.tolist() == pytest.approx([0.861, 0.866])
