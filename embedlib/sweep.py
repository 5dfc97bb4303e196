"""Parameter sweeps: a grid of lesson runs, each in its own kernel, several at once, resumable.

Each run writes its executed notebook and a small JSON result under ``<output_dir>/runs/``. A run whose JSON says
"ok" is not run again if it is still current: same parameters, same code cells in the lesson, and the same dataset
(the fingerprint the lesson recorded matches the copy a run would load now). So an interrupted sweep started again
with the same folder finishes only what is missing, and a sweep resumed after the lesson or the data changed runs
the stale runs again, saying so. ``results.csv`` and ``sweep.png`` are rebuilt from the JSON files at the end.

A sweep never writes inside the lessons folder, and a lesson executed by a sweep cannot start another sweep.

Past one machine: ``run_sweep`` hands each run to ``executor.submit``; any ``concurrent.futures``-style executor
works, e.g. a Dask cluster's (``distributed.Client(...).get_executor()``, which ``embedlib sweep --scheduler
ADDRESS`` uses), as long as the workers share the output folder and have the lessons and embedlib installed.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import asdict
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from tqdm import tqdm

from embedlib import data
from embedlib.checks import check_count
from embedlib.course import Lesson, ParameterError, check_parameters
from embedlib.environment import write_atomic
from embedlib.execute import RunResult, default_jobs, execute_lesson, process_pool, run_each

__all__ = ["MAX_RUNS_WITHOUT_YES", "SweepResult", "expand_grid", "run_sweep"]

MAX_RUNS_WITHOUT_YES = 24
# Set in the kernel of every run a sweep executes; run_sweep refuses to start where it is set.
SWEEP_RUN_ENV = "EMBEDLIB_SWEEP_RUN"


def expand_grid(lesson: Lesson, grid: dict[str, list], *, repeat: int = 1, base: dict | None = None) -> list[dict]:
    """Every combination of the grid's values (on top of ``base``), each repeat with its own seed; all checked."""
    base = dict(base or {})
    if not grid or any(not isinstance(v, list) or not v for v in grid.values()):
        raise ParameterError("A sweep needs at least one parameter with at least one value (-p NAME V1 V2 ...).")
    check_count("repeat", repeat)
    if repeat > 1 and "seed" not in lesson.defaults:
        raise ParameterError(f"{lesson.name} has no `seed` parameter, so repeats could not differ.")
    if repeat > 1 and "seed" in grid:
        raise ParameterError("Give either --repeat or a list of seeds, not both.")
    runs = []
    names = list(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        for r in range(repeat):
            params = {**base, **dict(zip(names, values, strict=True))}
            if repeat > 1:
                params["seed"] = int(base.get("seed", lesson.defaults["seed"])) + r
            runs.append(check_parameters(lesson, params))
    return runs


def run_id(params: dict, shown: list[str]) -> str:
    """A stable, readable name for one run: the ``shown`` parameters' values and a short hash of all of them."""
    text = json.dumps(params, sort_keys=True, default=str)
    readable = "_".join(f"{k}={params[k]}" for k in shown if k in params)
    safe = "".join(c if c.isalnum() or c in "=._-" else "-" for c in readable)[:80]
    return f"{safe}_{hashlib.sha1(text.encode()).hexdigest()[:8]}"


class _SweepRun:
    """One run of a sweep, as a picklable callable for a worker: its kernel, and only its kernel, is marked."""

    def __init__(self, lesson: Lesson, runs_dir: Path) -> None:
        self.lesson, self.runs_dir = lesson, runs_dir

    def __call__(self, run: tuple[str, dict]) -> dict:
        name, params = run
        output = self.runs_dir / f"{name}.ipynb"
        marked = {SWEEP_RUN_ENV: name}
        return asdict(execute_lesson(self.lesson, params, output, progress=False, kernel_environment=marked))


def _check_where(lesson: Lesson, output_dir: Path) -> None:
    """No sweep inside a sweep run, and no sweep output inside the lessons folder (the course's source)."""
    if os.environ.get(SWEEP_RUN_ENV):
        raise ParameterError(
            f"run_sweep was called inside a run of a sweep ({SWEEP_RUN_ENV}={os.environ[SWEEP_RUN_ENV]}): a lesson "
            "that sweeps itself would start sweeps without end. Sweep from the command line (`embedlib sweep`) or "
            "from a notebook that is not itself swept."
        )
    lessons = lesson.path.parent.resolve()
    if output_dir.resolve().is_relative_to(lessons):
        raise ParameterError(
            f"The sweep's output folder {output_dir.resolve()} is inside the lessons folder {lessons}: its executed "
            f"copies would mix with the course's source. Choose a folder outside it, e.g. sweep-output/{lesson.name}."
        )


def _stale_reason(stored: dict, lesson: Lesson, expected_data: str | None, real_data: bool) -> str | None:
    """Why a finished run no longer stands for what running it now would give, or None if it still does."""
    if stored.get("code_fingerprint") != lesson.code_fingerprint:
        return "the lesson's code changed"
    if real_data and stored.get("dataset_fingerprint") != expected_data:
        return "the dataset differs from the one it ran on"
    return None


class SweepResult:
    """The sweep's table (one row per run), its figure, how many runs this call executed and how many were stale."""

    def __init__(self, table: pd.DataFrame, figure, executed: int, output_dir: Path, stale: int = 0) -> None:
        self.table, self.figure, self.executed, self.output_dir = table, figure, executed, output_dir
        self.stale = stale

    @property
    def failed(self) -> int:
        return int((self.table["status"] != "ok").sum())

    def best(self, metric: str = "val_rmse", n: int = 5) -> pd.DataFrame:
        """The ``n`` best finished runs on ``metric`` (lowest first)."""
        ok = self.table[self.table["status"] == "ok"]
        return ok.nsmallest(n, metric) if metric in ok else ok.head(n)


def _table(results: list[dict], swept: list[str]) -> pd.DataFrame:
    rows = []
    for r in results:
        rows.append(
            {
                "run": Path(r["notebook"]).stem,
                **{k: r["parameters"].get(k) for k in swept},
                "seed": r["parameters"].get("seed"),
                "status": r["status"],
                "seconds": r["seconds"],
                "dataset": r["dataset"],
                "dataset_fallback": r["dataset_fallback"],
                **r["metrics"],
                "error": r["error"],
            }
        )
    return pd.DataFrame(rows)


def run_sweep(
    lesson: Lesson,
    grid: dict[str, list],
    output_dir: str | os.PathLike,
    *,
    repeat: int = 1,
    workers: int | None = None,
    base_params: dict | None = None,
    yes: bool = False,
    metric: str = "val_rmse",
    executor: Executor | None = None,
    progress: bool = True,
    echo: Callable[[str], object] | None = print,
) -> SweepResult:
    """Run ``lesson`` over the grid; write runs, ``results.csv`` and ``sweep.png`` into ``output_dir``.

    Finished runs in ``output_dir`` are reused only while current (see the module's docstring); ``echo`` is told
    how many were stale and why (``None``: say nothing).
    """
    output_dir = Path(output_dir).absolute()  # workers elsewhere (Dask) must not resolve it against their own folder
    _check_where(lesson, output_dir)
    if workers is not None:
        check_count("workers", workers)
    shown = [*grid, *(["seed"] if repeat > 1 else [])]
    unique = {}  # the same point given twice (1 and 1.0) is one run, not two writing one file at once
    for params in expand_grid(lesson, grid, repeat=repeat, base=base_params):
        unique.setdefault(run_id({**lesson.defaults, **params}, shown), params)
    runs = list(unique.values())
    if len(runs) > MAX_RUNS_WITHOUT_YES and not yes:
        raise ParameterError(
            f"This sweep has {len(runs)} runs (more than {MAX_RUNS_WITHOUT_YES}). Pass --yes (yes=True) to run it."
        )
    runs_dir = output_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)

    expected_data: dict[str, str | None] = {}
    results, todo, stale = {}, [], Counter()
    for params in runs:
        everything = {**lesson.defaults, **params}
        name = run_id(everything, shown)
        done = runs_dir / f"{name}.json"
        stored = json.loads(done.read_text()) if done.exists() else {}
        if stored.get("status") != "ok":
            todo.append((name, params))
            continue
        dataset = everything.get("dataset")
        real_data = isinstance(dataset, str) and dataset in data.DATASETS
        if real_data and dataset not in expected_data:
            expected_data[dataset] = data.dataset_fingerprint(dataset)
        reason = _stale_reason(stored, lesson, expected_data.get(dataset), real_data)
        if reason:
            stale[reason] += 1
            todo.append((name, params))
        else:
            results[name] = stored
    if stale and echo is not None:
        reasons = "; ".join(f"{n} because {why}" for why, n in stale.items())
        echo(f"{sum(stale.values())} finished runs in {output_dir} are stale and will run again ({reasons}).")

    own_executor = executor is None and bool(todo)
    if own_executor:
        workers = workers or default_jobs()  # quota-aware, as for `embedlib run`: not one kernel per host core
        executor = process_pool(min(workers, len(todo)))
    try:
        bar = tqdm(
            total=len(runs),
            initial=len(runs) - len(todo),
            desc=f"sweep {lesson.name}",
            unit="run",
            disable=not progress,
        )
        at_once = max(1, min(workers or len(todo), len(todo)))
        for (name, _), future in run_each(executor, _SweepRun(lesson, runs_dir), todo, at_once=at_once):
            try:
                result = future.result()
            except Exception as exc:  # the worker itself died; record it like a failed run
                result = asdict(
                    RunResult(
                        lesson.name,
                        str(runs_dir / f"{name}.ipynb"),
                        {**lesson.defaults, **unique[name]},
                        "failed",
                        error=f"{type(exc).__name__}: {exc}",
                        code_fingerprint=lesson.code_fingerprint,
                    )
                )
            write_atomic(runs_dir / f"{name}.json", json.dumps(result, indent=2, default=str) + "\n")
            results[name] = result
            bar.update(1)
        bar.close()
    finally:
        if own_executor:
            executor.shutdown(cancel_futures=True)

    ordered = [results[run_id({**lesson.defaults, **p}, shown)] for p in runs]
    table = _table(ordered, list(grid))
    write_atomic(output_dir / "results.csv", table.to_csv(index=False))

    figure = None
    if metric in table and table[metric].notna().any():
        from embedlib.plots import plot_sweep

        # A list-valued parameter (sizes to try) is plotted as its text: a plot's categories must be hashable.
        shown_values = table.assign(
            **{p: table[p].map(lambda v: json.dumps(v) if isinstance(v, list) else v) for p in grid}
        )
        figure = plot_sweep(shown_values, list(grid), metric=metric)
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=100)
        write_atomic(output_dir / "sweep.png", png.getvalue())
        plt.close(figure)  # kept on the result; closed so a notebook doesn't show it unasked
    return SweepResult(table, figure, executed=len(todo), output_dir=output_dir, stale=sum(stale.values()))


def dask_client(address: str):
    """A ``distributed.Client`` connected to the scheduler at ``address``; a clear error if Dask is missing."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise ParameterError(
            "--scheduler needs Dask's distributed scheduler: pip install 'embedlib[dask]' (or distributed)."
        ) from exc
    try:
        return Client(address, timeout="10s")
    except OSError as exc:
        raise ParameterError(f"No Dask scheduler answered at {address!r}: {exc}") from exc
