"""JupyterLab in a real browser, started the README's way (`bash scripts/lab.sh` in a fresh copy, fresh HOME, no
KERAS_BACKEND): the index opens rendered with no pop-up, and lessons run all their cells with no error and their
figures drawn. One screenshot per notebook.

By default the browser runs lesson 2 (data, a model trained with its progress shown, figures) and lesson 7 (a model
with its own loss, a nearest-neighbour index in compiled code): every lesson already runs in the suite through
papermill and nbval, so what the browser adds is the JupyterLab route itself.
EMBEDLIB_BROWSER_LESSONS=all runs every lesson here (about 10 minutes on 2 cores); a comma-separated list of lesson
numbers (`3,5`) runs those. A notebook that imports keras first is covered by test_readme_route.py.

Needs Debian's Chromium (/usr/bin/chromium) and Playwright for Python; .ci/run installs both. Screenshots go to
EMBEDLIB_TEST_ARTIFACTS if set, else to pytest's temporary folder; the test prints where.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from readme_route import REAL_DATA_HOME, lab_started_the_readme_way, set_up_checkout

# Builds a fresh environment (a venv, a copy of the checkout or a browser): CI runs these beside the rest.
pytestmark = pytest.mark.fresh_env


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
# Small parameters, set by editing each lesson's `parameters` cell (as a learner would): the lessons run as
# written, only shorter. Real data comes through EMBEDLIB_DATA; without it, the synthetic dataset.
SMALL = {
    "epochs": 2,
    "embedding_dim": 8,
    "batch_size": 256,
    "learning_rate": 0.01,
    "sweep_embedding_dims": [4],
    "rating_epochs": 2,
    "ann_items": 2000,
    "table_rows": [100, 1000],
    "implicit_epochs": 1,
    "autorec_epochs": 2,
}
RUN_TIMEOUT_S = 420
CURRENT = ".jp-NotebookPanel:visible"  # the notebook in the current tab


def set_parameters(path: Path, values: dict) -> dict:
    """Rewrite `name = value` lines of the notebook's parameters cell; return what was changed."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    changed = {}
    for name, value in values.items():
        pattern = re.compile(rf"^({name}\s*=\s*)([^#\n]*?)(\s*#.*)?$", re.M)
        if pattern.search(cell.source):
            cell.source = pattern.sub(lambda m, v=value: f"{m[1]}{v!r}{m[3] or ''}", cell.source, count=1)
            changed[name] = value
    nbformat.write(nb, path)
    return changed


def clear_outputs(path: Path) -> None:
    """Start from an empty notebook, so every output on the page comes from this run.

    Folded solutions are unfolded: Run All runs them all the same, but folded cells show no prompt and no output,
    and the test reads both from the page.
    """
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("jupyter", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, path)


def artifacts_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("EMBEDLIB_TEST_ARTIFACTS") or tmp_path / "screenshots").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def visible_popups(page) -> list[str]:
    """Texts of dialogs and notification toasts on screen (JupyterLab 4 shows its news prompt as a toast)."""
    return [t.strip() for t in page.locator(".jp-Dialog, .Toastify__toast").all_inner_texts() if t.strip()]


def open_in_lab(page, lab, path: str) -> None:
    page.goto(f"{lab.url}/lab/tree/{path}?token={lab.token}")
    page.wait_for_selector(".jp-LabShell", timeout=90_000)


def wait_until_kernel_ready(page) -> None:
    # The toolbar says idle before a kernel exists; the status bar says so only once the kernel is ready.
    page.wait_for_function(
        "document.querySelector('#jp-main-statusbar')?.innerText.includes('| Idle')", timeout=120_000
    )


