"""What a lesson is and what it accepts: find the notebooks, read their parameters, check values before anything runs.

A lesson is a numbered notebook in ``lessons/`` with one cell tagged ``parameters``. Each parameter there is an
assignment whose comment may start with its allowed range, which ``check_parameters`` enforces::

    epochs = 10                  # >= 1: at most; early stopping usually ends sooner
    valid_frac = 0.2             # in (0, 1): share of ratings held out for validation
    table_rows = [1_000, 10_000] # each >= 2: movie-table sizes

A range is ``>= a``, ``> a``, ``<= b``, ``< b`` or an interval ``in [a, b)`` (square brackets include the end,
round ones do not), optionally prefixed with ``each`` for a list, and ends at a colon or the end of the comment.
``dataset`` is checked against the datasets embedlib knows.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import math
import os
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nbformat and PyYAML are imported when a lesson is read, not when `embedlib --help` runs
    import nbformat

__all__ = [
    "Lesson",
    "ParameterError",
    "Range",
    "check_overrides",
    "check_parameters",
    "find_lessons",
    "lessons_dir",
    "load_lesson",
    "parse_value",
    "select_lessons",
]

LESSONS_ENV = "EMBEDLIB_LESSONS"
# A YAML 1.2 float (YAML 1.1, which PyYAML reads, takes 1e-3 for text).
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NUMBER = r"[-+]?(?:inf|[\d_]+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_BOUND = re.compile(rf"(?P<each>each\s+)?(?P<op>>=|>|<=|<)\s*(?P<value>{_NUMBER})\s*(?::|$)")
_INTERVAL = re.compile(
    rf"(?P<each>each\s+)?in\s*(?P<open>[\[(])\s*(?P<low>{_NUMBER})\s*,\s*(?P<high>{_NUMBER})\s*(?P<close>[\])])\s*(?::|$)"
)


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.12g}"


class ParameterError(ValueError):
    """A parameter name or value that a lesson does not accept; raised before anything runs."""


@dataclass(frozen=True)
class Range:
    """The values a numeric parameter accepts, as its comment in the ``parameters`` cell declares them."""

    low: float = -math.inf
    high: float = math.inf
    low_included: bool = True
    high_included: bool = True
    each: bool = False  # the parameter is a list and every element must be in range

    def __contains__(self, value: object) -> bool:
        if self.each:
            return isinstance(value, (list, tuple)) and all(self._holds(v) for v in value)
        return self._holds(value)

    def _holds(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        above = value >= self.low if self.low_included else value > self.low
        below = value <= self.high if self.high_included else value < self.high
        return above and below

    def __str__(self) -> str:
        prefix = "each " if self.each else ""
        low, high = _number(self.low), _number(self.high)
        if self.high == math.inf:
            return f"{prefix}{'>=' if self.low_included else '>'} {low}"
        if self.low == -math.inf:
            return f"{prefix}{'<=' if self.high_included else '<'} {high}"
        return f"{prefix}in {'[' if self.low_included else '('}{low}, {high}{']' if self.high_included else ')'}"

    @classmethod
    def parse(cls, comment: str) -> Range | None:
        """The range a parameter's comment starts with (``# >= 1: ...``), or None if it declares none."""
        text = comment.lstrip("#").strip()
        if match := _BOUND.match(text):
            value, op = float(match["value"].replace("_", "")), match["op"]
            bounds = {
                ">=": {"low": value},
                ">": {"low": value, "low_included": False},
                "<=": {"high": value},
                "<": {"high": value, "high_included": False},
            }[op]
            return cls(**bounds, each=bool(match["each"]))
        if match := _INTERVAL.match(text):
            low, high = float(match["low"].replace("_", "")), float(match["high"].replace("_", ""))
            return cls(
                low,
                high,
                low_included=match["open"] == "[" or low == -math.inf,  # an infinite end is never reached anyway
                high_included=match["close"] == "]" or high == math.inf,
                each=bool(match["each"]),
            )
        return None


