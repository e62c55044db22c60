"""Browser test of the built website: every page, as a reader on an offline network meets it.

For each page (discovered from the build, see conftest.py) in one headless Chromium:

* no JavaScript errors (page errors or console errors) in light or dark mode;
* no request to any host but the local server (such requests are aborted and reported),
  no failed or 404 response;
* every same-site link points at a file that exists, and every ``#anchor`` at an id on it;
* every image loaded; every math element rendered by MathJax, no raw TeX left in the text;
* every explorer (``div.lib-explorer``) has controls and an image shown at the size it was
  drawn, and each control changes the image;
* no Jupyter-widget or thebe control, which would be dead on a static page;
* launch buttons present exactly when ``repository.url`` is a GitHub repository; the
  download button offers the page's source (a chapter's reader edition, an ``.ipynb``
  without MyST roles) and serves it;
* everything the page loads weighs under 2 MB as a gzip-serving host sends it;
* the reader edition (what the download button serves) numbers sections, equations and
  exercises as the pages do;
* a first visit (empty localStorage, light system colours) renders in light mode, and dark
  mode (set through the theme's own localStorage keys) renders too, both with readable
  contrast.

Run with ``make site-test`` after ``make book``.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest

from conftest import ROOT, SCREENSHOTS, SITE, is_redirect, site_pages

#: Page weight budget: bytes a gzip-serving host sends for a page and all it loads.
MAX_PAGE_BYTES = 2_000_000
#: Suffixes a gzip-serving host compresses (text); images and fonts are sent as they are.
COMPRESSED = {".html", ".htm", ".js", ".mjs", ".css", ".json", ".svg", ".xml", ".txt",
              ".ipynb", ".md", ".map"}
#: WCAG AA contrast for body text.
MIN_CONTRAST = 4.5
LOAD_TIMEOUT_MS = 20_000


DEAD_CONTROLS = """() => {
  const selectors = ['.jupyter-widgets', '.widget-area', '.jupyter-widget',
    'script[type="application/vnd.jupyter.widget-view+json"]',
    'script[type="application/vnd.jupyter.widget-state+json"]',
    '.thebe-launch-button', '.thebelab-button', '.thebe-controls', '[onclick*="initThebe"]',
    '.dropdown-launch-buttons .btn-launch-thebe'];
  const found = selectors.filter(s => document.querySelector(s));
  for (const out of document.querySelectorAll('.cell_output')) {
    if (/\\b(VBox|HBox|IntSlider|FloatSlider|SelectionSlider|Dropdown|interactive)\\(/.test(out.textContent)) {
      found.push('a widget repr in a cell output: ' + out.textContent.trim().slice(0, 80));
    }
  }
  for (const s of document.querySelectorAll('script')) {
    const src = s.getAttribute('src') || '';
    if (/require(\\.min)?\\.js|thebe|jupyter-widgets|embed-amd|html-manager/.test(src)) {
      found.push('script ' + src);
    }
    if (!src && /THEBE_JS_URL|thebe_selector/.test(s.textContent)) { found.push('thebe configuration script'); }
  }
  return found;
}"""

ICONS = """() => Array.from(document.querySelectorAll('i[class*="fa-"], span[class*="fa-"]'))
  .filter(i => i.offsetParent !== null)
  .filter(i => ['none', 'normal', '""'].includes(getComputedStyle(i, '::before').content))
  .map(i => i.className)"""

IMAGES = """async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => {
    i.loading = 'eager';
    if (i.complete) { return null; }
    return new Promise(r => { i.addEventListener('load', r, {once: true});
                              i.addEventListener('error', r, {once: true}); setTimeout(r, 8000); });
  }));
  return imgs.filter(i => !(i.complete && i.naturalWidth > 0))
             .map(i => i.currentSrc || i.getAttribute('src') || i.outerHTML.slice(0, 120));
}"""

MATH_DONE = """() => Array.from(document.querySelectorAll('div.math, span.math'))
                      .every(e => e.querySelector('mjx-container'))"""

RAW_TEX = """() => {
  const root = document.querySelector('article.bd-article') || document.body;
  const clone = root.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea, kbd')
       .forEach(e => e.remove());
  const text = clone.textContent;
  const found = ['$$', '\\\\frac', '\\\\begin{', '\\\\mathrm', '\\\\text{', '\\\\times', '\\\\cdot',
                 '\\\\approx', '\\\\(', '\\\\['].filter(s => text.includes(s));
  const inline = text.match(/\\$[^$\\n]{0,80}\\\\[A-Za-z]+[^$\\n]{0,80}\\$/);  // $...\\cmd...$
  if (inline) { found.push(inline[0]); }
  return found;
}"""

COLOURS = """() => {
  const html = document.documentElement;
  let bg = getComputedStyle(document.body).backgroundColor;
  if (/rgba\\(.*,\\s*0\\)$/.test(bg) || bg === 'transparent') { bg = getComputedStyle(html).backgroundColor; }
  const p = document.querySelector('article.bd-article p') || document.querySelector('article.bd-article') || document.body;
  const figure = document.querySelector('.cell_output img, img.lib-explorer-image');
  return {theme: html.dataset.theme, mode: html.dataset.mode, bg: bg, fg: getComputedStyle(p).color,
          figureBg: figure ? getComputedStyle(figure).backgroundColor : null};
}"""

IDS_AND_HREFS = """() => ({
  ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
  hrefs: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
})"""


# -- helpers ------------------------------------------------------------------------------

class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value or "")


_ID_CACHE: dict[Path, set[str]] = {}


def ids_in(path: Path) -> set[str]:
    if path not in _ID_CACHE:
        parser = _Ids()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        _ID_CACHE[path] = parser.ids
    return _ID_CACHE[path]


def local_file(url: str, origin: str) -> Path | None:
    """The file under the site root that a same-site URL names (None if not same-site)."""
    if not url.startswith(origin + "/") and url != origin:
        return None
    path = unquote(urlsplit(url).path).lstrip("/")
    target = SITE / path
    if target.is_dir() or path == "":
        target = target / "index.html"
    return target


def sent_bytes(path: Path) -> int:
    data = path.read_bytes()
    if path.suffix.lower() in COMPRESSED:
        return len(gzip.compress(data, compresslevel=6))
    return len(data)


def rgb(colour: str) -> tuple[float, float, float]:
    nums = [float(x) for x in re.findall(r"[\d.]+", colour)[:3]]
    assert len(nums) == 3, f"cannot parse colour {colour!r}"
    return nums[0], nums[1], nums[2]


def luminance(colour: str) -> float:
    def lin(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def github_repository(config: dict) -> str | None:
    url = ((config.get("repository") or {}).get("url") or "").strip().rstrip("/")
    m = re.match(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)$", url)
    return f"{m.group(1)}/{m.group(2)}" if m else None


@dataclass
class Visit:
    """What the browser saw while one page loaded."""

    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)


def open_page(browser, server, rel: str):
    """A fresh context (cold cache, fresh localStorage) with every listener attached."""
    visit = Visit()
    # A first-time reader: empty localStorage, a system set to light colours.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light",
                                  service_workers="block")

    def refuse(route):
        visit.external.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith(server.origin + "/")
                  and not url.startswith(("data:", "blob:")), refuse)
    page = context.new_page()
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.on("pageerror", lambda e: visit.errors.append(f"page error: {e}"))
    page.on("console", lambda m: visit.errors.append(
        f"console error: {m.text} at {m.location.get('url', '')}") if m.type == "error" else None)
    page.on("response", lambda r: visit.failed.append(f"{r.status} {r.url}")
            if r.status >= 400 else None)
    page.on("requestfailed", lambda r: visit.failed.append(f"failed: {r.url} ({r.failure})")
            if r.url.startswith(server.origin) else None)
    page.on("requestfinished", lambda r: visit.loaded.append(r.url))
    page.goto(server.url(rel), wait_until="load")
    page.wait_for_load_state("networkidle")
    return context, page, visit


def check_links(page, server, rel: str) -> list[str]:
    problems = []
    found = page.evaluate(IDS_AND_HREFS)
    here_ids = set(found["ids"])
    page_url = server.url(rel)
    for href in sorted(set(found["hrefs"])):
        if not href or href.startswith(("mailto:", "javascript:")) or href == "#":
            if href and href.startswith("javascript:"):
                problems.append(f"link to {href!r} (a control disguised as a link)")
            continue
        absolute = urljoin(page_url, href)
        target_url, fragment = urldefrag(absolute)
        fragment = unquote(fragment)
        target = local_file(target_url, server.origin)
        if target is None:
            continue  # an external link: followed by the reader, never loaded by the page
        if not target.is_file():
            problems.append(f"broken link {href!r}: no {target.relative_to(SITE)}")
            continue
        if fragment:
            same_page = target == (SITE / rel)
            ids = here_ids if same_page else ids_in(target)
            if fragment not in ids:
                problems.append(f"broken anchor {href!r}: no id {fragment!r} on "
                                f"{target.relative_to(SITE)}")
    return problems


def check_explorers(page, server) -> list[str]:
    problems = []
    hosts = page.locator("div.lib-explorer[data-explorer]")
    for i in range(hosts.count()):
        host = hosts.nth(i)
        name = host.get_attribute("data-explorer")
        image = host.locator("img.lib-explorer-image")
        try:
            page.wait_for_function(
                "(el) => { const i = el.querySelector('img.lib-explorer-image');"
                " return i && i.complete && i.naturalWidth > 0; }",
                arg=host.element_handle(), timeout=10_000)
        except Exception:
            problems.append(f"explorer {name!r}: no pre-rendered image shown "
                            f"({host.inner_text()[:120]!r})")
            continue
        size = image.evaluate("i => [i.naturalWidth, i.naturalHeight,"
                              " Number(i.getAttribute('width')), Number(i.getAttribute('height'))]")
        if size[:2] != size[2:]:
            problems.append(f"explorer {name!r}: a {size[0]}x{size[1]} frame shown as "
                            f"{size[2]}x{size[3]}")
        controls = host.locator("select, input[type=range]")
        if controls.count() == 0:
            problems.append(f"explorer {name!r}: no controls")
        for j in range(controls.count()):
            control = controls.nth(j)
            label = host.locator(f"label[for='{control.get_attribute('id')}']")
            label = label.inner_text() if label.count() else f"control {j}"
            if control.evaluate("el => el.tagName") == "SELECT":
                n = control.locator("option").count()
            else:
                n = int(control.get_attribute("max")) + 1
            start = control.input_value()
            before = image.get_attribute("src")
            changed = False
            for option in [str(k) for k in range(n) if str(k) != start]:
                set_control(control, option)
                page.wait_for_function(
                    "([img, src]) => img.getAttribute('src') !== src && img.complete"
                    " && img.naturalWidth > 0", arg=[image.element_handle(), before], timeout=10_000)
                after = image.get_attribute("src")
                old = local_file(urljoin(page.url, before), server.origin)
                new = local_file(urljoin(page.url, after), server.origin)
                if old and new and old.is_file() and new.is_file() \
                        and old.read_bytes() != new.read_bytes():
                    changed = True
                    break
            set_control(control, start)
            if n > 1 and not changed:
                problems.append(f"explorer {name!r}: moving {label!r} never changes the image")
    return problems


def set_control(control, value: str) -> None:
    if control.evaluate("el => el.tagName") == "SELECT":
        control.select_option(value=value)
    else:
        control.evaluate("(el, v) => { el.value = v;"
                         " el.dispatchEvent(new Event('input', {bubbles: true})); }", value)


def check_buttons(page, server, rel: str, repo: str | None, config: dict) -> list[str]:
    problems = []
    stem = rel[:-len(".html")]
    notebook = (SITE / "_sources" / f"{stem}.ipynb").is_file()
    has_source = any((SITE / "_sources").glob(f"{stem}.*"))

    download = page.locator("a.btn-download-source-button")
    if has_source and download.count() == 0:
        problems.append("no download button for the page's source")
    if rel.startswith("chapters/") and not notebook:
        problems.append("chapter page without a notebook source in _sources/")
    if download.count():
        href = download.first.get_attribute("href")
        if notebook and not href.endswith(".ipynb"):
            problems.append(f"download button offers {href!r}, not the notebook")
        response = page.request.get(urljoin(server.url(rel), href))
        if response.status != 200:
            problems.append(f"download {href!r}: HTTP {response.status}")
        elif href.endswith(".ipynb"):
            try:
                cells = json.loads(response.body())["cells"]
            except Exception:
                problems.append(f"download {href!r} is not a notebook")
            else:
                markdown = "".join("".join(c["source"]) for c in cells
                                   if c["cell_type"] == "markdown")
                if "{glue:text}`" in markdown or "{cite}`" in markdown:
                    problems.append(f"download {href!r} is the MyST source, not the reader "
                                    "edition (raw roles would show in Jupyter)")

    launch = page.locator(".dropdown-launch-buttons a")
    links = [launch.nth(i).get_attribute("href") or "" for i in range(launch.count())]
    if repo is None:
        if links or page.locator(".dropdown-launch-buttons").count():
            problems.append(f"launch buttons without a GitHub repository.url: {links}")
    elif notebook:
        hub = ((config.get("launch_buttons") or {}).get("jupyterhub_url") or "").strip("/")
        wanted = {"Binder": f"mybinder.org/v2/gh/{repo}/", "Colab": f"/github/{repo}/blob/"}
        if hub:
            wanted["JupyterHub"] = hub
        for what, part in wanted.items():
            if not any(part in link and f"{stem}.ipynb" in link for link in links):
                problems.append(f"no {what} launch button for {stem}.ipynb (links: {links})")
    return problems


def page_weight(visit: Visit, server) -> tuple[int, list[tuple[int, str]]]:
    seen: dict[Path, int] = {}
    for url in visit.loaded:
        path = local_file(url.split("?")[0].split("#")[0], server.origin)
        if path is not None and path.is_file() and path not in seen:
            seen[path] = sent_bytes(path)
    heaviest = sorted(((n, p.relative_to(SITE).as_posix()) for p, n in seen.items()), reverse=True)
    return sum(seen.values()), heaviest[:5]


def check_mode(page, mode: str) -> tuple[list[str], dict]:
    problems = []
    c = page.evaluate(COLOURS)
    if c["theme"] != mode:
        problems.append(f"{mode} mode: <html data-theme> is {c['theme']!r}")
    if c["mode"] not in ("auto", "light", "dark"):
        problems.append(f"{mode} mode: <html data-mode> is {c['mode']!r}")
    lum = luminance(c["bg"])
    if (mode == "light" and lum < 0.7) or (mode == "dark" and lum > 0.2):
        problems.append(f"{mode} mode: background {c['bg']} has luminance {lum:.2f}")
    ratio = contrast(c["bg"], c["fg"])
    if ratio < MIN_CONTRAST:
        problems.append(f"{mode} mode: text {c['fg']} on {c['bg']} has contrast {ratio:.1f} "
                        f"< {MIN_CONTRAST}")
    if mode == "dark" and c["figureBg"] is not None and luminance(c["figureBg"]) < 0.9:
        problems.append(f"dark mode: figures (drawn on white) sit on {c['figureBg']}")
    return problems, c


# -- tests --------------------------------------------------------------------------------

def test_site_is_built():
    assert (SITE / "index.html").is_file(), f"no built site at {SITE}: run 'make book'"


def test_page(page_path, browser, server, book_config):
    """Everything a reader meets on one page, in light and dark mode."""
    context, page, visit = open_page(browser, server, page_path)
    problems: list[str] = []
    try:
        missing = page.evaluate(IMAGES)
        problems += [f"image not loaded: {m}" for m in missing]

        if page.locator("div.math, span.math").count():
            try:
                page.wait_for_function(MATH_DONE, timeout=LOAD_TIMEOUT_MS)
            except Exception:
                problems.append("math not rendered by MathJax (no mjx-container)")
        problems += [f"raw TeX in the text: {s!r}" for s in page.evaluate(RAW_TEX)]

        page.wait_for_load_state("networkidle")
        weight, heaviest = page_weight(visit, server)
        if weight > MAX_PAGE_BYTES:
            problems.append(f"page weight {weight:,} bytes gzipped > {MAX_PAGE_BYTES:,}; "
                            f"heaviest: {heaviest}")

        problems += [f"dead control: {d}" for d in page.evaluate(DEAD_CONTROLS)]
        problems += [f"icon not drawn: {c}" for c in sorted(set(page.evaluate(ICONS)))]
        if not page.locator("link[rel~='icon']").count() and not (SITE / "favicon.ico").is_file():
            problems.append("no <link rel=icon>: browsers will ask for /favicon.ico (a 404)")
        problems += check_links(page, server, page_path)
        problems += check_buttons(page, server, page_path, github_repository(book_config),
                                  book_config)
        problems += check_explorers(page, server)

        # First visit: the theme's default mode ("auto") follows the light system setting.
        light_problems, light = check_mode(page, "light")
        problems += light_problems
        if SCREENSHOTS:
            shot = Path(SCREENSHOTS) / (page_path.replace("/", "_")[:-5])
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{shot}_light.png", full_page=True)

        page.evaluate("() => { localStorage.setItem('mode', 'dark');"
                      " localStorage.setItem('theme', 'dark'); }")
        page.reload(wait_until="load")  # the theme applies the mode before first paint
        dark_problems, dark = check_mode(page, "dark")
        problems += dark_problems
        if dark["bg"] == light["bg"]:
            problems.append(f"light and dark mode share the background {dark['bg']}")
        if SCREENSHOTS:
            page.wait_for_load_state("networkidle")
            page.evaluate(IMAGES)
            if page.locator("div.math, span.math").count():
                page.wait_for_function(MATH_DONE, timeout=LOAD_TIMEOUT_MS)
            page.screenshot(path=f"{shot}_dark.png", full_page=True)
    finally:
        context.close()

    problems += visit.errors
    problems += [f"request outside the site: {u}" for u in visit.external]
    problems += [f"failed request: {f}" for f in visit.failed]
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


def test_search_finds_results(browser, server):
    """The search page, given a query, lists matching pages (searchindex.js is served)."""
    context, page, visit = open_page(browser, server, "search.html?q=roofline")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=LOAD_TIMEOUT_MS)
        results = page.locator("#search-results ul.search li").count()
    finally:
        context.close()
    assert results >= 1
    assert not visit.errors and not visit.external and not visit.failed, visit


@pytest.mark.parametrize("redirect", [p.relative_to(SITE).as_posix() for p in
                                      sorted(SITE.glob("*.html")) if is_redirect(p)])
def test_redirect_pages_arrive(redirect, browser, server):
    """``index.html`` forwards to the book's root page, which exists."""
    context, page, visit = open_page(browser, server, redirect)
    try:
        page.wait_for_function("() => !location.pathname.endsWith('/" + redirect + "')",
                               timeout=LOAD_TIMEOUT_MS)
        page.wait_for_load_state("load")
        arrived = page.evaluate("() => document.querySelector('article.bd-article') !== null")
    finally:
        context.close()
    assert arrived, f"{redirect} did not arrive at a book page"
    assert not visit.errors and not visit.external and not visit.failed, visit


