"""Chapter 6's explorer and figures: a decode step, its time, its batch and its memory.

The explorer takes a model, a device, the KV-cache precision, the batch and the
context, asks :func:`lib.inference.decode` for one step, and shows three views of
it: where the step's time goes (weights, KV cache, activations, math), the
throughput-latency curve across batch sizes at this context, and the memory the
batch needs against the device's capacity.

The figure functions draw the chapter's static plots. What they show is computed by
:mod:`lib.inference` (a step, :func:`lib.inference.time_split`), :mod:`lib.capacity`
and :mod:`lib.regimes`.

Introduced in chapters/06_decode.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lib import capacity, hardware, inference, models, regimes
from lib.inference import SPLIT, time_split
from lib.plotting import COLORS, MARKERS, format_roofline_axes, new_figure, roof_xy
from lib.roofline import attainable_flops
from lib.units import fmt_bytes, fmt_count, fmt_intensity, fmt_time
from lib.widgets import Control, Explorer

__all__ = ["DecodeExplorer", "roofline_figure", "context_figure", "critical_batch_figure",
           "throughput_latency_figure", "capacity_figure", "moe_figure"]

#: A colour for each part of :data:`lib.inference.SPLIT`, in drawing order.
SPLIT_COLORS = (COLORS[0], COLORS[1], COLORS[5], COLORS[2])

MODELS = ("llama-2-7b", "llama-3-8b", "qwen2-7b", "llama-2-13b")
DEVICES = tuple(n for n in hardware.names() if "bf16" in hardware.get(n).peak_flops)
BATCHES = (1, 4, 16, 64, 256, 1024)
CONTEXTS = (256, 1024, 4096, 16384, 32768)
KV_OPTIONS = (("bf16 (2 bytes)", "bf16"), ("fp8 or int8 (1 byte)", "fp8"))
TPOT_RANGE = (1e-3, 100.0)       # seconds, the explorer's x axis
RATE_RANGE = (5.0, 1e6)          # tokens/s, its y axis
MEM_MAX = 150.0                  # % of capacity shown on the memory bar


@lru_cache(maxsize=64)
def _critical(model: str, device: str, kv_dtype: str) -> dict[int, float]:
    """Critical batch at every explorer context (one vectorised search, cached)."""
    found = regimes.critical_batch(model, device, np.array(CONTEXTS), kv_dtype=kv_dtype)
    return dict(zip(CONTEXTS, np.asarray(found, float).tolist()))


class DecodeExplorer(Explorer):
    """Model, device, KV precision, batch and context: one decode step's time and memory."""

    name = "decode"
    title = "One decode step: batch × context × device × KV precision"
    figsize = (9.4, 5.0)
    controls = (
        Control("batch", "batch (sequences)", tuple((str(b), b) for b in BATCHES), default=0),
        Control("context", "context (tokens cached)", tuple((f"{c:,}", c) for c in CONTEXTS),
                default=1, static=tuple(f"{c:,}" for c in CONTEXTS if c <= 16384)),
        Control("kv_dtype", "KV-cache precision", KV_OPTIONS, default=0, kind="dropdown"),
        # The website compares the two devices the chapter works by hand (2 MB of frames).
        Control("device", "device", tuple((n, n) for n in DEVICES),
                default=DEVICES.index("h100-sxm"), kind="dropdown",
                static=("h100-sxm", "a100-sxm-80gb")),
        Control("model", "model", tuple((m, m) for m in MODELS), default=1, kind="dropdown",
                static=False),
    )

    def setup(self, fig: Figure) -> None:
        grid = fig.add_gridspec(3, 2, width_ratios=(1.35, 1), height_ratios=(1, 1, 1.5))
        ax = self.ax = fig.add_subplot(grid[:, 0])
        tx = self.tx = fig.add_subplot(grid[0, 1])
        mx = self.mx = fig.add_subplot(grid[1, 1])
        head = fig.add_subplot(grid[2, 1])
        head.axis("off")
        dyn = self.dynamic

        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(*TPOT_RANGE)
        ax.set_ylim(*RATE_RANGE)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_time(v, 1)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_count(v, 2)))
        ax.set_xlabel("time per output token (TPOT), log scale")
        ax.set_ylabel("tokens/s, all sequences together")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_title("throughput vs latency, batch 1 → 1024", fontsize=10)
        self.curve = dyn(ax.plot([], [], "-", color=COLORS[0], lw=1.5, zorder=2)[0])
        self.fit_pts = dyn(ax.plot([], [], "o", color=COLORS[0], ms=6, zorder=3)[0])
        self.nofit_pts = dyn(ax.plot([], [], "o", mfc="white", mec="0.5", ms=6, zorder=3)[0])
        self.point = dyn(ax.plot([], [], "o", color=COLORS[1], ms=12, zorder=4)[0])
        self.point_labels = [dyn(ax.annotate("", (1, 1), xytext=(6, -12),
                                             textcoords="offset points", fontsize=7.5,
                                             color="0.3"))
                             for _ in BATCHES]
        ax.text(0.02, 0.98, "● fits in memory   ○ does not fit", transform=ax.transAxes,
                va="top", ha="left", fontsize=8)

        tx.set_xlim(0, 100)
        tx.set_ylim(-0.5, 0.5)
        tx.set_yticks([])
        tx.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
        tx.tick_params(axis="x", labelsize=8)
        tx.set_title("where the step's time goes", fontsize=10)
        self.split_bars = [dyn(tx.barh([0], [0.0], left=0.0, height=0.7, color=c)[0])
                           for c in SPLIT_COLORS]
        for bar, key in zip(self.split_bars, SPLIT):
            bar.set_label(key)
        tx.legend(handles=self.split_bars, loc="upper center", bbox_to_anchor=(0.5, -0.28),
                  ncol=4, fontsize=7.5, frameon=False, handlelength=1.0, columnspacing=0.8)

        mx.set_xlim(0, MEM_MAX)
        mx.set_ylim(-0.5, 0.5)
        mx.set_yticks([])
        mx.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
        mx.tick_params(axis="x", labelsize=8)
        mx.axvline(100, color="black", lw=1.2, ls="--")
        mx.set_title("memory: weights + KV cache, % of capacity", fontsize=10)
        self.mem_w = dyn(mx.barh([0], [0.0], height=0.7, color=COLORS[0])[0])
        self.mem_kv = dyn(mx.barh([0], [0.0], height=0.7, color=COLORS[1])[0])
        self.mem_text = dyn(mx.text(MEM_MAX - 3, 0, "", ha="right", va="center", fontsize=8,
                                    weight="bold", bbox=dict(boxstyle="round", fc="white",
                                                             ec="0.6")))
        self.info = dyn(head.text(0.0, 1.0, "", transform=head.transAxes, va="top", ha="left",
                                  fontsize=8.3, linespacing=1.35))

    def update(self, *, batch: int, context: int, kv_dtype: str, device: str, model: str,
               **_: Any) -> None:
        dev = hardware.get(device)
        m = models.get(model)
        sweep = inference.decode(m, dev, np.array(BATCHES), context, kv_dtype=kv_dtype)
        t_all = np.asarray(sweep.time_s)
        rate_all = np.asarray(sweep.tokens_per_s)
        fits = np.asarray(sweep.fits)
        x = np.clip(t_all, *TPOT_RANGE)
        y = np.clip(rate_all, *RATE_RANGE)
        self.curve.set_data(x, y)
        self.fit_pts.set_data(x[fits], y[fits])
        self.nofit_pts.set_data(x[~fits], y[~fits])
        i = BATCHES.index(batch)
        self.point.set_data([x[i]], [y[i]])
        for label, b, xx, yy in zip(self.point_labels, BATCHES, x, y):
            label.xy = (xx, yy)
            label.set_text(f"B={b}")

        est = inference.decode(m, dev, batch, context, kv_dtype=kv_dtype)
        split = time_split(est)
        total = sum(split.values())
        left = 0.0
        for bar, key in zip(self.split_bars, SPLIT):
            w = 100 * split[key] / total
            bar.set_x(left)
            bar.set_width(w)
            left += w

        cap = dev.memory_capacity
        w_pct = 100 * capacity.weight_bytes(m, "bf16") / cap
        kv_pct = 100 * capacity.kv_cache_bytes(m, batch, context, kv_dtype) / cap
        self.mem_w.set_width(min(w_pct, MEM_MAX))
        self.mem_kv.set_x(min(w_pct, MEM_MAX))
        self.mem_kv.set_width(max(min(w_pct + kv_pct, MEM_MAX) - w_pct, 0.0))
        need = est.memory_required
        self.mem_text.set_text("" if est.fits else f"needs {need / cap:.3g}× capacity")
        self.mem_text.set_visible(not est.fits)

        crit = _critical(m.name, dev.name, kv_dtype)[int(context)]
        most = capacity.max_batch(m, dev, context, kv_dtype=kv_dtype)
        crit_text = "never (KV reads)" if not np.isfinite(crit) else f"batch {crit:,.0f}"
        shares = ", ".join(f"{k} {100 * split[k] / total:.0f}%" for k in SPLIT
                           if split[k] / total >= 0.005)
        self.info.set_text("\n".join([
            f"{m.label} on {dev.short_label}, KV cache {kv_dtype}",
            f"batch {batch}, {context:,} tokens cached each:",
            f"TPOT {fmt_time(est.time_s)}, {est.bound}-bound, "
            f"{fmt_count(est.tokens_per_s)} tokens/s",
            f"intensity {fmt_intensity(est.arithmetic_intensity)}",
            f"time: {shares}",
            f"memory {fmt_bytes(need)} of {fmt_bytes(cap)}"
            + ("" if est.fits else ": does NOT fit"),
            f"largest batch that fits: {most:,.0f}",
            f"compute-bound from: {crit_text}",
        ]))


