"""The benchmark on synthetic data in quick mode: every row present, ratios and goals computed, files written."""

import json
from importlib.util import find_spec

from embedlib import bench, cli


def test_quick_benchmark_has_every_row_and_saves_markdown_and_json(tmp_path, capsys):
    assert cli.main(["bench", "--dataset", "synthetic", "--quick", "--output-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    assert [r["model"] for r in result["rows"]] == [c.name for c in bench.CASES]
    has_surprise = find_spec("surprise") is not None
    for row in result["rows"]:
        if row["model"].startswith("surprise") and not has_surprise:
            assert row["status"].startswith("absent")
        else:
            assert row["status"] == "ok" and 0 < row["val_rmse"] < 2 and row["time_ratio"] > 0, row
    reference = next(r for r in result["rows"] if r["model"] == result["reference"])
    assert reference["time_ratio"] == 1.0
    assert {g["goal"] for g in result["goals"]} >= set(bench.GOALS)
    markdown = (tmp_path / "bench.md").read_text()
    assert markdown.count("\n| ") >= len(bench.CASES) + 2 and "Machine:" in markdown
    assert "| dot + biases, fast |" in capsys.readouterr().out


def test_a_backend_that_fails_becomes_a_row_not_a_crash(monkeypatch):
    monkeypatch.setattr(bench, "installed_backends", lambda: ["torch"])

    def fit_or_fail(case, dataset, seed, quick, backend=None):
        if backend:
            raise ValueError("`steps_per_execution` must be 1 with the PyTorch backend")
        return bench._fit_case(case, dataset, seed, quick)

    monkeypatch.setattr(bench, "_one_fit", fit_or_fail)
    result = bench.run_benchmark(dataset="synthetic", quick=True, echo=lambda *_: None)
    torch_rows = [r for r in result["rows"] if r["model"].endswith("[torch]")]
    assert len(torch_rows) == sum(c.kind == "keras" for c in bench.CASES)
    assert all(r["status"].startswith("failed: ValueError") for r in torch_rows)
    assert "| dot (lesson 2) [torch] | failed: ValueError" in bench.to_markdown(result)