def test_bibliography_lists_every_entry():
    """pages/bibliography lists every entry of references.bib."""
    page_file = SITE / "pages" / "bibliography.html"
    if not page_file.is_file():
        pytest.skip("no bibliography page in this build")
    keys = set(re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,",
                          (ROOT / "references.bib").read_text(encoding="utf-8"), flags=re.M))
    html = page_file.read_text(encoding="utf-8")
    lists = re.findall(r'<ul class="simple"[^>]*>(.*?)</ul>', html, flags=re.S)
    entries = max((len(re.findall(r"<li\b", block)) for block in lists), default=0)
    stale = (ROOT / "references.bib").stat().st_mtime > page_file.stat().st_mtime
    assert entries == len(keys), (f"{entries} entries shown, {len(keys)} in references.bib"
                                  + (" (edited after the build: run make book)" if stale else ""))


def test_every_page_shows_the_version_and_the_licence():
    """The footer of every page names the book's version (lib.__version__, the one
    CITATION.cff cites and a course pins) and the text's licence."""
    version = re.search(r'^__version__ = "([^"]+)"',
                        (ROOT / "lib" / "__init__.py").read_text(encoding="utf-8"), re.M).group(1)
    missing = []
    for rel in site_pages():
        text = (SITE / rel).read_text(encoding="utf-8", errors="replace")
        if (f'<p class="book-version">Version {version}.</p>' not in text
                or 'href="https://creativecommons.org/licenses/by/4.0/"' not in text):
            missing.append(rel)
    assert not missing, f"no version {version} or licence in the footer of: {missing}"


