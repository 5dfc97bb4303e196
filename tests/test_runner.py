"""Running lessons (embedlib.course, embedlib.execute, the CLI) and sweeps on tiny notebooks written here: parameters
checked first, metrics collected, the scheduling decisions themselves checked rather than timed."""

from __future__ import annotations

import json
import math
import os
import platform
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from embedlib import cli, course, execute, sweep
from embedlib.course import ParameterError

TINY_PARAMETERS = """dataset = "synthetic"
n = 3          # ≥ 1: how many
scale = 0.5    # in [0, 10): a factor
fail = False
seed = 0       # in [0, 4294967295]
sizes = [1, 2] # each > 0"""
TINY_BODY = """import embedlib
if fail:
    raise RuntimeError("boom on purpose")
embedlib.record_metrics(dataset=dataset, dataset_fallback=False, val_rmse=n * scale + seed / 100)"""


DATA_PARAMETERS = 'dataset = "ml-latest-small"\nn = 1'
DATA_BODY = """import embedlib
data = embedlib.load_movielens(dataset)
embedlib.record_dataset(data)
embedlib.record_metrics(val_rmse=float(len(data.ratings) * n))"""
RECURSIVE_PARAMETERS = 'recurse = False\nme = ""\nout = ""'
RECURSIVE_BODY = """import embedlib
from embedlib import course, sweep
if recurse:
    sweep.run_sweep(course.load_lesson(me), {"recurse": [False]}, out, progress=False)
embedlib.record_metrics(val_rmse=1.0)"""


def write_tiny(
    folder: Path, name: str = "01-tiny", parameters: str = TINY_PARAMETERS, *body: str, title: str = "A tiny lesson"
) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    code = [nbformat.v4.new_code_cell(source) for source in body or (TINY_BODY,)]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), params, *code]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def lessons(tmp_path, monkeypatch):
    folder = tmp_path / "lessons"
    write_tiny(folder)
    monkeypatch.setenv("EMBEDLIB_LESSONS", str(folder))
    return course.find_lessons()


def test_lessons_are_found_with_title_and_defaults(lessons):
    (lesson,) = lessons
    assert (lesson.name, lesson.title) == ("01-tiny", "A tiny lesson")
    assert lesson.defaults == {"dataset": "synthetic", "n": 3, "scale": 0.5, "fail": False, "seed": 0, "sizes": [1, 2]}
    assert course.select_lessons(["01"], lessons) == [lesson]
    with pytest.raises(ParameterError, match="No lesson matches '07'. Lessons: 01-tiny"):
        course.select_lessons(["07"], lessons)


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"epochz": 3},
            r"01-tiny has no parameter 'epochz'. Valid parameters:\n  dataset \(str, default 'synthetic'\)",
        ),
        ({"n": "many"}, r"parameter 'n' must be of type int like its default 3. Received: 'many' \(of type str\)"),
        ({"n": 2.5}, r"parameter 'n' must be of type int"),
        ({"fail": 1}, r"parameter 'fail' must be of type bool"),
        ({"dataset": "ml-5m"}, r"parameter 'dataset' must be one of ml-latest-small, .*synthetic"),
        ({"sizes": 3}, r"parameter 'sizes' must be of type list"),
    ],
)
def test_bad_parameters_are_refused_with_the_valid_list(lessons, params, message):
    with pytest.raises(ParameterError, match=message):
        course.check_parameters(lessons[0], params)


def test_values_are_parsed_and_ints_accepted_for_floats(lessons):
    assert course.parse_value("64") == 64 and course.parse_value("0.3") == 0.3 and course.parse_value("true") is True
    assert course.parse_value("1e-3") == 0.001 and course.parse_value("-2E+2") == -200.0  # YAML 1.1 reads text
    assert course.parse_value("-1") == -1 and course.parse_value("nan") == "nan"
    assert course.check_parameters(lessons[0], {"scale": 2}) == {"scale": 2.0}


