"""Measure the reader's own machine: bandwidth per cache level, achievable FLOP/s, its roofline.

Every claim the book makes about rooflines can be checked on the machine in front of you.
This module times small numpy kernels and turns the timings into the two numbers the
roofline needs (:mod:`lib.roofline`): a memory bandwidth :math:`\\hat\\beta` (byte/s) for
each level of the memory hierarchy, and an achievable peak :math:`\\hat\\pi` (FLOP/s) for each
precision. The hats say *measured*, as opposed to the datasheet's :math:`\\beta` and
:math:`\\pi` of the catalog (:mod:`lib.hardware`).

What each kernel reads and writes (the bytes are :mod:`lib.kernels`' counts, FP32):

* ``add``, ``np.add(a, b, out=c)``: reads ``a`` and ``b``, writes ``c``: ``3n`` elements
  (:func:`lib.kernels.vector_add`). A CPU that writes a cache line it does not hold first
  reads it (*write-allocate*), so the bus really carries ``4n`` elements; like the book's
  cost model, the count leaves that read out, so the bandwidth reported for ``add`` is the
  useful bandwidth, up to 4/3 below what the bus carried.
* ``dot``, ``np.dot(a, b)`` (the BLAS's ``sdot``): reads ``a`` and ``b``, writes one number:
  ``2n + 1`` elements (:func:`lib.kernels.dot`). No write-allocate.
* the *dialled* kernel (:func:`dialled_counts`): for each cache-sized block of a large array,
  ``r`` multiply-adds per element while the block is in cache: ``2r`` FLOP per element
  against one read and one write of the element through main memory, so the intensity
  ``2r / 8`` FLOP/byte grows with ``r`` and the main-memory bytes do not. Below ``r = 1``
  the dial is a stride: one multiply-add on every ``j``-th element, which still moves every
  cache line, for ``1 / (4j)`` FLOP/byte.
* a matrix product ``a @ b`` (numpy's BLAS): ``2mnk`` FLOP (:func:`lib.kernels.gemm`).

Timings are made as robust as a shared machine allows: each timing is preceded by a warm-up
call, repeats a call enough times to last at least ``min_time_s`` (the clock's resolution and
Python's overhead then matter little), is repeated ``repeats`` times, and is summarised by
its median and inter-quartile range (:class:`Timing`); the matrix-product peak keeps the
least disturbed of three passes. A machine that is busy throughout still measures slow:
the BLAS splits each product over every core, and a core held by another program stalls it.
Every result is a frozen dataclass with ``to_dict()`` and carries its :class:`Provenance`
(CPU, cores, numpy and its BLAS, load average, date): timings and the date vary from run to
run and machine to machine, by nature.

Where PyTorch and a CUDA GPU are present, :func:`gpu_bandwidth`, :func:`gpu_gemm_msweep` and
:func:`gpu_decode_sweep` take the same measurements on the GPU; PyTorch is imported only
inside them, is not a requirement of the book, and its absence is an answer
(:func:`gpu_status`), never an error.

Introduced in chapters/16_measure.ipynb.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import hardware, inference, kernels, roofline
from lib.timing import Timing, summarise, time_call
from lib._validate import choice, positive, scalar_or_array
from lib.dtypes import bytes_per_element

__all__ = [
    "Provenance", "provenance", "Timing", "summarise", "time_call", "size_grid",
    "STREAM_KERNELS", "stream_kernel", "cache_sizes", "DEFAULT_CACHES", "level_bands",
    "level_bandwidths", "overhead_bound", "bus_bytes", "roofline_device", "BandwidthSweep", "bandwidth_sweep", "GemmSweep", "gemm_sweep",
    "gemm_msweep", "CACHE_LINE", "dialled_counts", "DialledSweep", "dialled_sweep",
    "RooflineFit", "fit_roofline", "Config", "QUICK", "FULL", "Machine", "measure_machine",
    "predict_time", "predict_forward", "Prediction", "predict_timing", "GpuStatus",
    "gpu_status", "gpu_bandwidth", "gpu_gemm_msweep", "gpu_decode_sweep", "FLOAT_DTYPES",
    "staircase_figure", "roofline_figure", "prediction_figure",
]

KiB, MiB = 2**10, 2**20
#: numpy dtypes whose matrix-product peak is measured, by the book's dtype names. (``fp64``
#: is not in :data:`lib.dtypes.DTYPES`: no catalog device is priced at it.)
FLOAT_DTYPES: Mapping[str, type] = MappingProxyType({"fp32": np.float32, "fp64": np.float64})
#: The stream kernels of the bandwidth sweep and the arrays each touches.
STREAM_KERNELS = ("add", "dot")
#: The memory levels a bandwidth is reported for, nearest first.
LEVELS = ("L1", "L2", "L3", "memory")


# --- provenance -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Provenance:
    """Where and when a measurement was taken: the machine, the software, the date.

    ``load`` is the system's one-minute load average when it was taken (where the system
    reports one): near or above ``cores``, other programs were competing for the cores and
    the timings are slower and noisier than the machine can do.

    Introduced in chapters/16_measure.ipynb.
    """

    cpu: str
    cores: int
    machine: str
    system: str
    python: str
    numpy: str
    blas: str
    blas_threads: str
    date: str
    load: float | None = None
    torch: str | None = None
    gpu: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _blas() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:           # older numpy, or a build that does not say
        return "unknown"


def _blas_threads() -> str:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            return f"{var}={os.environ[var]}"
    return f"default (one per core: {os.cpu_count()})"


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):     # not on every system
        return None


def provenance(torch_version: str | None = None, gpu: str | None = None) -> Provenance:
    """The machine and software this process runs on, and today's date (UTC).

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> p = provenance()
    >>> p.cores >= 1 and p.numpy == np.__version__
    True
    """
    return Provenance(
        cpu=_cpu_model(), cores=os.cpu_count() or 1, machine=platform.machine(),
        system=platform.system(), python=platform.python_version(), numpy=np.__version__,
        blas=_blas(), blas_threads=_blas_threads(),
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        load=_load(), torch=torch_version, gpu=gpu)


# --- the bandwidth staircase ------------------------------------------------------------------

def size_grid(lo_bytes: float, hi_bytes: float, per_octave: int = 1,
              multiple: int = 4 * KiB) -> np.ndarray:
    """Working-set sizes from ``lo_bytes`` to ``hi_bytes``, ``per_octave`` per doubling.

    Each size is rounded to a multiple of ``multiple`` bytes (at least one multiple), and
    duplicates are dropped.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> (size_grid(16 * KiB, 128 * KiB) // KiB).tolist()
    [16, 32, 64, 128]
    >>> (size_grid(16 * KiB, 64 * KiB, per_octave=2) // KiB).tolist()
    [16, 24, 32, 44, 64]
    """
    lo, hi = float(positive("lo_bytes", lo_bytes)), float(positive("hi_bytes", hi_bytes))
    if hi < lo:
        raise ValueError(f"hi_bytes={hi_bytes!r} must be >= lo_bytes={lo_bytes!r}.")
    k = int(positive("per_octave", per_octave, integer=True))
    m = int(positive("multiple", multiple, integer=True))
    steps = int(math.floor(k * math.log2(hi / lo) + 1e-9))
    raw = lo * 2.0 ** (np.arange(steps + 1) / k)
    return np.unique(np.maximum(m, np.round(raw / m).astype(np.int64) * m))


def stream_kernel(kernel: str, working_set_bytes: ArrayLike) -> tuple[np.ndarray, kernels.Kernel]:
    """The elements per array and the FP32 counts of stream ``kernel`` on a working set.

    The working set is every array the kernel touches: three for ``add``, two for ``dot``.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> n, k = stream_kernel("add", 12 * KiB)      # a, b, c of 1 Ki FP32 each
    >>> int(n), float(k.bytes_moved), float(k.flops)
    (1024, 12288.0, 1024.0)
    >>> n, k = stream_kernel("dot", 8 * KiB)
    >>> int(n), float(k.bytes_moved)              # 2n elements read, one written
    (1024, 8196.0)
    """
    name = choice("kernel", kernel, STREAM_KERNELS)
    ws = positive("working_set_bytes", working_set_bytes)
    arrays = 3 if name == "add" else 2
    n = np.maximum(1, ws // (arrays * 4)).astype(np.int64)
    return n, _stream_counts(name, n)


def _stream_counts(name: str, n: Any) -> kernels.Kernel:
    return kernels.vector_add(n, "fp32") if name == "add" else kernels.dot(n, "fp32")


def bus_bytes(kernel: str, n: ArrayLike) -> Any:
    """Bytes stream ``kernel`` on ``n`` FP32 elements per array carries over the memory bus.

    :func:`lib.kernels`' count plus, for ``add``, the write-allocate read of ``c``'s cache
    lines before they are written: ``4n`` elements in all against the ``3n`` counted. ``dot``
    writes one number, so its count is its traffic.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> float(bus_bytes("add", 1024)), float(stream_kernel("add", 12 * KiB)[1].bytes_moved)
    (16384.0, 12288.0)
    """
    name = choice("kernel", kernel, STREAM_KERNELS)
    nn = positive("n", n, integer=True)
    allocate = nn * bytes_per_element("fp32") if name == "add" else 0.0
    return scalar_or_array(np.asarray(_stream_counts(name, nn).bytes_moved) + allocate)


class _Rates:
    """Rates of a sweep's timed points from its counts and median times (the fields
    ``bytes_moved``, ``median_s`` and, for :class:`_FlopRates`, ``flops``), and the sweep as
    plain data."""

    bytes_moved: np.ndarray
    median_s: np.ndarray
    provenance: Provenance

    @property
    def bandwidth(self) -> np.ndarray:
        """Bytes moved over the median time, byte/s."""
        return self.bytes_moved / self.median_s

    def _plain(self, *derived: str) -> dict[str, Any]:
        """Plain data for JSON: every field in order, then the ``derived`` properties, then the
        provenance; arrays as lists."""
        def plain(v: Any) -> Any:
            return v.tolist() if isinstance(v, np.ndarray) else v
        out = {f.name: plain(getattr(self, f.name)) for f in fields(self)  # type: ignore[arg-type]
               if f.name != "provenance"}
        out.update({d: plain(getattr(self, d)) for d in derived})
        out["provenance"] = self.provenance.to_dict()
        return out


class _FlopRates(_Rates):
    flops: np.ndarray

    @property
    def flop_rate(self) -> np.ndarray:
        """FLOP over the median time, FLOP/s."""
        return self.flops / self.median_s

    @property
    def intensity(self) -> np.ndarray:
        """FLOP per byte counted."""
        return self.flops / self.bytes_moved


@dataclass(frozen=True)
class BandwidthSweep(_Rates):
    """One stream kernel timed over working-set sizes: the bandwidth staircase.

    Introduced in chapters/16_measure.ipynb.
    """

    kernel: str
    working_set_bytes: np.ndarray
    bytes_moved: np.ndarray
    median_s: np.ndarray
    q1_s: np.ndarray
    q3_s: np.ndarray
    provenance: Provenance

    @property
    def bandwidth_q(self) -> tuple[np.ndarray, np.ndarray]:
        """The bandwidths at the slower and the faster quartile time, byte/s."""
        return self.bytes_moved / self.q3_s, self.bytes_moved / self.q1_s

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return self._plain("bandwidth")


def bandwidth_sweep(sizes: ArrayLike, kernel: str = "add", *, repeats: int = 5,
                    min_time_s: float = 2e-3) -> BandwidthSweep:
    """Time stream ``kernel`` at each working-set size (bytes): the staircase.

    The arrays are allocated and warmed once per size, so a working set that fits a
    cache is served from it on every repeat.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> s = bandwidth_sweep([64 * KiB], "add", repeats=3, min_time_s=1e-4)
    >>> bool(1e8 < s.bandwidth[0] < 1e13)
    True
    """
    ws = np.atleast_1d(np.asarray(positive("sizes", sizes, integer=True), np.int64))
    ns, counts = stream_kernel(kernel, ws)
    med, q1, q3 = [], [], []
    for n in np.atleast_1d(ns):
        a = np.full(int(n), 1.0, np.float32)
        b = np.full(int(n), 2.0, np.float32)
        if kernel == "add":
            c = np.empty_like(a)

            def call() -> None:
                np.add(a, b, out=c)
        else:
            def call() -> None:
                np.dot(a, b)
        t = time_call(call, repeats=repeats, min_time_s=min_time_s)
        med.append(t.median_s), q1.append(t.q1_s), q3.append(t.q3_s)
    return BandwidthSweep(kernel, ws, np.atleast_1d(np.asarray(counts.bytes_moved, float)),
                          np.array(med), np.array(q1), np.array(q3), provenance())


def cache_sizes(root: str | Path = "/sys/devices/system/cpu/cpu0/cache") -> dict[str, int]:
    """The data caches one core sees, by level (``"L1"``, ``"L2"``, ``"L3"``), in bytes.

    Read from Linux's sysfs; a level the system does not report is absent, and on a
    system without sysfs the result is empty (the sweep then uses :data:`DEFAULT_CACHES`).

    Introduced in chapters/16_measure.ipynb.
    """
    out: dict[str, int] = {}
    for d in sorted(Path(root).glob("index*")):
        try:
            kind = (d / "type").read_text().strip()
            level = int((d / "level").read_text())
            size = (d / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        mult = {"K": KiB, "M": MiB, "G": 2**30}.get(size[-1:].upper(), 1)
        out[f"L{level}"] = int(size.rstrip("KMGkmg")) * mult
    return out


#: Typical data caches of a recent x86 core, used where the system does not report its own.
DEFAULT_CACHES: Mapping[str, int] = MappingProxyType({"L1": 32 * KiB, "L2": 1 * MiB,
                                                      "L3": 32 * MiB})


def level_bands(caches: Mapping[str, int]) -> dict[str, tuple[float, float]]:
    """The working-set range (bytes) whose bandwidth is attributed to each memory level.

    A working set counts for a cache level when it fills at most half of it and at least
    twice the level above; for main memory when it is at least four times the last cache.
    Sizes between bands straddle two levels and are attributed to none.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> bands = level_bands({"L1": 32 * KiB, "L2": 1 * MiB, "L3": 32 * MiB})
    >>> {k: (lo / KiB, hi / KiB) for k, (lo, hi) in bands.items()}
    {'L1': (0.0, 16.0), 'L2': (64.0, 512.0), 'L3': (2048.0, 16384.0), 'memory': (131072.0, inf)}
    """
    levels = [lv for lv in LEVELS[:-1] if lv in caches]
    bands: dict[str, tuple[float, float]] = {}
    below = 0.0
    for lv in levels:
        size = float(positive(f"caches[{lv!r}]", caches[lv]))
        bands[lv] = (2 * below, size / 2)
        below = size
    bands["memory"] = (4 * below if below else 0.0, math.inf)
    return bands


def overhead_bound(bandwidth: Mapping[str, float]) -> list[str]:
    """Levels that stream *slower* than the level beyond them: timed through numpy's fixed
    cost per call, not through their cache, so their figure is only a floor on that cache's
    bandwidth (chapter 16's "Call overhead").

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> overhead_bound({"L1": 39e9, "L2": 150e9, "L3": 100e9, "memory": 30e9})
    ['L1']
    """
    present = [lv for lv in LEVELS if lv in bandwidth]
    return [a for a, b in zip(present, present[1:]) if bandwidth[a] < bandwidth[b]]


def level_bandwidths(working_set_bytes: ArrayLike, bandwidth: ArrayLike,
                     caches: Mapping[str, int]) -> dict[str, float]:
    """The measured bandwidth :math:`\\hat\\beta` of each level: the median over its band.

    A level none of whose band was measured is absent, not guessed.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> ws = [16 * KiB, 256 * KiB, 4 * MiB, 512 * MiB, 1024 * MiB]
    >>> bw = [200e9, 100e9, 60e9, 20e9, 22e9]
    >>> level_bandwidths(ws, bw, {"L1": 32 * KiB, "L2": 1 * MiB, "L3": 32 * MiB})
    {'L1': 200000000000.0, 'L2': 100000000000.0, 'L3': 60000000000.0, 'memory': 21000000000.0}
    """
    ws = np.asarray(working_set_bytes, float)
    bw = np.asarray(positive("bandwidth", bandwidth), float)
    if ws.shape != bw.shape:
        raise ValueError(f"working_set_bytes has shape {ws.shape} but bandwidth {bw.shape}; "
                         "give one bandwidth per size.")
    out = {}
    for lv, (lo, hi) in level_bands(caches).items():
        inside = (ws >= lo) & (ws <= hi)
        if inside.any():
            out[lv] = float(np.median(bw[inside]))
    return out


# --- achievable FLOP/s ------------------------------------------------------------------------

@dataclass(frozen=True)
class GemmSweep(_FlopRates):
    """Matrix products ``(m, k) @ (k, n)`` timed in one dtype over shapes.

    ``bytes_moved`` is :func:`lib.kernels.gemm`'s count (each operand once) at the dtype's
    element size.

    Introduced in chapters/16_measure.ipynb.
    """

    dtype: str
    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    flops: np.ndarray
    bytes_moved: np.ndarray
    median_s: np.ndarray
    q1_s: np.ndarray
    q3_s: np.ndarray
    provenance: Provenance

    @property
    def peak(self) -> float:
        """The achievable peak :math:`\\hat\\pi`: the best median FLOP/s of the sweep."""
        return float(self.flop_rate.max())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return self._plain("flop_rate", "peak")


def _gemm_counts(m: np.ndarray, n: np.ndarray, k: np.ndarray, dtype: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    g = kernels.gemm(m, n, k, "fp32")
    scale = np.dtype(FLOAT_DTYPES[dtype]).itemsize / 4     # lib counts fp32; fp64 is twice
    return (np.atleast_1d(np.asarray(g.flops, float)),
            np.atleast_1d(np.asarray(g.bytes_moved, float)) * scale)


def _time_gemms(m: np.ndarray, n: np.ndarray, k: np.ndarray, dtype: str, repeats: int,
                min_time_s: float, passes: int = 1, seed: int = 0) -> GemmSweep:
    dt = FLOAT_DTYPES[choice("dtype", dtype, FLOAT_DTYPES)]
    rng = np.random.default_rng(seed)
    flops, moved = _gemm_counts(m, n, k, dtype)
    med, q1, q3 = [], [], []
    cache: dict[tuple[int, int], np.ndarray] = {}
    for mi, ni, ki in zip(m.tolist(), n.tolist(), k.tolist()):
        if (ki, ni) not in cache:
            cache = {(ki, ni): rng.standard_normal((ki, ni)).astype(dt)}
        b = cache[ki, ni]
        a = rng.standard_normal((mi, ki)).astype(dt)
        t = min((time_call(lambda: a @ b, repeats=repeats, min_time_s=min_time_s)
                 for _ in range(passes)), key=lambda x: x.median_s)
        med.append(t.median_s), q1.append(t.q1_s), q3.append(t.q3_s)
    return GemmSweep(dtype, m, n, k, flops, moved, np.array(med), np.array(q1), np.array(q3),
                     provenance())


def gemm_sweep(sizes: ArrayLike, dtype: str = "fp32", *, repeats: int = 5,
               min_time_s: float = 2e-3, passes: int = 1) -> GemmSweep:
    """Square products ``(s, s) @ (s, s)`` for each size ``s``: the achievable FLOP/s.

    With ``passes`` above 1 each size is timed that many times (each a warm-up and
    ``repeats`` batches) and the pass with the lower median is kept: the BLAS splits a product
    over every core, so one other program holding a core for a moment can stall a whole pass,
    and a peak is what the machine can do, not what it did while disturbed.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> g = gemm_sweep([64], "fp64", repeats=3, min_time_s=1e-4)
    >>> int(g.flops[0]), bool(g.peak > 1e6)
    (524288, True)
    """
    s = np.atleast_1d(np.asarray(positive("sizes", sizes, integer=True), np.int64))
    return _time_gemms(s, s, s, dtype, repeats, min_time_s,
                       int(positive("passes", passes, integer=True)))


def gemm_msweep(ms: ArrayLike, n: int = 4096, k: int = 4096, dtype: str = "fp32", *,
                repeats: int = 5, min_time_s: float = 2e-3) -> GemmSweep:
    """``(m, k) @ (k, n)`` with a large ``(k, n)`` "weight" matrix, for each ``m``.

    ``m = 1`` is a GEMV, which reads the weight matrix once for 2 FLOP per element; each
    extra row reuses the same weights, so ``m`` dials the intensity up the roofline, as the
    batch does in decode (chapter 6).

    Introduced in chapters/16_measure.ipynb.
    """
    m = np.atleast_1d(np.asarray(positive("ms", ms, integer=True), np.int64))
    nn = np.full_like(m, int(positive("n", n, integer=True)))
    kk = np.full_like(m, int(positive("k", k, integer=True)))
    return _time_gemms(m, nn, kk, dtype, repeats, min_time_s)


# --- the dialled kernel -----------------------------------------------------------------------

#: Bytes per cache line assumed by the stride dial: 64 on every current x86 and most Arm
#: cores (Apple's M-series use 128, for which the counts hold too).
CACHE_LINE = 64


def dialled_counts(r: ArrayLike, n: ArrayLike, itemsize: int = 4,
                   stride: ArrayLike = 1) -> kernels.Kernel:
    """FLOPs and main-memory bytes of ``r`` multiply-adds on every ``stride``-th of ``n`` elements.

    Each element is read from main memory once and written back once (``2 n itemsize``
    bytes) whatever ``r``; while its block is in cache every ``stride``-th element gets
    ``r`` multiplies and ``r`` adds (``2 r n / stride`` FLOP). Intensity:
    ``r / (stride itemsize)`` FLOP/byte. A stride above 1 still touches every cache line
    (and so moves every byte) while ``stride * itemsize`` is at most a line,
    :data:`CACHE_LINE`; a larger stride is refused, since its bytes would be overcounted.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> c = dialled_counts([1, 8], 1024)
    >>> c.flops.tolist(), c.bytes_moved.tolist(), c.intensity.tolist()
    ([2048.0, 16384.0], [8192.0, 8192.0], [0.25, 2.0])
    >>> float(dialled_counts(1, 1024, stride=16).intensity)   # 1/64 FLOP/byte
    0.015625
    """
    rr = positive("r", r, integer=True)
    nn = positive("n", n, integer=True)
    size = int(positive("itemsize", itemsize, integer=True))
    st = positive("stride", stride, integer=True)
    if np.any(st * size > CACHE_LINE):
        raise ValueError(f"stride={stride!r}: at {size} bytes per element a stride above "
                         f"{CACHE_LINE // size} skips whole {CACHE_LINE}-byte cache lines, whose "
                         "bytes would be counted but never moved.")
    return kernels.Kernel("dialled multiply-add", 2 * rr * (nn // st), 2 * nn * size)


@dataclass(frozen=True)
class DialledSweep(_FlopRates):
    """The dialled kernel timed at each setting ``(r, stride)``: points that trace the roofline.

    Introduced in chapters/16_measure.ipynb.
    """

    r: np.ndarray
    stride: np.ndarray
    n: int
    block: int
    flops: np.ndarray
    bytes_moved: np.ndarray
    median_s: np.ndarray
    q1_s: np.ndarray
    q3_s: np.ndarray
    provenance: Provenance

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return self._plain("intensity", "flop_rate")


def dialled_sweep(rs: ArrayLike, strides: Sequence[int] = (), array_bytes: int = 128 * MiB,
                  block_bytes: int = 256 * KiB, *, repeats: int = 3,
                  min_time_s: float = 2e-3) -> DialledSweep:
    """Time the dialled kernel on an FP32 array: one multiply-add on every ``stride``-th element
    for each of ``strides``, then ``r`` on every element for each of ``rs``.

    The array should exceed the last-level cache several times, so that each block comes
    from main memory; the block should fit the L2 cache, so that the ``2r`` passes over it
    are served from there.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> s = dialled_sweep([1, 4], strides=[16], array_bytes=1 * MiB, block_bytes=64 * KiB,
    ...                   repeats=2, min_time_s=1e-4)
    >>> s.intensity.tolist(), s.stride.tolist()
    ([0.015625, 0.25, 1.0], [16, 1, 1])
    """
    settings = [(1, int(j)) for j in strides] + [
        (int(r), 1) for r in np.atleast_1d(positive("rs", rs, integer=True))]
    r_arr = np.array([r for r, _ in settings], np.int64)
    s_arr = np.array([j for _, j in settings], np.int64)
    block = max(CACHE_LINE, int(positive("block_bytes", block_bytes, integer=True))) // 4
    block -= block % (CACHE_LINE // 4)             # whole lines, so every stride divides it
    n = int(positive("array_bytes", array_bytes, integer=True)) // 4 // block * block
    if n == 0:
        raise ValueError(f"array_bytes={array_bytes!r} must hold at least one block of "
                         f"block_bytes={block_bytes!r}.")
    counts = dialled_counts(r_arr, n, 4, s_arr)
    x = np.full(n, 1.0, np.float32)
    med, q1, q3 = [], [], []
    for r, j in settings:
        def call(r: int = r, j: int = j) -> None:
            for start in range(0, n, block):
                blk = x[start:start + block:j]
                for _ in range(r):          # r multiply-adds while the block is in cache
                    np.multiply(blk, 0.999, out=blk)
                    np.add(blk, 0.001, out=blk)
        t = time_call(call, repeats=repeats, min_time_s=min_time_s)
        med.append(t.median_s), q1.append(t.q1_s), q3.append(t.q3_s)
    return DialledSweep(r_arr, s_arr, n, block,
                        np.atleast_1d(np.asarray(counts.flops, float)),
                        np.atleast_1d(np.asarray(counts.bytes_moved, float)), np.array(med),
                        np.array(q1), np.array(q3), provenance())


# --- fitting the roofline ---------------------------------------------------------------------

@dataclass(frozen=True)
class RooflineFit:
    """A two-parameter roofline fitted to measured points: ``t = max(F / pi, B / beta)``.

    Introduced in chapters/16_measure.ipynb.
    """

    peak_flops: float
    memory_bandwidth: float
    n_memory: int
    n_compute: int
    rms_log_error: float

    @property
    def ridge(self) -> float:
        """The ridge point of the fitted roofline, FLOP/byte (:func:`lib.roofline.ridge_point`)."""
        return float(roofline.ridge_point(self.peak_flops, self.memory_bandwidth))

    def predict(self, flops: ArrayLike, bytes_moved: ArrayLike) -> Any:
        """The fitted roofline's time for a kernel (:func:`lib.roofline.kernel_time`), seconds."""
        return roofline.kernel_time(flops, bytes_moved, self.peak_flops, self.memory_bandwidth)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {**asdict(self), "ridge": self.ridge}


def fit_roofline(flops: ArrayLike, bytes_moved: ArrayLike, seconds: ArrayLike) -> RooflineFit:
    """Fit :math:`\\hat\\pi` and :math:`\\hat\\beta` to measured kernels, least squares in log time.

    The points are split at every intensity into a memory-bound group (below) and a
    compute-bound group (above), each with at least one point. For a split, the best
    :math:`\\hat\\beta` is the geometric mean of the group's ``bytes / seconds``, and
    :math:`\\hat\\pi` that of ``flops / seconds``; the split whose roofline
    (:func:`lib.roofline.kernel_time`) misses the times least, in log, wins. Points that lie
    exactly on a roofline give it back exactly.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> f = np.array([1e6, 1e7, 1e8, 1e9])              # synthetic: pi = 1e11, beta = 1e10
    >>> b = np.array([1e7, 1e7, 1e7, 1e7])
    >>> t = np.maximum(f / 1e11, b / 1e10)
    >>> fit = fit_roofline(f, b, t)
    >>> float(fit.peak_flops), float(fit.memory_bandwidth), fit.ridge
    (100000000000.0, 10000000000.0, 10.0)
    """
    f = np.atleast_1d(np.asarray(positive("flops", flops), float))
    b = np.atleast_1d(np.asarray(positive("bytes_moved", bytes_moved), float))
    t = np.atleast_1d(np.asarray(positive("seconds", seconds), float))
    if not f.shape == b.shape == t.shape or f.ndim != 1:
        raise ValueError(f"flops, bytes_moved and seconds have shapes {f.shape}, {b.shape}, "
                         f"{t.shape}; give one of each per measured kernel.")
    if f.size < 2:
        raise ValueError(f"{f.size} point(s) cannot fix two parameters; measure at least two "
                         "kernels, one on each side of the ridge.")
    order = np.argsort(f / b, kind="stable")
    f, b, t = f[order], b[order], t[order]
    best: tuple[float, float, float, int] | None = None
    for split in range(1, f.size):
        beta = float(np.exp(np.mean(np.log(b[:split] / t[:split]))))
        pi = float(np.exp(np.mean(np.log(f[split:] / t[split:]))))
        model = np.asarray(roofline.kernel_time(f, b, pi, beta), float)
        err = float(np.sqrt(np.mean(np.log(t / model) ** 2)))
        if best is None or err < best[2] - 1e-12:
            best = (pi, beta, err, split)
    pi, beta, err, split = best  # type: ignore[misc]
    return RooflineFit(pi, beta, split, f.size - split, err)


# --- the machine's roofline -------------------------------------------------------------------

@dataclass(frozen=True)
class Config:
    """What :func:`measure_machine` times: sizes, repeats and the batch length.

    Introduced in chapters/16_measure.ipynb.
    """

    lo_bytes: int
    hi_bytes: int | None           # None: eight times the last-level cache, at least 64 MiB
    per_octave: int
    gemm_sizes: tuple[int, ...]
    repeats: int
    min_time_s: float


#: ``python -m lib measure --quick``: a few seconds on two cores.
QUICK = Config(16 * KiB, None, 1, (128, 256, 512, 1024), 5, 2e-3)
#: ``python -m lib measure``: finer steps and larger products, under a minute.
FULL = Config(4 * KiB, None, 2, (128, 256, 512, 1024, 2048), 7, 5e-3)


@dataclass(frozen=True)
class Machine:
    """This machine's measured roofline: :math:`\\hat\\beta` per level, :math:`\\hat\\pi` per dtype.

    Introduced in chapters/16_measure.ipynb.
    """

    bandwidth: Mapping[str, float]
    peak: Mapping[str, float]
    caches: Mapping[str, int]
    staircase: BandwidthSweep
    gemms: tuple[GemmSweep, ...]
    provenance: Provenance
    seconds: float = 0.0
    memory_capacity: float = field(default=0.0)

    @property
    def main_level(self) -> str:
        """``"memory"`` if main memory was measured, else the slowest level that was."""
        if "memory" in self.bandwidth:
            return "memory"
        return min(self.bandwidth, key=self.bandwidth.__getitem__)

    @property
    def main_bandwidth(self) -> float:
        """:math:`\\hat\\beta` of main memory (or of the slowest level measured), byte/s."""
        return self.bandwidth[self.main_level]

    def ridge(self, dtype: str = "fp32", level: str | None = None) -> float:
        """The ridge :math:`\\hat\\pi / \\hat\\beta` of ``dtype`` against ``level``, FLOP/byte.

        ``level`` defaults to :attr:`main_level`.
        """
        d = choice("dtype", dtype, self.peak)
        lv = choice("level", level or self.main_level, self.bandwidth)
        return float(roofline.ridge_point(self.peak[d], self.bandwidth[lv]))

    def as_device(self, level: str | None = None) -> hardware.Device:
        """This machine as a :class:`lib.hardware.Device` with its *measured* roofs.

        Its FP32 peak is the measured matrix-product :math:`\\hat\\pi`; its bandwidth the
        measured :math:`\\hat\\beta` of ``level`` (default :attr:`main_level`).
        :mod:`lib.inference` prices a forward pass on it like on any catalog device.
        """
        lv = choice("level", level or self.main_level, self.bandwidth)
        return roofline_device(
            self.bandwidth[lv], self.peak["fp32"], name="this-machine",
            label=f"{self.provenance.cpu} (measured)", memory_capacity=self.memory_capacity,
            memory_type=f"{lv} (measured)",
            source=f"measured by lib.measure on {self.provenance.date}",
            date=self.provenance.date[:10],
            notes="Roofs measured with numpy on this machine (lib.measure).")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: the roofs, ridges, caches, raw sweeps and provenance."""
        return {"bandwidth": dict(self.bandwidth), "peak_flops": dict(self.peak),
                "ridge": {d: self.ridge(d) for d in self.peak},
                "caches": dict(self.caches), "seconds": self.seconds,
                "staircase": self.staircase.to_dict(),
                "gemms": [g.to_dict() for g in self.gemms],
                "provenance": self.provenance.to_dict()}


def roofline_device(bandwidth: float, peak_fp32: float, *, name: str, label: str,
                    memory_capacity: float, memory_type: str, source: str, date: str = "",
                    vendor: str = "measured", notes: str = "") -> hardware.Device:
    """A :class:`lib.hardware.Device` with only the two roofs a CPU roofline has: ``bandwidth``
    (byte/s) and an FP32 ``peak_fp32`` (FLOP/s), so that :mod:`lib.inference` prices a
    forward pass on it like on any catalog device. ``source`` says where the roofs came from
    (measured here, or stipulated).

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> d = roofline_device(40e9, 200e9, name="ref", label="Reference", memory_capacity=64e9,
    ...                     memory_type="DDR", source="stipulated")
    >>> d.memory_bandwidth, d.peak("fp32")
    (40000000000.0, 200000000000.0)
    """
    return hardware.Device(
        name=name, label=label, vendor=vendor,
        peak_flops={"fp32": float(positive("peak_fp32", peak_fp32))}, sparse_peak_flops={},
        memory_bandwidth=float(positive("bandwidth", bandwidth)),
        memory_capacity=float(positive("memory_capacity", memory_capacity)),
        memory_type=memory_type, source=hardware.Source("", source, date, ""), notes=notes)


def _memory_capacity() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0.0


def measure_machine(config: Config = QUICK, caches: Mapping[str, int] | None = None
                    ) -> Machine:
    """Measure the staircase and the matrix-product peaks, and reduce them to roofs.

    The bandwidth of each level is the median over its band (:func:`level_bandwidths`); the
    peak of each dtype the best size of a :func:`gemm_sweep` with three passes per size.

    Introduced in chapters/16_measure.ipynb.
    """
    t0 = time.perf_counter()
    found = dict(caches) if caches is not None else cache_sizes()
    if not found:
        found = dict(DEFAULT_CACHES)
    last = max(found.values())
    hi = config.hi_bytes if config.hi_bytes is not None else max(8 * last, 64 * MiB)
    sizes = size_grid(config.lo_bytes, hi, config.per_octave)
    stair = bandwidth_sweep(sizes, "add", repeats=config.repeats,
                            min_time_s=config.min_time_s)
    gemms = tuple(gemm_sweep(config.gemm_sizes, d, repeats=config.repeats,
                             min_time_s=config.min_time_s, passes=3) for d in FLOAT_DTYPES)
    bw = level_bandwidths(stair.working_set_bytes, stair.bandwidth, found)
    return Machine(MappingProxyType(bw), MappingProxyType({g.dtype: g.peak for g in gemms}),
                   MappingProxyType(found), stair, gemms, stair.provenance,
                   round(time.perf_counter() - t0, 3), _memory_capacity())


# --- predictions from the measured roofline ---------------------------------------------------

def predict_time(flops: ArrayLike, bytes_moved: ArrayLike, machine: Machine,
                 dtype: str = "fp32", level: str | None = None) -> Any:
    """A kernel's roofline time on the measured machine (:func:`lib.roofline.kernel_time`).

    ``level`` is the memory level the bytes come from (default: main memory).

    Introduced in chapters/16_measure.ipynb.
    """
    d = choice("dtype", dtype, machine.peak)
    lv = choice("level", level or machine.main_level, machine.bandwidth)
    return roofline.kernel_time(flops, bytes_moved, machine.peak[d], machine.bandwidth[lv])


def predict_forward(model: Any, machine: "Machine | hardware.Device", batch: ArrayLike,
                    new_tokens: ArrayLike, cached: ArrayLike = 0, *, dtype: str = "fp32",
                    **kw: Any) -> inference.Estimate:
    """A forward pass priced by :func:`lib.inference.forward` on the measured roofline.

    Weights, cache and arithmetic are all in ``dtype`` (numpy computes in FP32), and
    attention is unfused, as a plain numpy implementation runs it.

    Introduced in chapters/16_measure.ipynb.
    """
    dev = machine.as_device() if isinstance(machine, Machine) else machine
    kw.setdefault("fused_attention", False)
    return inference.forward(model, dev, batch, new_tokens, cached, weight_dtype=dtype,
                             kv_dtype=dtype, compute_dtype=dtype, **kw)


@dataclass(frozen=True)
class Prediction:
    """A forward pass timed on this machine beside what its measured roofline predicts.

    ``predicted_s`` is :func:`predict_forward`'s per-op time (each op at the slower of its
    two roofs, :func:`lib.roofline.kernel_time`, summed); ``ratio`` is measured over
    predicted: 1 is the roofline's speed, above 1 slower.

    Introduced in chapters/16_measure.ipynb.
    """

    phase: str
    batch: int
    new_tokens: int
    cached: int
    measured_s: float
    q1_s: float
    q3_s: float
    predicted_s: float
    memory_s: float
    math_s: float
    bound: str
    flops: float
    bytes_moved: float
    kernels: int

    @property
    def ratio(self) -> float:
        """Measured over predicted time."""
        return self.measured_s / self.predicted_s

    @property
    def excess_per_kernel_s(self) -> float:
        """The time beyond the prediction, per op (kernel): an overhead per call, seconds."""
        return (self.measured_s - self.predicted_s) / self.kernels

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {**asdict(self), "ratio": self.ratio,
                "excess_per_kernel_s": self.excess_per_kernel_s}


def predict_timing(model: Any, timing: Any, machine: "Machine | hardware.Device") -> Prediction:
    """Set a timed forward (:func:`lib.tiny.time_decode` or ``time_prefill``) beside its prediction.

    ``timing`` needs ``batch``, ``new_tokens``, ``cached``, ``kernels`` and a ``timing``
    with ``median_s``, ``q1_s`` and ``q3_s``; ``model`` is the config it ran. The bytes and
    FLOPs are lib's count of the same forward, in FP32 with attention unfused (what numpy
    does), which :mod:`lib.tiny`'s tests prove equal to what the code tallies.

    Introduced in chapters/16_measure.ipynb.
    """
    est = predict_forward(model, machine, timing.batch, timing.new_tokens, timing.cached)
    t = timing.timing
    return Prediction(str(getattr(timing, "phase", "forward")), int(timing.batch),
                      int(timing.new_tokens), int(timing.cached), float(t.median_s),
                      float(t.q1_s), float(t.q3_s), float(est.time_s),
                      float(est.memory_time_s), float(est.math_time_s), str(est.bound),
                      float(est.flops), float(est.bytes), int(timing.kernels))


# --- figures ----------------------------------------------------------------------------------

def staircase_figure(sweep: BandwidthSweep, caches: Mapping[str, int],
                     bandwidth: Mapping[str, float] | None = None) -> Any:
    """The bandwidth staircase: median bandwidth (line) and inter-quartile band against working set.

    Each cache's size is a dotted line; each level's :math:`\\hat\\beta`
    (:func:`level_bandwidths`) a short horizontal bar over its band.

    Introduced in chapters/16_measure.ipynb.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter   # noqa: PLC0415

    from lib.plotting import COLORS, new_figure      # noqa: PLC0415
    from lib.units import fmt_bandwidth, fmt_bytes   # noqa: PLC0415

    fig, ax = new_figure(7.0, 4.0)
    x = sweep.working_set_bytes
    lo, hi = sweep.bandwidth_q
    ax.fill_between(x, lo, hi, color=COLORS[0], alpha=0.25, lw=0,
                    label="inter-quartile range")
    ax.plot(x, sweep.bandwidth, "o-", color=COLORS[0], ms=4,
            label=f"np.{sweep.kernel} (median)")
    for lv, size in sorted(caches.items()):
        ax.axvline(size, color="grey", ls=":", lw=1)
        ax.annotate(f"{lv} {fmt_bytes(size, binary=True)}",
                    (size, 0.97), xycoords=("data", "axes fraction"), rotation=90,
                    ha="right", va="top", fontsize=8, color="grey")
    bands = level_bands(caches)
    for lv, bw in (bandwidth or {}).items():
        b_lo, b_hi = bands[lv]
        b_lo, b_hi = max(b_lo, float(x.min())), min(b_hi, float(x.max()))
        ax.plot([b_lo, b_hi], [bw, bw], color=COLORS[1], lw=3, alpha=0.8)
        ax.annotate(f"{lv}: {fmt_bandwidth(bw, 3)}", (b_lo, bw), xytext=(0, 5),
                    textcoords="offset points", fontsize=8, color=COLORS[1])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("working set (bytes, all arrays)")
    ax.set_ylabel("bandwidth (byte/s)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_bytes(v, binary=True)))
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_bandwidth(v, 2)))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower center", fontsize=8)
    return fig


