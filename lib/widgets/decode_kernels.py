"""Chapter 11's explorer and figures: split-KV attention's occupancy, and a step's kernels.

The explorer takes a model, a device, a batch, a context, a split count (or "auto", the
best by :func:`lib.occupancy.best_splits`), a fusion level and CUDA graphs on or off. The
left panels draw, against the split count, the share of the SMs the decode-attention
kernel keeps busy and the attention's time in one step (:func:`lib.occupancy.split_kv`),
with the chosen split and FlashAttention-2's marked. The right panel splits the step's
calibrated time at each fusion level into memory, math, per-kernel cost and host wait
(:func:`lib.fusion.step`), the chosen level outlined.

Introduced in chapters/11_decode_kernels.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from lib import fusion, hardware, models, occupancy
from lib.plotting import COLORS, new_figure
from lib.units import fmt_time
from lib.widgets import Control, Explorer, nice_ceiling

__all__ = ["DecodeKernelsExplorer", "FusionBars", "occupancy_figure", "fusion_figure", "PART_COLORS"]

MODELS = ("llama-3-8b", "gpt2", "qwen2-7b", "llama-2-13b")
DEVICES = tuple(n for n in hardware.names() if hardware.get(n).sm_count is not None
                and "bf16" in hardware.get(n).peak_flops)
BATCHES = (1, 4, 16, 32, 64)
CONTEXTS = (1024, 8192, 32768)
SPLITS = tuple(2 ** i for i in range(8))             # 1 ... 128
#: A colour for each of :data:`lib.fusion.PARTS`.
PART_COLORS = dict(zip(fusion.PARTS, (COLORS[0], COLORS[2], COLORS[5], "0.75")))


def _us(v: float, _: Any = None) -> str:
    """A tick label for a value in µs: "0" at the origin, else ns, µs, ms or s."""
    return "0" if v == 0 else fmt_time(v * 1e-6, 2)


class FusionBars:
    """The panel both kernel explorers draw: a forward's calibrated time at each fusion level,
    split into :data:`lib.fusion.PARTS`, with its kernel count and the chosen level framed.

    Introduced in chapters/11_decode_kernels.ipynb.
    """

    def __init__(self, ax: Any, dynamic: Any, xlabel: str, title: str, legend_y: float) -> None:
        n = len(fusion.LEVELS)
        ax.set_ylim(-0.6, n - 0.4)
        ax.set_yticks(range(n), [lv.replace(" ", "\n") for lv in reversed(fusion.LEVELS)],
                      fontsize=8)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_title(title, fontsize=10)
        self.bars = {lv: [dynamic(ax.barh([n - 1 - i], [0.0], left=0.0, height=0.6,
                                          color=PART_COLORS[part])[0])
                          for part in fusion.PARTS]
                     for i, lv in enumerate(fusion.LEVELS)}
        self.frame = dynamic(ax.barh([0], [0.0], height=0.78, fill=False, edgecolor="black",
                                     lw=1.8)[0])
        self.kernel_labels = [dynamic(ax.text(0, n - 1 - i, "", va="center", ha="left",
                                              fontsize=7.5)) for i in range(n)]
        ax.legend(handles=self.bars[fusion.LEVELS[0]], labels=list(fusion.PARTS),
                  loc="upper center", bbox_to_anchor=(0.5, legend_y), ncol=4, fontsize=7.5,
                  frameon=False, handlelength=1.0)

    def update(self, steps: "dict[str, fusion.Step]", level: str, scale: float,
               top: float) -> None:
        """Bars of ``steps`` (one :class:`lib.fusion.Step` per level) in ``scale`` units of a
        second (1e6 for µs), kernel counts after them, ``level`` framed; ``top`` is the axis's
        largest time in those units."""
        n = len(fusion.LEVELS)
        for i, lv in enumerate(fusion.LEVELS):
            left = 0.0
            for part, bar in zip(fusion.PARTS, self.bars[lv]):
                w = float(steps[lv].parts[part]) * scale
                bar.set_x(left)
                bar.set_width(w)
                left += w
            self.kernel_labels[i].set_position((left + top * 0.02, n - 1 - i))
            self.kernel_labels[i].set_text(f"{steps[lv].n_kernels} kernels")
        self.frame.set_y(n - 1 - fusion.LEVELS.index(level) - 0.39)
        self.frame.set_width(float(steps[level].time_s) * scale)


class DecodeKernelsExplorer(Explorer):
    """Model, device, batch, context, splits, fusion level, CUDA graphs: a step's kernels."""

    name = "decode_kernels"
    title = "Decode kernels: split-KV occupancy and fusion"
    figsize = (9.6, 5.0)
    controls = (
        Control("model", "model", tuple((m, m) for m in MODELS), default=0, kind="dropdown",
                static=("llama-3-8b", "gpt2")),
        Control("device", "device", tuple((n, n) for n in DEVICES),
                default=DEVICES.index("h100-sxm"), kind="dropdown",
                static=("h100-sxm", "a100-sxm-80gb")),
        Control("batch", "batch (sequences)", tuple((str(b), b) for b in BATCHES), default=0,
                static=("1", "32")),
        Control("context", "context (tokens cached)", tuple((f"{c:,}", c) for c in CONTEXTS),
                default=1),
        Control("splits", "KV splits", (("auto", "auto"),) + tuple((str(s), s) for s in SPLITS),
                default=0, static=("auto",)),
        Control("level", "fusion level", tuple((lv, lv) for lv in fusion.LEVELS), default=1,
                kind="dropdown", static=False),
        Control("cuda_graphs", "CUDA graphs", (("on", True), ("off", False)), default=0,
                kind="dropdown"),
    )

    def setup(self, fig: Figure) -> None:
        grid = fig.add_gridspec(3, 2, width_ratios=(1, 1.15), height_ratios=(1, 1, 1.1))
        ox = self.ox = fig.add_subplot(grid[0, 0])
        tx = self.tx = fig.add_subplot(grid[1, 0], sharex=ox)
        sx = self.sx = fig.add_subplot(grid[0:2, 1])
        head = fig.add_subplot(grid[2, :])
        head.axis("off")
        dyn = self.dynamic
        for ax in (ox, tx):
            ax.set_xscale("log", base=2)
            ax.set_xlim(0.8, 160)
            ax.grid(True, alpha=0.3)
        ox.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ox.tick_params(labelbottom=False)
        ox.set_ylim(0, 105)
        ox.set_ylabel("SMs busy (%)", fontsize=9)
        ox.set_title("split-KV attention: occupancy and time", fontsize=10)
        tx.set_yscale("log")
        tx.yaxis.set_major_formatter(FuncFormatter(_us))
        tx.set_xlabel("KV splits per (sequence, KV head)", fontsize=9)
        tx.set_ylabel("attention, one step", fontsize=9)
        self.busy_line = dyn(ox.plot([], [], "-o", color=COLORS[1], ms=3, lw=1.5)[0])
        self.busy_pt = dyn(ox.plot([], [], "o", color=COLORS[1], ms=10, mfc="none", mew=2)[0])
        self.time_line = dyn(tx.plot([], [], "-o", color=COLORS[0], ms=3, lw=1.5)[0])
        self.red_line = dyn(tx.plot([], [], ":", color="0.4", lw=1.2)[0])
        self.time_pt = dyn(tx.plot([], [], "o", color=COLORS[0], ms=10, mfc="none", mew=2)[0])
        self.fa2_pt = dyn(tx.plot([], [], "^", color=COLORS[3], ms=8)[0])
        head.legend([self.busy_line, self.time_line, self.red_line, self.fa2_pt],
                    ["SMs busy", "attention time", "of which the reduction",
                     "FlashAttention-2's choice"], fontsize=7.5, loc="upper right", ncol=2,
                    frameon=False, title="left panels", title_fontsize=7.5)

        self.levels = FusionBars(sx, dyn, "one decode step, calibrated estimate",
                                 "a step's time at each fusion level", legend_y=-0.13)
        sx.xaxis.set_major_formatter(FuncFormatter(_us))
        self.info = dyn(head.text(0.0, 0.92, "", transform=head.transAxes, va="top",
                                  ha="left", fontsize=8.2, linespacing=1.35, family="monospace"))

    def update(self, *, model: str, device: str, batch: int, context: int, splits: Any,
               level: str, cuda_graphs: bool, **_: Any) -> None:
        m, dev = models.get(model), hardware.get(device)
        s_all = np.array(SPLITS)
        sweep = occupancy.split_kv(m, dev, batch, context, s_all)
        best = occupancy.best_splits(m, dev, batch, context)
        chosen = best if splits == "auto" else int(splits)
        one = occupancy.split_kv(m, dev, batch, context, [1, chosen])
        t_us = np.asarray(sweep.time_s) * 1e6
        self.busy_line.set_data(s_all, np.asarray(sweep.busy) * 100)
        self.time_line.set_data(s_all, t_us)
        red = np.asarray(sweep.reduce_time_s) * 1e6
        self.red_line.set_data(s_all, np.where(red > 0, red, np.nan))   # none unsplit
        shown = np.concatenate([t_us, red[red > 0]])
        lo = 10.0 ** np.floor(np.log10(shown.min() * 0.8))
        self.set_limits(self.tx, ylim=(lo, max(10.0 ** np.ceil(np.log10(shown.max() * 1.25)),
                                               lo * 1e3)))
        self.busy_pt.set_data([chosen], [float(one.busy[1]) * 100])
        self.time_pt.set_data([chosen], [float(one.time_s[1]) * 1e6])
        fa2 = occupancy.flash_attention2_splits(int(batch * m.n_kv_heads), sweep.sm_count,
                                                int(context) + 1, m.head_dim)
        self.fa2_pt.set_data([fa2], [float(occupancy.split_kv(m, dev, batch, context,
                                                              fa2).time_s) * 1e6])

        steps = {lv: fusion.step(m, dev, batch, context, lv, cuda_graphs=cuda_graphs)
                 for lv in fusion.LEVELS}
        top = max(float(s.time_s) for s in steps.values()) * 1e6
        self.set_limits(self.sx, xlim=(0.0, nice_ceiling(top * 1.35)))
        self.levels.update(steps, level, 1e6, top)
        chosen_step = steps[level]

        gain = float(one.time_s[0] / one.time_s[1])
        p = chosen_step.parts
        total = float(chosen_step.time_s)
        beyond = (f" (beyond its {m.max_context:,}-token context)"
                  if context > m.max_context else "")
        self.info.set_text("\n".join([
            f"{m.label} on {dev.short_label} ({sweep.sm_count} SMs): batch {batch}, "
            f"{context:,} tokens cached{beyond}",
            f"attention unsplit: {int(one.blocks[0])} blocks, {float(one.busy[0]):.0%} of the SMs "
            f"busy, {fmt_time(float(one.time_s[0]))} per step",
            f"{chosen} splits{' (auto: the fastest)' if splits == 'auto' else ''}: "
            f"{int(one.blocks[1])} blocks in {int(one.waves[1])} wave(s), "
            f"{float(one.busy[1]):.0%} busy, {fmt_time(float(one.time_s[1]))} ({gain:.2f}x)",
            f"  of which the reduction {fmt_time(float(one.reduce_time_s[1]))}; "
            f"FlashAttention-2 would pick {fa2}",
            f"step at '{level}', CUDA graphs {'on' if cuda_graphs else 'off'}: "
            f"{chosen_step.n_kernels} kernels, {fmt_time(total)}",
            "  = " + ", ".join(f"{k} {float(p[k]) / total:.0%}" for k in fusion.PARTS),
        ]))


