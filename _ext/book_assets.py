"""Sphinx extension: everything the website needs is served by the website itself.

* MathJax 3 is copied from the installed ``django-static-mathjax`` package into
  ``_static/mathjax`` (``mathjax_path`` in ``_config.yml`` points there), so no
  page asks a CDN for it.
* Each chapter's explorer is pre-rendered by :func:`lib.widgets.render_static`
  into ``_static/explorers/NAME/``; ``_static/explorer.js`` shows those frames
  behind kernel-free controls wherever a page holds
  ``<div class="lib-explorer" data-explorer="NAME"></div>``.
* Launch buttons switch on only when ``repository.url`` in ``_config.yml`` names
  a GitHub repository; left empty, they are removed instead of producing links
  that go nowhere.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: What of MathJax's es5 tree a page can load with tex-chtml.js.
MATHJAX_PARTS = ("tex-chtml.js", "input", "output", "a11y", "ui", "adaptors")


def _mathjax_root() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise RuntimeError("django-static-mathjax is not installed: pip install -r requirements.txt")
    root = Path(spec.origin).parent / "static" / "mathjax" / "es5"
    if not (root / "tex-chtml.js").is_file():
        raise RuntimeError(f"MathJax's tex-chtml.js is missing under {root}")
    return root


def _switch_launch_buttons(app: Sphinx, config) -> None:
    options = dict(config.html_theme_options or {})
    url = (options.get("repository_url") or "").strip()
    if "github.com/" not in url:
        options.pop("launch_buttons", None)
        options["use_repository_button"] = False
        options["use_issues_button"] = False
        options["use_edit_page_button"] = False
    config.html_theme_options = options


def _copy_assets(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    target = static / "mathjax"
    root = _mathjax_root()
    for part in MATHJAX_PARTS:
        src, dst = root / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)

    from lib import widgets

    explorers = static / "explorers"
    for name in widgets.REGISTRY:
        n = widgets.render_static(name, explorers)
        logger.info(f"explorer {name}: {n} frames")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _switch_launch_buttons, priority=900)
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
