"""Exercises of chapters/03_roofline.ipynb: each answer is computed by lib.

Measured inputs that an exercise gives the reader are named constants here, each
with its source, so the question, the solution and the check agree.
"""

from __future__ import annotations

import numpy as np

from lib import hardware, kernels, models
from lib.exercises import register
from lib.roofline import achieved_fraction, bound, first_compute_bound, kernel_time, ridge_point

#: The roofline explorer's batch sizes (its M slider) and weight matrix side, which the
#: "first compute-bound M" exercises ask about (lib.widgets.roofline uses these).
EXPLORER_BATCHES = (1, 4, 16, 64, 256, 1024, 4096)
EXPLORER_WIDTH = 4096

#: gpt-fast README, "Benchmarks" table: Llama-2-7B with int8 weight-only quantisation
#: decodes 155.58 tokens/s at batch 1 on an A100-80GB (power-limited to 330 W).
GPT_FAST_INT8_TOKENS_PER_S = 155.58


def _ridge(name: str, dtype: str = "bf16") -> float:
    d = hardware.get(name)
    return ridge_point(d.peak(dtype), d.memory_bandwidth)


def _fp32_ops_to_be_compute_bound() -> float:
    """FLOP per element a unary FP32 op must do to reach the A100 40 GB's FP32 ridge."""
    one_op = kernels.elementwise_chain(1, 1, "fp32", fused=True)  # 1 FLOP, 8 bytes
    return _ridge("a100-sxm-40gb", "fp32") * one_op.bytes_moved / one_op.flops


def _gemm_m64_h100_us() -> float:
    d = hardware.get("h100-sxm")
    k = kernels.gemm(64, 4096, 4096, "bf16")
    return kernel_time(k.flops, k.bytes_moved, d.peak("bf16"), d.memory_bandwidth) * 1e6


def _first_compute_bound_m(precision: str, device: str = "h100-sxm") -> float:
    """The smallest of the roofline explorer's batch sizes at which its GEMM is compute-bound."""
    d = hardware.get(device)
    m = np.array(EXPLORER_BATCHES)
    k, compute = kernels.gemm_at(m, EXPLORER_WIDTH, EXPLORER_WIDTH, precision)
    return first_compute_bound(m, bound(k.flops, k.bytes_moved, d.peak(compute),
                                        d.memory_bandwidth))


def _mbu_gpt_fast_int8() -> float:
    weight_bytes = models.get("llama-2-7b").weight_bytes("int8")  # every weight, one byte each
    seconds_per_token = 1.0 / GPT_FAST_INT8_TOKENS_PER_S
    return achieved_fraction(weight_bytes, seconds_per_token,
                             hardware.get("a100-sxm-80gb").memory_bandwidth)


register("ch03.ridge-h100", "dense BF16 peak ÷ HBM bandwidth.", lambda: _ridge("h100-sxm"),
         unit="FLOP/byte", fmt=lambda x: f"{x:.1f} FLOP/byte")
register("ch03.ridge-a100", "dense BF16 peak ÷ HBM bandwidth of the A100 SXM 80 GB.",
         lambda: _ridge("a100-sxm-80gb"), unit="FLOP/byte", fmt=lambda x: f"{x:.1f} FLOP/byte")
register("ch03.fp32-ops-a100",
         "the FP32 (non-tensor-core) ridge of the A100 40 GB times the 8 bytes one element "
         "moves (4 read + 4 written).",
         _fp32_ops_to_be_compute_bound, rel_tol=0.1, unit="FLOP per element",
         fmt=lambda x: f"{x:.0f} FLOP per element")
register("ch03.gemm-m64-h100-us",
         "the larger of FLOPs ÷ peak and bytes ÷ bandwidth; bytes = 2 × (64·4096 + 4096·4096 "
         "+ 64·4096) at BF16.",
         _gemm_m64_h100_us, rel_tol=0.05, unit="µs", fmt=lambda x: f"{x:.2f} µs")
for _p, _name in (("bf16", "BF16"), ("w8a16", "INT8 weights with BF16 math"),
                  ("int8", "INT8 × INT8")):
    register(f"ch03.first-m-{_p}",
             f"compare the GEMM's intensity at each batch size with the {_name} ridge point.",
             lambda p=_p: _first_compute_bound_m(p), rel_tol=0.01, unit="tokens",
             fmt=lambda x: f"M = {x:.0f}")
register("ch03.mbu-gpt-fast-int8",
         "bytes read per token (one byte per int8 weight) × tokens per second ÷ the A100 "
         "80 GB's bandwidth.",
         _mbu_gpt_fast_int8, rel_tol=0.05, unit="", fmt=lambda x: f"{x:.1%} of peak bandwidth")
