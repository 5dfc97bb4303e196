"""The package as a whole: one version, the licence, modules without import cycles."""

from __future__ import annotations

import ast
import importlib.metadata
import re
from pathlib import Path

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
