"""Exercises of chapters/05_prefill.ipynb: each answer is computed by lib.

The configurations an exercise asks about are named constants here, so the question,
the solution and the check agree.
"""

from __future__ import annotations

import numpy as np

from lib import hardware, inference, models, regimes
from lib.exercises import register
from lib.inference import attention_share

#: Exercise "TTFT by hand": Llama-2-13B, one 4096-token prompt, BF16 on an A100 SXM 80 GB.
HAND_MODEL, HAND_DEVICE, HAND_PROMPT = "llama-2-13b", "a100-sxm-80gb", 4096
#: Exercise "unfused attention": Llama-3-8B, batch 1, on an H100 SXM, prompts up to its context.
LONG_MODEL, LONG_DEVICE = "llama-3-8b", "h100-sxm"
#: Exercise "predict, then check": the explorer's defaults, and its prompt-length slider
#: (lib.widgets.prefill uses these).
EXPLORER_MODEL, EXPLORER_DEVICE = "llama-3-8b", "h100-sxm"
EXPLORER_PROMPTS = (16, 64, 256, 1024, 4096, 8192)
#: Exercise "launch-bound": GPT-2 at its full context on an H100 SXM, an assumed 20 us per
#: launch (the top of "usually between 5-20 microseconds", Holistic Trace Analysis docs,
#: "CUDA Kernel Launch Statistics"; references.bib: hta_kernel_launch).
LAUNCH_MODEL, LAUNCH_PROMPT, LAUNCH_S = "gpt2", 1024, 20e-6
#: FlashAttention-3 abstract (Shah et al. 2024, arXiv:2407.08608): FP16 "up to 740 TFLOPs/s
#: (75% utilization)" on H100. A measured ceiling, used to turn a roofline TTFT into a realistic one.
FA3_FP16_FLOPS = 740e12


def ttft_by_hand_ms() -> float:
    """``2 N P / peak`` in milliseconds, N = every parameter of the model."""
    m = models.get(HAND_MODEL)
    return 2 * m.params_total * HAND_PROMPT / hardware.get(HAND_DEVICE).peak("bf16") * 1e3


def ttft_lib_ms() -> float:
    """lib's per-op TTFT for the same prefill, milliseconds."""
    return inference.ttft(HAND_MODEL, HAND_DEVICE, 1, HAND_PROMPT) * 1e3


def _long_sweep() -> tuple[np.ndarray, inference.Estimate]:
    prompts = np.arange(1, models.get(LONG_MODEL).max_context + 1)
    return prompts, inference.prefill(LONG_MODEL, LONG_DEVICE, 1, prompts,
                                      fused_attention=False)


def unfused_half_prompt() -> float:
    """Shortest prompt whose unfused attention (QK^T, softmax, x V) takes >= half the time."""
    prompts, est = _long_sweep()
    share = attention_share(est, "time_s")
    if not np.any(share >= 0.5):
        raise ValueError("unfused attention never reaches half the prefill time here")
    return float(prompts[np.argmax(share >= 0.5)])


def unfused_memory_prompt() -> float:
    """Shortest prompt, beyond the short-prompt regime, at which unfused prefill is memory-bound again."""
    prompts, est = _long_sweep()
    compute = np.asarray(est.bound) == "compute"
    first_compute = np.argmax(compute)
    later = np.flatnonzero(~compute[first_compute:])
    if later.size == 0:
        raise ValueError("unfused prefill stays compute-bound over the whole context")
    return float(prompts[first_compute + later[0]])


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
register("ch05.unfused-half-prompt",
         "sweep prompt_len with fused_attention=False and compare the three attention ops' "
         "time with the total.",
         unfused_half_prompt, rel_tol=0.05, unit="tokens", fmt=lambda x: f"{x:,.0f} tokens")
register("ch05.unfused-memory-prompt",
         "with fused_attention=False, find where est.bound turns back to 'memory' after the "
         "short-prompt regime.",
         unfused_memory_prompt, rel_tol=0.05, unit="tokens", fmt=lambda x: f"{x:,.0f} tokens")
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
