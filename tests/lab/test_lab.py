"""The book in JupyterLab, as a reader runs it (``make lab-test``).

A real JupyterLab server starts on 127.0.0.1 over a folder holding the reader edition
(what ``make lab`` opens: ``scripts/reader_edition.py``) and a notebook with one cell per
registered explorer (``explorer.live()``). Debian's Chromium, driven by playwright:

* opens every chapter and page of the reader edition and reads its rendered Markdown:
  no MyST role, directive, option, target or raw TeX may be on screen, every exercise
  shows its website number, and the math is typeset;
* runs the explorers' notebook, then moves every control of every explorer, one step,
  and checks that the figure is redrawn: a control that changes nothing is a dead control.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import json
import re
from dataclasses import dataclass

import nbformat
import pytest

from lib import widgets

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import reader_edition  # noqa: E402

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TOKEN = "lab-test"
NAMES = list(widgets.REGISTRY)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    origin: str
    root: Path

    def url(self, rel: str) -> str:
        """``rel`` opened alone: ``reset`` drops the tabs an earlier page left open."""
        return f"{self.origin}/lab/tree/{rel}?reset&token={TOKEN}"


#: JupyterLab settings for the test: every cell in the page (no windowing, so that the
#: whole notebook can be read), no news prompt over the notebook.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"from lib import widgets\nwidgets.get({n!r}).live()")
                for n in NAMES]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, root / "explorers.ipynb")
    reader_edition.write(ROOT, root)
    for name, values in SETTINGS.items():
        path = root / ".settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
           f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={TOKEN}",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=", "--ServerApp.open_browser=False"]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".config"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings")}
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("JupyterLab did not start within 60 s")
    yield Lab(f"http://127.0.0.1:{port}", root)
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: run 'make chromium' (or set CHROMIUM).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


#: The text of every rendered Markdown cell, without code and typeset math; and counts.
RENDERED = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) { return {cells: 0, shown: 0, texts: [], exercises: [], math: 0}; }
  const cells = [...panel.querySelectorAll('.jp-MarkdownCell')];
  const shown = cells.filter(c => c.querySelector('.jp-RenderedMarkdown'));
  const texts = shown.map(c => {
    const clone = c.querySelector('.jp-RenderedMarkdown').cloneNode(true);
    clone.querySelectorAll('pre, code, mjx-container, script, style').forEach(e => e.remove());
    return clone.textContent;
  });
  const exercises = [...panel.querySelectorAll('.jp-RenderedMarkdown blockquote > p:first-child > strong')]
    .map(e => e.textContent).filter(t => /^Exercise \\d+\\.\\d+$/.test(t));
  return {cells: cells.length, shown: shown.length, texts: texts, exercises: exercises,
          math: panel.querySelectorAll('.jp-RenderedMarkdown mjx-container').length};
}"""

#: MyST or TeX that a reader must never see as text (a role's `body` is code by then).
RAW = re.compile(r"\{[a-z][\w-]*(?::[\w-]+)?\}|(?:`{3,}|:{3,})\{|^\s*:(?:label|class|filter|sorted):|"
                 r"\$\$|\\(?:frac|text|tag|mathrm|beta|pi|kappa|cdot|times|approx)\b|"
                 r"\((?:eq|ch\d+)-[\w-]+\)|^\([\w.:-]+\)=", re.M)

READER = sorted(p.relative_to(ROOT).with_suffix(".ipynb").as_posix()
                for p in reader_edition.documents(ROOT))


