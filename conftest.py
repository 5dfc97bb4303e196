"""Root conftest: what the whole suite needs before collection.

- ``--network`` opts in to the tests marked ``network`` (without it they are skipped, saying so). Deselecting by
  ``-m`` in ``addopts`` would be replaced by any ``-m`` on the command line.
- nbval re-executes the committed lessons, whose outputs come from the real ml-latest-small: those cells are marked
  ``slow`` and ``real_data``, and skipped without the real data.
- That nbval execution is the suite's one real-data run of the course: the values the lessons record there are
  kept (fixture ``course_records``) for the RMSE-bar test, which runs after nbval's cells, in the same process.
- Under pytest-xdist, tests are grouped so that what shares state runs in one worker (see below).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

COURSE_RECORDS = pytest.StashKey[dict]()
# Measured on 2 cores, longest first: nbval's run of the course, the wheel's environment with the TensorFlow lessons,
# the small lesson runs, the browser, Binder's environment, the README's route.
LONGEST_GROUPS = ("course", "wheel", "tests/test_lessons.py", "tests/test_browser.py", "tests/test_binder_env.py",
                  "tests/test_readme_route.py")  # fmt: skip
RECORD_MIME_TYPE = "application/vnd.embedlib.record+json"  # embedlib.record.MIME_TYPE (embedlib is not imported here)


def pytest_addoption(parser):
    parser.addoption("--network", action="store_true", help="also run the tests marked network (need the internet)")


def pytest_configure(config):
    config.stash[COURSE_RECORDS] = {}


def _real_data_available() -> bool:
    home = os.environ.get("EMBEDLIB_DATA")
    return bool(home) and (Path(home) / "ml-latest-small" / "ratings.csv").is_file()


def _is_nbval_cell(item) -> bool:
    return item.nodeid.split("::")[0].endswith(".ipynb")


@pytest.hookimpl(tryfirst=True)  # before -m deselects: nbval's cells get their markers first
def pytest_collection_modifyitems(config, items):
    no_network = pytest.mark.skip(reason="needs the internet: run pytest with --network to include it")
    no_real_data = pytest.mark.skip(
        reason="nbval compares the lessons with outputs made on the real ml-latest-small: set EMBEDLIB_DATA to "
        "the folder holding ml-latest-small/"
    )
    for item in items:
        if "network" in item.keywords and not config.getoption("--network"):
            item.add_marker(no_network)
        if _is_nbval_cell(item):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.real_data)
            if not _real_data_available():
                item.add_marker(no_real_data)

    # xdist hands out groups (see pytest_itemcollected) in this order when told --no-loadscope-reorder (as
    # scripts/test.sh does): the longest first, so that no long group is left for one worker at the end. Within the
    # course's group, the tests that read its records come last.
    def order(item) -> tuple[int, bool]:
        group = next((m.args[0] for m in item.iter_markers("xdist_group")), "")
        rank = LONGEST_GROUPS.index(group) if group in LONGEST_GROUPS else len(LONGEST_GROUPS)
        return rank, "course_run" in item.keywords

    items.sort(key=order)


def pytest_itemcollected(item):
    """Group the tests for pytest-xdist (`-n 2 --dist loadgroup`, as scripts/test.sh runs): each group goes to one
    worker as a whole. nbval's real-data run of the course goes with the tests that read what it recorded; the tests
    that share the wheel's environment go together; any other test goes with its module (whose module-scoped fixtures
    are then built once). Marked here, as each item is collected: xdist reads the marks in its own
    pytest_collection_modifyitems, which may run before this file's."""
    if _is_nbval_cell(item) or "course_run" in item.keywords:
        group = "course"
    elif "wheel_venv" in getattr(item, "fixturenames", ()):
        group = "wheel"
    else:
        group = item.nodeid.split("::")[0]
    item.add_marker(pytest.mark.xdist_group(group))


def _is_solution_self_check(item) -> bool:
    cell = getattr(item, "cell", None)
    hidden = cell is not None and cell.get("metadata", {}).get("jupyter", {}).get("source_hidden", False)
    return bool(hidden) and "exercises." in cell.source


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    outputs = getattr(item, "test_outputs", None) if _is_nbval_cell(item) else None
    for output in outputs or []:
        recorded = output.get("data", {}).get(RECORD_MIME_TYPE)
        if recorded:
            item.config.stash[COURSE_RECORDS].setdefault(Path(item.path).stem, {}).update(recorded)
    # A folded solution's self-check must pass when nbval runs it, not only in the committed output. (Its output is
    # not compared as a whole: nbval runs cells without history, so the `;` that hides the check's return value in
    # a notebook does not hide it there.)
    if _is_nbval_cell(item) and _is_solution_self_check(item):
        said = "".join(o.get("text", "") for o in outputs or [] if o.get("output_type") == "stream")
        if "✅" not in said or "Not yet" in said:
            raise AssertionError(f"{item.nodeid}: the solution's self-check did not pass when run: {said!r}")
    return result


@pytest.fixture
def course_records(request) -> dict[str, dict]:
    """What each lesson recorded in this session's nbval run, by lesson name (empty where nbval did not run it)."""
    return request.config.stash[COURSE_RECORDS]
