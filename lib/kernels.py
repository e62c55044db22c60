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
elementwise chains) and chapters/02_compute_bound.ipynb (GEMM).
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
