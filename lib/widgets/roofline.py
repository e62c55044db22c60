"""Chapter 3's explorer and figures: the roofline in practice.

The explorer places one projection of a 7-8B model, ``gemm(M, 4096, 4096)`` in BF16,
against every level of a device's memory hierarchy at once: a *hierarchical roofline*.
Each level with a bandwidth in the catalog (shared memory, L2, HBM) is a memory roof of
its own, and the same kernel has a different intensity against each, because it moves a
different number of bytes through each:

* through HBM, at least its compulsory bytes (:func:`lib.kernels.gemm`): what it moves
  when the L2 cache catches every panel that several tiles re-read;
* between L2 and the SMs, the panels every output tile streams
  (:func:`lib.kernels.gemm_tiled`): nothing is shared between tiles on their way into
  the SMs.

The lower of the two attainable rates bounds the kernel. Three controls: the device (one
whose L2 bandwidth the catalog holds), the rows M, and the tile shape, which also sets how
many tiles there are for the SMs (:func:`lib.kernels.gemm_waves`, shown in the box).

The figure functions draw the chapter's static plots: published measurements placed
under their device's roofs (:func:`measured_figure`) and the roofs of a device's
hierarchy and links (:func:`level_roofs`).

Introduced in chapters/03_roofline.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from lib import hardware, kernels, memory
from lib.exercises.ch03 import EXPLORER_DEVICES, EXPLORER_MS, EXPLORER_TILES, \
    EXPLORER_WIDTH as D
from lib.plotting import COLORS, Roof, format_roofline_axes, new_figure, roof, roof_xy
from lib.roofline import attainable_flops, ridge_point
from lib.units import fmt_bandwidth, fmt_flop_rate, fmt_intensity
from lib.widgets import Control, Explorer

__all__ = ["RooflineExplorer", "LEVEL_KEYS", "level_roofs", "measured_figure"]

X_RANGE = (0.5, 2e4)
Y_RANGE = (5e11, 4e15)

#: The hierarchy levels drawn as roofs, from the arithmetic units outward
#: (keys of :func:`lib.memory.level`), with their colours.
LEVEL_KEYS = ("l1", "l2", "main memory")
_LEVEL_COLORS = {"l1": COLORS[2], "l2": COLORS[5], "main memory": COLORS[0]}
_LEVEL_NAMES = {"l1": "shared memory", "l2": "L2", "main memory": "HBM"}


def level_roofs(device: "str | hardware.Device", dtype: str = "bf16",
                keys: Sequence[str] = LEVEL_KEYS, link: bool = False) -> list[Roof]:
    """One :class:`lib.plotting.Roof` per level of ``device``'s hierarchy that has a bandwidth.

    Each roof is the device's dense ``dtype`` peak over that level's bandwidth; a level
    whose bandwidth no source gives is left out. With ``link`` the device-to-device link
    (``interconnect_bandwidth``, per direction) is added last: the communication roof.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> [(r.label, round(r.ridge)) for r in level_roofs("h100-pcie")]
    [('shared memory, 23.6 TB/s', 32), ('L2, 6.9 TB/s', 110), ('HBM, 2 TB/s', 378)]
    >>> [r.label for r in level_roofs("h100-sxm", link=True)]
    ['shared memory, 30.9 TB/s', 'HBM, 3.35 TB/s', 'NVLink 4, 450 GB/s per direction']
    """
    dev = hardware.get(device)
    peak = dev.peak(dtype)
    out = []
    for key in keys:
        lv = memory.level(dev, key)
        if lv.bandwidth is not None:
            out.append(Roof(f"{_LEVEL_NAMES.get(key, key)}, {fmt_bandwidth(lv.bandwidth)}",
                            peak, lv.bandwidth))
    if link:
        if dev.interconnect_bandwidth is None:
            raise ValueError(f"link=True: the catalog holds no link for {dev.name}.")
        out.append(Roof(f"{dev.interconnect}, {fmt_bandwidth(dev.interconnect_bandwidth)} per "
                        "direction", peak, dev.interconnect_bandwidth))
    return out


def measured_figure(device: "str | hardware.Device",
                    points: Sequence[tuple[str, float, float]],
                    dtype: str = "bf16",
                    ceilings: Sequence[tuple[str, float, str]] = (),
                    intensity_range: tuple[float, float] = (0.1, 2e4),
                    title: str | None = None) -> Figure:
    """Published measurements under ``device``'s roofline: where each run landed.

    ``points`` are ``(label, intensity, achieved FLOP/s)``: the intensity from the
    kernel's counts (:mod:`lib.kernels`), the rate from the measurement
    (:mod:`lib.measurements`). Each is drawn with a dotted line up to the roof above it,
    the distance the run fell short. ``ceilings`` are ``(label, value, kind)`` with kind
    ``"compute"`` (a measured FLOP/s ceiling, drawn flat) or ``"memory"`` (a measured
    bandwidth, drawn as a slope): what the device was found to deliver, below its
    datasheet roofs.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> fig = measured_figure("a100-sxm-80gb", [("decode", 1.0, 1.4e12)],
    ...                       ceilings=[("1700 GB/s", 1.7e12, "memory")])
    >>> len(fig.axes[0].lines)          # roof, ridge, ceiling, point, its gap
    5
    """
    dev = hardware.get(device)
    r = roof(dev, dtype)
    fig, ax = new_figure(7.0, 4.4)
    lo_y = r.memory_bandwidth * intensity_range[0] / 3
    format_roofline_axes(ax, intensity_range, (lo_y, r.peak_flops * 3))
    ax.plot(*roof_xy(r.peak_flops, r.memory_bandwidth, intensity_range), color=COLORS[0],
            lw=2, label=f"datasheet roofline: {r.label}, ridge {fmt_intensity(r.ridge)}")
    ax.axvline(r.ridge, color=COLORS[0], ls=":", lw=1)
    for i, (label, value, kind) in enumerate(ceilings):
        color = COLORS[(i + 4) % len(COLORS)]
        if kind == "compute":
            ax.plot(intensity_range, [value, value], ls="--", lw=1.4, color=color, label=label)
        elif kind == "memory":
            ax.plot(*roof_xy(r.peak_flops, value, intensity_range), ls="--", lw=1.4,
                    color=color, label=label)
        else:
            raise ValueError(f"kind={kind!r} in ceilings must be 'compute' or 'memory'.")
    markers = ("o", "s", "D", "^", "v")
    for j, (label, x, y) in enumerate(points):
        top = float(attainable_flops(x, r.peak_flops, r.memory_bandwidth))
        color = COLORS[(j + 1) % len(COLORS)]
        ax.plot([x], [y], markers[j % len(markers)], color="black", mfc=color, ms=8, zorder=5,
                label=f"{label}: {y / top:.0%} of the roof above it")
        ax.plot([x, x], [y, top], color=color, ls=":", lw=1.5)
    ax.legend(loc="lower right", fontsize=7.5)
    ax.set_title(title or f"Published measurements on the {dev.short_label}", fontsize=10)
    return fig


class RooflineExplorer(Explorer):
    """Device, rows M and tile shape: one projection against every level's roof.

    Introduced in chapters/03_roofline.ipynb.
    """

    name = "roofline"
    title = "A 4096 × 4096 projection on a hierarchical roofline (BF16)"
    figsize = (7.5, 4.6)
    controls = (
        Control("device", "device", tuple((hardware.get(n).short_label, n)
                                          for n in EXPLORER_DEVICES),
                default=0, kind="dropdown"),
        Control("m", "rows M (tokens)", tuple((str(m), m) for m in EXPLORER_MS), default=5),
        Control("tile", "output tile t_M × t_N", tuple((f"{a} × {b}", (a, b))
                                                       for a, b in EXPLORER_TILES), default=2),
    )

    def setup(self, fig: Figure) -> None:
        ax = self.ax = fig.add_subplot()
        format_roofline_axes(ax, X_RANGE, Y_RANGE)
        ax.tick_params(labelsize=9)
        dyn = self.dynamic
        self.roofs = {key: dyn(ax.plot([], [], color=_LEVEL_COLORS[key], lw=2.2)[0])
                      for key in LEVEL_KEYS}
        # top left, above the steepest roof, nothing is ever drawn: the roofs' key
        self.roof_labels = {key: dyn(ax.text(0.02, 0.96 - 0.065 * i, "", color=_LEVEL_COLORS[key],
                                             fontsize=8.5, transform=ax.transAxes, ha="left",
                                             va="top", weight="bold"))
                            for i, key in enumerate(LEVEL_KEYS)}
        self.hbm_point = dyn(ax.plot([], [], "o", color=_LEVEL_COLORS["main memory"], mec="black",
                                     ms=9, zorder=5)[0])
        self.l2_point = dyn(ax.plot([], [], "s", color=_LEVEL_COLORS["l2"], mec="black", ms=9,
                                    zorder=5)[0])
        # bottom right, under the flat roof and right of the slopes, nothing is drawn
        self.info = dyn(ax.text(0.98, 0.03, "", transform=ax.transAxes, va="bottom", ha="right",
                                fontsize=8.5, multialignment="left",
                                bbox=dict(boxstyle="round", fc="white", ec="0.7")))
        ax.set_title(self.title, fontsize=10.5)

    def update(self, *, device: str, m: int, tile: tuple[int, int], **_: Any) -> None:
        dev = hardware.get(device)
        peak = dev.peak("bf16")
        tm, tn = tile
        for key in LEVEL_KEYS:
            bw = memory.level(dev, key).bandwidth
            self.roofs[key].set_data(*roof_xy(peak, bw, X_RANGE))
            kind = memory.level(dev, key).bandwidth_kind
            self.roof_labels[key].set_text(f"— {_LEVEL_NAMES[key]}: {fmt_bandwidth(bw)} "
                                           f"({kind}), ridge {fmt_intensity(ridge_point(peak, bw))}")
        hbm = memory.level(dev, "main memory").bandwidth
        l2 = memory.level(dev, "l2").bandwidth
        compulsory = kernels.gemm(m, D, D, "bf16")
        tiled = kernels.gemm_tiled(m, D, D, tm, tn, "bf16")
        x_hbm, x_l2 = float(compulsory.intensity), float(tiled.intensity)
        y_hbm = float(attainable_flops(x_hbm, peak, hbm))
        y_l2 = float(attainable_flops(x_l2, peak, l2))
        self.hbm_point.set_data([x_hbm], [y_hbm])
        self.l2_point.set_data([x_l2], [y_l2])
        if min(y_hbm, y_l2) >= peak:
            binds = "the compute roof"
        else:
            binds = "HBM" if y_hbm <= y_l2 else "L2 (no reuse between tiles)"
        w = kernels.gemm_waves(m, D, tm, tn, dev.sm_count)
        lines = [f"{dev.short_label}: π = {fmt_flop_rate(peak)} (dense bf16)",
                 f"● vs HBM, each matrix once: I = {fmt_intensity(x_hbm)}",
                 f"■ vs L2, panels per tile: I = {fmt_intensity(x_l2)}",
                 f"bound: {binds}, at most {fmt_flop_rate(min(y_hbm, y_l2, peak))}",
                 f"{w.tiles:.0f} tiles on {dev.sm_count} SMs: {w.waves:.0f} wave"
                 f"{'s' if w.waves > 1 else ''}, {w.efficiency:.0%} of SM slots busy"]
        self.info.set_text("\n".join(lines))
