"""The chapter 5 explorer (lib.widgets.prefill) and the chapter 5 exercise checks."""

from __future__ import annotations

import math

import pytest

from lib import widgets
from lib.widgets.prefill import BOUND_COLORS, SHOWN_OPS


@pytest.fixture(scope="module")
def explorer():
    return widgets.get("prefill")


def test_static_frames_and_live_only_controls(explorer):
    offered = {c.name: [c.labels[i] for i in c.static_indices] for c in explorer.controls}
    assert {name for name, labels in offered.items() if not labels} == {"model", "fused"}
    assert set(offered["device"]) == {"h100-sxm", "a100-sxm-80gb"} and offered["batch"] == ["1", "8"]
    assert math.prod(len(v) for v in offered.values() if v) <= 80  # frame bytes: test_widgets


def test_bars_are_shares_of_the_per_op_time(explorer):
    explorer.set(prompt_len=1024, batch=1, weight_dtype="bf16", model="llama-3-8b",
                 device="h100-sxm", fused=True)
    widths = [explorer.bars[n].get_width() for n in SHOWN_OPS]
    assert sum(widths) == pytest.approx(1.0)
    assert max(widths) == explorer.bars["MLP up"].get_width()
    assert "compute-bound" in explorer.bar_title.get_text()


def test_readout_gives_the_floor(explorer):
    explorer.set(prompt_len=1024, batch=1, weight_dtype="bf16", model="llama-3-8b",
                 device="h100-sxm", fused=True)
    floor_line = [ln for ln in explorer.info.get_text().splitlines() if ln.startswith("floor")]
    assert len(floor_line) == 1 and "fastest possible" in floor_line[0]


def test_few_tokens_on_a_small_model_are_memory_bound(explorer):
    explorer.set(prompt_len=16, batch=1, model="gpt2", fused=True)
    assert "memory-bound" in explorer.bar_title.get_text()
    assert explorer.bars["MLP up"].get_facecolor()[:3] == pytest.approx(
        tuple(int(BOUND_COLORS["memory"][i:i + 2], 16) / 255 for i in (1, 3, 5)))


def test_unfused_long_prompt_turns_memory_bound(explorer):
    explorer.set(prompt_len=8192, batch=1, model="llama-3-8b", fused=False)
    assert "memory-bound" in explorer.bar_title.get_text()
    explorer.set(fused=True)
    assert "compute-bound" in explorer.bar_title.get_text()
    assert explorer.chip_text.get_text() == "on chip"   # fused softmax moves no HBM bytes


def test_memory_that_does_not_fit_is_flagged(explorer):
    explorer.set(prompt_len=8192, batch=64, model="llama-3-8b", device="h100-sxm")
    assert "does NOT fit" in explorer.info.get_text()
    explorer.set(batch=1)
    assert "does NOT fit" not in explorer.info.get_text()


def test_chapter_5_answers_that_follow_from_others():
    from lib import exercises
    from lib.exercises import ch05

    # attention's share grows when only the weight GEMMs speed up
    assert exercises.answer("ch05.attn-share-fp8-8192") > ch05.attention_time_share_pct("bf16")
    # unfused attention is left of the H100's ridge, fused far right of it
    assert exercises.answer("ch05.attn-ai-unfused") < 295 < exercises.answer("ch05.attn-ai-fused")
    # the tiled intensity levels off just below the tile's rows
    assert 0.9 * ch05.TILE_ROWS < exercises.answer("ch05.tiled-ai-256") < ch05.TILE_ROWS
    # "QK^T is large": attention is about 1% of the FLOPs, the MLP GEMM alone right of the ridge
    assert exercises.answer("ch05.attn-flop-share-512") < 2
    assert exercises.answer("ch05.mlp-up-ai-512") > 295
