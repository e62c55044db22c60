"""The memory hierarchy of a GPU: where bytes live, how many, and how fast they come.

A pyramid from the arithmetic units outward: each streaming multiprocessor's registers and
its shared memory (which doubles as the L1 cache), the L2 cache that all SMs share, the
HBM stacks that hold the model, and the links off the package, to another GPU and to the
host. Each rung is drawn wider than the one above it because it holds more; beside it
stand its capacity, bandwidth and latency as the catalog (:mod:`lib.hardware`) holds
them, each marked with how it was obtained, and "not published" where no citable source
gives the figure. Nothing in the drawing is typed in: the levels, their figures and the
SM count come from the device.

Introduced in chapters/01_memory_bound.ipynb.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from lib import hardware, memory
from lib.diagrams import COLORS, FAINT, INK, arrow, box, canvas
from lib.hardware import MemoryLevel
from lib.units import fmt_bandwidth, fmt_bytes, fmt_time

__all__ = ["ON_CHIP", "level_lines", "hierarchy_figure"]

#: The catalog keys (:data:`lib.memory.LEVELS`) of the rungs on the chip and beside it,
#: from the arithmetic units outward; the last two are the links off the package.
ON_CHIP = ("registers", "l1", "l2", "main memory")
LINKS = ("nvlink", "pcie")

#: How a figure was obtained, as a short mark after it.
_KIND = {"datasheet": "datasheet", "derived": "derived", "measured": "measured",
         "estimated": "estimated"}
UNKNOWN = "not published"


#: Names short enough for a rung of the pyramid, by catalog key; HBM and links keep theirs.
_NAMES = {"registers": "registers", "l1": "shared memory\n/ L1 cache", "l2": "L2 cache"}


def _short(level: MemoryLevel, key: str = "") -> str:
    """The level's name for a box: 'registers', 'HBM3', 'NVLink 4'."""
    return _NAMES.get(key, level.name.split(" (")[0])


def level_lines(level: MemoryLevel, sm_count: int | None = None) -> tuple[str, str, str]:
    """The three figures the diagram prints beside a level: capacity, bandwidth, latency.

    A capacity held once per SM (registers, shared memory) is also given per SM when the
    device's ``sm_count`` is known. A figure no citable source gives reads "not published".

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> from lib import hardware, memory
    >>> d = hardware.get("h100-pcie")
    >>> level_lines(memory.level(d, "l2"), d.sm_count)
    ('50 MB', '6.9 TB/s (measured)', '151 ns (measured)')
    >>> level_lines(memory.level(d, "registers"), d.sm_count)[0]
    '256 KiB/SM, 29.9 MB'
    >>> level_lines(memory.level(d, "nvlink"))
    ('—', '300 GB/s (derived)', 'not published')
    """
    if level.capacity is None:
        cap = "—"
    elif sm_count and level.name.lower().startswith(("registers", "l1")):
        cap = (f"{fmt_bytes(level.capacity / sm_count, binary=True)}/SM, "
               f"{fmt_bytes(level.capacity)}")
    else:
        cap = fmt_bytes(level.capacity)
    bw = (UNKNOWN if level.bandwidth is None
          else f"{fmt_bandwidth(level.bandwidth)} ({_KIND[level.bandwidth_kind]})")
    lat = (UNKNOWN if level.latency is None
           else f"{fmt_time(level.latency)} ({_KIND[level.latency_kind]})")
    return cap, bw, lat


