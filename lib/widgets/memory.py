"""Chapter 1's explorer and figures: where a memory-bound kernel's time goes.

The explorer puts one kernel of a chosen size on a chosen device and shows its
two times -- the time the arithmetic units need for its FLOPs, F / pi, and the time
the memory needs for its bytes, Q / beta -- and how busy each would be. Vector
kernels (adds, scales, dot products, elementwise chains) run on the general-purpose
FP32 units whatever format they store, so their compute roof is the FP32 peak; the
GEMV is a matrix product and meets the roof of its format, as chapter 2 sets matrix
products (:data:`ROOF`). The figure functions draw the chapter's static plots.

Introduced in chapters/01_memory_bound.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lib import capacity, hardware, kernels, memory, models
from lib.plotting import COLORS, new_figure
from lib.roofline import memory_time, ridge_point
from lib.units import fmt_bandwidth, fmt_bytes, fmt_count, fmt_flop_rate, fmt_flops, \
    fmt_intensity, fmt_time
from lib.widgets import Control, Explorer

__all__ = ["MemoryExplorer", "make_kernel", "KERNELS", "ROOF", "roof_dtype", "transfer_figure",
           "share_figure",
           "fusion_figure", "decode_bytes_figure"]

#: Explorer kernels: key -> label. ``make_kernel`` builds each at a given size.
KERNELS = {
    "add": "vector add  z = x + y",
    "scale": "vector scale  y = a·x",
    "dot": "dot product  s = x·y",
    "gemv": "GEMV  y = A x",
    "chain": "8 elementwise ops, unfused",
    "fused": "8 elementwise ops, fused",
}
#: The dtype whose peak is each kernel's compute roof (None: the kernel's own format).
#: Elementwise work and reductions run on the FP32 vector units, not the tensor cores.
ROOF = {"add": "fp32", "scale": "fp32", "dot": "fp32", "gemv": None, "chain": "fp32",
        "fused": "fp32"}
CHAIN_OPS = 8
SIZES = (2**16, 2**20, 2**24, 2**28)
DEVICES = ("a100-sxm-80gb", "h100-sxm", "h200", "l4")
T_RANGE = (1e-11, 1.0)


def make_kernel(key: str, n: int, dtype: str) -> kernels.Kernel:
    """The explorer's kernel ``key`` over ``n`` elements (GEMV: a sqrt(n) x sqrt(n) matrix).

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> make_kernel("gemv", 2**24, "bf16").flops == 2 * 4096 * 4096
    True
    >>> make_kernel("fused", 2**20, "fp32").intensity
    1.0
    """
    if key == "add":
        return kernels.vector_add(n, dtype)
    if key == "scale":
        return kernels.vector_scale(n, dtype)
    if key == "dot":
        return kernels.dot(n, dtype)
    if key == "gemv":
        side = int(round(np.sqrt(n)))
        return kernels.gemv(side, side, dtype)
    if key in ("chain", "fused"):
        return kernels.elementwise_chain(n, CHAIN_OPS, dtype, fused=key == "fused")
    from lib._validate import choice
    choice("kernel", key, list(KERNELS))  # raises with the accepted keys
    raise AssertionError  # pragma: no cover


def roof_dtype(key: str, dtype: str) -> str:
    """The dtype of the peak that is kernel ``key``'s compute roof when it stores ``dtype``.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> roof_dtype("dot", "bf16"), roof_dtype("gemv", "bf16")
    ('fp32', 'bf16')
    """
    return ROOF[key] or dtype




class MemoryExplorer(Explorer):
    """Kernel, device, precision and size: the math time against the memory time.

    Introduced in chapters/01_memory_bound.ipynb.
    """

    name = "memory"
    title = "Where a memory-bound kernel's time goes"
    figsize = (7.5, 5.2)
    controls = (
        Control("kernel", "kernel", tuple((lab, key) for key, lab in KERNELS.items()),
                default=2, kind="dropdown"),
        Control("device", "device", tuple((d, d) for d in DEVICES), default=1,
                kind="dropdown"),
        Control("dtype", "precision", (("fp32", "fp32"), ("bf16", "bf16")), default=1),
        Control("n", "elements", tuple((fmt_count(n, 3), n) for n in SIZES), default=2,
                static=False),
    )

    def setup(self, fig: Figure) -> None:
        grid = fig.add_gridspec(3, 1, height_ratios=[1.0, 3, 2])
        head = fig.add_subplot(grid[0])
        head.axis("off")
        top = self.top = fig.add_subplot(grid[1])
        bottom = self.bottom = fig.add_subplot(grid[2])
        top.set_xscale("log")
        top.set_xlim(*T_RANGE)
        top.set_ylim(-0.6, 2.6)
        top.set_yticks([2, 1, 0], ["math: $T_\\mathrm{math} = F/\\pi$",
                                   "memory: $T_\\mathrm{mem} = Q/\\beta$",
                                   "kernel: the longer of the two"], fontsize=8.5)
        top.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_time(v, 1)))
        top.tick_params(axis="x", labelsize=8)
        top.grid(True, axis="x", alpha=0.3)
        head.set_title(self.title, fontsize=11)
        dyn = self.dynamic
        colors = [COLORS[1], COLORS[0], "0.35"]
        self.bars = [dyn(top.barh([y], [1.0], left=T_RANGE[0], height=0.55,
                                  color=c)[0]) for y, c in zip([2, 1, 0], colors)]
        self.labels = [dyn(top.text(1.0, y, "", va="center", ha="left", fontsize=8.5))
                       for y in (2, 1, 0)]
        self.info = dyn(head.text(0.5, 0.5, "", transform=head.transAxes, ha="center",
                                  va="center", fontsize=8.5, linespacing=1.4))
        bottom.set_xlim(0, 100)
        bottom.set_ylim(-0.6, 1.6)
        bottom.set_yticks([1, 0], ["arithmetic units busy", "memory busy"], fontsize=8.5)
        bottom.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} %"))
        bottom.tick_params(axis="x", labelsize=8)
        bottom.set_xlabel("share of the device's peak, at best (roofline)", fontsize=8.5)
        bottom.grid(True, axis="x", alpha=0.3)
        self.gauges = [dyn(bottom.barh([y], [0.0], height=0.55, color=c)[0])
                       for y, c in zip([1, 0], [COLORS[1], COLORS[0]])]
        self.gauge_labels = [dyn(bottom.text(1.0, y, "", va="center", ha="left", fontsize=9,
                                             weight="bold")) for y in (1, 0)]

    def update(self, *, kernel: str, device: str, dtype: str, n: int, **_: Any) -> None:
        dev = hardware.get(device)
        k = make_kernel(kernel, n, dtype)
        bw = dev.memory_bandwidth
        head = f"{KERNELS[kernel]}, {fmt_count(n)} elements, {dtype} on {dev.short_label}"
        roof = roof_dtype(kernel, dtype)
        units = "vector units" if ROOF[kernel] else "tensor cores" if roof != "fp32" else \
            "FP32 units"
        if roof not in dev.peak_flops:
            t_mem = float(memory_time(k.bytes_moved, bw))
            times, fracs = [np.nan, t_mem, t_mem], [np.nan, 1.0]
            lines = [head, f"{dev.vendor} publishes no {roof} peak: only the memory time "
                     "is known"]
        else:
            c = memory.kernel_cost(k, dev, roof)
            times = [c.t_math, c.t_mem, c.time]
            fracs = [c.compute_fraction, c.bandwidth_fraction]
            peak = dev.peak(roof)
            lines = [head,
                     f"F = {fmt_flops(c.flops)}, Q = {fmt_bytes(c.bytes_moved)}: "
                     f"I = {fmt_intensity(c.intensity)}",
                     f"π = {fmt_flop_rate(peak)} ({roof}, {units}), β = {fmt_bandwidth(bw)}",
                     f"ridge I* = π/β = {fmt_intensity(ridge_point(peak, bw))}: "
                     f"{c.bound}-bound"]
        for bar, label, t in zip(self.bars, self.labels, times):
            if np.isfinite(t):
                bar.set_width(max(t, T_RANGE[0]) - T_RANGE[0])
                label.set_position((max(t, T_RANGE[0]) * 1.25, label.get_position()[1]))
                label.set_text(fmt_time(t))
            else:
                bar.set_width(0.0)
                label.set_position((T_RANGE[0] * 1.25, label.get_position()[1]))
                label.set_text("no published peak")
        for gauge, label, f in zip(self.gauges, self.gauge_labels, fracs):
            if np.isfinite(f):
                gauge.set_width(100 * f)
                label.set_position((min(100 * f, 82) + 1.5, label.get_position()[1]))
                label.set_text(f"{100 * f:.3g} %")
            else:
                gauge.set_width(0.0)
                label.set_position((1.5, label.get_position()[1]))
                label.set_text("unknown")
        self.info.set_text("\n".join(lines))


# --- the chapter's static figures ----------------------------------------------------

def transfer_figure(device: "str | hardware.Device",
                    size_range: tuple[float, float] = (1.0, 1e10)) -> Figure:
    """Effective bandwidth against transfer size for each level of ``device``'s hierarchy.

    Levels with both a bandwidth and a latency in the catalog get the curve
    ``n / (latency + n / bandwidth)`` and a dot where it reaches half of peak
    (``n = bandwidth x latency``); levels with a bandwidth only (the links)
    get their peak as a dotted line.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> fig = transfer_figure("h100-pcie")
    >>> len(fig.axes[0].lines)   # 3 curves, 3 peaks, 3 half-peak dots, 2 links
    11
    """
    device = hardware.get(device)
    fig, ax = new_figure(7.0, 4.4)
    n = np.logspace(np.log10(size_range[0]), np.log10(size_range[1]), 400)
    for i, lv in enumerate(lv for lv in device.levels if lv.bandwidth is not None):
        color = COLORS[i % len(COLORS)]
        short = lv.name.split(" (")[0]
        if lv.latency is not None:
            half = memory.bytes_in_flight(lv.bandwidth, lv.latency)
            ax.plot(n, memory.effective_bandwidth(n, lv.bandwidth, lv.latency), color=color,
                    lw=2, label=f"{short}: {fmt_bandwidth(lv.bandwidth)} peak, "
                                f"{fmt_time(lv.latency)} latency; ½ peak at {fmt_bytes(half)}")
            ax.axhline(lv.bandwidth, color=color, ls="--", lw=0.8)
            ax.plot([half], [lv.bandwidth / 2], "o", color=color, ms=6)
        else:
            ax.axhline(lv.bandwidth, color=color, ls=":", lw=2,
                       label=f"{short}: {fmt_bandwidth(lv.bandwidth)} peak, latency not "
                             "published")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*size_range)
    ax.set_ylim(1e7, 1e14)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_bytes(v, digits=1)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_bandwidth(v, 1)))
    ax.set_xlabel("bytes moved in one transfer")
    ax.set_ylabel("effective bandwidth")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{device.short_label}: a transfer pays its latency before its bandwidth",
                 fontsize=10)
    return fig


def share_figure(kernel_list: Sequence[kernels.Kernel],
                 devices: Sequence["str | hardware.Device"], dtype: str = "bf16") -> Figure:
    """Share of each device's peak ``dtype`` FLOP/s that each kernel can use, at best.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> fig = share_figure([kernels.dot(2**20, "bf16")], [hardware.get("h100-sxm")])
    >>> len(fig.axes[0].patches)
    1
    """
    devices = [hardware.get(d) for d in devices]
    fig, ax = new_figure(7.0, 1.6 + 0.16 * len(kernel_list) * (1 + len(devices)))
    height = 0.8 / len(devices)
    y = np.arange(len(kernel_list))[::-1]
    lowest = 100.0
    for j, dev in enumerate(devices):
        shares = [100 * memory.kernel_cost(k, dev, dtype).compute_fraction for k in kernel_list]
        lowest = min(lowest, *shares)
        ys = y + (len(devices) / 2 - j - 0.5) * height
        ax.barh(ys, shares, height=height * 0.9, color=COLORS[j % len(COLORS)],
                label=f"{dev.short_label}, {dtype} peak {fmt_flop_rate(dev.peak(dtype))}")
        for yy, s in zip(ys, shares):
            ax.text(s * 1.15, yy, f"{s:.2g} %", va="center", fontsize=7.5)
    ax.set_xscale("log")
    ax.set_xlim(10 ** np.floor(np.log10(lowest)), 100)
    ax.set_yticks(y, [k.name for k in kernel_list], fontsize=8.5)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} %"))
    ax.set_xlabel("share of peak FLOP/s the kernel can use (log scale)")
    ax.grid(True, axis="x", which="major", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8,
              frameon=False)
    return fig


def fusion_figure(device: "str | hardware.Device", n: int, dtype: str = "fp32",
                  max_ops: int = 1024) -> Figure:
    """Time of a chain of 1 ... ``max_ops`` elementwise ops over ``n`` elements, fused and not.

    Unfused, every op reads and writes the whole tensor, so time grows with the
    chain; fused, the tensor crosses memory once and the time stays flat until
    the chain's FLOPs outlast its bytes, at ``ridge x 2 x bytes per element`` ops.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> fig = fusion_figure("a100-sxm-40gb", 2**28)
    >>> len(fig.axes[0].lines)
    4
    """
    device = hardware.get(device)
    fig, ax = new_figure(7.0, 4.0)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ops = 2 ** np.arange(0, int(np.log2(max_ops)) + 1)
    for fused, color, label in [(False, COLORS[1], "unfused: one kernel per op"),
                                (True, COLORS[0], "fused: one kernel for the chain")]:
        c = memory.kernel_cost(kernels.elementwise_chain(n, ops, dtype, fused=fused), device,
                               dtype)
        ax.plot(ops, c.time, "o-", color=color, lw=2, ms=4, label=label)
    one = kernels.elementwise_chain(n, 1, dtype, fused=True)
    crossing = ridge_point(device.peak(dtype), device.memory_bandwidth) / one.intensity
    ax.axvline(crossing, color="0.4", ls=":", lw=1)
    ax.annotate(f"the fused chain turns\ncompute-bound at\n{crossing:.0f} ops per element",
                (crossing, 0.45), xycoords=("data", "axes fraction"), xytext=(6, 0),
                textcoords="offset points", ha="left", fontsize=8)
    t_min = memory.kernel_cost(one, device, dtype).t_mem
    ax.axhline(t_min, color="0.6", ls="--", lw=0.8)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_time(v, 2)))
    ax.set_xlabel("elementwise ops in the chain (per element)")
    ax.set_ylabel("roofline time")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{fmt_count(n)} {dtype} elements on {device.short_label}", fontsize=10)
    return fig


def decode_bytes_figure(model: "str | models.ModelConfig", device: "str | hardware.Device",
                        cases: Sequence[tuple[int, int]] = ((1, 1024), (1, 4096), (8, 4096),
                                                            (16, 4096)),
                        dtype: str = "bf16") -> Figure:
    """Bytes one decode step reads from memory: the weights once, plus every sequence's KV cache.

    Each bar is one ``(batch, context)`` case. The weights are read once per step
    whatever the batch: :func:`lib.memory.weight_stream` of ``model.params_read``, every
    weight but the embedding table, of which a token reads its own row (a batch of B
    reads B rows, a few KiB more, too little to draw). Each sequence's KV cache is its
    own. The label gives the time those bytes take at ``device``'s peak bandwidth
    (activations, a few KiB per layer, are too small to draw).

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> fig = decode_bytes_figure("llama-2-7b", "h100-sxm")
    >>> len(fig.axes[0].patches)
    8
    """
    model, device = models.get(model), hardware.get(device)
    fig, ax = new_figure(7.0, 1.8 + 0.45 * len(cases))
    weights = memory.weight_stream(model.params_read, dtype).bytes_moved
    kv = np.array([capacity.kv_cache_bytes(model, b, c, dtype) for b, c in cases])
    y = np.arange(len(cases))[::-1]
    ax.barh(y, [weights] * len(cases), color=COLORS[0], height=0.6,
            label=f"weights: {fmt_bytes(weights)}, read once per step")
    ax.barh(y, kv, left=weights, color=COLORS[1], height=0.6,
            label=f"KV cache: {fmt_bytes(model.kv_bytes_per_token(dtype), binary=True)} per "
                  "token, per sequence")
    bw = device.memory_bandwidth
    for yy, k in zip(y, kv):
        total = weights + k
        ax.text(total * 1.01, yy, f"{fmt_bytes(total)} → ≥ "
                f"{fmt_time(memory.transfer_time(total, bw))} per step", va="center",
                fontsize=8)
    ax.set_yticks(y, [f"batch {b}, {c:,}-token context" for b, c in cases], fontsize=8.5)
    ax.set_xlim(0, (weights + kv.max()) * 1.75)   # room for the longest label
    ax.set_axisbelow(True)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_bytes(v, digits=2)))
    ax.set_xlabel(f"bytes read per decode step ({dtype})")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=8,
              frameon=False)
    ax.set_title(f"{model.label} on {device.short_label}, {fmt_bandwidth(bw)}: one decode step's "
                 "reads", fontsize=10)
    return fig