def test_a_negative_seed_is_refused_up_front(lessons, tmp_path, capsys):
    refused = tmp_path / "refused"
    assert cli.main(["run", "01", "-p", "seed", "-1", "--output-dir", str(refused)]) == 2
    assert "parameter 'seed' must be in [0, 4294967295]. Received: seed=-1" in capsys.readouterr().err
    assert not refused.exists()


def test_outside_a_checkout_the_cli_says_where_it_looked_and_how_to_point_elsewhere(
    lessons, tmp_path, monkeypatch, capsys
):
    folder = lessons[0].path.parent
    monkeypatch.delenv("EMBEDLIB_LESSONS")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert cli.main(["lessons"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "elsewhere" / "lessons") in err and "--lessons-dir" in err and "EMBEDLIB_LESSONS" in err
    assert cli.main(["lessons", "--lessons-dir", str(folder)]) == 0
    assert "01-tiny" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)  # the root of a "checkout": ./lessons/ is found without being named
    assert course.lessons_dir() == Path("lessons")


def test_run_collects_metrics_and_writes_a_summary(lessons, tmp_path, capsys):
    out = tmp_path / "out"
    # 1e-3 is text to YAML 1.1; as a value for a float parameter it must run.
    code = cli.main(["run", "01", "-p", "n", "4", "-p", "scale", "1e-3", "--output-dir", str(out), "--no-progress"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    (entry,) = summary["lessons"]
    assert entry["status"] == "ok" and entry["metrics"] == {"val_rmse": 0.004}
    assert entry["parameters"]["n"] == 4 and entry["parameters"]["scale"] == 0.001 and entry["dataset"] == "synthetic"
    assert summary["machine"]["python"] == platform.python_version()
    assert (out / "01-tiny.ipynb").exists()
    printed = capsys.readouterr().out
    assert "01-tiny" in printed and "0.0040" in printed and "total" in printed


def test_a_failing_lesson_fails_the_run_and_shows_the_error(lessons, tmp_path, capsys):
    code = cli.main(["run", "--all", "-p", "fail", "true", "--output-dir", str(tmp_path / "out"), "--no-progress"])
    assert code == 1
    (entry,) = json.loads((tmp_path / "out" / "summary.json").read_text())["lessons"]
    assert entry["status"] == "failed" and "RuntimeError" in entry["error"] and "boom on purpose" in entry["error"]
    assert "boom on purpose" in capsys.readouterr().err


def test_nonsense_parameters_stop_the_cli_before_anything_runs(lessons, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", "--all", "-p", "n", "lots", "--output-dir", str(out)]) == 2
    assert "parameter 'n' must be of type int" in capsys.readouterr().err
    assert not out.exists()
    assert cli.main(["run", "--all", "-p", "nope", "1", "--output-dir", str(out)]) == 2
    assert cli.main(["run", "--all", "--in-place", "-p", "n", "2"]) == 2


def test_sweep_grid_resume_and_figure(lessons, tmp_path):
    (lesson,) = lessons
    out = tmp_path / "sweep"
    first = sweep.run_sweep(lesson, {"n": [1, 2], "scale": [0.5, 1.0]}, out, workers=2, progress=False)
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 4 and first.executed == 4 and (table["status"] == "ok").all()
    assert sorted(table["val_rmse"]) == [0.5, 1.0, 1.0, 2.0]
    assert (out / "sweep.png").stat().st_size > 0
    assert first.best(n=1)["val_rmse"].iloc[0] == 0.5

    # As if killed half-way: one run's result never got written.
    victim = sorted((out / "runs").glob("*.json"))[0]
    victim.unlink()
    untouched = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    second = sweep.run_sweep(lesson, {"n": [1, 2], "scale": [0.5, 1.0]}, out, workers=2, progress=False)
    assert second.executed == 1 and len(second.table) == 4
    assert all(p.stat().st_mtime_ns == t for p, t in untouched.items())


def test_sweep_repeats_get_their_own_seeds_and_failures_are_recorded(lessons, tmp_path):
    (lesson,) = lessons
    result = sweep.run_sweep(lesson, {"fail": [False, True]}, tmp_path / "s", repeat=2, workers=2, progress=False)
    assert sorted(result.table["seed"]) == [0, 0, 1, 1]
    assert (
        result.failed == 2 and result.table.loc[result.table["status"] == "failed", "error"].str.contains("boom").all()
    )
    assert sorted(result.table.loc[result.table["status"] == "ok", "val_rmse"]) == [1.5, 1.51]


def test_a_sweep_resumed_on_other_data_or_changed_code_recomputes_its_runs(tmp_path, monkeypatch):
    from helpers import RATINGS_HEADER, RATINGS_ROWS, write_small

    path = write_tiny(tmp_path / "data-lessons", "01-data", DATA_PARAMETERS, DATA_BODY)
    out, said = tmp_path / "sweep", []

    def sweep_on(home: Path, **kwargs) -> sweep.SweepResult:
        monkeypatch.setenv("EMBEDLIB_DATA", str(home))
        lesson = course.load_lesson(path)
        return sweep.run_sweep(lesson, {"n": [2]}, out, progress=False, echo=said.append, **kwargs)

    first = sweep_on(write_small(tmp_path / "a").parent)
    assert (first.executed, first.table["val_rmse"].tolist()) == (1, [2.0 * len(RATINGS_ROWS)])
    same_content = sweep_on(write_small(tmp_path / "b").parent)
    assert (same_content.executed, same_content.stale, said) == (0, 0, [])
    fewer = write_small(tmp_path / "c", ratings="\n".join([RATINGS_HEADER, *RATINGS_ROWS[:5]]) + "\n").parent
    other_data = sweep_on(fewer)
    assert (other_data.executed, other_data.stale, other_data.table["val_rmse"].tolist()) == (1, 1, [10.0])
    assert said == [
        f"1 finished runs in {out} are stale and will run again (1 because the dataset differs from the one it ran on)."
    ]
    write_tiny(tmp_path / "data-lessons", "01-data", DATA_PARAMETERS, DATA_BODY, "n = n + 0")
    changed_code = sweep_on(fewer)
    assert (changed_code.executed, changed_code.stale) == (1, 1) and "the lesson's code changed" in said[-1]


def test_a_sweep_cannot_recurse_or_write_into_the_lessons_folder(lessons, tmp_path):
    path = write_tiny(tmp_path / "recursive", "01-recursive", RECURSIVE_PARAMETERS, RECURSIVE_BODY)
    inner = tmp_path / "inner"
    result = sweep.run_sweep(
        course.load_lesson(path),
        {"recurse": [True]},
        tmp_path / "outer",
        base_params={"me": str(path), "out": str(inner)},
        progress=False,
    )
    assert result.failed == 1 and "inside a run of a sweep" in result.table["error"].iloc[0]
    assert not inner.exists()
    (lesson,) = lessons
    with pytest.raises(ParameterError, match="inside the lessons folder"):
        sweep.run_sweep(lesson, {"n": [1]}, lesson.path.parent / "sweep-output")
    assert not (lesson.path.parent / "sweep-output").exists()


def test_sweep_refuses_bad_values_and_big_grids_before_running(lessons, tmp_path, capsys):
    out = tmp_path / "s"
    assert cli.main(["sweep", "01", "-p", "n", "1", "two", "--output-dir", str(out)]) == 2
    assert "parameter 'n' must be of type int" in capsys.readouterr().err and not out.exists()
    with pytest.raises(ParameterError, match="This sweep has 30 runs .*--yes"):
        sweep.run_sweep(lessons[0], {"n": list(range(1, 31))}, out)
    assert not out.exists()


def test_the_test_split_table_lists_what_a_lesson_recorded():
    plain = execute.RunResult("02-dot-product-model", "a.ipynb", {}, metrics={"val_rmse": 1.05})
    assert cli.format_test_split([plain]) is None
    biases = execute.RunResult(
        "03-biases", "b.ipynb", {}, metrics={"val_rmse": 0.86, "test_rmse_bias_model": 0.85, "test_rmse_dot": 1.04}
    )
    table = cli.format_test_split([plain, biases])
    assert table.splitlines() == [
        "Test-split RMSE recorded by 03-biases (rows nobody tuned on):",
        "  bias model  0.8500",
        "  dot         1.0400",
    ]


@pytest.mark.slow
def test_in_place_keeps_the_lesson_when_a_run_fails_and_cleans_it_when_it_succeeds(tmp_path):
    folder = tmp_path / "lessons"
    path = write_tiny(folder, "01-tiny", TINY_PARAMETERS.replace("fail = False", "fail = True"))
    before = path.read_text()
    (failed,) = execute.run_lessons(course.find_lessons(folder), {}, tmp_path / "out", in_place=True, progress=False)
    assert not failed.ok and path.read_text() == before
    write_tiny(folder, "01-tiny", TINY_PARAMETERS, "import sys\nprint('noise', file=sys.stderr)\n" + TINY_BODY)
    (done,) = execute.run_lessons(course.find_lessons(folder), {}, tmp_path / "out", in_place=True, progress=False)
    assert done.ok and done.notebook == str(path)
    committed = nbformat.read(path, as_version=4)
    assert "papermill" not in committed.metadata
    assert all("execution" not in c.metadata and "papermill" not in c.metadata for c in committed.cells)
    assert not [o for c in committed.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert course.load_lesson(path).defaults["n"] == 3


def test_lessons_that_may_share_the_machine_run_together_and_one_that_times_things_runs_after_them(tmp_path):
    names = ("01-first", "02-timed", "03-third", "04-fourth")
    lessons = [
        course.Lesson(n, tmp_path / f"{n}.ipynb", n, {}, runs_alone="it times" if "timed" in n else None) for n in names
    ]
    first, timed, third, fourth = lessons
    assert execute.schedule(lessons, 2) == [[first, third, fourth], [timed]]
    assert execute.schedule(lessons, 1) == [[lesson] for lesson in lessons]
    assert execute.schedule([timed], 2) == [[timed]]


class CountingExecutor:
    """Runs each call at once in this thread, keeping it "running" until the loop asks for the next finished one."""

    def __init__(self) -> None:
        self.running, self.most_at_once, self.order = 0, 0, []

    def submit(self, function, item):
        from concurrent.futures import Future

        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.order.append(item)
        future = Future()
        future.set_result(function(item))
        future.add_done_callback(lambda _: None)
        return future


def test_run_each_never_has_more_than_at_once_items_running_and_starts_the_rest_in_order():
    executor = CountingExecutor()
    seen = []
    for item, future in execute.run_each(executor, lambda x: x * 10, range(7), at_once=3):
        executor.running -= 1  # the loop has taken this one back: its slot is free
        seen.append((item, future.result()))
    assert executor.most_at_once == 3 and executor.order == list(range(7))
    assert sorted(seen) == [(i, i * 10) for i in range(7)]
    with pytest.raises(ValueError, match="at_once"):
        next(execute.run_each(executor, abs, [1], at_once=0))


def test_run_all_with_two_jobs_reports_the_groups_and_keeps_the_lessons_order(tmp_path, capsys):
    folder = tmp_path / "lessons"
    for name in ("01-first", "02-second", "03-timed"):
        write_tiny(folder, name, "n = 1", "import embedlib\nembedlib.record_metrics(val_rmse=float(n))", title=name)
    timed = nbformat.read(folder / "03-timed.ipynb", as_version=4)
    timed.metadata["embedlib"] = {"runs_alone": "it times a pause"}
    nbformat.write(timed, folder / "03-timed.ipynb")
    argv = ["run", "--all", "--jobs", "2", "--lessons-dir", str(folder), "--output-dir", str(tmp_path / "o")]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "03-timed: 03-timed (by itself: it times a pause)" in printed
    assert "running these 2 lessons 2 at a time" in printed
    assert "2 lessons at a time, so the seconds above add up to more" in printed
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert [entry["lesson"] for entry in summary["lessons"]] == ["01-first", "02-second", "03-timed"]
    assert summary["jobs"] == 2 and all(entry["status"] == "ok" for entry in summary["lessons"])


def test_a_bad_count_of_jobs_is_refused_and_the_default_honours_cpu_quotas(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "lessons"
    write_tiny(folder, "01-first", "n = 1", "pass")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["run", "--all", "--jobs", "0", "--lessons-dir", str(folder)])
    assert stopped.value.code == 2
    assert "argument --jobs: must be a positive whole number, got '0'" in capsys.readouterr().err
    assert not (tmp_path / "course-output").exists()
    with pytest.raises(ValueError, match="`jobs` must be a positive integer"):
        execute.run_lessons(course.find_lessons(folder), {}, tmp_path / "o", jobs=0, echo=None)
    import joblib

    for cpus, jobs in ((1, 1), (2, 2), (16, 2)):
        monkeypatch.setattr(joblib, "cpu_count", lambda cpus=cpus, **_: cpus)
        assert execute.default_jobs() == jobs


def test_the_lesson_that_times_training_is_the_one_that_runs_alone():
    folder = Path(__file__).resolve().parents[1] / "lessons"
    alone = {lesson.name for lesson in course.find_lessons(folder) if lesson.runs_alone}
    assert alone == {"06-fast-training"}


def test_recorded_tables_are_printed_under_their_titles():
    plain = execute.RunResult("03-biases", "a.ipynb", {}, metrics={"val_rmse": 0.86})
    assert cli.format_recorded_tables([plain]) is None
    table = {"columns": ["mean", "sd"], "index": ["dot product", "floor"], "data": [[0.8562, 0.0015], [0.8748, None]]}
    tabled = execute.RunResult("08-questions", "b.ipynb", {}, metrics={"table: RMSE by model": table})
    lines = cli.format_recorded_tables([plain, tabled]).splitlines()
    assert lines[0] == "RMSE by model (08-questions):"
    assert lines[2].split() == ["dot", "product", "0.8562", "0.0015"] and lines[3].split() == ["floor", "0.8748", "-"]


def test_the_ranking_table_lists_what_a_lesson_recorded_best_first():
    plain = execute.RunResult("03-biases", "a.ipynb", {}, metrics={"val_rmse": 0.86})
    assert cli.format_ranking([plain]) is None
    ranked = execute.RunResult(
        "07-ranking",
        "b.ipynb",
        {},
        metrics={
            "ranking_ndcg_popularity": 0.087,
            "ranking_recall_popularity": 0.082,
            "ranking_coverage_popularity": 0.012,
            "ranking_ndcg_implicit": 0.118,
            "ranking_recall_implicit": 0.123,
            "ranking_coverage_implicit": 0.083,
        },
    )
    lines = cli.format_ranking([plain, ranked]).splitlines()
    assert lines[0].startswith("Top-10 lists recorded by 07-ranking")
    assert lines[2].split() == ["implicit", "0.1180", "0.1230", "0.0830"]
    assert lines[3].split() == ["popularity", "0.0870", "0.0820", "0.0120"]


@pytest.mark.parametrize(
    ("comment", "inside", "outside"),
    [
        ("# >= 1: at most", [1, 10**9], [0, -3, 0.5, True]),
        ("# ≥ 1: at most", [1, 10**9], [0, -3, 0.5, True]),
        ("# each ≥ 2", [[2, 3]], [[1]]),
        ("# > 0", [1e-9, 3], [0, -1]),
        ("# in (0, 1): a share", [0.5, 1e-6], [0, 1, 1.5]),
        ("# in [0, 1): dropout", [0, 0.99], [1, -0.1]),
        ("# in [0, 4294967295]", [0, 4294967295], [-1, 4294967296]),
        ("#<= 5", [5, -100], [5.5]),
        ("# each >= 2: sizes", [[2, 3], []], [[1, 2], 3]),
        ("# in [1_000, inf)", [1000, 10**12], [999]),
    ],
)
def test_a_range_in_a_parameters_comment_is_read_and_enforced(comment, inside, outside):
    allowed = course.Range.parse(comment)
    assert allowed is not None
    assert all(v in allowed for v in inside), [v for v in inside if v not in allowed]
    assert not any(v in allowed for v in outside), [v for v in outside if v in allowed]
    assert course.Range.parse(f"# {allowed}") == allowed  # printed as it is written


@pytest.mark.parametrize(
    "comment", ["", "# at most; early stopping", "# or 'synthetic'", "# each movie's", "# in time"]
)
def test_a_comment_without_a_range_declares_none(comment):
    assert course.Range.parse(comment) is None


@pytest.mark.parametrize("comment", ["# >= one", "# > 0 means on", "# ≥ 1, at most", "# in [5, 1]", "# > _: x"])
def test_a_comment_that_starts_like_a_range_but_is_not_one_is_an_error(comment):
    with pytest.raises(ValueError, match="range"):
        course.Range.parse(comment)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("n = 0  # ≥ 1", "the default 0 is outside its range, ≥ 1"),
        ("n = 1  # > 0 means on", "starts like a range but is not one"),
        ("n = 2 * 3", "its default must be a literal"),
        ("n = (\n  1  # ≥ 1\n)  # ≥ 2", "declare 2 ranges"),
        ("%matplotlib inline", "not plain Python"),
    ],
)
def test_a_parameters_cell_the_runner_cannot_trust_is_refused_naming_the_file(tmp_path, cell, message):
    path = write_tiny(tmp_path, "01-odd", cell)
    with pytest.raises(ParameterError, match=f"01-odd.ipynb.*{re.escape(message)}"):
        course.load_lesson(path)


def test_a_range_on_any_line_of_a_parameter_and_annotated_parameters_are_read(tmp_path):
    path = write_tiny(tmp_path, "01-multi", "rows = [\n    1_000,\n]  # each ≥ 2\nepochs: int = 3  # ≥ 1")
    lesson = course.load_lesson(path)
    assert lesson.defaults == {"rows": [1000], "epochs": 3}
    assert str(lesson.ranges["rows"]) == "each ≥ 2" and str(lesson.ranges["epochs"]) == "≥ 1"


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "lessons").glob("[0-9]*.ipynb")),
                         ids=lambda p: p.stem[:2])  # fmt: skip
