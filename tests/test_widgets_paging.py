"""Chapter 10's explorer and figures (lib.widgets.paging)."""

from __future__ import annotations

import math

import pytest

from lib import paging, widgets
from lib.widgets import paging as pw


def test_explorer_frames_and_bars():
    e = widgets.get("paging")
    offered = {c.name: [c.labels[i] for i in c.static_indices] for c in e.controls}
    assert math.prod(len(v) for v in offered.values() if v) <= 100   # bytes: test_widgets
    for s in pw.BLOCK_SIZES:
        e.set(block_size=s)
        for i in range(len(paging.POLICIES)):
            total = sum(e.bars[part][i].get_width() for part in paging.PARTS)
            assert total == pytest.approx(100.0)
    assert e.render_png().startswith(b"\x89PNG")


def test_explorer_draws_what_lib_computes():
    e = widgets.get("paging")
    e.set(workload="Alpaca", max_len=8192, block_size=16, view="lifetime")
    w = pw._workload("Alpaca", 8192)
    fits = paging.concurrent(paging.usage("paged", w, 16), pw._budget())
    i = paging.POLICIES.index("paged")
    assert e.batch_text[i].get_text() == f"{fits:,.0f}"
    i_max = paging.POLICIES.index("max")
    assert e.batch_text[i_max].get_text() == "52"      # 426,784 slots / 8,192
    # with a single-token block, paged allocation has no slack
    e.set(block_size=1)
    assert e.bars["internal"][i].get_width() == pytest.approx(0.0)


def test_figures_draw():
    w = paging.requests([10, 20], [30, 40], max_len=128)
    ref = {"max": {"tokens": 20.4, "future": 13.3, "unused": 57.3}}
    for fig in (pw.breakdown_figure({"toy": w}, reference=ref),
                pw.block_size_figure({"toy": w}, 10_000, block_sizes=(1, 16)),
                pw.sharing_figure(prefix_lens=(0, 64), fan_outs=(2, 4))):
        assert fig.axes
