"""Chapter 13's explorer and figures: a prefill's kernels, its attention mask and its chunks.

The explorer takes a model, a device, a prompt length, a batch, a fusion level, CUDA
graphs on or off, an attention mask and a chunk size. The left panel splits the prefill's
calibrated time at each fusion level into memory, math, per-kernel cost and host wait
(:func:`lib.prefill.step`), the chosen level outlined; the right panel draws the total
time of a chunked prefill against the chunk size (:func:`lib.prefill.chunked`), the
unchunked prefill as a line, the chosen chunk marked. The text gives the GEMMs' rows, the
bound, attention's share under the mask and what the mask saves, and where the model
stops being launch-bound.

Introduced in chapters/13_prefill_kernels.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from lib import fusion, hardware, inference, models, prefill, regimes
from lib.plotting import COLORS, new_figure
from lib.units import fmt_time
from lib.widgets import Control, Explorer, nice_ceiling
from lib.widgets.decode_kernels import FusionBars

__all__ = ["PrefillKernelsExplorer", "MASK_OPTIONS", "attention_intensity_figure",
           "chunk_figure", "fixed_share_figure"]

MODELS = ("llama-3-8b", "gpt2", "qwen2-7b", "llama-2-13b")
DEVICES = ("h100-sxm", "a100-sxm-80gb", "h200", "l4", "rtx-4090")
PROMPTS = (128, 2048, 32768)
BATCHES = (1, 8)
#: Mask option label -> keywords of :func:`lib.prefill.step`.
MASK_OPTIONS = {
    "dense causal": dict(mask="causal"),
    "window 4,096": dict(mask="sliding window", window=4096),
    "block-sparse 25%": dict(mask="block-sparse", density=0.25),
}
CHUNKS = (0, 512, 2048)


def _ms(v: float, _: Any = None) -> str:
    return "0" if v == 0 else fmt_time(v * 1e-3, 2)


# What the explorer shows for a setting, computed once per setting: moving one control
# (the chunk, the level) recomputes only what depends on it, and moving back costs nothing.
@lru_cache(maxsize=512)
def _levels(model: str, device: str, prompt: int, batch: int, cuda_graphs: bool,
            mask: str) -> dict[str, fusion.Step]:
    return {lv: prefill.step(model, device, batch, prompt, lv, cuda_graphs=cuda_graphs,
                             **MASK_OPTIONS[mask]) for lv in fusion.LEVELS}


@lru_cache(maxsize=2048)
def _chunked(model: str, device: str, prompt: int, chunk: int, batch: int, level: str,
             cuda_graphs: bool, mask: str) -> Any:
    return prefill.chunked(model, device, prompt, int(chunk), batch, level,
                           cuda_graphs=cuda_graphs, **MASK_OPTIONS[mask])


@lru_cache(maxsize=512)
def _chunk_curve(model: str, device: str, prompt: int, batch: int, level: str,
                 cuda_graphs: bool, mask: str) -> tuple[list[int], np.ndarray, float]:
    sizes = [int(c) for c in 2 ** np.arange(7, 16) if c <= prompt] or [prompt]
    runs = [_chunked(model, device, prompt, c, batch, level, cuda_graphs, mask) for c in sizes]
    return sizes, np.array([r.time_s for r in runs]) * 1e3, runs[0].whole_s * 1e3


@lru_cache(maxsize=512)
def _context(model: str, device: str, prompt: int, batch: int, level: str, cuda_graphs: bool,
             mask: str) -> tuple[Any, Any, Any, Any, Any]:
    m = models.get(model)
    return (prefill.attention(m, batch, prompt),
            prefill.attention(m, batch, prompt, **MASK_OPTIONS[mask]),
            inference.prefill(m, device, batch, prompt, cuda_graphs=cuda_graphs),
            regimes.shortest_compute_bound_prompt(m, device, batch),
            prefill.launch_bound_below(m, device, level, cuda_graphs=cuda_graphs, batch=batch))


class PrefillKernelsExplorer(Explorer):
    """Model, device, prompt, batch, fusion level, CUDA graphs, mask, chunk: a prefill's cost."""

    name = "prefill_kernels"
    title = "Prefill kernels: fusion, masks, launches and chunks"
    figsize = (9.6, 5.2)
    controls = (
        Control("model", "model", tuple((m, m) for m in MODELS), default=0, kind="dropdown",
                static=("llama-3-8b", "gpt2")),
        Control("device", "device", tuple((d, d) for d in DEVICES), default=0,
                kind="dropdown", static=("h100-sxm", "a100-sxm-80gb")),
        Control("prompt", "prompt length P", tuple((f"{p:,}", p) for p in PROMPTS),
                default=1),
        Control("batch", "batch B", tuple((str(b), b) for b in BATCHES), default=0,
                static=("1",)),
        Control("level", "fusion level", tuple((lv, lv) for lv in fusion.LEVELS), default=1,
                kind="dropdown", static=False),
        Control("cuda_graphs", "CUDA graphs", (("on", True), ("off", False)), default=0,
                kind="dropdown", static=False),
        Control("mask", "attention mask", tuple((k, k) for k in MASK_OPTIONS), default=0,
                kind="dropdown"),
        Control("chunk", "chunk (tokens)", tuple(("none" if c == 0 else f"{c:,}", c)
                                                 for c in CHUNKS), default=0, static=False),
    )

    def setup(self, fig: Figure) -> None:
        # a fixed layout: a constrained one would follow the previous frame's tick labels
        fig.set_layout_engine("none")
        grid = fig.add_gridspec(2, 2, width_ratios=(1.15, 1), height_ratios=(1.6, 1),
                                left=0.1, right=0.98, top=0.94, bottom=0.02, wspace=0.3,
                                hspace=0.42)
        sx = self.sx = fig.add_subplot(grid[0, 0])
        cx = self.cx = fig.add_subplot(grid[0, 1])
        head = fig.add_subplot(grid[1, :])
        head.axis("off")
        dyn = self.dynamic
        self.levels = FusionBars(sx, dyn, "one prefill, calibrated estimate",
                                 "a prefill's time at each fusion level", legend_y=-0.16)
        sx.xaxis.set_major_formatter(FuncFormatter(_ms))

        cx.set_xscale("log", base=2)
        cx.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        cx.set_xlabel("chunk (tokens)", fontsize=9)
        cx.set_ylabel("whole prompt, all chunks", fontsize=9)
        cx.yaxis.set_major_formatter(FuncFormatter(_ms))
        cx.grid(True, alpha=0.3)
        cx.set_title("chunked prefill: every chunk a forward", fontsize=10)
        self.chunk_line = dyn(cx.plot([], [], "-o", color=COLORS[0], ms=3, lw=1.5,
                                      label="chunked")[0])
        self.whole_line = dyn(cx.plot([], [], "--", color="0.4", lw=1.2,
                                      label="in one forward")[0])
        self.chunk_pt = dyn(cx.plot([], [], "o", color=COLORS[0], ms=10, mfc="none",
                                    mew=2)[0])
        cx.legend(fontsize=7.5, loc="upper right")
        self.info = dyn(head.text(0.0, 0.95, "", transform=head.transAxes, va="top",
                                  ha="left", fontsize=8.2, linespacing=1.35, family="monospace"))

    def update(self, *, model: str, device: str, prompt: int, batch: int, level: str,
               cuda_graphs: bool, mask: str, chunk: int, **_: Any) -> None:
        m, dev = models.get(model), hardware.get(device)
        steps = _levels(model, device, prompt, batch, cuda_graphs, mask)
        top = max(float(s.time_s) for s in steps.values()) * 1e3
        self.set_limits(self.sx, xlim=(0.0, nice_ceiling(top * 1.4)))
        self.levels.update(steps, level, 1e3, top)
        chosen = steps[level]

        sizes, t, whole = _chunk_curve(model, device, prompt, batch, level, cuda_graphs, mask)
        self.chunk_line.set_data(sizes, t)
        self.whole_line.set_data([sizes[0] / 1.5, sizes[-1] * 1.5], [whole, whole])
        self.set_limits(self.cx, xlim=(sizes[0] / 1.5, max(sizes[-1] * 1.5, 256)),
                        ylim=(0.0, nice_ceiling(max(t.max(), whole) * 1.15)))
        picked = (_chunked(model, device, prompt, chunk, batch, level, cuda_graphs, mask)
                  if chunk else None)
        if picked is not None and chunk < prompt:
            self.chunk_pt.set_data([chunk], [picked.time_s * 1e3])
        else:
            self.chunk_pt.set_data([], [])

        causal, att, est, edge, launch = _context(model, device, prompt, batch, level,
                                                  cuda_graphs, mask)
        beyond = (f" (beyond its {m.max_context:,}-token context)"
                  if prompt > m.max_context else "")
        share = float(att.flops) / float(chosen.flops)
        saved = 1 - float(att.flops) / float(causal.flops)
        p = chosen.parts
        total = float(chosen.time_s)
        chunk_line = ("chunk: none (one forward)" if not chunk else
                      f"chunk of {chunk:,} >= the prompt: one forward" if chunk >= prompt else
                      f"chunks of {chunk:,}: {picked.n_chunks} forwards, "
                      f"{fmt_time(picked.time_s)} ({picked.overhead:+.0%}; "
                      f"{picked.overhead_logits_once:+.0%} with logits only at the end), "
                      f"{picked.kv_reread / 1e9:.1f} GB of earlier KV re-read")
        self.info.set_text("\n".join([
            f"{m.label} on {dev.short_label}: B={batch}, P={prompt:,}{beyond}",
            f"GEMMs of M = B*P = {batch * prompt:,} rows: {est.bound}-bound "
            f"(compute-bound from P = {edge:,.0f} at this batch)",
            f"'{level}', graphs {'on' if cuda_graphs else 'off'}: {chosen.n_kernels} kernels, "
            f"{fmt_time(total)} = " + ", ".join(f"{k} {float(p[k]) / total:.0%}"
                                                for k in fusion.PARTS),
            ("never launch-bound at this level: fixed costs under half the time even at P = 1"
             if launch == 0 else f"launch-bound (fixed costs >= half) up to P = {launch:,.0f} "
                                 "at this level" + (" (its whole context)"
                                                    if launch >= m.max_context else "")),
            f"attention ({mask}): {share:.0%} of the FLOPs, {saved:.0%} fewer than dense causal;"
            f" {float(att.intensity):,.0f} FLOP/B",
            chunk_line,
        ]))