# --- the chapter's static figures ----------------------------------------------------------

def occupancy_figure(model: Any, device: Any, contexts: Sequence[int] = (1024, 8192, 32768),
                     batch: int = 1, splits: Sequence[int] = SPLITS) -> Figure:
    """SMs busy and attention time against the split count, one line per context.

    Examples
    --------
    >>> fig = occupancy_figure("llama-3-8b", "h100-sxm", contexts=(1024,))
    >>> len(fig.axes)
    2
    """
    m, dev = models.get(model), hardware.get(device)
    s = np.asarray(splits)
    fig, first = new_figure(8.0, 3.4)
    fig.delaxes(first)
    left, right = fig.subplots(1, 2)
    for j, c in enumerate(contexts):
        r = occupancy.split_kv(m, dev, batch, c, s)
        best = occupancy.best_splits(m, dev, batch, c)
        b = occupancy.split_kv(m, dev, batch, c, best)
        color = COLORS[j % len(COLORS)]
        left.plot(s, np.asarray(r.busy) * 100, "-o", ms=3, color=color, label=f"{c:,} tokens")
        right.plot(s, np.asarray(r.time_s) * 1e6, "-o", ms=3, color=color,
                   label=f"{c:,} tokens (best: {best} splits)")
        right.plot([best], [float(b.time_s) * 1e6], "o", ms=10, mfc="none", mec=color, mew=2)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("KV splits per (sequence, KV head)")
        ax.grid(True, alpha=0.3)
    left.set_ylim(0, 105)
    left.set_ylabel("SMs busy (%)")
    left.set_title(f"{int(batch * m.n_kv_heads)} blocks unsplit, {dev.sm_count} SMs",
                   fontsize=10)
    right.set_yscale("log")
    right.yaxis.set_major_formatter(FuncFormatter(_us))
    right.set_ylabel("attention time, one step")
    right.set_title("time: occupancy, then the reduction", fontsize=10)
    right.legend(fontsize=7.5)
    fig.suptitle(f"{m.label} on {dev.short_label}, batch {batch}: splitting the KV cache",
                 fontsize=10)
    return fig


