"""Exercises of chapters/02_compute_bound.ipynb: each answer is computed by lib."""

from __future__ import annotations

import numpy as np

from lib import hardware, kernels
from lib.exercises import register
from lib.roofline import bound, first_compute_bound
from lib.units import fmt_flop_rate, fmt_intensity

__all__ = ["EXPLORER_MS", "A100_TENSOR_CORES_PER_SM", "A100_FMA_PER_TENSOR_CORE"]

#: The compute explorer's M slider, which the "explorer-first-m" exercise asks about
#: (lib.widgets.compute uses these).
EXPLORER_MS = (1, 16, 64, 256, 1024, 4096)


def _explorer_first_m(precision: str, device: str = "h100-sxm", d: int = 4096) -> float:
    """The smallest of the compute explorer's M values at which its GEMM is compute-bound,
    at one of :data:`lib.kernels.PRECISIONS`."""
    dev = hardware.get(device)
    m = np.array(EXPLORER_MS)
    g, compute = kernels.gemm_at(m, d, d, precision)
    return first_compute_bound(m, bound(g.flops, g.bytes_moved, dev.peak(compute),
                                        dev.memory_bandwidth))


def _critical_m_sparse(n: int = 4096, k: int = 4096) -> float:
    """The critical M someone would compute for gemm(M, n, k) with the H100 SXM's 2:4-sparse
    BF16 figure in place of its dense peak."""
    h100 = hardware.get("h100-sxm")
    m = np.arange(1, 8193)
    g = kernels.gemm(m, n, k, "bf16")
    return first_compute_bound(m, bound(g.flops, g.bytes_moved, h100.sparse_peak_flops["bf16"],
                                        h100.memory_bandwidth))


#: Tensor cores per SM and dense FP16 multiply-adds per tensor core per clock on the A100
#: (Ampere whitepaper, nvidia_ampere_whitepaper); its SMs and clock are catalog figures.
A100_TENSOR_CORES_PER_SM, A100_FMA_PER_TENSOR_CORE = 4, 256


def _a100_peak() -> float:
    a100 = hardware.get("a100-sxm-80gb")
    return kernels.peak_flops_from_units(a100.sm_count * A100_TENSOR_CORES_PER_SM,
                                         A100_FMA_PER_TENSOR_CORE, a100.boost_clock_hz)


register("ch02.a100-peak",
         "432 tensor cores x 256 FMA per clock x 2 FLOP per FMA x 1.41e9 clocks per second.",
         _a100_peak,
         rel_tol=0.02, unit="FLOP/s", fmt=fmt_flop_rate)

register("ch02.square-intensity",
         "2n^3 FLOP over 3 n^2 elements of 2 bytes: 2n / (3 x 2).",
         lambda: kernels.gemm(4096, 4096, 4096, "bf16").intensity,
         rel_tol=0.02, unit="FLOP/byte", fmt=fmt_intensity)

register("ch02.critical-m-h100",
         "at 16-bit the intensity is M K N / (M K + K N + M N); set it equal to the ridge, solve "
         "for M and round up.",
         lambda: kernels.critical_m("h100-sxm", 8192, 8192),
         rel_tol=0.05, unit="tokens", fmt=lambda x: f"{x:.0f} rows")

register("ch02.critical-m-h100-int8w",
         "the weights now cost 1 byte per element, the activations still 2; compute stays BF16.",
         lambda: kernels.critical_m("h100-sxm", 8192, 8192, "bf16", weight_dtype="int8"),
         rel_tol=0.05, unit="tokens", fmt=lambda x: f"{x:.0f} rows")

register("ch02.tiled-intensity",
         "A is read n/256 times, B m/128 times, C written once; 2 bytes per element.",
         lambda: kernels.gemm_tiled(8192, 8192, 8192, 128, 256, "bf16").intensity,
         rel_tol=0.03, unit="FLOP/byte", fmt=fmt_intensity)

register("ch02.wave-efficiency",
         "count the tiles (ceil(m/128) x ceil(n/256)), the waves (ceil(tiles/132)), then tiles / (waves x 132).",
         lambda: kernels.gemm_waves(2304, 2304, 128, 256,
                                    hardware.get("h100-sxm").sm_count).efficiency,
         rel_tol=0.03, unit="", fmt=lambda x: f"{x:.1%}")

register("ch02.explorer-first-m",
         "compare the GEMM's intensity at each M of the explorer's slider with the H100 SXM's "
         "BF16 ridge point (about M FLOP/byte against a few hundred).",
         lambda: _explorer_first_m("bf16"), rel_tol=0.01, unit="rows",
         fmt=lambda x: f"M = {x:.0f}")
register("ch02.explorer-first-m-w8a16",
         "one-byte weights double the intensity at small M; the roof stays the BF16 one.",
         lambda: _explorer_first_m("w8a16"), rel_tol=0.01, unit="rows",
         fmt=lambda x: f"M = {x:.0f}")
register("ch02.critical-m-sparse-h100",
         "the same sweep as for the critical M, with the datasheet's 'with sparsity' BF16 "
         "figure as the compute roof: its ridge is twice the dense one.",
         _critical_m_sparse, rel_tol=0.02, unit="rows", fmt=lambda x: f"{x:.0f} rows")
