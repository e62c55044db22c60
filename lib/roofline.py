"""The roofline model: attainable FLOP/s, the ridge point, kernel time and its bound.

A kernel that performs ``flops`` FLOP while moving ``bytes`` bytes through main
memory cannot finish faster than either roof allows::

    T_math = flops / peak_flops          (compute roof)
    T_mem  = bytes / memory_bandwidth    (memory roof)
    T     >= max(T_math, T_mem)

Its arithmetic intensity is ``I = flops / bytes`` (FLOP/byte); attainable
throughput is ``min(peak_flops, memory_bandwidth * I)``; the ridge point
``peak_flops / memory_bandwidth`` is the intensity at which the two roofs meet.
Every function broadcasts over numpy arrays, so a sweep over a million
(kernel, device) pairs is one call.

Introduced in chapters/03_roofline.ipynb.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lib._validate import positive, scalar_or_array

__all__ = [
    "arithmetic_intensity",
    "attainable_flops",
    "ridge_point",
    "kernel_time",
    "bound",
    "MEMORY",
    "COMPUTE",
]

MEMORY = "memory"
COMPUTE = "compute"


def arithmetic_intensity(flops: ArrayLike, bytes_moved: ArrayLike) -> float | np.ndarray:
    """FLOP per byte moved through main memory, ``flops / bytes_moved``.

    Examples
    --------
    >>> arithmetic_intensity(2 * 4096, 4 * 4096)  # BF16 dot product
    0.5
    """
    f = positive("flops", flops, allow_zero=True)
    b = positive("bytes_moved", bytes_moved)
    return scalar_or_array(f / b)


def ridge_point(peak_flops: ArrayLike, memory_bandwidth: ArrayLike) -> float | np.ndarray:
    """The intensity (FLOP/byte) where the memory roof meets the compute roof.

    Examples
    --------
    >>> round(ridge_point(989.4e12, 3.35e12))   # H100 SXM, dense BF16
    295
    >>> round(ridge_point(312e12, 2.039e12))    # A100 SXM 80 GB, BF16
    153
    """
    p = positive("peak_flops", peak_flops)
    bw = positive("memory_bandwidth", memory_bandwidth)
    return scalar_or_array(p / bw)


def attainable_flops(intensity: ArrayLike, peak_flops: ArrayLike,
                     memory_bandwidth: ArrayLike) -> float | np.ndarray:
    """Attainable FLOP/s at a given intensity: ``min(peak, bandwidth * intensity)``.

    Examples
    --------
    >>> attainable_flops(0.5, 989.4e12, 3.35e12) / 1e12   # dot product on H100: 1.7 TFLOP/s
    1.675
    >>> attainable_flops(1000, 989.4e12, 3.35e12) / 1e12  # past the ridge: the compute roof
    989.4
    """
    i = positive("intensity", intensity, allow_zero=True)
    p = positive("peak_flops", peak_flops)
    bw = positive("memory_bandwidth", memory_bandwidth)
    return scalar_or_array(np.minimum(p, bw * i))


def kernel_time(flops: ArrayLike, bytes_moved: ArrayLike, peak_flops: ArrayLike,
                memory_bandwidth: ArrayLike) -> float | np.ndarray:
    """Roofline lower bound on a kernel's time: ``max(flops / peak, bytes / bandwidth)`` seconds.

    Examples
    --------
    >>> # Reading 14 GB of BF16 weights once on an H100 SXM: 4.2 ms, memory-bound
    >>> round(kernel_time(14e9, 14e9, 989.4e12, 3.35e12) * 1e3, 2)
    4.18
    """
    f = positive("flops", flops, allow_zero=True)
    b = positive("bytes_moved", bytes_moved, allow_zero=True)
    p = positive("peak_flops", peak_flops)
    bw = positive("memory_bandwidth", memory_bandwidth)
    return scalar_or_array(np.maximum(f / p, b / bw))


def bound(flops: ArrayLike, bytes_moved: ArrayLike, peak_flops: ArrayLike,
          memory_bandwidth: ArrayLike) -> str | np.ndarray:
    """Which roof sets the time: ``"memory"`` or ``"compute"`` (ties count as compute).

    Examples
    --------
    >>> bound(2 * 4096, 4 * 4096, 989.4e12, 3.35e12)
    'memory'
    >>> bound([1e12, 1e6], [1e9, 1e9], 989.4e12, 3.35e12)
    array(['compute', 'memory'], dtype='<U7')
    """
    f = positive("flops", flops, allow_zero=True)
    b = positive("bytes_moved", bytes_moved, allow_zero=True)
    p = positive("peak_flops", peak_flops)
    bw = positive("memory_bandwidth", memory_bandwidth)
    out = np.where(b / bw > f / p, MEMORY, COMPUTE)
    return out.item() if out.ndim == 0 else out
