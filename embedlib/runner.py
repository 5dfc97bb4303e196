"""Run lessons headless with papermill: check parameters first, execute, collect recorded metrics, summarise."""

from __future__ import annotations

import ast
import hashlib
import json
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import yaml

from embedlib.data import DATASET_NAMES
from embedlib.files import write_atomic
from embedlib.machine import describe_machine
from embedlib.record import read_records

__all__ = [
    "Lesson",
    "ParameterError",
    "RunResult",
    "check_parameters",
    "default_jobs",
    "execute_lesson",
    "find_lessons",
    "lessons_dir",
    "load_lesson",
    "parse_value",
    "run_lessons",
    "schedule",
]

KERNEL_NAME = "python3"
LESSONS_ENV = "EMBEDLIB_LESSONS"
# A YAML 1.2 float (YAML 1.1, which PyYAML reads, takes 1e-3 for text).
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
SEED_MAX = 2**32 - 1  # NumPy's and JAX's seeds are unsigned 32-bit


class ParameterError(ValueError):
    """A parameter name or value that a lesson does not accept; raised before anything runs."""


@dataclass(frozen=True)
class Lesson:
    """One notebook in ``lessons/``: its name (the file stem), title and the defaults of its ``parameters`` cell.

    ``code_fingerprint`` is a short hash of its code cells other than ``parameters`` (whose values are part of a
    run's parameters): a changed lesson gives a different fingerprint, so results of the old code can be told apart.
    ``runs_alone`` is the reason, if the notebook's metadata gives one (``"embedlib": {"runs_alone": "..."}``), why
    no other lesson may run beside it, e.g. because it times training.
    """

    name: str
    path: Path
    title: str
    defaults: dict
    code_fingerprint: str = ""
    runs_alone: str | None = None

    def describe_parameters(self) -> str:
        """One line per parameter: name, type and default."""
        return "\n".join(f"  {k} ({type(v).__name__}, default {v!r})" for k, v in self.defaults.items())


@dataclass
class RunResult:
    """What one execution of a lesson gave."""

    lesson: str
    notebook: str
    parameters: dict
    status: str = "not run"
    seconds: float = 0.0
    dataset: str | None = None
    dataset_fallback: bool | None = None
    dataset_fingerprint: str | None = None
    code_fingerprint: str | None = None
    metrics: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _has_lessons(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("[0-9]*.ipynb"))


def lessons_dir(folder: str | os.PathLike | None = None) -> Path:
    """Where the lesson notebooks are: ``folder``, else ``EMBEDLIB_LESSONS``, else ``./lessons/`` or ``./``.

    Nothing here depends on where embedlib is installed: from the root of a checkout of the course (or from its
    ``lessons/`` folder) the lessons are found; anywhere else, say where they are.
    """
    if folder is not None:
        chosen, how = [Path(folder)], f"--lessons-dir {folder}"
    elif os.environ.get(LESSONS_ENV):
        chosen, how = [Path(os.environ[LESSONS_ENV])], f"{LESSONS_ENV}={os.environ[LESSONS_ENV]}"
    else:
        chosen, how = [Path("lessons"), Path(".")], "neither --lessons-dir nor EMBEDLIB_LESSONS was given"
    for candidate in chosen:
        if _has_lessons(candidate):
            return candidate
    looked = " and ".join(str(c.resolve()) for c in chosen)
    raise FileNotFoundError(
        f"No lesson notebooks (01-....ipynb) in {looked} ({how}). Run embedlib from the root of a checkout of the "
        f"course, or pass --lessons-dir FOLDER, or set {LESSONS_ENV}=FOLDER, naming the folder that holds the "
        "numbered lesson notebooks."
    )


def _is_parameters_cell(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])


