"""Exercises of chapters/13_prefill_kernels.ipynb: each answer is computed by lib (see lib.exercises)."""

from __future__ import annotations

from lib import fusion, inference, prefill
from lib.exercises import register

#: Exercise 1 (by hand): the bytes fusing the elementwise ops saves in a 2,048-token prefill.
FUSE_MODEL, FUSE_DEVICE, FUSE_PROMPT = "llama-3-8b", "h100-sxm", 2048
#: Exercise 2 (by hand, then lib): the score matrix an unfused attention writes and reads,
#: and what FlashAttention saves of the whole prefill.
FLASH_MODEL, FLASH_DEVICE, FLASH_PROMPT = "llama-3-8b", "h100-sxm", 2048
#: Exercise 3 (by hand): Mistral's 4,096-token window at a 32,768-token prompt.
WINDOW_MODEL, WINDOW_PROMPT, WINDOW = "llama-3-8b", 32768, 4096
#: Exercise 4 (predict, then check with the explorer): GPT-2 eager on the A100.
LAUNCH_MODEL, LAUNCH_DEVICE, LAUNCH_US = "gpt2", "a100-sxm-80gb", 5.0
#: Exercise 5 (by hand, then lib): a chunked prefill's re-read cache and its cost.
CHUNK_MODEL, CHUNK_DEVICE, CHUNK_PROMPT, CHUNK = "llama-3-8b", "h100-sxm", 8192, 512
#: Exercise 6 (lib): a decode step of 16 sequences riding on a 512-token chunk.
PIGGY_MODEL, PIGGY_DEVICE, PIGGY_CHUNK, PIGGY_CACHED, PIGGY_B, PIGGY_C = (
    "llama-3-8b", "h100-sxm", 512, 2048, 16, 2048)


def _fusion_saved_gb() -> float:
    merged, fused = (prefill.step(FUSE_MODEL, FUSE_DEVICE, 1, FUSE_PROMPT, lv)
                     for lv in ("merged GEMMs", "fused elementwise"))
    return float(merged.bytes - fused.bytes) / 1e9


def _score_bytes_gb() -> float:
    fused, unfused = (prefill.attention(FLASH_MODEL, 1, FLASH_PROMPT, fused=f)
                      for f in (True, False))
    return float(unfused.bytes - fused.bytes) / 1e9


def _flash_gain() -> float:
    t = [inference.prefill(FLASH_MODEL, FLASH_DEVICE, 1, FLASH_PROMPT,
                           fused_attention=f).estimate_s for f in (False, True)]
    return float(t[0] / t[1])


def _window_ratio() -> float:
    dense = prefill.attention(WINDOW_MODEL, 1, WINDOW_PROMPT)
    window = prefill.attention(WINDOW_MODEL, 1, WINDOW_PROMPT, "sliding window", window=WINDOW)
    return float(dense.flops / window.flops)


def _launch_floor_ms() -> float:
    return fusion.kernel_count(LAUNCH_MODEL, "unfused") * LAUNCH_US * 1e-3


def _launch_edge() -> float:
    return prefill.launch_bound_below(LAUNCH_MODEL, LAUNCH_DEVICE, "unfused",
                                      cuda_graphs=False)


def _chunk_reread_gb() -> float:
    return prefill.chunked(CHUNK_MODEL, CHUNK_DEVICE, CHUNK_PROMPT, CHUNK).kv_reread / 1e9


def _piggy_share() -> float:
    g = prefill.piggyback(PIGGY_MODEL, PIGGY_DEVICE, PIGGY_CHUNK, PIGGY_CACHED, PIGGY_B,
                          PIGGY_C)
    return g.saved_s / g.decode_s


register("ch13.fusion-bytes-saved-gb",
         "per layer and token: the residual read back twice (2d), Q, K, V between the GEMM and "
         "RoPE (2 h_q d_h + 4 h_kv d_h), gate and up between the GEMM and SiLU (4 d_ff), "
         "2 bytes each; × P × L.",
         _fusion_saved_gb, rel_tol=0.01, unit="GB", fmt=lambda x: f"{x:.2f} GB")
register("ch13.unfused-score-bytes-gb",
         "the P × P scores per head and layer, written by QK^T, read and written by the "
         "softmax, read by PV: 4 × 2 bytes each, × h_q × L.",
         _score_bytes_gb, rel_tol=0.01, unit="GB", fmt=lambda x: f"{x:.1f} GB")
register("ch13.flash-gain-2k",
         "inference.prefill(..., fused_attention=False).estimate_s over the fused one.",
         _flash_gain, rel_tol=0.03, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch13.window-flops-ratio",
         "causal: P(P+1)/2 pairs; window W: W(W+1)/2 + (P − W) W pairs; attention's FLOPs "
         "are in proportion to the pairs.",
         _window_ratio, rel_tol=0.01, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch13.launch-floor-gpt2-ms",
         "kernels at the unfused level (13 per layer × 12 layers + 3) × 5 µs.",
         _launch_floor_ms, rel_tol=0.01, unit="ms", fmt=lambda x: f"{x:.3f} ms")
register("ch13.launch-edge-gpt2-a100",
         "prefill.launch_bound_below at 'unfused', cuda_graphs=False.",
         _launch_edge, rel_tol=0.05, unit="tokens", fmt=lambda x: f"{x:,.0f} tokens")
register("ch13.chunk-kv-reread-gb",
         "chunk i re-reads i × 512 tokens of cache, κ bytes each: κ × 512 × (0 + 1 + … + 15).",
         _chunk_reread_gb, rel_tol=0.01, unit="GB", fmt=lambda x: f"{x:.2f} GB")
register("ch13.piggyback-saved-share",
         "prefill.piggyback: saved_s / decode_s.",
         _piggy_share, rel_tol=0.05, unit="", fmt=lambda x: f"{x:.2f} ({100 * x:.0f}%)")