@pytest.mark.parametrize("rel", READER)
def test_the_reader_edition_reads_as_on_the_website(lab, browser, rel):
    nb = nbformat.read(lab.root / rel, as_version=4)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    visible = [c for c in markdown if not c.metadata.get("jupyter", {}).get("source_hidden")]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(lab.url(rel), wait_until="domcontentloaded")
        page.wait_for_function(f"({RENDERED})().shown >= {len(visible)}", timeout=60_000)
        if any("$" in c.source for c in visible):
            page.wait_for_function(f"({RENDERED})().math > 0", timeout=30_000)
        seen, stable = -1, 0
        while stable < 3:             # MathJax typesets cell by cell: wait until it is done
            time.sleep(0.5)
            now = page.evaluate(RENDERED)["math"]
            stable = stable + 1 if now == seen else 0
            seen = now
        found = page.evaluate(RENDERED)
    finally:
        page.close()
    assert found["cells"] == len(markdown), f"{rel}: {found['cells']} of {len(markdown)} shown"
    assert found["shown"] >= len(visible)
    raw = [m.group(0) for text in found["texts"] for m in RAW.finditer(text)]
    assert not raw, f"{rel}: raw MyST or TeX on screen: {raw[:8]}"
    master = reader_edition.documents(ROOT)
    source = next(p for p in master if p.relative_to(ROOT).with_suffix(".ipynb").as_posix() == rel)
    if source.suffix == ".ipynb":
        n = sum(c.source.count("{exercise}") for c in nbformat.read(source, as_version=4).cells)
        assert len(found["exercises"]) == n, f"{rel}: exercises shown {found['exercises']}"
    assert not errors, f"{rel}: page errors {errors}"


def _wait_changed(image, before: str, seconds: float = 15.0) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if image.get_attribute("src") != before:
            return True
        time.sleep(0.2)
    return False


def _run_all_cells(page, attempts: int = 3) -> None:
    """Run > Run All Cells, again if no cell starts: a click that lands while the kernel is
    still connecting can be dropped, leaving every prompt at [ ]."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    started = ("[...document.querySelectorAll('.jp-InputPrompt')]"
               ".some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))")
    for attempt in range(attempts):
        page.click("text=Run", timeout=10_000)
        page.click("text=Run All Cells", timeout=10_000)
        try:
            page.wait_for_function(started, timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise


def test_every_control_of_every_explorer_redraws_its_figure(lab, browser):
    problems: list[str] = []
    moved = 0
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(lab.url("explorers.ipynb"), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                           "#jp-main-statusbar :text('Idle')", timeout=60_000)
    _run_all_cells(page)
    page.wait_for_function(
        f"document.querySelectorAll('.jp-OutputArea-output img').length >= {len(NAMES)}",
        timeout=60_000 + 30_000 * len(NAMES))     # every explorer's first frame, on 2 cores
    cells = page.locator(".jp-Notebook .jp-Cell")
    for i, name in enumerate(NAMES):
        cell = cells.nth(i)
        cell.scroll_into_view_if_needed()
        image = cell.locator(".jp-OutputArea-output img").first
        controls = cell.locator(".widget-slider, .widget-dropdown")
        expected = len(widgets.get(name).controls)
        if controls.count() != expected:
            problems.append(f"{name}: {controls.count()} controls shown, {expected} defined")
            continue
        for j in range(controls.count()):
            control = controls.nth(j)
            label = control.locator("label").first.inner_text()
            before = image.get_attribute("src")
            select = control.locator("select")
            if select.count():
                options = select.locator("option")
                current = select.input_value()
                values = [options.nth(k).get_attribute("value") for k in range(options.count())]
                select.select_option(next(v for v in values if v != current))
            else:
                handle = control.locator(".noUi-handle").first
                readout = control.locator(".widget-readout").first
                start = readout.inner_text()
                handle.focus()
                handle.press("ArrowRight")
                time.sleep(0.3)
                if readout.inner_text() == start:
                    handle.press("ArrowLeft")
            moved += 1
            if not _wait_changed(image, before):
                problems.append(f"{name}: moving {label!r} did not redraw the figure")
    if errors:
        problems.append(f"page errors: {errors}")
    page.close()
    assert not problems, "\n".join(problems)
    assert moved == sum(len(widgets.get(n).controls) for n in NAMES)