# --- the chapter's static figures ----------------------------------------------------------

def attention_intensity_figure(model: Any, device: Any,
                               prompts: Sequence[int] = tuple(2 ** np.arange(6, 16))) -> Figure:
    """Attention's arithmetic intensity against the prompt: fused, fused and tiled, unfused.

    The device's ridge point is the horizontal line: above it attention is compute-bound.

    Examples
    --------
    >>> fig = attention_intensity_figure("llama-3-8b", "h100-sxm", prompts=(128, 1024))
    >>> len(fig.axes[0].lines)
    4
    """
    m, dev = models.get(model), hardware.get(device)
    P = np.asarray(prompts)
    fig, ax = new_figure(6.4, 3.6)
    cases = (("FlashAttention: K, V read once", dict(), COLORS[0]),
             ("FlashAttention, K, V re-read per 128-row tile", dict(tile_q=128), COLORS[1]),
             ("unfused: the P x P scores through memory", dict(fused=False), COLORS[3]))
    for label, kw, color in cases:
        ax.plot(P, prefill.attention(m, 1, P, **kw).intensity, "-o", ms=3, color=color,
                label=label)
    ridge = dev.peak("bf16") / dev.memory_bandwidth
    ax.axhline(ridge, color="0.3", ls="--", lw=1)
    ax.text(P[0], ridge * 1.15, f"ridge of {dev.short_label}: {ridge:.0f} FLOP/B", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("prompt length P (tokens), batch 1")
    ax.set_ylabel("attention's intensity (FLOP/byte)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left")
    ax.set_title(f"{m.label}: attention on the roofline as the prompt grows", fontsize=10)
    return fig


def chunk_figure(cases: Sequence[tuple[str, str]], prompt_len: int,
                 chunks: Sequence[int] = tuple(2 ** np.arange(6, 14))) -> Figure:
    """A chunked prefill's total time over the unchunked one, against the chunk size.

    ``cases`` are ``(model, device)``; each case is a solid line, in % above one forward,
    every chunk computing its last token's logits as :func:`lib.prefill.chunked` prices it,
    and a dashed one with logits only after the last chunk
    (:attr:`lib.prefill.Chunked.overhead_logits_once`).

    Examples
    --------
    >>> fig = chunk_figure([("llama-3-8b", "h100-sxm")], 2048, chunks=(256, 1024))
    >>> len(fig.axes[0].lines)
    2
    """
    fig, ax = new_figure(6.4, 3.4)
    c = [k for k in chunks if k < prompt_len]
    for i, (model, device) in enumerate(cases):
        runs = [prefill.chunked(model, device, prompt_len, int(k)) for k in c]
        ax.plot(c, [r.overhead * 100 for r in runs], "-o", ms=3, color=COLORS[i],
                label=f"{models.get(model).label} on {hardware.get(device).short_label} "
                      f"(compute-bound from {regimes.shortest_compute_bound_prompt(model, device):,.0f})")
        ax.plot(c, [r.overhead_logits_once * 100 for r in runs], "--", lw=1, color=COLORS[i])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    ax.set_xlabel("chunk (tokens)")
    ax.set_ylabel("time above one forward (%)")
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], ls="--", lw=1, color="0.4",
                          label="dashed: logits only after the last chunk"))
    ax.legend(handles=handles, fontsize=7.5)
    ax.set_title(f"Chunked prefill of {prompt_len:,} tokens: what chunks cost", fontsize=10)
    return fig


