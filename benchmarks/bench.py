"""Benchmark: every model of the course, the floors, classical baselines and the row-wise path on one split; then
the ranking protocol of lesson 7 (benchmarks/ranking.py).

Run from a checkout: ``python -m benchmarks.bench`` (``--help`` for options). It is the project's own measurement,
not part of the library learners import.

Each model is fitted in a fresh process with an empty JAX compilation cache, so its time includes compiling (a cold
start) and its peak memory (the process's maximum resident set size) is its own. The fast configuration is fitted
a second time in a fresh process with the cache the first fit filled (a warm start). Times are medians over
``repeats`` fits; they are also reported as ratios to a reference fitted in the same run (scikit-surprise's SVD
when installed, else the lesson-3 model). Seconds per epoch leave out the first epoch, which includes compiling.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from benchmarks import ranking as ranking_bench
from benchmarks.goals import fill_report, goal, goals_markdown

__all__ = ["CASES", "GOALS", "main", "run_benchmark"]


@dataclass(frozen=True)
class Case:
    """One row of the benchmark: what to fit and how."""

    name: str
    kind: str  # "floor", "classical", "surprise", "keras" or "rowwise"
    description: str
    settings: dict = field(default_factory=dict)


LESSON_DEFAULTS = {"embedding_dim": 64, "epochs": 10, "batch_size": 32, "learning_rate": 1e-3, "patience": 2}
LESSON_3 = "dot + biases (lesson 3)"
ROWWISE_32 = "row-wise lazy Adam, batch 32"
FAST = "row-wise fast"
BEST = "row-wise best (3 seeds)"
# Per-rating L2 and no dropout: the regularisation of Koren et al. (2009) and scikit-surprise.
PER_RATING = {"model": "bias", "user_dropout": 0.0, "movie_dropout": 0.0, "optimizer": "adagrad",
              "per_rating_weight_decay": 0.05}  # fmt: skip
CASES = [
    Case("global mean", "floor", "predict the training mean"),
    Case("biases only", "floor", "mean + user bias + movie bias, regularised ALS"),
    Case("truncated SVD", "classical", "SVD of the user-centred matrix, 10 factors", {"n_components": 10}),
    Case("surprise BaselineOnly", "surprise", "scikit-surprise, defaults"),
    Case("surprise SVD", "surprise", "scikit-surprise, defaults"),
    Case(
        "dot (lesson 2)",
        "keras",
        "simple_dot at the lessons' defaults, one batch per call of Keras's train function (its default)",
        {"model": "dot", **LESSON_DEFAULTS},
    ),
    Case(
        LESSON_3,
        "keras",
        "dot_with_bias at the lessons' defaults, one batch per call of Keras's train function (its default)",
        {"model": "bias", **LESSON_DEFAULTS},
    ),
    Case(
        "dot + biases (lesson 3), 64 steps per call",
        "keras",
        "the same, 64 batches per call of Keras's train function (embedlib.training.fit's default, as the lessons run it)",
        {"model": "bias", **LESSON_DEFAULTS, "steps_per_execution": 64},
    ),
    Case(
        "DIY layer (lesson 5)",
        "keras",
        "simple_dot with SimpleEmbedding, init [-0.05, 0.05], one batch per call of Keras's train function",
        {"model": "diy", **LESSON_DEFAULTS},
    ),
    Case(
        "Keras fit, batch 1024",
        "keras",
        "dot_with_bias, batch 1024, lr 0.01, L2 1e-5, 32 dims, steps_per_execution 8",
        {
            "model": "bias",
            "embedding_dim": 32,
            "epochs": 30,
            "batch_size": 1024,
            "learning_rate": 0.01,
            "patience": 2,
            "weight_decay": 1e-5,
            "steps_per_execution": 8,
        },
    ),
    Case(
        "row-wise SGD, batch 32",
        "rowwise",
        "lesson 3's model, row-wise SGD lr 0.005",
        {"model": "bias", **LESSON_DEFAULTS, "optimizer": "sgd", "learning_rate": 0.005},
    ),
    Case(
        "row-wise Adagrad, batch 32",
        "rowwise",
        "lesson 3's model, row-wise Adagrad lr 0.05",
        {"model": "bias", **LESSON_DEFAULTS, "optimizer": "adagrad", "learning_rate": 0.05},
    ),
    Case(
        ROWWISE_32,
        "rowwise",
        "lesson 3's model, row-wise lazy Adam",
        {"model": "bias", **LESSON_DEFAULTS, "optimizer": "adam"},
    ),
    Case(
        "row-wise lazy Adam, batch 256",
        "rowwise",
        "lesson 3's model, lazy Adam lr 0.005, per-rating L2 0.1, patience 3",
        {
            "model": "bias",
            **LESSON_DEFAULTS,
            "epochs": 40,
            "batch_size": 256,
            "learning_rate": 0.005,
            "per_rating_weight_decay": 0.1,
            "patience": 3,
            "optimizer": "adam",
        },
    ),
    Case(
        FAST,
        "rowwise",
        "Adagrad lr 0.2, batch 1024, per-rating L2 0.05, 32 dims, no dropout, patience 2",
        {**PER_RATING, "embedding_dim": 32, "epochs": 40, "batch_size": 1024, "learning_rate": 0.2, "patience": 2},
    ),
    Case(
        BEST,
        "rowwise",
        "Adagrad lr 0.1, batch 256, per-rating L2 0.05, 64 dims, no dropout, patience 3; mean of model seeds 42-44",
        {
            **PER_RATING,
            "embedding_dim": 64,
            "epochs": 40,
            "batch_size": 256,
            "learning_rate": 0.1,
            "patience": 3,
            "seeds": 3,
        },
    ),
]
QUICK = {"epochs": 2, "batch_size": 512, "embedding_dim": 8, "learning_rate": 0.01}
GOALS = {
    "dot + biases (lesson 3) RMSE <= 0.87": (LESSON_3, "val_rmse", 0.87),
    "best configuration RMSE <= 0.84 (mean of 3 seeds)": (BEST, "val_rmse", 0.84),
}
SPEEDUP_GOAL, RMSE_TOLERANCE = 20.0, 0.005


def _peak_mb() -> float | None:
    try:
        import resource  # POSIX only, hence imported here
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB on Linux


OTHER_BACKENDS = {"tensorflow": "tensorflow", "torch": "torch"}  # Keras backend name -> the module it needs


def _fit_case(
    case: Case, dataset: str, seed: int, quick: bool, backend: str | None = None, compile_cache: str | None = None
) -> dict:
    """Fit one case in this (fresh) process and measure it; ``backend`` must be chosen before Keras is imported."""
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    if compile_cache:  # read by embedlib.environment when embedlib is imported below
        os.environ["JAX_COMPILATION_CACHE_DIR"] = compile_cache
    import embedlib
    from embedlib.baselines import BiasBaseline, SVDBaseline, global_mean_rmse

    data = embedlib.load_movielens(dataset, seed=seed)
    prep = embedlib.prepare_ratings(data, valid_frac=0.2, seed=seed)
    label = f"{case.name} [{backend}]" if backend else case.name
    row = {"model": label, "dataset": data.name, "fallback": data.is_fallback, "epochs": None}
    start = time.perf_counter()
    if case.name == "global mean":
        row["val_rmse"] = global_mean_rmse(prep)
    elif case.name == "biases only":
        row["val_rmse"] = BiasBaseline().fit(prep).rmse(prep)
    elif case.name == "truncated SVD":
        row["val_rmse"] = SVDBaseline(seed=seed, **case.settings).fit(prep).rmse(prep)
    elif case.kind == "surprise":
        row["val_rmse"] = _fit_surprise(case.name, prep, seed)
    else:
        row.update(_fit_model(case, prep, seed, quick))
    row["fit_seconds"] = time.perf_counter() - start
    row["peak_mb"] = _peak_mb()
    return row


def _build(s: dict, prep, seed: int):
    from embedlib.layers import SimpleEmbedding
    from embedlib.models import dot_with_bias, simple_dot

    if s["model"] == "bias":
        dropout = {k: s[k] for k in ("user_dropout", "movie_dropout") if k in s}
        return dot_with_bias(
            prep.n_users,
            prep.n_movies,
            embedding_dim=s["embedding_dim"],
            weight_decay=s.get("weight_decay", 0.0),
            rating_range=prep.rating_range,
            seed=seed,
            **dropout,
        )
    if s["model"] == "diy":
        return simple_dot(
            prep.n_users,
            prep.n_movies,
            embedding_dim=s["embedding_dim"],
            embedding_layer=SimpleEmbedding,
            init_range=(-0.05, 0.05),
            seed=seed,
        )
    return simple_dot(prep.n_users, prep.n_movies, embedding_dim=s["embedding_dim"], seed=seed)


def _steady_seconds(epoch_seconds: list[float]) -> float:
    """Median seconds per epoch after the first, which includes compiling."""
    return statistics.median(epoch_seconds[1:] or epoch_seconds)


def _fit_model(case: Case, prep, seed: int, quick: bool) -> dict:
    """Fit a Keras or row-wise case (each model seed in turn); RMSE is the mean over seeds."""
    import keras

    from embedlib.rowwise import fit_rowwise
    from embedlib.training import evaluate_rmse, fit

    s = {**case.settings, **(QUICK if quick else {})}
    if "optimizer" in s and quick:
        s["learning_rate"] = case.settings["learning_rate"]
    results = []
    for model_seed in range(seed, seed + s.get("seeds", 1)):
        model = _build(s, prep, model_seed)
        common = {"epochs": s["epochs"], "batch_size": s["batch_size"], "learning_rate": s["learning_rate"]}
        if case.kind == "rowwise":
            history = fit_rowwise(
                model,
                prep,
                optimizer=s["optimizer"],
                per_rating_weight_decay=s.get("per_rating_weight_decay", 0.0),
                patience=s["patience"],
                seed=model_seed,
                verbose=False,
                **common,
            )
            epoch_seconds = history.attrs["epoch_seconds"]
        else:
            # Keras's PyTorch backend only runs one step per call.
            steps = 1 if keras.backend.backend() == "torch" else s.get("steps_per_execution", 1)
            history = fit(
                model,
                prep,
                patience=s["patience"],
                seed=model_seed,
                verbose=False,
                steps_per_execution=steps,
                **common,
            )
            epoch_seconds = history.attrs["epoch_seconds"]
        results.append((evaluate_rmse(model, prep), len(history), _steady_seconds(epoch_seconds)))
    rmses = [r[0] for r in results]
    row = {"val_rmse": statistics.mean(rmses), "epochs": results[0][1], "seconds_per_epoch": results[0][2]}
    if len(results) > 1:
        row["seed_rmses"] = rmses
    return row


def _fit_surprise(name: str, prep, seed: int) -> float:
    import numpy as np
    from surprise import SVD, BaselineOnly, Dataset, Reader

    from embedlib.training import rmse

    reader = Reader(rating_scale=prep.rating_range)
    trainset = Dataset.load_from_df(prep.train[["userId", "movieId", "rating"]], reader).build_full_trainset()
    algo = SVD(random_state=seed) if name == "surprise SVD" else BaselineOnly(verbose=False)
    algo.fit(trainset)
    pred = np.array([algo.predict(u, m).est for u, m in zip(prep.valid["userId"], prep.valid["movieId"], strict=True)])
    return rmse(prep.valid["rating"].to_numpy(), pred)


def _one_fit(
    case: Case, dataset: str, seed: int, quick: bool, backend: str | None = None, compile_cache: str | None = None
) -> dict:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_fit_case, case, dataset, seed, quick, backend, compile_cache).result()


def installed_backends() -> list[str]:
    """Keras backends besides JAX whose libraries are installed here."""
    return [name for name, module in OTHER_BACKENDS.items() if find_spec(module) is not None]


def _measure(fit_once, description: str, repeats: int, echo, label: str | None = None) -> dict:
    """Fit ``repeats`` times; one row with the median of each measurement."""
    fits = [fit_once() for _ in range(repeats)]
    row = {**fits[0], "status": "ok", "description": description, "repeats": repeats}
    if label:
        row["model"] = label
    for key in ("fit_seconds", "seconds_per_epoch", "peak_mb", "val_rmse"):
        if fits[0].get(key) is not None:
            row[key] = statistics.median(f[key] for f in fits)
    spe = f"  {row['seconds_per_epoch']:.3f} s/epoch" if row.get("seconds_per_epoch") else ""
    echo(f"{row['model']:<32} RMSE {row['val_rmse']:.4f}  fit {row['fit_seconds']:.2f} s{spe}")
    return row


def run_benchmark(
    dataset: str = "ml-latest-small", repeats: int = 1, seed: int = 42, quick: bool = False, echo=print
) -> dict:
    """Fit every case ``repeats`` times; return rows with medians, the reference ratios and the goals."""
    has_surprise = find_spec("surprise") is not None
    rows = []
    with tempfile.TemporaryDirectory(prefix="embedlib-bench-") as caches:
        used: dict[str, str] = {}

        def fit_cold(case: Case, backend: str | None = None) -> dict:
            if quick:  # tests: in this process, seconds instead of a fresh JAX start per case
                return _fit_case(case, dataset, seed, quick)
            used[case.name] = tempfile.mkdtemp(dir=caches)  # an empty compile cache: a cold start
            return _one_fit(case, dataset, seed, quick, backend, used[case.name])

        for case in CASES:
            if case.kind == "surprise" and not has_surprise:
                rows.append(
                    {
                        "model": case.name,
                        "status": "absent (pip install scikit-surprise)",
                        "description": case.description,
                    }
                )
                echo(f"{case.name:<32} absent: scikit-surprise is not installed")
                continue
            rows.append(_measure(lambda case=case: fit_cold(case), case.description, repeats, echo))
            if case.name == FAST:  # again, in a fresh process, with the compile cache the cold fit filled
                warm = (
                    (lambda case=case: _fit_case(case, dataset, seed, quick))
                    if quick
                    else (lambda case=case: _one_fit(case, dataset, seed, quick, None, used[case.name]))
                )
                rows.append(_measure(warm, f"{case.description}; compile cache warm", repeats, echo, f"{FAST}, warm"))
        for backend in installed_backends():  # the lessons' Keras models again, on each other installed backend
            for case in (c for c in CASES if c.kind == "keras"):
                try:
                    row = _measure(
                        lambda case=case, backend=backend: _one_fit(case, dataset, seed, quick, backend),
                        f"{case.description}, Keras on {backend}",
                        repeats,
                        echo,
                    )
                except Exception as exc:  # a backend that can't run a model is a row, not a crash
                    row = {
                        "model": f"{case.name} [{backend}]",
                        "status": f"failed: {type(exc).__name__}: {exc}"[:200],
                        "description": case.description,
                    }
                    echo(f"{row['model']:<32} {row['status']}")
                rows.append(row)
    from embedlib import environment

    reference = "surprise SVD" if has_surprise else LESSON_3
    by_name = {r["model"]: r for r in rows if r["status"] == "ok"}
    for r in by_name.values():
        r["time_ratio"] = r["fit_seconds"] / by_name[reference]["fit_seconds"]
        if r.get("seconds_per_epoch") and not r["model"].endswith("]"):
            r["epoch_speedup"] = by_name[LESSON_3]["seconds_per_epoch"] / r["seconds_per_epoch"]
    return {
        "dataset": dataset,
        "seed": seed,
        "quick": quick,
        "reference": reference,
        "rows": rows,
        "goals": _goals(by_name, has_surprise),
        "machine": environment.describe_machine(),
    }


def _goals(by_name: dict[str, dict], has_surprise: bool) -> list[dict]:
    goals = [goal(label, by_name[name][key], bar) for label, (name, key, bar) in GOALS.items()]
    keras_row, row_32 = by_name[LESSON_3], by_name[ROWWISE_32]
    goals.append(
        goal(
            f"{ROWWISE_32}: >= {SPEEDUP_GOAL:g}x fewer s/epoch than Keras fit (lesson 3 model)",
            row_32["epoch_speedup"],
            SPEEDUP_GOAL,
            higher_is_better=True,
        )
    )
    goals.append(
        goal(
            f"{ROWWISE_32}: RMSE within {RMSE_TOLERANCE} of Keras fit",
            abs(row_32["val_rmse"] - keras_row["val_rmse"]),
            RMSE_TOLERANCE,
        )
    )
    if not has_surprise:
        goals.append(
            {
                "goal": "fast configuration vs surprise SVD",
                "value": None,
                "met": None,
                "margin": None,
                "note": "not measured: scikit-surprise is not installed",
            }
        )
        return goals
    svd = by_name["surprise SVD"]
    goals.append(goal("fast configuration RMSE below surprise SVD's", by_name[FAST]["val_rmse"], svd["val_rmse"]))
    for name, start in ((FAST, "cold"), (f"{FAST}, warm", "warm")):
        goals.append(
            goal(
                f"fast configuration total fit time / surprise SVD's <= 1, compile cache {start}",
                by_name[name]["fit_seconds"] / svd["fit_seconds"],
                1.0,
            )
        )
    return goals


def step_profile(table_rows: tuple[int, ...] = (100, 10_000, 100_000), steps: int = 1000) -> list[dict]:
    """Milliseconds per training step at batch 32 for movie tables of different sizes: Keras Adam and SGD, row-wise.

    If the time were per-step overhead it would not depend on the table; with Keras on JAX it grows with it, because
    the gradient of a lookup is a dense table-sized array and Adam then updates every row at every step. The
    row-wise lazy Adam touches only the rows in the batch.
    """
    import embedlib  # noqa: F401 - sets the backend
    from embedlib.step_time import METHODS, step_seconds

    return [
        {"movie_rows": rows, "optimizer": method, "ms_per_step": 1000 * step_seconds(method, rows, steps=steps)}
        for rows in table_rows
        for method in METHODS
    ]


def to_markdown(result: dict) -> str:
    """The benchmark as a markdown table, goals and machine."""
    lines = [
        f"Validation RMSE on a random 80/20 split of `{result['dataset']}` (seed {result['seed']}). Fit times include "
        f"compiling with an empty compile cache (except the warm row); s/epoch leaves out the first epoch. Times are "
        f"medians over {result['rows'][0].get('repeats', 1)} fit(s); ratios are against **{result['reference']}** "
        f"and against Keras fit's s/epoch on lesson 3's model (one batch per call of Keras's train function), fitted in the same run.",
        "",
        "| model | RMSE | epochs | s/epoch | × faster per epoch than Keras fit on lesson 3's model | fit s | × reference time | "
        "peak MB | settings |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        if r["status"] != "ok":
            lines.append(f"| {r['model']} | {r['status']} | | | | | | | {r['description']} |")
            continue
        spe = f"{r['seconds_per_epoch']:.3f}" if r.get("seconds_per_epoch") else "–"
        speedup = f"{r['epoch_speedup']:.1f}" if r.get("epoch_speedup") else "–"
        peak = f"{r['peak_mb']:.0f}" if r.get("peak_mb") else "–"
        rmse = f"{r['val_rmse']:.4f}" + (
            " (" + ", ".join(f"{v:.4f}" for v in r["seed_rmses"]) + ")" if r.get("seed_rmses") else ""
        )
        lines.append(
            f"| {r['model']} | {rmse} | {r['epochs'] or '–'} | {spe} | {speedup} | {r['fit_seconds']:.2f} | "
            f"{r['time_ratio']:.2f} | {peak} | {r['description']} |"
        )
    lines += ["", *goals_markdown(result["goals"])]
    if result.get("step_profile"):
        lines += [
            "",
            "Milliseconds per training step at batch 32 (simple_dot, 64 dims) by size of the movie table:",
            "",
            "| movie rows | Keras Adam | Keras SGD | row-wise lazy Adam |",
            "|---|---|---|---|",
        ]
        by_rows: dict = {}
        for p in result["step_profile"]:
            by_rows.setdefault(p["movie_rows"], {})[p["optimizer"]] = p["ms_per_step"]
        for size, t in by_rows.items():
            lines.append(f"| {size:,} | {t['keras adam']:.3f} | {t['keras sgd']:.3f} | {t['rowwise adam']:.3f} |")
    m = result["machine"]
    lines += [
        "",
        f"Machine: {m['cores']} cores, {m['processor']}, {m['platform']}; Python {m['python']}, "
        f"Keras {m['keras']} on {m['backend']} (jax {m['jax']}).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run, print, save ``bench.json`` and ``bench.md``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench", description="Benchmark the course's models against floors and baselines."
    )
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--output-dir", default="bench-output", type=Path)
    parser.add_argument("--repeats", type=int, default=1, help="fits per model; timings are medians")
    parser.add_argument("--quick", action="store_true", help="tiny settings, in one process, for tests")
    parser.add_argument(
        "--report", type=Path, help="also write the tables into this file between its markers (benchmarks/README.md)"
    )
    args = parser.parse_args(argv)
    result = run_benchmark(dataset=args.dataset, repeats=args.repeats, quick=args.quick)
    if not args.quick:
        print("profiling the training step ...")
        result["step_profile"] = step_profile()
    print("the ranking protocol (lesson 7) ...")
    result["ranking"] = ranking_bench.run_ranking_benchmark(dataset=args.dataset, quick=args.quick)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    markdown = to_markdown(result) + "\n\n" + ranking_bench.to_markdown(result["ranking"])
    (args.output_dir / "bench.md").write_text(markdown + "\n")
    print("\n" + markdown)
    if args.report:
        fill_report(args.report, "bench", to_markdown(result))
        fill_report(args.report, "ranking", ranking_bench.to_markdown(result["ranking"]))
        print(f"\nWrote the tables into {args.report}")
    print(f"\nSaved {args.output_dir / 'bench.md'} and {args.output_dir / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
