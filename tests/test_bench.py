"""The benchmark (benchmarks/, not the package) on synthetic data in quick mode: rows, ratios, goals, files."""

import ast
import json
from importlib.util import find_spec
from pathlib import Path

import pytest

from benchmarks import bench
from benchmarks import ranking as ranking_bench

BENCH_SOURCE = Path(bench.__file__).read_text()


def test_quick_benchmark_has_every_row_and_saves_markdown_and_json(tmp_path, capsys):
    report = tmp_path / "report.md"
    report.write_text("# Title\nprose\n<!-- bench:start -->\nSTALE-TABLE\n<!-- bench:end -->\nmiddle\n<!-- ranking:start -->\n"
                      "STALE-TABLE\n<!-- ranking:end -->\nend\n")  # fmt: skip
    argv = ["--dataset", "synthetic", "--quick", "--output-dir", str(tmp_path), "--report", str(report)]
    assert bench.main(argv) == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    names = [c.name for c in bench.CASES]
    warm_after = names.index(bench.FAST) + 1
    assert [r["model"] for r in result["rows"]] == [*names[:warm_after], f"{bench.FAST}, warm", *names[warm_after:]]
    has_surprise = find_spec("surprise") is not None
    for row in result["rows"]:
        if row["model"].startswith("surprise") and not has_surprise:
            assert row["status"].startswith("absent")
        else:
            assert row["status"] == "ok" and 0 < row["val_rmse"] < 2, row
    by_name = {r["model"]: r for r in result["rows"] if r["status"] == "ok"}
    reference, lesson_3 = by_name[result["reference"]], by_name[bench.LESSON_3]
    for row in by_name.values():  # the ratios are of the measured times, in this run
        assert row["time_ratio"] == pytest.approx(row["fit_seconds"] / reference["fit_seconds"]), row
    rowwise = [r for r in result["rows"] if r["model"].startswith("row-wise") and not r["model"].endswith("]")]
    assert rowwise and all(
        r["epoch_speedup"] == pytest.approx(lesson_3["seconds_per_epoch"] / r["seconds_per_epoch"]) for r in rowwise
    )
    best = next(r for r in result["rows"] if r["model"] == bench.BEST)
    assert len(best["seed_rmses"]) == 3 and len(set(best["seed_rmses"])) == 3  # three different model seeds
    goals = {g["goal"]: g for g in result["goals"]}
    assert set(goals) >= set(bench.GOALS)
    assert any("20x fewer s/epoch" in g for g in goals)
    for g in goals.values():
        if g["met"] is not None:
            assert g["met"] == (g["margin"] >= 0)
    markdown = (tmp_path / "bench.md").read_text()
    assert markdown.count("\n| ") >= len(bench.CASES) + 4 and "Machine:" in markdown
    assert f"| {bench.FAST} |" in capsys.readouterr().out
    ranked = {r["model"]: r for r in result["ranking"]["rows"]}
    expected = {"popularity", ranking_bench.IMPLICIT_MODEL, *ranking_bench.PEERS}
    if find_spec("implicit") is not None:  # the peers also at their defaults
        expected |= {f"{name}, defaults" for name in ranking_bench.PEERS}
    assert expected <= set(ranked)
    for row in ranked.values():
        if row["status"] == "ok":
            assert 0 <= row["ndcg@10"] <= 1 and 0 <= row["recall@10"] <= 1, row
        else:
            assert find_spec("implicit") is None and row["status"].startswith("absent"), row
    assert ranked[ranking_bench.IMPLICIT_MODEL]["seeds"] == 3
    assert len(result["ranking"]["goals"]) == 3 and "| goal |" in markdown.split("Top-10 lists")[1]
    written = report.read_text()
    assert written.startswith("# Title\nprose\n<!-- bench:start -->\nValidation RMSE") and "STALE-TABLE" not in written
    assert "<!-- bench:end -->\nmiddle\n<!-- ranking:start -->\nTop-10 lists" in written and written.endswith("end\n")


def test_the_committed_report_has_one_pair_of_each_marker_and_a_report_without_them_is_refused(tmp_path):
    from benchmarks.goals import fill_report

    text = (Path(bench.__file__).parent / "README.md").read_text()
    for section in ("bench", "ranking"):
        assert text.count(f"<!-- {section}:start -->") == text.count(f"<!-- {section}:end -->") == 1
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    with pytest.raises(ValueError, match="exactly one <!-- bench:start -->"):
        fill_report(plain, "bench", "| table |")
    assert plain.read_text() == "no markers\n"


def test_a_backend_that_fails_becomes_a_row_not_a_crash(monkeypatch):
    monkeypatch.setattr(bench, "installed_backends", lambda: ["torch"])

    def fit_or_fail(case, dataset, seed, quick, backend=None, compile_cache=None):
        if backend:
            raise ValueError("`steps_per_execution` must be 1 with the PyTorch backend")
        return {"model": case.name, "val_rmse": 0.9, "fit_seconds": 1.0, "seconds_per_epoch": 0.1, "epochs": 2}

    # what is tested is the bookkeeping around the fits, so the fits themselves are stand-ins
    monkeypatch.setattr(bench, "_fit_case", fit_or_fail)
    monkeypatch.setattr(bench, "_one_fit", fit_or_fail)
    result = bench.run_benchmark(dataset="synthetic", quick=True, echo=lambda *_: None)
    torch_rows = [r for r in result["rows"] if r["model"].endswith("[torch]")]
    assert len(torch_rows) == sum(c.kind == "keras" for c in bench.CASES)
    assert all(r["status"].startswith("failed: ValueError") for r in torch_rows)
    assert "| dot (lesson 2) [torch] | failed: ValueError" in bench.to_markdown(result)


def test_the_benchmark_imports_nothing_posix_only_or_heavy_at_import_time():
    top_level = set()
    for node in ast.parse(BENCH_SOURCE).body:
        if isinstance(node, ast.Import):
            top_level |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top_level.add((node.module or "").split(".")[0])
    assert not top_level & {"resource", "embedlib", "keras", "jax", "surprise"}, top_level


def test_the_package_no_longer_holds_the_benchmark():
    assert find_spec("embedlib.bench") is None
