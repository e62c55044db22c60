"""Exercises of chapters/05_prefill.ipynb: each answer is computed by lib.

The configurations an exercise asks about are named constants here, so the question,
the solution and the check agree.
"""

from __future__ import annotations

from lib import hardware, inference, kernels, models, regimes
from lib.exercises import register
from lib.inference import attention_share

#: Exercise "TTFT by hand": Llama-2-13B, one 4096-token prompt, BF16 on an A100 SXM 80 GB.
HAND_MODEL, HAND_DEVICE, HAND_PROMPT = "llama-2-13b", "a100-sxm-80gb", 4096
#: Exercise "attention's intensity": Llama-2-7B (every head its own K and V), one prompt of
#: its full 4,096-token context, BF16 on an H100 SXM.
ATTN_MODEL, ATTN_DEVICE, ATTN_PROMPT = "llama-2-7b", "h100-sxm", 4096
#: Exercise "the tiled intensity": Llama-3-8B, one 8,192-token prompt, BF16 on an H100 SXM,
#: K and V read once per tile of 256 query rows.
TILE_MODEL, TILE_PROMPT, TILE_ROWS = "llama-3-8b", 8192, 256
#: Exercise "QK^T is large": the shortest power-of-two prompt whose prefill is compute-bound
#: at batch 1 for the explorer's model and device.
MYTH_PROMPT = 512
#: Exercise "predict, then check": the explorer's defaults, and its prompt-length slider
#: (lib.widgets.prefill uses these).
EXPLORER_MODEL, EXPLORER_DEVICE = "llama-3-8b", "h100-sxm"
EXPLORER_PROMPTS = (16, 64, 256, 1024, 4096, 8192)
#: Exercise "launch-bound": GPT-2 at its full context on an H100 SXM, an assumed 20 us per
#: launch (the top of "usually between 5-20 microseconds", Holistic Trace Analysis docs,
#: "CUDA Kernel Launch Statistics"; references.bib: hta_kernel_launch).
LAUNCH_MODEL, LAUNCH_PROMPT, LAUNCH_S = "gpt2", 1024, 20e-6


def ttft_by_hand_ms() -> float:
    """``2 N P / pi`` in milliseconds, N = every parameter of the model, pi the dense BF16 peak."""
    m = models.get(HAND_MODEL)
    return 2 * m.params_total * HAND_PROMPT / hardware.get(HAND_DEVICE).peak("bf16") * 1e3


def ttft_lib_ms() -> float:
    """lib's per-op TTFT for the same prefill, milliseconds."""
    return inference.ttft(HAND_MODEL, HAND_DEVICE, 1, HAND_PROMPT) * 1e3


def attention_intensity(fused: bool = True) -> float:
    """FLOP/byte of attention's scores matmul ``QK^T`` in exercise "attention's intensity"."""
    est = inference.prefill(ATTN_MODEL, ATTN_DEVICE, 1, ATTN_PROMPT, fused_attention=fused)
    return float(est.op("attention scores QK^T").arithmetic_intensity)


def tiled_intensity() -> float:
    """FLOP/byte of ``QK^T`` with K and V read once per ``TILE_ROWS`` query rows."""
    est = inference.prefill(TILE_MODEL, ATTN_DEVICE, 1, TILE_PROMPT, attention_tile=TILE_ROWS)
    return float(est.op("attention scores QK^T").arithmetic_intensity)


def attention_flop_share_pct(prompt_len: int = MYTH_PROMPT) -> float:
    """Attention's share of a batch-1 prefill's FLOPs, percent (explorer's model and device)."""
    est = inference.prefill(EXPLORER_MODEL, EXPLORER_DEVICE, 1, prompt_len)
    return float(attention_share(est, "flops")) * 100


def mlp_up_intensity(tokens: int = MYTH_PROMPT) -> float:
    """FLOP/byte of the explorer model's MLP up projection for ``tokens`` rows, BF16."""
    m = models.get(EXPLORER_MODEL)
    return float(kernels.gemm(tokens, m.d_ff, m.d_model, "bf16").intensity)


def attention_time_share_pct(weight_dtype: str, prompt_len: int = 8192) -> float:
    """Attention's share of the per-op time, percent (explorer's model and device, batch 1)."""
    est = inference.prefill(EXPLORER_MODEL, EXPLORER_DEVICE, 1, prompt_len,
                            weight_dtype=weight_dtype)
    return float(attention_share(est, "time_s")) * 100


def launch_ratio() -> float:
    """Launch floor (kernels x latency) over the roofline time, GPT-2 at its full context."""
    est = inference.prefill(LAUNCH_MODEL, "h100-sxm", 1, LAUNCH_PROMPT)
    return float(inference.launch_floor(est, LAUNCH_S) / est.time_s)


