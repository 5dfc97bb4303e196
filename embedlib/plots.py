"""Every figure a lesson shows: one function each, drawing on ``ax`` (or the current Axes) and returning it."""

from __future__ import annotations

import re
from collections.abc import Iterable

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from adjustText import adjust_text

__all__ = [
    "OKABE_ITO",
    "plot_bias_vs_mean",
    "plot_embedding_heatmap",
    "plot_exploration",
    "plot_factor_recovery_grid",
    "plot_history",
    "plot_model_comparison",
    "plot_norm_vs_popularity",
    "plot_pc_map",
    "plot_rank_frequency",
    "plot_ranking_comparison",
    "plot_rating_distribution",
    "plot_scree",
    "plot_similarity_matrix",
    "plot_sweep",
    "plot_value_distribution",
    "short_title",
]

# Okabe & Ito's palette, safe for the common forms of colour blindness (black first dropped: it is kept for text).
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
# Reference lines (floors) are told apart by line style and label, not by colour alone.
REFERENCE_STYLES = ["--", ":", "-."]

# Every figure in the course uses this palette, including the ones a lesson draws with plain matplotlib.
mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=OKABE_ITO)


def _ax(ax: plt.Axes | None) -> plt.Axes:
    return ax if ax is not None else plt.gca()


def plot_rating_distribution(ratings: pd.DataFrame, *, ax: plt.Axes | None = None, **kwargs) -> plt.Axes:
    """Bar chart of how often each rating value is given."""
    ax = _ax(ax)
    counts = ratings["rating"].value_counts().sort_index()
    ax.bar(counts.index, counts.to_numpy(), width=0.4, **{"color": OKABE_ITO[0], **kwargs})
    ax.set(title="How often each rating is given", xlabel="rating (stars)", ylabel="number of ratings")
    ax.set_xticks(counts.index)
    return ax


def plot_history(
    history: pd.DataFrame,
    metric: str = "rmse",
    *,
    references: dict[str, float] | None = None,
    ax: plt.Axes | None = None,
    title: str = "Training history",
    best_label_offset: tuple[float, float] = (0, 8),
    training_label: str | None = None,
    **kwargs,
) -> plt.Axes:
    """Training and validation ``metric`` per epoch, with optional horizontal reference lines (e.g. floors).

    ``best_label_offset`` (in points from the best validation point) moves the "best" label off a nearby line;
    ``training_label`` names the training curve for what it is (e.g. measured with dropout on).
    """
    ax = _ax(ax)
    # the caller's styling (kwargs) wins over the defaults; passing both would raise "multiple values for keyword"
    training_style = {"marker": "o", "color": OKABE_ITO[0], "label": training_label or f"training {metric.upper()}",
                      **kwargs}  # fmt: skip
    validation_style = {"marker": "s", "color": OKABE_ITO[1], "label": f"validation {metric.upper()}", **kwargs}
    ax.plot(history["epoch"], history[metric], **training_style)
    ax.plot(history["epoch"], history[f"val_{metric}"], **validation_style)
    for i, (name, value) in enumerate((references or {}).items()):
        style = REFERENCE_STYLES[i % len(REFERENCE_STYLES)]
        ax.axhline(value, linestyle=style, color="0.3", linewidth=1.2, label=f"{name} ({value:.3f})")
    best = history[f"val_{metric}"].idxmin()
    best_point = (history["epoch"][best], history[f"val_{metric}"][best])
    ax.scatter(*best_point, s=160, facecolors="none", edgecolors="black", linewidths=1.5, zorder=3)
    ax.annotate(
        "best",
        best_point,
        textcoords="offset points",
        xytext=best_label_offset,
        ha="center",
        va="bottom" if best_label_offset[1] >= 0 else "top",
        arrowprops={"arrowstyle": "-", "color": "black", "shrinkB": 7},
    )
    ax.set(title=title, xlabel="epoch", ylabel=f"{metric.upper()} (stars)")
    ax.set_xticks(history["epoch"])
    ax.legend()
    return ax


