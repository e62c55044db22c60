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
         "cached token (4 x n_heads x head_dim per layer); the layer count cancels.",
         lambda: _attention_beats_mlp("llama-3-8b"), rel_tol=0.03, unit="tokens",
         fmt=lambda x: f"{x:,.0f} tokens")
