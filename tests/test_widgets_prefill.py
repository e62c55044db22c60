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
    static = [c for c in explorer.controls if c.static]
    assert math.prod(len(c.options) for c in static) <= 60
    assert {c.name for c in explorer.controls if not c.static} == {"model", "device", "fused"}


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