def plot_model_comparison(
    scores: pd.Series,
    *,
    baselines: Iterable[str] = (),
    errors: dict[str, float] | None = None,
    labels: tuple[str, str] = ("baseline", "embedding model"),
    ax: plt.Axes | None = None,
    title: str = "Validation RMSE by model",
    xlabel: str = "validation RMSE (stars, lower is better)",
    **kwargs,
) -> plt.Axes:
    """One dot per model (lower is better, worst at the bottom), its value beside it; the models named in
    ``baselines`` are drawn as hollow squares, the others as filled circles (``labels`` names the two in the legend),
    and ``errors`` (a standard deviation by model name) as error bars, the values then shown to 4 decimals. The axis
    spans the scores, not 0 to the top, so that differences of a hundredth of a star stay visible."""
    ax = _ax(ax)
    scores = scores.sort_values(ascending=False)
    errors = errors or {}
    unknown = set(errors) - set(scores.index)
    if unknown:
        raise ValueError(f"`errors` names models that `scores` does not have: {sorted(unknown)}.")
    is_baseline = scores.index.isin(list(baselines))
    row = pd.Series(np.arange(len(scores)), index=scores.index)  # worst at the bottom
    for mask, label, marker, face in (
        (is_baseline, labels[0], "s", "none"),
        (~is_baseline, labels[1], "o", OKABE_ITO[0]),
    ):
        if mask.any():
            ax.scatter(
                scores[mask].to_numpy(), row[mask].to_numpy(), s=60, marker=marker, label=label,
                **{"facecolors": face, "edgecolors": OKABE_ITO[0], "zorder": 3, **kwargs},
            )  # fmt: skip
    ax.set_yticks(row.to_numpy(), scores.index)
    digits = 4 if errors else 3
    for name, sd in errors.items():
        ax.errorbar(scores[name], row[name], xerr=sd, color="black", capsize=5, linewidth=1.5, zorder=4)
    for name, value in scores.items():
        shown = f"{value:.{digits}f}" + (f" ± {errors[name]:.{digits}f}" if name in errors else "")
        ax.annotate(shown, (value + errors.get(name, 0.0), row[name]), textcoords="offset points", xytext=(8, 0),
                    va="center")  # fmt: skip
    low = min(scores[name] - errors.get(name, 0.0) for name in scores.index)
    high = max(scores[name] + errors.get(name, 0.0) for name in scores.index)
    spread = max(high - low, 0.05 if not errors else 0.01)
    ax.set(title=title, xlabel=xlabel, xlim=(low - 0.1 * spread, high + (0.6 if errors else 0.25) * spread))
    ax.grid(axis="y", color="0.9")
    if is_baseline.any():
        ax.legend(loc="upper right")  # sorted worst at the bottom: the top right stays empty
    return ax


def plot_ranking_comparison(
    scores: pd.Series,
    *,
    errors: dict[str, float] | None = None,
    floor: str | None = None,
    ax: plt.Axes | None = None,
    title: str = "NDCG@10 by model",
    xlabel: str = "NDCG@10 (higher is better)",
) -> plt.Axes:
    """Horizontal bars of a ranking metric (higher is better), best at the top, the value beside each bar; ``errors``
    (a standard deviation by model name) are drawn as error bars, and ``floor`` (a model name) as a dashed line so
    that every bar can be read against it. Bars start at 0: a ranking metric's ratio to the floor is the point."""
    ax = _ax(ax)
    scores = scores.sort_values()
    errors = errors or {}
    ax.barh(scores.index, scores.to_numpy(), color=OKABE_ITO[0], height=0.6)
    for name, sd in errors.items():
        ax.errorbar(scores[name], name, xerr=sd, color="black", capsize=4, linewidth=1)
    for name, value in scores.items():
        shown = f"{value:.3f}" + (f" ± {errors[name]:.3f}" if name in errors else "")
        ax.annotate(shown, (value + errors.get(name, 0.0), name), textcoords="offset points", xytext=(6, 0),
                    va="center", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})  # fmt: skip
    if floor is not None:  # behind the bars and the values, so it never crosses a number
        ax.axvline(scores[floor], color="0.3", linestyle="--", linewidth=1, label=f"{floor} (the floor)", zorder=0)
        ax.legend(loc="lower right")
    ax.set(title=title, xlabel=xlabel, xlim=(0, float(scores.max()) * 1.35))
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
    ax.hist(np.ravel(matrix), bins=80, **{"color": OKABE_ITO[3], **kwargs})
    ax.set(title="Distribution of the embedding weights", xlabel="weight value", ylabel="count")
    return ax


