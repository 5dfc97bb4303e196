"""Benchmark: every model of the course, the floors and classical baselines on one split, side by side.

Each model is fitted in a fresh process, so that its peak memory (the process's maximum resident set size) is its
own and one run cannot warm caches for another. Times are medians over ``repeats`` fits; they are also reported as
ratios to a reference fitted in the same run (scikit-surprise's SVD when installed, else the lesson-3 model).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

__all__ = ["CASES", "GOALS", "main", "run_benchmark"]


@dataclass(frozen=True)
class Case:
    """One row of the benchmark: what to fit and how."""

    name: str
    kind: str  # "floor", "classical", "surprise" or "keras"
    description: str
    settings: dict = field(default_factory=dict)


LESSON_DEFAULTS = {"embedding_dim": 64, "epochs": 10, "batch_size": 32, "learning_rate": 1e-3, "patience": 2}
CASES = [
    Case("global mean", "floor", "predict the training mean"),
    Case("biases only", "floor", "mean + user bias + movie bias, regularised ALS"),
    Case("truncated SVD", "classical", "SVD of the user-centred matrix, 10 factors", {"n_components": 10}),
    Case("surprise BaselineOnly", "surprise", "scikit-surprise, defaults"),
    Case("surprise SVD", "surprise", "scikit-surprise, defaults"),
    Case("dot (lesson 2)", "keras", "simple_dot at the lessons' defaults", {"model": "dot", **LESSON_DEFAULTS}),
    Case(
        "dot + biases (lesson 3)",
        "keras",
        "dot_with_bias at the lessons' defaults",
        {"model": "bias", **LESSON_DEFAULTS},
    ),
    Case(
        "DIY layer (lesson 5)",
        "keras",
        "simple_dot with SimpleEmbedding, init [-0.05, 0.05]",
        {"model": "diy", **LESSON_DEFAULTS},
    ),
    Case(
        "dot + biases, fast",
        "keras",
        "batch 1024, lr 0.01, L2 1e-5, 32 dims, steps_per_execution 8",
        {
            "model": "bias",
            "embedding_dim": 32,
            "epochs": 30,
            "batch_size": 1024,
            "learning_rate": 0.01,
            "patience": 2,
            "l2": 1e-5,
            "steps_per_execution": 8,
        },
    ),
    Case(
        "dot + biases, best found",
        "keras",
        "batch 256, lr 0.003, L2 3e-5, 32 dims, patience 3",
        {
            "model": "bias",
            "embedding_dim": 32,
            "epochs": 30,
            "batch_size": 256,
            "learning_rate": 0.003,
            "patience": 3,
            "l2": 3e-5,
            "steps_per_execution": 8,
        },
    ),
]
QUICK = {"epochs": 2, "batch_size": 512, "embedding_dim": 8, "learning_rate": 0.01}
GOALS = {
    "dot + biases (lesson 3) RMSE <= 0.87": ("dot + biases (lesson 3)", "val_rmse", 0.87),
    "best configuration RMSE <= 0.84": ("dot + biases, best found", "val_rmse", 0.84),
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


OTHER_BACKENDS = {"tensorflow": "tensorflow", "torch": "torch"}  # Keras backend name -> the module it needs


def _fit_case(case: Case, dataset: str, seed: int, quick: bool, backend: str | None = None) -> dict:
    """Fit one case in this (fresh) process and measure it; ``backend`` must be chosen before Keras is imported."""
    if backend:
        os.environ["KERAS_BACKEND"] = backend
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
        row.update(_fit_keras(case.settings, prep, seed, quick))
    row["fit_seconds"] = time.perf_counter() - start
    if row["epochs"]:
        row["seconds_per_epoch"] = row["fit_seconds"] / row["epochs"]
    row["peak_mb"] = _peak_mb()
    return row


def _fit_keras(settings: dict, prep, seed: int, quick: bool) -> dict:
    from embedlib.layers import SimpleEmbedding
    from embedlib.models import dot_with_bias, simple_dot
    from embedlib.training import evaluate_rmse, fit

    s = {**settings, **(QUICK if quick else {})}
    if s["model"] == "bias":
        model = dot_with_bias(
            prep.n_users,
            prep.n_movies,
            embedding_dim=s["embedding_dim"],
            l2=s.get("l2", 0.0),
            rating_range=prep.rating_range,
            seed=seed,
        )
    elif s["model"] == "diy":
        model = simple_dot(
            prep.n_users,
            prep.n_movies,
            embedding_dim=s["embedding_dim"],
            embedding_layer=SimpleEmbedding,
            init_range=(-0.05, 0.05),
            seed=seed,
        )
    else:
        model = simple_dot(prep.n_users, prep.n_movies, embedding_dim=s["embedding_dim"], seed=seed)
    import keras

    # Keras's PyTorch backend only runs one step per call.
    steps = 1 if keras.backend.backend() == "torch" else s.get("steps_per_execution", 1)
    history = fit(
        model,
        prep,
        epochs=s["epochs"],
        batch_size=s["batch_size"],
        learning_rate=s["learning_rate"],
        patience=s["patience"],
        seed=seed,
        verbose=False,
        steps_per_execution=steps,
    )
    return {"val_rmse": evaluate_rmse(model, prep), "epochs": len(history)}


def _fit_surprise(name: str, prep, seed: int) -> float:
    import numpy as np
    from surprise import SVD, BaselineOnly, Dataset, Reader

    from embedlib.training import rmse

    reader = Reader(rating_scale=prep.rating_range)
    trainset = Dataset.load_from_df(prep.train[["userId", "movieId", "rating"]], reader).build_full_trainset()
    algo = SVD(random_state=seed) if name == "surprise SVD" else BaselineOnly(verbose=False)
    algo.fit(trainset)
    pred = np.array([algo.predict(u, m).est for u, m in zip(prep.valid["userId"], prep.valid["movieId"])])
    return rmse(prep.valid["rating"].to_numpy(), pred)


def _one_fit(case: Case, dataset: str, seed: int, quick: bool, backend: str | None = None) -> dict:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_fit_case, case, dataset, seed, quick, backend).result()


def installed_backends() -> list[str]:
    """Keras backends besides JAX whose libraries are installed here."""
    return [name for name, module in OTHER_BACKENDS.items() if find_spec(module) is not None]


def _measure(fit_once, description: str, repeats: int, echo) -> dict:
    """Fit ``repeats`` times; one row with the median of each measurement."""
    fits = [fit_once() for _ in range(repeats)]
    row = {**fits[0], "status": "ok", "description": description, "repeats": repeats}
    for key in ("fit_seconds", "seconds_per_epoch", "peak_mb", "val_rmse"):
        if fits[0].get(key) is not None:
            row[key] = statistics.median(f[key] for f in fits)
    echo(f"{row['model']:<28} RMSE {row['val_rmse']:.4f}  fit {row['fit_seconds']:.1f} s")
    return row


def run_benchmark(
    dataset: str = "ml-latest-small", repeats: int = 1, seed: int = 42, quick: bool = False, echo=print
) -> dict:
    """Fit every case ``repeats`` times; return rows with medians, the reference ratios and the goals."""
    has_surprise = find_spec("surprise") is not None
    rows = []
    for case in CASES:
        if case.kind == "surprise" and not has_surprise:
            rows.append(
                {"model": case.name, "status": "absent (pip install scikit-surprise)", "description": case.description}
            )
            echo(f"{case.name:<28} absent: scikit-surprise is not installed")
            continue
        # Quick mode (tests) fits in this process: seconds instead of a fresh JAX start per case.
        fit_one = _fit_case if quick else _one_fit
        rows.append(_measure(lambda: fit_one(case, dataset, seed, quick), case.description, repeats, echo))
    for backend in installed_backends():  # the lessons' Keras models again, on each other installed backend
        for case in (c for c in CASES if c.kind == "keras"):
            try:
                row = _measure(
                    lambda: _one_fit(case, dataset, seed, quick, backend),
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
                echo(f"{row['model']:<28} {row['status']}")
            rows.append(row)
    reference = "surprise SVD" if has_surprise else "dot + biases (lesson 3)"
    ref_seconds = next(r["fit_seconds"] for r in rows if r["model"] == reference)
    for r in rows:
        if r["status"] == "ok":
            r["time_ratio"] = r["fit_seconds"] / ref_seconds
    return {
        "dataset": dataset,
        "seed": seed,
        "quick": quick,
        "reference": reference,
        "rows": rows,
        "goals": _goals(rows, has_surprise),
        "machine": _machine(),
    }


def _goals(rows: list[dict], has_surprise: bool) -> list[dict]:
    by_name = {r["model"]: r for r in rows if r["status"] == "ok"}
    goals = []
    for label, (name, key, bar) in GOALS.items():
        value = by_name[name][key]
        goals.append({"goal": label, "value": value, "met": value <= bar, "margin": bar - value})
    fast = by_name["dot + biases, fast"]
    if has_surprise:
        svd = by_name["surprise SVD"]
        goals.append(
            {
                "goal": "fast configuration beats surprise SVD on RMSE",
                "value": fast["val_rmse"],
                "met": fast["val_rmse"] < svd["val_rmse"],
                "margin": svd["val_rmse"] - fast["val_rmse"],
            }
        )
        goals.append(
            {
                "goal": "fast configuration fits no slower than surprise SVD",
                "value": fast["fit_seconds"],
                "met": fast["fit_seconds"] <= svd["fit_seconds"],
                "margin": svd["fit_seconds"] - fast["fit_seconds"],
            }
        )
    else:
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


def _machine() -> dict:
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "keras": version("keras"),
        "backend": os.environ.get("KERAS_BACKEND", "jax"),
        "jax": version("jax"),
    }


def step_profile(table_rows: tuple[int, ...] = (100, 10_000, 100_000), n: int = 32_000, seed: int = 0) -> list[dict]:
    """Milliseconds per training step at batch 32 for movie tables of different sizes, Adam against SGD.

    If the time were per-step overhead it would not depend on the table; it grows with it, because on JAX the
    gradient of a lookup is a dense table-sized array and Adam then updates every row at every step.
    """
    import numpy as np

    import embedlib  # noqa: F401 - sets the backend
    from embedlib.models import simple_dot

    rng = np.random.default_rng(seed)
    rows = []
    for size in table_rows:
        x = {"user": rng.integers(1, 611, n).astype("int32"), "movie": rng.integers(1, size, n).astype("int32")}
        y = rng.uniform(0.5, 5, (n, 1)).astype("float32")
        for optimizer in ("adam", "sgd"):
            model = simple_dot(610, size, seed=seed)
            model.compile(optimizer, "mse")
            model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # compile and warm up
            start = time.perf_counter()
            model.fit(x, y, batch_size=32, epochs=1, verbose=0)
            rows.append(
                {
                    "movie_rows": size,
                    "optimizer": optimizer,
                    "ms_per_step": (time.perf_counter() - start) / (n / 32) * 1000,
                }
            )
    return rows


def to_markdown(result: dict) -> str:
    """The benchmark as a markdown table, goals and machine."""
    lines = [
        f"Validation RMSE on a random 80/20 split of `{result['dataset']}` (seed {result['seed']}); times are "
        f"medians, ratios are against **{result['reference']}** fitted in the same run.",
        "",
        "| model | RMSE | epochs | s/epoch | fit s | × reference time | peak MB | settings |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        if r["status"] != "ok":
            lines.append(f"| {r['model']} | {r['status']} | | | | | | {r['description']} |")
            continue
        spe = f"{r['seconds_per_epoch']:.2f}" if r.get("seconds_per_epoch") else "–"
        lines.append(
            f"| {r['model']} | {r['val_rmse']:.4f} | {r['epochs'] or '–'} | {spe} | {r['fit_seconds']:.2f} | "
            f"{r['time_ratio']:.2f} | {r['peak_mb']:.0f} | {r['description']} |"
        )
    lines += ["", "| goal | value | met | margin |", "|---|---|---|---|"]
    for g in result["goals"]:
        if g["met"] is None:
            lines.append(f"| {g['goal']} | – | – | {g.get('note', '')} |")
        else:
            lines.append(f"| {g['goal']} | {g['value']:.4f} | {'yes' if g['met'] else 'NO'} | {g['margin']:+.4f} |")
    if result.get("step_profile"):
        lines += [
            "",
            "Milliseconds per training step at batch 32 (simple_dot, 64 dims) by size of the movie table:",
            "",
            "| movie rows | Adam | SGD |",
            "|---|---|---|",
        ]
        by_rows: dict = {}
        for p in result["step_profile"]:
            by_rows.setdefault(p["movie_rows"], {})[p["optimizer"]] = p["ms_per_step"]
        for size, t in by_rows.items():
            lines.append(f"| {size:,} | {t['adam']:.3f} | {t['sgd']:.3f} |")
    m = result["machine"]
    lines += [
        "",
        f"Machine: {m['cores']} cores, {m['processor']}, {m['platform']}; Python {m['python']}, "
        f"Keras {m['keras']} on {m['backend']} (jax {m['jax']}).",
    ]
    return "\n".join(lines)


def main(dataset: str, output_dir: Path, repeats: int = 1, quick: bool = False) -> int:
    """The ``embedlib bench`` command: run, print, save ``bench.json`` and ``bench.md``."""
    result = run_benchmark(dataset=dataset, repeats=repeats, quick=quick)
    if not quick:
        print("profiling the training step ...")
        result["step_profile"] = step_profile()
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    markdown = to_markdown(result)
    (output_dir / "bench.md").write_text(markdown + "\n")
    print("\n" + markdown)
    print(f"\nSaved {output_dir / 'bench.md'} and {output_dir / 'bench.json'}")
    return 0
