"""What can be checked about the Binder configuration without building an image."""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def pinned() -> dict[str, str]:
    pins = {}
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"binder/requirements.txt: {line!r} is not pinned with =="
            pins[name.lower()] = version
    return pins


def test_every_runtime_dependency_is_pinned_for_binder():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0].lower() for d in deps}
    assert names <= set(pinned()), f"missing from binder/requirements.txt: {names - set(pinned())}"
    assert not {"tensorflow", "torch"} & set(pinned())


def test_pins_satisfy_pyproject_lower_bounds():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = pinned()
    for dep in deps:
        match = re.fullmatch(r"([\w-]+)>=([\d.]+)", dep)
        if match:
            name, low = match.groups()
            as_tuple = lambda v: tuple(int(x) for x in v.split(".")[:3])  # noqa: E731
            assert as_tuple(pins[name.lower()]) >= as_tuple(low), dep


def test_python_version_is_pinned_above_repo2dockers_default():
    version = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(1[1-9])", version), version


def test_post_build_fails_loudly_installs_embedlib_and_fetches_the_data():
    script = (BINDER / "postBuild").read_text()
    assert script.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in script
    assert "pip install --no-deps" in script and " -e ." in script
    assert "embedlib data download ml-latest-small" in script
    assert (BINDER / "postBuild").stat().st_mode & 0o111


def test_start_sets_the_backend_and_hands_over():
    script = (BINDER / "start").read_text().strip()
    assert "KERAS_BACKEND" in script and script.splitlines()[-1] == 'exec "$@"'
    assert (BINDER / "start").stat().st_mode & 0o111
