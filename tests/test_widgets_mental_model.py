"""Chapter 7's figures and explorer (lib.widgets.mental_model) and its exercises."""

from __future__ import annotations

import math
import time

import pytest

from lib import widgets
from lib.plotting import new_figure
from lib.widgets import mental_model as mm


def test_draw_phases_marks_what_does_not_fit():
    fig, ax = new_figure()
    out = mm.draw_phases(ax, "llama-3-8b", "l4", 2048)
    assert out["prefill"].bound == "compute"
    assert out["decode"].fits.tolist() == [b <= 29 for b in mm.DECODE_BATCHES]
    with pytest.raises(ValueError, match="devices=\\[\\] must name at least one device"):
        mm.phases_figure("llama-3-8b", [])


def test_explorer_text_follows_the_controls():
    e = widgets.get("mental_model")
    e.set(device="h100-sxm", model="llama-3-8b", batch=1, prompt_len=2048)
    text = e.info.get_text()
    assert text.startswith("prefill: ") and "compute-bound, TTFT" in text
    assert "decode: 1.05 FLOP/B, memory-bound, TPOT" in text
    e.set(device="l4", batch=64)
    assert "won't fit" in e.info.get_text()
    assert e.decode_point.get_markerfacecolor() == "white"


def test_explorer_static_frames_and_speed():
    e = widgets.get("mental_model")
    static = [c for c in e.controls if c.static]
    assert math.prod(len(c.options) for c in static) <= 60
    e.render_png()
    start = time.perf_counter()
    for device in ("l4", "mi300x", "h100-sxm"):
        e.set(device=device, batch=256)
        e.render_png()
    assert (time.perf_counter() - start) / 3 < 0.5  # generous: CI machines are shared


def test_summary_figure_labels_use_the_books_notation():
    # pages/notation.md: peak pi, bandwidth beta, bytes Q, FLOPs F, ridge I* = pi / beta
    texts = " ".join(t.get_text() for t in mm.summary_figure().axes[0].texts)
    assert "TTFT ≈ $F/\\pi$" in texts and "TPOT ≈ $Q/\\beta$" in texts
    assert "ridge $I^* = \\pi/\\beta$" in texts
