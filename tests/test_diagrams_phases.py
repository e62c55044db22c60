"""lib.diagrams.phases: prefill and decode data flow, sized from the model's config."""

from __future__ import annotations

import pytest

from lib import models
from lib.diagrams import overlapping_texts, texts
from lib.diagrams.phases import prefill_decode_figure
from lib.units import fmt_bytes



@pytest.mark.parametrize("model,prompt,batch", [("llama-3-8b", 2048, 1), ("llama-3-8b", 2048, 8),
                                                ("gpt2", 1024, 1), ("llama-3-70b", 8192, 4)])
def test_sizes_come_from_the_config_and_nothing_overlaps(model, prompt, batch):
    fig = prefill_decode_figure(model, prompt, batch)
    text = " ".join(t.get_text() for t in texts(fig))
    m = models.get(model)
    kappa = 2 * m.n_layers * m.n_kv_heads * m.head_dim * 2      # K and V, every layer, bf16
    assert f"KV cache: {fmt_bytes(batch * prompt * kappa)} written" in text
    assert f"whole cache read:\n{fmt_bytes(batch * prompt * kappa)}" in text
    assert f"appended: {fmt_bytes(batch * kappa)}" in text
    assert f"M = B·P = {batch * prompt:,} rows" in text and f"M = B = {batch:,} row" in text
    assert f"{m.n_layers} layers" in text
    assert overlapping_texts(fig) == []


def test_fp8_cache_halves_the_bytes():
    text = " ".join(t.get_text() for t in texts(prefill_decode_figure(kv_dtype="fp8")))
    assert f"{fmt_bytes(2048 * 131072 / 2)} written" in text