def speedup(weight_dtype: str, prompt_len: int = 4096) -> float:
    """TTFT at BF16 divided by TTFT at ``weight_dtype`` (explorer's model and device, batch 1)."""
    t = [inference.ttft(EXPLORER_MODEL, EXPLORER_DEVICE, 1, prompt_len, weight_dtype=wd)
         for wd in ("bf16", weight_dtype)]
    return t[0] / t[1]


register("ch05.ttft-hand-ms",
         "2 x (parameters) x (prompt tokens) / dense BF16 peak, in milliseconds.",
         ttft_by_hand_ms, rel_tol=0.05, unit="ms", fmt=lambda x: f"{x:.0f} ms")
register("ch05.ttft-lib-ms",
         "inference.ttft(model, device, batch=1, prompt_len=...) * 1e3.",
         ttft_lib_ms, rel_tol=0.02, unit="ms", fmt=lambda x: f"{x:.0f} ms")
register("ch05.attn-ai-fused",
         "FLOPs 2·h_q·d_h per (query, key) pair, P(P+1)/2 pairs under the mask; bytes: Q and K "
         "read once, b·d_h·P·(h_q + h_kv).",
         lambda: attention_intensity(True), rel_tol=0.05, unit="FLOP/byte",
         fmt=lambda x: f"{x:,.0f} FLOP/byte")
register("ch05.attn-ai-unfused",
         "every one of the P² scores per query head is computed and written (b bytes each): "
         "about 2·d_h/b FLOP per byte.",
         lambda: attention_intensity(False), rel_tol=0.05, unit="FLOP/byte",
         fmt=lambda x: f"{x:,.0f} FLOP/byte")
register("ch05.tiled-ai-256",
         "K read once per tile gives about t_q FLOP/byte; Q, read once, adds bytes too: "
         "1/I = 1/t_q + b/P.",
         tiled_intensity, rel_tol=0.05, unit="FLOP/byte",
         fmt=lambda x: f"{x:,.0f} FLOP/byte")
register("ch05.attn-flop-share-512",
         "4·L·h_q·d_h·P(P+1)/2 FLOPs of attention against about 2·N·P for the weight GEMMs.",
         attention_flop_share_pct, rel_tol=0.05, unit="%", fmt=lambda x: f"{x:.2f}%")
register("ch05.mlp-up-ai-512",
         "2·M·d·d_ff FLOP over 2·(M·d + d·d_ff + M·d_ff) bytes, M = 512.",
         mlp_up_intensity, rel_tol=0.02, unit="FLOP/byte", fmt=lambda x: f"{x:.0f} FLOP/byte")
register("ch05.attn-share-fp8-8192",
         "FP8 halves the weight GEMMs' time; attention's matmuls stay in BF16 and its "
         "exponentials on the special-function units.",
         lambda: attention_time_share_pct("fp8"), rel_tol=0.1, unit="%",
         fmt=lambda x: f"{x:.0f}%")
register("ch05.first-p-b1",
         "batch 1: the GEMMs see 1 x P rows; compute-bound once that is a few hundred.",
         lambda: regimes.shortest_compute_bound_prompt(EXPLORER_MODEL, EXPLORER_DEVICE, 1,
                                                       EXPLORER_PROMPTS),
         rel_tol=0.01, unit="tokens",
         fmt=lambda x: f"{x:.0f} tokens")
register("ch05.first-p-b8",
         "batch 8: the GEMMs see 8 x P rows, so a prompt 8 times shorter does as well.",
         lambda: regimes.shortest_compute_bound_prompt(EXPLORER_MODEL, EXPLORER_DEVICE, 8,
                                                       EXPLORER_PROMPTS),
         rel_tol=0.01, unit="tokens",
         fmt=lambda x: f"{x:.0f} tokens")
register("ch05.fp8-speedup",
         "compute-bound work runs at the FP8 roof, twice the BF16 one on an H100.",
         lambda: speedup("fp8"), rel_tol=0.05, unit="x", fmt=lambda x: f"{x:.2f}x")
register("ch05.int4-speedup",
         "INT4 weights are dequantised and multiplied in BF16: the compute roof does not move.",
         lambda: speedup("int4"), rel_tol=0.05, unit="x", fmt=lambda x: f"{x:.2f}x")
register("ch05.gpt2-launch-ratio",
         "inference.launch_floor(estimate, 20e-6) / estimate.time_s: kernels x 20 us over the "
         "roofline time.",
         launch_ratio, rel_tol=0.05, unit="x", fmt=lambda x: f"{x:.1f}x")
