"""lib.diagrams.timeline: a decode step's kernels in time, eager and as a CUDA graph."""

from __future__ import annotations

import numpy as np
import pytest

from lib import inference
from lib.diagrams import timeline


@pytest.mark.parametrize("model,kwargs", [
    ("llama-2-7b", {}), ("gpt2", {}), ("mixtral-8x7b", {}), ("qwen2-7b", {}),
    ("llama-3-8b", {"fused_attention": False}),
])
def test_kernels_are_the_launches_and_add_up_to_the_per_op_time(model, kwargs):
    est = inference.decode(model, "h100-sxm", batch=4, context=512, **kwargs)
    ks = timeline.step_kernels(est)
    assert len(ks) == inference.launch_floor(est, 1.0)
    assert sum(k.time_s for k in ks) == pytest.approx(est.compute_time_s, rel=1e-12)
    assert {k.roof for k in ks} <= set(timeline.ROOF_COLORS)


def test_one_layer_in_the_order_a_block_runs():
    # the block of lib.transformer's docstring: norm, QKV, RoPE, attention, O, add, norm, MLP, add
    ks = timeline.step_kernels(inference.decode("llama-3-8b", "h100-sxm", 1, 1024))
    assert [k.label for k in ks[:12]] == ["emb", "norm", "QKV", "RoPE", "attn", "O", "add",
                                          "norm", "up", "act", "down", "add"]
    assert [k.label for k in ks[-2:]] == ["norm", "head"]
    unfused = timeline.step_kernels(
        inference.decode("llama-3-8b", "h100-sxm", 1, 1024, fused_attention=False))
    assert [k.label for k in unfused[4:7]] == ["attn", "soft", "AV"]
    moe = timeline.step_kernels(inference.decode("mixtral-8x7b", "h200", 1, 0))
    assert [k.label for k in moe[6:14]] == ["add", "norm", "route", "up", "act", "down", "comb",
                                            "add"]


def test_a_fused_attention_is_one_kernel_with_all_its_time():
    est = inference.decode("llama-2-7b", "h100-sxm", 1, 1024)
    attn = [k for k in timeline.step_kernels(est) if k.label == "attn"]
    assert len(attn) == 32
    whole = sum(float(est.op(n).time_s) for n in ("attention scores QK^T", "softmax",
                                                  "attention x V"))
    assert attn[0].time_s * 32 == pytest.approx(whole)


def test_schedule_by_hand():
    # launches of 5 us; kernels of 1, 8 and 1 us: the third waits for the second, not the host
    ready, start = timeline.schedule([1e-6, 8e-6, 1e-6], 5e-6)
    assert ready * 1e6 == pytest.approx([5, 10, 15])
    assert start * 1e6 == pytest.approx([5, 10, 18])
    _, g = timeline.schedule([1e-6, 8e-6, 1e-6], 5e-6, graph=True)
    assert g * 1e6 == pytest.approx([5, 6, 14])


@pytest.mark.parametrize("lat", [0.0, 1e-6, 5e-6, 20e-6])
def test_schedule_properties(lat):
    d = np.random.default_rng(0).uniform(0, 10e-6, 50)
    ready, start = timeline.schedule(d, lat)
    assert np.all(start >= ready - 1e-18)                       # never before its launch
    assert np.all(start[1:] >= start[:-1] + d[:-1] - 1e-18)      # one kernel at a time
    _, g = timeline.schedule(d, lat, graph=True)
    assert g[-1] + d[-1] <= start[-1] + d[-1] + 1e-18           # a graph is never slower
    assert g[-1] + d[-1] == pytest.approx(lat + d.sum())         # back to back
    # the eager step ends no earlier than its launch floor and its per-op time
    assert start[-1] + d[-1] >= max(len(d) * lat, d.sum()) - 1e-15


def test_launch_bound_step_idles_and_a_long_one_does_not():
    def idle(model):
        ks = timeline.step_kernels(inference.decode(model, "h100-sxm", 1, 1024))
        d = np.array([k.time_s for k in ks])
        _, start = timeline.schedule(d, 5e-6)
        return 1 - d.sum() / (start[-1] + d[-1])
    assert idle("gpt2") > 0.8          # kernels of about a microsecond, launches of five
    assert idle("llama-2-7b") < 0.01   # the host runs ahead of 10-50 us matrix products


def test_diagram_draws_and_states_its_numbers():
    fig = timeline.decode_timeline("gpt2", "h100-sxm", layers=2)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("host, eager") and "5 µs" in t for t in texts)
    assert any("idle 91%" in t for t in texts)
    assert any("done at 15 µs instead of 115 µs" in t for t in texts)
    assert [t for t in texts if t.startswith("layer ")] == ["layer 1", "layer 2"]
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "GPU idle" in labels and len(labels) == 4


def test_bad_inputs():
    with pytest.raises(ValueError, match="layers=13 must be at most the model's 12 layers"):
        timeline.decode_timeline("gpt2", "h100-sxm", layers=13)
    with pytest.raises(ValueError, match="one step on one device"):
        timeline.step_kernels(inference.decode("gpt2", "h100-sxm", [1, 2], 16))
    with pytest.raises(ValueError, match="launch_latency_s"):
        timeline.schedule([1e-6], -1.0)
