"""Set the course's version everywhere Colab reads it: ``python scripts/release.py 0.2.0``.

Colab opens a lesson from GitHub and its first cell installs embedlib from GitHub, so both name a release tag, never
the default branch: the Colab badges (README.md, lessons/README.md, each lesson's first cell) open the lessons at
``v<version>``, and each lesson's install cell installs embedlib at ``v<version>``. This script writes the new version
into ``embedlib.__version__`` and all of those; tests/test_package.py checks that they agree. Then commit, tag
``v<version>`` and push the tag (see CONTRIBUTING.md).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TAG = re.compile(r"(github/embedlib/embedlib/blob/|git\+https://github\.com/embedlib/embedlib@)v\d+\.\d+\.\d+")


def main(version: str) -> None:
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise SystemExit(f"expected a version like 0.2.0, got {version!r}")
    init = ROOT / "embedlib" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text()))
    for index in (ROOT / "README.md", ROOT / "lessons" / "README.md"):
        index.write_text(TAG.sub(rf"\1v{version}", index.read_text()))
    for path in sorted((ROOT / "lessons").glob("[0-9]*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            cell.source = TAG.sub(rf"\1v{version}", cell.source)
        nbformat.write(notebook, path)
    print(f"version {version} written; now commit, then: git tag v{version} && git push origin v{version}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
