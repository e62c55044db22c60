"""Chapter 14's explorer and figure: a model split over devices by tensor and pipeline parallelism.

The explorer takes a model, a device (one linked by NVLink, one by PCIe), the phase, the
tensor-parallel degree, the pipeline stages, the micro-batches and the batch. It asks
:func:`lib.parallel.pipeline` for the forward at every tensor-parallel degree and draws
the time of each as compute, communication and bubble (the chosen degree outlined),
tokens per second per device, and the memory each device needs against its capacity.

:func:`scaling_figure` draws the chapter's scaling curve from
:func:`lib.parallel.tensor_parallel`. Nothing is computed here that :mod:`lib.parallel`
does not compute.

Introduced in chapters/14_parallelism.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lib import hardware, models, parallel
from lib.plotting import COLORS, new_figure
from lib.units import fmt_bytes, fmt_count, fmt_time
from lib.widgets import Control, Explorer

__all__ = ["ParallelExplorer", "scaling_figure", "MODELS", "DEVICES", "TPS", "PPS",
           "MICRO_BATCHES", "BATCHES", "PROMPT", "CONTEXT"]

MODELS = ("llama-3-8b", "llama-3-70b")
#: One device linked by NVLink, one by PCIe (the catalog's links).
DEVICES = ("h100-sxm", "l40s")
TPS = (1, 2, 4, 8)
PPS = (1, 2, 4)
MICRO_BATCHES = (1, 4)
BATCHES = (4, 32)
#: Prompt tokens of a prefill, and tokens cached in a decode step.
PROMPT, CONTEXT = 2048, 2048
PARTS = ("compute", "communication", "bubble")
PART_COLORS = (COLORS[0], COLORS[1], "0.75")
MEM_MAX = 200.0


def _run(model: str, device: str, phase: str, batch: int, tp: int, pp: int,
         micro_batches: int) -> parallel.Pipeline:
    new, cached = (PROMPT, 0) if phase == "prefill" else (1, CONTEXT)
    return parallel.pipeline(model, device, batch, new, cached, tp=tp, pp=pp,
                             micro_batches=micro_batches)


class ParallelExplorer(Explorer):
    """Model, device, phase, tp, pp, micro-batches and batch: time split and memory per device."""

    name = "parallel"
    title = "Splitting a model: tensor and pipeline parallelism"
    figsize = (9.4, 4.9)
    controls = (
        Control("tp", "tensor-parallel degree p", tuple((str(p), p) for p in TPS), default=2),
        Control("pp", "pipeline stages", tuple((str(p), p) for p in PPS), default=0,
                static=("1", "4")),
        Control("micro_batches", "micro-batches", tuple((str(m), m) for m in MICRO_BATCHES),
                default=1, static=("4",)),
        Control("batch", "batch (sequences)", tuple((str(b), b) for b in BATCHES), default=1,
                static=("32",)),
        Control("phase", "phase", (("decode (one step)", "decode"),
                                   (f"prefill ({PROMPT:,} tokens)", "prefill")),
                default=0, kind="dropdown"),
        Control("device", "device", (("H100 SXM (NVLink)", "h100-sxm"),
                                     ("L40S (PCIe Gen4)", "l40s")), default=0,
                kind="dropdown"),
        Control("model", "model", tuple((m, m) for m in MODELS), default=1, kind="dropdown"),
    )

    def setup(self, fig: Figure) -> None:
        grid = fig.add_gridspec(2, 2, width_ratios=(1.3, 1), height_ratios=(1, 1.6))
        ax = self.ax = fig.add_subplot(grid[:, 0])
        mx = self.mx = fig.add_subplot(grid[0, 1])
        head = fig.add_subplot(grid[1, 1])
        head.axis("off")
        dyn = self.dynamic
        x = np.arange(len(TPS))
        ax.set_xticks(x, [f"tp {p}" for p in TPS])
        ax.set_xlim(-0.6, len(TPS) - 0.4)
        ax.set_ylim(0, 105)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
        ax.set_ylabel("time of the step, % of the slowest tp shown")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_title("where the time goes at each tensor-parallel degree", fontsize=10)
        self.bars = [[dyn(ax.bar([i], [0.0], width=0.6, color=c, label=part if i == 0 else
                                 None)[0]) for i in x] for part, c in zip(PARTS, PART_COLORS)]
        self.outline = dyn(ax.bar([0], [0.0], width=0.7, fill=False, ec="black", lw=2)[0])
        self.labels = [dyn(ax.text(i, 0, "", ha="center", va="bottom", fontsize=7.5))
                       for i in x]
        ax.legend(loc="upper right", fontsize=8)

        mx.set_xlim(0, MEM_MAX)
        mx.set_ylim(-0.5, 0.5)
        mx.set_yticks([])
        mx.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
        mx.tick_params(axis="x", labelsize=8)
        mx.axvline(100, color="black", lw=1.2, ls="--")
        mx.set_title("memory per device: weights + KV, % of capacity", fontsize=10)
        self.mem_w = dyn(mx.barh([0], [0.0], height=0.7, color=COLORS[2], label="weights")[0])
        self.mem_kv = dyn(mx.barh([0], [0.0], height=0.7, color=COLORS[4], label="KV cache")[0])
        mx.legend(handles=[self.mem_w, self.mem_kv], labels=["weights", "KV cache"],
                  loc="upper center",
                  bbox_to_anchor=(0.5, -0.3), ncol=2, fontsize=7.5, frameon=False)
        self.info = dyn(head.text(0.0, 1.0, "", transform=head.transAxes, va="top", ha="left",
                                  fontsize=8.3, linespacing=1.35))

    def update(self, *, tp: int, pp: int, micro_batches: int, batch: int, phase: str,
               device: str, model: str, **_: Any) -> None:
        runs = [_run(model, device, phase, batch, p, pp, micro_batches) for p in TPS]
        totals = np.array([float(r.time_s) for r in runs])
        scale = 100.0 / totals.max()
        for i, r in enumerate(runs):
            bottom = 0.0
            for bars, part in zip(self.bars, ("compute_s", "comm_s", "bubble_s")):
                h = float(getattr(r, part)) * scale
                bars[i].set_y(bottom)
                bars[i].set_height(h)
                bottom += h
            self.labels[i].set_position((i, bottom + 1))
            self.labels[i].set_text(fmt_time(float(r.time_s), 2)
                                    + ("" if r.fits else "\nno fit"))
        k = TPS.index(tp)
        self.outline.set_x(k - 0.35)
        self.outline.set_height(totals[k] * scale)
        r = runs[k]
        dev, m = hardware.get(device), models.get(model)
        cap = dev.memory_capacity
        w = max(s.weight_bytes for s in r.stages)
        mem = float(r.memory_per_device)
        self.mem_w.set_width(min(100 * w / cap, MEM_MAX))
        self.mem_kv.set_x(min(100 * w / cap, MEM_MAX))
        self.mem_kv.set_width(max(min(100 * mem / cap, MEM_MAX) - 100 * w / cap, 0.0))
        what = (f"prefill of {batch} × {PROMPT:,} tokens" if phase == "prefill"
                else f"decode step, {batch} sequences × {CONTEXT:,} cached")
        self.info.set_text("\n".join([
            f"{m.label} on {r.devices} × {dev.short_label} ({dev.interconnect})",
            f"tp {tp} × pp {pp}, {r.micro_batches} micro-batch"
            + ("es" if r.micro_batches > 1 else "") + f"; {what}",
            f"step {fmt_time(float(r.time_s))}: compute {fmt_time(float(r.compute_s))}, "
            f"all-reduces {fmt_time(float(r.comm_s))}",
            f"bubble {fmt_time(float(r.bubble_s))} ({float(r.bubble_fraction):.0%}); one "
            f"micro-batch through all stages {fmt_time(float(r.latency_s))}",
            f"{fmt_count(float(r.tokens_per_s))} tokens/s, "
            f"{fmt_count(float(r.tokens_per_s_per_device))} per device",
            f"memory {fmt_bytes(mem)} of {fmt_bytes(cap)} per device"
            + ("" if r.fits else ": does NOT fit"),
            "(calibrated estimate)",
        ]))


def scaling_figure(model: Any, devices: Sequence[tuple[str, dict[str, Any]]],
                   batch: int = 1, context: int = 2048, prompt_len: int = 2048,
                   tps: Sequence[int] = TPS) -> Figure:
    """Time per step and tokens/s per device against ``tp``, for decode and prefill.

    ``devices`` are ``(label, keywords)`` pairs passed to
    :func:`lib.parallel.tensor_parallel` (``device=`` and, e.g., ``link_bandwidth=``).
    Left: a decode step of ``batch`` sequences at ``context`` tokens; right: a prefill of
    ``batch`` prompts of ``prompt_len``; solid: time (left axis), dashed: tokens/s per
    device (right axis). Calibrated estimates.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> fig = scaling_figure("llama-3-8b", [("H100", {"device": "h100-sxm"})], tps=(1, 2))
    >>> len(fig.axes)
    4
    """
    fig, first = new_figure(9.0, 3.6)
    first.remove()
    axes = fig.subplots(1, 2)
    p = np.asarray(tps)
    for ax, (phase, new, cached) in zip(axes, (("decode step", 1, context),
                                               ("prefill", prompt_len, 0))):
        rx = ax.twinx()
        for color, (label, kw) in zip(COLORS, devices):
            kw = dict(kw)
            dev = kw.pop("device")
            s = parallel.tensor_parallel(model, dev, batch, new, cached, tps=p, **kw)
            ax.plot(p, s.time_s * 1e3, "-o", color=color, ms=4, label=f"{label}: time")
            rx.plot(p, s.tokens_per_s_per_device, "--s", color=color, ms=3,
                    label=f"{label}: tokens/s per GPU")
        ax.set_xscale("log", base=2)
        ax.set_xticks(p, [str(x) for x in p])
        ax.set_xlabel("tensor-parallel degree p (GPUs)")
        ax.set_ylabel("time (ms), solid")
        rx.set_ylabel("tokens/s per GPU, dashed")
        ax.set_ylim(bottom=0)
        rx.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{models.get(model).label}: {phase}", fontsize=10)
        if ax is axes[0]:
            ax.legend(loc="upper right", fontsize=7.5)
            rx.legend(loc="center right", fontsize=7.5)
    return fig
