"""lib.diagrams.attention_blocks: FlashAttention's tiles, sized from lib."""

from __future__ import annotations

import pytest

from lib import hardware, models
from lib.diagrams import overlapping_texts, texts
from lib.diagrams.attention_blocks import DRAWN_TILES, flash_attention_figure
from lib.units import fmt_bytes



@pytest.mark.parametrize("model,device,prompt,tile", [("llama-3-8b", "h100-sxm", 2048, 128),
                                                      ("gpt2", "a100-sxm-80gb", 1024, 64),
                                                      ("llama-3-70b", "h100-sxm", 8192, 128)])
def test_sizes_come_from_lib_and_nothing_overlaps(model, device, prompt, tile):
    fig = flash_attention_figure(model, device, prompt, tile, tile)
    text = " ".join(t.get_text() for t in texts(fig))
    m, dev = models.get(model), hardware.get(device)
    tiles = -(-prompt // tile)
    assert f"{tiles} × {tiles} blocks per head ({DRAWN_TILES} × {DRAWN_TILES} drawn)" in text
    assert f"{tile} × {m.head_dim}" in text                      # the tiles on chip
    # the unfused score matrix of one layer: P x P scores per query head, 2 bytes each
    assert fmt_bytes(prompt * prompt * m.n_heads * 2) in text
    sram = next(lv for lv in dev.levels if "shared" in lv.name.lower()).capacity
    assert fmt_bytes(sram / dev.sm_count, binary=True) in text
    assert overlapping_texts(fig) == []


def test_causal_mask_skips_the_blocks_above_the_diagonal():
    fig = flash_attention_figure()
    cells = [p for p in fig.axes[0].patches if type(p).__name__ == "Rectangle"
             and p.get_linestyle() == "--" and p.get_fill()]
    assert len(cells) == DRAWN_TILES * (DRAWN_TILES + 1) // 2


def test_uneven_tiles_are_named():
    text = " ".join(t.get_text() for t in texts(flash_attention_figure(tile_q=64,
                                                                          tile_k=128)))
    assert "t$_q$ = 64, t$_k$ = 128" in text and "32 × 16 blocks" in text
