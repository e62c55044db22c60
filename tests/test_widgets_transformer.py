"""Chapter 4's explorer (lib.widgets.transformer): it builds, follows its controls, stays small."""

from __future__ import annotations

import math

import pytest

from lib import inference, widgets
from lib.widgets import transformer as tw

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def explorer():
    return widgets.get("transformer")


def test_builds_at_its_defaults_and_renders(explorer):
    assert explorer.values == {"model": "llama-3-8b", "context": 4096, "kv_dtype": "bf16"}
    assert explorer.render_png().startswith(PNG_MAGIC)
    assert "Llama 3 8B: 4,096-token context\nKV cache in bf16: 128 KiB" in explorer.info.get_text()


def test_static_frames_at_most_60(explorer):
    static = [c for c in explorer.controls if c.static]
    assert math.prod(len(c.options) for c in static) <= 60
    assert not [c for c in explorer.controls if c.name == "kv_dtype"][0].static


def test_update_moves_the_bars_and_texts(explorer):
    explorer.set(model="llama-2-7b", context=32768, kv_dtype="bf16")
    kv_share = explorer.segments["memory"]["context"].get_width()
    assert kv_share > 50                                   # MHA: 16 GiB of cache vs 13.5 GB
    explorer.set(kv_dtype="fp8")
    assert explorer.segments["memory"]["context"].get_width() < kv_share
    assert "KV cache in fp8" in explorer.info.get_text()
    explorer.set(model="mistral-7b", context=131072)
    assert "sliding window keeps 4,096" in explorer.info.get_text()
    for bar in explorer.segments.values():                 # each bar fills 100 %
        assert sum(r.get_width() for r in bar.values()) == pytest.approx(100)
    assert explorer.render_png().startswith(PNG_MAGIC)


def test_figures_build():
    assert tw.params_figure(["gpt2", "mixtral-8x7b"]).axes
    assert tw.flops_context_figure("llama-3-8b", [128, 4096, 65536]).axes
    assert tw.kv_ratio_figure(["mistral-7b"]).axes
    est = inference.prefill("gpt2", "h100-sxm", 1, 256)
    assert len(tw.op_bytes_figure([est]).axes[0].get_yticks()) == len(est.ops)
