"""Run lessons headless with papermill: check parameters first, execute, collect recorded metrics, summarise."""

from __future__ import annotations

import ast
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import yaml

from embedlib.data import DATASET_NAMES
from embedlib.record import read_records

__all__ = [
    "Lesson",
    "ParameterError",
    "RunResult",
    "check_parameters",
    "execute_lesson",
    "find_lessons",
    "lessons_dir",
    "load_lesson",
    "parse_value",
    "run_lessons",
]

KERNEL_NAME = "python3"


class ParameterError(ValueError):
    """A parameter name or value that a lesson does not accept; raised before anything runs."""


@dataclass(frozen=True)
class Lesson:
    """One notebook in ``lessons/``: its name (the file stem), title and the defaults of its ``parameters`` cell."""

    name: str
    path: Path
    title: str
    defaults: dict

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
    metrics: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def lessons_dir() -> Path:
    """``EMBEDLIB_LESSONS`` or the ``lessons/`` folder of the checkout embedlib runs from."""
    folder = Path(os.environ.get("EMBEDLIB_LESSONS") or Path(__file__).resolve().parents[1] / "lessons")
    if not folder.is_dir():
        raise FileNotFoundError(
            f"No lessons folder at {folder}. Run from a checkout of the course (pip install -e .) or set "
            "EMBEDLIB_LESSONS to the folder holding the lesson notebooks."
        )
    return folder


def _parameters_cell(notebook: nbformat.NotebookNode, path: Path) -> dict:
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
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
    return Lesson(path.stem, path, _title(notebook, path.stem), _parameters_cell(notebook, path))


def find_lessons(folder: Path | None = None) -> list[Lesson]:
    """Every lesson notebook, in order."""
    folder = folder or lessons_dir()
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
    """A command-line value as YAML reads it: ``64`` → int, ``0.3`` → float, ``true`` → bool, else a string."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _check_range(name: str, value: object) -> str | None:
    if name == "dataset" and value not in DATASET_NAMES:
        return f"must be one of {', '.join(DATASET_NAMES)}"
    if name in ("epochs", "batch_size", "embedding_dim", "patience") and value < (0 if name == "patience" else 1):
        return "must be a positive integer"
    if name == "valid_frac" and not 0 < value < 1:
        return "must be between 0 and 1"
    if name == "learning_rate" and not value > 0:
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


def execute_lesson(lesson: Lesson, params: dict, output: Path, progress: bool = True) -> RunResult:
    """Execute one lesson into ``output`` with papermill (its own kernel) and collect what it recorded."""
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    result = RunResult(lesson.name, str(output), {**lesson.defaults, **params})
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(lesson.path),
            str(output),
            parameters=params,
            kernel_name=KERNEL_NAME,
            progress_bar=progress,
            cwd=str(lesson.path.parent),
            # ipykernel warns at every start that TCP is unencrypted (it only listens on localhost); keep it quiet.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        result.status = "ok"
    except Exception as exc:  # papermill raises PapermillExecutionError for a failing cell
        result.status, result.error = "failed", _error_text(exc)
    result.seconds = round(time.perf_counter() - start, 1)
    if output.exists():
        records = read_records(nbformat.read(output, as_version=4))
        result.dataset = records.pop("dataset", None)
        result.dataset_fallback = records.pop("dataset_fallback", None)
        result.metrics = records
    return result


def write_json_atomic(path: Path, payload: object) -> None:
    """Write JSON to a temporary name, then move it into place: a crash never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def machine() -> dict:
    """What the numbers were measured on."""
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "keras": version("keras"),
        "backend": os.environ.get("KERAS_BACKEND", "jax"),
    }


def format_table(results: list[RunResult], metric_names: tuple[str, ...] = ("val_rmse",)) -> str:
    """The run summary as a plain-text table."""
    rows = [("lesson", "status", "seconds", "dataset", *metric_names)]
    for r in results:
        dataset = f"{r.dataset}{' (FALLBACK)' if r.dataset_fallback else ''}" if r.dataset else "-"
        values = [f"{r.metrics[m]:.4f}" if isinstance(r.metrics.get(m), float) else "-" for m in metric_names]
        rows.append((r.lesson, r.status, f"{r.seconds:.1f}", dataset, *values))
    rows.append(("total", "", f"{sum(r.seconds for r in results):.1f}", "", *[""] * len(metric_names)))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_lessons(
    lessons: list[Lesson],
    overrides: dict,
    output_dir: Path,
    in_place: bool = False,
    progress: bool = True,
    echo=print,
) -> list[RunResult]:
    """Check all parameters, then run the lessons one after another; write ``summary.json`` after each."""
    per_lesson = check_overrides(lessons, overrides)
    if in_place and overrides:
        raise ParameterError("--in-place regenerates the committed notebooks with their defaults: drop -p and -f.")
    output_dir.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    for i, lesson in enumerate(lessons, 1):
        echo(f"[{i}/{len(lessons)}] {lesson.name}: {lesson.title}")
        output = lesson.path if in_place else output_dir / lesson.path.name
        result = execute_lesson(lesson, per_lesson[lesson.name], output, progress=progress)
        results.append(result)
        echo(f"      {result.status} in {result.seconds:.1f} s" + (f": {result.error}" if result.error else ""))
        summary = {"started": started, "machine": machine(), "lessons": [asdict(r) for r in results]}
        write_json_atomic(output_dir / "summary.json", summary)
    return results
