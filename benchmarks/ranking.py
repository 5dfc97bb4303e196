"""Benchmark rows for the ranking protocol of lesson 7: every model fitted on the same split by time and scored on
its top-10 lists (NDCG@10, recall@10, coverage), with fit times.

The rows: popularity, the movie-bias floor, lesson 3's bias model and a truncated SVD (rating models, scored by their
ranking), the Keras implicit model (in-batch softmax, mean of three seeds), and the `implicit` library's BPR and ALS
(the established peers for implicit feedback; ``pip install implicit``, the ``[bench]`` extra), at their defaults and
tuned. The Keras model, BPR and ALS are tuned alike: a small grid each, scored on a split carved out of the training
part by the same rule as the test split, the best refitted on the whole training part.
Run with the main benchmark (``python -m benchmarks.bench``) or alone: ``python -m benchmarks.ranking``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from importlib.util import find_spec
from pathlib import Path

from benchmarks.goals import fill_report, goal, goals_markdown

__all__ = ["RANKING_GOAL_OVER_POPULARITY", "main", "run_ranking_benchmark", "to_markdown"]

RANKING_GOAL_OVER_POPULARITY = 1.2
IMPLICIT_MODEL = "Keras implicit, in-batch softmax"
PEERS = ("implicit BPR", "implicit ALS")


def _timed(fit):
    start = time.perf_counter()
    scorer = fit()
    return scorer, time.perf_counter() - start


def run_ranking_benchmark(
    dataset: str = "ml-latest-small", seeds: tuple[int, ...] = (42, 43, 44), quick: bool = False, echo=print
) -> dict:
    """Fit and score every ranking row once (the Keras implicit model once per seed); return rows and goals."""
    import embedlib
    from embedlib import baselines, models, ranking, retrieval, training

    data = embedlib.load_movielens(dataset)
    split = ranking.ranking_split(data)
    prep = split.prepared(valid_frac=0.1, seed=seeds[0])  # the Keras rating model's early stopping
    everything = split.prepared(valid_frac=0)  # the models that need no early stopping learn from every rating
    rows: list[dict] = []

    def add(name: str, description: str, fits: list) -> None:
        scores = [ranking.evaluate(scorer, split) for scorer, _ in fits]
        row = {"model": name, "status": "ok", "description": description, "seeds": len(fits)}
        for key in ("ndcg@10", "recall@10", "coverage"):
            row[key] = statistics.mean(s[key] for s in scores)
            row[f"{key} sd"] = statistics.stdev(s[key] for s in scores) if len(scores) > 1 else None
        row["fit_seconds"] = statistics.median(seconds for _, seconds in fits)
        rows.append(row)
        echo(
            f"{name:<34} NDCG@10 {row['ndcg@10']:.4f}  recall@10 {row['recall@10']:.4f}  fit {row['fit_seconds']:.2f} s"
        )

    add(
        "popularity",
        "most-rated training movies, the same list for all",
        [_timed(lambda: ranking.popularity_scorer(split))],
    )

    def movie_bias():
        return ranking.same_for_everyone(baselines.BiasBaseline().fit(everything).movie_bias_)

    add("movie bias (ALS)", "movies by their bias in the regularised biases-only model", [_timed(movie_bias)])

    def bias_model():
        model = models.dot_with_bias(
            prep.n_users, prep.n_movies, weight_decay=1e-4, rating_range=prep.rating_range, seed=seeds[0]
        )
        training.fit(model, prep, epochs=2 if quick else 30, batch_size=1024, learning_rate=0.003, verbose=False)
        return ranking.model_scorer(model)

    add("dot + biases (lesson 3)", "rating model, lesson 3's fast settings, weight decay 1e-4", [_timed(bias_model)])

    def svd():
        fitted = baselines.SVDBaseline(n_components=20, seed=seeds[0]).fit(everything)
        return ranking.factor_scorer(fitted.user_factors_, fitted.movie_factors_)

    add("truncated SVD (20)", "rating model, SVD of the user-centred matrix", [_timed(svd)])

    valid_split = _validation_split(data)

    def implicit_model(on, seed: int, settings: dict):
        shape = {name: settings[name] for name in ("embedding_dim", "weight_decay")}
        training_settings = {name: settings[name] for name in ("epochs", "batch_size", "learning_rate")}
        model = retrieval.InBatchSoftmaxModel(
            on.n_users, on.n_movies, movie_counts=on.movie_counts(), seed=seed, **shape
        )
        retrieval.fit_implicit(model, on.train, seed=seed, verbose=False, **training_settings)
        return ranking.model_scorer(model)

    grid = QUICK_KERAS_GRID if quick else KERAS_GRID
    chosen = _tune("Keras implicit", grid, lambda settings: implicit_model(valid_split, seeds[0], settings),
                   valid_split, echo)  # fmt: skip
    add(
        IMPLICIT_MODEL,
        f"logQ correction; tuned: {_describe(chosen)}",
        [_timed(lambda s=s: implicit_model(split, s, chosen)) for s in seeds],
    )
    if find_spec("implicit") is None:
        for name in PEERS:
            rows.append({"model": name, "status": "absent (pip install implicit)", "description": "not installed"})
            echo(f"{name:<34} absent: the implicit library is not installed")
    else:
        _implicit_rows(split, valid_split, seeds[0], quick, add, echo)
    return {"dataset": dataset, "quick": quick, "rows": rows, "goals": _goals({r["model"]: r for r in rows})}


# Every learned model is tuned the same way: each setting fitted once on a split carved out of the training part by
# the same rule (each user's last 20% of their training ratings held out), the best by NDCG@10 refitted on the whole
# training part and scored on the test part, which no choice ever saw.
KERAS_GRID = [
    {"embedding_dim": d, "weight_decay": wd, "epochs": 15, "batch_size": bs, "learning_rate": lr}
    for d in (32, 64)
    for wd in (5e-5, 1e-4)
    for bs, lr in ((512, 0.005), (1024, 0.01))
]
QUICK_KERAS_GRID = [{"embedding_dim": 8, "weight_decay": 1e-4, "epochs": 2, "batch_size": 512, "learning_rate": 0.005}]
# The implicit library's defaults (100 factors; ALS regularization 0.01, alpha 1; BPR learning rate 0.01) are in the grids.
ALS_GRID = [
    {"factors": f, "regularization": r, "alpha": a}
    for f in (32, 64, 100)
    for r in (0.01, 0.1, 1.0)
    for a in (1.0, 10.0)
]
BPR_GRID = [{"factors": f, "learning_rate": lr} for f in (32, 64, 100) for lr in (0.01, 0.05)]


def _validation_split(data):
    from embedlib import ranking
    from embedlib.dataset import Dataset

    train, _ = ranking.chronological_split(data.ratings)
    return ranking.ranking_split(Dataset(f"{data.name} (training part)", train, data.movies, data.scale, "split"))


def _describe(settings: dict) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in settings.items())


def _tune(name: str, grid: list[dict], fit, valid_split, echo) -> dict:
    from embedlib import ranking

    scored = [(ranking.evaluate(fit(settings), valid_split)["ndcg@10"], -i) for i, settings in enumerate(grid)]
    best_score, best = max(scored)
    echo(f"{name}: {len(grid)} settings tried on the validation split; best NDCG@10 {best_score:.4f} with "
         f"{_describe(grid[-best])}")  # fmt: skip
    return grid[-best]


def _implicit_rows(split, valid_split, seed: int, quick: bool, add, echo) -> None:
    import implicit
    from threadpoolctl import threadpool_limits

    from embedlib import ranking

    iterations = {"iterations": 2} if quick else {}
    makers = {
        "implicit BPR": lambda **kw: implicit.cpu.bpr.BayesianPersonalizedRanking(
            random_state=seed, **iterations, **kw
        ),
        "implicit ALS": lambda **kw: implicit.cpu.als.AlternatingLeastSquares(random_state=seed, **iterations, **kw),
    }
    grids = {"implicit BPR": BPR_GRID, "implicit ALS": ALS_GRID}

    def fit(name: str, on, settings: dict):
        with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, not BLAS's
            model = makers[name](**settings)
            model.fit(on.seen(), show_progress=False)
        return ranking.factor_scorer(model.user_factors, model.item_factors)

    for name in PEERS:
        add(
            f"{name}, defaults",
            "the implicit library's defaults (100 factors)",
            [_timed(lambda n=name: fit(n, split, {}))],
        )
        grid = grids[name][:1] if quick else grids[name]
        chosen = _tune(name, grid, lambda settings, n=name: fit(n, valid_split, settings), valid_split, echo)
        add(name, f"tuned: {_describe(chosen)}", [_timed(lambda n=name, c=chosen: fit(n, split, c))])


def _goals(by_name: dict[str, dict]) -> list[dict]:
    keras_row, popularity = by_name[IMPLICIT_MODEL], by_name["popularity"]
    goals = [
        goal(
            f"{IMPLICIT_MODEL}: NDCG@10 / popularity's >= {RANKING_GOAL_OVER_POPULARITY}",
            keras_row["ndcg@10"] / popularity["ndcg@10"],
            RANKING_GOAL_OVER_POPULARITY,
            higher_is_better=True,
        )
    ]
    peers = [by_name[name] for name in PEERS if by_name[name].get("status") == "ok"]  # the tuned rows
    best = max(peers, key=lambda r: r["ndcg@10"]) if peers else None
    goals.append(
        goal(
            f"{IMPLICIT_MODEL}: NDCG@10 >= the best of implicit's BPR and ALS, tuned alike"
            + (f" ({best['model']})" if best else ""),
            keras_row["ndcg@10"],
            best["ndcg@10"] if best else None,
            higher_is_better=True,
        )
    )
    goals.append(
        goal(
            f"{IMPLICIT_MODEL}: fit time / {best['model'] if best else 'the best peer'}'s <= 2",
            keras_row["fit_seconds"] / best["fit_seconds"] if best else None,
            2.0,
        )
    )
    return goals


def to_markdown(result: dict) -> str:
    """The ranking rows as a markdown table, then the goals."""
    lines = [
        f"Top-10 lists on `{result['dataset']}` split by time (each user's first 80% of ratings train, the rest is "
        "held out; every training movie the user has not rated is a candidate). Means over seeds ± sd where a row "
        "has several.",
        "",
        "| model | NDCG@10 | recall@10 | coverage | fit s | settings |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        if r["status"] != "ok":
            lines.append(f"| {r['model']} | {r['status']} | | | | {r['description']} |")
            continue

        def shown(key: str, r: dict = r) -> str:
            sd = r.get(f"{key} sd")
            return f"{r[key]:.4f}" + (f" ± {sd:.4f}" if sd is not None else "")

        lines.append(
            f"| {r['model']} | {shown('ndcg@10')} | {shown('recall@10')} | {shown('coverage')} | "
            f"{r['fit_seconds']:.2f} | {r['description']} |"
        )
    lines += ["", *goals_markdown(result["goals"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run, print, save ``ranking.json`` and ``ranking.md``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ranking", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--output-dir", default="bench-output", type=Path)
    parser.add_argument("--quick", action="store_true", help="tiny settings, for tests")
    parser.add_argument("--report", type=Path, help="also write the tables into this file between its ranking markers")
    args = parser.parse_args(argv)
    result = run_ranking_benchmark(dataset=args.dataset, quick=args.quick)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "ranking.json").write_text(json.dumps(result, indent=2) + "\n")
    markdown = to_markdown(result)
    (args.output_dir / "ranking.md").write_text(markdown + "\n")
    print("\n" + markdown)
    if args.report:
        fill_report(args.report, "ranking", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
