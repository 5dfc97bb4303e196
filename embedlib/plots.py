"""Every figure a lesson shows: one function each, drawing on ``ax`` (or the current Axes) and returning it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

__all__ = [
    "plot_bias_vs_mean",
    "plot_count_distribution",
    "plot_embedding_heatmap",
    "plot_factor_recovery",
    "plot_history",
    "plot_model_comparison",
    "plot_pc_map",
    "plot_rating_distribution",
    "plot_scree",
    "plot_sweep",
    "plot_value_distribution",
]


def _ax(ax: plt.Axes | None) -> plt.Axes:
    return ax if ax is not None else plt.gca()


def plot_rating_distribution(ratings: pd.DataFrame, *, ax: plt.Axes | None = None, **kwargs) -> plt.Axes:
    """Bar chart of how often each rating value is given."""
    ax = _ax(ax)
    counts = ratings["rating"].value_counts().sort_index()
    ax.bar(counts.index, counts.to_numpy(), width=0.4, **{"color": "tab:blue", **kwargs})
    ax.set(title="How often each rating is given", xlabel="rating (stars)", ylabel="number of ratings")
    ax.set_xticks(counts.index)
    return ax


def plot_count_distribution(
    ratings: pd.DataFrame, by: str = "userId", *, ax: plt.Axes | None = None, **kwargs
) -> plt.Axes:
    """Histogram (log-log) of the number of ratings per user or per movie: the long tail."""
    ax = _ax(ax)
    counts = ratings.groupby(by).size()
    who = "user" if by == "userId" else "movie"
    bins = np.logspace(0, np.log10(counts.max()) + 0.05, 30)
    ax.hist(counts, bins=bins, **{"color": "tab:orange" if who == "movie" else "tab:blue", **kwargs})
    ax.set(
        xscale="log",
        yscale="log",
        title=f"Ratings per {who} (median {counts.median():.0f})",
        xlabel=f"number of ratings per {who} (log scale)",
        ylabel=f"number of {who}s (log scale)",
    )
    return ax


def plot_history(
    history: pd.DataFrame,
    metric: str = "rmse",
    *,
    references: dict[str, float] | None = None,
    ax: plt.Axes | None = None,
    title: str = "Training history",
    **kwargs,
) -> plt.Axes:
    """Training and validation ``metric`` per epoch, with optional horizontal reference lines (e.g. floors)."""
    ax = _ax(ax)
    ax.plot(history["epoch"], history[metric], marker="o", label=f"training {metric.upper()}", **kwargs)
    ax.plot(history["epoch"], history[f"val_{metric}"], marker="o", label=f"validation {metric.upper()}", **kwargs)
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, linestyle="--", color=f"C{i + 2}", label=f"{name} ({value:.3f})")
    best = history[f"val_{metric}"].idxmin()
    ax.annotate(
        "best",
        (history["epoch"][best], history[f"val_{metric}"][best]),
        textcoords="offset points",
        xytext=(0, 8),
        ha="center",
    )
    ax.set(title=title, xlabel="epoch", ylabel=f"{metric.upper()} (stars)")
    ax.set_xticks(history["epoch"])
    ax.legend()
    return ax


def plot_model_comparison(
    scores: pd.Series, *, ax: plt.Axes | None = None, title: str = "Validation RMSE by model", **kwargs
) -> plt.Axes:
    """Horizontal bars of one score per model (lower is better), the value written on each bar."""
    ax = _ax(ax)
    scores = scores.sort_values(ascending=False)
    bars = ax.barh(scores.index, scores.to_numpy(), **{"color": "tab:blue", **kwargs})
    ax.bar_label(bars, fmt="%.3f", padding=3)
    ax.set(title=title, xlabel="validation RMSE (stars, lower is better)", xlim=(0, scores.max() * 1.15))
    return ax


def plot_embedding_heatmap(
    matrix: np.ndarray, labels: list[str], *, ax: plt.Axes | None = None, title: str | None = None, **kwargs
) -> plt.Axes:
    """Heatmap of a few embedding vectors, one row per item."""
    ax = _ax(ax)
    sns.heatmap(matrix, ax=ax, yticklabels=labels, cmap="vlag", center=0, cbar_kws={"label": "weight"}, **kwargs)
    ax.set(title=title or f"Embeddings of the first {len(labels)} movies", xlabel="embedding dimension", ylabel="movie")
    return ax


def plot_value_distribution(matrix: np.ndarray, *, ax: plt.Axes | None = None, **kwargs) -> plt.Axes:
    """Histogram of every value in an embedding matrix."""
    ax = _ax(ax)
    ax.hist(np.ravel(matrix), bins=80, **{"color": "tab:purple", **kwargs})
    ax.set(title="Distribution of the embedding weights", xlabel="weight value", ylabel="count")
    return ax


def plot_scree(explained_ratio: np.ndarray, *, ax: plt.Axes | None = None, n: int = 20, **kwargs) -> plt.Axes:
    """Share of variance explained by each of the first ``n`` principal components (a scree plot)."""
    ax = _ax(ax)
    shown = np.asarray(explained_ratio)[:n]
    ax.bar(np.arange(1, len(shown) + 1), shown * 100, **{"color": "tab:green", **kwargs})
    ax.set(
        title="Scree plot: variance explained per component",
        xlabel="principal component",
        ylabel="variance explained (%)",
    )
    ax.set_xticks(np.arange(1, len(shown) + 1))
    return ax


def plot_pc_map(
    table: pd.DataFrame, label_titles: list[str], *, ax: plt.Axes | None = None, min_ratings: int = 20, **kwargs
) -> plt.Axes:
    """Movies on their first two principal components, coloured by mean rating, with some titles written on."""
    ax = _ax(ax)
    popular = table[table["n_ratings"] > min_ratings]
    points = ax.scatter(
        popular["PC1"], popular["PC2"], c=popular["mean_rating"], cmap="viridis", s=8, alpha=0.6, **kwargs
    )
    plt.colorbar(points, ax=ax, label="mean rating (stars)")
    for title in label_titles:
        row = popular[popular["title"] == title]
        if len(row):
            ax.annotate(
                title, (row["PC1"].iloc[0], row["PC2"].iloc[0]), fontsize=8, xytext=(3, 3), textcoords="offset points"
            )
    ax.set(
        title=f"Movies on the first two principal components (rated > {min_ratings} times)",
        xlabel="PC1 score",
        ylabel="PC2 score",
    )
    return ax


def plot_bias_vs_mean(table: pd.DataFrame, *, ax: plt.Axes | None = None, min_ratings: int = 20, **kwargs) -> plt.Axes:
    """Learned movie bias against mean rating: points far from the trend are loved (or not) beyond their average."""
    ax = _ax(ax)
    popular = table[table["n_ratings"] > min_ratings]
    ax.scatter(popular["mean_rating"], popular["bias"], s=8, alpha=0.5, **kwargs)
    ax.set(
        title=f"Learned movie bias vs mean rating (movies rated > {min_ratings} times)",
        xlabel="mean rating (stars)",
        ylabel="learned movie bias (before the sigmoid)",
    )
    return ax


def plot_factor_recovery(recovery, *, ax: plt.Axes | None = None, factor: int = 0, **kwargs) -> plt.Axes:
    """Planted against learned (aligned) values of one factor, with the correlation of every factor in the title."""
    ax = _ax(ax)
    ax.scatter(recovery.planted[:, factor], recovery.aligned[:, factor], s=6, alpha=0.4, **kwargs)
    corr = ", ".join(f"{c:.2f}" for c in recovery.correlations)
    ax.set(
        title=f"Planted vs learned factor {factor} (after alignment)\ncorrelation per factor: {corr}",
        xlabel=f"planted factor {factor}",
        ylabel=f"learned factor {factor}, aligned",
    )
    return ax


def plot_sweep(results: pd.DataFrame, params: list[str], metric: str = "val_rmse") -> plt.Figure:
    """``metric`` against each swept parameter: mean over runs, with the spread (standard deviation) as error bars."""
    ok = results[results["status"] == "ok"]
    fig, axes = plt.subplots(1, len(params), figsize=(5 * len(params), 4), squeeze=False)
    for ax, param in zip(axes[0], params, strict=True):
        sns.pointplot(data=ok, x=param, y=metric, errorbar="sd", ax=ax, native_scale=True)
        ax.set(title=f"{metric} by {param} ({len(ok)} runs)", xlabel=param, ylabel=f"{metric} (lower is better)")
    fig.tight_layout()
    return fig
