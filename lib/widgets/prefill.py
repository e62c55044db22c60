"""Chapter 5's explorer: a prefill's ops on the roofline, and where its time to first token goes.

The explorer's left panel places every op of one prefill (:func:`lib.inference.prefill`) on the
device's roofline, each at its own intensity and under its own roof: the matmuls
against the weights under the matmul dtype's roof, attention's two matmuls under the
activation dtype's, the elementwise ops (norms, softmax, residual adds) under the
vector (FP32) roof, their exponentials on the special-function units. The right panel
splits the per-op time, the estimate of the time to first token (TTFT), into the ops'
shares, coloured by the bound of each; the readout gives the floor beside it
(:attr:`lib.inference.Estimate.floor_s`), which no implementation beats.

Controls: prompt length, batch, precision (static on the website), and the model,
the device and the attention kernel (live only). The figure functions at the end draw
the chapter's static plots.

Introduced in chapters/05_prefill.ipynb.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from lib import hardware, inference, models
from lib.exercises.ch05 import EXPLORER_PROMPTS as PROMPTS  # an exercise asks about them
from lib.inference import attention_share
from lib.transformer import OP_NAMES
from lib.plotting import COLORS, MARKERS, format_roofline_axes, new_figure, roof_xy
from lib.roofline import ridge_point
from lib.units import fmt_bytes, fmt_count, fmt_intensity, fmt_time
from lib.widgets import Control, Explorer

__all__ = ["SHOWN_OPS", "PROMPTS", "BATCHES", "PRECISIONS", "MODELS", "DEVICES",
           "PrefillExplorer", "ttft_figure", "intensity_figure", "launch_floor_figure",
           "attention_share_figure", "unfused_attention_figure"]

#: Ops the explorer shows, in :data:`lib.transformer.OP_NAMES` order: a dense model's. A
#: model without RoPE (GPT-2) shows its "KV write" in the "RoPE and KV write" row.
SHOWN_OPS = tuple(n for n in OP_NAMES if n not in ("KV write", "router", "expert combine"))
BATCHES = (1, 8, 64)
#: weight dtype -> label (the matmul dtype follows :func:`lib.inference.compute_dtype_for`)
PRECISIONS = {"bf16": "BF16", "fp8": "FP8", "int4": "INT4 weights, BF16 math"}
MODELS = ("gpt2", "llama-2-7b", "llama-3-8b", "qwen2-7b", "llama-3-70b")
#: Catalog devices with a published BF16 peak (a roofline needs a compute roof).
DEVICES = tuple(n for n in hardware.names() if "bf16" in hardware.get(n).peak_flops)

X_RANGE = (0.05, 1e5)
Y_RANGE = (3e9, 1e16)
BOUND_COLORS = {"memory": COLORS[0], "compute": COLORS[1]}
_MARKERS = (*MARKERS, "h", "H", "d", "p")


class PrefillExplorer(Explorer):
    """Prompt length, batch, precision, model, device and attention kernel for one prefill."""

    name = "prefill"
    title = "Prefill: every op on the roofline, and its share of the time to first token"
    figsize = (8.6, 5.0)
    controls = (
        Control("prompt_len", "prompt length (tokens)", tuple((str(p), p) for p in PROMPTS),
                default=PROMPTS.index(1024)),
        Control("batch", "prompts in the batch", tuple((str(b), b) for b in BATCHES), default=0,
                static=("1", "8")),
        Control("weight_dtype", "precision",
                tuple((label, key) for key, label in PRECISIONS.items()), default=0,
                kind="dropdown"),
        Control("model", "model", tuple((m, m) for m in MODELS),
                default=MODELS.index("llama-3-8b"), kind="dropdown", static=False),
        # The website compares the two devices chapters 5 and 6 work by hand (2 MB of frames).
        Control("device", "device", tuple((n, n) for n in DEVICES),
                default=DEVICES.index("h100-sxm"), kind="dropdown",
                static=("h100-sxm", "a100-sxm-80gb")),
        Control("fused", "attention kernel",
                (("fused (FlashAttention-style)", True), ("unfused (scores through HBM)", False)),
                default=0, kind="dropdown", static=False),
    )

    def setup(self, fig: Figure) -> None:
        ax, bx = fig.subplots(1, 2, width_ratios=(1.55, 1))
        self.ax, self.bx = ax, bx
        format_roofline_axes(ax, X_RANGE, Y_RANGE)
        ax.set_title("each op on the roofline (dense peaks)", fontsize=10)
        dyn = self.dynamic
        self.ref_line = dyn(ax.plot([], [], color="0.55", lw=1.2, ls="--")[0])
        self.vec_line = dyn(ax.plot([], [], color="0.55", lw=1.2, ls=":")[0])
        self.roof_line = dyn(ax.plot([], [], color="0.15", lw=2.2)[0])
        self.ridge_line = dyn(ax.axvline(1.0, color="0.15", ls=":", lw=1))
        self.roof_text = dyn(ax.text(X_RANGE[1] / 1.2, 1.0, "", fontsize=7.5, ha="right",
                                     va="top", color="0.15"))
        self.vec_text = dyn(ax.text(1.0, 1.0, "vector roof (fp32)", fontsize=7.5, ha="left",
                                    va="top", color="0.4"))
        self.chip_text = dyn(ax.annotate("", (1.0, 1.0), xytext=(0, -13), ha="center",
                                         textcoords="offset points", fontsize=7, color="0.3"))
        self.points = {}
        for i, name in enumerate(SHOWN_OPS):
            self.points[name] = dyn(ax.plot([], [], _MARKERS[i % len(_MARKERS)], ms=7.5,
                                            mec="black", mew=0.7, zorder=5)[0])
        handles = [Line2D([], [], ls="", marker=_MARKERS[i % len(_MARKERS)], mfc="white",
                          mec="black", label=n) for i, n in enumerate(SHOWN_OPS)]
        # The region under the memory roof (lower right) and the one above it (upper left)
        # stay empty whatever the controls: the legend and the readout go there, away from
        # the compute roof where the GEMMs sit.
        ax.legend(handles=handles, loc="lower right", fontsize=7.2, ncol=2, handletextpad=0.2,
                  columnspacing=0.6, borderpad=0.4, framealpha=0.9)
        self.info = dyn(ax.text(0.03, 0.97, "", transform=ax.transAxes, va="top", ha="left",
                                fontsize=8.2, multialignment="left",
                                bbox=dict(boxstyle="round", fc="white", ec="0.7")))

        rows = np.arange(len(SHOWN_OPS))[::-1]
        self.rows = dict(zip(SHOWN_OPS, rows))
        bx.set_xlim(0, 1.0)
        bx.set_ylim(-0.7, len(SHOWN_OPS) - 0.3)
        bx.set_yticks(rows, SHOWN_OPS, fontsize=8)
        bx.xaxis.set_major_formatter(PercentFormatter(1.0))
        bx.set_xlabel("share of the TTFT (per-op time)")
        bx.grid(True, axis="x", alpha=0.3)
        bx.legend(handles=[Patch(color=BOUND_COLORS["memory"], label="memory-bound"),
                           Patch(color=BOUND_COLORS["compute"], label="compute-bound")],
                  loc="lower right", fontsize=7.5)
        self.bars = {n: dyn(bx.barh([r], [0.0], height=0.65, color=COLORS[0])[0])
                     for n, r in self.rows.items()}
        self.bar_text = {n: dyn(bx.text(0.0, r, "", va="center", ha="left", fontsize=8))
                         for n, r in self.rows.items()}
        self.bar_title = dyn(bx.set_title("TTFT", fontsize=9))

    def update(self, *, prompt_len: int, batch: int, weight_dtype: str, model: str,
               device: str, fused: bool, **_: Any) -> None:
        dev = hardware.get(device)
        est = inference.prefill(model, dev, batch, prompt_len, weight_dtype=weight_dtype,
                                fused_attention=fused)
        bw = dev.memory_bandwidth
        peak = est.peak_flops
        ridge = ridge_point(peak, bw)
        self.roof_line.set_data(*roof_xy(peak, bw, X_RANGE))
        self.ridge_line.set_xdata([ridge, ridge])
        self.roof_text.set_position((X_RANGE[1] / 1.2, peak / 1.25))
        self.roof_text.set_text(f"matmul roof ({est.compute_dtype})")
        act_peak = dev.peak(est.activation_dtype)
        if act_peak != peak:
            self.ref_line.set_data(*roof_xy(act_peak, bw, X_RANGE))
        else:
            self.ref_line.set_data([], [])
        vec_peak = dev.peak_flops.get("fp32")
        if vec_peak:
            self.vec_line.set_data(*roof_xy(vec_peak, bw, X_RANGE))
            self.vec_text.set_position((ridge_point(vec_peak, bw) * 1.5, vec_peak / 1.15))
            self.vec_text.set_visible(True)
        else:
            self.vec_line.set_data([], [])
            self.vec_text.set_visible(False)

        total = float(est.time_s)
        on_chip: list[tuple[float, float]] = []
        present = {o.name for o in est.ops}
        for name in SHOWN_OPS:
            op = est.op(name if name in present else "KV write")
            color = BOUND_COLORS[str(op.bound)]
            point = self.points[name]
            ai = float(op.arithmetic_intensity)
            if float(op.flops) <= 0:
                point.set_data([], [])                 # a pure lookup: no FLOPs to place
            else:
                x = min(ai, X_RANGE[1] / 1.6)          # "on chip" (no HBM bytes): right edge
                y = float(op.flops) / float(op.time_s)  # the rate its slowest roof allows
                point.set_data([x], [y])
                point.set_markerfacecolor(color)
                if not np.isfinite(ai):
                    on_chip.append((x, y))
            share = float(op.time_s) / total
            self.bars[name].set_width(share)
            self.bars[name].set_color(color)
            self.bar_text[name].set_text(fmt_time(float(op.time_s), 2))
            self.bar_text[name].set_x(share + 0.015 if share < 0.6 else share - 0.015)
            self.bar_text[name].set_ha("left" if share < 0.6 else "right")

        if on_chip:
            self.chip_text.xy = on_chip[0]
            self.chip_text.set_text("on chip")
        else:
            self.chip_text.set_text("")
        m = models.get(model)
        mfu = float(inference.mfu(est, total))
        lines = [
            f"intensity I = {fmt_intensity(float(est.arithmetic_intensity))} "
            f"(ridge I* = {ridge:.0f})",
            f"MFU at the per-op time {mfu:.0%}; {fmt_count(float(est.tokens_per_s))} tokens/s",
            f"floor {fmt_time(float(est.floor_s))}, the fastest possible",
            f"memory {fmt_bytes(float(est.memory_required))}"
            + ("" if est.fits else ": does NOT fit"),
        ]
        if prompt_len > m.max_context:
            lines.append(f"(beyond {model}'s {m.max_context}-token context)")
        self.info.set_text("\n".join(lines))
        self.bar_title.set_text(f"TTFT {fmt_time(total)} per op, {est.bound}-bound")


# --- the chapter's static figures ----------------------------------------------------

def _prompt_axis(ax: Any, ylabel: str, batch: int | None = 1) -> None:
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("prompt length P (tokens)" + (f", batch {batch}" if batch else ""))
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def _time_axis(ax: Any) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_time(v, 2)))


def ttft_figure(model: Any, devices: Any, prompts: Any) -> Figure:
    """TTFT (per-op time) against the prompt length at batch 1, one line per device.

    Open circles mark the prompt lengths whose whole prefill is memory-bound; a thin
    dashed line under each device's is its floor, which no implementation beats.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> fig = ttft_figure("llama-3-8b", ["h100-sxm", "l4"], [16, 256, 4096])
    >>> len(fig.axes[0].get_lines())
    6
    """
    m = models.get(model)
    p = np.asarray(prompts)
    fig, ax = new_figure()
    for i, name in enumerate(devices):
        dev = hardware.get(name)
        est = inference.prefill(m, dev, 1, p)
        color = COLORS[i % len(COLORS)]
        ax.plot(p, est.time_s, "-o", ms=3.5, color=color, label=dev.label)
        ax.plot(p, est.floor_s, "--", lw=1, color=color)
        memory = np.asarray(est.bound) == "memory"
        ax.plot(p[memory], np.asarray(est.time_s)[memory], "o", ms=7, mfc="none", color=color)
    _prompt_axis(ax, "TTFT (per-op time)")
    _time_axis(ax)
    ax.legend(fontsize=8, title="open circles: memory-bound\ndashed: the floor", title_fontsize=8)
    ax.set_title(f"{m.label} prefill (BF16): TTFT against prompt length")
    return fig


def intensity_figure(model: Any, devices: Any, prompts: Any) -> Figure:
    """A prefill's arithmetic intensity against the prompt, with each device's BF16 ridge.

    The intensity does not depend on the device (BF16 on every one), so it is one line;
    where it crosses a device's ridge, that device's prefill turns compute-bound.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> fig = intensity_figure("llama-3-8b", ["h100-sxm", "l4"], [16, 256, 4096])
    >>> len(fig.axes[0].get_lines())
    3
    """
    m = models.get(model)
    p = np.asarray(prompts)
    est = inference.prefill(m, devices[0], 1, p)
    fig, ax = new_figure()
    ax.plot(p, est.arithmetic_intensity, "-o", color="black", ms=4, label="prefill intensity")
    for i, name in enumerate(devices):
        dev = hardware.get(name)
        ridge = ridge_point(dev.peak("bf16"), dev.memory_bandwidth)
        ax.axhline(ridge, color=COLORS[i % len(COLORS)], ls="--", lw=1.3,
                   label=f"{dev.label}: {ridge:.0f}")
    _prompt_axis(ax, "arithmetic intensity I (FLOP/byte)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.legend(fontsize=8, loc="lower right", title="dashed: ridge I* = π/β", title_fontsize=8)
    ax.set_title(f"{m.label} prefill: intensity grows with the prompt, crossing each ridge")
    return fig


def launch_floor_figure(model_names: Any, device: Any, prompts: Any,
                        latencies: Any) -> Figure:
    """Per-op time of a prefill against the prompt, and its launch floor at each latency.

    Solid lines: :func:`lib.inference.prefill`'s time at batch 1, one per model. Broken
    lines, in the same colour: :func:`lib.inference.launch_floor` at each of
    ``latencies`` (seconds per kernel launch), flat because the kernel count does not
    depend on the prompt.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> fig = launch_floor_figure(["gpt2"], "h100-sxm", [16, 1024], [1e-6, 5e-6])
    >>> len(fig.axes[0].get_lines())
    5
    """
    p = np.asarray(prompts)
    styles = (":", "--", "-.", (0, (1, 3)))
    fig, ax = new_figure()
    for i, name in enumerate(model_names):
        est = inference.prefill(name, device, 1, p)
        color = COLORS[i % len(COLORS)]
        ax.plot(p, est.time_s, "-o", ms=3.5, color=color, label=f"{name}: per-op time")
        for t, ls in zip(latencies, styles):
            ax.axhline(float(np.max(inference.launch_floor(est, t))), color=color, ls=ls, lw=1)
    for t, ls in zip(latencies, styles):
        ax.plot([], [], color="0.4", ls=ls, lw=1,
                label=f"launch floor at {fmt_time(t)} per kernel")
    _prompt_axis(ax, "time")
    _time_axis(ax)
    ax.legend(fontsize=7.5, loc="upper left")
    dev = hardware.get(device)
    ax.set_title(f"Prefill on an {dev.short_label}: per-op time against the launch floor",
                 fontsize=10)
    return fig


def attention_share_figure(model_names: Any, device: Any, prompts: Any) -> Figure:
    """Attention's share of a prefill's FLOPs against the prompt (causal, fused), per model.

    Each model's line is solid up to its ``max_context`` and dotted beyond it.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> fig = attention_share_figure(["gpt2", "llama-3-8b"], "h100-sxm", [512, 2048, 8192])
    >>> len(fig.axes[0].get_lines())
    5
    """
    p = np.asarray(prompts)
    fig, ax = new_figure()
    for i, name in enumerate(model_names):
        m = models.get(name)
        share = np.asarray(attention_share(inference.prefill(m, device, 1, p), "flops")) * 100
        color = COLORS[i % len(COLORS)]
        inside = p <= m.max_context
        ax.plot(p[inside], share[inside], "-o", ms=3.5, color=color,
                label=f"{name} (context {m.max_context:,})")
        beyond = p >= m.max_context            # dotted from the last length it accepts
        ax.plot(p[beyond], share[beyond], ":", color=color)
    ax.axhline(50, color="0.5", lw=1, ls="--")
    _prompt_axis(ax, "attention's share of prefill FLOPs (%)", batch=None)
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, title="dotted: beyond the model's context", title_fontsize=8)
    ax.set_title("Attention's share of the FLOPs grows with the prompt (causal, fused)")
    return fig


def unfused_attention_figure(model: Any, device: Any, prompts: Any) -> Figure:
    """Attention's share of the TTFT, FlashAttention-style against unfused, at batch 1.

    Filled markers: the whole prefill is compute-bound; open squares: memory-bound.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> fig = unfused_attention_figure("llama-3-8b", "h100-sxm", [512, 8192])
    >>> len(fig.axes[0].get_legend().get_texts())
    4
    """
    m = models.get(model)
    dev = hardware.get(device)
    p = np.asarray(prompts)
    fig, ax = new_figure()
    for fused, label, color in ((True, "fused (FlashAttention-style)", COLORS[0]),
                                (False, "unfused (scores through HBM)", COLORS[1])):
        est = inference.prefill(m, dev, 1, p, fused_attention=fused)
        share = np.asarray(attention_share(est)) * 100
        ax.plot(p, share, "-", color=color, label=label)
        for bound, marker in (("compute", "o"), ("memory", "s")):
            sel = np.asarray(est.bound) == bound
            ax.plot(p[sel], share[sel], marker, color=color, ms=7,
                    mfc=color if bound == "compute" else "white")
    ax.plot([], [], "o", color="0.4", label="whole prefill compute-bound")
    ax.plot([], [], "s", color="0.4", mfc="white", label="whole prefill memory-bound")
    _prompt_axis(ax, "attention's share of the TTFT (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"{m.label} on an {dev.short_label}: unfused attention takes over, "
                 f"and the bound flips", fontsize=10)
    return fig
