"""Chapter 3's explorer: a layer's GEMM climbing the roofline as the batch grows.

One projection of a 7-8B model, ``C (M, 4096) = A (M, 4096) @ W (4096, 4096)``,
placed on a device's roofline. Three controls: the device, the precision (which
moves *both* the compute roof and the bytes per element, hence the intensity) and
the number of tokens M in the batch. Precision choices:

* ``fp32``, ``bf16``, ``fp8``: weights, activations and the math in one format;
* ``w8a16``: INT8 weights, BF16 activations and BF16 math (weight-only
  quantisation): the bytes shrink, the compute roof stays at BF16;
* ``int8``: INT8 weights and activations and INT8 math: both roofs move.

Introduced in chapters/03_roofline.ipynb.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lib import hardware, kernels
from lib.dtypes import is_integer
from lib.exercises.ch03 import EXPLORER_BATCHES as BATCHES, EXPLORER_WIDTH as D
from lib.kernels import PRECISIONS
from lib.plotting import COLORS, format_roofline_axes, roof_xy
from lib.roofline import attainable_flops, bound, ridge_point
from lib.units import fmt_bandwidth, fmt_flop_rate, fmt_intensity, fmt_op_rate
from lib.widgets import Control, Explorer

X_RANGE = (0.05, 2e4)
Y_RANGE = (1e10, 2e16)


class RooflineExplorer(Explorer):
    """Device, precision and batch size for ``gemm(m, 4096, 4096)`` on the roofline."""

    name = "roofline"
    title = "A 4096 × 4096 projection on the roofline"
    controls = (
        Control("device", "device", tuple((n, n) for n in hardware.names()),
                default=hardware.names().index("h100-sxm"), kind="dropdown", static=False),
        Control("precision", "precision",
                tuple((label, key) for key, (label, *_) in PRECISIONS.items()), default=1,
                kind="dropdown"),
        Control("m", "tokens in the batch (M)", tuple((str(m), m) for m in BATCHES), default=0),
    )

    def setup(self, fig: Figure) -> None:
        ax = self.ax = fig.add_subplot()
        format_roofline_axes(ax, X_RANGE, Y_RANGE)
        ax.tick_params(labelsize=9)
        dyn = self.dynamic
        # BF16's roof, faint, so that a change of precision shows the roof moving.
        self.ref_line = dyn(ax.plot([], [], color="0.6", lw=1.2, ls="--")[0])
        self.ref_text = dyn(ax.text(X_RANGE[1] / 1.15, 1.0, "BF16 roof", color="0.45",
                                    fontsize=8, ha="right", va="bottom"))
        self.roof_line = dyn(ax.plot([], [], color=COLORS[0], lw=2.5)[0])
        self.mem_line = dyn(ax.plot([], [], color=COLORS[0], lw=2, ls="--")[0])
        self.ridge_line = dyn(ax.axvline(1.0, color=COLORS[0], ls=":", lw=1))
        # three memory-bound kernels from chapter 1, in BF16 whatever the precision control says
        fixed = [kernels.dot(D, "bf16"), kernels.rmsnorm(1, D, "bf16"),
                 kernels.softmax(32, 4096, "bf16")]
        offsets = [(-14, 9), (8, -12), (6, 5)]  # keep the three labels apart
        self.fixed = [(k, dyn(ax.plot([], [], "s", color=COLORS[2], ms=6)[0]),
                       dyn(ax.annotate(k.name, (1, 1), xytext=off, textcoords="offset points",
                                       fontsize=8)))
                      for k, off in zip(fixed, offsets)]
        self.gemm_point = dyn(ax.plot([], [], "o", color=COLORS[1], ms=9, zorder=5)[0])
        self.gemm_label = dyn(ax.annotate("", (1, 1), xytext=(8, -14), textcoords="offset points",
                                          fontsize=9, color=COLORS[1], weight="bold"))
        # Top left, above the memory roof, nothing is ever drawn: at 10 FLOP/byte even
        # the fastest catalog memory (8 TB/s) reaches only 80 TFLOP/s. Left-aligned lines
        # read as a small table.
        self.info = dyn(ax.text(0.02, 0.97, "", transform=ax.transAxes, va="top", ha="left",
                                fontsize=9, multialignment="left",
                                bbox=dict(boxstyle="round", fc="white", ec="0.7")))
        ax.set_title(self.title, fontsize=11)

    def update(self, *, device: str, precision: str, m: int, **_: Any) -> None:
        dev = hardware.get(device)
        bw = dev.memory_bandwidth
        gemm, compute = kernels.gemm_at(m, D, D, precision)
        label = PRECISIONS[precision][0]
        published = compute in dev.peak_flops
        if "bf16" in dev.peak_flops and compute != "bf16":
            self.ref_line.set_data(*roof_xy(dev.peak("bf16"), bw, X_RANGE))
            self.ref_text.set_y(dev.peak("bf16") * 1.1)
            self.ref_text.set_visible(True)
        else:
            self.ref_line.set_data([], [])
            self.ref_text.set_visible(False)
        if published:
            peak = dev.peak(compute)
            self.roof_line.set_data(*roof_xy(peak, bw, X_RANGE))
            self.mem_line.set_data([], [])
            ridge = ridge_point(peak, bw)
            self.ridge_line.set_xdata([ridge, ridge])
            self.ridge_line.set_visible(True)
        else:
            peak = np.inf
            self.roof_line.set_data([], [])
            self.mem_line.set_data(np.array(X_RANGE), bw * np.array(X_RANGE))
            self.ridge_line.set_visible(False)

        def place(k: kernels.Kernel) -> tuple[float, float]:
            x = float(k.intensity)
            y = bw * x if not published else float(attainable_flops(x, peak, bw))
            return x, y

        for k, marker, text in self.fixed:
            x, y = place(k)
            marker.set_data([x], [y])
            text.xy = (x, y)
        x, y = place(gemm)
        self.gemm_point.set_data([x], [y])
        self.gemm_label.xy = (x, y)
        # keep the label inside the axes on the right, and clear of the reference
        # kernels' labels on the left
        if x > 1500:
            self.gemm_label.xyann = (-88, 8)
        elif x < 8:
            self.gemm_label.xyann = (6, -30)
        else:
            self.gemm_label.xyann = (8, -14)
        self.gemm_label.set_text(f"GEMM, M={m}")
        rate = fmt_op_rate if is_integer(compute) else fmt_flop_rate
        lines = [f"{dev.label}, {label}",
                 f"memory roof: {fmt_bandwidth(bw)}"]
        if published:
            which = bound(gemm.flops, gemm.bytes_moved, peak, bw)
            share = y / peak
            share_text = f"{share:.1%}" if share < 0.095 else f"{share:.0%}"
            lines += [f"compute roof: {rate(peak)} (dense {compute})",
                      f"ridge point: {fmt_intensity(ridge_point(peak, bw))}",
                      f"GEMM: {fmt_intensity(x)} → {rate(y)}",
                      f"  = {share_text} of peak, {which}-bound"]
        else:
            lines += [f"{dev.vendor} publishes no {compute} peak:",
                      "only the memory roof is known",
                      f"GEMM: {fmt_intensity(x)} → at most {rate(y)}"]
        self.info.set_text("\n".join(lines))
