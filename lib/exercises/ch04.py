"""Exercises of chapters/04_transformer_arithmetic.ipynb: each answer is computed by lib."""

from __future__ import annotations

from lib import models, transformer
from lib.exercises import register


def _kv_outweighs_weights(name: str) -> float:
    """Context (tokens) at which one sequence's bf16 KV cache equals the bf16 weights."""
    m = models.get(name)
    return m.weight_bytes("bf16") / m.kv_bytes_per_token("bf16")


def _attention_beats_mlp(name: str) -> float:
    """Context at which a decoded token's attention FLOPs equal its MLP FLOPs."""
    m = models.get(name)
    p = transformer.forward_pass(m, batch=1, new_tokens=1)
    mlp = transformer.mlp_up(p).flops + transformer.mlp_down(p).flops
    return mlp / transformer.attention_flops_per_token(m, 1)


register("ch04.llama2-7b-params",
         "2 x 32000 x 4096 (embedding and untied LM head) + 32 layers x (4 x 4096² attention "
         "+ 3 x 4096 x 11008 gated MLP + 2 x 4096 norms) + 4096 (final norm).",
         lambda: models.get("llama-2-7b").params_total, rel_tol=0.01, unit="parameters",
         fmt=lambda x: f"{x:,.0f} parameters")
register("ch04.llama3-70b-kv-bytes",
         "2 (K and V) x 80 layers x 8 KV heads x 128 head_dim x 2 bytes (bf16).",
         lambda: models.get("llama-3-70b").kv_bytes_per_token("bf16"), rel_tol=0.01,
         unit="bytes", fmt=lambda x: f"{x:,.0f} bytes ({x / 1024:.0f} KiB) per token")
register("ch04.llama2-7b-kv-outweighs-weights",
         "weight bytes ÷ KV bytes per token, both at bf16 (13.48 GB ÷ 512 KiB).",
         lambda: _kv_outweighs_weights("llama-2-7b"), rel_tol=0.02, unit="tokens",
         fmt=lambda x: f"{x:,.0f} tokens")
register("ch04.llama3-8b-attention-beats-mlp",
         "the MLP's FLOPs per token (2 x 3 x 4096 x 14336 per layer) ÷ the attention FLOPs per "
         "cached token (4 h_q d_h per layer); the layer count cancels.",
         lambda: _attention_beats_mlp("llama-3-8b"), rel_tol=0.03, unit="tokens",
         fmt=lambda x: f"{x:,.0f} tokens")


def _qkv_row(name: str, quantity: str) -> float:
    """FLOPs or bytes of the QKV projection in one decode step (batch 1, 4,096 cached)."""
    p = transformer.forward_pass(name, batch=1, new_tokens=1, cached=4096)
    op = transformer.qkv_projection(p)
    return float(op.flops if quantity == "flops" else op.bytes)


def _decode_attention_intensity(name: str) -> float:
    """FLOP per byte of attention (QK^T, softmax, x V) in a decode step, 4,096 cached."""
    p = transformer.forward_pass(name, batch=1, new_tokens=1, cached=4096)
    parts = transformer.attention(p)
    return sum(float(o.flops) for o in parts) / sum(float(o.bytes) for o in parts)


register("ch04.llama3-8b-qkv-flops",
         "2 FLOP per multiply-add x B rows x (h_q + 2 h_kv) d_h columns x d inputs, per layer; "
         "times L layers.",
         lambda: _qkv_row("llama-3-8b", "flops"), rel_tol=0.01, unit="FLOP",
         fmt=lambda x: f"{x / 1e9:.3f} GFLOP")
register("ch04.llama3-8b-qkv-bytes",
         "per layer: the d x (h_q + 2 h_kv) d_h weight matrix, plus the input row (d values) "
         "and the output row ((h_q + 2 h_kv) d_h values), all at 2 bytes; times L layers.",
         lambda: _qkv_row("llama-3-8b", "bytes"), rel_tol=0.01, unit="bytes",
         fmt=lambda x: f"{x / 1e9:.3f} GB")
register("ch04.llama3-8b-decode-attention-intensity",
         "per cached token and layer: 4 h_q d_h FLOP (two matmuls, every query head) over "
         "2 h_kv d_h b_kv bytes of K and V.",
         lambda: _decode_attention_intensity("llama-3-8b"), rel_tol=0.05, unit="FLOP/byte",
         fmt=lambda x: f"{x:.2f} FLOP/byte")
