"""Chapter 10's explorer and figures: where a KV budget's slots go under each allocation policy.

The explorer takes a length distribution, the server's maximum length, a block size and
the view (over requests' lifetimes, or one moment), asks :func:`lib.paging.compare` how
each policy's reserved slots split into tokens, last-block slack, reservation for tokens
still to come and reservation for tokens never generated, and how many requests
:func:`lib.paging.concurrent` fits in Llama-3-8B's KV budget on an H100 SXM.

The figure functions draw the chapter's static plots; what they show is computed by
:mod:`lib.paging`.

Introduced in chapters/10_paged_attention.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lib import models, paging
from lib.paging import PARTS, POLICIES, POLICY_LABELS
from lib.plotting import COLORS, new_figure
from lib.units import fmt_bytes
from lib.widgets import Control, Explorer

__all__ = ["PagingExplorer", "breakdown_figure", "block_size_figure", "sharing_figure"]

#: A colour for each of :data:`lib.paging.PARTS`: tokens, last-block slack, reserved for
#: later tokens, reserved for tokens never generated.
PART_COLORS = (COLORS[0], COLORS[4], COLORS[5], COLORS[1])
PART_LABELS = ("tokens", "last-block slack", "reserved, used later", "reserved, never used")

WORKLOADS = {
    "ShareGPT": paging.SHAREGPT,
    "Alpaca": paging.ALPACA,
    "ShareGPT means, no spread": (paging.Lengths("fixed", paging.SHAREGPT[0].mean),
                                  paging.Lengths("fixed", paging.SHAREGPT[1].mean)),
}
MAX_LENS = (2048, 8192)
BLOCK_SIZES = (1, 4, 16, 64, 256)
VIEW_OPTIONS = (("over requests' lifetimes", "lifetime"), ("one moment, half generated",
                                                          "snapshot"))
MODEL, DEVICE = "llama-3-8b", "h100-sxm"
KAPPA = models.get(MODEL).kv_bytes_per_token("bf16")
N_REQUESTS, SEED = 10_000, 0
BATCH_RANGE = (1, 3e4)


@lru_cache(maxsize=16)
def _workload(name: str, max_len: int) -> paging.Requests:
    prompt, output = WORKLOADS[name]
    return paging.requests(prompt, output, max_len, n=N_REQUESTS, seed=SEED)


@lru_cache(maxsize=1)
def _budget() -> float:
    return paging.kv_budget_tokens(MODEL, DEVICE)


class PagingExplorer(Explorer):
    """Lengths, maximum length, block size and view: each policy's slots and the batch that fits."""

    name = "paging"
    title = "KV-cache allocation: what each policy reserves, and how many requests fit"
    figsize = (9.0, 3.7)
    controls = (
        Control("workload", "request lengths", tuple((k, k) for k in WORKLOADS), default=0,
                kind="dropdown"),
        Control("max_len", "maximum length (tokens)", tuple((f"{m:,}", m) for m in MAX_LENS),
                default=0, kind="dropdown"),
        Control("block_size", "block size σ (tokens)", tuple((str(s), s) for s in BLOCK_SIZES),
                default=BLOCK_SIZES.index(16)),
        Control("view", "view", VIEW_OPTIONS, default=0, kind="dropdown"),
    )

    def setup(self, fig: Figure) -> None:
        grid = fig.add_gridspec(2, 2, width_ratios=(1.5, 1), height_ratios=(1.3, 0.75))
        ax = self.ax = fig.add_subplot(grid[0, 0])
        bx = self.bx = fig.add_subplot(grid[0, 1])
        head = fig.add_subplot(grid[1, :])
        head.axis("off")
        dyn = self.dynamic
        y = np.arange(len(POLICIES))[::-1]
        names = [POLICY_LABELS[p] for p in POLICIES]

        ax.set_xlim(0, 100)
        ax.set_ylim(-0.6, len(POLICIES) - 0.4)
        ax.set_yticks(y, names, fontsize=8)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
        ax.tick_params(axis="x", labelsize=8)
        ax.set_title("reserved KV slots, by what they hold", fontsize=10)
        self.bars = {part: [dyn(ax.barh([yy], [0.0], left=0.0, height=0.65, color=c)[0])
                            for yy in y]
                     for part, c in zip(PARTS, PART_COLORS)}
        for part, label in zip(PARTS, PART_LABELS):
            self.bars[part][0].set_label(label)
        ax.legend(handles=[self.bars[p][0] for p in PARTS], loc="upper center",
                  bbox_to_anchor=(0.5, -0.13), ncol=4, fontsize=7.5, frameon=False,
                  handlelength=1.0, columnspacing=0.8)
        self.util_text = [dyn(ax.text(1.5, yy, "", va="center", ha="left", fontsize=7.5,
                                      color="white", weight="bold")) for yy in y]

        bx.set_xscale("log")
        bx.set_xlim(*BATCH_RANGE)
        bx.set_ylim(-0.6, len(POLICIES) - 0.4)
        bx.set_yticks(y, [""] * len(y))
        bx.tick_params(axis="x", labelsize=8)
        bx.grid(True, axis="x", which="major", alpha=0.3)
        bx.set_title("requests in flight that fit", fontsize=10)
        bx.set_xlabel("requests (Llama-3-8B, H100 SXM; log scale)", fontsize=8)
        self.batch_bars = [dyn(bx.barh([yy], [1.0], height=0.65, color=COLORS[2])[0])
                           for yy in y]
        self.batch_text = [dyn(bx.text(1.2, yy, "", va="center", ha="left", fontsize=8))
                           for yy in y]
        self.info = dyn(head.text(0.0, 0.92, "", transform=head.transAxes, va="top",
                                  ha="left", fontsize=8.3, linespacing=1.35))

    def update(self, *, workload: str, max_len: int, block_size: int, view: str,
               **_: Any) -> None:
        w = _workload(workload, max_len)
        found = paging.compare(w, block_size, view)
        budget = _budget()
        fits = {}
        for i, pol in enumerate(POLICIES):
            use = found[pol]
            shares = use.shares()
            left = 0.0
            for part in PARTS:
                width = 100 * float(shares[part])
                bar = self.bars[part][i]
                bar.set_x(left)
                bar.set_width(width)
                left += width
            self.util_text[i].set_text(f"{100 * float(use.utilisation):.0f}%")
            fits[pol] = float(paging.concurrent(use, budget))
            self.batch_bars[i].set_width(max(fits[pol], BATCH_RANGE[0]))
            self.batch_text[i].set_text(f"{fits[pol]:,.0f}")
        paged = found["paged"]
        self.info.set_text("\n".join([
            f"{workload}: {w.n:,} requests, mean prompt {w.prompt_len.mean():.0f} and output "
            f"{w.output_len.mean():.0f} tokens; {100 * w.truncated:.1f}% cut to "
            f"{max_len:,} tokens",
            f"KV budget: {budget:,.0f} token slots ({fmt_bytes(budget * KAPPA)} beside the "
            f"weights, {fmt_bytes(KAPPA, binary=True)} per token)",
            f"paged, σ = {block_size}: "
            f"{float(paged.slots_per_request):,.0f} slots per request, "
            f"{100 * float(paged.shares()['internal']):.1f}% last-block slack; "
            f"{fits['paged'] / max(fits['max'], 1):.1f}x the requests of max-length "
            f"reservation",
            "the bytes a decode step reads per request are the same under every policy",
        ]))