def plot_scree(
    explained_ratio: np.ndarray, *, ax: plt.Axes | None = None, n: int = 20, centred: bool = False, **kwargs
) -> plt.Axes:
    """Each of the first ``n`` components' share (bars) and the running total (line), on one axis from 0 to 100%.

    Without centring (``centred=False``, as the tutorial does it) a component's share is of the table's sum of
    squares, not of its variance, and the labels say so.
    """
    ax = _ax(ax)
    shown = np.asarray(explained_ratio)[:n] * 100
    x = np.arange(1, len(shown) + 1)
    what = "variance" if centred else "sum of squares"
    ax.bar(x, shown, label="each component", **{"color": OKABE_ITO[2], **kwargs})
    ax.plot(x, np.cumsum(shown), color=OKABE_ITO[5], marker="o", linestyle="--", label="running total")
    ax.set(title=f"Share of the {what} held by each principal component", xlabel="principal component",
           ylabel=f"share of the {what} (%)", ylim=(0, 100), xticks=x)  # fmt: skip
    ax.legend(loc="center right")
    return ax


def short_title(title: str, *, width: int = 28) -> str:
    """A MovieLens title shortened for a label: "Matrix, The (1999)" becomes "The Matrix (1999)", and a long title
    keeps the part before its colon ("Dr. Strangelove or: How I Learned..." becomes "Dr. Strangelove"), or the
    episode's own name where a series numbers them ("Star Wars: Episode V - The Empire Strikes Back (1980)" becomes
    "The Empire Strikes Back (1980)", which the series' name alone would not tell apart from episode IV)."""
    match = re.fullmatch(r"(.*?)(?:, (The|A|An))?( \(\d{4}\))?", title.strip())
    body, article, year = match.group(1), match.group(2), match.group(3) or ""
    body = f"{article} {body}" if article else body
    if len(body) > width and ":" in body:
        series, subtitle = body.split(":", 1)
        episode = re.fullmatch(r"\s*Episode [IVXLC\d]+ - (.+)", subtitle)
        body = episode.group(1) if episode else re.sub(r"\s+or$", "", series)
    return body + year


def plot_pc_map(
    table: pd.DataFrame, label_titles: list[str], *, ax: plt.Axes | None = None, min_ratings: int = 20, **kwargs
) -> plt.Axes:
    """Movies on their first two principal components, coloured by mean rating. The movies in ``label_titles`` are
    ringed and numbered from left to right, and the legend beside the map gives each number's title: a number
    matches its point at a glance where a long title would not."""
    ax = _ax(ax)
    popular = table[table["n_ratings"] > min_ratings]
    points = ax.scatter(
        popular["PC1"], popular["PC2"], c=popular["mean_rating"], cmap="viridis", s=8, alpha=0.6, **kwargs
    )
    plt.colorbar(points, ax=ax, label="mean rating (stars)", location="bottom", shrink=0.5, aspect=30)
    labelled = popular[popular["title"].isin(label_titles)].sort_values("PC1")
    rings = ax.scatter(labelled["PC1"], labelled["PC2"], s=18, facecolors="none", edgecolors="black", linewidths=0.8)
    circle = {"boxstyle": "circle,pad=0.15", "fc": "white", "ec": "0.2", "lw": 0.6}
    dx, dy = np.ptp(popular["PC1"]) * 0.03, np.ptp(popular["PC2"]) * 0.03  # start each number off its point
    numbers = [
        ax.text(x + dx, y + dy, str(i), fontsize=8, fontweight="bold", ha="center", va="center", bbox=circle)
        for i, (x, y) in enumerate(zip(labelled["PC1"], labelled["PC2"], strict=True), start=1)
    ]
    if numbers:  # moved off each other and off the rings, each with a line to its own point
        adjust_text(numbers, objects=rings, target_x=labelled["PC1"].to_numpy(), target_y=labelled["PC2"].to_numpy(),
                    ax=ax, expand=(1.6, 1.8), force_static=(0.4, 0.8), min_arrow_len=0,
                    arrowprops={"arrowstyle": "-", "color": "0.2", "lw": 0.8, "shrinkA": 0})  # fmt: skip
        handles = [mpl.lines.Line2D([], [], linestyle="none", marker=f"${i}$", markersize=9 + 3 * (i > 9),
                                    color="black", label=short_title(title))
                   for i, title in enumerate(labelled["title"], start=1)]  # fmt: skip
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    ax.margins(x=0.06, y=0.06)
    ax.set(title=f"Movies on the first two principal components (rated > {min_ratings} times)",
           xlabel="PC1 score", ylabel="PC2 score")  # fmt: skip
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