def code_fingerprint(notebook: nbformat.NotebookNode) -> str:
    """A short hash of a notebook's code cells, leaving out the ``parameters`` cell and outputs."""
    code = [c.source for c in notebook.cells if c.cell_type == "code" and not _is_parameters_cell(c)]
    return hashlib.sha256(json.dumps(code).encode()).hexdigest()[:16]


def _parameters_cell(notebook: nbformat.NotebookNode, path: Path) -> dict:
    for cell in notebook.cells:
        if _is_parameters_cell(cell):
            defaults = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    defaults[node.targets[0].id] = ast.literal_eval(node.value)
            return defaults
    raise ParameterError(f"{path.name} has no cell tagged 'parameters': papermill could not set its parameters.")


def _title(notebook: nbformat.NotebookNode, fallback: str) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def load_lesson(path: str | os.PathLike) -> Lesson:
    """Read a notebook's title and parameter defaults."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    return Lesson(
        path.stem,
        path,
        _title(notebook, path.stem),
        _parameters_cell(notebook, path),
        code_fingerprint(notebook),
        notebook.metadata.get("embedlib", {}).get("runs_alone"),
    )


def find_lessons(folder: str | os.PathLike | None = None) -> list[Lesson]:
    """Every lesson notebook in ``lessons_dir(folder)``, in order."""
    folder = lessons_dir(folder)
    return [load_lesson(p) for p in sorted(folder.glob("[0-9]*.ipynb"))]


def select_lessons(names: list[str], lessons: list[Lesson]) -> list[Lesson]:
    """Lessons by name, by number prefix ("02") or by file name; an unknown name is an error listing the valid ones."""
    chosen = []
    for name in names:
        key = Path(name).stem
        matches = [lesson for lesson in lessons if lesson.name == key or lesson.name.split("-")[0] == key]
        if len(matches) != 1:
            valid = ", ".join(lesson.name for lesson in lessons)
            raise ParameterError(f"No single lesson matches {name!r}. Lessons: {valid}.")
        chosen.append(matches[0])
    return chosen


def parse_value(text: str) -> object:
    """A command-line value as YAML reads it: ``64`` → int, ``0.3`` and ``1e-3`` → float, ``true`` → bool, else text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and _FLOAT.fullmatch(text.strip()):
        return float(text)
    return value


def _check_range(name: str, value: object) -> str | None:
    if name == "dataset" and value not in DATASET_NAMES:
        return f"must be one of {', '.join(DATASET_NAMES)}"
    positive = ("epochs", "batch_size", "embedding_dim", "k", "n_seeds", "ann_items", "ann_queries", "svd_components")
    if (name in positive or name.startswith(("rating_", "ann_")) and isinstance(value, int)) and value < 1:
        return "must be a positive integer"
    if name == "patience" and value < 0:
        return "must be zero or a positive integer"
    if name in ("valid_frac", "train_frac") and not 0 < value < 1:
        return "must be between 0 and 1"
    if name == "seed" and not 0 <= value <= SEED_MAX:
        return f"must be an integer from 0 to {SEED_MAX} (NumPy and JAX take unsigned 32-bit seeds)"
    if (name == "l2" or name.endswith("weight_decay") or name.startswith("l2_")) and not value >= 0:
        return "must be zero or positive"
    if name.endswith("learning_rate") and not value > 0:
        return "must be positive"
    if name.endswith("dropout") and not 0 <= value < 1:
        return "must be in [0, 1)"
    return None


