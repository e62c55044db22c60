"""Exercises of chapters/06_decode.ipynb: each answer is computed by lib (see lib.exercises)."""

from __future__ import annotations

from lib import capacity, hardware, inference, regimes
from lib.exercises import register
from lib.roofline import ridge_point

#: Exercise 3: the long context, the batch and the model it asks about.
FP8_CONTEXT, FP8_BATCH, FP8_MODEL = 32768, 8, "llama-3-8b"
#: Exercise 4: the explorer setting the reader predicts, then checks.
WIDGET_BATCH, WIDGET_CONTEXT, WIDGET_MODEL = 64, 4096, "llama-3-8b"
#: Exercise 5: the configuration whose launch break-even latency the reader finds.
LAUNCH_MODEL, LAUNCH_CONTEXT = "llama-3-8b", 1024


def _tpot_13b_a100_ms() -> float:
    return inference.tpot("llama-2-13b", "a100-sxm-80gb", 1, 0) * 1e3


def _naive_critical_batch(device: str, bytes_per_weight: float) -> float:
    """peak / bandwidth x bytes per weight / 2 FLOP per weight (weights-only traffic)."""
    d = hardware.get(device)
    return ridge_point(d.peak("bf16"), d.memory_bandwidth) * bytes_per_weight / 2


def _fp8_speedup() -> float:
    kw = dict(batch=FP8_BATCH, context=FP8_CONTEXT)
    return (inference.tpot(FP8_MODEL, "h100-sxm", **kw)
            / inference.tpot(FP8_MODEL, "h100-sxm", **kw, kv_dtype="fp8"))


def _kv_share() -> float:
    est = inference.decode(WIDGET_MODEL, "h100-sxm", WIDGET_BATCH, WIDGET_CONTEXT)
    split = inference.time_split(est)
    return split["KV cache"] / sum(split.values())


def _launch_breakeven_us() -> float:
    est = inference.decode(LAUNCH_MODEL, "h100-sxm", 1, LAUNCH_CONTEXT)
    kernels = inference.launch_floor(est, 1.0)   # the floor at 1 s per launch = the count
    return est.time_s / kernels * 1e6


register("ch06.tpot-13b-a100-ms",
         "at batch 1 every weight is read once per token: weight bytes ÷ bandwidth.",
         _tpot_13b_a100_ms, unit="ms", fmt=lambda x: f"{x:.2f} ms")
register("ch06.critical-batch-a100",
         "the weights' bytes are shared by the batch: dense BF16 peak ÷ bandwidth × "
         "(bytes per weight ÷ 2 FLOP per weight).",
         lambda: _naive_critical_batch("a100-sxm-80gb", 2.0), unit="sequences",
         fmt=lambda x: f"{x:.0f} sequences")
register("ch06.critical-batch-a100-int8",
         "int8 weights computed in BF16: one byte per weight, same peak.",
         lambda: _naive_critical_batch("a100-sxm-80gb", 1.0), unit="sequences",
         fmt=lambda x: f"{x:.0f} sequences")
register("ch06.critical-batch-llama3-a100",
         "lib.regimes.critical_batch at context 0: activations add bytes per token.",
         lambda: regimes.critical_batch("llama-3-8b", "a100-sxm-80gb", 0),
         unit="sequences", fmt=lambda x: f"{x:.0f} sequences")
register("ch06.fp8kv-speedup-32k",
         "TPOT with a bf16 KV cache ÷ TPOT with an fp8 one; the weights' share does not shrink.",
         _fp8_speedup, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch06.fp8kv-max-batch-32k",
         "(capacity − weight bytes) ÷ KV bytes of one 32,768-token sequence at 1 byte per "
         "element, rounded down.",
         lambda: capacity.max_batch(FP8_MODEL, "h100-sxm", FP8_CONTEXT, kv_dtype="fp8"),
         rel_tol=0.02, unit="sequences", fmt=lambda x: f"{x:.0f} sequences")
register("ch06.kv-share-b64-4k",
         "KV bytes per step ÷ all bytes per step (the step is memory-bound).",
         _kv_share, rel_tol=0.1, unit="", fmt=lambda x: f"{x:.2f} ({100 * x:.0f}% of TPOT)")
register("ch06.launch-breakeven-us",
         "roofline TPOT ÷ kernels per step.",
         _launch_breakeven_us, rel_tol=0.1, unit="µs", fmt=lambda x: f"{x:.1f} µs")