# --- the chapter's static figures ----------------------------------------------------------

def roofline_figure(model: Any, device: Any, batches: Sequence[int] = (1, 16, 64, 256, 1024),
                    context: int = 1024, attention_models: Sequence[Any] = ("llama-2-7b",
                                                                            "llama-3-8b"),
                    intensity_range: tuple[float, float] = (0.3, 3e3)) -> Figure:
    """Decode's ops on the device's BF16 roofline as the batch grows.

    Circles: ``model``'s MLP down projection (a weight GEMM) at each batch: its intensity
    is about the batch. Stars: the whole step (FLOPs over all bytes, at the rate the sum
    of the ops' times allows). Squares: attention (QK^T) of each of ``attention_models``,
    one per batch, all on top of one another: each sequence reads its own KV cache, so
    batching does not raise attention's intensity.

    Examples
    --------
    >>> fig = roofline_figure("llama-3-8b", "h100-sxm")
    >>> len(fig.axes[0].lines) > 3
    True
    """
    m = models.get(model)
    dev = hardware.get(device)
    peak, bw = dev.peak("bf16"), dev.memory_bandwidth
    fig, ax = new_figure(7.2, 4.6)
    format_roofline_axes(ax, intensity_range, (bw * intensity_range[0] * 0.8, peak * 4))
    ax.plot(*roof_xy(peak, bw, intensity_range), color="0.25", lw=2,
            label=f"{dev.short_label} roofline, bf16")
    ridge = peak / bw
    ax.axvline(ridge, color="0.25", ls=":", lw=1)
    ax.text(ridge * 1.08, peak * 2.2, f"ridge {fmt_intensity(ridge)}", fontsize=8, va="center")
    b = np.asarray(batches)
    est = inference.decode(m, dev, b, context)
    mlp = est.op("MLP down")
    xi = np.asarray(mlp.arithmetic_intensity)
    ax.plot(xi, attainable_flops(xi, mlp.peak_flops, bw), "o-", color=COLORS[0], ms=7,
            zorder=4, label=f"{m.label}: MLP down (a weight GEMM)")
    for bb, xx in zip(b, xi):
        ax.annotate(f"B={bb}", (xx, attainable_flops(xx, peak, bw)), xytext=(-4, 8),
                    textcoords="offset points", fontsize=8, ha="right", color=COLORS[0])
    xs = np.asarray(est.arithmetic_intensity)
    ax.plot(xs, np.asarray(est.flops) / np.asarray(est.time_s), "*--", color=COLORS[1], ms=10,
            lw=1, zorder=5, label=f"{m.label}: whole step, {context:,}-token context")
    for j, am in enumerate(attention_models):
        a = models.get(am)
        att = inference.decode(a, dev, b, context).op("attention scores QK^T")
        xa = np.asarray(att.arithmetic_intensity)
        kind = "MHA" if a.n_kv_heads == a.n_heads else "GQA"
        # large and open, drawn underneath, so that batch 1's circle and star show inside
        ax.plot(xa, attainable_flops(xa, att.peak_flops, bw), MARKERS[j + 1], ms=13,
                mfc="none", mec=COLORS[2 + j], mew=1.8, zorder=3,
                label=f"{a.label} ({kind}): attention, every batch")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Decode on the roofline: batch raises the weight GEMMs, not attention",
                 fontsize=10)
    return fig


