"""Exercises of chapters/03_roofline.ipynb: each answer is computed by lib.

Measured inputs an exercise gives the reader come from :mod:`lib.measurements`, each
with its source, so the question, the solution and the check agree.
"""

from __future__ import annotations

import numpy as np

from lib import comm, hardware, kernels, measurements, memory, models
from lib.exercises import register
from lib.roofline import achieved_fraction, ridge_point

__all__ = ["EXPLORER_DEVICES", "EXPLORER_MS", "EXPLORER_TILES", "EXPLORER_WIDTH",
           "MAMF_TILE", "TILE_SIDES", "TP_DEVICES"]

#: The hierarchical-roofline explorer's devices (those whose L2 bandwidth the catalog
#: holds), rows M, output tiles (t_M, t_N) and weight matrix side; the exercises ask about
#: them (lib.widgets.roofline uses these).
EXPLORER_DEVICES = ("h100-pcie", "a100-sxm-80gb")
EXPLORER_MS = (1, 16, 64, 256, 1024, 4096)
EXPLORER_TILES = ((64, 128), (128, 128), (128, 256))
EXPLORER_WIDTH = 4096

#: The output tile of the MAMF exercise, a common shape for large GEMMs (NVIDIA's matmul
#: guide), and the square tile sides the L2 exercise searches (multiples of 32).
MAMF_TILE = (128, 256)
TILE_SIDES = np.arange(32, 1025, 32)

#: Devices of the tensor-parallel exercise's split projection.
TP_DEVICES = 2


def _ridge(name: str, dtype: str = "bf16") -> float:
    d = hardware.get(name)
    return ridge_point(d.peak(dtype), d.memory_bandwidth)


def _mbu_gpt_fast_int8() -> float:
    weight_bytes = models.get("llama-2-7b").weight_bytes("int8")  # every weight, one byte each
    seconds_per_token = 1.0 / measurements.get("gpt-fast-llama2-7b-int8").value
    return achieved_fraction(weight_bytes, seconds_per_token,
                             hardware.get("a100-sxm-80gb").memory_bandwidth)


def _mamf_wave_efficiency() -> float:
    """Share of the SM slots the best MAMF shape on the H100 SXM fills with MAMF_TILE tiles."""
    shape = measurements.get("mamf-h100-sxm-bf16").shape
    return float(kernels.gemm_waves(shape["m"], shape["n"], *MAMF_TILE,
                                    hardware.get("h100-sxm").sm_count).efficiency)


def _maf_clock_efficiency() -> float:
    """AMD's MI300X MAF over the dense BF16 peak scaled to the clock measured during the run."""
    mi300x = hardware.get("mi300x")
    clock = measurements.get("amd-maf-mi300x-bf16-clock").value
    peak_at_clock = mi300x.peak("bf16") * clock / mi300x.boost_clock_hz
    return measurements.get("amd-maf-mi300x-bf16").value / peak_at_clock


def _l2_tile_side(device: str = "h100-pcie", d: int = EXPLORER_WIDTH) -> float:
    """The smallest square tile side in TILE_SIDES at which a d^3 BF16 GEMM with no reuse
    between tiles reaches the device's L2 ridge point."""
    dev = hardware.get(device)
    l2_ridge = ridge_point(dev.peak("bf16"), memory.level(dev, "l2").bandwidth)
    tiled = kernels.gemm_tiled(d, d, d, TILE_SIDES, TILE_SIDES, "bf16")
    return float(TILE_SIDES[np.argmax(tiled.intensity >= l2_ridge)])


def _tp_link_intensity(m: int = 4096, n: int = EXPLORER_WIDTH, k: int = EXPLORER_WIDTH) -> float:
    """FLOP per byte sent over the link by one device of a TP_DEVICES-way row-split projection:
    its share of the FLOPs over the bytes its ring all-reduce of the M x N output sends."""
    p = TP_DEVICES
    local = kernels.gemm(m, n, k // p, "bf16")
    ring = comm.ring_all_reduce(memory.tensor_bytes(m * n, "bf16"), p,
                                hardware.get("h100-sxm").interconnect_bandwidth, 0.0)
    return float(local.flops / ring.bytes_sent)


register("ch03.ridge-h100", "dense BF16 peak ÷ HBM bandwidth.", lambda: _ridge("h100-sxm"),
         unit="FLOP/byte", fmt=lambda x: f"{x:.1f} FLOP/byte")
register("ch03.ridge-a100", "dense BF16 peak ÷ HBM bandwidth of the A100 SXM 80 GB.",
         lambda: _ridge("a100-sxm-80gb"), unit="FLOP/byte", fmt=lambda x: f"{x:.1f} FLOP/byte")
register("ch03.mbu-gpt-fast-int8",
         "bytes read per token (one byte per int8 weight) × tokens per second ÷ the A100 "
         "80 GB's bandwidth.",
         _mbu_gpt_fast_int8, rel_tol=0.05, unit="", fmt=lambda x: f"{x:.1%} of peak bandwidth")
register("ch03.mamf-wave-efficiency",
         "count the tiles, ceil(M / 128) x ceil(N / 256), then the waves on 132 SMs; the "
         "efficiency is tiles ÷ (waves x SMs).",
         _mamf_wave_efficiency, rel_tol=0.01, unit="", fmt=lambda x: f"{x:.1%}")
register("ch03.maf-clock-efficiency",
         "a peak is proportional to the clock: scale the dense BF16 peak by the measured clock "
         "over the boost clock, then divide the measured FLOP/s by it.",
         _maf_clock_efficiency, rel_tol=0.02, unit="", fmt=lambda x: f"{x:.1%}")
register("ch03.l2-tile-side-h100-pcie",
         "with square T x T tiles the intensity against L2 is K / (2K/T + 1); set it equal "
         "to the peak ÷ the L2 bandwidth and round T up to a multiple of 32.",
         _l2_tile_side, rel_tol=0.05, unit="elements", fmt=lambda x: f"T = {x:.0f}")
register("ch03.tp2-link-intensity",
         "each device does 2 M N (K/2) FLOP and its ring all-reduce sends 2 (p - 1)/p x M N x "
         "2 bytes; M and N cancel.",
         _tp_link_intensity, rel_tol=0.02, unit="FLOP/byte", fmt=lambda x: f"{x:.0f} FLOP/byte")
