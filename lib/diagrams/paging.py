"""A paged KV cache: logical blocks, a block table, shared physical blocks, copy-on-write.

Introduced in chapters/10_paged_attention.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from lib import paging
from lib.diagrams import COLORS, FAINT, INK, arrow, box, canvas

__all__ = ["block_table_figure", "PROMPT", "OUTPUT", "SHARED", "PHYSICAL_ORDER"]

#: Colours of prompt tokens, generated tokens, and the outline of a shared block.
PROMPT, OUTPUT, SHARED = COLORS[0], COLORS[1], COLORS[2]
#: The order in which the allocator's free list hands out physical blocks: any order works,
#: which is the point (the blocks of one sequence need not be adjacent).
PHYSICAL_ORDER = (6, 1, 8, 3, 9, 4, 0, 7, 2, 5)


def block_table_figure(prompt_len: int = 40, generated: Sequence[int] = (10, 22),
                       block_size: int = 4 * 4) -> Figure:
    """Two samples of one prompt in a paged KV cache, as vLLM lays them out.

    Left, each sequence's logical blocks of ``block_size`` tokens, filled with prompt and
    generated tokens. Right, the physical blocks in device memory, handed out in no
    particular order (:data:`PHYSICAL_ORDER`). Arrows are the block tables. The prompt's
    full blocks are shared (reference count 2, outlined); its partly filled last block was
    copied on write when the second sample appended its first token. Block counts come
    from :func:`lib.paging.tokens_reserved` and :func:`lib.paging.share_prefix`.

    Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> fig = block_table_figure(40, (10, 22), 16)
    >>> labels = [t.get_text() for t in fig.axes[0].texts]
    >>> sum("ref 2" in t for t in labels), sum("ref 1" in t for t in labels)
    (2, 4)
    """
    p, s = int(prompt_len), int(block_size)
    gen = [int(g) for g in generated]
    if len(gen) != 2:
        raise ValueError(f"generated={generated!r} must give two samples' generated tokens.")
    n_blocks = [int(paging.tokens_reserved("paged", p + g, p + g, p, max_len=p + g,
                                           block_size=s)) // s for g in gen]
    share = paging.share_prefix(p, min(gen), 2, s)
    shared = int(share.shared_blocks)
    used = shared + sum(n - shared for n in n_blocks)
    if used > len(PHYSICAL_ORDER):
        raise ValueError(f"prompt_len={p} and generated={generated!r} need {used} blocks; "
                         f"the diagram draws {len(PHYSICAL_ORDER)}.")

    fig, ax = canvas(8.4, 4.6, (100.0, 62.0))
    free = iter(PHYSICAL_ORDER)
    table = [[0] * n for n in n_blocks]
    for j in range(shared):
        table[0][j] = table[1][j] = next(free)
    for i, n in enumerate(n_blocks):
        for j in range(shared, n):
            table[i][j] = next(free)
    refs: dict[int, int] = {}
    for row in table:
        for b in row:
            refs[b] = refs.get(b, 0) + 1

    # physical blocks: one row across the middle, handed out in no particular order
    px0, pw, ph, py = 14.0, 7.0, 8.0, 27.0
    where = {}
    ax.text(1, py + ph / 2, "device\nmemory", fontsize=8.5, color=INK, va="center")
    for k in range(len(PHYSICAL_ORDER)):
        x = px0 + k * (pw + 1.5)
        where[k] = x
        n = refs.get(k, 0)
        box(ax, x, py, pw, ph, f"P{k}\n" + ("free" if n == 0 else f"ref {n}"),
            color="white" if n else FAINT, edge=SHARED if n == 2 else INK, fontsize=7)
        if n == 2:
            box(ax, x, py, pw, ph, color="none", edge=SHARED)

    # logical blocks: sample A above, sample B below; arrows are the block tables
    bw, gap, x0 = 9.0, 1.5, 14.0
    rows_y = (48.0, 6.0)
    for i, (g, y) in enumerate(zip(gen, rows_y)):
        ax.text(1, y + 3, f"sample {'AB'[i]}\nblocks", fontsize=8.5, color=INK, va="center")
        total = p + g
        for j in range(n_blocks[i]):
            x = x0 + j * (bw + gap)
            lo, hi = j * s, min((j + 1) * s, total)
            n_prompt = max(0, min(hi, p) - lo)
            n_out = max(0, hi - max(lo, p))
            ax.add_patch(Rectangle((x, y), bw * n_prompt / s, 6, color=PROMPT, lw=0))
            ax.add_patch(Rectangle((x + bw * n_prompt / s, y), bw * n_out / s, 6,
                                   color=OUTPUT, lw=0))
            ax.add_patch(Rectangle((x, y), bw, 6, fill=False, ec=SHARED if j < shared else INK,
                                   lw=2 if j < shared else 1))
            label_y = y + 7.6 if i == 0 else y - 2.0
            ax.text(x + bw / 2, label_y, f"L{j}", fontsize=7.5, ha="center", va="center",
                    color=INK)
            b = table[i][j]
            end_y = py + ph if i == 0 else py
            arrow(ax, (x + bw / 2, y if i == 0 else y + 6), (where[b] + pw / 2, end_y),
                  color=SHARED if j < shared else "0.45", width=0.9)
    cow = table[1][shared] if p % s and shared < n_blocks[1] else None
    if cow is not None:
        ax.text(where[cow] + pw / 2, py - 2.5, "copied on write", fontsize=7, ha="center",
                va="center", color=OUTPUT)
    right = x0 + max(n_blocks) * (bw + gap) + 4
    ax.text(right, 51, f"{s}-token blocks; prompt {p} tokens\n(blue, shared), generated "
            f"{gen[0]} (orange)", fontsize=7.5, color=INK, va="center")
    ax.text(right, 9, f"generated {gen[1]} (orange)", fontsize=7.5, color=INK, va="center")
    ax.text(1, 60, f"{shared} shared blocks (reference count 2), {int(share.copies)} copied on "
            f"write: {used} physical blocks instead of {sum(n_blocks)} without sharing",
            fontsize=8, color=INK, va="center")
    return fig
