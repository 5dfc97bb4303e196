"""The README's ways in: every Binder badge has a Colab badge beside it for the same notebook, and every lesson
has both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = re.compile(r"https://mybinder\.org/v2/gh/embedlib/embedlib/HEAD\?urlpath=lab/tree/(lessons/[\w./-]+)\)")
COLAB = re.compile(r"https://colab\.research\.google\.com/github/embedlib/embedlib/blob/v[\d.]+/(lessons/[\w./-]+)\)")


INDEXES = ["README.md", "lessons/README.md"]


@pytest.mark.parametrize("index", INDEXES)
def test_every_binder_badge_of_a_lesson_has_a_colab_badge_beside_it(index):
    lines = [line for line in (ROOT / index).read_text().splitlines() if BINDER.search(line)]
    lesson_lines = [line for line in lines if BINDER.search(line)[1].endswith(".ipynb")]
    assert lesson_lines, f"{index} has no Binder badges for lessons"
    for line in lesson_lines:
        assert COLAB.findall(line) == BINDER.findall(line), line


@pytest.mark.parametrize("index", INDEXES)
def test_every_lesson_has_its_badges_in_the_index(index):
    text = (ROOT / index).read_text()
    for lesson in sorted((ROOT / "lessons").glob("[0-9]*.ipynb")):
        path = f"lessons/{lesson.name}"
        assert path in BINDER.findall(text), f"{index} has no Binder badge for {path}"
        assert path in COLAB.findall(text), f"{index} has no Colab badge for {path}"
        assert (ROOT / path).is_file()


def test_the_readme_lists_every_environment_variable_embedlib_reads():
    from embedlib.environment import VARIABLES

    text = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `(EMBEDLIB_\w+)` \|", text, re.M))
    assert listed == set(VARIABLES)
    used = set()
    for path in [*ROOT.glob("embedlib/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("scripts/*.sh"), ROOT / ".ci/run"]:
        used |= set(re.findall(r"EMBEDLIB_[A-Z_]+[A-Z]", path.read_text()))
    assert used - {"EMBEDLIB_SOME_FLAG"} <= set(VARIABLES), f"read but not listed: {used - set(VARIABLES)}"
