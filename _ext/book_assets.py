"""Sphinx extension: everything the website needs is served by the website itself.

* MathJax 3 is copied from the installed ``django-static-mathjax`` package into
  ``_static/mathjax`` (``mathjax_path`` in ``_config.yml`` points there), so no
  page asks a CDN for it.
* Each chapter's explorer is pre-rendered by :func:`lib.widgets.render_static`
  into ``_static/explorers/NAME/``; ``_static/explorer.js`` shows those frames
  behind kernel-free controls wherever a page holds
  ``<div class="lib-explorer" data-explorer="NAME"></div>``.
* A chapter's download button offers its *reader edition* (``scripts/reader_edition.py``):
  the notebook as it reads on the site, numbers filled in, which Jupyter, Colab or VS Code
  render as the site does; the MyST source would show ``{glue:text}`` roles there.
* Launch buttons (Binder, Colab, JupyterHub) switch on only when
  ``repository.url`` in ``_config.yml`` names a GitHub repository; left empty,
  they are removed instead of producing links that go nowhere.
* sphinx-thebe (a default extension of Jupyter Book 1.x) is switched off: live
  code would need thebe from unpkg.com and a Binder kernel, which a static or
  offline site does not have. Its inline configuration script also broke every
  page under Sphinx 7.4 ("Identifier 'THEBE_JS_URL' has already been declared"):
  it is added during ``env-before-read-docs`` with ``filename=None`` and re-added
  as ``''`` by ``prepare_writing``, so Sphinx's de-duplication keeps both.
* The colour mode defaults to ``auto`` (pydata-sphinx-theme reads
  ``html_context["default_mode"]``; left unset, every page logged "Got invalid
  theme mode").
* pydata-sphinx-theme draws its icons twice over: with the Font Awesome webfont
  (its CSS) and with ``fontawesome.js`` (1.5 MB, about 0.54 MB gzipped, which swaps
  each ``<i class="fa-...">`` for an inline SVG). The webfont alone draws every icon
  the book shows, so the script is replaced by a stub: a third of each page's weight.
* Build-time checks, so that every page, including pages added later, stays
  kernel-free: a notebook whose widget output would show on the site (a live
  view without the ``remove-output`` tag), or a ``lib-explorer`` div naming an
  explorer that :data:`lib.widgets.REGISTRY` lacks, is a warning (an error under
  ``make book``, which builds with ``-W``).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: What of MathJax's es5 tree a page can load with tex-chtml.js.
MATHJAX_PARTS = ("tex-chtml.js", "input", "output", "a11y", "ui", "adaptors")

#: The theme's duplicate icon renderer (see the module docstring), under _static/.
FONTAWESOME_JS = Path("scripts") / "fontawesome.js"
FONTAWESOME_STUB = ("/* Icons come from the Font Awesome webfont in the theme's CSS; this script\n"
                    "   (1.5 MB) is stubbed by _ext/book_assets.py to keep pages light. */\n")

#: Output types that need a Jupyter widget manager (and a kernel) to show anything.
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

EXPLORER_DIV = re.compile(r'<div\s+class="lib-explorer"\s+data-explorer="([^"]*)"')

GITHUB = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/?$")


def _mathjax_root() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise RuntimeError("django-static-mathjax is not installed: pip install -r requirements.txt")
    root = Path(spec.origin).parent / "static" / "mathjax" / "es5"
    if not (root / "tex-chtml.js").is_file():
        raise RuntimeError(f"MathJax's tex-chtml.js is missing under {root}")
    return root


def is_github_repository(url: str) -> bool:
    """Whether ``url`` is a GitHub repository's address (what launch buttons need).

    >>> is_github_repository("https://github.com/org/book")
    True
    >>> is_github_repository("")
    False
    """
    return bool(GITHUB.match((url or "").strip()))


def book_version() -> str:
    """The book's version, ``lib.__version__``, read from the file (the build need not import lib)."""
    text = (Path(__file__).resolve().parents[1] / "lib" / "__init__.py").read_text("utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def _configure_theme(app: Sphinx, config) -> None:
    options = dict(config.html_theme_options or {})
    url = (options.get("repository_url") or "").strip()
    launch = dict(options.get("launch_buttons") or {})
    if launch.get("thebe"):
        logger.warning("launch_buttons.thebe is not supported: live code needs thebe from "
                       "unpkg.com and a Binder kernel; the site must work offline. "
                       "Switched off.", type="book_assets", subtype="thebe")
    launch["thebe"] = False
    if is_github_repository(url):
        options["repository_url"] = url.rstrip("/")
        options["launch_buttons"] = launch
    else:
        if url:
            logger.warning(f"repository.url={url!r} is not a GitHub repository address "
                           "(https://github.com/ORG/REPO); launch buttons stay off.",
                           type="book_assets", subtype="launch")
        options.pop("launch_buttons", None)
        options["repository_url"] = ""
        options["use_repository_button"] = False
        options["use_issues_button"] = False
        options["use_edit_page_button"] = False
    # The version readers cite and courses pin (lib.__version__, as CITATION.cff).
    options["extra_footer"] = (f"{options.get('extra_footer') or ''}"
                               f'<p class="book-version">Version {book_version()}.</p>')
    # pydata-sphinx-theme 0.17 puts a search field in a top bar unless told otherwise;
    # the book theme already has one in the sidebar, so one is enough.
    options.setdefault("navbar_persistent", [])
    config.html_theme_options = options

    context = dict(config.html_context or {})
    if context.get("default_mode") not in ("auto", "light", "dark"):
        context["default_mode"] = "auto"
    config.html_context = context


def _drop_thebe(app: Sphinx, config) -> None:
    """Unhook sphinx-thebe: no thebe script, config or stylesheet on any page."""
    for name, listeners in list(app.events.listeners.items()):
        app.events.listeners[name] = [
            lst for lst in listeners
            if not getattr(lst.handler, "__module__", "").startswith("sphinx_thebe")]
    app.registry.css_files[:] = [(f, a) for f, a in app.registry.css_files
                                 if f != "sphinx-thebe.css"]


def _check_notebooks(app: Sphinx, env, docnames: list[str]) -> None:
    """Warn about anything on a notebook page that would be a dead control."""
    from lib import widgets

    for docname in docnames:
        path = Path(env.doc2path(docname))
        if path.suffix != ".ipynb":
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb.get("cells", [])):
            source = "".join(cell.get("source", ""))
            tags = cell.get("metadata", {}).get("tags", [])
            if cell.get("cell_type") == "code" and "remove-output" not in tags and any(
                    WIDGET_MIME in out.get("data", {}) for out in cell.get("outputs", [])):
                logger.warning(f"cell {i} shows a Jupyter widget, which is a dead control on "
                               "the static site: tag the cell 'remove-output' and follow it "
                               'with <div class="lib-explorer" data-explorer="NAME"></div>.',
                               location=docname, type="book_assets", subtype="widget")
            for name in EXPLORER_DIV.findall(source):
                if name not in widgets.REGISTRY:
                    logger.warning(f"cell {i}: data-explorer={name!r} is not registered in "
                                   f"lib.widgets.REGISTRY ({', '.join(widgets.REGISTRY)}).",
                                   location=docname, type="book_assets", subtype="explorer")


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

    script = static / FONTAWESOME_JS
    if script.is_file():
        script.write_text(FONTAWESOME_STUB, encoding="utf-8")
        script.with_name(script.name + ".map").unlink(missing_ok=True)

    _reader_downloads(Path(app.srcdir), Path(app.outdir))

    from lib import widgets

    explorers = static / "explorers"
    for name in widgets.REGISTRY:
        n = widgets.render_static(name, explorers)
        logger.info(f"explorer {name}: {n} frames")


def _reader_downloads(srcdir: Path, outdir: Path) -> None:
    """Replace each chapter's downloadable source (``_sources/chapters/*.ipynb``) with its
    reader edition."""
    sys.path.insert(0, str(srcdir / "scripts"))
    try:
        import reader_edition
    finally:
        sys.path.pop(0)
    with tempfile.TemporaryDirectory() as tmp:
        written, _ = reader_edition.write(srcdir, Path(tmp))
        for path in written:
            rel = path.relative_to(tmp)
            target = outdir / "_sources" / rel
            if rel.parts[0] == "chapters" and target.is_file():
                shutil.copyfile(path, target)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _configure_theme, priority=900)
    app.connect("config-inited", _drop_thebe, priority=900)
    app.connect("env-before-read-docs", _check_notebooks)
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.1"}