def fixed_share_figure(cases: Sequence[tuple[str, str]],
                       prompts: Sequence[int] = tuple(2 ** np.arange(0, 14)),
                       level: str = "merged GEMMs") -> Figure:
    """The share of a prefill's time that is fixed cost per kernel, against the prompt.

    ``cases`` are ``(model, device)``; each is drawn eagerly (solid) and as a CUDA graph
    (dashed), up to the model's context. Above the 50% line a prefill is launch-bound (:func:`lib.prefill.fixed_share`).

    Examples
    --------
    >>> fig = fixed_share_figure([("gpt2", "h100-sxm")], prompts=(1, 64))
    >>> len(fig.axes[0].lines)
    3
    """
    P = np.asarray(prompts)
    fig, ax = new_figure(6.4, 4.0)
    for i, (model, device) in enumerate(cases):
        m, dev = models.get(model), hardware.get(device)
        Pm = P[P <= m.max_context]                 # only prompts the model accepts
        for graphs, style in ((False, "-"), (True, "--")):
            share = prefill.fixed_share(prefill.step(m, dev, 1, Pm, level, cuda_graphs=graphs))
            ax.plot(Pm, np.asarray(share) * 100, style, color=COLORS[i], lw=1.6,
                    label=f"{m.label}, {dev.short_label}, {'graph' if graphs else 'eager'}")
    ax.axhline(50, color="0.3", lw=1, ls=":")
    ax.text(P[-1], 52, "launch-bound above", ha="right", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_ylim(0, 100)
    ax.set_xlabel("prompt length P (tokens), batch 1")
    ax.set_ylabel("per-kernel cost + host wait (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              frameon=False)
    ax.set_title(f"Fixed costs of a prefill at '{level}'", fontsize=10)
    return fig