def plot_factor_recovery_grid(recovery, *, title: str = "Planted vs learned factors (after alignment)") -> plt.Figure:
    """One panel per planted factor: planted against learned (aligned) values, with each factor's correlation."""
    k = recovery.planted.shape[1]
    cols = min(k, 4)
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.2 * rows), squeeze=False)
    for factor, ax in enumerate(axes.ravel()):
        if factor >= k:
            ax.set_visible(False)
            continue
        ax.scatter(recovery.planted[:, factor], recovery.aligned[:, factor], s=5, alpha=0.4, color=OKABE_ITO[0])
        ax.set(
            title=f"factor {factor}: r = {recovery.correlations[factor]:.2f}",
            xlabel=f"planted factor {factor}",
            ylabel="learned, aligned",
        )
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_norm_vs_popularity(
    vectors: pd.DataFrame, n_ratings: pd.Series, *, ax: plt.Axes | None = None, title: str | None = None, **kwargs
) -> plt.Axes:
    """Length of each movie vector against its number of training ratings: popular movies move furthest.

    The x axis is symmetric-log (linear from 0 to 1, log above), so movies never rated in training sit apart at 0,
    drawn in a second colour and marker.
    """
    ax = _ax(ax)
    counts = n_ratings.reindex(vectors.index).fillna(0).to_numpy()
    norms = np.linalg.norm(vectors.to_numpy(dtype="float64"), axis=1)
    rated = counts > 0
    ax.scatter(counts[rated], norms[rated], s=6, alpha=0.35, **{"color": OKABE_ITO[0], "label": "rated", **kwargs})
    if not rated.all():
        ax.scatter(
            counts[~rated], norms[~rated], s=10, alpha=0.5, marker="x", color=OKABE_ITO[5], label="never rated (0)"
        )
        ax.legend(loc="upper left", title="in training")
    ax.set_xscale("symlog", linthresh=1)
    ax.set(
        title=title or "Movie vector length vs popularity",
        xlabel="number of training ratings (log scale above 1)",
        ylabel="length of the movie vector",
    )
    return ax


def plot_rank_frequency(
    ratings: pd.DataFrame, *, by: str = "movieId", ax: plt.Axes | None = None, **kwargs
) -> plt.Axes:
    """Number of ratings of each user or movie against its rank (both log): the long tail without binning gaps."""
    ax = _ax(ax)
    counts = np.sort(ratings.groupby(by).size().to_numpy())[::-1]
    who = "user" if by == "userId" else "movie"
    ax.plot(
        np.arange(1, len(counts) + 1), counts, **{"color": OKABE_ITO[1] if who == "movie" else OKABE_ITO[0], **kwargs}
    )
    ax.set(
        xscale="log",
        yscale="log",
        title=f"Ratings per {who}, most rated first (median {np.median(counts):g})",
        xlabel=f"rank of the {who} (1 = most ratings; log scale)",
        ylabel="number of ratings (log scale)",
    )
    return ax


