"""Exercises of chapters/01_memory_bound.ipynb: each answer is computed by lib.

Units of the answers: milliseconds, kilobytes, megabytes, operations per element and
per cent, as each exercise's text asks.
"""

from lib import hardware, kernels, memory, models
from lib.exercises import register
from lib.roofline import ridge_point


def _llama_token_ms() -> float:
    k = memory.weight_stream(models.get("llama-2-13b").params_read, "bf16")
    return memory.kernel_cost(k, hardware.get("h200")).t_mem * 1e3


def _hbm(name: str) -> hardware.MemoryLevel:
    return memory.level(hardware.get(name), "main memory")


def _fused_ops_to_ridge() -> float:
    h100 = hardware.get("h100-sxm")
    one_op = kernels.elementwise_chain(1, 1, "fp32", fused=True)  # 1 FLOP per 8 bytes
    return ridge_point(h100.peak("fp32"), h100.memory_bandwidth) / one_op.intensity


def _dot_share() -> float:
    cost = memory.kernel_cost(kernels.dot(2**24, "bf16"), hardware.get("h100-sxm"), "bf16")
    return 100 * cost.compute_fraction


register("ch01.llama13b-h200-ms",
         "bytes = parameters x 2 (BF16), the embedding table read one row a token; time = "
         "bytes ÷ the H200's HBM bandwidth.",
         _llama_token_ms, rel_tol=0.05, unit="ms", fmt=lambda x: f"{x:.2f} ms")
register("ch01.bytes-in-flight-h100-pcie",
         "Little's law: bytes in flight = bandwidth x latency, with the measured HBM latency.",
         lambda: memory.bytes_in_flight(_hbm("h100-pcie").bandwidth,
                                        _hbm("h100-pcie").latency) / 1e3,
         rel_tol=0.05, unit="kB", fmt=lambda x: f"{x:.0f} kB")
register("ch01.fused-ops-h100",
         "the FP32 ridge point (FP32 peak ÷ bandwidth) times the 8 bytes each element moves.",
         _fused_ops_to_ridge, rel_tol=0.10, unit="ops per element",
         fmt=lambda x: f"{x:.0f} ops per element")
register("ch01.dot-share-h100",
         "intensity (1/2 FLOP/byte) x bandwidth ÷ dense BF16 peak, as a percentage.",
         _dot_share, rel_tol=0.05, unit="%", fmt=lambda x: f"{x:.3f} %")
register("ch01.size-90pct-h100-pcie",
         "90 % of peak needs 0.9 / (1 - 0.9) = 9 times bandwidth x latency.",
         lambda: memory.size_for_fraction(0.9, _hbm("h100-pcie").bandwidth,
                                          _hbm("h100-pcie").latency) / 1e6,
         rel_tol=0.05, unit="MB", fmt=lambda x: f"{x:.2f} MB")
