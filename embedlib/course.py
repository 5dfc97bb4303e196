"""What a lesson is and what it accepts: find the notebooks, read their parameters, check values before anything runs.

A lesson is a notebook in ``lessons/`` named ``NN-name.ipynb`` with one cell tagged ``parameters``. Each parameter
there is an assignment whose comment may start with its allowed range, which ``check_parameters`` enforces::

    epochs = 10                  # ≥ 1: at most; early stopping usually ends sooner
    valid_frac = 0.2             # in (0, 1): share of ratings held out for validation
    table_rows = [1_000, 10_000] # each ≥ 2: movie-table sizes

A range is ``≥ a``, ``> a``, ``≤ b``, ``< b`` (``>=`` and ``<=`` work too, but papermill's own parser skips a line
with a second ``=``) or an interval ``in [a, b)`` (square brackets include the end, round ones do not), optionally
prefixed with ``each`` for a list, and ends at a colon or the end of the comment. A comment that starts like a range
but is not one is an error, as is a default outside its range. ``dataset`` is checked against the datasets embedlib
knows.
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
_NUMBER = r"[-+]?(?:inf|\d[\d_]*\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_BOUND = re.compile(rf"(?P<each>each\s+)?(?P<op>>=|≥|>|<=|≤|<)\s*(?P<value>{_NUMBER})\s*(?::|$)")
_LOOKS_LIKE_A_RANGE = re.compile(r"(each\s*)?(>|<|≥|≤|in\s*[\[(])")
_LESSON_NAME = re.compile(r"\d\d-[\w-]+")
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
            return f"{prefix}{'≥' if self.low_included else '>'} {low}"
        if self.low == -math.inf:
            return f"{prefix}{'≤' if self.high_included else '<'} {high}"
        return f"{prefix}in {'[' if self.low_included else '('}{low}, {high}{']' if self.high_included else ')'}"

    @classmethod
    def parse(cls, comment: str) -> Range | None:
        """The range a parameter's comment starts with (``# >= 1: ...``), or None if it declares none."""
        text = comment.lstrip("#").strip()
        if match := _BOUND.match(text):
            value, op = float(match["value"].replace("_", "")), match["op"]
            bounds = {
                ">=": {"low": value},
                "≥": {"low": value},
                ">": {"low": value, "low_included": False},
                "<=": {"high": value},
                "≤": {"high": value},
                "<": {"high": value, "high_included": False},
            }[op]
            return cls(**bounds, each=bool(match["each"]))
        if match := _INTERVAL.match(text):
            low, high = float(match["low"].replace("_", "")), float(match["high"].replace("_", ""))
            if not low <= high:
                raise ValueError(f"the range in {comment.strip()!r} is empty: its low end is above its high end")
            return cls(
                low,
                high,
                low_included=match["open"] == "[" or low == -math.inf,  # an infinite end is never reached anyway
                high_included=match["close"] == "]" or high == math.inf,
                each=bool(match["each"]),
            )
        if _LOOKS_LIKE_A_RANGE.match(text):
            raise ValueError(
                f"{comment.strip()!r} starts like a range but is not one: write it as `# ≥ 1: ...`, `# > 0`, "
                "`# in (0, 1): ...` or `# each ≥ 1`, with a colon before any words"
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
        return "\n".join(lines) or "  (none)"


def _has_lessons(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("[0-9][0-9]-*.ipynb"))


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


def _assigned_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id
    return None


def _parameters(notebook: nbformat.NotebookNode, path: Path) -> tuple[dict, dict[str, Range]]:
    cells = [cell for cell in notebook.cells if is_parameters_cell(cell)]
    if not cells:
        raise ParameterError(f"{path.name} has no cell tagged 'parameters': papermill could not set its parameters.")
    source = cells[0].source
    try:
        tree, comments = ast.parse(source), _comments_by_line(source)
    except SyntaxError as exc:
        where = f"{exc.msg}, line {exc.lineno}"
        raise ParameterError(f"{path.name}: its parameters cell is not plain Python ({where}).") from None
    defaults, ranges = {}, {}
    for node in tree.body:
        name = _assigned_name(node)
        if name is None:
            continue
        where = f"{path.name}, parameter {name!r}"
        try:
            defaults[name] = ast.literal_eval(node.value)
        except ValueError:
            raise ParameterError(f"{where}: its default must be a literal (a number, text, list...).") from None
        lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        try:
            declared = [r for r in (Range.parse(comments[n]) for n in lines if n in comments) if r is not None]
        except ValueError as exc:
            raise ParameterError(f"{where}: {exc}.") from None
        if len(declared) > 1:
            raise ParameterError(f"{where}: its comments declare {len(declared)} ranges; keep one.")
        if declared and defaults[name] not in declared[0]:
            raise ParameterError(f"{where}: the default {defaults[name]!r} is outside its range, {declared[0]}.")
        if declared:
            ranges[name] = declared[0]
    return defaults, ranges


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
    """Every lesson notebook (``NN-name.ipynb``) in ``lessons_dir(folder)``, in order, with absolute paths.

    Copies JupyterLab makes (``01-name-Copy1.ipynb``) are not lessons.
    """
    folder = lessons_dir(folder).resolve()
    paths = [p for p in sorted(folder.glob("[0-9][0-9]-*.ipynb")) if _LESSON_NAME.fullmatch(p.stem)]
    return [load_lesson(p) for p in paths if not re.search(r"-Copy\d+$", p.stem)]


def select_lessons(names: list[str], lessons: list[Lesson]) -> list[Lesson]:
    """Lessons by name, by number prefix ("02") or by file name; an unknown, ambiguous or repeated name is an error."""
    chosen = []
    for name in names:
        key = Path(name).stem
        matches = [lesson for lesson in lessons if lesson.name == key or lesson.name.split("-")[0] == key]
        if not matches:
            valid = ", ".join(lesson.name for lesson in lessons)
            raise ParameterError(f"No lesson matches {name!r}. Lessons: {valid}.")
        if len(matches) > 1:
            raise ParameterError(f"{name!r} matches {len(matches)} lessons: {', '.join(m.name for m in matches)}.")
        if matches[0] in chosen:
            raise ParameterError(f"{matches[0].name} is named twice: each lesson runs once.")
        chosen.append(matches[0])
    return chosen


def parse_value(text: str) -> object:
    """A command-line value, read as the parameters cell writes it: ``64`` and ``1_000`` → int, ``0.3`` and ``1e-3`` →
    float, ``[16, 32]`` → list, ``true``/``True`` → bool, ``null``/``None`` → None, anything else → the text itself.

    Python's literal syntax rather than YAML's: YAML 1.1 would read ``042`` as 34 and ``1:30`` as 90.
    """
    words = {"true": True, "false": False, "null": None, "none": None}
    stripped = text.strip()
    if stripped.lower() in words:
        return words[stripped.lower()]
    if re.fullmatch(r"[-+]?0\d+", stripped):
        raise ParameterError(f"{text!r} has a leading zero: write the number without it.")
    try:
        value = ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(value, dict):
        raise ParameterError(f"{text!r} is a mapping; a parameter takes a number, text, true/false or a [list].")
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
            allowed = lesson.ranges[name]
            what = f"a list whose every element is {str(allowed).removeprefix('each ')}" if allowed.each else allowed
            raise ParameterError(f"{lesson.name}: parameter {name!r} must be {what}. Received: {name}={value!r}.")
        checked[name] = value
    return checked


def params_for(lesson: Lesson, overrides: dict) -> dict:
    """The overrides that apply to one lesson: shared names it defines, plus a section named after it."""
    shared = {k: v for k, v in overrides.items() if not isinstance(v, dict) and k in lesson.defaults}
    own = overrides.get(lesson.name, {}) if isinstance(overrides.get(lesson.name), dict) else {}
    return {**shared, **own}


def check_overrides(lessons: list[Lesson], overrides: dict) -> dict[str, dict]:
    """Check every lesson's parameters before anything runs. A name no chosen lesson knows is an error.

    A section (a mapping of parameters for one lesson) may be keyed by the lesson's name, number or file name.
    """
    normalised: dict = {}
    for name, value in overrides.items():
        if isinstance(value, dict):
            try:
                (lesson,) = select_lessons([str(name)], lessons)
            except ParameterError as exc:
                raise ParameterError(f"The section {name!r} names no lesson among those chosen. {exc}") from None
            if lesson.name in normalised:
                raise ParameterError(f"Two sections name {lesson.name}; merge them.")
            normalised[lesson.name] = value
        elif not any(name in lesson.defaults for lesson in lessons):
            valid = "\n".join(f"{lesson.name}:\n{lesson.describe_parameters()}" for lesson in lessons)
            raise ParameterError(f"No chosen lesson has a parameter {name!r}. Valid parameters:\n{valid}")
        else:
            normalised[name] = value
    return {lesson.name: check_parameters(lesson, params_for(lesson, normalised)) for lesson in lessons}
