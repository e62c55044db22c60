"""Chapter 11's explorer and figures (lib.widgets.decode_kernels)."""

from __future__ import annotations

import math

import pytest

from lib import fusion, occupancy, widgets
from lib.widgets import decode_kernels as dk


def test_static_options_stay_few():
    e = widgets.get("decode_kernels")
    offered = {c.name: [c.labels[i] for i in c.static_indices] for c in e.controls}
    assert set(offered["device"]) == {"h100-sxm", "a100-sxm-80gb"}
    assert offered["splits"] == ["auto"] and offered["level"] == []
    assert math.prod(len(v) for v in offered.values() if v) == 48


def test_devices_offered_publish_their_sms():
    assert "b200" not in dk.DEVICES and "h100-sxm" in dk.DEVICES


def test_explorer_draws_what_lib_computes():
    e = widgets.get("decode_kernels")
    e.set(model="llama-3-8b", device="h100-sxm", batch=1, context=8192, splits="auto",
          cuda_graphs=True)
    best = occupancy.best_splits("llama-3-8b", "h100-sxm", 1, 8192)
    assert e.time_pt.get_xdata()[0] == best
    assert "8 blocks, 6% of the SMs" in e.info.get_text()
    assert f"{best} splits (auto: the fastest)" in e.info.get_text()
    step = fusion.step("llama-3-8b", "h100-sxm", 1, 8192, "merged GEMMs")
    widths = [b.get_width() for b in e.levels.bars["merged GEMMs"]]
    assert sum(widths) == pytest.approx(step.time_s * 1e6)
    assert e.levels.bars["merged GEMMs"][-1].get_width() == 0          # no host wait with a graph
    e.set(cuda_graphs=False, model="gpt2", context=1024, splits=4)
    assert e.levels.bars["unfused"][-1].get_width() > 0
    assert "4 splits:" in e.info.get_text()
    e.set(context=8192)
    assert "beyond its 1,024-token context" in e.info.get_text()
    assert e.render_png().startswith(b"\x89PNG")


def test_figures_draw():
    assert len(dk.occupancy_figure("llama-3-8b", "h100-sxm", contexts=(1024,)).axes) == 2
    fig = dk.fusion_figure([("gpt2", 1, 1024), ("llama-3-8b", 1, 1024)], "h100-sxm")
    assert len(fig.axes[0].patches) == 2 * 3 * 2 * 4


def test_time_axis_follows_the_data():
    # a long cache at a large batch takes about a second: the axis must still show it
    e = widgets.get("decode_kernels")
    e.set(model="llama-2-13b", device="a100-sxm-80gb", batch=64, context=32768, splits=1)
    lo, hi = e.tx.get_ylim()
    times = e.time_line.get_ydata()
    assert lo <= min(times) and max(times) <= hi
    red = e.red_line.get_ydata()
    assert math.isnan(red[0]) and min(red[1:]) >= lo          # no reduction unsplit
    assert dk._us(0) == "0" and dk._us(1500) == "1.5 ms"
