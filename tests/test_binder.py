"""What can be checked about the Binder configuration without building an image."""

import re
import subprocess
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(file: str = "requirements.in") -> dict[str, str]:
    pins = {}
    for line in (BINDER / file).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"binder/{file}: {line!r} is not pinned with =="
            pins[_normal(name)] = version
    return pins


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _runtime_dependencies() -> list[str]:
    return _project()["dependencies"] + _project()["optional-dependencies"]["course"]


def test_every_runtime_dependency_is_pinned_for_binder():
    names = {_normal(re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0]) for d in _runtime_dependencies()}
    assert names <= set(pinned()), f"missing from binder/requirements.in: {names - set(pinned())}"
    assert not {"tensorflow", "torch"} & set(pinned("requirements.txt"))


def test_the_lock_pins_every_package_once_and_agrees_with_the_direct_pins():
    lock = pinned("requirements.txt")
    text = (BINDER / "requirements.txt").read_text()
    assert "bash scripts/lock.sh" in text.splitlines()[1], "binder/requirements.txt was not made by scripts/lock.sh"
    names = [
        _normal(line.partition("==")[0]) for line in text.splitlines() if "==" in line and not line.startswith("#")
    ]
    assert len(names) == len(set(names)) == len(lock)
    disagree = {name: (version, lock.get(name)) for name, version in pinned().items() if lock.get(name) != version}
    assert not disagree, f"run `bash scripts/lock.sh`: requirements.in and the lock differ on {disagree}"
    assert len(lock) > 3 * len(pinned()), "the lock should hold the transitive dependencies too"


def test_pins_satisfy_pyproject_lower_bounds():
    deps = _runtime_dependencies()
    pins = pinned()
    for dep in deps:
        match = re.fullmatch(r"([\w-]+)>=([\d.]+)", dep)
        if match:
            name, low = match.groups()
            as_tuple = lambda v: tuple(int(x) for x in v.split(".")[:3])  # noqa: E731
            assert as_tuple(pins[_normal(name)]) >= as_tuple(low), dep


def test_the_python_the_project_claims_is_the_one_binder_runs_and_setup_checks():
    version = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(1[1-9])", version), version
    minor = version.removeprefix("python-")
    assert _project()["requires-python"] == f">={minor}"
    assert f"sys.version_info >= ({minor.replace('.', ', ')})" in (ROOT / "scripts" / "setup.sh").read_text()
    assert f"Python {minor} or newer" in (ROOT / "README.md").read_text()


def test_post_build_installs_embedlib_the_course_kernel_and_settings_and_fetches_the_data():
    script = (BINDER / "postBuild").read_text()
    assert script.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in script
    assert "pip install --no-deps" in script and " -e ." in script
    assert "python scripts/jupyter/install.py" in script
    assert "embedlib data download ml-latest-small" in script
    assert (BINDER / "postBuild").stat().st_mode & 0o111


def run_post_build(tmp_path, *, download_ok: bool, install_ok: bool = True) -> subprocess.CompletedProcess:
    """Run binder/postBuild with `python` and `embedlib` replaced by stubs that log their arguments."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    log = tmp_path / "calls.log"
    for name, ok in (("python", install_ok), ("embedlib", download_ok)):
        stub = stubs / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit {0 if ok else 1}\n')
        stub.chmod(0o755)
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([str(BINDER / "postBuild")], cwd=ROOT, env=env, capture_output=True, text=True)
    done.calls = log.read_text().splitlines() if log.exists() else []
    return done


def test_post_build_runs_each_step(tmp_path):
    done = run_post_build(tmp_path, download_ok=True)
    assert done.returncode == 0, done.stderr
    assert done.calls == [
        "python -m pip install --no-deps -e .",
        "python scripts/jupyter/install.py",
        "embedlib data download ml-latest-small",
    ]


def test_a_failed_download_does_not_fail_the_binder_build(tmp_path):
    done = run_post_build(tmp_path, download_ok=False)
    assert done.returncode == 0, done.stderr
    assert "could not download ml-latest-small" in done.stderr


def test_a_failed_install_still_fails_the_binder_build(tmp_path):
    done = run_post_build(tmp_path, download_ok=True, install_ok=False)
    assert done.returncode != 0
    assert done.calls == ["python -m pip install --no-deps -e ."]


def test_start_hands_over_and_leaves_the_backend_to_the_course_kernel():
    script = (BINDER / "start").read_text().strip()
    assert "EMBEDLIB_CACHE" in script and script.splitlines()[-1] == 'exec "$@"'
    assert "export KERAS_BACKEND" not in script
    assert (BINDER / "start").stat().st_mode & 0o111
