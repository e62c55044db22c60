"""Chapter 12's explorer and figures: speculative decoding's speed-up against the draft length.

The explorer fixes a target that fits one device with room for a draft (Llama-3-70B in
BF16 on a B200) and lets the reader pick the acceptance rate, the draft (a cost ratio, or
Llama-3-8B on the same device), the batch and the context. It draws the speed-up for
draft lengths 1 to 8 with the best one marked, Leviathan et al.'s formula beside it (the
verification priced as one step), and each length's time per token split into the draft's
share and the verification's. Every number comes from :func:`lib.speculative.speculate`.

The figure functions draw the chapter's static plots from the same module.

Introduced in chapters/12_speculative_decoding.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lib import speculative as sp
from lib.plotting import COLORS, new_figure
from lib.widgets import Control, Explorer

__all__ = ["SpeculativeExplorer", "batch_figure", "tree_figure"]

TARGET, DEVICE, DRAFT_MODEL = "llama-3-70b", "b200", "llama-3-8b"
GAMMAS = np.arange(1, 9)
ALPHAS = (0.5, 0.6, 0.7, 0.8, 0.9)
#: Draft options: label -> keywords of :func:`lib.speculative.speculate`.
DRAFTS = (("c = 0 (a lookup, n-gram)", {"draft_cost": 0.0}),
          ("c = 0.05", {"draft_cost": 0.05}),
          ("c = 0.2", {"draft_cost": 0.2}),
          (f"{DRAFT_MODEL} on the same {DEVICE}", {"draft_model": DRAFT_MODEL}))
BATCHES = (1, 8, 64, 256)
CONTEXTS = (1024, 8192)
SPEED_MAX = 8.5          # the speed-up axis (the curves stay under 6.2)
SHARE_MAX = 2.0          # time per token over plain decode's: bars stop there
SHARE_AXIS = 2.35        # room above them for the legend


class SpeculativeExplorer(Explorer):
    """Acceptance rate, draft, batch and context: speed-up against draft length, and its cost."""

    name = "speculative"
    title = f"Speculative decoding: {TARGET} on one {DEVICE}"
    figsize = (9.4, 4.6)
    controls = (
        Control("alpha", "acceptance rate α", tuple((f"{a:.1f}", a) for a in ALPHAS),
                default=3),
        Control("draft", "draft", tuple((lab, i) for i, (lab, _) in enumerate(DRAFTS)),
                default=3, kind="dropdown"),
        Control("batch", "batch (sequences)", tuple((str(b), b) for b in BATCHES), default=0),
        Control("context", "context (tokens cached)", tuple((f"{c:,}", c) for c in CONTEXTS),
                default=0, static=("1,024",)),
    )

    def setup(self, fig: Figure) -> None:
        grid = fig.add_gridspec(2, 2, width_ratios=(1.15, 1), height_ratios=(0.13, 1))
        head = fig.add_subplot(grid[0, :])
        head.axis("off")
        ax, bx = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
        self.ax, self.bx = ax, bx
        ax.set_xlim(0.5, 8.5)
        ax.set_ylim(0, SPEED_MAX)
        ax.set_xticks(GAMMAS)
        ax.set_xlabel("draft tokens per verification, γ")
        ax.set_ylabel("speed-up over plain decode")
        ax.axhline(1, color="0.4", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
        self.model_line = self.dynamic(ax.plot(GAMMAS, GAMMAS * 0.0, "-o", ms=4,
                                               color=COLORS[0], label="cost model")[0])
        self.paper_line = self.dynamic(ax.plot(GAMMAS, GAMMAS * 0.0, "--", color=COLORS[1],
                                               label="Leviathan et al. (verify = 1 step)")[0])
        self.best = self.dynamic(ax.plot([1], [1], "*", ms=16, color=COLORS[3],
                                         label="best γ")[0])
        ax.legend(loc="upper left", fontsize=8)
        self.info = self.dynamic(head.text(0.5, 0.5, "\n", transform=head.transAxes,
                                           ha="center", va="center", fontsize=9))
        bx.set_xlim(0.5, 8.5)
        bx.set_ylim(0, SHARE_AXIS)
        bx.set_xticks(GAMMAS)
        bx.set_xlabel("draft tokens per verification, γ")
        bx.set_ylabel("time per token ÷ plain decode's")
        bx.axhline(1, color="0.3", lw=1.0, label="plain decode")
        bx.grid(alpha=0.3, axis="y")
        self.verify_bars = bx.bar(GAMMAS, np.zeros(8), 0.7, color=COLORS[0],
                                  label="verification")
        self.draft_bars = bx.bar(GAMMAS, np.zeros(8), 0.7, color=COLORS[2], label="draft")
        for bar in (*self.verify_bars, *self.draft_bars):
            self.dynamic(bar)
        bx.legend(loc="upper center", fontsize=8, ncol=3)

    def update(self, alpha: float, draft: int, batch: int, context: int) -> None:
        kw: dict[str, Any] = dict(DRAFTS[draft][1])
        s = sp.speculate(TARGET, DEVICE, alpha, GAMMAS, batch=batch, context=context, **kw)
        speed = np.asarray(s.speedup)
        self.model_line.set_ydata(np.minimum(speed, SPEED_MAX))
        if "draft_cost" in kw:
            c = np.full(GAMMAS.shape, kw["draft_cost"])
        else:                           # the draft model's own ratio, step for step
            c = np.asarray(s.draft_time_s) / GAMMAS / np.asarray(s.baseline_step_s)
        self.paper_line.set_ydata(np.minimum(sp.leviathan_speedup(alpha, GAMMAS, c),
                                             SPEED_MAX))
        i = int(np.argmax(speed))
        self.best.set_data([GAMMAS[i]], [min(speed[i], SPEED_MAX)])
        per_token = np.asarray(s.time_per_token_s) / np.asarray(s.baseline_step_s)
        draft_share = per_token * np.asarray(s.draft_time_s) / np.asarray(s.step_time_s)
        verify_share = per_token - draft_share
        for vb, db, v, d in zip(self.verify_bars, self.draft_bars, verify_share, draft_share):
            vb.set_height(min(v, SHARE_MAX))
            db.set_y(min(v, SHARE_MAX))
            db.set_height(max(min(v + d, SHARE_MAX) - min(v, SHARE_MAX), 0.0))
        verdict = ("pays" if speed[i] > 1 else "does not pay: decode plainly")
        self.info.set_text(
            f"best γ = {GAMMAS[i]}: speed-up {speed[i]:.2f}× ({verdict}); "
            f"{s.expected_tokens_per_step[i]:.2f} tokens per verification\n"
            f"verifying {GAMMAS[i] + 1} tokens costs {s.verify_ratio[i]:.2f} decode steps "
            f"(batch {batch}, context {context:,}; calibrated estimate)")


def batch_figure(model: str, device: str, alpha: float, gamma: int,
                 batches: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
                 contexts: Sequence[int] = (128, 1024, 8192), **draft: Any) -> Figure:
    """Speed-up (solid) and the verification's cost in decode steps (dashed) against the
    batch, one colour per context; open markers where the batch does not fit the device.

    Introduced in chapters/12_speculative_decoding.ipynb.
    """
    b = np.asarray(batches)
    fig, ax = new_figure(7.6, 3.8)
    for color, ctx in zip(COLORS, contexts):
        s = sp.speculate(model, device, alpha, gamma, batch=b, context=ctx, **draft)
        fits = np.asarray(s.fits, bool)
        speed, ratio = np.asarray(s.speedup), np.asarray(s.verify_ratio)
        ax.plot(b, speed, "-", color=color, label=f"speed-up, context {ctx:,}")
        ax.plot(b, ratio, "--", color=color, lw=1)
        ax.plot(b[fits], speed[fits], "o", color=color, ms=4)
        ax.plot(b[~fits], speed[~fits], "o", mfc="white", color=color, ms=4)
    ax.plot([], [], "--", color="0.4", lw=1, label=f"verifying {gamma + 1} tokens ÷ one step")
    ax.plot([], [], "o", mfc="white", color="0.4", ms=4, label="does not fit the device")
    ax.set_xscale("log")
    ax.axhline(1, color="0.4", lw=0.8, ls=":")
    ax.set_xticks(b, [str(x) for x in b])
    ax.set_xlabel("batch (sequences)")
    ax.set_ylabel("ratio")
    ax.set_title(f"{model} on {device}, α = {alpha}, γ = {gamma}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left")
    return fig


def tree_figure(parents: Any, probs: Any, labels: Sequence[str] | None = None) -> Figure:
    """A token tree drawn by depth, each node shaded by the probability its path is accepted.

    Introduced in chapters/12_speculative_decoding.ipynb.
    """
    p = np.asarray(parents)
    depth = sp.tree_depths(p)
    path = sp.path_probs(p, probs)
    fig, ax = new_figure(7.6, 3.4)
    xs = np.zeros(p.size)
    for d in range(1, depth.max() + 1):        # each depth ordered by its parents' places
        idx = np.flatnonzero(depth == d)
        under = np.array([0.5 if p[i] < 0 else xs[p[i]] for i in idx])
        idx = idx[np.lexsort((idx, under))]
        xs[idx] = np.linspace(0, 1, idx.size + 2)[1:-1] if idx.size > 1 else 0.5
    ax.scatter([0.5], [0], s=60, color="0.2", zorder=3)
    for i, parent in enumerate(p):
        x0, y0 = (0.5, 0) if parent < 0 else (xs[parent], depth[parent])
        ax.plot([x0, xs[i]], [y0, depth[i]], color="0.75", lw=0.7, zorder=1)
    sc = ax.scatter(xs, depth, c=path, cmap="viridis", vmin=0, vmax=max(path.max(), 1e-9),
                    s=45, zorder=2, edgecolors="0.3", linewidths=0.4)
    if labels is not None:
        for x, y, lab in zip(xs, depth, labels):
            ax.annotate(lab, (x, y), xytext=(0, 6), textcoords="offset points", ha="center",
                        fontsize=6)
    fig.colorbar(sc, ax=ax, label="P(path to node accepted)")
    ax.set_ylim(depth.max() + 0.5, -0.5)
    ax.set_yticks(range(depth.max() + 1),
                  ["root"] + [f"depth {d}" for d in range(1, depth.max() + 1)])
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return fig
