"""Sphinx configuration of the course website: the committed lessons as pages, built by scripts/build_site.py.

The build copies the lessons and this folder into a staging folder first (see that script); nothing here executes a
notebook: the pages show the outputs committed with the lessons, from the real data.
"""

from __future__ import annotations

import re
from pathlib import Path

project = "Embeddings through collaborative filtering"
author = "the embedlib authors"
html_title = project
extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_dmath_double_inline = True  # a $$...$$ inside a list item is displayed maths, as in JupyterLab
nb_execution_mode = "off"  # committed outputs only
nb_output_stderr = "show"  # a warning a lesson printed (the synthetic-data fallback, say) stays visible
exclude_patterns = ["_build", "**.ipynb_checkpoints", "conf.py"]
html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_theme_options = {
    "repository_url": "https://github.com/embedlib/embedlib",
    "path_to_docs": "lessons",
    "use_repository_button": True,
    "show_navbar_depth": 1,
    "home_page_in_toc": True,
    "shorten_urls": False,  # a cited notebook keeps its full path and commit in the link text
}
mathjax_path = "mathjax/tex-chtml.js"  # a copy from npm, in _static: CI and offline readers have no CDN
suppress_warnings = ["myst.header"]  # lessons start at "#" and some sections skip straight to "###"

BADGE = re.compile(r"\((https://(?:mybinder\.org|colab\.research\.google\.com)/[^)\s]+)\)")


def launch_links(app, pagename, templatename, context, doctree):
    """Binder and Colab buttons on every lesson page, with exactly the links of the lesson's own badges."""
    source = Path(app.srcdir, pagename + ".ipynb")
    if not source.is_file():
        return
    links = {"Binder": None, "Colab": None}
    for url in BADGE.findall(source.read_text(encoding="utf-8")):
        name = "Binder" if "mybinder.org/v2" in url else "Colab" if "colab.research.google.com/github" in url else None
        if name and links[name] is None and pagename in url:
            links[name] = url
    buttons = [
        {"type": "link", "text": name, "tooltip": f"Open this lesson on {name}", "url": url,
         "icon": f"_static/images/logo_{name.lower()}.{'svg' if name == 'Binder' else 'png'}", "label": f"open-{name.lower()}"}
        for name, url in links.items() if url
    ]  # fmt: skip
    if buttons:
        context["header_buttons"].append(
            {"type": "group", "tooltip": "Open this lesson to run it", "icon": "fas fa-rocket", "buttons": buttons,
             "label": "launch-buttons"}
        )  # fmt: skip


def setup(app):
    app.connect("html-page-context", launch_links, priority=600)  # after the theme has made context["header_buttons"]
