"""Checks on the committed chapter notebooks that nbval cannot make.

nbval compares text outputs but skips images, so a notebook executed without the
inline backend (for example under MPLBACKEND=Agg) would keep passing while the
website lost every figure. These tests read the .ipynb files directly.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                yield index, cell, output


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_output_has_its_image(path):
    missing = [index for index, _, out in _outputs(path)
               if str(out.get("data", {}).get("text/plain", "")).startswith("<Figure size")
               and "image/png" not in out.get("data", {})]
    assert not missing, f"{path.name}: figure outputs without a PNG in cells {missing}; " \
                        "re-run `make execute` with the inline backend"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_stored_widget_state_or_live_widget_output(path):
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata, f"{path.name} stores widget state"
    live = [index for index, _, out in _outputs(path) if WIDGET_VIEW in out.get("data", {})]
    assert not live, f"{path.name}: live widget outputs stored in cells {live}"


#: The first line of a cell that measures the reader's machine (chapter 16): its output
#: varies from run to run by nature, so it alone may ignore its output beyond the rule below.
MEASURED = "# Measured on this machine: the output varies."
#: The chapter whose subject is measuring, and how many measuring cells it may have.
MEASURING_CHAPTER, MEASURED_CELLS = "16_measure.ipynb", 10


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_ignore_output_tag_only_where_output_truly_varies(path):
    """`nbval-ignore-output` is for a widget's live view and for timings, nothing else; in
    the measuring chapter, also for cells that open with the measurement marker."""
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "nbval-ignore-output" in c.metadata.get("tags", [])]
    measured = [c for c in tagged if c.source.startswith(MEASURED)]
    if path.name == MEASURING_CHAPTER:
        assert len(measured) <= MEASURED_CELLS, f"{path.name}: {len(measured)} measuring cells"
    else:
        assert not measured, f"{path.name}: only {MEASURING_CHAPTER} measures the machine"
    timed = [c for c in tagged if c not in measured]
    assert len(timed) <= 3, f"{path.name}: {len(timed)} cells ignore their output"
    for cell in timed:
        src = cell.source
        assert ".live()" in src or "perf_counter" in src or "timeit" in src, \
            f"{path.name}: nbval-ignore-output on a cell that is neither a live widget nor a timing:\n{src[:200]}"
    for cell in nb.cells:                # the marker always comes with the tag
        if cell.cell_type == "code" and cell.source.startswith(MEASURED):
            assert cell in tagged, f"{path.name}: a measuring cell without nbval-ignore-output"


def _significant_digits(text: str) -> int:
    mantissa = text.lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) if "." in text.lower().split("e")[0] else len(mantissa)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_glued_numbers_keep_six_significant_figures(path):
    """lib.book.glue stores whole numbers exactly and other numbers to 6 significant figures,
    so that a catalog edit or a numpy release does not change digits no reader sees."""
    long = []
    for index, _, out in _outputs(path):
        name = out.get("metadata", {}).get("scrapbook", {}).get("name")
        text = out.get("data", {}).get("application/papermill.record/text/plain")
        if name is None or text is None:
            continue
        try:
            value = float(text)
        except ValueError:
            continue                      # a glued string or figure
        if not value.is_integer() and _significant_digits(text) > 6:
            long.append((index, name, text))
    assert not long, f"{path.name}: glued with more than 6 significant figures: {long}"


def test_significant_digits():
    assert [_significant_digits(t) for t in ("295.343", "0.00411", "1.23457e-09", "12",
                                             "-4.5")] == [6, 3, 6, 2, 2]
