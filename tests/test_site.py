"""The course website: built from the committed lessons with every Sphinx warning an error, its internal links
resolve, and in a real browser each page has its lesson's title, every figure loaded, maths rendered, solutions
folded until clicked, and Binder and Colab buttons to the lesson's own notebook. One screenshot per page.

The build downloads MathJax from npm once (a package registry, reachable in CI) into the test's cache.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]-*.ipynb"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("site") / "site-output"
    build = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_site.py"), "--output", str(output)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "WARNING" not in build.stderr, build.stderr[-3000:]  # -W would fail on one; this says which
    return output


class Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])


def parse(page: Path) -> Links:
    parser = Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_every_lesson_is_a_page_and_every_internal_link_resolves(site):
    assert {p.stem for p in LESSONS} | {"index"} <= {p.stem for p in site.glob("*.html")}
    broken = []
    for page in site.glob("*.html"):
        for link in parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                broken.append(f"{page.name}: {link}")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in parse(target).ids:
                broken.append(f"{page.name}: {link} (no such anchor)")
    assert not broken, broken


def test_links_between_lessons_stay_inside_the_site(site):
    home = (site / "index.html").read_text(encoding="utf-8")
    for lesson in LESSONS:
        assert f'href="{lesson.stem}.html"' in home, f"the home page does not link to {lesson.stem}"
    assert '.ipynb"' not in re.sub(r'href="https://[^"]+"', "", home), "a link still points at a notebook file"


def lesson_facts(lesson: Path) -> dict:
    nb = nbformat.read(lesson, as_version=4)
    first = next(c.source for c in nb.cells if c.cell_type == "markdown")
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Solutions" in c.source)
    hidden = [i for i, c in enumerate(nb.cells) if c.metadata.get("jupyter", {}).get("source_hidden")]
    return {
        "title": first.splitlines()[0].lstrip("# ").strip(),
        "figures": sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])),
        "maths": "$" in markdown,
        "hidden": len(hidden),
        "solutions": sum(i > start for i in hidden),
    }


@pytest.fixture(scope="module")
def served(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's Chromium (/usr/bin/chromium); .ci/run installs it")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


def screenshot_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("EMBEDLIB_TEST_ARTIFACTS") or tmp_path).resolve() / "site"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


RAW = re.compile(r"\$\$|\\frac|\\sum|\\text\{|\]\(|```|^#{1,4} ", re.M)  # maths or Markdown left unrendered


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_each_lesson_page_reads_like_the_notebook(browser, served, lesson, tmp_path):
    facts = lesson_facts(lesson)
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(f"{served}/{lesson.stem}.html")
    page.wait_for_load_state("networkidle")
    if facts["maths"]:
        page.wait_for_function("window.MathJax?.startup?.promise", timeout=30_000)
        page.evaluate("MathJax.startup.promise")
        assert page.locator("mjx-container").count() > 0, "MathJax rendered nothing"
    assert page.locator("article h1").first.inner_text().startswith(facts["title"])
    figures = page.locator("article img[src*='_images/']")
    widths = figures.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == facts["figures"] and all(w > 0 for w in widths), widths
    prose = "\n".join(page.locator("article :is(p, li, h1, h2, h3, h4, th)").all_inner_texts())  # not the code
    assert not RAW.search(prose), RAW.search(prose)
    # Solutions are folded; a click opens one. (A check hidden inside an exercise shows only its output.)
    assert page.locator("article details.hide").count() == facts["hidden"]
    folded = page.locator("article .tag_hide-cell details.hide")
    assert folded.count() == facts["solutions"] > 0
    first = folded.first
    assert "Show solution" in first.locator("summary").inner_text()
    assert not first.locator(".cell_input").is_visible()
    first.locator("summary").click()
    assert first.locator(".cell_input").is_visible()
    # The launch buttons open this lesson's notebook, as its badges do.
    hrefs = page.locator(".dropdown-launch-buttons a").evaluate_all("links => links.map(a => a.href)")
    binder = [h for h in hrefs if h.startswith("https://mybinder.org/v2/gh/")]
    colab = [h for h in hrefs if h.startswith("https://colab.research.google.com/github/")]
    assert len(binder) == len(colab) == 1, hrefs
    assert binder[0].endswith(f"lab/tree/lessons/{lesson.name}") and colab[0].endswith(f"/lessons/{lesson.name}")
    page.screenshot(path=str(screenshot_folder(tmp_path) / f"{lesson.stem}.png"), full_page=False)
    page.close()


@pytest.mark.slow
def test_the_home_page_lists_the_lessons_in_order(browser, served, tmp_path):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(f"{served}/index.html")
    page.wait_for_load_state("networkidle")
    sidebar = page.locator(".bd-sidebar-primary a.reference.internal").all_inner_texts()
    titles = [lesson_facts(lesson)["title"] for lesson in LESSONS]
    assert [t for t in sidebar if t[:1].isdigit()] == titles
    assert page.locator("article table").count() >= 1 and "| lesson |" not in page.locator("article").inner_text()
    page.locator(".bd-sidebar-primary a", has_text=titles[1]).click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"{LESSONS[1].stem}.html")
    assert page.locator(".prev-next-area a").count() == 2  # previous and next
    page.screenshot(path=str(screenshot_folder(tmp_path) / "index.png"), full_page=False)
    page.close()
