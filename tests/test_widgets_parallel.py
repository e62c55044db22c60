"""Chapter 14's explorer and figure (lib.widgets.parallel)."""

from __future__ import annotations

import math

import pytest

from lib import parallel, widgets
from lib.widgets import parallel as pw


def test_explorer_static_frames_are_few():
    e = widgets.get("parallel")
    offered = {c.name: [c.labels[i] for i in c.static_indices] for c in e.controls}
    assert math.prod(len(v) for v in offered.values() if v) <= 64
    assert len(offered["device"]) == 2 and len(offered["tp"]) == 4


def test_bars_draw_what_lib_computes():
    e = widgets.get("parallel")
    e.set(model="llama-3-70b", device="h100-sxm", phase="decode", tp=4, pp=2,
          micro_batches=4, batch=32)
    runs = [parallel.pipeline("llama-3-70b", "h100-sxm", 32, 1, pw.CONTEXT, tp=p, pp=2,
                              micro_batches=4) for p in pw.TPS]
    worst = max(float(r.time_s) for r in runs)
    for i, r in enumerate(runs):
        heights = [bars[i].get_height() for bars in e.bars]
        assert sum(heights) == pytest.approx(100 * float(r.time_s) / worst)
        assert heights[2] == pytest.approx(100 * float(r.bubble_s) / worst)
    assert e.outline.get_height() == pytest.approx(100 * float(runs[2].time_s) / worst)
    assert "tp 4 × pp 2" in e.info.get_text()


def test_memory_shows_what_does_not_fit():
    e = widgets.get("parallel")
    e.set(model="llama-3-70b", device="l40s", tp=1, pp=1, micro_batches=1, batch=4)
    assert "does NOT fit" in e.info.get_text()
    e.set(tp=8)
    assert "does NOT fit" not in e.info.get_text()
    assert e.render_png().startswith(b"\x89PNG")


def test_scaling_figure_draws():
    fig = pw.scaling_figure("llama-3-8b", [("NVLink", {"device": "h100-sxm"}),
                                           ("PCIe", {"device": "h100-sxm",
                                                     "link_bandwidth": 32e9})], tps=(1, 2, 4))
    assert len(fig.axes) == 4
