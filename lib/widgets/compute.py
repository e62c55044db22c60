"""Chapter 2's explorer: a GEMM's shape moves it from the memory slope to the compute roof.

The left panel places ``gemm(M, N, K)`` with N = K on the device's roofline, with the
path it takes as M grows drawn faintly; the right panel compares the two lower bounds
on its time, FLOPs ÷ peak and bytes ÷ bandwidth: the longer bar is the roofline time.

Introduced in chapters/02_compute_bound.ipynb.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lib import hardware, kernels
from lib.exercises.ch02 import EXPLORER_MS as MS  # an exercise asks about the slider's values
from lib.plotting import COLORS, format_roofline_axes, roof_xy
from lib.roofline import attainable_flops, bound_of, kernel_time, math_time, memory_time, \
    ridge_point
from lib.units import fmt_bytes, fmt_flop_rate, fmt_flops, fmt_intensity, fmt_time
from lib.widgets import Control, Explorer

X_RANGE = (0.1, 3e4)
Y_RANGE = (1e10, 1e16)
T_RANGE = (1e-10, 1.0)
NKS = (1024, 4096, 16384)
DTYPES = ("fp32", "bf16", "fp8")


class ComputeExplorer(Explorer):
    """GEMM shape (M, N = K), precision and device: intensity, roofline time, bound, % of peak."""

    name = "compute"
    title = "A GEMM climbing from the memory slope to the compute roof"
    figsize = (8.0, 4.6)  # 640 px wide: shown at full size on the website
    controls = (
        Control("m", "rows of A (M, tokens)", tuple((str(m), m) for m in MS), default=0),
        Control("nk", "N = K (weight matrix side)", tuple((str(d), d) for d in NKS), default=1),
        Control("dtype", "precision", tuple((d, d) for d in DTYPES), default=1),
        Control("device", "device", tuple((n, n) for n in hardware.names()),
                default=hardware.names().index("h100-sxm"), kind="dropdown", static=False),
    )

    def setup(self, fig: Figure) -> None:
        ax, tx = fig.subplots(1, 2, width_ratios=(2.25, 1))
        self.ax, self.tx = ax, tx
        format_roofline_axes(ax, X_RANGE, Y_RANGE)
        ax.tick_params(labelsize=9)
        dyn = self.dynamic
        self.roof_line = dyn(ax.plot([], [], color=COLORS[0], lw=2.5)[0])
        self.mem_line = dyn(ax.plot([], [], color=COLORS[0], lw=2, ls="--")[0])
        self.ridge_line = dyn(ax.axvline(1.0, color=COLORS[0], ls=":", lw=1))
        self.left_label = dyn(ax.text(1, 1, "memory-bound ←", ha="right", va="top", fontsize=8,
                                      color="0.35"))
        self.right_label = dyn(ax.text(1, 1, "→ compute-bound", ha="left", va="top", fontsize=8,
                                       color="0.35"))
        self.trail = dyn(ax.plot([], [], "o", color=COLORS[1], alpha=0.5, ms=6, mec="none",
                                 zorder=4)[0])
        self.point = dyn(ax.plot([], [], "o", color=COLORS[1], ms=10, zorder=5)[0])
        self.point_label = dyn(ax.annotate("", (1, 1), xytext=(8, -14), textcoords="offset points",
                                           fontsize=9, color=COLORS[1], weight="bold"))
        # Below the roof at high intensity nothing is ever drawn: room for the numbers.
        self.info = dyn(ax.text(0.98, 0.03, "", transform=ax.transAxes, va="bottom", ha="right",
                                fontsize=9, multialignment="left",
                                bbox=dict(boxstyle="round", fc="white", ec="0.7")))
        ax.set_title("roofline (dense peak)", fontsize=10)

        tx.set_xscale("log")
        tx.set_xlim(*T_RANGE)
        tx.set_ylim(-0.7, 1.7)
        tx.set_yticks([1, 0], ["FLOPs\n÷ peak", "bytes\n÷ bandwidth"], fontsize=9)
        tx.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_time(v, 1)))
        tx.set_xticks([1e-9, 1e-6, 1e-3, 1.0])
        tx.set_xlabel("time (log scale)")
        tx.tick_params(axis="x", labelsize=9)
        tx.grid(True, axis="x", alpha=0.3)
        tx.set_title("lower bounds on the time", fontsize=10)
        lo = T_RANGE[0]
        self.bar_math = dyn(tx.barh([1], [lo], left=lo, height=0.55, color=COLORS[2])[0])
        self.bar_mem = dyn(tx.barh([0], [lo], left=lo, height=0.55, color=COLORS[0])[0])
        self.t_math = dyn(tx.text(lo * 2, 1.42, "", fontsize=8.5, va="center"))
        self.t_mem = dyn(tx.text(lo * 2, 0.42, "", fontsize=8.5, va="center"))
        fig.suptitle(self.title, fontsize=11)

    def update(self, *, m: int, nk: int, dtype: str, device: str, **_: Any) -> None:
        dev = hardware.get(device)
        bw = dev.memory_bandwidth
        published = dtype in dev.peak_flops
        peak = dev.peak(dtype) if published else np.inf
        trail = kernels.gemm(np.array(MS), nk, nk, dtype)
        gemm = kernels.gemm(m, nk, nk, dtype)
        x_trail = np.asarray(trail.intensity)
        x = float(gemm.intensity)
        top = Y_RANGE[1] / 1.6
        if published:
            ridge = float(ridge_point(peak, bw))
            self.roof_line.set_data(*roof_xy(peak, bw, X_RANGE))
            self.mem_line.set_data([], [])
            self.ridge_line.set_xdata([ridge, ridge])
            y_trail = attainable_flops(x_trail, peak, bw)
            y = float(attainable_flops(x, peak, bw))
            for label, visible in ((self.ridge_line, True), (self.left_label, True),
                                   (self.right_label, True)):
                label.set_visible(visible)
            self.left_label.set_position((ridge / 1.15, top))
            self.right_label.set_position((ridge * 1.15, top))
        else:
            self.roof_line.set_data([], [])
            self.mem_line.set_data(np.array(X_RANGE), bw * np.array(X_RANGE))
            for artist in (self.ridge_line, self.left_label, self.right_label):
                artist.set_visible(False)
            y_trail, y = bw * x_trail, bw * x
        self.trail.set_data(x_trail, y_trail)
        self.point.set_data([x], [y])
        self.point_label.xy = (x, y)
        self.point_label.set_text(f"M={m}")

        t_mem = float(memory_time(gemm.bytes_moved, bw))
        t_math = float(math_time(gemm.flops, peak)) if published else 0.0
        which = bound_of(t_math, t_mem)
        self._bar(self.bar_mem, self.t_mem, t_mem, published and which == "memory")
        lines = [f"{dev.label}, {dtype}",
                 f"GEMM {m} x {nk} x {nk}: {fmt_flops(gemm.flops)}, {fmt_bytes(gemm.bytes_moved)}",
                 f"intensity   {fmt_intensity(x)}"]
        if published:
            self._bar(self.bar_math, self.t_math, t_math, which == "compute")
            t = float(kernel_time(gemm.flops, gemm.bytes_moved, peak, bw))
            lines += [f"ridge point {fmt_intensity(ridge)}",
                      f"time >= {fmt_time(t)}, {which}-bound",
                      f"at most {fmt_flop_rate(y)} = {y / peak:.1%} of peak"]
        else:
            self.bar_math.set_width(0)
            self.t_math.set_text(f"no published {dtype} peak")
            self.t_math.set_weight("normal")
            lines += [f"{dev.vendor} publishes no {dtype} peak:",
                      "only the memory roof is known",
                      f"time >= {fmt_time(t_mem)} (memory)"]
        self.info.set_text("\n".join(lines))

    @staticmethod
    def _bar(bar, text, t: float, longer: bool) -> None:
        lo, hi = T_RANGE
        bar.set_width(min(max(t, lo), hi) - lo)
        bar.set_alpha(1.0 if longer else 0.45)
        text.set_text(fmt_time(t) + (": the roofline time" if longer else ""))
        text.set_weight("bold" if longer else "normal")
