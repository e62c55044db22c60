"""FLOPs and bytes of the kernels the book places on the roofline.

Conventions (stated once in chapters/03_roofline.ipynb):

* one multiply-add is 2 FLOP;
* bytes are the *compulsory* main-memory traffic: every input read once and
  every output written once, as a kernel with perfect on-chip reuse would do.
  Real kernels move at least this much, so the roofline time is a lower bound;
* elementwise non-linear operations (``exp``, ``rsqrt``, a compare) count as
  1 FLOP each, so softmax and the norms are rough counts; standalone, they are
  memory-bound whatever the exact count. The exponentials are counted apart as well
  (``Kernel.exps``): a GPU evaluates them on special-function units a few hundred
  times slower than its tensor cores, which leaves a standalone softmax memory-bound
  by only a factor of a few (chapter 5; :mod:`lib.inference` costs them there);
* bytes are split into weights, KV cache and activations (every other operand).

All sizes broadcast: ``gemm(m=[1, 16, 256], n=4096, k=4096)`` is three kernels.

Introduced in chapters/01_memory_bound.ipynb (vector ops, dot, GEMV,
elementwise chains, softmax, norms), chapters/02_compute_bound.ipynb (GEMM, peak
FLOP/s from units and clock, tiled GEMM traffic, on-chip tile footprint, wave
quantisation), chapters/04_transformer_arithmetic.ipynb (the activation, the
embedding lookup, attention's FLOPs, grouped GEMMs) and chapters/05_prefill.ipynb
(attention's traffic, fused and unfused, and its query tiles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lib import hardware, roofline
from lib._validate import flag as _flag
from lib._validate import choice, positive, scalar_or_array
from lib.dtypes import bytes_per_element
from lib.hardware import Device

__all__ = [
    "Kernel",
    "vector_add",
    "vector_scale",
    "dot",
    "gemv",
    "gemm",
    "PRECISIONS",
    "gemm_at",
    "critical_m",
    "elementwise_chain",
    "softmax",
    "layernorm",
    "rmsnorm",
    "activation",
    "embedding",
    "attention",
    "peak_flops_from_units",
    "gemm_tiled",
    "gemm_tile_footprint",
    "Waves",
    "gemm_waves",
]


@dataclass(frozen=True)
class Kernel:
    """A kernel's work and traffic: ``flops`` (FLOP) and ``bytes_moved`` (byte).

    ``bytes_moved`` is split by kind where the kernel knows it: ``bytes_weights`` of
    model weights, ``bytes_kv`` of KV cache, and the rest, :attr:`bytes_act`, of
    activations (any other operand: the inputs and outputs that flow between kernels).
    ``exps`` counts the special-function evaluations (``exp``, ``tanh``) among the
    ``flops``: a GPU runs them on separate, much slower units (chapter 5). All fields may
    be arrays of one broadcast shape.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> k = dot(4096, "bf16")
    >>> k.intensity
    0.5
    >>> g = gemm(16, 4096, 4096, "bf16")
    >>> g.bytes_weights / g.bytes_moved        # the weight matrix is most of a thin GEMM
    0.9922480620155039
    """

    name: str
    flops: float | np.ndarray
    bytes_moved: float | np.ndarray
    bytes_weights: float | np.ndarray = 0.0
    bytes_kv: float | np.ndarray = 0.0
    exps: float | np.ndarray = 0.0

    def __post_init__(self) -> None:
        fields = ("flops", "bytes_moved", "bytes_weights", "bytes_kv", "exps")
        arrays = np.broadcast_arrays(*(np.asarray(getattr(self, f), float) for f in fields))
        for f, a in zip(fields, arrays):
            object.__setattr__(self, f, scalar_or_array(a))

    @property
    def bytes_act(self) -> float | np.ndarray:
        """Bytes that are neither weights nor KV cache: activations and other operands."""
        return scalar_or_array(np.asarray(self.bytes_moved) - self.bytes_weights
                               - self.bytes_kv)

    @property
    def intensity(self) -> float | np.ndarray:
        """Arithmetic intensity, FLOP/byte (``inf`` for a kernel that moves no bytes)."""
        f, b = np.asarray(self.flops, float), np.asarray(self.bytes_moved, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(b > 0, f / np.where(b > 0, b, 1.0), np.inf)
        return scalar_or_array(out)

    def repeat(self, times: ArrayLike, name: str | None = None) -> "Kernel":
        """``times`` launches of this kernel: every count multiplied, e.g. one per layer.

        Examples
        --------
        >>> rmsnorm(1, 4096).repeat(64, "norms").flops == 64 * rmsnorm(1, 4096).flops
        True
        """
        n = positive("times", times, allow_zero=True)
        return Kernel(name or self.name, n * self.flops, n * self.bytes_moved,
                      n * self.bytes_weights, n * self.bytes_kv, n * self.exps)


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
    return Kernel("vector add", n, 3 * n * b)


def vector_scale(n: ArrayLike, dtype: str = "fp32") -> Kernel:
    """``y = a * x`` over ``n`` elements: n FLOP, 2n elements moved.

    Examples
    --------
    >>> vector_scale(1000, "fp32").intensity
    0.125
    """
    n = positive("n", n, integer=True)
    b = bytes_per_element(dtype)
    return Kernel("vector scale", n, 2 * n * b)


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
    return Kernel("dot", 2 * n, 2 * n * b + b)


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
    return Kernel("GEMV", 2 * m * n, (m * n + n + m) * b, bytes_weights=m * n * b)


def gemm(m: ArrayLike, n: ArrayLike, k: ArrayLike, dtype: str = "bf16",
         weight_dtype: str | None = None, *, bias: bool = False,
         groups: ArrayLike = 1) -> Kernel:
    """Matrix product ``C (m, n) = A (m, k) @ B (k, n)``, B being the weights.

    2mnk FLOP; reads A and B once, writes C once. ``weight_dtype`` (for B) lets the
    weights be stored narrower than the activations, as in weight-only quantisation.

    Intensity = 2mnk / (b_a mk + b_w kn + b_a mn): about ``m`` FLOP/byte at 16-bit when
    m is much smaller than n and k, which is why batch size sets decode's intensity.

    Parameters
    ----------
    m, n, k : array_like
        The shape, whole numbers.
    dtype : str
        Activations A and C.
    weight_dtype : str, optional
        The weights B; default ``dtype``.
    bias : bool
        Add a bias vector of ``n`` weights to C in the GEMM's epilogue: ``mn`` more FLOP.
    groups : array_like
        Independent weight matrices sharing the ``m`` rows between them, each read once:
        a mixture of experts' grouped GEMM, with ``groups`` the experts the rows are routed
        to (chapter 4). The FLOPs do not change; the weight bytes are ``groups`` times one
        matrix's.

    Introduced in chapters/02_compute_bound.ipynb; ``groups`` in
    chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> round(gemm(4096, 4096, 4096, "bf16").intensity)   # a large square GEMM
    1365
    >>> round(gemm(16, 4096, 4096, "bf16").intensity, 1)  # 16 tokens through a layer
    15.9
    >>> round(gemm(16, 4096, 4096, "bf16", weight_dtype="int8").intensity, 1)
    31.5
    >>> gemm(2, 8, 4, groups=2).bytes_weights == 2 * gemm(2, 8, 4).bytes_weights
    True
    """
    m = positive("m", m, integer=True)
    n = positive("n", n, integer=True)
    k = positive("k", k, integer=True)
    g = positive("groups", groups, allow_zero=True)
    ba = bytes_per_element(dtype)
    bw = bytes_per_element(weight_dtype) if weight_dtype is not None else ba
    with_bias = _flag("bias", bias)
    weights = g * (k * n + (n if with_bias else 0)) * bw
    return Kernel("GEMM", 2 * m * n * k + (m * n if with_bias else 0),
                  ba * m * k + weights + ba * m * n, bytes_weights=weights)


#: Precisions of a matrix product, by key: (label, compute dtype, activation dtype, weight
#: dtype). ``w8a16`` is weight-only quantisation: INT8 weights, BF16 activations and math;
#: ``int8`` quantises both operands and computes in INT8.
PRECISIONS = {
    "fp32": ("FP32", "fp32", "fp32", "fp32"),
    "bf16": ("BF16", "bf16", "bf16", "bf16"),
    "w8a16": ("INT8 weights, BF16 math", "bf16", "bf16", "int8"),
    "fp8": ("FP8", "fp8", "fp8", "fp8"),
    "int8": ("INT8 × INT8", "int8", "int8", "int8"),
}


def gemm_at(m: ArrayLike, n: ArrayLike, k: ArrayLike, precision: str) -> tuple[Kernel, str]:
    """``gemm(m, n, k)`` at one of :data:`PRECISIONS`, and the dtype its math runs in.

    Precision moves both roofs: the bytes per element (the intensity) and the compute
    roof the tensor cores offer for the math's dtype (chapter 3).

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> g, compute = gemm_at(16, 4096, 4096, "w8a16")
    >>> round(g.intensity, 1), compute
    (31.5, 'bf16')
    """
    _, compute, act, weight = PRECISIONS[choice("precision", precision, PRECISIONS)]
    return gemm(m, n, k, act, weight_dtype=weight), compute


def critical_m(device: "str | Device", n: ArrayLike, k: ArrayLike, dtype: str = "bf16",
               weight_dtype: str | None = None, m_max: int = 1 << 16) -> float:
    """The fewest rows ``m`` at which ``gemm(m, n, k)`` is compute-bound on ``device``.

    The GEMM runs under the dense ``dtype`` roof; ``inf`` if no ``m`` up to ``m_max`` gets
    there. For a weight matrix this is the *critical batch*: below it, reading the weights
    sets the time; above it, the math.

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> critical_m("h100-sxm", 8192, 8192)
    319.0
    >>> critical_m("h100-sxm", 8192, 8192, weight_dtype="int8")   # half the weight bytes
    160.0
    """
    dev = hardware.get(device)
    m = np.arange(1, int(positive("m_max", m_max, integer=True)) + 1)
    g = gemm(m, n, k, dtype, weight_dtype)
    return roofline.first_compute_bound(
        m, roofline.bound(g.flops, g.bytes_moved, dev.peak(dtype), dev.memory_bandwidth))


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
    return Kernel(name, n * ops, traffic)


def softmax(rows: ArrayLike, cols: ArrayLike, dtype: str = "bf16") -> Kernel:
    """Row-wise softmax of a (rows, cols) matrix in one pass through memory.

    About 5 FLOP per element (max, subtract, exp, sum, divide), one of them an ``exp``;
    reads and writes the matrix once.

    Introduced in chapters/01_memory_bound.ipynb; its exponentials in
    chapters/05_prefill.ipynb.

    Examples
    --------
    >>> softmax(4096, 4096, "bf16").intensity
    1.25
    >>> softmax(2, 3).exps
    6.0
    """
    r = positive("rows", rows, integer=True)
    c = positive("cols", cols, integer=True)
    b = bytes_per_element(dtype)
    return Kernel("softmax", 5 * r * c, 2 * r * c * b, exps=r * c)


def _norm(name: str, flop_per_element: int, params: int, rows: ArrayLike, cols: ArrayLike,
          dtype: str, weight_dtype: str | None) -> Kernel:
    r = positive("rows", rows, integer=True)
    c = positive("cols", cols, integer=True)
    b = bytes_per_element(dtype)
    weights = params * c * bytes_per_element(weight_dtype or dtype)
    return Kernel(name, flop_per_element * r * c, 2 * r * c * b + weights,
                  bytes_weights=weights)


def layernorm(rows: ArrayLike, cols: ArrayLike, dtype: str = "bf16",
              weight_dtype: str | None = None) -> Kernel:
    """LayerNorm over the last axis of a (rows, cols) activation, with scale and bias.

    About 8 FLOP per element (mean, variance, normalise, scale, shift); reads the
    input and the two length-``cols`` parameter vectors (at ``weight_dtype``, default
    ``dtype``), writes the output. The one ``rsqrt`` per row is not counted.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> round(layernorm(1, 4096, "bf16").intensity, 2)
    1.0
    """
    return _norm("LayerNorm", 8, 2, rows, cols, dtype, weight_dtype)


def rmsnorm(rows: ArrayLike, cols: ArrayLike, dtype: str = "bf16",
            weight_dtype: str | None = None) -> Kernel:
    """RMSNorm over the last axis of a (rows, cols) activation, with a scale vector.

    About 4 FLOP per element (square, sum, scale by 1/rms, multiply by gamma);
    reads the input and gamma (at ``weight_dtype``, default ``dtype``), writes the
    output. The one ``rsqrt`` per row is not counted.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> round(rmsnorm(1, 4096, "bf16").intensity, 2)
    0.67
    """
    return _norm("RMSNorm", 4, 1, rows, cols, dtype, weight_dtype)


def activation(n: ArrayLike, gated: bool = True, dtype: str = "bf16") -> Kernel:
    """An MLP's non-linearity over ``n`` hidden elements, as its own kernel.

    Gated (SwiGLU: ``silu(gate) * up``): reads the gate and the up halves (2n elements),
    writes n; 5 FLOP per element (negate, exp, add, divide, multiply), one an ``exp``.
    Plain (GELU, tanh form): reads n, writes n; about 8 FLOP per element, one a ``tanh``.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> k = activation(14336, gated=True)
    >>> k.flops / 14336, k.exps / 14336, k.bytes_moved / 14336
    (5.0, 1.0, 6.0)
    """
    x = positive("n", n, integer=True)
    b = bytes_per_element(dtype)
    if _flag("gated", gated):
        return Kernel("SiLU and multiply", 5 * x, 3 * x * b, exps=x)
    return Kernel("GELU", 8 * x, 2 * x * b, exps=x)


def embedding(rows: ArrayLike, tokens: ArrayLike, width: ArrayLike, dtype: str = "bf16",
              weight_dtype: str | None = None, tables: int = 1) -> Kernel:
    """A table lookup: ``rows`` distinct rows of ``width`` weights read, one per token written.

    The input embedding of a transformer does no arithmetic: it reads the rows of the
    tokens it sees (at most the whole table) and writes one ``width``-wide activation per
    token. This is why a decode step reads one row of the table, not all of it. With
    ``tables=2`` (a learned position table as well, GPT-2) ``rows`` counts the rows of both,
    and the two looked-up rows of each token are added: ``tokens x width`` FLOP.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> k = embedding(rows=8, tokens=8, width=4096)
    >>> k.flops, k.bytes_weights, k.bytes_act
    (0.0, 65536.0, 65536.0)
    """
    r = positive("rows", rows, allow_zero=True)
    t = positive("tokens", tokens, integer=True)
    w = positive("width", width, integer=True)
    n = int(positive("tables", tables, integer=True))
    weights = r * w * bytes_per_element(weight_dtype or dtype)
    return Kernel("embedding lookup", (n - 1) * t * w,
                  weights + t * w * bytes_per_element(dtype), bytes_weights=weights)


def attention(batch: ArrayLike, queries: ArrayLike, keys: ArrayLike, pairs: ArrayLike,
              heads: int, kv_heads: int, head_dim: int, dtype: str = "bf16",
              kv_dtype: str | None = None, fused: bool = True,
              tile_q: int | None = None) -> tuple[Kernel, Kernel, Kernel]:
    """Scaled dot-product attention as three kernels: scores ``Q K^T``, softmax, ``P V``.

    Per sequence and query head, ``queries`` new tokens attend over ``keys`` entries of the
    KV cache, computing ``pairs`` (query, key) scores: ``queries x keys`` in full, about
    half of that when a causal kernel skips the masked blocks. Each score costs a
    ``head_dim``-long dot product, and so does each weighted value:
    ``2 x pairs x head_dim`` FLOP per matmul per head. Grouped-query attention shares each
    of the ``kv_heads`` K and V heads among ``heads / kv_heads`` query heads: it shrinks
    the cache, not the arithmetic.

    **Unfused** (``fused=False``): the score matrix, ``queries x keys`` per head, goes
    through main memory: written by ``Q K^T``, read and written by the softmax, read by
    ``P V``. **Fused** (FlashAttention): one kernel keeps the scores on chip; the softmax
    moves no bytes and its kernel is the same launch. Main-memory traffic is then Q read,
    O written, and K and V read once per *query tile*. ``tile_q=None`` counts one pass
    over K and V (the compulsory traffic, as :func:`gemm` counts). An integer counts a
    pass per ``tile_q`` query rows (FlashAttention's Theorem 2; the query heads of one KV
    head packed into a tile): under a causal mask each tile after the first reads about
    the keys an average query sees, ``pairs / queries``. That is the traffic reaching the
    level below the SMs when no cache catches the re-reads: :func:`gemm_tiled`'s
    counterpart for attention.

    Parameters
    ----------
    batch, queries, keys, pairs : array_like
        Sequences; new tokens per sequence; KV entries each reads; scores each computes
        per head.
    heads, kv_heads, head_dim : int
        Query heads, KV heads, head width.
    dtype, kv_dtype : str
        Activations (Q, scores, O); the KV cache (default ``dtype``).
    fused : bool
    tile_q : int, optional
        Query rows per tile of a fused kernel; ``None``: K and V read once.

    Returns
    -------
    (Kernel, Kernel, Kernel)
        ``Q K^T`` (Q and K read), softmax (FLOPs and exps), ``P V`` (V read, O written).

    Introduced in chapters/03_roofline.ipynb (FLOPs) and
    chapters/05_prefill.ipynb (fused and unfused traffic, tiles).

    Examples
    --------
    >>> qk, sm, pv = attention(1, 1, 4096, 4096, 32, 8, 128)   # one decode token, GQA
    >>> qk.flops == 2 * 4096 * 32 * 128, sm.bytes_moved, pv.bytes_kv == 4096 * 8 * 128 * 2
    (True, 0.0, True)
    >>> qk, _, _ = attention(1, 8192, 8192, 8192 * 8193 / 2, 32, 8, 128, tile_q=128)
    >>> round(qk.intensity)            # levels off near the tile: 128 rows per K read
    124
    """
    b = positive("batch", batch, integer=True)
    n = positive("queries", queries, integer=True)
    c = positive("keys", keys, allow_zero=True, integer=True)
    s = positive("pairs", pairs, allow_zero=True)
    h = int(positive("heads", heads, integer=True))
    hkv = int(positive("kv_heads", kv_heads, integer=True))
    hd = int(positive("head_dim", head_dim, integer=True))
    ab = bytes_per_element(dtype)
    kb = bytes_per_element(kv_dtype or dtype)
    fused = _flag("fused", fused)
    matmul = 2 * b * h * hd * s
    q = o = b * n * h * hd * ab
    if fused:
        # T tiles: the first reads every key, each later one about the keys a query sees
        # on average, pairs / queries (under a causal mask, fewer than all of them)
        tiles = 1.0 if tile_q is None else np.ceil(
            n * (h / hkv) / int(positive("tile_q", tile_q, integer=True)))
        kv = b * hkv * hd * kb * (c + (tiles - 1) * s / n)
        scores = 0.0
        softmax_elements = b * h * s
    else:
        kv = b * hkv * hd * kb * c
        scores = b * h * n * c * ab          # the score matrix, once
        softmax_elements = b * h * n * c
    return (Kernel("attention scores QK^T", matmul, q + kv + scores, bytes_kv=kv),
            Kernel("softmax", 5 * softmax_elements, 2 * scores, exps=softmax_elements),
            Kernel("attention x V", matmul, scores + kv + o, bytes_kv=kv))


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
    return Kernel("tiled GEMM", 2 * m * n * k, traffic)


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
