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

When compute and memory traffic overlap perfectly a kernel takes
``max(T_math, T_mem)``; when they do not overlap at all it takes
``T_math + T_mem``. :func:`kernel_time_bounds` returns both. A measured time is
compared with the model by :func:`achieved_fraction` (MFU- and MBU-style
utilisation) and :func:`roofline_fraction` (how close to the roofline's bound).

Introduced in chapters/01_memory_bound.ipynb.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lib import hardware
from lib._validate import choice, positive, scalar_or_array
from lib.dtypes import DTYPES

__all__ = [
    "arithmetic_intensity",
    "attainable_flops",
    "ridge_point",
    "kernel_time",
    "kernel_time_bounds",
    "math_time",
    "memory_time",
    "bound",
    "bound_of",
    "achieved_fraction",
    "roofline_fraction",
    "first_compute_bound",
    "RidgeRow",
    "ridge_table",
    "MEMORY",
    "COMPUTE",
]

MEMORY = "memory"
COMPUTE = "compute"


def arithmetic_intensity(flops: ArrayLike, bytes_moved: ArrayLike) -> float | np.ndarray:
    """FLOP per byte moved through main memory, ``flops / bytes_moved``.

    Introduced in chapters/03_roofline.ipynb.

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

    Introduced in chapters/01_memory_bound.ipynb.

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

    Introduced in chapters/03_roofline.ipynb.

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

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> # Reading 14 GB of BF16 weights once on an H100 SXM: 4.2 ms, memory-bound
    >>> round(kernel_time(14e9, 14e9, 989.4e12, 3.35e12) * 1e3, 2)
    4.18
    """
    return scalar_or_array(np.maximum(math_time(flops, peak_flops),
                                      memory_time(bytes_moved, memory_bandwidth)))


def bound(flops: ArrayLike, bytes_moved: ArrayLike, peak_flops: ArrayLike,
          memory_bandwidth: ArrayLike) -> str | np.ndarray:
    """Which roof sets the time: ``"memory"`` or ``"compute"`` (ties count as compute).

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> bound(2 * 4096, 4 * 4096, 989.4e12, 3.35e12)
    'memory'
    >>> bound([1e12, 1e6], [1e9, 1e9], 989.4e12, 3.35e12)
    array(['compute', 'memory'], dtype='<U7')
    """
    return bound_of(math_time(flops, peak_flops), memory_time(bytes_moved, memory_bandwidth))


def bound_of(t_math: ArrayLike, t_mem: ArrayLike) -> str | np.ndarray:
    """The book's one tie rule: ``"memory"`` where ``t_mem > t_math``, else ``"compute"``.

    :func:`bound` applies it to one kernel; :mod:`lib.inference` to a whole forward pass,
    whose math and memory times are sums over its operations.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> bound_of(1.0, 1.0), bound_of(1.0, 2.0)
    ('compute', 'memory')
    """
    out = np.where(np.asarray(t_mem) > np.asarray(t_math), MEMORY, COMPUTE)
    return out.item() if out.ndim == 0 else out


def math_time(flops: ArrayLike, peak_flops: ArrayLike) -> float | np.ndarray:
    """Time the arithmetic alone needs at the compute roof, ``flops / peak_flops`` seconds.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> math_time(2 * 4096**3, 989.4e12) * 1e6   # a 4096-cube BF16 GEMM on H100 SXM: µs
    138.9
    """
    f = positive("flops", flops, allow_zero=True)
    p = positive("peak_flops", peak_flops)
    return scalar_or_array(f / p)


def memory_time(bytes_moved: ArrayLike, memory_bandwidth: ArrayLike) -> float | np.ndarray:
    """Time the memory traffic alone needs at the bandwidth roof, ``bytes / bandwidth`` seconds.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> memory_time(14e9, 3.35e12) * 1e3   # 14 GB of weights on H100 SXM: ms
    4.179
    """
    b = positive("bytes_moved", bytes_moved, allow_zero=True)
    bw = positive("memory_bandwidth", memory_bandwidth)
    return scalar_or_array(b / bw)


def kernel_time_bounds(flops: ArrayLike, bytes_moved: ArrayLike, peak_flops: ArrayLike,
                       memory_bandwidth: ArrayLike
                       ) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Both roofline bounds on a kernel's time: ``(max(T_math, T_mem), T_math + T_mem)``.

    The lower bound assumes compute and memory traffic overlap perfectly; the
    upper one that they do not overlap at all. Neither counts launch overhead or
    traffic beyond the compulsory bytes, so a real kernel can be slower still.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> lo, hi = kernel_time_bounds(2e12, 1e9, 1e15, 1e12)   # 2 ms of math, 1 ms of traffic
    >>> round(lo * 1e3, 6), round(hi * 1e3, 6)
    (2.0, 3.0)
    """
    t_math = math_time(flops, peak_flops)
    t_mem = memory_time(bytes_moved, memory_bandwidth)
    lower = np.maximum(t_math, t_mem)
    upper = np.add(t_math, t_mem)
    return scalar_or_array(lower), scalar_or_array(upper)


def achieved_fraction(work: ArrayLike, seconds: ArrayLike, peak_rate: ArrayLike
                      ) -> float | np.ndarray:
    """The fraction of a peak rate a measured run achieved: ``work / seconds / peak_rate``.

    With ``work`` in FLOP and ``peak_rate`` the dense peak FLOP/s this is the
    *model FLOPs utilisation* (MFU); with ``work`` in bytes and ``peak_rate`` the
    memory bandwidth it is the *memory-bandwidth utilisation* (MBU). A result
    above 1 means the counts or the peak are wrong (the kernel beat its roof):
    check the dtype, sparse-vs-dense peaks and whether caches served the bytes.

    Introduced in chapters/01_memory_bound.ipynb (a vector add measured on your
    machine); MBU and MFU in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> # 13.5 GB of BF16 weights read per decoded token, 9.53 ms per token, A100 80 GB
    >>> round(achieved_fraction(13.476e9, 9.533e-3, 2.039e12), 3)   # MBU
    0.693
    >>> round(achieved_fraction(2 * 6.738e9, 9.533e-3, 312e12), 4)  # MFU
    0.0045
    """
    w = positive("work", work, allow_zero=True)
    t = positive("seconds", seconds)
    r = positive("peak_rate", peak_rate)
    return scalar_or_array(w / t / r)


def roofline_fraction(flops: ArrayLike, bytes_moved: ArrayLike, seconds: ArrayLike,
                      peak_flops: ArrayLike, memory_bandwidth: ArrayLike
                      ) -> float | np.ndarray:
    """How close a measured time came to the roofline bound: ``kernel_time / seconds``.

    1.0 means the kernel ran at the roofline's speed of light, whichever roof
    bounds it; 0.5 means it took twice as long as the bound. Unlike MFU this is
    fair to memory-bound kernels, and unlike MBU it is fair to compute-bound ones.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> # a memory-bound kernel: 1 GB moved in 0.5 ms where the bound is 0.3 ms
    >>> round(roofline_fraction(1e9, 1e9, 0.5e-3, 989.4e12, 3.35e12), 3)
    0.597
    """
    bound_s = kernel_time(flops, bytes_moved, peak_flops, memory_bandwidth)
    t = positive("seconds", seconds)
    return scalar_or_array(np.asarray(bound_s) / t)


def first_compute_bound(sizes: ArrayLike, bounds: ArrayLike) -> float:
    """The smallest of ``sizes`` whose ``bounds`` entry is ``"compute"``; ``inf`` if none is.

    ``bounds`` holds the bound at each size: from :func:`bound` for one kernel (e.g.
    ``kernels.gemm(sizes, 4096, 4096)`` on a device), or the ``bound`` of a forward pass
    swept over a size (:func:`lib.inference.prefill` over prompt lengths). For a GEMM
    with M tokens this is the *critical batch*: below it the weights' traffic sets the
    time, above it the math.

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> import numpy as np
    >>> from lib import kernels
    >>> m = np.arange(1, 4097)
    >>> k = kernels.gemm(m, 4096, 4096, "bf16")
    >>> first_compute_bound(m, bound(k.flops, k.bytes_moved, 989.4e12, 3.35e12))  # H100, BF16
    346.0
    >>> first_compute_bound([1, 2], ["memory", "memory"])
    inf
    """
    s = np.asarray(sizes, dtype=float)
    if s.ndim != 1 or s.size == 0 or np.any(np.diff(s) <= 0):
        raise ValueError(f"sizes={sizes!r} must be a non-empty, strictly increasing 1-d sequence.")
    which = np.broadcast_to(np.asarray(bounds), s.shape)
    hits = s[which == COMPUTE]
    return float(hits[0]) if hits.size else float("inf")


@dataclass(frozen=True)
class RidgeRow:
    """One device's roofline at one dtype, for the ridge-point table.

    ``peak_flops`` and ``ridge`` are ``None`` where the vendor publishes no peak
    for the dtype; ``note`` then says why (the catalog's note for the device).
    """

    device: str
    label: str
    peak_flops: float | None
    memory_bandwidth: float
    ridge: float | None
    note: str


def ridge_table(dtype: str = "bf16", devices: list[str] | None = None) -> list[RidgeRow]:
    """The ridge point of every catalog device at ``dtype``, sorted from lowest ridge.

    A low ridge means a device reaches its compute roof at low intensity (it has
    plenty of bandwidth for its FLOP/s); a high ridge means a kernel needs many
    FLOP per byte before the compute roof matters. Devices with no published peak
    for ``dtype`` come last, with ``ridge=None`` and the catalog's note.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> rows = ridge_table("bf16")
    >>> [(r.device, round(r.ridge)) for r in rows[:2]]
    [('a100-sxm-80gb', 153), ('rtx-4090', 164)]
    >>> rows[-1].device, rows[-1].ridge
    ('m2-ultra', None)
    """
    key = choice("dtype", dtype, DTYPES)
    names = hardware.names() if devices is None else [hardware.get(n).name for n in devices]
    rows = []
    for name in names:
        dev = hardware.get(name)
        peak = dev.peak_flops.get(key)
        ridge = None if peak is None else float(ridge_point(peak, dev.memory_bandwidth))
        if peak is not None:
            note = ""
        elif not dev.peak_flops:
            note = dev.notes
        else:
            note = f"{dev.vendor} publishes no {key} peak for this device."
        rows.append(RidgeRow(dev.name, dev.label, peak, dev.memory_bandwidth, ridge, note))
    return sorted(rows, key=lambda r: (r.ridge is None, r.ridge or 0.0))
