"""Wall-clock timing on a noisy machine: warm-up, calls batched to outlast the clock, repeats,
and the median with its spread.

One definition of how the book times anything on the reader's machine, used by
:mod:`lib.tiny` (a forward pass of the numpy transformer) and :mod:`lib.measure`
(bandwidth, matrix products, the dialled kernel). A timing is a :class:`Timing`: the median
seconds per call of ``repeats`` batches, the first and third quartiles, the fastest batch,
and how many calls each batch made (Hoefler and Belli's rules for reporting measurements,
``hoefler2015benchmarking`` in references.bib: report the spread, not one number).

Introduced in chapters/16_measure.ipynb.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib._validate import positive

__all__ = ["Timing", "summarise", "time_call"]


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one kernel: the median of ``repeats`` timings and their quartiles.

    Each timing ran the call ``inner`` times back to back and is divided by ``inner``.

    Introduced in chapters/16_measure.ipynb.
    """

    median_s: float
    q1_s: float
    q3_s: float
    min_s: float
    repeats: int
    inner: int

    @property
    def iqr_s(self) -> float:
        """The inter-quartile range, seconds: the spread of the middle half of the timings."""
        return self.q3_s - self.q1_s

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {**asdict(self), "iqr_s": self.iqr_s}


def summarise(samples: ArrayLike, inner: int = 1) -> Timing:
    """A :class:`Timing` from raw timings (seconds per batch of ``inner`` calls).

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> t = summarise([4.0, 1.0, 3.0, 2.0, 100.0], inner=2)   # one disturbed run
    >>> t.median_s, t.q1_s, t.q3_s, t.min_s
    (1.5, 1.0, 2.0, 0.5)
    """
    s = np.asarray(samples, float)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"samples={samples!r} must be a non-empty list of timings.")
    positive("samples", s, allow_zero=True)
    n = int(positive("inner", inner, integer=True))
    q1, med, q3 = np.percentile(s / n, [25, 50, 75])
    return Timing(float(med), float(q1), float(q3), float(s.min() / n), int(s.size), n)


def time_call(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1,
              min_time_s: float = 2e-3, clock: Callable[[], float] = time.perf_counter
              ) -> Timing:
    """Time ``fn()``: warm up, batch calls to last ``min_time_s``, time ``repeats`` batches.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> t = time_call(lambda: sum(range(100)), repeats=3, min_time_s=1e-4)
    >>> t.repeats, t.median_s > 0
    (3, True)
    """
    reps = int(positive("repeats", repeats, integer=True))
    positive("warmup", warmup, allow_zero=True, integer=True)
    positive("min_time_s", min_time_s)
    for _ in range(int(warmup)):
        fn()
    inner = 1
    while True:                         # calibrate: enough calls per batch to outlast the clock
        t0 = clock()
        for _ in range(inner):
            fn()
        t = clock() - t0
        if t >= min_time_s or inner >= 2**22:
            break
        inner *= min(1024, max(2, math.ceil(1.2 * min_time_s / max(t, 1e-9))))
    samples = []
    for _ in range(reps):
        t0 = clock()
        for _ in range(inner):
            fn()
        samples.append(clock() - t0)
    return summarise(samples, inner)
