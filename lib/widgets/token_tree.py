"""Chapter 12's second explorer: how big a token tree pays, at each batch.

Medusa's five heads on Vicuna-7B's shapes (those of Llama-2-7B) propose a tree; the
explorer keeps its ``n`` most likely nodes (:func:`lib.speculative.best_subtree`) for every
``n`` from 1 to 38 and draws, against ``n``, what the tree yields (tokens per verification,
``τ``), what its verification costs (in plain decode steps) and the speed-up, with the
best size starred and the chosen size marked. The reader picks the size to read off, the
batch, the context and the device. Every number comes from
:func:`lib.speculative.tree_sizes`.

Introduced in chapters/12_speculative_decoding.ipynb.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure

from lib import speculative as sp
from lib.plotting import COLORS
from lib.widgets import Control, Explorer

__all__ = ["TokenTreeExplorer", "sweep"]

MODEL = "llama-2-7b"
SIZES = (1, 2, 4, 8, 16, 24, 38)
BATCHES = (1, 4, 16, 64)
CONTEXTS = (1024, 8192)
DEVICES = (("H100 SXM", "h100-sxm"), ("A100 SXM 80GB", "a100-sxm-80gb"))
TOKENS_MAX = 4.0         # the left panel's axis: τ stays under 2.4, verification steps clip
SPEED_MAX = 2.6          # the right panel's axis (speed-ups stay under 2.2)


@lru_cache(maxsize=32)
def sweep(device: str, batch: int, context: int) -> sp.TreeSizes:
    """Every size of Medusa's tree at one device, batch and context (cached).

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> t = sweep("h100-sxm", 1, 1024)
    >>> t.sizes.size, t.best_size
    (38, 38)
    """
    parents, probs = sp.medusa_tree_7b()
    return sp.tree_sizes(MODEL, device, parents, probs, sp.medusa_heads_bytes(MODEL),
                         batch=batch, context=context)


class TokenTreeExplorer(Explorer):
    """Tree size, batch, context and device: what a Medusa tree yields, costs and gains."""

    name = "token_tree"
    title = f"Token trees: Medusa's heads on {MODEL}'s shapes"
    figsize = (9.4, 4.4)
    controls = (
        Control("size", "tree size (nodes)", tuple((str(n), n) for n in SIZES), default=6,
                static=("1", "4", "16", "38")),
        Control("batch", "batch (sequences)", tuple((str(b), b) for b in BATCHES), default=0),
        Control("context", "context (tokens cached)", tuple((f"{c:,}", c) for c in CONTEXTS),
                default=0),
        Control("device", "device", DEVICES, default=0, kind="dropdown"),
    )

    def setup(self, fig: Figure) -> None:
        grid = fig.add_gridspec(2, 2, height_ratios=(0.14, 1))
        head = fig.add_subplot(grid[0, :])
        head.axis("off")
        ax, bx = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
        self.ax, self.bx = ax, bx
        n = np.arange(1, 39)
        for a in (ax, bx):
            a.set_xlim(0, 39)
            a.set_xticks((1, 4, 8, 16, 24, 32, 38))
            a.set_xlabel("tree size n (draft tokens verified per step)")
            a.grid(alpha=0.3)
            a.axhline(1, color="0.4", lw=0.8, ls=":")
        ax.set_ylim(0, TOKENS_MAX)
        ax.set_ylabel("tokens, or decode steps")
        ax.set_title("what a verification yields and costs", fontsize=10)
        self.tau_line = self.dynamic(ax.plot(n, n * 0.0, "-", color=COLORS[0],
                                             label="τ: tokens per verification")[0])
        cost_label = f"verification ÷ one decode step (cut at {TOKENS_MAX:g})"
        self.cost_line = self.dynamic(ax.plot(n, n * 0.0, "-", color=COLORS[1],
                                              label=cost_label)[0])
        ax.legend(loc="upper left", fontsize=8)
        bx.set_ylim(0, SPEED_MAX)
        bx.set_ylabel("speed-up over plain decode")
        bx.set_title("speed-up = τ ÷ (verification + heads), in steps", fontsize=10)
        self.speed_line = self.dynamic(bx.plot(n, n * 0.0, "-", color=COLORS[2],
                                               label="speed-up")[0])
        self.best = self.dynamic(bx.plot([1], [1], "*", ms=15, color=COLORS[3],
                                         label="best size")[0])
        self.chosen = self.dynamic(bx.plot([1], [1], "o", ms=8, mfc="white", mew=1.5,
                                           color="0.2", label="chosen size")[0])
        self.marks = [self.dynamic(a.axvline(1, color="0.5", lw=0.8, ls="--")) for a in (ax, bx)]
        bx.legend(loc="lower left", fontsize=8)
        self.info = self.dynamic(head.text(0.5, 0.5, "\n", transform=head.transAxes,
                                           ha="center", va="center", fontsize=9))

    def update(self, size: int, batch: int, context: int, device: str) -> None:
        t = sweep(device, batch, context)
        self.tau_line.set_ydata(t.expected_tokens_per_step)
        self.cost_line.set_ydata(np.minimum(t.verify_ratio, TOKENS_MAX))
        self.speed_line.set_ydata(np.minimum(t.speedup, SPEED_MAX))
        self.best.set_data([t.best_size], [min(t.best_speedup, SPEED_MAX)])
        i = int(np.flatnonzero(t.sizes == size)[0])
        self.chosen.set_data([size], [min(t.speedup[i], SPEED_MAX)])
        for mark in self.marks:
            mark.set_xdata([size, size])
        verdict = ("does NOT fit the device's memory" if not t.fits[i]
                   else "pays" if t.speedup[i] > 1 else "slower than plain decode")
        self.info.set_text(
            f"{size} nodes: τ = {t.expected_tokens_per_step[i]:.2f} tokens, verification "
            f"{t.verify_ratio[i]:.2f} steps, heads c = {t.draft_cost:.3f}: speed-up "
            f"{t.speedup[i]:.2f}× ({verdict})\n"
            f"best size {t.best_size}: {t.best_speedup:.2f}×   (batch {batch}, context "
            f"{context:,}, {device}; calibrated estimate)")