def test_papermill_reads_every_parameter_the_runner_reads(path):
    import papermill

    seen = papermill.inspect_notebook(str(path))
    assert set(seen) == set(course.load_lesson(path).defaults)


COMMITTED = sorted((Path(__file__).resolve().parents[1] / "lessons").glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem[:2])
def test_every_number_a_lesson_takes_has_a_declared_range_its_default_is_in_and_that_is_enforced(path):
    lesson = course.load_lesson(path)
    for name, default in lesson.defaults.items():
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        numbers = isinstance(default, list) and all(isinstance(v, (int, float)) for v in default)
        if not (numeric or numbers):
            continue
        assert name in lesson.ranges, f"{lesson.name}: {name} declares no range (e.g. `{name} = ...  # ≥ 1: ...`)"
        allowed = lesson.ranges[name]
        assert default in allowed, f"{lesson.name}: the default {name}={default!r} is outside {allowed}"
        if allowed.low > -math.inf:
            outside = allowed.low - 1 if allowed.low_included else allowed.low
        else:
            outside = allowed.high + 1 if allowed.high_included else allowed.high
        kind = type(default[0] if numbers and default else default)
        bad = [kind(outside)] if numbers else kind(outside)
        with pytest.raises(ParameterError, match=f"parameter '{name}' must be"):
            course.check_parameters(lesson, {name: bad})


