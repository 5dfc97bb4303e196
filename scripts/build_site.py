"""Build the course website into site-output/ from the committed lessons: no lesson runs, the pages show the outputs
committed with them.

Steps: copy site/conf.py, lessons/README.md (as the home page) and the lessons into a staging folder, fold each
solution (myst-nb's `hide-cell` tag), drop the invisible records `embedlib run` reads, point links that leave the
course at the repository; copy MathJax (npm's package, downloaded once with pooch and checked against its hash) into
the site, so that maths renders with no CDN; run Sphinx with every warning an error; swap the result into place.
Usage: python scripts/build_site.py [--output site-output]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "https://github.com/embedlib/embedlib/blob/HEAD"
MATHJAX_URL = "https://registry.npmjs.org/mathjax/-/mathjax-3.2.2.tgz"
MATHJAX_SHA256 = "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"
MATHJAX_PARTS = ["tex-chtml.js", "input", "output", "ui", "a11y", "adaptors", "sre"]  # what tex-chtml.js loads
RECORD_MIME_TYPE = "application/vnd.embedlib.record+json"  # embedlib.record.MIME_TYPE, without importing Keras
LEAVING = re.compile(r"\]\(\.\./([^)\s]+)\)")  # a Markdown link from lessons/ to elsewhere in the repository


def site_links(markdown: str) -> str:
    """Links out of lessons/ (`../README.md#...`) point at the repository, which the site does not hold; links to the
    course index (`README.md`) point at the home page, which is the index."""
    markdown = LEAVING.sub(lambda m: f"]({REPOSITORY}/{m[1]})", markdown)
    return re.sub(r"\]\(README\.md(#[^)\s]*)?\)", lambda m: f"](index.md{m[1] or ''})", markdown)


def stage_lesson(source: Path, target: Path) -> None:
    notebook = nbformat.read(source, as_version=4)
    in_solutions = False
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = site_links(cell.source)
            in_solutions = in_solutions or "## Solutions" in cell.source
            continue
        if cell.metadata.get("jupyter", {}).get("source_hidden"):
            # A folded solution stays folded until clicked; a hidden check inside an exercise shows only its output.
            tag, prompt = ("hide-cell", "Show solution") if in_solutions else ("hide-input", "Show the check's code")
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), tag]
            cell.metadata["mystnb"] = {"code_prompt_show": prompt, "code_prompt_hide": "Hide"}
        cell.outputs = [o for o in cell.get("outputs", []) if RECORD_MIME_TYPE not in o.get("data", {})]
    nbformat.write(notebook, target)


def stage_home(lessons: list[Path], target: Path) -> None:
    index = site_links((ROOT / "lessons" / "README.md").read_text(encoding="utf-8"))
    toctree = "\n".join(path.stem for path in lessons)
    target.write_text(
        f"{index.rstrip()}\n\n```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{toctree}\n```\n", encoding="utf-8"
    )


def mathjax_archive() -> Path:
    """npm's MathJax package, downloaded once into embedlib's cache and checked against its SHA-256."""
    import pooch

    from embedlib.environment import cache_dir

    path = pooch.retrieve(
        MATHJAX_URL, known_hash=f"sha256:{MATHJAX_SHA256}", path=cache_dir() / "site", progressbar=False
    )
    return Path(path)


def stage_mathjax(static: Path) -> None:
    with tempfile.TemporaryDirectory() as unpacked, tarfile.open(mathjax_archive()) as archive:
        archive.extractall(unpacked, filter="data")
        es5 = Path(unpacked) / "package" / "es5"
        for part in MATHJAX_PARTS:
            source, target = es5 / part, static / "mathjax" / part
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)


def build(output: Path) -> int:
    lessons = sorted((ROOT / "lessons").glob("[0-9][0-9]-*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="embedlib-site-") as work:
        staging, built = Path(work) / "source", Path(work) / "html"
        staging.mkdir()
        shutil.copy2(ROOT / "site" / "conf.py", staging / "conf.py")
        (staging / "_static").mkdir()
        shutil.copy2(ROOT / "site" / "course.css", staging / "_static" / "course.css")
        for lesson in lessons:
            stage_lesson(lesson, staging / lesson.name)
        stage_home(lessons, staging / "index.md")
        stage_mathjax(staging / "_static")
        command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                   "-d", str(Path(work) / "doctrees"), str(staging), str(built)]  # fmt: skip
        status = subprocess.run(command, check=False).returncode
        if status != 0:
            print(f"the site did not build (Sphinx exited with {status}); {output} is unchanged", file=sys.stderr)
            return status
        for lesson in lessons:  # the page's download button gives the lesson itself, not the staged copy
            shutil.copy2(lesson, built / "_sources" / lesson.name)
        # Swapped in whole, so a failed or interrupted build never leaves half a site behind.
        previous = output.with_name(output.name + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        if output.exists():
            output.rename(previous)
        shutil.move(built, output)
        shutil.rmtree(previous, ignore_errors=True)
    print(f"built {len(lessons)} lessons and the home page into {output}/")
    print(f"preview: python -m http.server --directory {output} 8000, then open http://localhost:8000")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", default=str(ROOT / "site-output"), help="where the site goes (default: %(default)s)"
    )
    return build(Path(parser.parse_args().output).resolve())


if __name__ == "__main__":
    sys.exit(main())