# --- the chapter's static figures ----------------------------------------------------------

def breakdown_figure(workloads: dict[str, paging.Requests],
                     block_size: int = paging.DEFAULT_BLOCK_SIZE,
                     reference: dict[str, dict[str, float]] | None = None) -> Figure:
    """Stacked bars: each policy's reserved slots split into :data:`lib.paging.PARTS`.

    One group of bars per workload (lifetime view). ``reference`` adds hatched bars of
    published shares (policy -> part -> percent) beside the first workload's.

    Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> w = paging.requests([10, 20], [30, 40], max_len=128)
    >>> len(breakdown_figure({"toy": w}).axes[0].patches)
    16
    """
    fig, ax = new_figure(7.6, 3.8)
    groups = list(workloads.items())
    n_bars = len(groups) + (1 if reference else 0)
    width = 0.8 / n_bars
    x = np.arange(len(POLICIES))
    for j, (name, w) in enumerate(groups):
        found = paging.compare(w, block_size)
        xx = x + (j - (n_bars - 1) / 2) * width
        bottom = np.zeros(len(POLICIES))
        for part, color, label in zip(PARTS, PART_COLORS, PART_LABELS):
            h = np.array([100 * float(found[p].shares()[part]) for p in POLICIES])
            ax.bar(xx, h, bottom=bottom, width=width * 0.9, color=color,
                   label=label if j == 0 else None, alpha=1.0 if j == 0 else 0.75)
            bottom += h
        for xi in xx:
            ax.text(xi, 101, name, ha="center", va="bottom", fontsize=7, rotation=90)
    if reference:
        xx = x + (n_bars - 1 - (n_bars - 1) / 2) * width
        bottom = np.zeros(len(POLICIES))
        for part, color in zip(PARTS, PART_COLORS):
            h = np.array([reference.get(p, {}).get(part, 0.0) for p in POLICIES])
            ax.bar(xx, h, bottom=bottom, width=width * 0.9, color=color, hatch="///",
                   edgecolor="white", lw=0)
            bottom += h
        for xi in xx:
            ax.text(xi, 101, "paper, Fig. 2", ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(x, [POLICY_LABELS[p].replace(" (", "\n(") for p in POLICIES], fontsize=8)
    ax.set_ylim(0, 135)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("share of reserved slots (%), over requests' lifetimes")
    ax.legend(fontsize=7.5, loc="upper center", ncol=4, frameon=False,
              bbox_to_anchor=(0.5, 1.0))
    ax.set_title(f"Where the reserved KV slots go (paged: {block_size}-token blocks)",
                 fontsize=10)
    return fig


def block_size_figure(workloads: dict[str, paging.Requests], budget_tokens: float,
                      block_sizes: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
                      ) -> Figure:
    """Paged allocation against block size: last-block slack (left), requests that fit (right).

    The right panel also draws, dotted, what the exact-length oracle fits.

    Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> w = paging.requests([10, 20], [30, 40], max_len=128)
    >>> len(block_size_figure({"toy": w}, 10_000, block_sizes=(1, 16)).axes)
    2
    """
    fig, _ = new_figure(8.0, 3.4)
    fig.clear()
    ax, bx = fig.subplots(1, 2)
    s = np.array(block_sizes)
    for (name, w), color in zip(workloads.items(), COLORS):
        use = paging.usage("paged", w, s)
        ax.plot(s, 100 * np.asarray(use.shares()["internal"]), "o-", color=color, label=name)
        bx.plot(s, paging.concurrent(use, budget_tokens), "o-", color=color, label=name)
        oracle = paging.concurrent(paging.usage("exact", w), budget_tokens)
        bx.axhline(oracle, color=color, ls=":", lw=1.2)
        bx.text(s[-1], oracle, " exact (oracle)", color=color, fontsize=7, va="bottom",
                ha="right")
    for axis in (ax, bx):
        axis.set_xscale("log", base=2)
        axis.set_xticks(s, [str(v) for v in s], fontsize=7.5)
        axis.set_xlabel("block size σ (tokens)")
        axis.grid(True, alpha=0.3)
    ax.set_ylabel("last-block slack (% of slots)")
    ax.set_ylim(0, None)
    ax.legend(fontsize=8)
    bx.set_yscale("log")
    bx.set_ylabel("requests in flight that fit")
    ax.set_title("internal fragmentation grows with the block", fontsize=10)
    bx.set_title("and the batch shrinks", fontsize=10)
    return fig


def sharing_figure(prefix_lens: Sequence[int] = tuple(range(0, 2049, 32)),
                   private_len: int = 256, fan_outs: Sequence[int] = (2, 4, 8, 32),
                   block_size: int = paging.DEFAULT_BLOCK_SIZE) -> Figure:
    """Memory saved by sharing a prefix's blocks, against its length, per n_s (``fan_out``).

    Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> len(sharing_figure(prefix_lens=(0, 64), fan_outs=(2,)).axes[0].lines)
    2
    """
    fig, ax = new_figure(6.6, 3.5)
    pre = np.array(prefix_lens)
    for n_s, color in zip(fan_outs, COLORS):
        found = paging.share_prefix(pre, private_len, n_s, block_size)
        ax.plot(pre, 100 * np.asarray(found.saving), "-", color=color,
                label=f"{n_s} sequences")
        ax.axhline(100 * (n_s - 1) / n_s, color=color, ls=":", lw=1)
    ax.set_xlabel(f"shared prefix $P_s$ (tokens); each sequence adds $P_u$ = {private_len} "
                  "of its own")
    ax.set_ylabel("blocks saved (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title="sharing it ($n_s$)", title_fontsize=8, loc="lower right")
    ax.set_title(f"Prefix sharing: saving → $(n_s - 1)/n_s$ (dotted) as the prefix dominates "
                 f"(σ = {block_size})", fontsize=9.5)
    return fig