def test_out_of_range_values_are_refused_before_any_kernel_starts(monkeypatch, capsys, tmp_path):
    started = []
    monkeypatch.setattr(execute, "execute_lesson", lambda *a, **k: started.append(a))
    folder = Path(__file__).resolve().parents[1] / "lessons"
    for name, value in (("min_ratings", "-5"), ("weight_decay", "-1"), ("test_frac", "1.5"), ("fast_epochs", "0")):
        argv = ["run", "03", "-p", name, value, "--lessons-dir", str(folder), "--output-dir", str(tmp_path / name)]
        assert cli.main(argv) == 2
        assert f"parameter '{name}' must be" in capsys.readouterr().err
    assert started == [] and not list(tmp_path.iterdir())


def test_a_sweep_starts_as_many_runs_at_once_as_embedlib_run_not_one_per_host_core(lessons, tmp_path, monkeypatch):
    import joblib

    started = {}

    def recorder(workers):  # stands in for the process pool: records its size, then stops the sweep
        started["workers"] = workers
        raise RuntimeError("stop here")

    monkeypatch.setattr(joblib, "cpu_count", lambda **_: 2)  # a container with 2 CPUs on a 16-core host
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setattr(sweep, "process_pool", recorder)
    with pytest.raises(RuntimeError, match="stop here"):
        sweep.run_sweep(lessons[0], {"n": [1, 2, 3, 4]}, tmp_path / "out", progress=False, echo=None)
    assert started["workers"] == 2


