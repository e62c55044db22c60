"""Chapter 9's explorer and figure (lib.widgets.quantisation)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib import quantisation, widgets
from lib.widgets import quantisation as qw


def test_explorer_offers_few_static_frames_over_two_models():
    e = widgets.get("quantisation")
    offered = {c.name: [c.labels[i] for i in c.static_indices] for c in e.controls}
    assert offered["model"] == ["llama-2-7b", "llama-3-8b"] and offered["device"] == []
    assert math.prod(len(v) for v in offered.values() if v) <= 100   # frame bytes: test_widgets
    # one multi-head and one grouped-query model, two devices live
    assert {"llama-2-7b", "llama-3-8b"} <= set(qw.MODELS) and len(qw.DEVICES) == 2


def test_baseline_bar_fills_the_axis_and_the_quantised_one_shrinks():
    e = widgets.get("quantisation")
    e.set(weight_dtype="bf16", kv_dtype="int4_g32", batch=64, context=8192, model="llama-2-7b")
    base, quant = ([bar.get_width() for bar in row] for row in e.bars)
    assert sum(base) == pytest.approx(100.0)
    c = quantisation.compare("llama-2-7b", "h100-sxm", 64, 8192, kv_dtype="int4_g32")
    # the bars are the calibrated estimate, the same time the text's speed-up compares
    assert c.time == "estimate_s"
    assert sum(quant) == pytest.approx(100 * c.quantised.estimate_s / c.base.estimate_s)
    assert sum(base) / sum(quant) == pytest.approx(float(c.speedup))
    assert quant[0] == pytest.approx(base[0])          # the weights' part does not change
    assert quant[3] == pytest.approx(base[3])          # nor the fixed per-kernel costs
    assert f"{float(c.speedup):.2f}×" in e.info.get_text()
    assert "calibrated estimate" in e.tx.get_title()
    assert all(t.get_text() for t in e.time_labels)


def test_memory_labels_say_what_does_not_fit():
    e = widgets.get("quantisation")
    e.set(weight_dtype="bf16", kv_dtype="fp8", batch=64, context=32768, model="llama-3-8b")
    assert all("does not fit" in t.get_text() for t in e.mem_labels)
    e.set(batch=1, context=1024)
    assert all(t.get_text() == "" for t in e.mem_labels)
    e.set(weight_dtype="int4", kv_dtype="bf16")
    assert "weights int4" in e.info.get_text() and e.render_png().startswith(b"\x89PNG")


def test_speedup_figure_draws_what_lib_computes():
    fig = qw.speedup_figure("llama-3-8b", "h100-sxm", batches=(1, 64), contexts=(1024, 8192),
                            formats=[("FP8 cache", "bf16", "fp8")])
    (ax,) = fig.axes
    lines = [ln for ln in ax.lines if ln.get_label().startswith("batch")]
    got = np.array([ln.get_ydata() for ln in lines])
    want = quantisation.compare("llama-3-8b", "h100-sxm", np.array([[1], [64]]),
                                np.array([1024, 8192]), kv_dtype="fp8").speedup
    np.testing.assert_allclose(got, want)
    # the hollow markers (steps that do not fit) are explained in the figure's legend
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "fits in memory" in labels and "does not fit (hypothetical)" in labels
