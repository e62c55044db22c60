"""Exercises of chapters/16_measure.ipynb: each answer is computed by lib (see lib.exercises).

A measured number differs from machine to machine, so no check here depends on one: each
exercise gives its reader a round *reference machine* (:data:`REF_BANDWIDTH`,
:data:`REF_PEAK`) to predict with, and the chapter asks the reader to measure their own
afterwards.
"""

from __future__ import annotations

from lib import hardware, inference, kernels, measure, models, roofline
from lib.exercises import register

#: The reference machine of the exercises: a main-memory bandwidth and an FP32 matrix-
#: product peak of the size a two-core laptop or cloud VM measures (chapter 16's own
#: machine measured about this). Stipulated for the exercises, not a measurement.
REF_BANDWIDTH, REF_PEAK = 40e9, 200e9
#: Exercise 1: np.add(a, b, out=c) over this many FP32 elements per array.
ADD_N = 2**25
#: Exercise 3: batch-1 decode of GPT-2 (124M) in FP32 at this context.
DECODE_MODEL, DECODE_CONTEXT = "gpt2", 512
#: Exercise 5, the critique: an 8B model in FP32 weights at batch 1.
CRITIQUE_MODEL = "llama-3-8b"


def reference_device() -> hardware.Device:
    """The reference machine as a :class:`lib.hardware.Device` (FP32 only)."""
    return measure.roofline_device(REF_BANDWIDTH, REF_PEAK, name="reference-machine",
                                   label="Reference machine", memory_capacity=64e9,
                                   memory_type="DDR (stipulated)", vendor="none",
                                   source="chapter 16's reference machine (stipulated)")


def _add_ms() -> float:
    k = kernels.vector_add(ADD_N, "fp32")
    return float(roofline.kernel_time(k.flops, k.bytes_moved, REF_PEAK, REF_BANDWIDTH)) * 1e3


def _bus_over_counted() -> float:
    """np.add moves a, b and c (3n) by lib's count; with write-allocate the bus moves 4n."""
    return float(measure.bus_bytes("add", ADD_N) / kernels.vector_add(ADD_N, "fp32").bytes_moved)


def _r_at_ridge() -> float:
    ridge = roofline.ridge_point(REF_PEAK, REF_BANDWIDTH)
    return float(ridge / measure.dialled_counts(1, 1).intensity)


def _gpt2_decode_ms() -> float:
    est = measure.predict_forward(DECODE_MODEL, reference_device(), 1, 1, DECODE_CONTEXT)
    return float(est.time_s) * 1e3


def _critique_tok_s() -> float:
    m = models.get(CRITIQUE_MODEL)
    est = inference.forward(m, reference_device(), 1, 1, 0, weight_dtype="fp32",
                            kv_dtype="fp32", compute_dtype="fp32")
    return float(1 / est.time_s)


register("ch16.add-ms", "lib.kernels.vector_add counts 3 arrays of n FP32 elements; "
         "divide the bytes by the reference bandwidth (the FLOPs are negligible)",
         _add_ms, rel_tol=0.02, unit="ms")
register("ch16.write-allocate-factor", "writing c first reads its cache lines: one more "
         "array's worth of traffic on the bus than lib counts", _bus_over_counted,
         rel_tol=0.01)
register("ch16.dialled-r-at-ridge", "the dialled kernel's intensity is r/4 FLOP/byte; set it "
         "equal to the ridge pi/beta", _r_at_ridge, rel_tol=0.02)
register("ch16.gpt2-decode-ms", "batch 1 is memory-bound: the FP32 weights a step reads "
         "(the LM head in full, one embedding row) plus the cache, over the bandwidth",
         _gpt2_decode_ms, rel_tol=0.1, unit="ms")
register("ch16.critique-tok-s", "a batch-1 decode step reads every weight once: 4 bytes "
         "per parameter at FP32, over the bandwidth, not the FLOPs over the peak",
         _critique_tok_s, rel_tol=0.1, unit="tokens/s")
