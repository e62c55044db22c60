"""Fixtures for the browser test of the built website (``make site-test``).

The site in ``_build/html`` (or ``$SITE_DIR``) is served on 127.0.0.1 at a free port by a
static file server in a background thread, and Debian's Chromium (``/usr/bin/chromium``
or ``$CHROMIUM``) is driven by the playwright package, one page at a time. Pages are
discovered from the build, so a page added to the book is tested without touching this
file. ``$SITE_CONFIG`` names the ``_config.yml`` the site was built with (launch buttons
depend on it); ``$SITE_SCREENSHOTS`` names a folder for a light and a dark full-page
screenshot of every page.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("SITE_DIR", ROOT / "_build" / "html")).resolve()
CONFIG = Path(os.environ.get("SITE_CONFIG", ROOT / "_config.yml")).resolve()
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = os.environ.get("SITE_SCREENSHOTS", "")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: Folders of the build that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads"}


def is_redirect(path: Path) -> bool:
    """Whether an HTML file only forwards the reader elsewhere (``index.html`` of a book
    whose root page is not ``index``)."""
    head = path.read_text(encoding="utf-8", errors="replace")[:2000].lower()
    return 'http-equiv="refresh"' in head


def site_pages() -> list[str]:
    """Every reader-facing HTML page of the build, relative to the site root.

    ``search.html`` and redirect pages are left out: they have tests of their own.
    """
    if not (SITE / "index.html").is_file():
        return []
    pages = []
    for path in sorted(SITE.rglob("*.html")):
        rel = path.relative_to(SITE).as_posix()
        if rel.split("/")[0] in ASSET_DIRS or rel == "search.html" or is_redirect(path):
            continue
        pages.append(rel)
    return pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript",
                      ".svg": "image/svg+xml", ".woff2": "font/woff2", ".woff": "font/woff",
                      ".ipynb": "application/x-ipynb+json", ".md": "text/markdown"}

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@dataclass(frozen=True)
class Server:
    origin: str
    root: Path

    def url(self, rel: str) -> str:
        return f"{self.origin}/{rel.lstrip('/')}"


@pytest.fixture(scope="session")
def server():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"No built site at {SITE}: run 'make book' first.")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", SITE)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: run 'make chromium' (Debian: apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def book_config() -> dict:
    import yaml

    return yaml.safe_load(CONFIG.read_text(encoding="utf-8")) or {}


def pytest_generate_tests(metafunc):
    if "page_path" in metafunc.fixturenames:
        metafunc.parametrize("page_path", site_pages())
