"""The package as a whole: one version, the licence, modules without import cycles."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

import embedlib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "embedlib"


def test_the_installed_version_is_the_one_in_the_source():
    assert importlib.metadata.version("embedlib") == embedlib.__version__
    project = (ROOT / "pyproject.toml").read_text().split("[project]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"^version\s*=", project, re.MULTILINE), "pyproject.toml repeats the version"


def test_the_licence_file_matches_the_declared_licence():
    assert importlib.metadata.metadata("embedlib")["License-Expression"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def _imports(module: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("embedlib"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("embedlib"))
    return {name for name in found if (PACKAGE / f"{name.removeprefix('embedlib.')}.py").is_file()}


def test_no_module_of_embedlib_imports_one_that_imports_it_back():
    graph = {f"embedlib.{p.stem}": _imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}

    def reachable(start: str) -> set[str]:
        seen, todo = set(), list(graph.get(start, ()))
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(graph.get(name, ()))
        return seen

    cycles = sorted(name for name in graph if name in reachable(name))
    assert not cycles, f"import cycles through {cycles}"


MODULES = sorted(p for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))


def test_every_module_says_its_one_job_in_its_first_line_and_stays_short():
    for path in MODULES:
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        assert docstring, f"{path.name} has no docstring saying what it is for"
        first = docstring.splitlines()[0]
        assert first.endswith((".", ":")) and len(first) <= 120, f"{path.name}: {first!r}"
        lines = len(path.read_text().splitlines())
        assert lines <= 420, f"{path.name} has {lines} lines: split it by job"


def _users_text(exclude: Path) -> str:
    """The code of every lesson, command, benchmark and other module: where a public name must be used."""
    import nbformat

    texts = [p.read_text() for p in PACKAGE.glob("*.py") if p != exclude]
    texts += [p.read_text() for p in (ROOT / "benchmarks").glob("*.py")]
    for lesson in (ROOT / "lessons").glob("[0-9]*.ipynb"):
        notebook = nbformat.read(lesson, as_version=4)
        texts += [c.source for c in notebook.cells if c.cell_type == "code"]
    return "\n".join(texts)


def test_every_public_function_is_used_by_a_lesson_a_command_or_a_module():
    unused = []
    for path in MODULES:
        tree = ast.parse(path.read_text())
        declared = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__"]
        public = set(ast.literal_eval(declared[0].value)) if declared else set()
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in public]
        elsewhere = _users_text(path)
        lines = path.read_text().splitlines()
        for function in functions:
            # its own module counts too, without the def line and the __all__ entry
            own = "\n".join(
                line for i, line in enumerate(lines, 1) if i != function.lineno and f'"{function.name}"' not in line
            )
            if not re.search(rf"\b{function.name}\b", elsewhere + own):
                unused.append(f"{path.stem}.{function.name}")
    assert not unused, f"public functions no lesson, command or module uses: {unused}"


@pytest.mark.parametrize("code", ["import embedlib", "from embedlib import cli; cli.build_parser().format_help()"])
def test_importing_embedlib_and_its_help_load_no_heavy_library(code):
    check = f"{code}; import sys; print(sorted(m for m in ('jax', 'keras', 'pandas', 'nbformat', 'papermill') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_colab_opens_and_installs_the_released_version_named_in_the_source():
    import nbformat

    tag = f"v{embedlib.__version__}"
    named = re.compile(r"(?:github/embedlib/embedlib/blob/|git\+https://github\.com/embedlib/embedlib@)(v[\d.]+)")
    texts = {index: (ROOT / index).read_text() for index in ("README.md", "lessons/README.md")}
    for lesson in sorted((ROOT / "lessons").glob("[0-9]*.ipynb")):
        cells = nbformat.read(lesson, as_version=4).cells
        texts[lesson.name] = "\n".join(c.source for c in cells)
        install = [c.source for c in cells if c.cell_type == "code" and "google.colab" in c.source]
        assert install and f"embedlib@{tag}" in install[0], f"{lesson.name}: Colab does not install {tag}"
    for where, text in texts.items():
        tags = set(named.findall(text))
        assert tags == {tag}, f"{where} names {tags}, not {tag}: run `python scripts/release.py {embedlib.__version__}`"


def test_the_release_script_writes_one_version_everywhere(tmp_path):
    import shutil

    copy = tmp_path / "checkout"
    for part in ("embedlib/__init__.py", "README.md", "lessons", "scripts/release.py"):
        source = ROOT / part
        (copy / part).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, copy / part)
    done = subprocess.run([sys.executable, str(copy / "scripts/release.py"), "9.8.7"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert '__version__ = "9.8.7"' in (copy / "embedlib/__init__.py").read_text()
    text = (copy / "README.md").read_text() + (copy / "lessons/01-embeddings-intro.ipynb").read_text()
    assert "blob/v9.8.7/lessons/" in text and "embedlib@v9.8.7" in text and "v0.1.0" not in text


def test_xdist_keeps_a_group_on_one_worker(tmp_path):
    # scripts/test.sh relies on it (conftest.py groups nbval's cells of the course with the test reading their
    # records); pytest-xdist's loadgroup silently stopped grouping with pytest 9.2 (pytest-dev/pytest-xdist#1386).
    (tmp_path / "test_grouped.py").write_text(
        "import os, pathlib, pytest\n"
        "@pytest.mark.parametrize('i', range(6))\n"
        "@pytest.mark.xdist_group('one')\n"
        "def test_worker(i):\n"
        "    (pathlib.Path(__file__).parent / f\"ran-{i}-on-{os.environ['PYTEST_XDIST_WORKER']}\").touch()\n"
    )
    (tmp_path / "empty.ini").write_text("[pytest]\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider",
         "-c", str(tmp_path / "empty.ini"), str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    workers = {path.name.split("-on-")[1] for path in tmp_path.glob("ran-*")}
    assert done.returncode == 0 and len(list(tmp_path.glob("ran-*"))) == 6, done.stdout[-2000:]
    assert len(workers) == 1, f"the group was split over {sorted(workers)}"
