"""Schematic diagrams of the mechanisms the chapters explain, drawn from code.

A plot shows numbers; a diagram shows a mechanism: the memory hierarchy, a tiled
matrix product, prefill and decode data flow, grouped-query attention, FlashAttention's
blocks, a decode step's kernel timeline. Each lives in a module named for its topic
below this package and is drawn with matplotlib from the primitives here, so it is
source kept in the repository, rendered like every other figure, and tested. Diagrams
use the book's colours (:data:`lib.plotting.COLORS`) on a white background, which reads
the same in the website's light and dark modes.

Where a diagram states a size or a count, it takes it from :mod:`lib` (the catalog, a
model's config), never from a number typed into the drawing.

Introduced in chapters/01_memory_bound.ipynb.
"""

from __future__ import annotations

import itertools

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Text

from lib.plotting import COLORS, new_figure

__all__ = ["canvas", "box", "arrow", "texts", "overlapping_texts", "COLORS", "INK", "FAINT"]

#: Text and outline colour, and a faint fill for secondary boxes.
INK, FAINT = "#222222", "#eeeeee"


def canvas(width: float, height: float, units: tuple[float, float] = (100.0, 60.0)
           ) -> tuple[Figure, Axes]:
    """A figure ``width`` x ``height`` inches whose axes span ``units`` drawing units, no frame.

    Examples
    --------
    >>> fig, ax = canvas(6, 3.6)
    >>> [float(v) for v in ax.get_xlim()], ax.axison
    ([0.0, 100.0], False)
    """
    fig, ax = new_figure(width, height)
    ax.set_xlim(0, units[0])
    ax.set_ylim(0, units[1])
    ax.set_aspect("auto")
    ax.axis("off")
    return fig, ax


def box(ax: Axes, x: float, y: float, w: float, h: float, text: str = "", *,
        color: str = FAINT, edge: str = INK, fontsize: float = 9, text_color: str = INK,
        round_: float = 0.8, **text_kw) -> FancyBboxPatch:
    """A rounded box with its lower-left corner at (x, y) and ``text`` centred in it.

    Examples
    --------
    >>> fig, ax = canvas(4, 2)
    >>> b = box(ax, 10, 10, 30, 20, "HBM")
    >>> ax.texts[0].get_text()
    'HBM'
    """
    patch = FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={round_}",
                           facecolor=color, edgecolor=edge, linewidth=1.0)
    ax.add_patch(patch)
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize,
                color=text_color, **text_kw)
    return patch


def arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], text: str = "", *,
          color: str = INK, width: float = 1.2, fontsize: float = 8, offset: tuple[float, float]
          = (0.0, 1.5), style: str = "-|>", **text_kw) -> FancyArrowPatch:
    """An arrow from ``start`` to ``end`` with an optional label at its middle (shifted by ``offset``).

    Examples
    --------
    >>> fig, ax = canvas(4, 2)
    >>> a = arrow(ax, (10, 10), (50, 10), "reads")
    >>> ax.texts[0].get_text()
    'reads'
    """
    patch = FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=10, color=color,
                            linewidth=width)
    ax.add_patch(patch)
    if text:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, text, ha="center", va="bottom", fontsize=fontsize, color=color,
                **text_kw)
    return patch


def texts(fig: Figure) -> list[Text]:
    """Every visible, non-empty text of ``fig``: its axes' and its own.

    Examples
    --------
    >>> fig, ax = canvas(4, 2)
    >>> _ = box(ax, 10, 10, 30, 20, "HBM")
    >>> [t.get_text() for t in texts(fig)]
    ['HBM']
    """
    found = [t for ax in fig.axes for t in ax.texts] + list(fig.texts)
    return [t for t in found if t.get_visible() and t.get_text().strip()]


def overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of texts whose drawn boxes intersect, and ``(text, "figure edge")`` for a text
    that leaves the figure: what a diagram must not have (its tests check it is empty).

    Examples
    --------
    >>> fig, ax = canvas(4, 2)
    >>> _ = box(ax, 10, 10, 30, 20, "HBM")
    >>> _ = box(ax, 60, 10, 30, 20, "L2")
    >>> overlapping_texts(fig)
    []
    >>> _ = ax.text(11, 20, "HBM, again")
    >>> overlapping_texts(fig)
    [('HBM', 'HBM, again')]
    """
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    page = fig.bbox
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts(fig)]
    out = [(a, "figure edge") for a, bb in boxes
           if bb.x0 < page.x0 - 1 or bb.x1 > page.x1 + 1 or bb.y0 < page.y0 - 1
           or bb.y1 > page.y1 + 1]
    return out + [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2)
                  if ba.overlaps(bb)]