def roofline_figure(fit: RooflineFit, points: Sequence[tuple[str, Any, Any, Any]] = (),
                    devices: Sequence[str] = (), *, peak: float | None = None,
                    intensity_range: tuple[float, float] = (0.05, 1000.0)) -> Any:
    """The measured roofline (``fit``) with measured points and catalog devices' rooflines.

    ``points`` are ``(label, intensity, flop_rate, (low, high) or None)`` series; ``peak``
    draws the matrix-product :math:`\\hat\\pi` as a second, higher compute roof.

    Introduced in chapters/16_measure.ipynb.
    """
    from lib.plotting import COLORS, MARKERS, format_roofline_axes, new_figure, roof_xy  # noqa
    from lib.units import fmt_bandwidth, fmt_flop_rate, fmt_intensity  # noqa: PLC0415

    fig, ax = new_figure(7.0, 4.6)
    peaks = [fit.peak_flops] + ([peak] if peak else [])
    for name in devices:
        d = hardware.get(name)
        p = d.peak_flops.get("fp32")
        if p is None:
            continue
        peaks.append(p)
    lo_y = fit.memory_bandwidth * intensity_range[0] / 3
    format_roofline_axes(ax, intensity_range, (lo_y, max(peaks) * 3))
    ax.plot(*roof_xy(fit.peak_flops, fit.memory_bandwidth, intensity_range), color="black",
            lw=2, label=f"fitted: {fmt_bandwidth(fit.memory_bandwidth, 3)}, "
            f"{fmt_flop_rate(fit.peak_flops, 3)}, ridge {fmt_intensity(fit.ridge)}")
    if peak:
        ax.plot(*roof_xy(peak, fit.memory_bandwidth, intensity_range), color="black", lw=1,
                ls="--", label=f"with the matrix-product peak {fmt_flop_rate(peak, 3)}")
    for i, name in enumerate(devices):
        d = hardware.get(name)
        p = d.peak_flops.get("fp32")
        if p is None:
            continue
        ax.plot(*roof_xy(p, d.memory_bandwidth, intensity_range), color=COLORS[5 + i % 3],
                lw=1.2, alpha=0.7, label=f"{d.short_label}, fp32 (datasheet)")
    for j, (label, x, y, spread) in enumerate(points):
        x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        yerr = None
        if spread is not None:
            lo, hi = (np.atleast_1d(np.asarray(v, float)) for v in spread)
            yerr = np.vstack([y - lo, hi - y])
        ax.errorbar(x, y, yerr=yerr, fmt=MARKERS[j % len(MARKERS)] + ("-" if x.size > 1
                    else ""), color=COLORS[j % 5], ms=6, lw=1, capsize=2, label=label)
    ax.legend(loc="upper left", fontsize=7)
    return fig