def check_parameters(lesson: Lesson, params: dict) -> dict:
    """Check names and types against the lesson's ``parameters`` cell; return the values as the lesson will see them.

    papermill only warns about an unknown parameter and never checks types; a typo would silently run the defaults.
    """
    checked = {}
    for name, value in params.items():
        if name not in lesson.defaults:
            raise ParameterError(
                f"{lesson.name} has no parameter {name!r}. Valid parameters:\n{lesson.describe_parameters()}"
            )
        default = lesson.defaults[name]
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(value, bool) and isinstance(default, bool)
        elif isinstance(default, float):
            ok, value = isinstance(value, (int, float)), float(value) if isinstance(value, (int, float)) else value
        elif isinstance(default, (list, tuple)):
            ok = isinstance(value, (list, tuple))
        else:
            ok = default is None or isinstance(value, type(default))
        if not ok:
            raise ParameterError(
                f"{lesson.name}: parameter {name!r} must be of type {type(default).__name__} like its default "
                f"{default!r}. Received: {value!r} (of type {type(value).__name__}). Valid parameters:\n"
                f"{lesson.describe_parameters()}"
            )
        problem = _check_range(name, value)
        if problem:
            raise ParameterError(f"{lesson.name}: parameter {name!r} {problem}. Received: {name}={value!r}.")
        checked[name] = value
    return checked


def params_for(lesson: Lesson, overrides: dict) -> dict:
    """The overrides that apply to one lesson: shared names it defines, plus a section named after it."""
    shared = {k: v for k, v in overrides.items() if not isinstance(v, dict) and k in lesson.defaults}
    own = overrides.get(lesson.name, {}) if isinstance(overrides.get(lesson.name), dict) else {}
    return {**shared, **own}


def check_overrides(lessons: list[Lesson], overrides: dict) -> dict[str, dict]:
    """Check every lesson's parameters before anything runs. A name no chosen lesson knows is an error."""
    for name, value in overrides.items():
        if isinstance(value, dict):
            select_lessons([name], lessons)
        elif not any(name in lesson.defaults for lesson in lessons):
            valid = "\n".join(f"{lesson.name}:\n{lesson.describe_parameters()}" for lesson in lessons)
            raise ParameterError(f"No chosen lesson has a parameter {name!r}. Valid parameters:\n{valid}")
    return {lesson.name: check_parameters(lesson, params_for(lesson, overrides)) for lesson in lessons}


def _error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f" in cell [{cell}]" if cell is not None else ""
    return f"{ename}{where}: {evalue}"


def execute_lesson(lesson: Lesson, params: dict, output: Path, *, progress: bool = True) -> RunResult:
    """Execute one lesson into ``output`` with papermill (its own kernel) and collect what it recorded."""
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    result = RunResult(
        lesson.name, str(output), {**lesson.defaults, **params}, code_fingerprint=lesson.code_fingerprint
    )
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(lesson.path),
            str(output),
            parameters=params,
            kernel_name=KERNEL_NAME,
            progress_bar=progress,
            cwd=str(lesson.path.parent),
            # The kernel's own log, not the cells' output, which reaches the notebook whatever this says. ipykernel
            # warns at every start that TCP is unencrypted (it listens only on localhost), and jupyter_client
            # interrupts every kernel it shuts down, which ipykernel may log as an ERROR ("KeyboardInterrupt caught
            # in kernel") when the signal lands between messages: neither is a problem of the lesson.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        result.status = "ok"
    except Exception as exc:  # papermill raises PapermillExecutionError for a failing cell
        result.status, result.error = "failed", _error_text(exc)
    result.seconds = round(time.perf_counter() - start, 1)
    if output.exists():
        records = read_records(nbformat.read(output, as_version=4))
        result.dataset = records.pop("dataset", None)
        result.dataset_fallback = records.pop("dataset_fallback", None)
        result.dataset_fingerprint = records.pop("dataset_fingerprint", None)
        result.metrics = records
    return result