def context_figure(device: Any, series: Sequence[tuple[str, str]] = (
        ("llama-2-7b", "bf16"), ("llama-3-8b", "bf16"), ("llama-3-8b", "fp8")),
        batches: Sequence[int] = (1, 16), contexts: Sequence[int] | None = None) -> Figure:
    """TPOT against context: one panel per batch, one line per ``(model, kv_dtype)``.

    The flat part is the weights, read once per step; the slope is each sequence's KV
    cache, read whole every step. Dotted: where the KV cache no longer fits in memory.

    Examples
    --------
    >>> fig = context_figure("h100-sxm")
    >>> len(fig.axes)
    2
    """
    dev = hardware.get(device)
    ctx = np.asarray(contexts if contexts is not None else np.linspace(0, 32768, 65), float)
    fig, first = new_figure(8.0, 3.6)
    fig.delaxes(first)
    axes = fig.subplots(1, len(batches), sharex=True)
    axes = np.atleast_1d(axes)
    styles = ("-", "-", "--", "-.", ":")
    for ax, bb in zip(axes, batches):
        for j, (name, kv) in enumerate(series):
            m = models.get(name)
            est = inference.decode(m, dev, bb, ctx.astype(int), kv_dtype=kv)
            t = np.asarray(est.time_s) * 1e3
            fits = np.asarray(est.fits)
            color = COLORS[j % len(COLORS)]
            label = f"{m.label}, KV {kv}"
            ax.plot(np.where(fits, ctx, np.nan), np.where(fits, t, np.nan),
                    styles[j % len(styles)], color=color, lw=2, label=label)
            if not fits.all():
                ax.plot(np.where(fits, np.nan, ctx), np.where(fits, np.nan, t), ":",
                        color=color, lw=1.2)
        ax.set_title(f"batch {bb}", fontsize=10)
        ax.set_xlabel("context (tokens in the KV cache)")
        ax.set_xlim(0, ctx.max())
        ax.set_ylim(0, None)
        ax.set_xticks(np.arange(0, ctx.max() + 1, 8192))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1024:g}k"))
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("TPOT (ms)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Time per output token vs context on {dev.short_label} (dotted: does not fit)",
                 fontsize=10)
    return fig