def fusion_figure(cases: Sequence[tuple[str, int, int]], device: Any,
                  cuda_graphs: Sequence[bool] = (False, True)) -> Figure:
    """Each case's step at every fusion level, eager and as a CUDA graph, split into parts.

    ``cases`` are ``(model, batch, context)``; times are relative to the case's unfused
    eager step, so that a small and a large model share one axis.

    Examples
    --------
    >>> fig = fusion_figure([("gpt2", 1, 1024)], "h100-sxm")
    >>> len(fig.axes[0].patches) == 4 * 3 * 2
    True
    """
    dev = hardware.get(device)
    fig, ax = new_figure(7.6, 1.0 + 0.95 * len(cases) * len(cuda_graphs))
    y, ticks, labels = 0.0, [], []
    for model, batch, context in reversed(list(cases)):
        m = models.get(model)
        base = float(fusion.step(m, dev, batch, context, fusion.LEVELS[0],
                                 cuda_graphs=False).time_s)
        for g in reversed(list(cuda_graphs)):
            for lv in reversed(fusion.LEVELS):
                st = fusion.step(m, dev, batch, context, lv, cuda_graphs=g)
                left = 0.0
                for part in fusion.PARTS:
                    w = float(st.parts[part]) / base * 100
                    ax.barh(y, w, left=left, height=0.75, color=PART_COLORS[part],
                            label=part if y == 0 else None)
                    left += w
                ax.text(left + 1, y, f"{st.n_kernels} kernels, {fmt_time(float(st.time_s))}",
                        va="center", fontsize=7)
                ticks.append(y)
                labels.append(f"{lv}, {'graph' if g else 'eager'}")
                y += 1
            y += 0.4
        ax.text(-2, y - 0.55, f"{m.label}, batch {batch}, {context:,} cached", ha="right",
                fontsize=8, weight="bold")
        y += 0.9
    ax.set_yticks(ticks, labels, fontsize=7.5)
    ax.set_xlim(0, 135)
    ax.set_xlabel("% of the unfused, eager step")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=7.5, ncol=4,
              frameon=False)
    ax.set_title(f"Fusion and CUDA graphs on {dev.short_label}: what goes, what stays",
                 fontsize=10, pad=20)
    return fig
