"""The book's figures: one roofline plot, reused everywhere.

Helpers return the :class:`~matplotlib.figure.Figure` they draw and never call
``plt.show()``; nothing here touches global ``rcParams``. A notebook displays a
figure by making it the last expression of a cell.

Introduced in chapters/01_memory_bound.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lib import hardware
from lib._validate import choice
from lib.hardware import Device
from lib.kernels import Kernel
from lib.roofline import attainable_flops, ridge_point
from lib.units import fmt_flop_rate, fmt_intensity

__all__ = ["Roof", "roof", "roof_xy", "new_figure", "roofline_plot", "format_roofline_axes",
           "COLORS", "MARKERS"]

#: Marker shapes for kernels listed in a legend (shape, not only colour, tells them apart).
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "<", ">")

#: A colour-blind-safe cycle (Okabe-Ito), used by every figure.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
          "#F0E442")


@dataclass(frozen=True)
class Roof:
    """One roofline: a compute roof ``peak_flops`` and a memory roof ``memory_bandwidth``."""

    label: str
    peak_flops: float
    memory_bandwidth: float

    @property
    def ridge(self) -> float:
        """Ridge point, FLOP/byte."""
        return ridge_point(self.peak_flops, self.memory_bandwidth)


def roof(device: "str | Device", dtype: str = "bf16") -> Roof:
    """The roofline of ``device`` computing in ``dtype``.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> r = roof("h100-sxm", "bf16")
    >>> r.label, round(r.ridge)
    ('H100 SXM5 80GB, bf16', 295)
    """
    dev = hardware.get(device)
    return Roof(f"{dev.short_label}, {dtype}", dev.peak(dtype), dev.memory_bandwidth)


def roof_xy(peak_flops: float, memory_bandwidth: float,
            intensity_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Points of the two-segment roofline over ``intensity_range`` (for ``Line2D.set_data``).

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> x, y = roof_xy(100.0, 10.0, (0.1, 1000.0))
    >>> x.tolist(), y.tolist()
    ([0.1, 10.0, 1000.0], [1.0, 100.0, 100.0])
    """
    lo, hi = intensity_range
    ridge = ridge_point(peak_flops, memory_bandwidth)
    x = np.array([lo, min(max(ridge, lo), hi), hi])
    return x, attainable_flops(x, peak_flops, memory_bandwidth)


def new_figure(width: float = 7.0, height: float = 4.3) -> tuple[Figure, Axes]:
    """A figure and axes that Jupyter shows once, when returned from a cell.

    Introduced in chapters/02_compute_bound.ipynb.

    The figure is closed in pyplot's registry straight away, so the inline backend
    does not show it a second time, and many figures do not accumulate.
    """
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig, ax


def format_roofline_axes(ax: Axes, intensity_range: tuple[float, float],
                         flops_range: tuple[float, float]) -> None:
    """Log-log axes with readable units: FLOP/byte across, FLOP/s up.

    Introduced in chapters/03_roofline.ipynb.
    """
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*intensity_range)
    ax.set_ylim(*flops_range)
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("attainable FLOP/s")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_flop_rate(v, 2)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.grid(True, which="major", alpha=0.3)


def roofline_plot(roofs: Sequence[Roof], kernels: Sequence[Kernel] = (),
                  ax: Axes | None = None, title: str | None = None,
                  intensity_range: tuple[float, float] = (0.01, 1e4),
                  kernel_labels: str = "annotate",
                  kernel_roofs: Sequence[int] | None = None) -> Figure:
    """Draw one or more rooflines and place kernels on the first.

    Introduced in chapters/01_memory_bound.ipynb.

    Each roof is a line (memory slope, then the flat compute roof) with its ridge
    point marked by a dotted vertical line. Each kernel is a point at its
    intensity and the throughput its roof allows it (the first roof unless
    ``kernel_roofs`` says otherwise).

    Parameters
    ----------
    roofs : sequence of Roof
        Build them with :func:`roof` from the hardware catalog.
    kernels : sequence of Kernel
        Scalar kernels (one point each) from :mod:`lib.kernels`.
    ax : Axes, optional
        Draw into these axes instead of a new figure.
    title : str, optional
    intensity_range : (float, float)
        The x-axis span, FLOP/byte.
    kernel_labels : {"annotate", "legend"}
        Write each kernel's name beside its point, or give each kernel its own
        marker and list them, with their intensities, in a second legend (better
        when points crowd together).
    kernel_roofs : sequence of int, optional
        For each kernel, the index in ``roofs`` of the roof it runs under.

    Returns
    -------
    Figure

    Examples
    --------
    >>> from lib import hardware, kernels
    >>> fig = roofline_plot([roof(hardware.get("h100-sxm"))], [kernels.dot(4096, "bf16")])
    >>> len(fig.axes)
    1
    """
    if not roofs:
        raise ValueError("roofs=[] must hold at least one Roof.")
    choice("kernel_labels", kernel_labels, ["annotate", "legend"])
    if kernel_roofs is None:
        kernel_roofs = [0] * len(kernels)
    if len(kernel_roofs) != len(kernels):
        raise ValueError(f"kernel_roofs has {len(kernel_roofs)} entries for {len(kernels)} "
                         "kernels; give one roof index per kernel.")
    for i in kernel_roofs:
        if not (isinstance(i, (int, np.integer)) and 0 <= i < len(roofs)):
            raise ValueError(f"kernel_roofs entry {i!r} must index roofs (0 to {len(roofs) - 1}).")
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    peaks = [r.peak_flops for r in roofs]
    lo_y = min(r.memory_bandwidth for r in roofs) * intensity_range[0]
    format_roofline_axes(ax, intensity_range, (lo_y, max(peaks) * 3))
    roof_handles = []
    for i, r in enumerate(roofs):
        color = COLORS[i % len(COLORS)]
        (line,) = ax.plot(*roof_xy(r.peak_flops, r.memory_bandwidth, intensity_range),
                          color=color, lw=2, label=f"{r.label}: ridge {fmt_intensity(r.ridge)}")
        roof_handles.append(line)
        ax.axvline(r.ridge, color=color, ls=":", lw=1)
    kernel_handles = []
    for j, (k, ri) in enumerate(zip(kernels, kernel_roofs)):
        r = roofs[ri]
        x = float(np.asarray(k.intensity))
        y = float(attainable_flops(x, r.peak_flops, r.memory_bandwidth))
        if kernel_labels == "legend":
            (point,) = ax.plot([x], [y], MARKERS[j % len(MARKERS)], color="black", ms=7,
                               mfc=COLORS[(j + len(roofs)) % len(COLORS)], zorder=5,
                               label=f"{k.name}: {fmt_intensity(x)}")
            kernel_handles.append(point)
        else:
            ax.plot([x], [y], "o", color="black", ms=6, zorder=5)
            ax.annotate(k.name, (x, y), xytext=(6, -12 if j % 2 else 6),
                        textcoords="offset points", fontsize=8)
    roof_legend = ax.legend(handles=roof_handles, loc="lower right", fontsize=8)
    if kernel_handles:
        ax.add_artist(roof_legend)
        ax.legend(handles=kernel_handles, loc="upper left", fontsize=8, title="kernels",
                  title_fontsize=8)
    if title:
        ax.set_title(title)
    return fig
