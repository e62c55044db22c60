"""Chapter 7's figures and explorer (lib.widgets.mental_model) and its exercises."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from lib import exercises, inference, widgets
from lib.plotting import new_figure
from lib.widgets import mental_model as mm


def test_ceiling_is_where_the_decode_trail_stalls():
    # The step's intensity rises with the batch towards the ceiling and never passes it.
    ceiling = mm.decode_ceiling("llama-3-8b", "h100-sxm", 2048)
    ai = inference.decode("llama-3-8b", "h100-sxm", [1, 64, 4096, 2**18], 2048).arithmetic_intensity
    assert np.all(np.diff(ai) > 0) and np.all(ai < ceiling)
    assert ai[-1] == pytest.approx(ceiling, rel=0.01)


def test_ceiling_below_ridge_means_no_critical_batch():
    # far from the ridge, the ceiling and critical_batch's search agree
    for context in (0, 128, 2048):
        ceiling = mm.decode_ceiling("llama-3-8b", "h100-sxm", context)
        crit = inference.critical_batch("llama-3-8b", "h100-sxm", context)
        assert math.isinf(crit) == (ceiling < 295.3)


def test_ceiling_falls_with_context_and_kv_precision():
    c = mm.decode_ceiling("llama-3-8b", "h100-sxm", [512, 2048, 8192])
    assert c.shape == (3,) and np.all(np.diff(c) < 0)
    fp8 = mm.decode_ceiling("llama-3-8b", "h100-sxm", 2048, kv_dtype="fp8")
    assert fp8 == pytest.approx(2 * c[1], rel=0.1)


def test_roofline_point_is_on_the_memory_roof_for_decode():
    est = inference.decode("llama-3-8b", "h100-sxm", [1, 16], 2048)
    x, y = mm.roofline_point(est)
    np.testing.assert_allclose(y, x * est.memory_bandwidth, rtol=1e-3)


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
    assert "prefill: 813 FLOP/B, compute-bound, TTFT 32.1 ms" in text
    assert "decode: 1.05 FLOP/B, memory-bound, TPOT 4.56 ms" in text
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


@pytest.mark.parametrize("id,expected", [
    ("ch07.first-compute-bound-prompt", 404), ("ch07.e2e-chat-s", 1.170),
    ("ch07.tpot-fp8-kv-ms", 9.832), ("ch07.l4-max-batch", 29), ("ch07.sla-batch-h100", 211),
])
def test_chapter7_known_answers(id, expected):
    assert exercises.answer(id) == pytest.approx(expected, rel=2e-3)
