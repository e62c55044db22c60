"""Chapter 6's explorer and figures (lib.widgets.decode)."""

from __future__ import annotations

import math

import pytest

from lib import widgets
from lib.widgets import decode as dw


def test_explorer_static_frames_and_info():
    e = widgets.get("decode")
    static = [c for c in e.controls if c.static]
    assert math.prod(len(c.options) for c in static) <= 60
    assert any(not c.static for c in e.controls)
    e.set(batch=1, context=256, kv_dtype="bf16")
    assert "memory-bound" in e.info.get_text() and "does NOT fit" not in e.info.get_text()
    assert not e.mem_text.get_visible()
    e.set(batch=1024, context=32768)
    assert "does NOT fit" in e.info.get_text() and e.mem_text.get_visible()
    assert "never" in e.info.get_text()
    e.set(device="b200", model="llama-2-7b", batch=1024, context=256)
    assert "compute-bound" in e.info.get_text()


def test_explorer_split_bars_fill_the_axis():
    e = widgets.get("decode")
    for b in (1, 64, 1024):
        e.set(batch=b)
        total = sum(bar.get_width() for bar in e.split_bars)
        assert total == pytest.approx(100.0)
    assert e.render_png().startswith(b"\x89PNG")


def test_figures_draw():
    for fig in (dw.roofline_figure("llama-3-8b", "h100-sxm", batches=(1, 64)),
                dw.context_figure("h100-sxm", contexts=[0, 4096]),
                dw.critical_batch_figure("h100-sxm", contexts=(16, 4096)),
                dw.throughput_latency_figure("llama-3-8b", "h100-sxm", contexts=(128,)),
                dw.capacity_figure("llama-3-8b", "h100-sxm", kv_dtypes=("bf16", "fp8"))):
        assert fig.axes
