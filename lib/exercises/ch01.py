"""Exercises of chapters/01_memory_bound.ipynb: each answer is computed by lib.

Units of the answers: operations per element, per cent, a speed-up factor and warps, as
each exercise's text asks.
"""

from lib import hardware, kernels, memory, models
from lib.exercises import register
from lib.roofline import ridge_point

#: Bytes one thread loads with one instruction in the warps exercise: a 128-bit vector
#: load, the widest a CUDA thread issues (CUDA C++ Programming Guide, 'Device Memory
#: Accesses': words of 1, 2, 4, 8 or 16 bytes), and the threads of a warp.
BYTES_PER_THREAD_LOAD, THREADS_PER_WARP = 16, 32


def _fused_ops_to_ridge() -> float:
    h100 = hardware.get("h100-sxm")
    one_op = kernels.elementwise_chain(1, 1, "fp32", fused=True)  # 1 FLOP per 8 bytes
    return ridge_point(h100.peak("fp32"), h100.memory_bandwidth) / one_op.intensity


def _dot_share() -> float:
    """Share of the FP32 vector units a BF16 dot product can keep busy on an H100 SXM."""
    cost = memory.kernel_cost(kernels.dot(2**24, "bf16"), hardware.get("h100-sxm"), "fp32")
    return 100 * cost.compute_fraction


def _h200_decode_speedup() -> float:
    """How much faster the weight stream of Llama 2 7B's batch-1 decode step is on an H200."""
    step = memory.weight_stream(models.get("llama-2-7b").params_read, "bf16")
    t = [memory.kernel_cost(step, hardware.get(d), "bf16").time for d in ("h100-sxm", "h200")]
    return t[0] / t[1]


def _warps_per_sm() -> float:
    """Warps per SM that must each have one 16-byte-per-thread load waiting on HBM for the
    H100 PCIe to stream at its peak (Little's law with the measured latency)."""
    d = hardware.get("h100-pcie")
    hbm = memory.level(d, "main memory")
    per_sm = memory.bytes_in_flight(hbm.bandwidth, hbm.latency) / d.sm_count
    return per_sm / (BYTES_PER_THREAD_LOAD * THREADS_PER_WARP)


register("ch01.fused-ops-h100",
         "the FP32 ridge point (FP32 peak ÷ bandwidth) times the 8 bytes each element moves.",
         _fused_ops_to_ridge, rel_tol=0.10, unit="ops per element",
         fmt=lambda x: f"{x:.0f} ops per element")
register("ch01.dot-share-h100",
         "intensity (1/2 FLOP/byte in BF16) x bandwidth ÷ the FP32 peak of the vector units, "
         "as a percentage.",
         _dot_share, rel_tol=0.05, unit="%", fmt=lambda x: f"{x:.2f} %")
register("ch01.h200-decode-speedup",
         "the step reads the same bytes on both; its time is bytes ÷ bandwidth, so the ratio "
         "of the times is the ratio of the bandwidths.",
         _h200_decode_speedup, rel_tol=0.02, unit="x", fmt=lambda x: f"{x:.2f}x")
register("ch01.warps-per-sm-h100-pcie",
         "bytes in flight = bandwidth x latency (Little's law), shared among the SMs; each "
         "waiting warp holds 32 threads x 16 bytes.",
         _warps_per_sm, rel_tol=0.05, unit="warps per SM", fmt=lambda x: f"{x:.1f} warps per SM")