def critical_batch_figure(device: Any, series: Sequence[tuple[str, str]] = (
        ("llama-2-7b", "bf16"), ("llama-3-8b", "bf16"), ("llama-3-8b", "fp8")),
        contexts: Sequence[int] = tuple(int(c) for c in np.geomspace(16, 32768, 23)),
        capacity_model: str = "llama-3-8b", ceiling: float = 1e5) -> Figure:
    """Critical batch (decode turns compute-bound) against context, and the batch that fits.

    Each line is :func:`lib.regimes.critical_batch` for one ``(model, kv_dtype)``; where
    it is infinite (never compute-bound) the line stops at the top edge. The grey line is
    the largest batch of ``capacity_model`` (bf16 KV) that fits in memory; the dashed one
    the naive ridge point, peak / bandwidth.

    Examples
    --------
    >>> fig = critical_batch_figure("h100-sxm", contexts=(16, 256, 4096))
    >>> fig.axes[0].get_yscale()
    'log'
    """
    dev = hardware.get(device)
    ctx = np.asarray(contexts)
    fig, ax = new_figure(7.2, 4.2)
    styles = ("-", "-", "--", "-.", ":")
    for j, (name, kv) in enumerate(series):
        m = models.get(name)
        cb = np.asarray(regimes.critical_batch(m, dev, ctx, kv_dtype=kv), float)
        finite = np.isfinite(cb)
        color = COLORS[j % len(COLORS)]
        ax.plot(ctx[finite], cb[finite], styles[j % len(styles)], marker="o", ms=4,
                color=color, lw=2, label=f"{m.label}, KV {kv}: critical batch")
        if not finite.all():
            k = int(np.argmax(~finite))
            if k > 0:
                ax.plot([ctx[k - 1], ctx[k]], [cb[k - 1], ceiling], ":", color=color, lw=1.5)
            ax.annotate("never", (ctx[k], ceiling), xytext=(0, -12 - 10 * j),
                        textcoords="offset points", fontsize=8, color=color, ha="center")
    fit = np.asarray(capacity.max_batch(capacity_model, dev, ctx), float)
    ax.plot(ctx, np.maximum(fit, 0.5), color="0.45", lw=2.5, alpha=0.7,
            label=f"{models.get(capacity_model).label}: largest batch that fits (KV bf16)")
    ax.axhline(dev.peak("bf16") / dev.memory_bandwidth, color="black", ls="--", lw=1,
               label=f"peak / bandwidth = {dev.peak('bf16') / dev.memory_bandwidth:.0f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1, ceiling)
    ax.set_xlim(ctx.min(), ctx.max())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("context (tokens in the KV cache)")
    ax.set_ylabel("batch (sequences)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(f"Where decode turns compute-bound on {dev.short_label}, and what fits",
                 fontsize=10)
    return fig


def throughput_latency_figure(model: Any, device: Any,
                              contexts: Sequence[int] = (128, 1024, 8192),
                              batches: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512,
                                                        1024),
                              kv_dtype: str = "bf16") -> Figure:
    """Tokens/s against TPOT as the batch grows, one curve per context.

    Filled points fit in memory, hollow ones do not; a black ring marks a compute-bound
    step. Batch sizes are written beside a few points (all curves start at batch 1).

    Examples
    --------
    >>> fig = throughput_latency_figure("llama-3-8b", "h100-sxm")
    >>> fig.axes[0].get_xscale()
    'log'
    """
    m = models.get(model)
    dev = hardware.get(device)
    b = np.asarray(batches)
    fig, ax = new_figure(7.0, 4.3)
    first = True
    for j, c in enumerate(contexts):
        est = inference.decode(m, dev, b, c, kv_dtype=kv_dtype)
        t = np.asarray(est.time_s) * 1e3
        r = np.asarray(est.tokens_per_s)
        fits = np.asarray(est.fits)
        comp = np.asarray(est.bound) == "compute"
        color = COLORS[j % len(COLORS)]
        ax.plot(t, r, "-", color=color, lw=1.5, label=f"{c:,}-token context")
        ax.plot(t[fits], r[fits], "o", color=color, ms=6)
        ax.plot(t[~fits], r[~fits], "o", mfc="white", mec=color, ms=6)
        ax.plot(t[comp], r[comp], "o", mfc="none", mec="black", ms=9, mew=1.5)
        for bb, tt, rr in zip(b, t, r):
            if bb in (64, 256, 1024):
                ax.annotate(f"B={bb}", (tt, rr), xytext=(6, -11), textcoords="offset points",
                            fontsize=8, color=color)
            elif bb == 1 and first:     # every curve starts here: label it once, to the left
                ax.annotate("B=1", (tt, rr), xytext=(-6, 0), textcoords="offset points",
                            fontsize=8, color="0.3", ha="right", va="center")
                first = False
    ax.plot([], [], "o", mfc="white", mec="0.4", label="does not fit in memory")
    ax.plot([], [], "o", mfc="none", mec="black", ms=9, mew=1.5, label="compute-bound")
    ax.set_xscale("log")
    ax.set_yscale("log")
    x_lo, x_hi = ax.get_xlim()
    y_lo, y_hi = ax.get_ylim()
    ax.set_xticks([v for v in (2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000)
                   if x_lo <= v <= x_hi])
    ax.set_yticks([v for v in (100, 300, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6)
                   if y_lo <= v <= y_hi])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_count(v, 2)))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_xlabel("time per output token, TPOT (ms): what each user waits")
    ax.set_ylabel("tokens/s, all users together")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"{m.label} on {dev.short_label}: batching buys throughput with latency "
                 f"(KV {kv_dtype})", fontsize=10)
    return fig


