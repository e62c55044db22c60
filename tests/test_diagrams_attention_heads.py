"""lib.diagrams.attention_heads: GQA and one decoder layer, drawn from lib's numbers."""

from __future__ import annotations

import pytest

from lib import models, transformer
from lib.diagrams import overlapping_texts, texts
from lib.diagrams import attention_heads as ah



@pytest.mark.parametrize("name", ["llama-3-8b", "llama-2-7b", "qwen2-7b", "llama-2-70b"])
def test_gqa_kappa_is_the_config_s(name):
    m = models.get(name)
    fig = ah.gqa_figure(name)
    kappas = [t.get_text() for t in texts(fig) if t.get_text().startswith("κ = ")]
    # MHA, the model's own (when it is neither) and MQA, largest first
    counts = sorted({m.n_heads, m.n_kv_heads, 1}, reverse=True)
    assert len(kappas) == len(counts)
    per_head = 2 * m.n_layers * m.head_dim * 2                 # bf16: 2 bytes
    for text, h_kv in zip(kappas, counts):
        value, unit = text.removeprefix("κ = ").split()
        scale = {"KiB": 2**10, "MiB": 2**20}[unit]
        assert float(value) * scale == pytest.approx(per_head * h_kv, rel=5e-3)
    # one query head box per query head in each row, one KV head box per KV head
    ax = fig.axes[0]
    assert len(ax.patches) == sum(m.n_heads + h for h in counts)


def test_gqa_rejects_a_kv_count_that_does_not_divide():
    with pytest.raises(ValueError, match="kv_heads=5 must divide the 32 query heads"):
        ah.gqa_figure("llama-3-8b", kv_heads=[5])


def test_layer_sequence_covers_the_ops_of_a_layer():
    for name in ("llama-3-8b", "gpt2", "mixtral-8x7b"):
        seq = ah.layer_sequence(name)
        ops = [op.name for op in transformer.ops(transformer.forward_pass(name, 1, 1, 1))]
        assert set(seq) == set(ops) - {"embedding", "final norm", "LM head"}
        assert seq.count("norms") == 2 and seq.count("residual adds") == 2
        assert all(n in transformer.OP_NAMES for n in seq)


def test_layer_marks_what_each_op_reads():
    kinds = ah._kinds("llama-3-8b", 4096)
    assert kinds["QKV projection"] == kinds["MLP down"] == "weights"
    assert kinds["attention scores QK^T"] == kinds["attention x V"] == "kv"
    assert kinds["softmax"] == "on chip"                      # inside the fused kernel
    assert kinds["residual adds"] == "activations"


def test_layer_weight_shapes_come_from_the_config():
    m = models.get("qwen2-7b")
    labels = [t.get_text() for t in texts(ah.decoder_layer_figure(m))]
    assert f"$W_{{qkv}}$\n{m.d_model}×{m.q_dim + 2 * m.kv_dim}" in labels
    assert f"$W_{{down}}$\n{m.d_ff}×{m.d_model}" in labels
    assert f"× {m.n_layers} layers" in labels


@pytest.mark.parametrize("draw", [lambda: ah.gqa_figure("llama-3-8b"),
                                  lambda: ah.gqa_figure("llama-2-70b"),
                                  lambda: ah.decoder_layer_figure("llama-3-8b"),
                                  lambda: ah.decoder_layer_figure("mixtral-8x7b")])
def test_fits_the_page_and_no_text_overlaps(draw):
    fig = draw()
    width, height = fig.get_size_inches()
    assert width <= 7.5 and height <= 6
    assert not overlapping_texts(fig)
