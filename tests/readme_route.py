"""The README's way in, reproduced for tests: a fresh copy of the checkout, `bash scripts/setup.sh` in it, and
JupyterLab started with `bash scripts/lab.sh` under a fresh HOME with no KERAS_BACKEND.

Everything happens in pytest's temporary folders: tests never write into the source tree. The copy is set up once
per test session (about a minute with a warm pip cache) and shared by the tests that need it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import REAL_DATA_HOME

ROOT = Path(__file__).resolve().parents[1]
# Folders a user's checkout may hold that a fresh clone would not.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", ".ci-cache", "__pycache__", "*.egg-info", "build", "dist", "course-output", "sweep-output",
    "bench-output", "test-artifacts", ".ipynb_checkpoints", "runs",
)  # fmt: skip
_CHECKOUTS: dict[Path, Path] = {}


def copy_checkout(dest: Path) -> Path:
    """The files a clone of this working tree holds (tracked and new, not ignored), copied to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked archive): copy, leaving out generated folders
        shutil.copytree(ROOT, dest, ignore=NOT_IN_A_CLONE)
        return dest
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A new user's environment: a fresh HOME, no KERAS_BACKEND, no Jupyter or virtualenv settings, no venv on PATH.

    pip keeps the machine's cache (setting up is not what is tested, and the registry is slow)."""
    drop = ("KERAS_BACKEND", "VIRTUAL_ENV", "MPLBACKEND", "PYTHONPATH", "EMBEDLIB_", "JUPYTER", "XDG_", "IPYTHONDIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != Path(sys.prefix) / "bin"
    )
    env["HOME"] = str(home)
    env.update(extra)
    return env


def ci_pins() -> dict[str, str]:
    """EMBEDLIB_CONSTRAINTS when it is set (CI pins every install to Binder's versions), so that the fresh
    environments install the versions the main one has, from pip's cache, instead of downloading the newest."""
    value = os.environ.get("EMBEDLIB_CONSTRAINTS")
    return {"EMBEDLIB_CONSTRAINTS": value} if value else {}


def set_up_checkout(tmp_path_factory) -> Path:
    """A fresh copy of the checkout with `bash scripts/setup.sh` run in it; once per session."""
    base = tmp_path_factory.getbasetemp()
    if base not in _CHECKOUTS:
        checkout = copy_checkout(tmp_path_factory.mktemp("clone") / "embedlib")
        home = tmp_path_factory.mktemp("setup-home")
        start = time.perf_counter()
        done = subprocess.run(
            ["bash", "scripts/setup.sh"], cwd=checkout, env=clean_env(home, **ci_pins()), capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        print(f"\n[readme route] bash scripts/setup.sh in a fresh copy: {time.perf_counter() - start:.0f} s")
        _CHECKOUTS[base] = checkout
    return _CHECKOUTS[base]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    checkout: Path
    home: Path

    def api(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        request.add_header("Authorization", f"token {self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()


@contextmanager
def lab_started_the_readme_way(checkout: Path, home: Path, log: Path) -> Iterator[Lab]:
    """`bash scripts/lab.sh` on a free port with a token, no browser; EMBEDLIB_DATA passed on when the tests have it."""
    port, token = free_port(), secrets.token_hex(16)
    extra = {"EMBEDLIB_DATA": REAL_DATA_HOME} if REAL_DATA_HOME else {}
    args = ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # CI runs as root; a learner does not need this
    with log.open("w") as out:
        server = subprocess.Popen(
            ["bash", "scripts/lab.sh", *args],
            cwd=checkout,
            env=clean_env(home, **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, checkout, home)
    try:
        for _ in range(240):
            if server.poll() is not None:
                pytest.fail(f"bash scripts/lab.sh exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                lab.api("/api/status")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not answer within 2 minutes:\n{log.read_text()[-3000:]}")
        yield lab
    finally:
        server.send_signal(signal.SIGTERM)  # JupyterLab shuts its kernels and terminals down
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


_WHEELS: dict[Path, Path] = {}


def build_wheel(tmp_path_factory) -> Path:
    """embedlib's wheel, built from a fresh copy (building writes build/ and *.egg-info next to the sources)."""
    base = tmp_path_factory.getbasetemp()
    if base not in _WHEELS:
        source = copy_checkout(tmp_path_factory.mktemp("wheel-source") / "embedlib")
        dist = tmp_path_factory.mktemp("dist")
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(source)],
            env=clean_env(tmp_path_factory.mktemp("wheel-home")),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        (wheel,) = dist.glob("embedlib-*.whl")
        print(f"\n[wheel] built {wheel.name} in {time.perf_counter() - start:.0f} s")
        _WHEELS[base] = wheel
    return _WHEELS[base]


def fresh_venv(folder: Path, *requirements: str) -> Path:
    """A new virtual environment outside the checkout with ``requirements`` installed; returns its bin folder."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    pins = ci_pins()
    constraints = ["-c", str(ROOT / pins["EMBEDLIB_CONSTRAINTS"])] if pins else []
    done = subprocess.run(
        [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *constraints, *requirements],
        env=clean_env(folder),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"\n[venv] {folder.name}: installed {' '.join(Path(r).name for r in requirements)} in "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    return folder / "bin"