def prediction_figure(predictions: Sequence[Prediction], labels: Sequence[str]) -> Any:
    """Measured against predicted times of timed forwards, with the inter-quartile range.

    Introduced in chapters/16_measure.ipynb.
    """
    from lib.plotting import COLORS, new_figure     # noqa: PLC0415
    from lib.units import fmt_time                  # noqa: PLC0415

    if len(labels) != len(predictions):
        raise ValueError(f"labels has {len(labels)} entries for {len(predictions)} predictions; "
                         "give one label per prediction.")
    fig, ax = new_figure(7.0, 1.2 + 0.45 * len(predictions))
    y = np.arange(len(predictions))
    pred = np.array([p.predicted_s for p in predictions])
    meas = np.array([p.measured_s for p in predictions])
    err = np.array([[p.measured_s - p.q1_s for p in predictions],
                    [p.q3_s - p.measured_s for p in predictions]])
    ax.barh(y + 0.2, pred, 0.4, color=COLORS[0], label="predicted (measured roofline)")
    ax.barh(y - 0.2, meas, 0.4, xerr=err, color=COLORS[1], capsize=2,
            label="measured (median, IQR)")
    for yi, p in zip(y, predictions):
        ax.annotate(f"{p.ratio:.2f}x", (max(p.measured_s, p.predicted_s), yi), xytext=(4, -3),
                    textcoords="offset points", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_xscale("log")
    ax.set_xlabel("time per forward (s)")
    from matplotlib.ticker import FuncFormatter     # noqa: PLC0415
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_time(v)))
    ax.invert_yaxis()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