def hierarchy_figure(device: "str | hardware.Device" = "h100-pcie") -> Figure:
    """The memory hierarchy of ``device`` as a pyramid, with each level's figures beside it.

    Registers and shared memory sit inside one SM (the device has ``sm_count`` of them);
    L2 and HBM are shared by all SMs; NVLink and PCIe leave the package. The width of a
    rung grows with the logarithm of its capacity.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> fig = hierarchy_figure("h100-pcie")
    >>> texts = [t.get_text() for t in fig.axes[0].texts]
    >>> "HBM2e" in texts and "2 TB/s (datasheet)" in texts
    True
    """
    device = hardware.get(device)
    levels = [memory.level(device, key) for key in ON_CHIP]
    links = [memory.level(device, key) for key in LINKS]
    sms = device.sm_count
    fig, ax = canvas(7.2, 4.4, (100, 68))
    ax.set_ylim(6, 68)                      # nothing is drawn below the last link

    # the pyramid: one rung per level, wider the further from the arithmetic units
    centre, height, gap = 27.0, 7.0, 2.2
    widths = (16, 22, 28, 36)
    tops = [60 - i * (height + gap) for i in range(len(levels))]
    fills = (COLORS[4], COLORS[2], COLORS[5], COLORS[0])
    inks = (INK, INK, INK, "white")
    for key, lv, w, top, fill, ink in zip(ON_CHIP, levels, widths, tops, fills, inks):
        box(ax, centre - w / 2, top - height, w, height, _short(lv, key), color=fill,
            fontsize=8.5 if "\n" in _short(lv, key) else 9, text_color=ink, weight="bold",
            linespacing=1.0)

    # registers and shared memory belong to one SM; a dashed frame groups them
    fw = widths[1] + 4
    y0 = tops[1] - height - 1.0
    ax.add_patch(Rectangle((centre - fw / 2, y0), fw, tops[0] + 1.0 - y0, fill=False,
                           ls="--", lw=0.9, edgecolor="0.45"))
    grey = dict(fontsize=7.5, color="0.35", ha="right", va="center")
    ax.text(centre - fw / 2 - 0.8, (tops[0] + y0) / 2,
            f"inside\none SM\n(× {sms})" if sms else "inside\none SM", **grey)
    ax.text(centre - widths[3] / 2 - 0.8, tops[2] - height - gap / 2, "shared by\nall SMs",
            **grey)

    # the package ends below HBM: the links leave it, to another GPU and to the host
    y_pkg = tops[-1] - height - 2.4
    ax.plot([0.5, 99.5], [y_pkg, y_pkg], ls=":", lw=0.9, color="0.45")
    ax.text(99.5, y_pkg + 0.6, "edge of the package", fontsize=7, color="0.45", ha="right",
            va="bottom")
    link_h, link_gap = 5.0, 1.8
    link_tops = [y_pkg - 2.4 - i * (link_h + link_gap) for i in range(len(links))]
    for lv, top in zip(links, link_tops):
        box(ax, centre - 14, top - link_h, 28, link_h, _short(lv), color=FAINT, fontsize=8)

    # the figures beside each level, three columns under a header
    cols = (46, 65, 84)
    for x, head in zip(cols, ("capacity", "bandwidth", "latency")):
        ax.text(x, 64.2, head, fontsize=8.5, weight="bold", color=INK, va="center")
    rows = list(zip(levels, [t - height / 2 for t in tops]))
    rows += list(zip(links, [t - link_h / 2 for t in link_tops]))
    for lv, y in rows:
        cap, bw, lat = level_lines(lv, sms)
        if lv.capacity is None:
            cap = "per direction →"
        for x, text in zip(cols, (cap, bw, lat)):
            ax.text(x, y, text, fontsize=7.5, va="center",
                    color="0.45" if text in (UNKNOWN, "per direction →") else INK)

    # the direction of the ladder
    arrow(ax, (1.5, link_tops[-1] - link_h), (1.5, tops[0]), style="-|>", width=1.0,
          color="0.45")
    ax.text(0.5, tops[0] + 1.6, "faster, smaller", fontsize=7.5, color="0.35", va="bottom")
    ax.text(0.5, link_tops[-1] - link_h - 0.6, "slower, larger", fontsize=7.5, color="0.35",
            va="top")
    ax.set_title(f"{device.short_label}: the memory hierarchy (figures from the catalog)",
                 fontsize=10)
    return fig
