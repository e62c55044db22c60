"""FLOPs and bytes of the kernels the book places on the roofline.

Conventions (stated once in chapters/03_roofline.ipynb):

* one multiply-add is 2 FLOP;
* bytes are the *compulsory* main-memory traffic: every input read once and
  every output written once, as a kernel with perfect on-chip reuse would do.
  Real kernels move at least this much, so the roofline time is a lower bound;
* elementwise non-linear operations (``exp``, ``rsqrt``, a compare) count as
  1 FLOP each, so softmax and the norms are rough counts, and they are
  memory-bound by orders of magnitude whatever the exact count.

All sizes broadcast: ``gemm(m=[1, 16, 256], n=4096, k=4096)`` is three kernels.

Introduced in chapters/01_memory_bound.ipynb (vector ops, dot, GEMV,
elementwise chains) and chapters/02_compute_bound.ipynb (GEMM, peak FLOP/s from
units and clock, tiled GEMM traffic, on-chip tile footprint, wave quantisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lib._validate import positive, scalar_or_array
from lib.dtypes import bytes_per_element

__all__ = [
    "Kernel",
    "vector_add",
    "vector_scale",
    "dot",
    "gemv",
    "gemm",
    "elementwise_chain",
    "softmax",
    "layernorm",
    "rmsnorm",
    "peak_flops_from_units",
    "gemm_tiled",
    "gemm_tile_footprint",
    "Waves",
    "gemm_waves",
]


@dataclass(frozen=True)
class Kernel:
    """A kernel's work and traffic: ``flops`` (FLOP) and ``bytes_moved`` (byte).

    Both may be arrays of the same broadcast shape.

    Examples
    --------
    >>> k = dot(4096, "bf16")
    >>> k.intensity
    0.5
    """

    name: str
    flops: float | np.ndarray
    bytes_moved: float | np.ndarray

    @property
    def intensity(self) -> float | np.ndarray:
        """Arithmetic intensity, FLOP/byte."""
        return scalar_or_array(np.asarray(self.flops) / np.asarray(self.bytes_moved))


def _k(name: str, flops: np.ndarray, bytes_moved: np.ndarray) -> Kernel:
    f, b = np.broadcast_arrays(np.asarray(flops, float), np.asarray(bytes_moved, float))
    return Kernel(name, scalar_or_array(f), scalar_or_array(b))


def vector_add(n: ArrayLike, dtype: str = "fp32") -> Kernel:
    """``z = x + y`` over ``n`` elements: n FLOP, 3n elements moved.

    Examples
    --------
    >>> k = vector_add(1_000_000, "fp32")
    >>> k.flops, k.bytes_moved, round(k.intensity, 4)
    (1000000.0, 12000000.0, 0.0833)
    """
    n = positive("n", n, integer=True)
    b = bytes_per_element(dtype)
    return _k("vector add", n, 3 * n * b)


def vector_scale(n: ArrayLike, dtype: str = "fp32") -> Kernel:
    """``y = a * x`` over ``n`` elements: n FLOP, 2n elements moved.

    Examples
    --------
    >>> vector_scale(1000, "fp32").intensity
    0.125
    """
    n = positive("n", n, integer=True)
    b = bytes_per_element(dtype)
    return _k("vector scale", n, 2 * n * b)


def dot(n: ArrayLike, dtype: str = "fp32") -> Kernel:
    """Dot product of two length-``n`` vectors: 2n FLOP, 2n elements read (+1 written).

    Examples
    --------
    >>> dot(4096, "bf16").intensity   # 1/2 FLOP per byte
    0.5
    >>> round(dot(4096, "fp32").intensity, 3)
    0.25
    """
    n = positive("n", n, integer=True)
    b = bytes_per_element(dtype)
    # the single output element is negligible; count it anyway for exactness
    return _k("dot", 2 * n, 2 * n * b + b)


def gemv(m: ArrayLike, n: ArrayLike, dtype: str = "bf16") -> Kernel:
    """Matrix-vector product ``y = A x`` with ``A`` of shape (m, n).

    2mn FLOP; reads A (mn) and x (n), writes y (m). Intensity approaches
    2 / bytes_per_element: 1 FLOP/byte at 16-bit, whatever the size.

    Examples
    --------
    >>> k = gemv(4096, 4096, "bf16")
    >>> round(k.intensity, 4)
    0.9995
    """
    m = positive("m", m, integer=True)
    n = positive("n", n, integer=True)
    b = bytes_per_element(dtype)
    return _k("GEMV", 2 * m * n, (m * n + n + m) * b)


def gemm(m: ArrayLike, n: ArrayLike, k: ArrayLike, dtype: str = "bf16",
         weight_dtype: str | None = None) -> Kernel:
    """Matrix product ``C (m, n) = A (m, k) @ B (k, n)``.

    2mnk FLOP; reads A and B once, writes C once. ``weight_dtype`` (for B) lets the
    weights be stored narrower than the activations, as in weight-only quantisation.

    Intensity = 2mnk / (b_a mk + b_w kn + b_a mn): about ``m`` FLOP/byte at 16-bit when
    m is much smaller than n and k, which is why batch size sets decode's intensity.

    Examples
    --------
    >>> round(gemm(4096, 4096, 4096, "bf16").intensity)   # a large square GEMM
    1365
    >>> round(gemm(16, 4096, 4096, "bf16").intensity, 1)  # 16 tokens through a layer
    15.9
    >>> round(gemm(16, 4096, 4096, "bf16", weight_dtype="int8").intensity, 1)
    31.5
    """
    m = positive("m", m, integer=True)
    n = positive("n", n, integer=True)
    k = positive("k", k, integer=True)
    ba = bytes_per_element(dtype)
    bw = bytes_per_element(weight_dtype) if weight_dtype is not None else ba
    return _k("GEMM", 2 * m * n * k, ba * m * k + bw * k * n + ba * m * n)


def elementwise_chain(n: ArrayLike, n_ops: ArrayLike, dtype: str = "fp32",
                      fused: bool = False) -> Kernel:
    """A chain of ``n_ops`` unary elementwise operations over ``n`` elements.

    Unfused, each op is its own kernel: it reads and writes the whole tensor,
    ``2 n n_ops`` elements of traffic. Fused, the chain reads once and writes once:
    ``2 n`` elements. The FLOPs (``n n_ops``) are the same either way, so fusion
    multiplies the intensity by ``n_ops``.

    Examples
    --------
    >>> elementwise_chain(1e6, 4, "fp32").intensity
    0.125
    >>> elementwise_chain(1e6, 4, "fp32", fused=True).intensity
    0.5
    """
    n = positive("n", n, integer=True)
    ops = positive("n_ops", n_ops, integer=True)
    b = bytes_per_element(dtype)
    traffic = 2 * n * b if fused else 2 * n * ops * b
    name = f"{'fused' if fused else 'unfused'} elementwise chain"
    return _k(name, n * ops, traffic * np.ones_like(ops))


def softmax(rows: ArrayLike, cols: ArrayLike, dtype: str = "bf16") -> Kernel:
    """Row-wise softmax of a (rows, cols) matrix in one fused pass.

    About 5 FLOP per element (max, subtract, exp, sum, divide); reads and writes
    the matrix once.

    Examples
    --------
    >>> softmax(4096, 4096, "bf16").intensity
    1.25
    """
    r = positive("rows", rows, integer=True)
    c = positive("cols", cols, integer=True)
    b = bytes_per_element(dtype)
    return _k("softmax", 5 * r * c, 2 * r * c * b)


def layernorm(rows: ArrayLike, cols: ArrayLike, dtype: str = "bf16") -> Kernel:
    """LayerNorm over the last axis of a (rows, cols) activation, with scale and bias.

    About 8 FLOP per element (mean, variance, normalise, scale, shift); reads the
    input, the two length-``cols`` parameter vectors, writes the output.

    Examples
    --------
    >>> round(layernorm(1, 4096, "bf16").intensity, 2)
    1.0
    """
    r = positive("rows", rows, integer=True)
    c = positive("cols", cols, integer=True)
    b = bytes_per_element(dtype)
    return _k("LayerNorm", 8 * r * c, (2 * r * c + 2 * c) * b)


def rmsnorm(rows: ArrayLike, cols: ArrayLike, dtype: str = "bf16") -> Kernel:
    """RMSNorm over the last axis of a (rows, cols) activation, with a scale vector.

    About 4 FLOP per element (square, sum, scale by 1/rms, multiply by gamma);
    reads the input and gamma, writes the output.

    Examples
    --------
    >>> round(rmsnorm(1, 4096, "bf16").intensity, 2)
    0.67
    """
    r = positive("rows", rows, integer=True)
    c = positive("cols", cols, integer=True)
    b = bytes_per_element(dtype)
    return _k("RMSNorm", 4 * r * c, (2 * r * c + c) * b)


def peak_flops_from_units(units: ArrayLike, fma_per_unit_per_clock: ArrayLike,
                          clock_hz: ArrayLike) -> float | np.ndarray:
    """Peak FLOP/s of ``units`` identical multiply-add units: ``units x FMA/clock x 2 x clock``.

    A datasheet's peak is nothing more than this product: how many units there
    are, how many fused multiply-adds (FMA) each completes per clock cycle, 2 FLOP
    per FMA, and the clock rate. It assumes every unit issues every cycle at the
    stated (boost) clock, which is why measured throughput stays below it.

    Parameters
    ----------
    units : array_like
        Number of units (tensor cores, FP32 lanes, SMs...), a whole number.
    fma_per_unit_per_clock : array_like
        Multiply-adds each unit completes per clock cycle.
    clock_hz : array_like
        Clock rate, Hz.

    Returns
    -------
    float or ndarray
        FLOP/s.

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> # A100: 432 tensor cores x 256 dense FP16 FMA/clock at 1410 MHz (Ampere whitepaper)
    >>> round(peak_flops_from_units(432, 256, 1.41e9) / 1e12, 1)
    311.9
    >>> # A100: 6912 FP32 lanes (CUDA cores), 1 FMA/clock each
    >>> round(peak_flops_from_units(6912, 1, 1.41e9) / 1e12, 1)
    19.5
    """
    u = positive("units", units, integer=True)
    f = positive("fma_per_unit_per_clock", fma_per_unit_per_clock)
    c = positive("clock_hz", clock_hz)
    return scalar_or_array(u * f * 2.0 * c)


def _ceil_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.ceil(a / b)


def gemm_tiled(m: ArrayLike, n: ArrayLike, k: ArrayLike, tile_m: ArrayLike, tile_n: ArrayLike,
               dtype: str = "bf16", weight_dtype: str | None = None) -> Kernel:
    """``C (m, n) = A (m, k) @ B (k, n)`` computed one ``tile_m x tile_n`` block of C at a time.

    Each output tile needs a ``tile_m x k`` panel of A and a ``k x tile_n`` panel of
    B, streamed from the memory below the on-chip store that holds the tile, and
    nothing is shared between tiles. So A is read once per column of tiles,
    ``ceil(n / tile_n)`` times, B once per row of tiles, ``ceil(m / tile_m)``
    times, and C is written once::

        bytes = b_a m k ceil(n / tile_n) + b_w k n ceil(m / tile_m) + b_a m n

    For large m and n the intensity is about ``2 / (b (1/tile_m + 1/tile_n))``,
    i.e. ``T / b`` for square T x T tiles, whatever the matrix size: on-chip
    capacity, not the problem, caps the reuse. With one tile covering the whole
    output (``tile_m >= m`` and ``tile_n >= n``) this is exactly :func:`gemm`'s
    compulsory traffic. The FLOPs do not depend on the tiling.

    Parameters
    ----------
    m, n, k : array_like
        The GEMM's shape, whole numbers.
    tile_m, tile_n : array_like
        The output tile's shape, whole numbers.
    dtype, weight_dtype : str
        As in :func:`gemm`: activations (A, C) and weights (B).

    Returns
    -------
    Kernel

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> # 4096^3 in BF16 with 128 x 256 tiles: ~84 FLOP/byte instead of 1365
    >>> round(gemm_tiled(4096, 4096, 4096, 128, 256, "bf16").intensity, 1)
    83.6
    >>> # a tile as large as the output gives the compulsory traffic of gemm()
    >>> gemm_tiled(64, 512, 256, 64, 512).bytes_moved == gemm(64, 512, 256).bytes_moved
    True
    """
    m = positive("m", m, integer=True)
    n = positive("n", n, integer=True)
    k = positive("k", k, integer=True)
    tm = positive("tile_m", tile_m, integer=True)
    tn = positive("tile_n", tile_n, integer=True)
    ba = bytes_per_element(dtype)
    bw = bytes_per_element(weight_dtype) if weight_dtype is not None else ba
    traffic = ba * m * k * _ceil_div(n, tn) + bw * k * n * _ceil_div(m, tm) + ba * m * n
    return _k("tiled GEMM", 2 * m * n * k, traffic)


def gemm_tile_footprint(tile_m: ArrayLike, tile_n: ArrayLike, tile_k: ArrayLike,
                        dtype: str = "bf16", acc_dtype: str = "fp32") -> float | np.ndarray:
    """On-chip bytes one output tile needs: its accumulator plus one K-slice of each panel.

    ``tile_m x tile_n`` accumulators in ``acc_dtype`` (tensor cores accumulate
    16-bit products in FP32), plus a ``tile_m x tile_k`` slice of A and a
    ``tile_k x tile_n`` slice of B in ``dtype``. Real kernels keep several
    such slices in flight to hide latency, so treat this as the minimum. It is
    why a tile cannot simply be the whole matrix.

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> gemm_tile_footprint(128, 256, 64, "bf16") / 1024   # KiB
    176.0
    >>> gemm_tile_footprint(4096, 4096, 64, "bf16") / 2**20  # MiB: far beyond one SM
    65.0
    """
    tm = positive("tile_m", tile_m, integer=True)
    tn = positive("tile_n", tile_n, integer=True)
    tk = positive("tile_k", tile_k, integer=True)
    b = bytes_per_element(dtype)
    acc = bytes_per_element(acc_dtype)
    return scalar_or_array(tm * tn * acc + (tm + tn) * tk * b)


@dataclass(frozen=True)
class Waves:
    """How a GEMM's output tiles fill the processors: ``tiles``, ``waves`` and ``efficiency``.

    ``efficiency`` is the fraction of (processor x wave) slots that hold a tile.

    Introduced in chapters/02_compute_bound.ipynb.
    """

    tiles: float | np.ndarray
    waves: float | np.ndarray
    efficiency: float | np.ndarray


def gemm_waves(m: ArrayLike, n: ArrayLike, tile_m: ArrayLike, tile_n: ArrayLike,
               units: ArrayLike) -> Waves:
    """Wave quantisation: ``ceil(m/tile_m) ceil(n/tile_n)`` tiles run on ``units`` processors.

    If each of ``units`` processors (SMs on an NVIDIA GPU) works on one tile at a
    time and every tile takes as long, the tiles run in ``ceil(tiles / units)``
    waves and the last wave may be partly empty: the time is that of the full
    waves, and the fraction of processor time doing useful work is
    ``tiles / (waves x units)``.

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> w = gemm_waves(4096, 4096, 128, 256, 132)   # H100 SXM5: 132 SMs
    >>> w.tiles, w.waves, round(w.efficiency, 3)
    (512.0, 4.0, 0.97)
    >>> w = gemm_waves(1536, 1536, 128, 128, 132)   # 144 tiles: a second, nearly empty wave
    >>> w.tiles, w.waves, round(w.efficiency, 3)
    (144.0, 2.0, 0.545)
    """
    m = positive("m", m, integer=True)
    n = positive("n", n, integer=True)
    tm = positive("tile_m", tile_m, integer=True)
    tn = positive("tile_n", tile_n, integer=True)
    u = positive("units", units, integer=True)
    tiles = _ceil_div(m, tm) * _ceil_div(n, tn)
    waves = _ceil_div(tiles, u)
    tiles, waves, eff = np.broadcast_arrays(tiles, waves, tiles / (waves * u))
    return Waves(scalar_or_array(tiles), scalar_or_array(waves), scalar_or_array(eff))