# --- the GPU, where there is one --------------------------------------------------------------

@dataclass(frozen=True)
class GpuStatus:
    """Whether the GPU measurements can run here, and if not, why not.

    Introduced in chapters/16_measure.ipynb.
    """

    available: bool
    reason: str
    torch: str | None = None
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def _torch() -> Any:
    try:
        import torch  # noqa: PLC0415  (optional: never a requirement of the book)
    except ImportError:
        return None
    return torch


def gpu_status() -> GpuStatus:
    """Is PyTorch importable, and does it see a CUDA GPU? Never raises.

    Introduced in chapters/16_measure.ipynb.
    """
    torch = _torch()
    if torch is None:
        return GpuStatus(False, "PyTorch is not installed (it is optional: "
                         "pip install torch to measure a GPU)")
    try:
        ok = bool(torch.cuda.is_available())
    except Exception as exc:    # a broken driver is an answer too
        return GpuStatus(False, f"torch.cuda failed: {exc}", torch.__version__)
    if not ok:
        return GpuStatus(False, "PyTorch sees no CUDA GPU", torch.__version__)
    return GpuStatus(True, "ok", torch.__version__, torch.cuda.get_device_name(0))


def _gpu_time(torch: Any, fn: Callable[[], Any], repeats: int, min_time_s: float) -> Timing:
    def synced() -> None:
        fn()
        torch.cuda.synchronize()
    return time_call(synced, repeats=repeats, min_time_s=min_time_s)