def test_a_sweep_marks_each_runs_kernel_not_this_process(lessons, tmp_path, monkeypatch):
    # The mark used to be set in os.environ around each run: racy when one process runs several (a Dask worker's
    # threads). Now it goes to the run's own kernel only.
    from concurrent.futures import ThreadPoolExecutor

    calls = []

    def fake_execute(lesson, params, output, *, progress, kernel_environment):
        calls.append((output.stem, dict(kernel_environment), os.environ.get(sweep.SWEEP_RUN_ENV)))
        return execute.RunResult(lesson.name, str(output), params, "ok", metrics={"val_rmse": 1.0})

    monkeypatch.setattr(sweep, "execute_lesson", fake_execute)
    with ThreadPoolExecutor(2) as threads:
        sweep.run_sweep(lessons[0], {"n": [1, 2, 3]}, tmp_path / "out", executor=threads, progress=False, echo=None)
    assert len(calls) == 3
    assert all(marks == {sweep.SWEEP_RUN_ENV: name} and here is None for name, marks, here in calls)


def test_each_sweep_run_sees_its_own_mark_in_its_kernel(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    body = (
        "import os, embedlib\n"
        "embedlib.record_metrics(val_rmse=float(n), mark=os.environ.get('EMBEDLIB_SWEEP_RUN'), folder=os.getcwd())"
    )
    path = write_tiny(tmp_path / "marks", "01-marks", "n = 1  # ≥ 0", body)
    here = os.getcwd()
    with ThreadPoolExecutor(2) as threads:
        result = sweep.run_sweep(
            course.load_lesson(path), {"n": [1, 2, 3, 4]}, tmp_path / "out", executor=threads, progress=False, echo=None
        )
    assert (result.table["mark"] == result.table["run"]).all(), result.table[["run", "mark"]]
    assert sweep.SWEEP_RUN_ENV not in os.environ
    # Each kernel starts in the lesson's folder, and this process's working folder, shared by threads, never moves.
    assert (result.table["folder"] == str(path.parent)).all() and os.getcwd() == here


def test_without_the_course_tools_run_says_which_extra_to_install(lessons, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "papermill", None)  # as in a library-only install (Colab's)
    assert cli.main(["run", "01", "--output-dir", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "needs the course tools (papermill is missing)" in err and "pip install 'embedlib[course]'" in err


def test_command_line_values_are_read_as_the_parameters_cell_writes_them():
    assert course.parse_value("1_000") == 1000 and course.parse_value("[16, 2e3]") == [16, 2000.0]
    assert course.parse_value("True") is True and course.parse_value("null") is None
    assert course.parse_value("1:30") == "1:30" and course.parse_value("ml-1m") == "ml-1m"
    with pytest.raises(ParameterError, match="leading zero"):
        course.parse_value("042")  # YAML 1.1 would have read 34
    with pytest.raises(ParameterError, match="is a mapping"):
        course.parse_value("{'a': 1}")


def test_a_section_may_name_its_lesson_by_number_or_file_and_is_never_dropped(lessons):
    (lesson,) = lessons
    for key in ("01", "01-tiny", "01-tiny.ipynb"):
        assert course.check_overrides(lessons, {key: {"n": 7}}) == {"01-tiny": {"n": 7}}
    with pytest.raises(ParameterError, match="Two sections name 01-tiny"):
        course.check_overrides(lessons, {"01": {"n": 7}, "01-tiny": {"n": 8}})
    with pytest.raises(ParameterError, match="The section '02' names no lesson among those chosen"):
        course.check_overrides(lessons, {"02": {"n": 7}})


def test_a_lesson_named_twice_or_a_name_that_matches_two_is_refused(lessons, tmp_path):
    with pytest.raises(ParameterError, match="01-tiny is named twice"):
        course.select_lessons(["01", "01-tiny"], lessons)
    folder = tmp_path / "two"
    write_tiny(folder, "01-first")
    write_tiny(folder, "01-second")
    write_tiny(folder, "01-first-Copy1")  # JupyterLab's duplicate: not a lesson
    found = course.find_lessons(folder)
    assert [lesson.name for lesson in found] == ["01-first", "01-second"]
    assert all(lesson.path.is_absolute() for lesson in found)
    with pytest.raises(ParameterError, match="'01' matches 2 lessons: 01-first, 01-second"):
        course.select_lessons(["01"], found)


def _fake_runs(monkeypatch, *, metric=lambda params: 1.0):
    calls = []

    def fake_execute(lesson, params, output, *, progress, kernel_environment):
        calls.append(output.name)
        return execute.RunResult(lesson.name, str(output), params, "ok", metrics={"val_rmse": metric(params)})

    monkeypatch.setattr(sweep, "execute_lesson", fake_execute)
    return calls


def test_a_point_given_twice_is_one_run_and_list_parameters_sweep_and_plot(lessons, tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    calls = _fake_runs(monkeypatch, metric=lambda params: float(len(params.get("sizes", [])) + params.get("scale", 0)))
    with ThreadPoolExecutor(2) as threads:
        result = sweep.run_sweep(lessons[0], {"scale": [1, 1.0, 2]}, tmp_path / "a", executor=threads, progress=False)
        assert len(calls) == 2 == len(result.table)
        listed = sweep.run_sweep(lessons[0], {"sizes": [[1], [1, 2]]}, tmp_path / "b", executor=threads, progress=False)
    assert listed.figure is not None and listed.table["val_rmse"].tolist() == [1.0, 2.0]


def test_a_run_whose_worker_died_keeps_its_parameters_and_the_others_still_run(lessons, tmp_path, monkeypatch):
    from concurrent.futures import BrokenExecutor, ThreadPoolExecutor

    _fake_runs(monkeypatch)

    class DiesOnce(ThreadPoolExecutor):  # the pool breaks on the second submit, as after a worker's death
        submitted = 0

        def submit(self, fn, *args, **kwargs):
            DiesOnce.submitted += 1
            if DiesOnce.submitted == 2:
                raise BrokenExecutor("a worker process died")
            return super().submit(fn, *args, **kwargs)

    with DiesOnce(1) as pool:
        result = sweep.run_sweep(lessons[0], {"n": [1, 2, 3]}, tmp_path / "o", executor=pool, workers=1, progress=False)
    table = result.table.set_index("n")
    assert table["status"].to_dict() == {1: "ok", 2: "failed", 3: "ok"}
    assert "a worker process died" in table.loc[2, "error"] and table.loc[2, "seed"] == 0


def test_run_each_gives_back_what_the_executor_refused_and_cancels_what_waits_when_left():
    from concurrent.futures import ThreadPoolExecutor

    class Refuses(ThreadPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            if args[0] == 1:
                raise RuntimeError("cannot schedule new futures after shutdown")
            return super().submit(fn, *args, **kwargs)

    with Refuses(1) as pool:
        got = {item: future.exception() for item, future in execute.run_each(pool, abs, [0, 1, 2], at_once=1)}
    assert got[0] is None and got[2] is None and "cannot schedule" in str(got[1])
