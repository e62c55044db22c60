"""Chapter 2's explorer: a GEMM's shape and precision move it from the memory slope to the roof.

The left panel places ``gemm(M, N, K)`` with N = K on the device's roofline, with the
path it takes as M grows drawn faintly; the right panel compares its two times,
F / pi and Q / beta: the longer bar is the roofline time. The precision is one of
:data:`lib.kernels.PRECISIONS`: it sets the bytes per element of the activations and
the weights (the intensity) and the dtype whose peak is the compute roof, so weight-only
INT8 moves the point and not the roof, and INT8 x INT8 moves both.

Introduced in chapters/02_compute_bound.ipynb.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lib import hardware, kernels
from lib.dtypes import is_integer
from lib.exercises.ch02 import EXPLORER_MS as MS  # an exercise asks about the slider's values
from lib.kernels import PRECISIONS
from lib.plotting import COLORS, format_roofline_axes, roof_xy
from lib.roofline import attainable_flops, bound_of, kernel_time, math_time, memory_time, \
    ridge_point
from lib.units import fmt_bytes, fmt_flop_rate, fmt_flops, fmt_intensity, fmt_op_rate, fmt_time
from lib.widgets import Control, Explorer

X_RANGE = (0.1, 3e4)
Y_RANGE = (1e10, 1e16)
T_RANGE = (1e-10, 1.0)
NKS = (1024, 4096, 16384)


class ComputeExplorer(Explorer):
    """GEMM shape (M, N = K), precision and device: intensity, roofline time, bound, % of peak.

    Introduced in chapters/02_compute_bound.ipynb.
    """

    name = "compute"
    title = "A GEMM climbing from the memory slope to the compute roof"
    figsize = (8.0, 4.6)  # 640 px wide: shown at full size on the website
    controls = (
        Control("m", "rows of A (M, tokens)", tuple((str(m), m) for m in MS), default=0),
        Control("precision", "precision",
                tuple((label, key) for key, (label, *_) in PRECISIONS.items()), default=1,
                kind="dropdown"),
        Control("nk", "N = K (weight matrix side)", tuple((str(d), d) for d in NKS), default=1,
                static=False),
        Control("device", "device", tuple((n, n) for n in hardware.names()),
                default=hardware.names().index("h100-sxm"), kind="dropdown",
                static=("h100-sxm", "h200", "b200")),   # the devices chapter 2 compares
    )

    def setup(self, fig: Figure) -> None:
        ax, tx = fig.subplots(1, 2, width_ratios=(2.25, 1))
        self.ax, self.tx = ax, tx
        format_roofline_axes(ax, X_RANGE, Y_RANGE)
        ax.tick_params(labelsize=9)
        dyn = self.dynamic
        # BF16's roof, faint, so that a change of precision shows the roof moving
        self.ref_line = dyn(ax.plot([], [], color="0.6", lw=1.2, ls="--")[0])
        self.ref_text = dyn(ax.text(X_RANGE[1] / 1.15, 1.0, "BF16 roof", color="0.45",
                                    fontsize=8, ha="right", va="bottom"))
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
        tx.set_yticks([1, 0], ["$F/\\pi$", "$Q/\\beta$"], fontsize=10)
        tx.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_time(v, 1)))
        tx.set_xticks([1e-9, 1e-6, 1e-3, 1.0])
        tx.set_xlabel("time (log scale)")
        tx.tick_params(axis="x", labelsize=9)
        tx.grid(True, axis="x", alpha=0.3)
        tx.set_title("the two times", fontsize=10)
        lo = T_RANGE[0]
        self.bar_math = dyn(tx.barh([1], [lo], left=lo, height=0.55, color=COLORS[2])[0])
        self.bar_mem = dyn(tx.barh([0], [lo], left=lo, height=0.55, color=COLORS[0])[0])
        self.t_math = dyn(tx.text(lo * 2, 1.42, "", fontsize=8.5, va="center"))
        self.t_mem = dyn(tx.text(lo * 2, 0.42, "", fontsize=8.5, va="center"))
        fig.suptitle(self.title, fontsize=11)

    def update(self, *, m: int, nk: int, precision: str, device: str, **_: Any) -> None:
        dev = hardware.get(device)
        bw = dev.memory_bandwidth
        trail, dtype = kernels.gemm_at(np.array(MS), nk, nk, precision)
        gemm, _ = kernels.gemm_at(m, nk, nk, precision)
        published = dtype in dev.peak_flops
        peak = dev.peak(dtype) if published else np.inf
        x_trail = np.asarray(trail.intensity)
        x = float(gemm.intensity)
        top = Y_RANGE[1] / 1.6
        show_ref = "bf16" in dev.peak_flops and dtype != "bf16"
        if show_ref:
            self.ref_line.set_data(*roof_xy(dev.peak("bf16"), bw, X_RANGE))
            self.ref_text.set_y(dev.peak("bf16") * 1.1)
        else:
            self.ref_line.set_data([], [])
        self.ref_text.set_visible(show_ref)
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
        rate = fmt_op_rate if is_integer(dtype) else fmt_flop_rate
        work = fmt_flops(gemm.flops).replace("FLOP", "OP") if is_integer(dtype) else \
            fmt_flops(gemm.flops)
        lines = [f"{dev.label}, {PRECISIONS[precision][0]}",
                 f"GEMM {m} x {nk} x {nk}: F = {work}, "
                 f"Q = {fmt_bytes(gemm.bytes_moved)}",
                 f"intensity I = {fmt_intensity(x)}"]
        if published:
            self._bar(self.bar_math, self.t_math, t_math, which == "compute")
            t = float(kernel_time(gemm.flops, gemm.bytes_moved, peak, bw))
            lines += [f"π = {rate(peak)} (dense {dtype}), ridge I* = {fmt_intensity(ridge)}",
                      f"time = {fmt_time(t)}, {which}-bound",
                      f"at most {rate(y)} = {y / peak:.1%} of π"]
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
