"""The lessons' prose against their own outputs, and the committed notebooks against run noise.

- Every number with two or more decimals in a lesson's markdown must appear in that notebook (an output, or the
  code that sets it), rounded as written; a number quoted from elsewhere carries a dagger right after it (1.08†),
  which the lesson explains. Numbers inside links, $math$ (worked derivations), headings and section references
  ("section 3.10") are not checked.
- No markdown line that merely continues a sentence may start with "12." or "2013)": Markdown would render it as a
  numbered list (JupyterLab even letters it).
- Committed notebooks carry no run metadata (papermill, execution times), no stderr, no machine paths, no timings.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

import nbformat
import pytest

LESSONS = sorted((Path(__file__).resolve().parents[1] / "lessons").glob("[0-9]*.ipynb"))
DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+(?:e[-+]?\d+)?")
WRITTEN = re.compile(r"(?<![\w.])(\d+\.\d{2,})(?![\d.]*\d)(†?)")
LINKS = re.compile(r"<https?://[^>]*>|\]\([^)]*\)|https?://\S+")
MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.S)
SECTIONS = re.compile(r"^#.*$|[Ss]ections? \d+\.\d+(?: (?:to|and) \d+\.\d+)?", re.M)
NUMBERED = re.compile(r"^\s*\d+[.)]\s")
MACHINE_PATHS = re.compile(r"(/work/|/home/|/tmp/|/Users/|/root/|[A-Z]:\\\\)")
TIMINGS = re.compile(r"\(\d+(\.\d+)? ?s\)|\d+ms/step|\d+s/step|it/s\]|run/s\]|\|[█▏▎▍▌▋▊▉ ]+\|")


def _notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _markdown(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def _output_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            for key in ("text/plain", "text/html", "text/markdown"):
                parts.append(str(out.get("data", {}).get(key, "")))
    return "\n".join(parts)


def _rounds_to(value: str, written: str) -> bool:
    places = Decimal(1).scaleb(-len(written.split(".")[1]))
    number = Decimal(value)
    return any(number.quantize(places, rounding=mode) == Decimal(written) for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN))


def unsupported_numbers(markdown: list[str], outputs: str) -> list[str]:
    """Numbers (two or more decimals) written in the markdown that no output or code shows, rounded as written."""
    shown = [m.group(0).lstrip("-") for m in DECIMAL.finditer(outputs)]
    missing = []
    for text in markdown:
        text = SECTIONS.sub(" ", MATH.sub(" ", LINKS.sub(" ", text)))
        for match in WRITTEN.finditer(text):
            number, quoted = match.groups()
            decimals = len(number.split(".")[1])
            candidates = (s for s in shown if "e" not in s and len(s.split(".")[1]) >= decimals)
            if not quoted and not any(_rounds_to(s, number) for s in candidates):
                missing.append(number)
    return missing


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def accidental_lists(markdown: list[str]) -> list[str]:
    """Lines that start with a number and '.' or ')' but continue a paragraph or a list item: JupyterLab's Markdown
    renderer (marked) turns them into a numbered list, even inside a bullet item, where CommonMark would not. A
    numbered line is a real item only at the start of a block, below an earlier numbered item at its indentation, or
    as a "1." starting a list nested deeper than the line above."""
    bad = []
    for text in markdown:
        block: list[str] = []
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith(("#", "|", ">", "```")):
                block = []
                continue
            in_numbered_list = any(NUMBERED.match(p) and _indent(p) == _indent(line) for p in block)
            nested_start = block and re.match(r"\s*1[.)]\s", line) and _indent(line) > _indent(block[-1])
            if NUMBERED.match(line) and block and not in_numbered_list and not nested_start:
                bad.append(line.strip()[:60])
            block.append(line)
    return bad


def test_checks_catch_what_they_should():
    assert unsupported_numbers(["RMSE 0.86 and 1.08† and 0.5"], "val_rmse 0.8555") == []
    assert unsupported_numbers(["RMSE 0.87"], "val_rmse 0.8555") == ["0.87"]
    assert unsupported_numbers(["see <https://doi.org/10.1145/2827872> and $0.05 \\sqrt{3}$"], "") == []
    assert unsupported_numbers(["## 3.10 Test\nAs section 3.10 shows"], "") == []
    assert accidental_lists(["DeViSE (Frome et al.,\n2013) mapped images"]) == ["2013) mapped images"]
    assert accidental_lists(["1. *first*\n   more\n2. second", "text\n\n3. list"]) == []
    # inside a bullet item too (lesson 1 had this: JupyterLab rendered "2013." as a numbered list)
    assert accidental_lists(["- **For transfer**: DeViSE (Frome et al.,\n  2013) mapped"]) == ["2013) mapped"]
    assert accidental_lists(["- a bullet\n  1. a nested numbered item\n  2. and the next"]) == []


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_number_in_the_prose_comes_from_the_notebook(path):
    nb = _notebook(path)
    missing = unsupported_numbers(_markdown(nb), _output_text(nb))
    assert not missing, f"{path.name}: numbers in the prose that no output shows (mark quotes with †): {missing}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_paragraph_line_renders_as_a_list(path):
    bad = accidental_lists(_markdown(_notebook(path)))
    assert not bad, f"{path.name}: rewrap these lines, Markdown turns them into numbered lists: {bad}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_run_metadata_or_noise(path):
    nb = _notebook(path)
    assert "papermill" not in nb.metadata, f"{path.name}: papermill metadata (paths, times) in the notebook"
    assert "version" not in nb.metadata.get("language_info", {}), f"{path.name}: machine's Python version saved"
    for i, cell in enumerate(nb.cells):
        where = f"{path.name} cell {i}"
        assert not {"execution", "papermill"} & set(cell.metadata), f"{where}: execution times in its metadata"
        for out in cell.get("outputs", []):
            assert not (out.get("output_type") == "stream" and out.get("name") == "stderr"), f"{where}: stderr saved"
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            assert not MACHINE_PATHS.search(text), f"{where}: a machine path in its output"
            assert not TIMINGS.search(text), f"{where}: timings or a progress bar in its output"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_committed_solution_passes_its_self_check(path):
    # nbval's run of the course checks the same when it executes them again (conftest.py).
    nb = _notebook(path)
    solutions = [
        c
        for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("jupyter", {}).get("source_hidden") and "exercises." in c.source
    ]
    for cell in solutions:
        said = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        assert "✅" in said and "Not yet" not in said, f"{path.name}: a solution's self-check says {said!r}"
