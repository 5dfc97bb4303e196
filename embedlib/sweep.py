"""Parameter sweeps: a grid of lesson runs, each in its own kernel, several at once, resumable.

Each run writes its executed notebook and a small JSON result under ``<output_dir>/runs/``; a run whose JSON says
"ok" is never run again, so an interrupted sweep started again with the same folder finishes only what is missing.
``results.csv`` and ``sweep.png`` are rebuilt from those JSON files at the end.

Past one machine: ``run_sweep`` hands each run to ``executor.submit``; any ``concurrent.futures``-style executor
works, e.g. a Dask cluster's (``distributed.Client(...).get_executor()``, which ``embedlib sweep --scheduler
ADDRESS`` uses), as long as the workers share the output folder and have the lessons and embedlib installed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from tqdm import tqdm

from embedlib import runner
from embedlib.runner import Lesson, ParameterError, RunResult

__all__ = ["MAX_RUNS_WITHOUT_YES", "SweepResult", "expand_grid", "run_sweep"]

MAX_RUNS_WITHOUT_YES = 24


def expand_grid(lesson: Lesson, grid: dict[str, list], repeat: int = 1, base: dict | None = None) -> list[dict]:
    """Every combination of the grid's values (on top of ``base``), each repeat with its own seed; all checked."""
    base = dict(base or {})
    if not grid or any(not isinstance(v, list) or not v for v in grid.values()):
        raise ParameterError("A sweep needs at least one parameter with at least one value (-p NAME V1 V2 ...).")
    if repeat < 1:
        raise ParameterError(f"`repeat` must be a positive integer. Received: repeat={repeat!r}.")
    if repeat > 1 and "seed" not in lesson.defaults:
        raise ParameterError(f"{lesson.name} has no `seed` parameter, so repeats could not differ.")
    if repeat > 1 and "seed" in grid:
        raise ParameterError("Give either --repeat or a list of seeds, not both.")
    runs = []
    names = list(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        for r in range(repeat):
            params = {**base, **dict(zip(names, values))}
            if repeat > 1:
                params["seed"] = int(base.get("seed", lesson.defaults["seed"])) + r
            runs.append(runner.check_parameters(lesson, params))
    return runs


def run_id(params: dict, shown: list[str]) -> str:
    """A stable, readable name for one run: the ``shown`` parameters' values and a short hash of all of them."""
    text = json.dumps(params, sort_keys=True, default=str)
    readable = "_".join(f"{k}={params[k]}" for k in shown if k in params)
    safe = "".join(c if c.isalnum() or c in "=._-" else "-" for c in readable)[:80]
    return f"{safe}_{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def _execute(lesson: Lesson, params: dict, output: str) -> dict:
    return asdict(runner.execute_lesson(lesson, params, Path(output), progress=False))


class SweepResult:
    """The sweep's table (one row per run), its figure, and how many runs this call executed."""

    def __init__(self, table: pd.DataFrame, figure, executed: int, output_dir: Path) -> None:
        self.table, self.figure, self.executed, self.output_dir = table, figure, executed, output_dir

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
) -> SweepResult:
    """Run ``lesson`` over the grid; write runs, ``results.csv`` and ``sweep.png`` into ``output_dir``."""
    runs = expand_grid(lesson, grid, repeat, base_params)
    if len(runs) > MAX_RUNS_WITHOUT_YES and not yes:
        raise ParameterError(
            f"This sweep has {len(runs)} runs (more than {MAX_RUNS_WITHOUT_YES}). Pass --yes (yes=True) to run it."
        )
    output_dir = Path(output_dir)
    runs_dir = output_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)

    shown = [*grid, *(["seed"] if repeat > 1 else [])]
    results, todo = {}, []
    for params in runs:
        name = run_id({**lesson.defaults, **params}, shown)
        done = runs_dir / f"{name}.json"
        if done.exists() and json.loads(done.read_text()).get("status") == "ok":
            results[name] = json.loads(done.read_text())
        else:
            todo.append((name, params))

    own_executor = executor is None
    if own_executor and todo:
        workers = workers or os.cpu_count() or 1
        executor = ProcessPoolExecutor(
            max_workers=min(workers, len(todo)), mp_context=multiprocessing.get_context("spawn")
        )
    try:
        futures = {
            executor.submit(_execute, lesson, params, str(runs_dir / f"{name}.ipynb")): name for name, params in todo
        }
        bar = tqdm(
            total=len(runs),
            initial=len(runs) - len(todo),
            desc=f"sweep {lesson.name}",
            unit="run",
            disable=not progress,
        )
        for future in as_completed(futures):
            name = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the worker itself died; record it like a failed run
                result = asdict(RunResult(lesson.name, str(runs_dir / f"{name}.ipynb"), {}, "failed", error=repr(exc)))
            runner.write_json_atomic(runs_dir / f"{name}.json", result)
            results[name] = result
            bar.update(1)
        bar.close()
    finally:
        if own_executor and todo:
            executor.shutdown()

    ordered = [results[run_id({**lesson.defaults, **p}, shown)] for p in runs]
    table = _table(ordered, list(grid))
    tmp = output_dir / ".results.csv.tmp"
    table.to_csv(tmp, index=False)
    os.replace(tmp, output_dir / "results.csv")

    figure = None
    if metric in table and table[metric].notna().any():
        from embedlib.plots import plot_sweep

        figure = plot_sweep(table, list(grid), metric)
        figure.savefig(output_dir / "sweep.png", dpi=100)
        plt.close(figure)  # kept on the result; closed so a notebook doesn't show it unasked
    return SweepResult(table, figure, executed=len(todo), output_dir=output_dir)


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


def main(
    lesson_name: str,
    grid: dict[str, list],
    *,
    repeat: int,
    workers: int | None,
    output_dir: Path,
    yes: bool,
    base_params: dict,
    scheduler: str | None = None,
) -> int:
    """The ``embedlib sweep`` command: run (on the Dask cluster at ``scheduler`` if given), then print the best runs."""
    lesson = runner.select_lessons([lesson_name], runner.find_lessons())[0]
    options = {"repeat": repeat, "workers": workers, "base_params": base_params, "yes": yes}
    if scheduler is None:
        result = run_sweep(lesson, grid, output_dir, **options)
    else:
        with dask_client(scheduler) as client:
            print(f"sweeping on the Dask cluster at {scheduler} ({len(client.scheduler_info()['workers'])} workers)")
            result = run_sweep(lesson, grid, output_dir, executor=client.get_executor(), **options)
    shown = [c for c in result.table.columns if c not in ("run", "error", "dataset_fallback")]
    print(f"\n{len(result.table)} runs ({result.executed} executed now, {result.failed} failed). Best runs:")
    print(result.best()[shown].to_string(index=False))
    for _, row in result.table[result.table["status"] != "ok"].iterrows():
        print(f"FAILED {row['run']}: {row['error']}")
    print(f"\nresults.csv{', sweep.png' if result.figure else ''} and the executed notebooks are in {output_dir}")
    return 1 if result.failed else 0
