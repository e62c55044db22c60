"""The book's one table: rows of formatted cells, shown as aligned text or as HTML.

Every table :mod:`lib` prints -- the memory hierarchy, kernels on a roofline, a forward
pass op by op, the calculator's listings -- is a :class:`Table`: ``print`` gives aligned
plain text (what the calculator and a terminal show), and a notebook shows it as an HTML
table. Cells are strings formatted by :mod:`lib.units` beforehand.

Introduced in chapters/01_memory_bound.ipynb.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Table"]


@dataclass(frozen=True)
class Table:
    """Rows of formatted cells under a header; the last ``totals`` rows set apart by a rule.

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequences of str
        One cell per header column.
    align : sequence of {"<", ">"}, optional
        Per column; default: the first column left (names), the others right (numbers).
    title : str
        A line above the table.
    totals : int
        How many of the last rows are totals (a rule separates them from the others).
    footer : sequence of str
        Lines below the table.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> print(Table(("kernel", "time"), (("dot", "1 µs"), ("GEMM", "120 µs")), totals=1))
    kernel    time
    ------  ------
    dot       1 µs
    ------  ------
    GEMM    120 µs
    """

    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    align: Sequence[str] | None = None
    title: str = ""
    totals: int = 0
    footer: Sequence[str] = ()

    def __post_init__(self) -> None:
        width = len(self.header)
        rows = tuple(tuple(str(c) for c in r) for r in self.rows)
        for r in rows:
            if len(r) != width:
                raise ValueError(f"rows: {r!r} has {len(r)} cells for {width} columns.")
        align = tuple(self.align) if self.align is not None else ("<",) + (">",) * (width - 1)
        if len(align) != width or set(align) - {"<", ">"}:
            raise ValueError(f"align={self.align!r} must give '<' or '>' for each of the "
                             f"{width} columns.")
        object.__setattr__(self, "header", tuple(self.header))
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "align", align)
        object.__setattr__(self, "footer", tuple(self.footer))

    def __str__(self) -> str:
        widths = [max(len(r[i]) for r in (self.header, *self.rows))
                  for i in range(len(self.header))]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, self.align, widths)).rstrip()

        rule = "  ".join("-" * w for w in widths)
        split = len(self.rows) - self.totals
        body = [line(r) for r in self.rows[:split]]
        if self.totals:
            body += [rule, *(line(r) for r in self.rows[split:])]
        top = [self.title] if self.title else []
        return "\n".join([*top, line(self.header), rule, *body, *self.footer])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        style = {"<": "text-align:left", ">": "text-align:right; white-space:nowrap"}
        split = len(self.rows) - self.totals

        def row(cells: Sequence[str], tag: str, extra: str = "") -> str:
            return "<tr>" + "".join(
                f'<{tag} style="{style[a]}; padding:2px 6px{extra}">{html.escape(c)}</{tag}>'
                for c, a in zip(cells, self.align)) + "</tr>"

        body = "".join(row(r, "td", "; border-top:1px solid" if i == split else "")
                       for i, r in enumerate(self.rows))
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        foot = "".join(f"<p>{html.escape(f)}</p>" for f in self.footer)
        return (f'<table style="font-size:0.85em">{caption}<thead>{row(self.header, "th")}'
                f"</thead><tbody>{body}</tbody></table>{foot}")