@dataclass(frozen=True)
class Lesson:
    """One notebook in ``lessons/``: its name (the file stem), title, and the defaults and ranges of its parameters.

    ``code_fingerprint`` is a short hash of its code cells other than ``parameters`` (whose values are part of a
    run's parameters): a changed lesson gives a different fingerprint, so results of the old code can be told apart.
    ``runs_alone`` is the reason, if the notebook's metadata gives one (``"embedlib": {"runs_alone": "..."}``), why
    no other lesson may run beside it, e.g. because it times training.
    """

    name: str
    path: Path
    title: str
    defaults: dict
    ranges: dict[str, Range] = field(default_factory=dict)
    code_fingerprint: str = ""
    runs_alone: str | None = None

    def describe_parameters(self) -> str:
        """One line per parameter: name, type, default and allowed range."""
        lines = []
        for name, value in self.defaults.items():
            allowed = f", {self.ranges[name]}" if name in self.ranges else ""
            lines.append(f"  {name} ({type(value).__name__}, default {value!r}{allowed})")
        return "\n".join(lines)


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


def is_parameters_cell(cell: nbformat.NotebookNode) -> bool:
    """Whether ``cell`` is the code cell tagged ``parameters`` that papermill sets."""
    return cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])


def code_fingerprint(notebook: nbformat.NotebookNode) -> str:
    """A short hash of a notebook's code cells, leaving out the ``parameters`` cell and outputs."""
    code = [c.source for c in notebook.cells if c.cell_type == "code" and not is_parameters_cell(c)]
    return hashlib.sha256(json.dumps(code).encode()).hexdigest()[:16]


def _comments_by_line(source: str) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.start[0]: t.string for t in tokens if t.type == tokenize.COMMENT}


def _parameters(notebook: nbformat.NotebookNode, path: Path) -> tuple[dict, dict[str, Range]]:
    for cell in notebook.cells:
        if is_parameters_cell(cell):
            defaults, ranges = {}, {}
            comments = _comments_by_line(cell.source)
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    name = node.targets[0].id
                    defaults[name] = ast.literal_eval(node.value)
                    declared = Range.parse(comments.get(node.lineno, ""))
                    if declared is not None:
                        ranges[name] = declared
            return defaults, ranges
    raise ParameterError(f"{path.name} has no cell tagged 'parameters': papermill could not set its parameters.")


def _title(notebook: nbformat.NotebookNode, fallback: str) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def load_lesson(path: str | os.PathLike) -> Lesson:
    """Read a notebook's title, parameter defaults and ranges."""
    import nbformat

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    defaults, ranges = _parameters(notebook, path)
    return Lesson(
        path.stem,
        path,
        _title(notebook, path.stem),
        defaults,
        ranges,
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
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and _FLOAT.fullmatch(text.strip()):
        return float(text)
    return value


def _type_matches(value: object, default: object) -> tuple[bool, object]:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool), value
    if isinstance(default, float):
        return isinstance(value, (int, float)), float(value) if isinstance(value, (int, float)) else value
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple)), value
    return default is None or isinstance(value, type(default)), value


def check_parameters(lesson: Lesson, params: dict) -> dict:
    """Check names, types and declared ranges; return the values as the lesson will see them.

    papermill only warns about an unknown parameter and never checks types; a typo would silently run the defaults.
    """
    from embedlib.data import DATASET_NAMES  # the registry is light, but keeps pandas out of `embedlib --help`

    checked = {}
    for name, value in params.items():
        if name not in lesson.defaults:
            raise ParameterError(
                f"{lesson.name} has no parameter {name!r}. Valid parameters:\n{lesson.describe_parameters()}"
            )
        default = lesson.defaults[name]
        ok, value = _type_matches(value, default)
        if not ok:
            raise ParameterError(
                f"{lesson.name}: parameter {name!r} must be of type {type(default).__name__} like its default "
                f"{default!r}. Received: {value!r} (of type {type(value).__name__}). Valid parameters:\n"
                f"{lesson.describe_parameters()}"
            )
        if name == "dataset" and value not in DATASET_NAMES:
            raise ParameterError(
                f"{lesson.name}: parameter 'dataset' must be one of {', '.join(DATASET_NAMES)}. Received: {value!r}."
            )
        if name in lesson.ranges and value not in lesson.ranges[name]:
            raise ParameterError(
                f"{lesson.name}: parameter {name!r} must be {lesson.ranges[name]}. Received: {name}={value!r}."
            )
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