def gpu_bandwidth(sizes: ArrayLike = (2**20, 2**24, 2**28), *, repeats: int = 5,
                  min_time_s: float = 1e-2) -> BandwidthSweep | None:
    """The ``add`` staircase on the GPU (``torch.add(a, b, out=c)``, FP32), or ``None`` without one.

    Introduced in chapters/16_measure.ipynb.
    """
    st = gpu_status()
    if not st.available:
        return None
    torch = _torch()
    ws = np.atleast_1d(np.asarray(positive("sizes", sizes, integer=True), np.int64))
    ns, counts = stream_kernel("add", ws)
    med, q1, q3 = [], [], []
    for n in np.atleast_1d(ns).tolist():
        a = torch.ones(n, device="cuda")
        b = torch.ones(n, device="cuda")
        c = torch.empty_like(a)
        t = _gpu_time(torch, lambda: torch.add(a, b, out=c), repeats, min_time_s)
        med.append(t.median_s), q1.append(t.q1_s), q3.append(t.q3_s)
    return BandwidthSweep("add", ws, np.atleast_1d(np.asarray(counts.bytes_moved, float)),
                          np.array(med), np.array(q1), np.array(q3),
                          provenance(st.torch, st.device))


def gpu_gemm_msweep(ms: ArrayLike = (1, 16, 64, 256, 1024, 4096), n: int = 8192,
                    k: int = 8192, *, repeats: int = 5, min_time_s: float = 1e-2
                    ) -> GemmSweep | None:
    """The GEMM M-sweep on the GPU in BF16, or ``None`` without one.

    Introduced in chapters/16_measure.ipynb.
    """
    st = gpu_status()
    if not st.available:
        return None
    torch = _torch()
    m = np.atleast_1d(np.asarray(positive("ms", ms, integer=True), np.int64))
    g = kernels.gemm(m, n, k, "bf16")
    w = torch.randn(k, n, device="cuda", dtype=torch.bfloat16)
    med, q1, q3 = [], [], []
    for mi in m.tolist():
        x = torch.randn(mi, k, device="cuda", dtype=torch.bfloat16)
        t = _gpu_time(torch, lambda: x @ w, repeats, min_time_s)
        med.append(t.median_s), q1.append(t.q1_s), q3.append(t.q3_s)
    return GemmSweep("bf16", m, np.full_like(m, n), np.full_like(m, k),
                     np.atleast_1d(np.asarray(g.flops, float)),
                     np.atleast_1d(np.asarray(g.bytes_moved, float)), np.array(med),
                     np.array(q1), np.array(q3), provenance(st.torch, st.device))