def for_commit(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """An executed lesson as it is committed: no papermill metadata, cell timings or stderr streams."""
    notebook.metadata.pop("papermill", None)
    notebook.metadata["language_info"] = {"name": "python"}
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    return notebook


def format_table(results: list[RunResult], metric_names: tuple[str, ...] = ("val_rmse",)) -> str:
    """The run summary as a plain-text table."""
    rows = [("lesson", "status", "seconds", "dataset", *metric_names)]
    for r in results:
        dataset = f"{r.dataset}{' (FALLBACK)' if r.dataset_fallback else ''}" if r.dataset else "-"
        values = [f"{r.metrics[m]:.4f}" if isinstance(r.metrics.get(m), float) else "-" for m in metric_names]
        rows.append((r.lesson, r.status, f"{r.seconds:.1f}", dataset, *values))
    rows.append(("total", "", f"{sum(r.seconds for r in results):.1f}", "", *[""] * len(metric_names)))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_test_split(results: list[RunResult]) -> str | None:
    """The held-out test RMSEs a lesson recorded (``test_rmse_<model>``), one line per model; None if there are none."""
    lines = []
    for r in results:
        scores = {k.removeprefix("test_rmse_"): v for k, v in r.metrics.items() if k.startswith("test_rmse_")}
        if scores:
            lines.append(f"Test-split RMSE recorded by {r.lesson} (rows nobody tuned on):")
            width = max(len(name) for name in scores)
            lines += [f"  {name.replace('_', ' '):<{width}}  {value:.4f}" for name, value in scores.items()]
    return "\n".join(lines) or None


def format_ranking(results: list[RunResult]) -> str | None:
    """The ranking table a lesson recorded (``ranking_ndcg_<model>``, ``ranking_recall_<model>``,
    ``ranking_coverage_<model>``), one line per model, best NDCG first; None if there is none."""
    lines = []
    for r in results:
        ndcg = {k.removeprefix("ranking_ndcg_"): v for k, v in r.metrics.items() if k.startswith("ranking_ndcg_")}
        if not ndcg:
            continue
        width = max(len(name) for name in ndcg)
        lines.append(f"Top-10 lists recorded by {r.lesson} (split by time, whole catalogue, seen movies removed):")
        lines.append(f"  {'model':<{width}}  NDCG@10  recall@10  coverage")
        for name in sorted(ndcg, key=ndcg.get, reverse=True):
            recall, cover = r.metrics.get(f"ranking_recall_{name}"), r.metrics.get(f"ranking_coverage_{name}")
            shown = [f"{v:.4f}" if isinstance(v, float) else "-" for v in (ndcg[name], recall, cover)]
            lines.append(f"  {name:<{width}}  {shown[0]:>7}  {shown[1]:>9}  {shown[2]:>8}")
    return "\n".join(lines) or None


def default_jobs() -> int:
    """Lessons to run at once by default: two where two CPUs are free to this process (cgroup quotas count), else one.

    Each lesson's kernel already keeps about one and a half cores busy, so more than two at once gains little and
    costs memory (a lesson's kernel peaks near 1 GB).
    """
    import joblib  # its cpu_count honours container CPU quotas (Binder, Docker), which os.cpu_count does not

    return max(1, min(2, joblib.cpu_count()))


def schedule(lessons: list[Lesson], jobs: int) -> list[list[Lesson]]:
    """The groups ``run_lessons`` runs one after another: with ``jobs`` > 1, every lesson that may share the machine
    in one group, then each lesson that ``runs_alone`` by itself; with ``jobs`` = 1, every lesson by itself, in order.
    """
    if jobs <= 1:
        return [[lesson] for lesson in lessons]
    shared = [lesson for lesson in lessons if not lesson.runs_alone]
    return [group for group in [shared, *([lesson] for lesson in lessons if lesson.runs_alone)] if group]


def _side_by_side(
    group: list[Lesson], per_lesson: dict[str, dict], output_dir: Path, jobs: int
) -> Iterator[tuple[Lesson, RunResult]]:
    """Run ``group`` in ``jobs`` worker processes, each lesson in its own kernel; yield (lesson, result) as each ends.

    A lesson starts only when a worker is free (none is queued ahead), so after Ctrl-C no further lesson starts.
    """
    # spawn, not fork: the parent has imported JAX, which must not be forked.
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(group)), mp_context=multiprocessing.get_context("spawn"))
    waiting, running = list(group), {}

    def start_next() -> None:
        lesson = waiting.pop(0)
        output = output_dir / lesson.path.name
        running[pool.submit(execute_lesson, lesson, per_lesson[lesson.name], output, progress=False)] = lesson

    try:
        for _ in range(min(jobs, len(waiting))):
            start_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                lesson = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker process itself died (killed, out of memory)
                    result = RunResult(
                        lesson.name,
                        str(output_dir / lesson.path.name),
                        {**lesson.defaults, **per_lesson[lesson.name]},
                        "failed",
                        error=f"{type(exc).__name__}: {exc}",
                        code_fingerprint=lesson.code_fingerprint,
                    )
                if waiting:
                    start_next()
                yield lesson, result
    finally:
        pool.shutdown(cancel_futures=True)


