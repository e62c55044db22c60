"""Moving bytes: bandwidth, latency, and what memory-bound work costs.

A transfer of ``n`` bytes over a path with peak bandwidth ``B`` (byte/s) and a
fixed cost ``L`` (seconds: latency, or any per-transfer overhead) takes::

    T(n) = L + n / B                  (the latency-bandwidth model)

and so achieves ``n / T(n)``, which reaches half of ``B`` only at ``n = B L``
bytes. The same product is what Little's law says must be *in flight* -- issued
but not yet returned -- for a memory system with latency ``L`` to deliver
``B``: ``bytes in flight = B x L``. Small transfers and chains of dependent
loads (each waits for the one before) keep too few bytes in flight, so they see
the latency, not the bandwidth.

For a whole kernel, :func:`kernel_cost` places its FLOPs and bytes (from
:mod:`lib.kernels`) against a device's two roofs (:mod:`lib.roofline`) and
reports how much of the compute the kernel can use at best.

Every function broadcasts over numpy arrays; SI units throughout (byte, s,
byte/s, FLOP, FLOP/s).

Introduced in chapters/01_memory_bound.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lib import hardware, roofline
from lib._validate import choice, positive, scalar_or_array
from lib.dtypes import bytes_per_element
from lib.hardware import Device, MemoryLevel
from lib.kernels import Kernel
from lib.tables import Table
from lib.units import fmt_bandwidth, fmt_bytes, fmt_flops, fmt_intensity, fmt_time

__all__ = [
    "transfer_time",
    "effective_bandwidth",
    "bytes_in_flight",
    "size_for_fraction",
    "bandwidth_from_concurrency",
    "tensor_bytes",
    "weight_stream",
    "LEVELS",
    "level",
    "hierarchy_table",
    "KernelCost",
    "kernel_cost",
    "cost_table",
]


def transfer_time(nbytes: ArrayLike, bandwidth: ArrayLike,
                  latency: ArrayLike = 0.0) -> float | np.ndarray:
    """Seconds to move ``nbytes``: ``latency + nbytes / bandwidth``.

    Parameters
    ----------
    nbytes : array_like
        Bytes to move (0 allowed: the transfer still pays its latency).
    bandwidth : array_like
        Peak bandwidth of the path, byte/s.
    latency : array_like
        Fixed cost paid once per transfer, seconds (0 by default: the pure
        bandwidth bound the roofline uses).

    Returns
    -------
    float or ndarray
        Seconds.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> transfer_time(3.35e12, 3.35e12)          # 3.35 TB at 3.35 TB/s
    1.0
    >>> transfer_time(128, 2.0e12, 375e-9) * 1e9  # one 128-byte line: all latency, ns
    375.064
    >>> transfer_time([1e6, 1e9], 2.0e12, 375e-9) * 1e6   # 1 MB and 1 GB, µs
    array([  0.875, 500.375])
    """
    n = positive("nbytes", nbytes, allow_zero=True)
    bw = positive("bandwidth", bandwidth)
    lat = positive("latency", latency, allow_zero=True)
    return scalar_or_array(lat + n / bw)


def effective_bandwidth(nbytes: ArrayLike, bandwidth: ArrayLike,
                        latency: ArrayLike) -> float | np.ndarray:
    """Bandwidth a transfer of ``nbytes`` achieves once its latency is paid:
    ``nbytes / (latency + nbytes / bandwidth)`` byte/s.

    It approaches ``bandwidth`` only for transfers much larger than
    ``bandwidth x latency`` (:func:`bytes_in_flight`), and is exactly half of it
    at that size.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> bw, lat = 2.0e12, 375e-9            # H100 PCIe HBM: peak, measured latency
    >>> effective_bandwidth(bw * lat, bw, lat) / bw   # at B x L bytes: half of peak
    0.5
    >>> round(effective_bandwidth(128, bw, lat) / 1e9, 3)   # one cache line: GB/s
    0.341
    >>> effective_bandwidth(0, bw, lat)
    Traceback (most recent call last):
    ...
    ValueError: nbytes=0 must be a finite number > 0.
    """
    n = positive("nbytes", nbytes)
    bw = positive("bandwidth", bandwidth)
    lat = positive("latency", latency, allow_zero=True)
    return scalar_or_array(n / (lat + n / bw))


def bytes_in_flight(bandwidth: ArrayLike, latency: ArrayLike) -> float | np.ndarray:
    """Little's law: bytes that must be outstanding to sustain ``bandwidth`` when
    every request takes ``latency`` seconds to return: ``bandwidth x latency``.

    It is also the transfer size at which :func:`effective_bandwidth` reaches
    half of peak.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> bytes_in_flight(2.0e12, 375e-9) / 1e3    # H100 PCIe HBM: kB in flight
    750.0
    >>> bytes_in_flight([2.0e12, 64e9], [375e-9, 1e-6])   # vectorised
    array([750000.,  64000.])
    """
    bw = positive("bandwidth", bandwidth)
    lat = positive("latency", latency, allow_zero=True)
    return scalar_or_array(bw * lat)


def size_for_fraction(fraction: ArrayLike, bandwidth: ArrayLike,
                      latency: ArrayLike) -> float | np.ndarray:
    """Smallest transfer that achieves ``fraction`` of peak bandwidth:
    ``fraction / (1 - fraction) x bandwidth x latency`` bytes.

    Half of peak needs 1 x (bandwidth x latency), 90 % needs 9 x, 99 % needs
    99 x: the last few per cent of bandwidth are expensive.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> size_for_fraction(0.5, 2.0e12, 375e-9) / 1e3   # kB
    750.0
    >>> size_for_fraction(0.9, 2.0e12, 375e-9) / 1e6   # MB
    6.75
    >>> size_for_fraction(1.0, 2.0e12, 375e-9)
    Traceback (most recent call last):
    ...
    ValueError: fraction=1.0 must be below 1: with a fixed latency, peak bandwidth is only approached as the transfer grows without bound.
    """
    f = positive("fraction", fraction)
    if np.any(f >= 1):
        shown = fraction if f.ndim == 0 else f[f >= 1].ravel()[0].item()
        raise ValueError(f"fraction={shown!r} must be below 1: with a fixed latency, peak "
                         "bandwidth is only approached as the transfer grows without bound.")
    return scalar_or_array(f / (1 - f) * bytes_in_flight(bandwidth, latency))


def bandwidth_from_concurrency(in_flight: ArrayLike, latency: ArrayLike,
                               peak_bandwidth: ArrayLike) -> float | np.ndarray:
    """Bandwidth achieved with ``in_flight`` bytes outstanding at all times:
    ``min(peak_bandwidth, in_flight / latency)`` byte/s (Little's law, read the
    other way round).

    A chain of dependent loads -- each address comes from the previous load, as
    in a linked list -- has one request in flight, so it runs at one request per
    latency however fast the memory is.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> # one 128-byte line at a time from H100 PCIe HBM: GB/s
    >>> round(bandwidth_from_concurrency(128, 375e-9, 2.0e12) / 1e9, 3)
    0.341
    >>> # 1 MB outstanding is more than B x L = 750 kB: the peak
    >>> bandwidth_from_concurrency(1e6, 375e-9, 2.0e12) / 1e12
    2.0
    """
    c = positive("in_flight", in_flight)
    lat = positive("latency", latency)
    bw = positive("peak_bandwidth", peak_bandwidth)
    return scalar_or_array(np.minimum(bw, c / lat))


def tensor_bytes(n_elements: ArrayLike, dtype: str) -> float | np.ndarray:
    """Bytes to store ``n_elements`` values of ``dtype``.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> tensor_bytes(6_738_415_616, "bf16") / 1e9    # Llama-2-7B's weights, GB
    13.476831232
    >>> round(tensor_bytes(6_738_415_616, "int4") / 2**30, 2)  # the same at 4 bits, GiB
    3.14
    """
    n = positive("n_elements", n_elements, allow_zero=True, integer=True)
    return scalar_or_array(n * bytes_per_element(dtype))


def weight_stream(n_params: ArrayLike, dtype: str = "bf16", tokens: ArrayLike = 1) -> Kernel:
    """One pass of ``tokens`` tokens through ``n_params`` weights, as the memory sees it.

    Every parameter is read once from memory (``n_params x bytes per element``)
    however many tokens share the pass, and each parameter does one
    multiply-add (2 FLOP) per token. Activations and the KV cache are left out,
    so this is the weights' share of a decode step; at ``tokens=1`` (batch 1)
    its intensity is 2 / bytes per element -- 1 FLOP/byte at BF16.

    For a model, pass :attr:`lib.models.ModelConfig.params_read`: every weight a token
    uses except the embedding table, of which it reads one row. That is exactly the
    weight traffic of a batch-1 decode step in :func:`lib.inference.decode`.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> k = weight_stream(6_607_347_712, "bf16")       # Llama-2-7B's params_read, one token
    >>> k.flops / 1e9, k.bytes_moved / 1e9, k.intensity
    (13.214695424, 13.214695424, 1.0)
    >>> weight_stream(6_607_347_712, "bf16", tokens=[1, 64]).intensity
    array([ 1., 64.])
    """
    n = positive("n_params", n_params, integer=True)
    t = positive("tokens", tokens, integer=True)
    weights = n * bytes_per_element(dtype)
    return Kernel("weights, one pass", 2.0 * n * t, weights, bytes_weights=weights)


#: Keys :func:`level` understands, from the compute units outward.
LEVELS = ("registers", "l1", "l2", "main memory", "nvlink", "pcie")


def level(device: "str | Device", key: str) -> MemoryLevel:
    """The level of ``device``'s hierarchy named by ``key`` (one of :data:`LEVELS`).

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> from lib import hardware
    >>> level(hardware.get("h100-sxm"), "L2").capacity / 1e6
    50.0
    >>> level(hardware.get("l4"), "L2")
    Traceback (most recent call last):
    ...
    ValueError: device='l4' has no memory hierarchy in the catalog; devices with one: a100-sxm-40gb, a100-sxm-80gb, h100-sxm, h100-pcie, h200.
    """
    device = hardware.get(device)
    k = choice("key", key, LEVELS)
    if not device.levels:
        known = ", ".join(n for n, d in hardware.DEVICES.items() if d.levels)
        raise ValueError(f"device={device.name!r} has no memory hierarchy in the catalog; "
                         f"devices with one: {known}.")
    for lv in device.levels:
        if k in lv.name.lower():
            return lv
    raise ValueError(f"key={key!r}: {device.name} has no such level; it has: "
                     f"{', '.join(lv.name for lv in device.levels)}.")


def _cell(value: float | None, fmt) -> str:
    return "—" if value is None else fmt(value)


def hierarchy_table(device: "str | Device") -> Table:
    """The memory hierarchy of ``device`` as a text table, closest to the compute first.

    Capacity is shown twice, in decimal (GB, as vendors print it) and binary
    (GiB) units; bandwidth is decimal (TB/s = 10^12 byte/s), per direction for
    links; a dash means no citable source gives the figure. The last columns
    say how each bandwidth and latency was obtained (the level's ``bandwidth_kind`` and
    ``latency_kind``): printed in a datasheet, derived from datasheet figures, or
    measured by a microbenchmark.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> from lib import hardware
    >>> print(str(hierarchy_table("h100-sxm")).splitlines()[4])
    L2 cache                      50 MB    47.7 MiB          —         —  —          —
    """
    device = hardware.get(device)
    header = ("level", "capacity", "(binary)", "bandwidth", "latency", "bandwidth is",
              "latency is")
    rows = []
    for lv in device.levels:
        rows.append((
            lv.name,
            _cell(lv.capacity, fmt_bytes),
            _cell(lv.capacity, lambda c: fmt_bytes(c, binary=True)),
            _cell(lv.bandwidth, fmt_bandwidth),
            _cell(lv.latency, fmt_time),
            lv.bandwidth_kind or "—",
            lv.latency_kind or "—",
        ))
    if not rows:
        level(device, "l2")  # raises the helpful error
    return Table(header, rows, ("<", ">", ">", ">", ">", "<", "<"))


@dataclass(frozen=True)
class KernelCost:
    """A kernel on a device's roofline: its two times, which one wins, and what it uses.

    Returned by :func:`kernel_cost`. Introduced in chapters/01_memory_bound.ipynb.

    Attributes
    ----------
    name : str
    flops, bytes_moved : float or ndarray
        Work (FLOP) and compulsory traffic (byte).
    intensity : float or ndarray
        FLOP per byte.
    t_math, t_mem : float or ndarray
        ``flops / peak`` and ``bytes_moved / bandwidth``, seconds.
    time : float or ndarray
        The roofline bound ``max(t_math, t_mem)``, seconds.
    bound : str or ndarray
        ``"memory"`` or ``"compute"``.
    compute_fraction : float or ndarray
        Share of the peak FLOP/s the kernel can use at best, ``t_math / time``.
    bandwidth_fraction : float or ndarray
        Share of the peak bandwidth it uses at best, ``t_mem / time``.
    """

    name: str
    flops: float | np.ndarray
    bytes_moved: float | np.ndarray
    intensity: float | np.ndarray
    t_math: float | np.ndarray
    t_mem: float | np.ndarray
    time: float | np.ndarray
    bound: str | np.ndarray
    compute_fraction: float | np.ndarray
    bandwidth_fraction: float | np.ndarray


def kernel_cost(kernel: Kernel, device: "str | Device", dtype: str = "bf16") -> KernelCost:
    """Place ``kernel`` on ``device``'s roofline, computing in ``dtype``.

    ``dtype`` picks the compute roof (``device.peak(dtype)``); the kernel's
    bytes already reflect the precision it was built with.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> from lib import hardware, kernels
    >>> c = kernel_cost(kernels.vector_add(2**28, "fp32"), hardware.get("h100-sxm"), "fp32")
    >>> c.bound, round(c.time * 1e3, 3), f"{c.compute_fraction:.2%}"
    ('memory', 0.962, '0.42%')
    """
    device = hardware.get(device)
    peak = device.peak(dtype)
    bw = device.memory_bandwidth
    f = np.asarray(kernel.flops, dtype=float)
    b = np.asarray(kernel.bytes_moved, dtype=float)
    t_math = np.asarray(roofline.math_time(f, peak))
    t_mem = np.asarray(roofline.memory_time(b, bw))
    time = np.maximum(t_math, t_mem)
    return KernelCost(
        kernel.name, scalar_or_array(f), scalar_or_array(b),
        roofline.arithmetic_intensity(f, b), scalar_or_array(t_math), scalar_or_array(t_mem),
        scalar_or_array(time), roofline.bound(f, b, peak, bw),
        scalar_or_array(t_math / time), scalar_or_array(t_mem / time))


def cost_table(kernels: Sequence[Kernel], device: "str | Device", dtype: str = "bf16") -> Table:
    """A table of :func:`kernel_cost` for scalar ``kernels`` on ``device``.

    Columns: FLOPs, bytes, intensity (FLOP/B), the two lower bounds ``T_math`` and
    ``T_mem``, the roofline time (their maximum), the bound, and the largest share of
    the peak FLOP/s the kernel can use.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> from lib import hardware, kernels
    >>> t = cost_table([kernels.dot(2**24, "bf16")], hardware.get("h100-sxm"))
    >>> print(str(t).splitlines()[2])
    dot     33.6 MFLOP  67.1 MB  0.5  33.9 ns  20 µs  20 µs  memory  0.17%
    """
    header = ("kernel", "FLOPs", "bytes", "FLOP/B", "T_math", "T_mem", "time ≥", "bound",
              "compute ≤")
    rows = []
    for k in kernels:
        c = kernel_cost(k, device, dtype)
        if np.ndim(c.time):
            raise ValueError(f"kernels: {k.name!r} holds an array of sizes; cost_table "
                             "takes one size per kernel.")
        rows.append((k.name, fmt_flops(c.flops), fmt_bytes(c.bytes_moved),
                     fmt_intensity(c.intensity).removesuffix(" FLOP/B"),
                     fmt_time(c.t_math), fmt_time(c.t_mem),
                     fmt_time(c.time), str(c.bound), f"{c.compute_fraction:.2%}"))
    return Table(header, rows, ("<", ">", ">", ">", ">", ">", ">", "<", ">"))
