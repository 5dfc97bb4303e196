"""JupyterLab in a real browser: open lesson 1, run all cells, no errors, a figure rendered, a screenshot saved.

Needs Debian's Chromium (/usr/bin/chromium) and Playwright for Python; .ci/run installs both.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from helpers import REAL_DATA_HOME

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_lab(tmp_path):
    """JupyterLab on 127.0.0.1 with a token, serving a copy of lessons/ (running cells must not touch the repo)."""
    root = tmp_path / "lessons"
    shutil.copytree(ROOT / "lessons", root, ignore=shutil.ignore_patterns("sweep-output"))
    for path in root.glob("*.ipynb"):  # start from a clean slate, so every output on the page is from this run
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, path)
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
        "KERAS_BACKEND": "jax",
    }
    env.pop("MPLBACKEND", None)  # a kernel told to use Agg would draw no inline figures
    if REAL_DATA_HOME:
        env["EMBEDLIB_DATA"] = REAL_DATA_HOME
    settings = tmp_path / "settings"
    settings.mkdir()
    overrides = json.loads((ROOT / "binder" / "overrides.json").read_text())
    # JupyterLab only renders the cells in view; the test wants every output in the page.
    overrides.setdefault("@jupyterlab/notebook-extension:tracker", {})["windowingMode"] = "none"
    (settings / "overrides.json").write_text(json.dumps(overrides))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.app_settings_dir={settings}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield url, token, root
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_lesson_one_runs_in_jupyterlab_in_chromium(jupyter_lab):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python (pip install playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            "needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium); Playwright cannot "
            "download its own browser here"
        )
    url, token, root = jupyter_lab
    notebook = root / "01-embeddings-intro.ipynb"
    to_run = sum(1 for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code" and c.source.strip())
    # The screenshot goes where the caller says (EMBEDLIB_TEST_ARTIFACTS), else beside the test's temporary files.
    artifacts = Path(os.environ.get("EMBEDLIB_TEST_ARTIFACTS") or root.parent / "artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/lab/tree/01-embeddings-intro.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        # The toolbar says idle before a kernel exists; the status bar says so only once the kernel is ready.
        page.wait_for_function(
            "document.querySelector('#jp-main-statusbar')?.innerText.includes('| Idle')", timeout=90_000
        )
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        deadline = time.time() + 240
        while time.time() < deadline:
            prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
            busy = any("*" in t for t in prompts)
            done = sum(any(ch.isdigit() for ch in t) for t in prompts)
            if not busy and done >= to_run:  # empty exercise cells are never sent to the kernel
                break
            time.sleep(1)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
        page.locator(".lm-Menu-itemLabel").filter(has_text=re.compile(r"^Save Notebook$")).first.click()
        page.wait_for_selector(".lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)", timeout=30_000)
        figure = page.locator(".jp-OutputArea-output img").first
        if figure.count():
            figure.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "jupyterlab-lesson-01.png"), full_page=False)
        outputs = " ".join(page.locator(".jp-OutputArea-output").all_inner_texts())
        images = page.locator(".jp-OutputArea-output img").count()
        browser.close()
    assert not busy and done >= to_run, f"{done} of {to_run} cells ran within 4 minutes"
    saved = nbformat.read(notebook, as_version=4)
    saved_outputs = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in saved_outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in saved_outputs) >= 2, [
        (o.output_type, list(o.get("data", {}))) for o in saved_outputs
    ]
    assert "Traceback (most recent call last)" not in outputs, outputs[-3000:]
    assert images >= 2, f"expected the lesson's figures, found {images} images"
    if REAL_DATA_HOME:
        assert "100,836 ratings by 610 users" in outputs
