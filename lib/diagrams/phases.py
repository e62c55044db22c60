"""Prefill and decode as data flow: what enters the model, what the KV cache gains and gives.

Introduced in chapters/05_prefill.ipynb.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from lib import models
from lib.diagrams import COLORS, INK, arrow, box, canvas
from lib.units import fmt_bytes

__all__ = ["prefill_decode_figure", "WRITTEN", "READ"]

#: Colours of the KV cache's rows and of the arrows that move them: written in this
#: forward pass, or read by it.
WRITTEN, READ = COLORS[1], COLORS[0]

_ROW_H = 1.25          # one drawn cache row, in drawing units
_CACHE_X, _CACHE_W = 74.0, 24.0


def _tokens(ax: Any, x: float, y: float, n: int, label: str) -> None:
    """``n`` small token squares from (x, y) to the right, ``label`` below them."""
    for i in range(n):
        box(ax, x + i * 3.2, y, 2.6, 3.4, round_=0.3)
    ax.text(x + (n * 3.2 - 0.6) / 2, y - 1.2, label, ha="center", va="top", fontsize=8,
            color=INK)


def _cache(ax: Any, y: float, rows: int, new_rows: int) -> float:
    """The KV cache as a stack of ``rows`` rows from ``y`` up, the last ``new_rows`` written now
    (drawn at the bottom, in the written colour). Returns the y of the top edge."""
    for r in range(rows):
        fresh = r >= rows - new_rows
        box(ax, _CACHE_X, y + (rows - 1 - r) * _ROW_H, _CACHE_W, _ROW_H * 0.8,
            color=WRITTEN if fresh else READ, round_=0.15)
    return y + rows * _ROW_H


def _model(ax: Any, y: float, label: str, rows: str) -> None:
    """The model's box (x 34..56), the GEMM rows below it, and the token that comes out."""
    box(ax, 34, y, 22, 16, label, fontsize=8.5)
    ax.text(45, y - 1.0, rows, ha="center", va="top", fontsize=8, color=INK)
    arrow(ax, (56, y + 13), (62, y + 13))
    box(ax, 62.5, y + 11.3, 2.6, 3.4, color=WRITTEN, round_=0.3)


def prefill_decode_figure(model: Any = "llama-3-8b", prompt_len: int = 2048,
                          batch: int = 1, kv_dtype: str = "bf16") -> Figure:
    """Prefill and one decode step, one above the other, with what each does to the KV cache.

    Top: a prefill takes the ``prompt_len`` tokens of each of ``batch`` prompts in one
    forward pass (its matrix products see M = B·P rows), writes K and V for all of them
    into the cache and yields one token. Bottom: the next decode step takes one token per
    sequence (M = B), reads the whole cache, C = P tokens, and appends one K/V row. Sizes
    come from the model's config (:meth:`lib.models.ModelConfig.kv_bytes_per_token`); the
    drawn token squares and cache rows are schematic.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> fig = prefill_decode_figure("llama-3-8b", 2048)
    >>> texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    >>> "P = 2,048" in texts and "M = B·P = 2,048" in texts and "268 MB" in texts
    True
    """
    m = models.get(model)
    p, b = int(prompt_len), int(batch)
    kappa = m.kv_bytes_per_token(kv_dtype)
    fig, ax = canvas(7.0, 4.6, (100.0, 67.0))
    label = f"{m.label}\n{m.n_layers} layers:\nevery weight read\nonce per pass"
    several = "" if b == 1 else f"\n(each of B = {b} prompts)"
    each = "" if b == 1 else " each"

    # --- prefill: the upper half ---
    ax.text(0, 66.5, "Prefill: the whole prompt in one forward pass", fontsize=10,
            fontweight="bold", va="top", color=INK)
    _tokens(ax, 1, 46, 8, f"P = {p:,} prompt tokens in{several}")
    arrow(ax, (27.5, 47.7), (33.5, 47.7))
    _model(ax, 40, label, f"GEMMs: M = B·P = {b * p:,} rows")
    ax.text(66.5, 53, f"1 token out{' per prompt' if b > 1 else ''}\n(the first)",
            va="center", fontsize=8, color=INK)
    top = _cache(ax, 38, 8, 8)
    arrow(ax, (56, 43), (73.5, 43), f"K, V of all\n{p:,} tokens", color=WRITTEN,
          offset=(0, 0.5))
    ax.text(_CACHE_X + _CACHE_W / 2, top + 0.8, f"KV cache: {fmt_bytes(b * p * kappa)} written",
            ha="center", va="bottom", fontsize=8, color=INK)

    # --- decode: the lower half ---
    ax.text(0, 33.5, "Decode: one token per sequence per forward pass", fontsize=10,
            fontweight="bold", va="top", color=INK)
    _tokens(ax, 14, 14, 1, "1 token in\nper sequence")
    arrow(ax, (17.5, 15.7), (33.5, 15.7))
    _model(ax, 8, label, f"GEMMs: M = B = {b:,} row{'s' if b > 1 else ''}")
    ax.text(66.5, 21, f"1 token out{' per sequence' if b > 1 else ''}", va="center",
            fontsize=8, color=INK)
    top = _cache(ax, 2, 9, 1)
    arrow(ax, (73.5, 11.5), (56.5, 11.5), f"whole cache read:\n{fmt_bytes(b * p * kappa)}",
          color=READ, offset=(-1.0, 0.5))
    arrow(ax, (56, 9), (73.5, 2.5), "", color=WRITTEN)
    ax.text(62.5, 4.6, f"one K/V row\nappended: {fmt_bytes(b * kappa)}", ha="center",
            va="top", fontsize=8, color=WRITTEN)
    ax.text(_CACHE_X + _CACHE_W / 2, top + 0.8, f"KV cache: C = {p:,} tokens{each}",
            ha="center", va="bottom", fontsize=8, color=INK)

    ax.text(100, 66.5, rf"$\kappa$ = {fmt_bytes(kappa)} per token" "\n"
            r"$= 2\,L\,h_{kv}\,d_h\,b_{kv}$", ha="right", va="top", fontsize=8, color=INK)
    return fig