# Tags whose URL the browser fetches as soon as the page loads (or on first use).
_FETCHED = re.compile(r"<(script|img|iframe|source|audio|video|embed)\b[^>]*?\bsrc=[\"']([^\"']+)"
                      r"|<link\b[^>]*?\bhref=[\"']([^\"']+)[^>]*>", re.I)


def test_no_page_or_stylesheet_names_an_outside_resource():
    """Static scan of every HTML and CSS file: nothing the browser would fetch lives
    outside the site (covers resources a page loads only on interaction)."""
    problems = []
    for path in sorted(SITE.rglob("*.html")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in _FETCHED.finditer(text):
            url = m.group(2) or m.group(3)
            tag = m.group(0)
            if m.group(3) and not re.search(r"rel=[\"'](stylesheet|preload|modulepreload|icon|"
                                            r"shortcut icon|prefetch|manifest)", tag, re.I):
                continue  # <link rel="next|prev|index|search|canonical"> is a link, not a fetch
            if re.match(r"^(https?:)?//", url):
                problems.append(f"{path.relative_to(SITE)}: {tag[:160]}")
        for body in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", text, re.S | re.I):
            for url in re.findall(r"https?://[^\s\"'<>]+", body):
                if not url.startswith("http://www.w3.org/"):
                    problems.append(f"{path.relative_to(SITE)}: inline script names {url}")
    for path in sorted((SITE / "_static").rglob("*.css")):
        for url in re.findall(r"url\(\s*[\"']?((?:https?:)?//[^\"')]+)", path.read_text(
                encoding="utf-8", errors="replace")):
            problems.append(f"{path.relative_to(SITE)}: url({url})")
    assert not problems, "\n".join(problems)


def test_the_reader_edition_numbers_as_the_site_does():
    """Sections, equations and exercises carry the same numbers in the reader edition
    (JupyterLab, the download button, the student edition) as on the built pages; the
    download button serves the reader edition (test_page checks it has no MyST role)."""
    downloads = SITE / "_sources" / "chapters"
    pages = sorted((SITE / "chapters").glob("*.html"))
    assert pages, "no chapter pages in the build"
    for page in pages:
        html = page.read_text(encoding="utf-8")
        site = {
            "sections": re.findall(r'<h[23][^>]*><span class="section-number">([\d.]+)\. </span>',
                                   html),
            "equations": re.findall(r'<span class="eqno">\(([\d.]+)\)', html),
            "exercises": list(dict.fromkeys(re.findall(
                r'<p class="admonition-title"><span class="caption-number">Exercise ([\d.]+) ',
                html))),
        }
        nb = json.loads((downloads / f"{page.stem}.ipynb").read_text(encoding="utf-8"))
        text = "\n\n".join("".join(c["source"]) for c in nb["cells"]
                           if c["cell_type"] == "markdown")
        reader = {
            "sections": re.findall(r"^#{2,3} ([\d.]+)\. ", text, flags=re.M),
            "equations": re.findall(r"\\tag\{([\d.]+)\}", text),
            "exercises": re.findall(r"^> \*\*Exercise ([\d.]+)\*\*", text, flags=re.M),
        }
        assert reader == site, f"{page.name}: the reader edition numbers differently"
