"""Chapter 3's explorer: a layer's GEMM climbing the roofline as the batch grows.

Introduced in chapters/03_roofline.ipynb.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lib import hardware, kernels
from lib.plotting import COLORS, format_roofline_axes, roof_xy
from lib.roofline import attainable_flops, bound, ridge_point
from lib.units import fmt_bandwidth, fmt_flop_rate, fmt_intensity
from lib.widgets import Control, Explorer

X_RANGE = (0.05, 2e4)
Y_RANGE = (1e10, 2e16)
BATCHES = (1, 4, 16, 64, 256, 1024, 4096)
D = 4096  # a 4096 x 4096 weight matrix, one projection of a 7-8B model


class RooflineExplorer(Explorer):
    """Device, precision and batch size for ``gemm(m, 4096, 4096)`` on the roofline."""

    name = "roofline"
    title = "A 4096 × 4096 projection on the roofline"
    controls = (
        Control("device", "device", tuple((n, n) for n in hardware.names()),
                default=hardware.names().index("h100-sxm"), kind="dropdown"),
        Control("dtype", "precision", (("fp32", "fp32"), ("bf16", "bf16"), ("fp8", "fp8"),
                                       ("int8", "int8")), default=1, static=False),
        Control("m", "tokens in the batch (M)", tuple((str(m), m) for m in BATCHES), default=0),
    )

    def setup(self, fig: Figure) -> None:
        ax = self.ax = fig.add_subplot()
        format_roofline_axes(ax, X_RANGE, Y_RANGE)
        dyn = self.dynamic
        self.roof_line = dyn(ax.plot([], [], color=COLORS[0], lw=2.5)[0])
        self.mem_line = dyn(ax.plot([], [], color=COLORS[0], lw=2, ls="--")[0])
        self.ridge_line = dyn(ax.axvline(1.0, color=COLORS[0], ls=":", lw=1))
        fixed = [kernels.dot(D, "bf16"), kernels.rmsnorm(1, D, "bf16"),
                 kernels.softmax(32, 4096, "bf16")]
        offsets = [(-14, 9), (8, -12), (6, 5)]  # keep the three labels apart
        self.fixed = [(k, dyn(ax.plot([], [], "s", color=COLORS[2], ms=6)[0]),
                       dyn(ax.annotate(k.name, (1, 1), xytext=off,
                                       textcoords="offset points", fontsize=8)))
                      for k, off in zip(fixed, offsets)]
        self.gemm_point = dyn(ax.plot([], [], "o", color=COLORS[1], ms=9, zorder=5)[0])
        self.gemm_label = dyn(ax.annotate("", (1, 1), xytext=(8, -14), textcoords="offset points",
                                          fontsize=9, color=COLORS[1], weight="bold"))
        # Below the flat compute roof, at high intensity, nothing is ever drawn.
        self.info = dyn(ax.text(0.98, 0.03, "", transform=ax.transAxes, va="bottom", ha="right",
                                fontsize=8.5,
                                bbox=dict(boxstyle="round", fc="white", ec="0.7")))
        ax.set_title(self.title, fontsize=11)

    def update(self, *, device: str, dtype: str, m: int, **_: Any) -> None:
        dev = hardware.get(device)
        bw = dev.memory_bandwidth
        gemm = kernels.gemm(m, D, D, dtype)
        published = dtype in dev.peak_flops
        if published:
            peak = dev.peak(dtype)
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

        for k, marker, label in self.fixed:
            x, y = place(k)
            marker.set_data([x], [y])
            label.xy = (x, y)
        x, y = place(gemm)
        self.gemm_point.set_data([x], [y])
        self.gemm_label.xy = (x, y)
        self.gemm_label.set_text(f"GEMM, M={m}")
        lines = [f"{dev.label}, {dtype}",
                 f"memory roof: {fmt_bandwidth(bw)}"]
        if published:
            which = bound(gemm.flops, gemm.bytes_moved, peak, bw)
            lines += [f"compute roof: {fmt_flop_rate(peak)} (dense)",
                      f"ridge point: {fmt_intensity(ridge_point(peak, bw))}",
                      f"GEMM intensity {fmt_intensity(x)} → {fmt_flop_rate(y)} "
                      f"({y / peak:.0%} of peak), {which}-bound"]
        else:
            lines += [f"{dev.vendor} publishes no {dtype} peak for this device:",
                      "only the memory roof is known",
                      f"GEMM intensity {fmt_intensity(x)} → at most {fmt_flop_rate(y)}"]
        self.info.set_text("\n".join(lines))