def gpu_decode_sweep(model: Any, batches: Sequence[int] = (1, 8, 32),
                     contexts: Sequence[int] = (512, 4096), *, repeats: int = 5
                     ) -> dict[str, Any] | None:
    """Time one decode step of ``model``'s shapes on the GPU (BF16), or ``None`` without one.

    One layer (QKV projection, attention over a random cache of ``context`` tokens with
    grouped-query heads, output projection, gated MLP) is timed with random weights and
    multiplied by the layers: its bytes are the weights and the cache, as in
    :func:`lib.inference.decode` on the catalog device, to which it is compared.

    Introduced in chapters/16_measure.ipynb.
    """
    st = gpu_status()
    if not st.available:
        return None
    torch = _torch()
    from lib import models    # noqa: PLC0415
    m = models.get(model)
    d, dh, hq, hkv, f = m.d_model, m.head_dim, m.n_heads, m.n_kv_heads, m.d_ff
    bf = torch.bfloat16
    wq = torch.randn(d, (hq + 2 * hkv) * dh, device="cuda", dtype=bf)
    wo = torch.randn(hq * dh, d, device="cuda", dtype=bf)
    wu = torch.randn(d, 2 * f, device="cuda", dtype=bf)
    wd = torch.randn(f, d, device="cuda", dtype=bf)
    rows = []
    for b in batches:
        for c in contexts:
            x = torch.randn(b, d, device="cuda", dtype=bf)
            kc = torch.randn(b, hkv, c, dh, device="cuda", dtype=bf)
            vc = torch.randn(b, hkv, c, dh, device="cuda", dtype=bf)

            def layer() -> None:
                qkv = x @ wq
                q = qkv[:, :hq * dh].reshape(b, hkv, hq // hkv, dh)
                s = torch.softmax(torch.einsum("bgqd,bgcd->bgqc", q, kc), dim=-1)
                o = torch.einsum("bgqc,bgcd->bgqd", s, vc).reshape(b, hq * dh)
                h = o @ wo
                u = h @ wu
                _ = (torch.nn.functional.silu(u[:, :f]) * u[:, f:]) @ wd
            t = _gpu_time(torch, layer, repeats, 1e-2)
            rows.append({"batch": b, "context": c, "layer_s": t.median_s,
                         "step_s": t.median_s * m.n_layers, "iqr_s": t.iqr_s * m.n_layers})
    return {"model": m.name, "rows": rows, "provenance": provenance(st.torch, st.device).to_dict()}
