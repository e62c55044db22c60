"""FlashAttention's blocks: query tiles, K/V tiles streamed through on-chip memory, online softmax.

Introduced in chapters/05_prefill.ipynb.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from lib import hardware, kernels, models
from lib.diagrams import COLORS, FAINT, INK, arrow, box, canvas
from lib.units import fmt_bytes

__all__ = ["flash_attention_figure", "QUERY", "KEYS", "DRAWN_TILES"]

#: Colours of the query tile (and its row of blocks) and of the K/V tile being streamed.
QUERY, KEYS = COLORS[2], COLORS[0]
#: Tiles drawn along each side of the score matrix: a schematic count (the true one is
#: in the figure's caption line, from the prompt and the tile).
DRAWN_TILES = 6
_I, _J = 3, 1          # the query tile (row, from the top) and the K/V tile highlighted


def _on_chip_bytes(device: hardware.Device) -> float:
    """Shared memory/L1 of one SM (the catalog gives the whole chip's)."""
    level = next(lv for lv in device.levels if "shared" in lv.name.lower())
    return level.capacity / device.sm_count


def flash_attention_figure(model: Any = "llama-3-8b", device: Any = "h100-sxm",
                           prompt_len: int = 2048, tile_q: int = 128,
                           tile_k: int = 128) -> Figure:
    """How a FlashAttention-style kernel computes attention for one head, block by block.

    Left, main memory (HBM): Q in tiles of ``tile_q`` rows, K and V (drawn transposed)
    in tiles of ``tile_k`` keys, and the P x P score matrix, which exists only as blocks
    computed on chip: under the causal mask the blocks above the diagonal are skipped.
    Right, one SM's on-chip memory: the query tile Q_i, the streamed tiles K_j and V_j,
    the block S_ij, the running row maxima m_i and sums l_i of the online softmax, and
    the output accumulator O_i, with the update that each K/V tile applies. Q_i is read
    once, K and V once per query tile, O_i written once; the scores never reach HBM.
    Sizes (prompt, head dimension, tiles, bytes avoided, on-chip capacity) come from
    :mod:`lib`; the drawn grid is schematic.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> fig = flash_attention_figure("llama-3-8b", "h100-sxm", 2048)
    >>> texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    >>> "16 × 16 blocks" in texts and "256 KiB" in texts and "268 MB" in texts
    True
    """
    m = models.get(model)
    dev = hardware.get(device)
    p, tq, tk = int(prompt_len), int(tile_q), int(tile_k)
    # the score matrix an unfused kernel would write: one layer, every query head
    _, softmax, _ = kernels.attention(1, p, p, p * p, m.n_heads, m.n_kv_heads, m.head_dim,
                                      fused=False)
    scores_bytes = softmax.bytes_moved / 2            # the softmax reads it and writes it
    per_sm = _on_chip_bytes(dev)

    fig, ax = canvas(7.0, 4.7, (100.0, 68.0))
    n, g0x, g0y, cell = DRAWN_TILES, 13.0, 5.0, 6.0
    gtop = g0y + n * cell

    # --- main memory ---
    box(ax, 0, 0, 56.5, 68, color="#f7f7f7", edge="0.6", round_=1.2)
    ax.text(1.5, 66.8, "HBM (main memory)", fontsize=9.5, fontweight="bold", va="top",
            color=INK)
    for r in range(n):                                   # the score matrix, block by block
        for c in range(n):
            x, y = g0x + c * cell, gtop - (r + 1) * cell
            if c > r:
                continue                                 # masked: skipped, left blank
            color = QUERY if (r, c) == (_I, _J) else "#cde9dd" if r == _I else "white"
            ax.add_patch(Rectangle((x, y), cell, cell, facecolor=color, edgecolor="0.55",
                                   linestyle="--", linewidth=0.8))
    ax.add_patch(Rectangle((g0x, g0y), n * cell, n * cell, fill=False, edgecolor="0.35",
                           linestyle="--", linewidth=1.0))
    ax.text(g0x + n * cell - 0.8, gtop - 1.0, "above the diagonal:\nmasked, skipped",
            ha="right", va="top", fontsize=7.5, color=INK)
    ax.text(1.5, 63.2, "S = QKᵀ (P × P per head) exists one block at a time, on chip:\n"
            f"it never reaches HBM (an unfused kernel writes {fmt_bytes(scores_bytes)} "
            "per layer)",
            ha="left", va="top", fontsize=7.5, color=COLORS[1])
    ax.text(g0x + (_J + 0.5) * cell, gtop - (_I + 0.5) * cell, "S$_{ij}$", ha="center",
            va="center", fontsize=8, color="white", fontweight="bold")
    for r in range(n):                                   # Q, and O beside the matrix
        y = gtop - (r + 1) * cell
        box(ax, 6.5, y + 0.2, 4.5, cell - 0.4, color=QUERY if r == _I else FAINT, round_=0.2)
        box(ax, 50.5, y + 0.2, 4.5, cell - 0.4, color=QUERY if r == _I else FAINT,
            round_=0.2)
    ax.text(8.75, gtop + 0.8, "Q", ha="center", va="bottom", fontsize=9, color=INK)
    ax.text(52.75, gtop + 0.8, "O", ha="center", va="bottom", fontsize=9, color=INK)
    ax.text(8.75, gtop - (_I + 0.5) * cell, "Q$_i$", ha="center", va="center", fontsize=7.5,
            color="white", fontweight="bold")
    ax.text(52.75, gtop - (_I + 0.5) * cell, "O$_i$", ha="center", va="center",
            fontsize=7.5, color="white", fontweight="bold")
    for name, y in (("Kᵀ", gtop + 1.5), ("Vᵀ", gtop + 7.0)):
        ax.text(g0x - 1.0, y + 2.25, name, ha="right", va="center", fontsize=9, color=INK)
        for c in range(n):
            color = KEYS if c == _J else "#cfe3f1" if c <= _I else FAINT
            box(ax, g0x + c * cell + 0.2, y, cell - 0.4, 4.5, color=color, round_=0.2)
        ax.text(g0x + (_J + 0.5) * cell, y + 2.25, f"{name[0]}$_j$", ha="center",
                va="center", fontsize=7.5, color="white", fontweight="bold")
    ax.text(g0x, gtop + 13.3, "K$_j$, V$_j$ streamed past Q$_i$: j = 1 … i  →",
            ha="left", va="center", fontsize=7.5, color=KEYS)
    tiles_q, tiles_k = math.ceil(p / tq), math.ceil(p / tk)
    tiles = f"t$_q$ = t$_k$ = {tq}" if tq == tk else f"t$_q$ = {tq}, t$_k$ = {tk}"
    ax.text(1.5, 2.2, f"P = {p:,}, d$_h$ = {m.head_dim}, {tiles}: "
            f"{tiles_q} × {tiles_k} blocks per head ({n} × {n} drawn)",
            fontsize=7.5, va="center", color=INK)

    # --- on chip ---
    box(ax, 60.5, 0, 39.5, 68, color="#fdf6ec", edge="0.6", round_=1.2)
    ax.text(62, 66.8, f"On chip: one {dev.short_label.split()[0]} SM\n"
            f"({fmt_bytes(per_sm, binary=True)} of L1/shared memory)", fontsize=8.5, va="top",
            color=INK)
    box(ax, 63, 44, 10, 10, f"Q$_i$\n{tq} × {m.head_dim}", color=QUERY, fontsize=8,
        text_color="white")
    box(ax, 76, 50, 10, 7, f"K$_j$\n{tk} × {m.head_dim}", color=KEYS, fontsize=8,
        text_color="white")
    box(ax, 88, 50, 10, 7, f"V$_j$\n{tk} × {m.head_dim}", color=KEYS, fontsize=8,
        text_color="white")
    box(ax, 76, 36, 11, 11, f"S$_{{ij}}$ = Q$_i$K$_j^T$\n{tq} × {tk}", color="#cde9dd",
        fontsize=8)
    box(ax, 89.5, 36, 3.2, 11, "", color="white")
    box(ax, 94.5, 36, 3.2, 11, "", color="white")
    ax.text(91.1, 35, "m$_i$", ha="center", va="top", fontsize=8, color=INK)
    ax.text(96.1, 35, "ℓ$_i$", ha="center", va="top", fontsize=8, color=INK)
    ax.text(93.6, 31.8, "running row\nmax and sum", ha="center", va="top", fontsize=7,
            color=INK)
    box(ax, 63, 30, 10, 10, f"O$_i$\n{tq} × {m.head_dim}\n(accum.)", color=FAINT,
        fontsize=8)
    ax.text(62.5, 25.5,
            "for each K/V tile j (online softmax):\n"
            r"$m_i' = \max(m_i,\ \mathrm{rowmax}\ S_{ij})$" "\n"
            r"$\ell_i \leftarrow e^{m_i - m_i'}\,\ell_i + \mathrm{rowsum}\ e^{S_{ij} - m_i'}$"
            "\n"
            r"$O_i \leftarrow e^{m_i - m_i'}\,O_i + e^{S_{ij} - m_i'}\,V_j$;  $m_i \leftarrow m_i'$"
            "\n"
            "after the last tile: $O_i \\leftarrow O_i\\,/\\,\\ell_i$",
            ha="left", va="top", fontsize=8.3, color=INK, linespacing=1.5)

    # --- traffic between them ---
    arrow(ax, (55.5, 52), (62.5, 52), color=INK, width=1.6)
    arrow(ax, (62.5, 33), (55.5, 33), color=INK, width=1.6)
    ax.text(59, 53.8, "read", ha="center", va="bottom", fontsize=7.5, color=INK)
    ax.text(59, 34.8, "write", ha="center", va="bottom", fontsize=7.5, color=INK)
    ax.text(80.2, 6.5, "per query tile: Q$_i$ read once, every K/V tile\n"
            "read once, O$_i$ written once: about t$_q$ FLOP\nper byte of K and V "
            "(attention_tile)", ha="center", va="center", fontsize=7.5, color=INK)
    return fig
