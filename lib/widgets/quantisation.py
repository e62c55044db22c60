"""Chapter 9's explorer and figures: a decode step before and after quantising.

The explorer takes a model, a device, a weight format, a KV-cache format, the batch and
the context, and shows the step at BF16 weights and cache beside the same step at the
chosen formats: where each step's calibrated estimate goes (weights, KV cache, the rest,
the fixed per-kernel costs), and what each leaves of the device's memory. Every time and
speed-up it shows is the calibrated estimate (chapters/08_model_vs_reality.ipynb). What it shows is computed by :mod:`lib.quantisation`
(:func:`lib.quantisation.compare`, :func:`lib.quantisation.step_split`,
:func:`lib.quantisation.capacity_gain`).

Introduced in chapters/09_quantisation.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from lib import capacity, hardware, models, quantisation
from lib.plotting import COLORS
from lib.units import fmt_bytes, fmt_time
from lib.widgets import Control, Explorer

__all__ = ["QuantisationExplorer", "speedup_figure"]

#: Colours of the parts of :data:`lib.quantisation.SPLIT`.
SPLIT_COLORS = (COLORS[0], COLORS[1], COLORS[5], "0.65")

MODELS = ("llama-2-7b", "llama-3-8b", "qwen2-7b")
DEVICES = ("h100-sxm", "a100-sxm-80gb")
WEIGHT_OPTIONS = (("bf16", "bf16"), ("fp8", "fp8"), ("int8 (weight-only)", "int8"),
                  ("int4 (weight-only)", "int4"), ("GGUF q4_0", "q4_0"))
KV_OPTIONS = (("bf16", "bf16"), ("fp8", "fp8"), ("GGUF q8_0", "q8_0"),
              ("KIVI int4, groups of 32", "int4_g32"), ("KIVI int2, groups of 32", "int2_g32"))
BATCHES = (1, 8, 64, 256)
CONTEXTS = (1024, 8192, 32768)
MEM_MAX = 200.0                  # % of capacity shown on the memory bars
ROWS = ("BF16 / BF16", "quantised")
#: Legend labels of the parts of the step that need saying.
LEGEND = {"other": "other (activations, math)", "fixed costs": "fixed (per kernel)"}


class QuantisationExplorer(Explorer):
    """Model, device, weight and KV formats, batch and context: a decode step, BF16 vs quantised."""

    name = "quantisation"
    title = "Quantised weights and KV cache: one decode step, BF16 vs quantised"
    figsize = (9.0, 4.6)
    controls = (
        Control("weight_dtype", "weights", WEIGHT_OPTIONS, default=0, kind="dropdown",
                static=("bf16", "int4 (weight-only)")),
        Control("kv_dtype", "KV cache", KV_OPTIONS, default=1, kind="dropdown",
                static=("bf16", "fp8", "KIVI int4, groups of 32")),
        Control("batch", "batch (sequences)", tuple((str(b), b) for b in BATCHES), default=0,
                static=("1", "8", "64")),
        Control("context", "context (tokens cached)", tuple((f"{c:,}", c) for c in CONTEXTS),
                default=2, static=("1,024", "32,768")),
        Control("model", "model", tuple((m, m) for m in MODELS), default=1, kind="dropdown",
                static=("llama-2-7b", "llama-3-8b")),
        Control("device", "device", tuple((d, d) for d in DEVICES), default=0,
                kind="dropdown", static=False),
    )

    def setup(self, fig: Figure) -> None:
        grid = fig.add_gridspec(2, 2, width_ratios=(1.25, 1), height_ratios=(1, 1))
        tx = self.tx = fig.add_subplot(grid[0, 0])
        mx = self.mx = fig.add_subplot(grid[1, 0])
        head = fig.add_subplot(grid[:, 1])
        head.axis("off")
        dyn = self.dynamic
        y = np.arange(len(ROWS))[::-1]

        tx.set_xlim(0, 105)
        tx.set_ylim(-0.6, 1.6)
        tx.set_yticks(y, ROWS, fontsize=8.5)
        tx.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
        tx.tick_params(axis="x", labelsize=8)
        tx.set_title("step time (calibrated estimate), % of the BF16 step", fontsize=10)
        self.bars = [[dyn(tx.barh([yy], [0.0], left=0.0, height=0.6, color=c)[0])
                      for c in SPLIT_COLORS] for yy in y]
        for bar, key in zip(self.bars[0], quantisation.SPLIT):
            bar.set_label(LEGEND.get(key, key))
        tx.legend(handles=self.bars[0], loc="upper center", bbox_to_anchor=(0.5, -0.18),
                  ncol=4, fontsize=8, frameon=False, handlelength=1.0)
        box = dict(boxstyle="round,pad=0.2", fc="white", ec="0.7", alpha=0.9)
        self.time_labels = [dyn(tx.text(104, yy, "", ha="right", va="center", fontsize=8,
                                        bbox=box)) for yy in y]

        mx.set_xlim(0, MEM_MAX)
        mx.set_ylim(-0.6, 1.6)
        mx.set_yticks(y, ROWS, fontsize=8.5)
        mx.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
        mx.tick_params(axis="x", labelsize=8)
        mx.axvline(100, color="black", lw=1.2, ls="--")
        mx.set_title("memory: weights + KV cache, % of capacity", fontsize=10)
        self.mem = [(dyn(mx.barh([yy], [0.0], height=0.6, color=COLORS[0])[0]),
                     dyn(mx.barh([yy], [0.0], height=0.6, color=COLORS[1])[0])) for yy in y]
        self.mem_labels = [dyn(mx.text(MEM_MAX - 2, yy, "", ha="right", va="center",
                                       fontsize=8, bbox=box)) for yy in y]
        self.info = dyn(head.text(0.0, 1.0, "", transform=head.transAxes, va="top", ha="left",
                                  fontsize=8.3, linespacing=1.4))

    def update(self, *, weight_dtype: str, kv_dtype: str, batch: int, context: int,
               model: str, device: str, **_: Any) -> None:
        m, dev = models.get(model), hardware.get(device)
        c = quantisation.compare(m, dev, batch, context, weight_dtype=weight_dtype,
                                 kv_dtype=kv_dtype)
        splits = [quantisation.step_split(m, dev, batch, context, weight_dtype=wd, kv_dtype=kd)
                  for wd, kd in (("bf16", "bf16"), (weight_dtype, kv_dtype))]
        base_total = float(c.base_s)
        for bars, split, label, est in zip(self.bars, splits, self.time_labels,
                                           (c.base, c.quantised)):
            left = 0.0
            for bar, key in zip(bars, quantisation.SPLIT):
                w = 100 * float(split[key]) / base_total
                bar.set_x(left)
                bar.set_width(w)
                left += w
            label.set_text(f"{fmt_time(est.estimate_s)}")

        cap = dev.memory_capacity
        fits = (c.base.fits, c.quantised.fits)
        for (w_bar, kv_bar), label, (wdt, kdt), ok in zip(
                self.mem, self.mem_labels, (("bf16", "bf16"), (weight_dtype, kv_dtype)), fits):
            w_pct = 100 * capacity.weight_bytes(m, wdt) / cap
            kv_pct = 100 * capacity.kv_cache_bytes(m, batch, context, kdt) / cap
            w_bar.set_width(min(w_pct, MEM_MAX))
            kv_bar.set_x(min(w_pct, MEM_MAX))
            kv_bar.set_width(max(min(w_pct + kv_pct, MEM_MAX) - w_pct, 0.0))
            label.set_text("" if ok else f"does not fit ({(w_pct + kv_pct) / 100:.2g}×)")

        g = quantisation.capacity_gain(m, dev, context=context, batch_at=batch,
                                       weight_dtype=weight_dtype, kv_dtype=kv_dtype)
        kv_base = quantisation.kv_footprint(m, "bf16")
        kv_q = quantisation.kv_footprint(m, kv_dtype)
        w_q = quantisation.weight_footprint(m, weight_dtype)
        self.info.set_text("\n".join([
            f"{m.label} on {dev.short_label}",
            f"batch {batch}, {context:,} tokens cached each",
            f"weights {weight_dtype}: {fmt_bytes(w_q.total_bytes)}"
            + (f" ({fmt_bytes(w_q.overhead_bytes)} scales)" if w_q.overhead_bytes else ""),
            f"KV {kv_dtype}: {fmt_bytes(kv_q.total_bytes)}/token"
            + (f" ({fmt_bytes(kv_q.overhead_bytes)} scales)" if kv_q.overhead_bytes else "")
            + f", BF16 {fmt_bytes(kv_base.total_bytes)}",
            f"KV share of BF16 step bytes: {100 * float(c.kv_share):.0f}%",
            "",
            f"speed-up (calibrated estimate): {float(c.speedup):.2f}×",
            f"bytes moved, BF16 / quantised: {float(c.byte_ratio):.2f}×",
            f"BF16 step {c.base.bound}-bound, quantised {c.quantised.bound}-bound",
            "",
            f"largest batch at {context:,} tokens:",
            f"  {g.base_batch:,.0f} → {g.batch:,.0f}",
            f"longest context at batch {batch}:",
            f"  {_ctx(g.base_context)} → {_ctx(g.context)}"
            f" (model: {m.max_context:,})",
        ]))


def _ctx(x: float) -> str:
    return "∞ (window)" if not np.isfinite(x) else f"{x:,.0f}"


# --- the chapter's static figures ----------------------------------------------------------

def speedup_figure(model: Any, device: Any, batches: Sequence[int], contexts: Sequence[int],
                   formats: Sequence[tuple[str, str, str]]) -> Figure:
    """Speed-up of a decode step (calibrated estimate) over context, one line per batch.

    ``formats`` are ``(title, weight_dtype, kv_dtype)``, one panel each; the baseline is
    BF16 weights and cache. Filled markers: the quantised step's weights and caches fit in
    the device's memory; hollow markers: they do not, and the point is what the step would
    cost on a device with the same bandwidth and more memory (the legend says so).
    Computed by :func:`lib.quantisation.compare`.

    Introduced in chapters/09_quantisation.ipynb.
    """
    fig, axes = plt.subplots(1, len(formats), figsize=(3.4 * len(formats) + 0.6, 3.8),
                             sharey=True, squeeze=False, layout="constrained")
    plt.close(fig)                # shown once, when a cell returns it (as lib.plotting does)
    axes = axes[0]
    b = np.asarray(batches)[:, None]
    ctx = np.asarray(contexts)
    for ax, (title, wd, kd) in zip(axes, formats):
        c = quantisation.compare(model, device, b, ctx, weight_dtype=wd, kv_dtype=kd)
        s, fits = np.asarray(c.speedup), np.asarray(c.fits)
        for i, bb in enumerate(batches):
            color = COLORS[i % len(COLORS)]
            ax.plot(ctx, s[i], "-", color=color, label=f"batch {bb}")
            ax.plot(ctx[fits[i]], s[i][fits[i]], "o", color=color, ms=4)
            ax.plot(ctx[~fits[i]], s[i][~fits[i]], "o", mfc="white", mec=color, ms=4)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ctx, [f"{x // 1024}k" if x >= 1024 else str(x) for x in ctx], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("context (tokens cached)")
        ax.axhline(1, color="0.5", lw=0.8)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("speed-up over BF16 (calibrated estimate)")
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], ls="", marker="o", color="0.4", ms=4),
                Line2D([], [], ls="", marker="o", mfc="white", mec="0.4", ms=4)]
    labels += ["fits in memory", "does not fit (hypothetical)"]
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8,
               frameon=False)
    fig.suptitle(f"{models.get(model).label} on {hardware.get(device).short_label}, "
                 "one decode step", fontsize=10)
    return fig