def run_all_and_save(page, notebook: Path, timeout_s: float) -> tuple[int, int]:
    """Run All Cells from the Run menu, wait until every code cell has run, save; return (ran, to run)."""
    to_run = sum(1 for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code" and c.source.strip())
    page.wait_for_selector(f"{CURRENT} .jp-Cell", timeout=60_000)
    wait_until_kernel_ready(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    deadline, done, busy = time.time() + timeout_s, 0, True
    while time.time() < deadline:
        prompts = page.locator(f"{CURRENT} .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        busy = any("*" in t for t in prompts)
        done = sum(any(ch.isdigit() for ch in t) for t in prompts)
        if not busy and done >= to_run:  # empty exercise cells are never sent to the kernel
            break
        time.sleep(1)
    page.wait_for_selector(f"{CURRENT} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel").filter(has_text=re.compile(r"^Save Notebook$")).first.click()
    page.wait_for_selector(".lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)", timeout=30_000)
    return done, to_run


def close_all_tabs(page) -> None:
    """File ▸ Close All Tabs, discarding changes if JupyterLab asks whether to save them."""
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel").filter(has_text=re.compile(r"^Close All Tabs$")).first.click()
    page.wait_for_timeout(1000)
    discard = page.locator(".jp-Dialog button", has_text="Discard")
    if discard.count():
        discard.first.click()


def shut_down_kernels(lab) -> None:
    """One kernel at a time: the machine running the tests (and Binder) has little memory to spare."""
    for session in json.loads(lab.api("/api/sessions")):
        lab.api(f"/api/sessions/{session['id']}", method="DELETE")


@pytest.fixture(scope="module")
def browser_lab(tmp_path_factory):
    """The README's route in a fresh copy, lessons shortened through their parameters cells, and Chromium."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python (pip install playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            "needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium); Playwright cannot "
            "download its own browser here"
        )
    checkout = set_up_checkout(tmp_path_factory)
    small = {**SMALL, **({} if REAL_DATA_HOME else {"dataset": "synthetic"})}
    for notebook in sorted((checkout / "lessons").glob("[0-9]*.ipynb")):
        clear_outputs(notebook)
        set_parameters(notebook, small)
    home = tmp_path_factory.mktemp("home")
    # The learner's own setting, not the course's: render every cell, so the test can read every output on the page.
    tracker = home / ".jupyter/lab/user-settings/@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    log = tmp_path_factory.mktemp("lab") / "lab.log"
    with lab_started_the_readme_way(checkout, home, log) as lab, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield lab, page
        browser.close()


@pytest.mark.slow
def test_the_index_opens_rendered_with_no_popup(browser_lab, tmp_path):
    lab, page = browser_lab
    # `jupyter lab lessons/README.md` serves lessons/ and opens README.md there (Binder opens the same file by its
    # urlpath, lab/tree/lessons/README.md, with the same settings).
    open_in_lab(page, lab, "README.md")
    page.wait_for_selector(".jp-MarkdownViewer .jp-RenderedMarkdown h1", timeout=60_000)
    time.sleep(5)  # JupyterLab asks about news a few seconds after start, when it asks at all
    shot = artifacts_dir(tmp_path) / "jupyterlab-index.png"
    page.screenshot(path=str(shot))
    print(f"\n[browser] screenshot of the index: {shot}")
    current = page.locator(".lm-DockPanel .lm-Widget.jp-Document:visible")
    assert page.locator(".jp-MarkdownViewer:visible").count() == 1
    assert page.locator(".jp-FileEditor:visible").count() == 0, "the index opened in the text editor"
    assert current.locator("table").count() >= 1, "the lessons table is not rendered"
    assert "| lesson |" not in page.locator(".jp-MarkdownViewer").inner_text()
    assert visible_popups(page) == []
    assert "Jupyter news" not in page.inner_text("body")


@pytest.mark.slow
def test_a_lesson_opens_unmodified_once_its_kernel_is_ready(browser_lab):
    """JupyterLab copies the kernel's `language_info` into the notebook on start; the committed lessons keep only
    {"name": "python"}, so without scripts/jupyter/'s contents manager every lesson opened as modified (●)."""
    lab, page = browser_lab
    name = LESSONS[0].name
    on_disk = (lab.checkout / "lessons" / name).read_bytes()
    open_in_lab(page, lab, name)
    page.wait_for_selector(f"{CURRENT} .jp-Cell", timeout=60_000)
    wait_until_kernel_ready(page)
    time.sleep(3)  # the kernel's info reply is applied to the model after the status turns idle
    dirty = page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count()
    close_all_tabs(page)
    shut_down_kernels(lab)
    assert dirty == 0, f"{name} shows as modified (●) right after opening, before anything ran"
    assert (lab.checkout / "lessons" / name).read_bytes() == on_disk, "opening the lesson changed the file"


def ordered_items_in_commonmark(source: str) -> int:
    """How many numbered-list items a CommonMark renderer (markdown-it-py, with tables) finds in ``source``."""
    from markdown_it import MarkdownIt

    lists, count = [], 0
    for token in MarkdownIt("commonmark").enable("table").parse(source):
        if token.type in ("ordered_list_open", "bullet_list_open"):
            lists.append(token.type)
        elif token.type in ("ordered_list_close", "bullet_list_close"):
            lists.pop()
        elif token.type == "list_item_open" and lists[-1] == "ordered_list_open":
            count += 1
    return count


def test_commonmark_counts_only_real_numbered_items():
    assert ordered_items_in_commonmark("1. one\n2. two\n\n- a bullet\n  1. nested") == 3
    assert ordered_items_in_commonmark("- DeViSE (Frome et al.,\n  2013) mapped images") == 0


@pytest.mark.slow
def test_jupyterlab_draws_no_numbered_list_the_markdown_does_not_mean(browser_lab):
    """JupyterLab's Markdown renderer (marked) starts a numbered list at a wrapped line such as "2013) mapped ...",
    even inside a bullet item, where CommonMark would not. Every lesson is opened in JupyterLab, and each markdown
    cell must show as many numbered items as CommonMark finds in its source."""
    lab, page = browser_lab
    count_items = "cells => cells.map(c => c.querySelectorAll('.jp-RenderedMarkdown ol > li').length)"
    rendered = "cells => cells.filter(c => c.querySelector('.jp-RenderedMarkdown')).length"
    differ = {}
    for path in LESSONS:
        markdown = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
        open_in_lab(page, lab, path.name)
        deadline = time.time() + 60
        while time.time() < deadline:
            if page.eval_on_selector_all(f"{CURRENT} .jp-MarkdownCell", rendered) == len(markdown):
                break
            time.sleep(0.5)
        drawn = page.eval_on_selector_all(f"{CURRENT} .jp-MarkdownCell", count_items)
        close_all_tabs(page)
        shut_down_kernels(lab)
        assert len(drawn) == len(markdown), f"{path.name}: {len(drawn)} of {len(markdown)} markdown cells rendered"
        for n, (items, source) in enumerate(zip(drawn, markdown, strict=True)):
            if items != ordered_items_in_commonmark(source):
                differ[f"{path.name}, markdown cell {n}"] = f"{items} numbered items drawn: {source[:300]!r}"
    assert not differ, f"rewrap the lines JupyterLab turns into numbered lists: {differ}"


LESSONS = sorted(Path(__file__).resolve().parents[1].joinpath("lessons").glob("[0-9]*.ipynb"))


def browser_lessons(choice: str) -> list[str]:
    """The lessons to run in the browser: "all", or lesson numbers separated by commas."""
    if choice.strip() == "all":
        return [p.name for p in LESSONS]
    wanted = {f"{int(n):02d}" for n in choice.split(",") if n.strip()}
    chosen = [p.name for p in LESSONS if p.name[:2] in wanted]
    unknown = wanted - {name[:2] for name in chosen}
    if unknown:
        raise ValueError(
            f"EMBEDLIB_BROWSER_LESSONS={choice!r}: no lesson numbered {sorted(unknown)}; use 'all' or e.g. '1,2'"
        )
    return chosen


@pytest.mark.slow
@pytest.mark.parametrize("name", browser_lessons(os.environ.get("EMBEDLIB_BROWSER_LESSONS", "2,7,8")))
def test_lessons_run_all_cells_in_jupyterlab(browser_lab, name, tmp_path):
    lab, page = browser_lab
    notebook = lab.checkout / "lessons" / name
    start = time.perf_counter()
    open_in_lab(page, lab, name)
    done, to_run = run_all_and_save(page, notebook, RUN_TIMEOUT_S)
    seconds = time.perf_counter() - start
    figure = page.locator(f"{CURRENT} .jp-OutputArea-output img").last
    if figure.count():
        figure.scroll_into_view_if_needed()
    shot = artifacts_dir(tmp_path) / f"jupyterlab-{Path(name).stem}.png"
    page.screenshot(path=str(shot))
    print(f"\n[browser] {name}: {done}/{to_run} cells in {seconds:.0f} s; screenshot {shot}")
    page_text = " ".join(page.locator(f"{CURRENT} .jp-OutputArea-output").all_inner_texts())
    images_on_page = page.locator(f"{CURRENT} .jp-OutputArea-output img").count()
    popups = visible_popups(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel").filter(has_text=re.compile(r"^Close All Tabs$")).first.click()
    shut_down_kernels(lab)

    assert done >= to_run, f"{done} of {to_run} cells ran within {RUN_TIMEOUT_S} s"
    saved = nbformat.read(notebook, as_version=4)
    outputs = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors, errors
    assert "Traceback (most recent call last)" not in page_text, page_text[-3000:]
    assert popups == [], popups
    saved_figures = sum("image/png" in o.get("data", {}) for o in outputs)
    draws = "plt." in "".join(c.source for c in saved.cells if c.cell_type == "code")
    if draws:
        assert saved_figures >= 1, "the lesson draws figures but none was saved"
    assert images_on_page >= saved_figures, f"{saved_figures} figures saved but {images_on_page} on the page"
    if REAL_DATA_HOME and name.startswith("01"):
        assert "100,836 ratings by 610 users" in page_text