def capacity_figure(model: Any, device: Any, cases: Sequence[tuple[int, int]] = (
        (1, 4096), (16, 4096), (64, 4096), (256, 4096), (16, 32768), (64, 32768)),
        kv_dtypes: Sequence[str] = ("bf16",)) -> Figure:
    """Weights plus KV cache against the device's memory, one bar per ``(batch, context)``.

    With more than one KV precision, bars for each stand side by side.

    Examples
    --------
    >>> fig = capacity_figure("llama-3-8b", "h100-sxm")
    >>> len(fig.axes[0].patches)
    12
    """
    m = models.get(model)
    dev = hardware.get(device)
    fig, ax = new_figure(7.2, 3.9)
    n = len(kv_dtypes)
    width = 0.8 / n
    x = np.arange(len(cases))
    w = capacity.weight_bytes(m, "bf16") / 1e9
    for j, kv in enumerate(kv_dtypes):
        kvb = np.array([capacity.kv_cache_bytes(m, bb, cc, kv) for bb, cc in cases]) / 1e9
        xx = x + (j - (n - 1) / 2) * width
        ax.bar(xx, [w] * len(cases), width=width * 0.9, color=COLORS[0],
               label="weights (bf16)" if j == 0 else None)
        ax.bar(xx, kvb, bottom=w, width=width * 0.9, color=COLORS[1 + j],
               label=f"KV cache ({kv})")
        for xi, k in zip(xx, kvb):
            ax.text(xi, w + k, f"{w + k:,.0f}", ha="center", va="bottom", fontsize=7.5)
    cap = dev.memory_capacity / 1e9
    ax.axhline(cap, color="black", ls="--", lw=1.2)
    ax.text(-0.45, cap, f"{dev.short_label}: {cap:.0f} GB", ha="left", va="bottom", fontsize=8,
            bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none"))
    ax.set_xticks(x, [f"B={bb}\n{cc:,} tok" for bb, cc in cases], fontsize=8)
    ax.set_ylabel("memory (GB)")
    ax.set_ylim(0, None)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center")
    ax.set_title(f"{m.label}: does the batch fit? (activations and workspace not counted)",
                 fontsize=10)
    return fig


def moe_figure(model: Any, dense: Any, device: Any,
               batches: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
               context: int = 0) -> Figure:
    """A mixture of experts against a dense model as the decode batch grows.

    Left: the weight bytes one step reads (:attr:`lib.inference.Estimate.bytes_weights`),
    with the experts each layer touches (:meth:`lib.models.ModelConfig.experts_touched`)
    written beside the mixture's points. Right: each step's arithmetic intensity on the
    device's ridge, and the critical batch of each (:func:`lib.regimes.critical_batch`),
    where the step turns compute-bound. ``dense`` is the model to compare with, best one
    with the mixture's active parameters.

    Examples
    --------
    >>> fig = moe_figure("mixtral-8x7b", "llama-2-13b", "h200", batches=(1, 16, 1024))
    >>> len(fig.axes), fig.axes[0].get_xscale()
    (2, 'log')
    """
    moe, den, dev = models.get(model), models.get(dense), hardware.get(device)
    b = np.asarray(batches)
    fig, first = new_figure(8.0, 3.7)
    fig.delaxes(first)
    left, right = fig.subplots(1, 2)
    ridge = dev.peak("bf16") / dev.memory_bandwidth
    for j, m in enumerate((moe, den)):
        est = inference.decode(m, dev, b, context)
        color = COLORS[j]
        style = dict(color=color, marker=MARKERS[j], ms=5, lw=1.8)
        kind = (f"{m.top_k} of {m.n_experts} experts" if m.is_moe else "dense")
        label = f"{m.label} ({kind}, {fmt_count(m.params_active, 3)} active)"
        left.plot(b, np.asarray(est.bytes_weights) / 1e9, label=label, **style)
        right.plot(b, np.asarray(est.arithmetic_intensity), label=label, **style)
        crit = float(regimes.critical_batch(m, dev, context=context))
        if np.isfinite(crit):
            right.axvline(crit, color=color, ls=":", lw=1.2)
            right.text(crit / 1.08, 0.04, f"critical\nbatch {crit:,.0f}", ha="right",
                       va="bottom", fontsize=7.5, color=color,
                       transform=right.get_xaxis_transform())
        if m.is_moe:
            touched = np.asarray(m.experts_touched(b), float)
            for bb, w, e in zip(b, np.asarray(est.bytes_weights) / 1e9, touched):
                if bb in (1, 2, 4, 8, 16):
                    left.annotate(f"{e:.1f}", (bb, w), xytext=(5, -10),
                                  textcoords="offset points", fontsize=7.5, color=color)
    left.text(0.97, 0.55, "numbers: experts read per layer\n(uniform routing)",
              transform=left.transAxes, ha="right", va="center", fontsize=7.5, color=COLORS[0])
    right.axhline(ridge, color="0.25", ls="--", lw=1)
    right.text(b[0], ridge * 1.15, f"ridge {fmt_intensity(ridge)}", fontsize=7.5, va="bottom")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_xlabel("batch (sequences)")
        ax.grid(True, which="major", alpha=0.3)
    left.set_ylim(0, None)
    left.set_ylabel("weight bytes read per step (GB)")
    left.set_title("What a step reads", fontsize=10)
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    right.set_yscale("log")
    right.set_ylabel("step's intensity (FLOP/byte)")
    right.set_title(f"When it turns compute-bound ({dev.short_label})", fontsize=10)
    fig.suptitle(f"Decode with {fmt_count(context, 3) if context else 'no'} tokens cached: "
                 "a mixture of experts reads more as the batch grows", fontsize=10)
    return fig
