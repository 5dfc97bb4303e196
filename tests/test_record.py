"""Recording metrics: works outside a kernel, and the runner reads the values back from outputs."""

import nbformat
import pytest

from embedlib.record import MIME_TYPE, read_records, record_dataset, record_metrics, record_table
from embedlib.synthetic import make_synthetic


def test_record_outside_a_kernel_prints_and_returns(capsys):
    values = record_metrics(val_rmse=0.8512, epochs=3, dataset="synthetic", ok=True)
    assert values == {"val_rmse": 0.8512, "epochs": 3, "dataset": "synthetic", "ok": True}
    assert "recorded: val_rmse = 0.8512, epochs = 3" in capsys.readouterr().out


def test_record_refuses_values_json_cannot_hold():
    with pytest.raises(TypeError, match="`history` must be a number, a string, a bool or None"):
        record_metrics(history=[1, 2])


def test_fallback_is_recorded_and_shown_loudly(capsys):
    data = make_synthetic(seed=0, n_users=5, n_movies=20, n_ratings=100)
    data.fallback_reason = "no network"
    values = record_dataset(data)
    assert values["dataset"] == "synthetic" and values["dataset_fallback"] is True
    assert "WARNING: the real data could not be loaded (no network)" in capsys.readouterr().out


def test_read_records_takes_the_last_value_of_each_name():
    nb = nbformat.v4.new_notebook()
    first, second = nbformat.v4.new_code_cell(), nbformat.v4.new_code_cell()
    first.outputs = [nbformat.v4.new_output("display_data", data={MIME_TYPE: {"a": 1, "b": 2}, "text/plain": ""})]
    second.outputs = [nbformat.v4.new_output("display_data", data={MIME_TYPE: {"a": 3}, "text/plain": ""})]
    nb.cells = [first, second]
    assert read_records(nb) == {"a": 3, "b": 2}


def test_in_a_kernel_the_record_has_no_plain_text_to_show(monkeypatch):
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda bundle, raw: shown.append(bundle))
    record_metrics(val_rmse=0.85)
    assert shown == [{MIME_TYPE: {"val_rmse": 0.85}}]


def test_a_recorded_table_keeps_its_rows_columns_and_missing_values(capsys):
    import numpy as np
    import pandas as pd

    table = pd.DataFrame({("rmse", "mean"): [0.86, 0.87], ("rmse", "std"): [0.0015, np.nan]}, index=["dot", "floor"])
    value = record_table("RMSE by model", table)
    assert value == {"columns": ["rmse mean", "rmse std"], "index": ["dot", "floor"],
                     "data": [[0.86, 0.0015], [0.87, None]]}  # fmt: skip
    assert "recorded the table 'RMSE by model'" in capsys.readouterr().out
    with pytest.raises(TypeError, match="must be a number"):
        record_table("bad", pd.DataFrame({"a": [[1, 2]]}))
