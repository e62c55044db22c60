"""Exercises of chapters/09_quantisation.ipynb: each answer is computed by lib (see lib.exercises)."""

from __future__ import annotations

from lib import capacity, quantisation
from lib.exercises import register

#: Exercise 1: the model whose KV bytes per token the reader works out by hand, in KIVI's
#: 2-bit format (groups of 32 with an FP16 scale and an FP16 zero point).
KAPPA_MODEL, KAPPA_FORMAT = "llama-3-8b", "int2_g32"
#: Exercise 2: Amdahl's law on bytes, for an MHA model whose cache dominates the step.
AMDAHL_MODEL, AMDAHL_DEVICE, AMDAHL_BATCH, AMDAHL_CONTEXT = "llama-2-7b", "h100-sxm", 8, 4096
#: Exercise 3: what fits at a long context when both weights and cache are 4-bit.
FIT_MODEL, FIT_DEVICE, FIT_CONTEXT = "llama-3-8b", "h100-sxm", 32768
FIT_WEIGHTS, FIT_KV = "int4", "int4_g32"
#: Exercise 4: the explorer setting the reader predicts, then checks.
PREDICT_MODEL, PREDICT_DEVICE, PREDICT_BATCH, PREDICT_CONTEXT = "llama-3-8b", "h100-sxm", 8, 32768
PREDICT_KV = "int4_g32"
#: Exercise 5: the critique "int4 weights make our server four times faster".
CRITIQUE_MODEL, CRITIQUE_DEVICE, CRITIQUE_CONTEXT = "llama-3-8b", "h100-sxm", 1024
CRITIQUE_BATCHES = (1, 256)


def _kappa_kib() -> float:
    return quantisation.kv_footprint(KAPPA_MODEL, KAPPA_FORMAT).total_bytes / 1024


def _amdahl() -> float:
    return quantisation.compare(AMDAHL_MODEL, AMDAHL_DEVICE, AMDAHL_BATCH, AMDAHL_CONTEXT,
                                kv_dtype="fp8").byte_ratio


def _fit() -> float:
    return capacity.max_batch(FIT_MODEL, FIT_DEVICE, FIT_CONTEXT, weight_dtype=FIT_WEIGHTS,
                              kv_dtype=FIT_KV)


def _predict() -> float:
    return quantisation.compare(PREDICT_MODEL, PREDICT_DEVICE, PREDICT_BATCH, PREDICT_CONTEXT,
                                kv_dtype=PREDICT_KV).speedup


def _critique(batch: int) -> float:
    return quantisation.compare(CRITIQUE_MODEL, CRITIQUE_DEVICE, batch, CRITIQUE_CONTEXT,
                                weight_dtype="int4").speedup


register("ch09.kappa-int2-g32-kib",
         "2 × layers × KV heads × head_dim elements per token, each (2 × 32 + 16 + 16) / 32 "
         "bits; 1 KiB = 1024 bytes.",
         _kappa_kib, rel_tol=0.01, unit="KiB", fmt=lambda x: f"{x:.1f} KiB")
register("ch09.amdahl-fp8-l2-b8-4k",
         "f = B·C·κ / (W + B·C·κ), then 1 / ((1 − f) + f × 0.5).",
         _amdahl, rel_tol=0.03, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch09.max-batch-int4-32k",
         "(capacity − weight bytes at 4 bits) ÷ (32,768 tokens × κ at 5 bits), rounded down.",
         _fit, rel_tol=0.02, unit="sequences", fmt=lambda x: f"{x:.0f} sequences")
register("ch09.explorer-int4g32-b8-32k",
         "the calibrated estimate at BF16 ÷ the one with the KIVI int4 cache (the explorer's "
         "first line of speed-ups).",
         _predict, rel_tol=0.05, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch09.int4-weights-b1-speedup",
         "the calibrated estimate with BF16 weights ÷ the one with int4 weights, batch 1.",
         lambda: _critique(CRITIQUE_BATCHES[0]), rel_tol=0.05, unit="×",
         fmt=lambda x: f"{x:.2f}×")
register("ch09.int4-weights-b256-speedup",
         "the same at batch 256: what share of the step's bytes are still weights?",
         lambda: _critique(CRITIQUE_BATCHES[1]), rel_tol=0.03, unit="×",
         fmt=lambda x: f"{x:.2f}×")
