"""Chapter 13's explorer and figures (lib.widgets.prefill_kernels)."""

from __future__ import annotations

import math

import pytest

from lib import prefill, widgets
from lib.widgets import prefill_kernels as pk


def test_static_options_stay_few():
    e = widgets.get("prefill_kernels")
    offered = {c.name: [c.labels[i] for i in c.static_indices] for c in e.controls}
    assert set(offered["device"]) == {"h100-sxm", "a100-sxm-80gb"}
    assert offered["level"] == [] and offered["chunk"] == [] and offered["batch"] == ["1"]
    assert math.prod(len(v) for v in offered.values() if v) == 36


def test_explorer_draws_what_lib_computes():
    e = widgets.get("prefill_kernels")
    e.set(model="llama-3-8b", device="h100-sxm", prompt=2048, batch=1, cuda_graphs=True,
          mask="dense causal", chunk=0)
    s = prefill.step("llama-3-8b", "h100-sxm", 1, 2048, "merged GEMMs")
    widths = [b.get_width() for b in e.levels.bars["merged GEMMs"]]
    assert sum(widths) == pytest.approx(s.time_s * 1e3)
    assert "M = B*P = 2,048 rows: compute-bound (compute-bound from P = 406" in \
        e.info.get_text()
    assert "never launch-bound" in e.info.get_text()
    e.set(model="gpt2", prompt=128, cuda_graphs=False)
    assert e.levels.bars["unfused"][-1].get_width() > 0                 # the host wait, eagerly
    edge = prefill.launch_bound_below("gpt2", "h100-sxm", cuda_graphs=False)
    assert f"up to P = {edge:,.0f}" in e.info.get_text()
    e.set(model="llama-3-8b", prompt=32768, mask="window 4,096", chunk=2048)
    c = prefill.chunked("llama-3-8b", "h100-sxm", 32768, 2048, cuda_graphs=False,
                        mask="sliding window", window=4096)
    assert e.chunk_pt.get_ydata()[0] == pytest.approx(c.time_s * 1e3)
    assert "beyond its 8,192-token context" in e.info.get_text()
    assert "16 forwards" in e.info.get_text()
    e.set(prompt=128, chunk=512)
    assert "one forward" in e.info.get_text() and len(e.chunk_pt.get_xdata()) == 0
    assert e.render_png().startswith(b"\x89PNG")


def test_mask_options_are_lib_masks():
    for kw in pk.MASK_OPTIONS.values():
        assert kw["mask"] in prefill.MASKS


def test_figures_draw():
    fig = pk.attention_intensity_figure("llama-3-8b", "h100-sxm", prompts=(128, 1024))
    assert len(fig.axes[0].lines) == 4
    fig = pk.chunk_figure([("llama-3-8b", "h100-sxm"), ("gpt2", "a100-sxm-80gb")], 2048,
                          chunks=(256, 512, 2048))
    # each case: every chunk computing logits (solid), logits only at the end (dashed, lower)
    lines = fig.axes[0].lines
    assert [len(line.get_xdata()) for line in lines] == [2, 2, 2, 2]
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]
    for solid, dashed in (lines[:2], lines[2:]):
        assert all(d < s for s, d in zip(solid.get_ydata(), dashed.get_ydata()))


def test_fixed_share_figure_draws_eager_and_graph():
    fig = pk.fixed_share_figure([("gpt2", "h100-sxm"), ("llama-3-8b", "a100-sxm-80gb")],
                                prompts=(1, 16, 256))
    assert len(fig.axes[0].lines) == 2 * 2 + 1
