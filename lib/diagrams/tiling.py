"""A tiled matrix product: output tiles, the panels each tile streams, and what is reused.

An ``M x K`` matrix of activations times a ``K x N`` matrix of weights gives an
``M x N`` output. A GPU kernel cuts the output into ``t_M x t_N`` tiles and gives each
to one streaming multiprocessor, which keeps the tile's accumulators on chip while it
streams a ``t_M x K`` panel of the activations and a ``K x t_N`` panel of the weights
through, ``t_k`` columns (rows) at a time. Every activation it loads is used ``t_N``
times and every weight ``t_M`` times; nothing is shared with the other tiles unless a
cache catches it. That is the traffic :func:`lib.kernels.gemm_tiled` counts.

The drawing is to scale: matrix sides and tile sides are proportional to the shape
given. The tile count, the on-chip bytes of one tile
(:func:`lib.kernels.gemm_tile_footprint`) and the intensity against the memory below
the tiles (:func:`lib.kernels.gemm_tiled`) are computed by :mod:`lib`, never typed.

Introduced in chapters/02_compute_bound.ipynb.
"""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from lib import kernels
from lib._validate import positive
from lib.diagrams import COLORS, INK, arrow, canvas
from lib.units import fmt_bytes, fmt_intensity

__all__ = ["tiled_matmul_figure"]

_A, _B, _C = COLORS[1], COLORS[0], COLORS[2]   # activations, weights, output


def _rect(ax, x, y, w, h, *, fill="none", edge=INK, lw=1.0, alpha=1.0, ls="-", z=1):
    patch = Rectangle((x, y), w, h, facecolor=fill, edgecolor=edge, lw=lw, alpha=alpha,
                      ls=ls, zorder=z)
    ax.add_patch(patch)
    return patch


