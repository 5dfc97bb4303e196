"""The ``embedlib`` command: parse the arguments, call the modules that do the work, print what they give back.

The modules report progress through an ``echo`` callable, which the command sets to ``print``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from embedlib import data as data_module
from embedlib import execute
from embedlib.checks import check_count
from embedlib.course import ParameterError, find_lessons, lessons_dir, parse_value, select_lessons
from embedlib.execute import RunResult

# What `embedlib run` and `sweep` import beyond the library: the "course" extra (Colab installs only the library).
COURSE_TOOLS = {"papermill", "nbformat", "jupyter_client", "yaml", "tqdm", "joblib"}

EPILOG = """examples:
  embedlib lessons
  embedlib run --all
  embedlib run --all --jobs 1
  embedlib run 03 -p embedding_dim 32 -p learning_rate 1e-3 --output-dir runs/small
  embedlib sweep 03 -p embedding_dim 16 32 64 --repeat 2 --output-dir sweep-output/dims
  embedlib sweep 03 -p embedding_dim 16 32 --output-dir sweep-output/dask --scheduler tcp://scheduler-host:8786
  embedlib data info ml-latest-small

Lessons are looked for in --lessons-dir, else $EMBEDLIB_LESSONS, else ./lessons/ (the root of a checkout), else ./
"""


def format_table(results: list[RunResult], metric_names: tuple[str, ...] = ("val_rmse",)) -> str:
    """The run summary as a plain-text table."""
    rows = [("lesson", "status", "seconds", "dataset", *metric_names)]
    for r in results:
        dataset = f"{r.dataset}{' (FALLBACK)' if r.dataset_fallback else ''}" if r.dataset else "-"
        values = [f"{r.metrics[m]:.4f}" if isinstance(r.metrics.get(m), float) else "-" for m in metric_names]
        rows.append((r.lesson, r.status, f"{r.seconds:.1f}", dataset, *values))
    rows.append(("total", "", f"{sum(r.seconds for r in results):.1f}", "", *[""] * len(metric_names)))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_test_split(results: list[RunResult]) -> str | None:
    """The held-out test RMSEs a lesson recorded (``test_rmse_<model>``), one line per model; None if there are none."""
    lines = []
    for r in results:
        scores = {k.removeprefix("test_rmse_"): v for k, v in r.metrics.items() if k.startswith("test_rmse_")}
        if scores:
            lines.append(f"Test-split RMSE recorded by {r.lesson} (rows nobody tuned on):")
            width = max(len(name) for name in scores)
            lines += [f"  {name.replace('_', ' '):<{width}}  {value:.4f}" for name, value in scores.items()]
    return "\n".join(lines) or None


def format_ranking(results: list[RunResult]) -> str | None:
    """The ranking table a lesson recorded (``ranking_ndcg_<model>``, ``ranking_recall_<model>``,
    ``ranking_coverage_<model>``), one line per model, best NDCG first; None if there is none."""
    lines = []
    for r in results:
        ndcg = {k.removeprefix("ranking_ndcg_"): v for k, v in r.metrics.items() if k.startswith("ranking_ndcg_")}
        if not ndcg:
            continue
        width = max(len(name) for name in ndcg)
        lines.append(f"Top-10 lists recorded by {r.lesson} (split by time, whole catalogue, seen movies removed):")
        lines.append(f"  {'model':<{width}}  NDCG@10  recall@10  coverage")
        for name in sorted(ndcg, key=ndcg.get, reverse=True):
            recall, cover = r.metrics.get(f"ranking_recall_{name}"), r.metrics.get(f"ranking_coverage_{name}")
            shown = [f"{v:.4f}" if isinstance(v, float) else "-" for v in (ndcg[name], recall, cover)]
            lines.append(f"  {name:<{width}}  {shown[0]:>7}  {shown[1]:>9}  {shown[2]:>8}")
    return "\n".join(lines) or None


def _shown(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value == 0 or abs(value) >= 1e-4 else f"{value:.1e}"
    return str(value)


def format_recorded_tables(results: list[RunResult]) -> str | None:
    """Every table a lesson recorded with ``record_table``, under its title; None if there is none."""
    from embedlib.record import TABLE_PREFIX

    blocks = []
    for r in results:
        for key, table in r.metrics.items():
            if not (key.startswith(TABLE_PREFIX) and isinstance(table, dict)):
                continue
            cells = [["", *table["columns"]]]
            cells += [[name, *map(_shown, row)] for name, row in zip(table["index"], table["data"], strict=True)]
            widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
            lines = [f"{key.removeprefix(TABLE_PREFIX)} ({r.lesson}):"]
            for row in cells:
                padded = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
                lines.append("  " + "  ".join(padded).rstrip())
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks) or None


def _count(text: str) -> int:
    """An argparse type: a positive whole number, or a usage error that says so."""
    try:
        return check_count("value", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}") from None


def _overrides(pairs: list[list[str]] | None, files: list[str] | None) -> dict:
    import yaml

    overrides: dict = {}
    for file in files or []:
        loaded = yaml.safe_load(Path(file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ParameterError(f"{file} must hold a mapping of parameter names to values.")
        overrides.update(loaded)
    for name, value in pairs or []:
        overrides[name] = parse_value(value)
    return overrides


def cmd_lessons(args: argparse.Namespace) -> int:
    folder = lessons_dir(args.lessons_dir)
    print(f"lessons in {folder.resolve()}:")
    for lesson in find_lessons(folder):
        print(f"  {lesson.name:<36} {lesson.title}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    lessons = find_lessons(args.lessons_dir)
    if args.all == bool(args.lessons):
        raise ParameterError("Name the lessons to run, or give --all (not both).")
    chosen = lessons if args.all else select_lessons(args.lessons, lessons)
    jobs = execute.default_jobs() if args.jobs is None else args.jobs
    results = execute.run_lessons(
        chosen,
        _overrides(args.param, args.param_file),
        Path(args.output_dir),
        in_place=args.in_place,
        progress=not args.no_progress,
        echo=print,
        jobs=jobs,
    )
    wall = json.loads((Path(args.output_dir) / "summary.json").read_text())["wall_seconds"]
    print()
    print(format_table(results))
    side_by_side = any(len(group) > 1 for group in execute.schedule(chosen, jobs))
    more = f", {jobs} lessons at a time, so the seconds above add up to more" if side_by_side else ""
    print(f"wall clock: {wall:.1f} s{more}")
    test_split = format_test_split(results)
    if test_split:
        print(f"\n{test_split}")
    for extra in (format_ranking(results), format_recorded_tables(results)):
        if extra:
            print(f"\n{extra}")
    print(f"\nExecuted notebooks and summary.json are in {args.output_dir}")
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"\n{r.lesson} FAILED: {r.error}\n  see {r.notebook}", file=sys.stderr)
    return 1 if failed else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from embedlib import sweep

    grid = {name: [parse_value(v) for v in values] for name, *values in args.param}
    lesson = select_lessons([args.lesson], find_lessons(args.lessons_dir))[0]
    output_dir = Path(args.output_dir)
    options = {
        "repeat": args.repeat,
        "workers": args.workers,
        "base_params": _overrides(None, args.param_file),
        "yes": args.yes,
        "echo": print,
    }
    if args.scheduler is None:
        result = sweep.run_sweep(lesson, grid, output_dir, **options)
    else:
        with sweep.dask_client(args.scheduler) as client:
            print(
                f"sweeping on the Dask cluster at {args.scheduler} ({len(client.scheduler_info()['workers'])} workers)"
            )
            result = sweep.run_sweep(lesson, grid, output_dir, executor=client.get_executor(), **options)
    shown = [c for c in result.table.columns if c not in ("run", "error", "dataset_fallback")]
    print(f"\n{len(result.table)} runs ({result.executed} executed now, {result.failed} failed). Best runs:")
    print(result.best()[shown].to_string(index=False))
    for _, row in result.table[result.table["status"] != "ok"].iterrows():
        print(f"FAILED {row['run']}: {row['error']}", file=sys.stderr)
    print(f"\nresults.csv{', sweep.png' if result.figure else ''} and the executed notebooks are in {output_dir}")
    return 1 if result.failed else 0


def cmd_data_download(args: argparse.Namespace) -> int:
    folder = data_module.download_movielens(args.name, force=args.force)
    print(f"{args.name} is in {folder}")
    return 0


def cmd_data_info(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = data_module.load_movielens(args.name, download=False, strict=args.name != "synthetic")
    counts = dataset.counts()
    version = "the known GroupLens release" if dataset.known_version else "NOT the known release"
    print(f"dataset:  {dataset.name}")
    print(f"source:   {dataset.source}")
    print(f"version:  {version}")
    print(f"ratings:  {counts['ratings']:,}")
    print(f"users:    {counts['users']:,}")
    print(f"movies:   {counts['movies']:,} ({counts['rated_movies']:,} rated)")
    print(f"scale:    {dataset.scale.low:g} to {dataset.scale.high:g} in steps of {dataset.scale.step:g}")
    for w in caught:
        print(f"warning:  {w.message}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embedlib",
        description="Run the embeddings course's lessons headless, sweep their parameters, manage the data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--lessons-dir",
        default=None,
        metavar="FOLDER",
        help="folder holding the lesson notebooks (default: $EMBEDLIB_LESSONS, else ./lessons, else .)",
    )

    sub.add_parser("lessons", help="list the lessons", parents=[where]).set_defaults(func=cmd_lessons)

    run = sub.add_parser("run", help="execute lessons with papermill and summarise their metrics", parents=[where])
    run.add_argument("lessons", nargs="*", help="lesson names or numbers (e.g. 02 or 02-dot-product)")
    run.add_argument("--all", action="store_true", help="run every lesson")
    run.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), help="set a parameter")
    run.add_argument("-f", "--param-file", action="append", help="YAML file of parameters (per lesson in sections)")
    run.add_argument("--output-dir", default="course-output", help="where executed notebooks go (default: %(default)s)")
    run.add_argument("--in-place", action="store_true", help="overwrite the lessons themselves (regenerate outputs)")
    run.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    run.add_argument(
        "--jobs",
        type=_count,
        default=None,
        metavar="N",
        help="lessons run at once, each in its own kernel; a lesson that times things runs by itself after the "
        "others (default: 2 where 2 CPUs are free, else 1)",
    )
    run.set_defaults(func=cmd_run)

    sweep = sub.add_parser("sweep", help="run a lesson over a grid of parameters", parents=[where])
    sweep.add_argument("lesson", help="lesson name or number")
    sweep.add_argument(
        "-p",
        "--param",
        nargs="+",
        action="append",
        required=True,
        metavar="NAME V1 V2",
        help="a parameter and the values to try",
    )
    sweep.add_argument("-f", "--param-file", action="append", help="YAML file of fixed parameters for every run")
    sweep.add_argument("--repeat", type=_count, default=1, help="runs per grid point, each with its own seed")
    sweep.add_argument(
        "--workers", type=_count, default=None, help="runs at once (default: as for `run`, two where two CPUs are free)"
    )
    sweep.add_argument("--output-dir", default="sweep-output", help="where runs go (default: %(default)s)")
    sweep.add_argument("--yes", action="store_true", help="allow a large grid")
    sweep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster, e.g. tcp://scheduler-host:8786 (needs embedlib[dask])",
    )
    sweep.set_defaults(func=cmd_sweep)

    data = sub.add_parser("data", help="download or describe MovieLens datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    download = data_sub.add_parser("download", help="download, verify and cache a dataset")
    download.add_argument("name", choices=list(data_module.DATASETS))
    download.add_argument("--force", action="store_true", help="download again even if cached")
    download.set_defaults(func=cmd_data_download)
    info = data_sub.add_parser("info", help="where a dataset is, which version, counts")
    info.add_argument("name", nargs="?", default="ml-latest-small", choices=list(data_module.DATASET_NAMES))
    info.set_defaults(func=cmd_data_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ParameterError, data_module.DatasetError, FileNotFoundError) as exc:
        print(f"embedlib: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name not in COURSE_TOOLS:
            raise
        print(
            f"embedlib: error: `embedlib {args.command}` needs the course tools ({exc.name} is missing). Install "
            "them with: pip install 'embedlib[course]' (scripts/setup.sh installs them into .venv).",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
