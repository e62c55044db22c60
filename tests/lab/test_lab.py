"""Every explorer works live in JupyterLab, as a reader runs it (``make lab-test``).

A real JupyterLab server starts on 127.0.0.1 with a notebook holding one cell per
registered explorer (``explorer.live()``). Debian's Chromium, driven by playwright,
runs all cells, then moves every control of every explorer, one step, and checks
that the figure is redrawn: a control that changes nothing is a dead control.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from lib import widgets

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TOKEN = "lab-test"
NAMES = list(widgets.REGISTRY)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"from lib import widgets\nwidgets.get({n!r}).live()")
                for n in NAMES]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, root / "explorers.ipynb")
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
           f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={TOKEN}",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=", "--ServerApp.open_browser=False"]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".config"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
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
    yield f"http://127.0.0.1:{port}/lab/tree/explorers.ipynb?token={TOKEN}"
    proc.terminate()
    proc.wait(timeout=20)


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


def test_every_control_of_every_explorer_redraws_its_figure(lab):
    if not CHROMIUM.exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: run 'make chromium' (or set CHROMIUM).")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    moved = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(lab, wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                               "#jp-main-statusbar :text('Idle')", timeout=60_000)
        _run_all_cells(page)
        page.wait_for_function(
            f"document.querySelectorAll('.jp-OutputArea-output img').length >= {len(NAMES)}",
            timeout=180_000)
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
        browser.close()
    assert not problems, "\n".join(problems)
    assert moved == sum(len(widgets.get(n).controls) for n in NAMES)

