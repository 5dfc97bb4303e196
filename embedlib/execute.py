"""How lessons are executed: each in its own kernel with papermill, several at once, results collected and saved.

``execute_lesson`` runs one lesson and reads back what it recorded (``embedlib.record``). ``run_lessons`` checks
every parameter first, then runs ``jobs`` lessons at a time (the ``embedlib`` command passes ``default_jobs()``: two
where two CPUs are free), a lesson that ``runs_alone`` by itself after the others (``schedule``), and writes
``summary.json``. ``run_each`` is the one
process-pool loop, shared with ``embedlib.sweep``. What is said goes through the caller's ``echo``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from embedlib.checks import check_count
from embedlib.course import Lesson, ParameterError, check_overrides
from embedlib.environment import describe_machine, write_atomic
from embedlib.record import read_records

if TYPE_CHECKING:
    import nbformat

__all__ = [
    "RunResult",
    "default_jobs",
    "execute_lesson",
    "for_commit",
    "process_pool",
    "run_each",
    "run_lessons",
    "schedule",
]

KERNEL_NAME = "python3"
RELATIVE_TO_HERE = ("EMBEDLIB_DATA", "EMBEDLIB_CACHE")
Item = TypeVar("Item")


@dataclass
class RunResult:
    """What one execution of a lesson gave."""

    lesson: str
    notebook: str
    parameters: dict
    status: str = "not run"
    seconds: float = 0.0
    dataset: str | None = None
    dataset_fallback: bool | None = None
    dataset_fingerprint: str | None = None
    code_fingerprint: str | None = None
    metrics: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f" in cell [{cell}]" if cell is not None else ""
    return f"{ename}{where}: {evalue}"


def _kernel_manager(folder: Path, variables: dict[str, str]) -> type:
    """A kernel manager class that starts its kernel in ``folder`` with ``variables`` added to its environment.

    Made for one run, so runs in threads of one process (a Dask worker) never see each other's folder or variables:
    papermill's own ``cwd`` changes the whole process's working folder, which threads share.
    """
    from jupyter_client.manager import AsyncKernelManager

    class KernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**kw.get("env", os.environ), **variables}
            kw["cwd"] = str(folder)
            return await super()._async_pre_start_kernel(**kw)

    return KernelManager


def execute_lesson(
    lesson: Lesson,
    params: dict,
    output: Path,
    *,
    progress: bool = True,
    kernel_environment: dict[str, str] | None = None,
) -> RunResult:
    """Execute one lesson into ``output`` with papermill (its own kernel) and collect what it recorded.

    ``kernel_environment``: variables set in this run's kernel only (a sweep marks its runs with one).
    """
    import nbformat
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    result = RunResult(
        lesson.name, str(output), {**lesson.defaults, **params}, code_fingerprint=lesson.code_fingerprint
    )
    # Relative folders in these variables would resolve against the lesson's folder, where the kernel starts.
    folders = {
        name: str(Path(os.environ[name]).expanduser().resolve()) for name in RELATIVE_TO_HERE if os.environ.get(name)
    }
    kernel_manager = _kernel_manager(lesson.path.parent.absolute(), {**folders, **(kernel_environment or {})})
    output.unlink(missing_ok=True)  # a failure before papermill writes must not read back an older run's numbers
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(lesson.path),
            str(output),
            parameters=params,
            kernel_name=KERNEL_NAME,
            progress_bar=progress,
            kernel_manager_class=kernel_manager,  # starts the kernel in the lesson's folder
            # The kernel's own log, not the cells' output, which reaches the notebook whatever this says. ipykernel
            # warns at every start that TCP is unencrypted (it listens only on localhost), and jupyter_client
            # interrupts every kernel it shuts down, which ipykernel may log as an ERROR ("KeyboardInterrupt caught
            # in kernel") when the signal lands between messages: neither is a problem of the lesson.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        result.status = "ok"
    except Exception as exc:  # papermill raises PapermillExecutionError for a failing cell
        result.status, result.error = "failed", _error_text(exc)
    result.seconds = round(time.perf_counter() - start, 1)
    if output.exists():
        records = read_records(nbformat.read(output, as_version=4))
        result.dataset = records.pop("dataset", None)
        result.dataset_fallback = records.pop("dataset_fallback", None)
        result.dataset_fingerprint = records.pop("dataset_fingerprint", None)
        result.metrics = records
    return result


def for_commit(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """An executed lesson as it is committed: no papermill metadata, cell timings or stderr streams."""
    notebook.metadata.pop("papermill", None)
    notebook.metadata["language_info"] = {"name": "python"}
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    return notebook


def default_jobs() -> int:
    """Kernels to run at once by default: two where two CPUs are free to this process (cgroup quotas count), else one.

    Each lesson's kernel already keeps about one and a half cores busy, so more than two at once gains little and
    costs memory (a lesson's kernel peaks near 1 GB). ``embedlib run`` and ``embedlib sweep`` both use it.
    """
    import joblib  # its cpu_count honours container CPU quotas (Binder, Docker), which os.cpu_count does not

    return max(1, min(2, joblib.cpu_count()))


def process_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` fresh worker processes, started with spawn: the parent may have imported JAX, which must not fork."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def run_each(
    executor: Executor, function: Callable[[Item], object], items: Iterable[Item], *, at_once: int
) -> Iterator[tuple[Item, Future]]:
    """Call ``function(item)`` on ``executor`` for each item, at most ``at_once`` at a time; yield (item, future) as
    each ends, in the order they end.

    An item is submitted only when a slot is free (none is queued ahead), so after Ctrl-C no further item starts. An
    item the executor refuses (a pool whose worker died) comes back as a future holding that error.
    """
    check_count("at_once", at_once)
    waiting, running = list(items), {}
    try:
        while waiting or running:
            while waiting and len(running) < at_once:
                item = waiting.pop(0)
                try:
                    future = executor.submit(function, item)
                except Exception as exc:  # e.g. BrokenProcessPool after a worker died: this item fails, not the loop
                    future = Future()
                    future.set_exception(exc)
                running[future] = item
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield running.pop(future), future
    finally:  # interrupted or abandoned: nothing more starts, and what has not started is cancelled
        for future in running:
            future.cancel()


def schedule(lessons: list[Lesson], jobs: int) -> list[list[Lesson]]:
    """The groups ``run_lessons`` runs one after another: with ``jobs`` > 1, every lesson that may share the machine
    in one group, then each lesson that ``runs_alone`` by itself; with ``jobs`` = 1, every lesson by itself, in order.
    """
    if jobs <= 1:
        return [[lesson] for lesson in lessons]
    shared = [lesson for lesson in lessons if not lesson.runs_alone]
    return [group for group in [shared, *([lesson] for lesson in lessons if lesson.runs_alone)] if group]


class _LessonTask:
    """One lesson's execution, as a picklable callable for a worker process."""

    def __init__(self, per_lesson: dict[str, dict], output_dir: Path) -> None:
        self.per_lesson, self.output_dir = per_lesson, output_dir

    def __call__(self, lesson: Lesson) -> RunResult:
        output = self.output_dir / lesson.path.name
        return execute_lesson(lesson, self.per_lesson[lesson.name], output, progress=False)


def _side_by_side(
    group: list[Lesson], per_lesson: dict[str, dict], output_dir: Path, jobs: int
) -> Iterator[tuple[Lesson, RunResult]]:
    """Run ``group`` in ``jobs`` worker processes, each lesson in its own kernel; yield (lesson, result) as each ends."""
    pool = process_pool(min(jobs, len(group)))
    try:
        for lesson, future in run_each(pool, _LessonTask(per_lesson, output_dir), group, at_once=jobs):
            try:
                result = future.result()
            except Exception as exc:  # the worker process itself died (killed, out of memory)
                result = RunResult(
                    lesson.name,
                    str(output_dir / lesson.path.name),
                    {**lesson.defaults, **per_lesson[lesson.name]},
                    "failed",
                    error=f"{type(exc).__name__}: {exc}",
                    code_fingerprint=lesson.code_fingerprint,
                )
            yield lesson, result
    finally:
        pool.shutdown(cancel_futures=True)


def run_lessons(
    lessons: list[Lesson],
    overrides: dict,
    output_dir: Path,
    *,
    in_place: bool = False,
    progress: bool = True,
    echo: Callable[[str], object] | None = print,
    jobs: int = 1,
) -> list[RunResult]:
    """Check all parameters, then run the lessons, ``jobs`` at a time; write ``summary.json`` after each.

    Each lesson runs in its own kernel and writes only its own files, so lessons can run side by side; a lesson whose
    metadata says it ``runs_alone`` (it times things) runs after the others, by itself. Results come back in the
    lessons' order, whatever order they finished in. ``echo`` is told which lessons run and how each ended
    (``None``: say nothing); the per-cell progress bar shows only for lessons that run by themselves.
    """
    import nbformat
    import papermill  # noqa: F401 - missing course tools are one clear error here, not one per lesson in the workers

    per_lesson = check_overrides(lessons, overrides)
    echo = echo or (lambda _line: None)
    if in_place and overrides:
        raise ParameterError("Regenerating the committed notebooks (in_place) runs their defaults: give no overrides.")
    check_count("jobs", jobs)
    output_dir.mkdir(parents=True, exist_ok=True)
    finished: dict[str, RunResult] = {}
    started, clock = time.strftime("%Y-%m-%dT%H:%M:%S"), time.perf_counter()
    position = {lesson.name: i for i, lesson in enumerate(lessons, 1)}

    def finish(lesson: Lesson, result: RunResult) -> None:
        output = output_dir / lesson.path.name
        if in_place and result.ok:
            # Only a run that succeeded replaces the committed lesson, and without run metadata or stderr noise.
            write_atomic(lesson.path, nbformat.writes(for_commit(nbformat.read(output, as_version=4))) + "\n")
            result.notebook = str(lesson.path)
        finished[lesson.name] = result
        ended = f"{result.status} in {result.seconds:.1f} s" + (f": {result.error}" if result.error else "")
        echo(f"      {lesson.name} {ended}" if jobs > 1 else f"      {ended}")
        done = [asdict(finished[other.name]) for other in lessons if other.name in finished]
        summary = {
            "started": started,
            "jobs": jobs,
            "wall_seconds": round(time.perf_counter() - clock, 1),
            "machine": describe_machine(),
            "lessons": done,
        }
        write_atomic(output_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")

    for group in schedule(lessons, jobs):
        for lesson in group:
            alone = f" (by itself: {lesson.runs_alone})" if jobs > 1 and lesson.runs_alone else ""
            echo(f"[{position[lesson.name]}/{len(lessons)}] {lesson.name}: {lesson.title}{alone}")
        if len(group) == 1:
            (lesson,) = group
            output = output_dir / lesson.path.name
            finish(lesson, execute_lesson(lesson, per_lesson[lesson.name], output, progress=progress))
            continue
        echo(f"      running these {len(group)} lessons {jobs} at a time, each in its own kernel")
        for lesson, result in _side_by_side(group, per_lesson, output_dir, jobs):
            finish(lesson, result)
    return [finished[lesson.name] for lesson in lessons]