def tiled_matmul_figure(m: int = 1024, n: int = 1024, k: int = 1024, tile_m: int = 128,
                        tile_n: int = 256, tile_k: int = 64, dtype: str = "bf16",
                        tile: tuple[int, int] = (2, 1)) -> Figure:
    """A tiled ``m x k`` by ``k x n`` matrix product, one output tile and its two panels.

    ``tile`` is the (row, column) of the highlighted output tile, counted from the top
    left. One ``tile_k``-wide slice of each panel is drawn darker: the slice on chip at
    one step of the loop over ``k``.

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> fig = tiled_matmul_figure()
    >>> texts = [t.get_text() for t in fig.axes[0].texts]
    >>> any("8 × 4 = 32 output tiles" in t for t in texts)
    True
    """
    m, n, k = (int(positive(name, v, integer=True)) for name, v in
               (("m", m), ("n", n), ("k", k)))
    tm, tn, tk = (int(positive(name, v, integer=True)) for name, v in
                  (("tile_m", tile_m), ("tile_n", tile_n), ("tile_k", tile_k)))
    rows, cols = math.ceil(m / tm), math.ceil(n / tn)
    ti, tj = tile
    if not (0 <= ti < rows and 0 <= tj < cols):
        raise ValueError(f"tile={tile!r} must index the {rows} x {cols} output tiles.")

    fig, ax = canvas(7.2, 4.6, (100, 64))
    # to scale: activations (or output) and weights stacked fit 42 units of height below
    # the title; the activations fit left of x = 38, the output between 40 and 67
    scale = min(42.0 / (m + k), 27.0 / n, 34.0 / k)     # drawing units per element
    wk, hm, wn = k * scale, m * scale, n * scale
    ax_, ay = 38 - wk, 10                   # activations: right edge at 38, above the labels
    cx, cy = 40, ay                         # output: beside the activations
    bx, by = cx, ay + hm + 4                # weights: above the output

    # the three matrices
    _rect(ax, ax_, ay, wk, hm, fill=_A, alpha=0.12, edge=INK)
    _rect(ax, bx, by, wn, wk, fill=_B, alpha=0.12, edge=INK)
    _rect(ax, cx, cy, wn, hm, fill=_C, alpha=0.08, edge=INK)
    label = dict(fontsize=8.5, color=INK, ha="center")
    ax.text(ax_ + wk / 2, ay - 1.0, f"activations\n$M \\times K$ = {m:,} × {k:,}", va="top",
            **label)
    ax.text(cx + wn / 2, cy - 1.0, f"output\n$M \\times N$ = {m:,} × {n:,}", va="top", **label)
    ax.text(bx + wn / 2, by + wk + 0.8, f"weights, $K \\times N$ = {k:,} × {n:,}",
            va="bottom", **label)

    # the output's tile grid, and the highlighted tile
    for r in range(1, rows):
        y = cy + hm - min(r * tm, m) * scale
        ax.plot([cx, cx + wn], [y, y], color="0.55", lw=0.6)
    for c in range(1, cols):
        x = cx + min(c * tn, n) * scale
        ax.plot([x, x], [cy, cy + hm], color="0.55", lw=0.6)
    t_left = cx + tj * tn * scale
    t_top = cy + hm - ti * tm * scale
    t_w, t_h = min(tn, n - tj * tn) * scale, min(tm, m - ti * tm) * scale
    _rect(ax, t_left, t_top - t_h, t_w, t_h, fill=_C, alpha=0.9, lw=1.4, z=3)

    # the two panels it streams, and one slice of each on chip
    _rect(ax, ax_, t_top - t_h, wk, t_h, fill=_A, alpha=0.35, lw=1.2, z=2)
    _rect(ax, t_left, by, t_w, wk, fill=_B, alpha=0.35, lw=1.2, z=2)
    step = min(3, max(0, math.ceil(k / tk) - 1))          # the slice drawn as "now"
    s0, sw = step * tk * scale, min(tk, k - step * tk) * scale
    _rect(ax, ax_ + s0, t_top - t_h, sw, t_h, fill=_A, alpha=0.95, lw=1.0, z=4)
    _rect(ax, t_left, by + wk - s0 - sw, t_w, sw, fill=_B, alpha=0.95, lw=1.0, z=4)
    arrow(ax, (ax_ + s0 + sw + 0.3, t_top - t_h / 2), (t_left - 0.4, t_top - t_h / 2),
          color=_A, width=1.3)
    arrow(ax, (t_left + t_w / 2, by + wk - s0 - sw - 0.3), (t_left + t_w / 2, t_top + 0.4),
          color=_B, width=1.3)

    # what each piece is, and what it reuses
    side = dict(fontsize=8, color=INK, va="center", ha="left", linespacing=1.25)
    foot = kernels.gemm_tile_footprint(tm, tn, tk, dtype)
    ax.text(69, 55, f"weight panel, $K \\times t_N$ = {k:,} × {tn}:\n"
                    f"each weight loaded is used $t_M$ = {tm} times", **side)
    ax.text(69, 44, f"slices $t_k$ = {tk} wide stream in,\none step at a time "
                    f"({math.ceil(k / tk)} steps)", **side)
    ax.text(69, 31, f"output tile, $t_M \\times t_N$ = {tm} × {tn}:\nits accumulators stay "
                    f"on chip,\n{fmt_bytes(foot, binary=True)} with one slice of each panel",
            **side)
    ax.text(38, ay + hm + 2, f"activation panel, $t_M \\times K$\n= {tm} × {k:,}: each "
                              f"activation\nloaded is used $t_N$ = {tn} times",
            fontsize=8, color=INK, ha="right", va="bottom", linespacing=1.25)
    tiled = kernels.gemm_tiled(m, n, k, tm, tn, dtype)
    whole = kernels.gemm(m, n, k, dtype)
    ax.text(69, 15, f"{rows} × {cols} = {rows * cols} output tiles, one per SM at a time;\n"
                    f"no reuse between tiles: {fmt_intensity(tiled.intensity)}\n"
                    f"(each matrix moved once: {fmt_intensity(whole.intensity)})", **side)
    ax.set_title(f"A tiled matrix product ({dtype}): one output tile and the panels it "
                 "streams", fontsize=10)
    return fig
