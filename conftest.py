"""Root conftest: nbval re-executes the committed lessons, whose outputs come from the real ml-latest-small.

Without the real data they would fall back to synthetic data and differ, so they are skipped, saying why.
"""

import os
from pathlib import Path

import pytest


def _real_data_available() -> bool:
    home = os.environ.get("EMBEDLIB_DATA")
    return bool(home) and (Path(home) / "ml-latest-small" / "ratings.csv").is_file()


def pytest_collection_modifyitems(config, items):
    if _real_data_available():
        return
    skip = pytest.mark.skip(
        reason="nbval compares the lessons with outputs made on the real ml-latest-small: set EMBEDLIB_DATA to "
        "the folder holding ml-latest-small/"
    )
    for item in items:
        if item.nodeid.startswith("lessons/") and item.nodeid.split("::")[0].endswith(".ipynb"):
            item.add_marker(skip)