def plot_exploration(
    results: pd.DataFrame,
    param: str,
    *,
    metric: str = "val_rmse",
    ax: plt.Axes | None = None,
    xlabel: str | None = None,
    ylabel: str = "validation RMSE (stars, lower is better)",
    title: str | None = None,
    log_x: bool = True,
    references: dict[str, float] | None = None,
    **kwargs,
) -> plt.Axes:
    """``metric`` against one explored setting, the best marked; log x for sizes and rates. Several runs of one value
    (other seeds) are drawn as small dots, with their mean ± sd.

    ``references`` draws horizontal lines (e.g. a floor), so a small spread is seen against a known gap.
    """
    ax = _ax(ax)
    runs = results.sort_values(param)
    ordered = runs.groupby(param, as_index=False)[metric].agg(["mean", "std"]).rename(columns={"mean": metric})
    if len(ordered) < len(runs):
        ax.scatter(runs[param], runs[metric], s=12, color="0.35", label="one run", zorder=4)
        ax.errorbar(ordered[param], ordered[metric], yerr=ordered["std"], capsize=4, color=OKABE_ITO[0], marker="o",
                    label="mean ± sd of the runs", **kwargs)  # fmt: skip
    else:
        ax.plot(ordered[param], ordered[metric], marker="o", **{"color": OKABE_ITO[0], **kwargs})
    best = ordered.loc[ordered[metric].idxmin()]
    best_label = "best mean" if len(ordered) < len(runs) else "best"
    ax.scatter([best[param]], [best[metric]], s=120, facecolors="none", edgecolors=OKABE_ITO[5], label=best_label)
    if log_x:
        ax.set_xscale("log")
        ax.set_xticks(ordered[param].to_numpy(), [f"{v:g}" for v in ordered[param]])
        ax.minorticks_off()
    for i, (name, value) in enumerate((references or {}).items()):
        style = REFERENCE_STYLES[i % len(REFERENCE_STYLES)]
        ax.axhline(value, linestyle=style, color="0.3", linewidth=1.2, label=f"{name} ({value:.3f})")
    shown = [*runs[metric], *(references or {}).values()]
    pad = max((max(shown) - min(shown)) * 0.5, 0.005)
    ax.set_ylim(min(shown) - pad, max(shown) + pad)
    ax.set(title=title or f"{ylabel.split(' (')[0]} by {xlabel or param}", xlabel=xlabel or param, ylabel=ylabel)
    ax.legend()
    return ax


def plot_sweep(results: pd.DataFrame, params: list[str], *, metric: str = "val_rmse") -> plt.Figure:
    """``metric`` against each swept parameter: mean over runs, with the spread (standard deviation) as error bars."""
    ok = results[results["status"] == "ok"]
    fig, axes = plt.subplots(1, len(params), figsize=(5 * len(params), 4), squeeze=False)
    for ax, param in zip(axes[0], params, strict=True):
        sns.pointplot(data=ok, x=param, y=metric, errorbar="sd", ax=ax, native_scale=True)
        what = metric.replace("val_", "validation ").replace("rmse", "RMSE")
        ax.set(title=f"{what} by {param} ({len(ok)} runs)", xlabel=param, ylabel=f"{what} (lower is better)")
    fig.tight_layout()
    return fig


def plot_similarity_matrix(pairs: pd.DataFrame, *, title: str, ax: plt.Axes | None = None) -> plt.Axes:
    """A heatmap of ``compare.compare_tasks``'s means: every two tasks, the diagonal each task against itself under
    another seed. The scale runs from 0 to 1 in a colour-blind-safe map, the value written in each cell."""
    ax = _ax(ax)
    names = list(dict.fromkeys([*pairs["first"], *pairs["second"]]))
    matrix = pairs.pivot(index="first", columns="second", values="mean").reindex(index=names, columns=names)
    matrix = matrix.combine_first(matrix.T)
    sns.heatmap(matrix, annot=True, fmt=".2f", vmin=0, vmax=1, cmap="cividis", square=True, ax=ax,
                cbar_kws={"label": "mean over pairs of seeds"})  # fmt: skip
    ax.set(title=title, xlabel="diagonal: the same task trained with another seed", ylabel="")
    return ax
