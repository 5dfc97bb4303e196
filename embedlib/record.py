"""Record a lesson's key numbers in its own outputs, where `embedlib run` reads them back.

In a kernel, a recorded value is displayed as an output with its own MIME type and no plain-text form, so the
learner's page shows nothing (front ends draw only the MIME types they know) while the runner finds the values in
the executed notebook. Outside a kernel the values are printed. Nothing depends on environment variables or side files, so parallel runs cannot mix their numbers.
"""

from __future__ import annotations

import html
import math
import numbers
from typing import TYPE_CHECKING

from embedlib.dataset import Dataset

if TYPE_CHECKING:  # nbformat takes seconds to import (its JSON-schema checks); kernels never need it
    import nbformat
    import pandas as pd

__all__ = ["MIME_TYPE", "TABLE_PREFIX", "read_records", "record_dataset", "record_metrics", "record_table"]

MIME_TYPE = "application/vnd.embedlib.record+json"
TABLE_PREFIX = "table: "  # a recorded table is kept under its title with this prefix


def _plain(name: str, value: object) -> object:
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"`{name}` must be a number, a string, a bool or None. Received: {name}={value!r}.")


def _shown(value: object) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4f}"
    return str(value)


def _display(bundle: dict, *, quiet: bool = False) -> None:
    """Display ``bundle`` in a kernel (without its text/plain form when ``quiet``), else print its text."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        shown = {k: v for k, v in bundle.items() if k != "text/plain"} if quiet else bundle
        display(shown, raw=True)
    else:
        print(bundle["text/plain"])


def record_metrics(**values: object) -> dict:
    """Record named values (e.g. ``record_metrics(val_rmse=0.85)``) for ``embedlib run`` and return them.

    In a notebook the record is invisible (no "recorded: …" noise on the page); outside one it is printed.
    """
    clean = {name: _plain(name, value) for name, value in values.items()}
    text = "recorded: " + ", ".join(f"{k} = {_shown(v)}" for k, v in clean.items())
    _display({MIME_TYPE: clean, "text/plain": text}, quiet=True)
    return clean


def _label(value: object) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def record_table(title: str, table: pd.DataFrame) -> dict:
    """Record a pandas DataFrame of numbers under ``title`` for ``embedlib run``, which prints it; return the record.

    Column names of several levels are joined with spaces; a missing value (NaN) is kept as None.
    """
    rows = []
    for row in table.to_numpy().tolist():
        values = [_plain(f"table {title!r}", value) for value in row]
        rows.append([None if isinstance(v, float) and math.isnan(v) else v for v in values])
    value = {"columns": [_label(c) for c in table.columns], "index": [_label(i) for i in table.index], "data": rows}
    _display({MIME_TYPE: {TABLE_PREFIX + title: value}, "text/plain": f"recorded the table {title!r}"}, quiet=True)
    return value


def record_dataset(data: Dataset) -> dict:
    """Record which dataset a lesson used and show it; a fallback to synthetic data gets a visible warning."""
    counts = data.counts()
    values = {
        "dataset": data.name,
        "dataset_fallback": data.is_fallback,
        "dataset_known_version": data.known_version,
        "dataset_fingerprint": data.fingerprint,
        "n_ratings": counts["ratings"],
        "n_users": counts["users"],
        "n_movies": counts["movies"],
    }
    if data.is_fallback:
        message = (
            f"WARNING: the real data could not be loaded ({data.fallback_reason}). This lesson runs on SYNTHETIC "
            "data, so its numbers and plots will not match the text. Set EMBEDLIB_DATA or connect to the internet."
        )
        _display(
            {
                "text/html": f'<div style="background:#fff3cd;border:2px solid #e0a800;padding:8px;font-weight:bold">'
                f"{html.escape(message)}</div>",
                "text/plain": message,
            }
        )
    return record_metrics(**values)


def read_records(notebook: nbformat.NotebookNode) -> dict:
    """All values recorded in an executed notebook, later ones overriding earlier ones."""
    found: dict = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME_TYPE in data:
                found.update(data[MIME_TYPE])
    return found
