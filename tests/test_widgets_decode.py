"""Chapter 6's explorer and figures (lib.widgets.decode)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from lib import widgets
from lib.widgets import decode as dw


def test_explorer_static_frames_and_info():
    e = widgets.get("decode")
    offered = {c.name: [c.labels[i] for i in c.static_indices] for c in e.controls}
    assert set(offered["device"]) == {"h100-sxm", "a100-sxm-80gb"} and offered["model"] == []
    assert math.prod(len(v) for v in offered.values() if v) <= 100  # frame bytes: test_widgets
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
                dw.capacity_figure("llama-3-8b", "h100-sxm", kv_dtypes=("bf16", "fp8")),
                dw.moe_figure("mixtral-8x7b", "llama-2-13b", "h200", batches=(1, 64))):
        assert fig.axes


def test_moe_figure_draws_what_lib_computes():
    from lib import inference, models, regimes

    mix = models.get("mixtral-8x7b")
    twin = dataclasses.replace(mix, name="twin", n_experts=1, top_k=1, d_ff=2 * mix.d_ff)
    batches = (1, 2, 16, 1024)
    fig = dw.moe_figure(mix, twin, "h200", batches=batches)
    left, right = fig.axes
    moe_line, twin_line = left.lines[:2]
    assert moe_line.get_ydata() * 1e9 == pytest.approx(
        inference.decode(mix, "h200", list(batches), 0).bytes_weights)
    assert twin_line.get_ydata()[0] == pytest.approx(moe_line.get_ydata()[0], rel=1e-3)
    assert moe_line.get_ydata()[-1] == pytest.approx(mix.weight_bytes() / 1e9, rel=0.01)
    # the experts touched, written beside the mixture's points
    assert [t.get_text() for t in left.texts[:3]] == ["2.0", "3.5", "7.9"]
    crits = sorted(round(float(line.get_xdata()[0])) for line in right.lines
                   if line.get_linestyle() == ":")
    assert crits == sorted(int(regimes.critical_batch(m, "h200", 0)) for m in (mix, twin))