def run_lessons(
    lessons: list[Lesson],
    overrides: dict,
    output_dir: Path,
    *,
    in_place: bool = False,
    progress: bool = True,
    echo: Callable[[str], object] | None = print,
    jobs: int = 1,
) -> list[RunResult]:
    """Check all parameters, then run the lessons, ``jobs`` at a time; write ``summary.json`` after each.

    Each lesson runs in its own kernel and writes only its own files, so lessons can run side by side; a lesson whose
    metadata says it ``runs_alone`` (it times things) runs after the others, by itself. Results come back in the
    lessons' order, whatever order they finished in. ``echo`` is told which lessons run and how each ended
    (``None``: say nothing); the per-cell progress bar shows only for lessons that run by themselves.
    """
    per_lesson = check_overrides(lessons, overrides)
    echo = echo or (lambda _line: None)
    if in_place and overrides:
        raise ParameterError("--in-place regenerates the committed notebooks with their defaults: drop -p and -f.")
    if jobs < 1:
        raise ParameterError(f"jobs must be a positive integer (lessons run at once). Received: jobs={jobs!r}.")
    output_dir.mkdir(parents=True, exist_ok=True)
    finished: dict[str, RunResult] = {}
    started, clock = time.strftime("%Y-%m-%dT%H:%M:%S"), time.perf_counter()
    position = {lesson.name: i for i, lesson in enumerate(lessons, 1)}

    def finish(lesson: Lesson, result: RunResult) -> None:
        output = output_dir / lesson.path.name
        if in_place and result.ok:
            # Only a run that succeeded replaces the committed lesson, and without run metadata or stderr noise.
            write_atomic(lesson.path, nbformat.writes(for_commit(nbformat.read(output, as_version=4))) + "\n")
            result.notebook = str(lesson.path)
        finished[lesson.name] = result
        ended = f"{result.status} in {result.seconds:.1f} s" + (f": {result.error}" if result.error else "")
        echo(f"      {lesson.name} {ended}" if jobs > 1 else f"      {ended}")
        done = [asdict(finished[other.name]) for other in lessons if other.name in finished]
        summary = {
            "started": started,
            "jobs": jobs,
            "wall_seconds": round(time.perf_counter() - clock, 1),
            "machine": describe_machine(),
            "lessons": done,
        }
        write_atomic(output_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")

    for group in schedule(lessons, jobs):
        for lesson in group:
            alone = f" (by itself: {lesson.runs_alone})" if jobs > 1 and lesson.runs_alone else ""
            echo(f"[{position[lesson.name]}/{len(lessons)}] {lesson.name}: {lesson.title}{alone}")
        if len(group) == 1:
            (lesson,) = group
            output = output_dir / lesson.path.name
            finish(lesson, execute_lesson(lesson, per_lesson[lesson.name], output, progress=progress))
            continue
        echo(f"      running these {len(group)} lessons {jobs} at a time, each in its own kernel")
        for lesson, result in _side_by_side(group, per_lesson, output_dir, jobs):
            finish(lesson, result)
    return [finished[lesson.name] for lesson in lessons]
