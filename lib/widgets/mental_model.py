"""Chapter 7's figures and explorer: prefill and decode on one roofline.

A prefill multiplies each weight matrix by a whole prompt (a matrix), so its
arithmetic intensity grows with the prompt and it lands right of the ridge; a
decode step multiplies each weight matrix by one token per sequence (a vector
per sequence), so it starts far left and moves right as the batch grows, until
every extra sequence brings as many KV-cache bytes as it brings FLOPs
(:func:`lib.regimes.decode_ceiling`). The figure functions draw that picture for a model
and one or more devices; :class:`MentalModelExplorer` lets the reader change
the device, the model, the batch and the prompt length.

Every point is an :class:`lib.inference.Estimate` placed at its arithmetic
intensity and at the FLOP/s its per-op time achieves (``flops / time_s``,
:func:`lib.inference.roofline_point`). Because that time is summed op by op, a point sits on
or slightly below the roof drawn for the whole forward.

Introduced in chapters/07_mental_model.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lib import hardware, inference, models
from lib.inference import request_phases, roofline_point
from lib.regimes import decode_ceiling
from lib.plotting import COLORS, format_roofline_axes, new_figure, roof_xy
from lib.roofline import ridge_point
from lib.units import fmt_bytes, fmt_count, fmt_intensity, fmt_time
from lib.widgets import Control, Explorer

__all__ = ["MentalModelExplorer", "draw_phases", "phases_figure", "summary_figure",
           "request_figure", "DECODE_BATCHES", "X_RANGE", "Y_RANGE"]

X_RANGE = (0.4, 6e3)
Y_RANGE = (1e11, 6e15)
#: The decode batches drawn as a trail (powers of two).
DECODE_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
DEVICES = ("h100-sxm", "a100-sxm-80gb", "l4", "mi300x")
MODELS = ("llama-3-8b", "llama-2-7b", "qwen2-7b")
BATCHES = (1, 4, 16, 64, 256)
PROMPTS = (512, 2048, 4096)
PREFILL_COLOR, DECODE_COLOR, ROOF_COLOR = COLORS[1], COLORS[0], "0.25"


def _roof(ax: Axes, device: "str | hardware.Device", dtype: str) -> float:
    """Draw ``device``'s roof at ``dtype`` with its ridge marked; return the ridge."""
    device = hardware.get(device)
    peak, bw = device.peak(dtype), device.memory_bandwidth
    ax.plot(*roof_xy(peak, bw, X_RANGE), color=ROOF_COLOR, lw=2)
    ridge = ridge_point(peak, bw)
    ax.axvline(ridge, color=ROOF_COLOR, ls=":", lw=1)
    ax.text(ridge, peak * 1.35, f"ridge {ridge:.0f}", fontsize=8, color=ROOF_COLOR,
            va="bottom", ha="center")
    return ridge


def draw_phases(ax: Axes, model: Any, device: Any, prompt_len: int = 2048,
                context: int | None = None, batches: Sequence[int] = DECODE_BATCHES, *,
                prefill_batch: int = 1, roof: bool = True, prefill: bool = True,
                ceiling: bool = True, color: str = DECODE_COLOR, label: str | None = None,
                annotate: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Draw a prefill and a trail of decode steps on ``device``'s roofline in ``ax``.

    Parameters
    ----------
    ax : Axes
        Formatted here with :func:`lib.plotting.format_roofline_axes` (fixed limits
        :data:`X_RANGE`, :data:`Y_RANGE`) when ``roof`` is true.
    model, device : str or object
        Catalog names or objects, as in :func:`lib.inference.decode`.
    prompt_len : int
        Tokens per prompt of the prefill.
    context : int, optional
        Tokens cached in each decode step; default ``prompt_len``.
    batches : sequence of int
        Decode batch sizes, one point each. Points whose KV cache does not fit beside
        the weights are drawn hollow.
    prefill_batch : int
        Prompts prefilled together.
    roof, prefill, ceiling : bool
        Draw the roof (and format the axes), the prefill point, and the decode ceiling
        (:func:`lib.regimes.decode_ceiling`, a dashed vertical line).
    color, label : str
        Colour and legend label of the decode trail.
    annotate : bool
        Write TTFT beside the prefill and TPOT beside the first and last decode points.
    **kwargs
        ``weight_dtype``, ``kv_dtype``... passed to :func:`lib.inference.prefill` and
        :func:`lib.inference.decode`. The roof is drawn for the matmuls' compute dtype.

    Returns
    -------
    dict
        ``prefill`` and ``decode`` (the :class:`~lib.inference.Estimate` objects),
        ``ceiling`` (FLOP/byte) and ``ridge`` (FLOP/byte, or ``None`` without a roof).

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> out = draw_phases(ax, "llama-3-8b", "h100-sxm", 2048)
    >>> out["prefill"].bound, out["decode"].bound.tolist()[0], round(out["ridge"])
    ('compute', 'memory', 295)
    """
    dev = hardware.get(device)
    ctx = prompt_len if context is None else context
    weight_dtype = kwargs.get("weight_dtype", "bf16")
    ridge = None
    if roof:
        format_roofline_axes(ax, X_RANGE, Y_RANGE)
        ridge = _roof(ax, dev, inference.compute_dtype_for(weight_dtype, dev))
    b = np.asarray(batches)
    dec = inference.decode(model, dev, b, ctx, **kwargs)
    x, y = roofline_point(dec)
    fits = np.asarray(dec.fits, bool)
    ax.plot(x, y, "-", color=color, lw=1, alpha=0.5)
    ax.plot(x[fits], y[fits], "o", color=color, ms=6, zorder=4,
            label=label or f"decode, batch {b[0]}→{b[-1]} at context {ctx}")
    ax.plot(x[~fits], y[~fits], "o", mfc="white", mec=color, ms=6, zorder=4)
    if annotate:
        ax.annotate(f"B={b[0]}: TPOT {fmt_time(dec.time_s[0])}", (x[0], y[0]), xytext=(8, -4),
                    textcoords="offset points", fontsize=8, color=color, va="top")
        ax.annotate(f"B={b[-1]}: TPOT {fmt_time(dec.time_s[-1])}", (x[-1], y[-1]),
                    xytext=(-6, 8), textcoords="offset points", fontsize=8, color=color,
                    ha="right")
    ceil = decode_ceiling(model, dev, ctx, **kwargs)
    if ceiling:
        ax.axvline(ceil, color=color, ls="--", lw=1, alpha=0.8)
        ax.text(ceil * 1.08, Y_RANGE[0] * 1.3, f"ceiling {ceil:.0f}", rotation=90,
                fontsize=8, color=color, ha="left", va="bottom")
    pre = None
    if prefill:
        pre = inference.prefill(model, dev, prefill_batch, prompt_len, **kwargs)
        px, py = roofline_point(pre)
        ax.plot([px], [py], "s", color=PREFILL_COLOR, ms=9, zorder=5, mec="black",
                label=f"prefill, {prefill_batch}×{prompt_len} tokens")
        if annotate:
            ax.annotate(f"TTFT {fmt_time(pre.time_s)}", (px, py), xytext=(0, -16),
                        textcoords="offset points", fontsize=8, color=PREFILL_COLOR,
                        ha="center", va="top")
    return {"prefill": pre, "decode": dec, "ceiling": ceil, "ridge": ridge}


def phases_figure(model: Any, devices: Sequence[Any], prompt_len: int = 2048,
                  context: int | None = None, batches: Sequence[int] = DECODE_BATCHES,
                  **kwargs: Any) -> Figure:
    """One roofline panel per device, each with :func:`draw_phases`'s prefill and decode trail.

    The panels share both axes, so the same workload's points sit at the same
    intensities while each device's ridge moves. Keywords as in :func:`draw_phases`.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> fig = phases_figure("llama-3-8b", ["h100-sxm", "l4"])
    >>> len(fig.axes)
    2
    """
    if not devices:
        raise ValueError("devices=[] must name at least one device.")
    n = len(devices)
    fig, ax0 = new_figure(4.6 * n if n > 1 else 7.0, 4.6)
    fig.delaxes(ax0)
    axes = fig.subplots(1, n, sharex=True, sharey=True, squeeze=False)[0]
    m = models.get(model)
    for i, (ax, d) in enumerate(zip(axes, devices)):
        dev = hardware.get(d)
        draw_phases(ax, m, dev, prompt_len, context, batches, **kwargs)
        ax.set_title(f"{dev.label}", fontsize=10)
        if i:
            ax.set_ylabel("")
        if i == 0:
            ax.legend(loc="upper left", fontsize=7.5)
    fig.suptitle(f"{m.label}: prefill and decode on the roofline", fontsize=11)
    return fig


def summary_figure(model: Any = "llama-3-8b", device: Any = "h100-sxm",
                   prompt_len: int = 2048) -> Figure:
    """The chapter's one picture: prefill, decode, batching and fewer bytes on one roofline.

    :func:`draw_phases` for ``model`` on ``device`` in BF16, plus the same decode trail
    with INT8 weights and an FP8 KV cache (the math stays in BF16, so the roof does not
    move), annotated with what sets each phase's time.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> len(summary_figure().axes[0].texts) >= 4
    True
    """
    fig, ax = new_figure(8.0, 5.4)
    base = draw_phases(ax, model, device, prompt_len, annotate=False)
    lean = draw_phases(ax, model, device, prompt_len, roof=False, prefill=False,
                       annotate=False, color=COLORS[2], weight_dtype="int8", kv_dtype="fp8",
                       label="decode, INT8 weights + FP8 KV cache")
    px, py = roofline_point(base["prefill"])
    dx, dy = roofline_point(base["decode"])
    lx, _ = roofline_point(lean["decode"])
    label_box = dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.9)
    ax.annotate("PREFILL: compute-bound\nTTFT ≈ $F/\\pi$ = "
                f"{fmt_time(base['prefill'].time_s)}", (px, py), xytext=(-10, -70),
                textcoords="offset points", ha="center", fontsize=9, color=PREFILL_COLOR,
                bbox=label_box, arrowprops=dict(arrowstyle="->", color=PREFILL_COLOR))
    ax.annotate("DECODE: memory-bound\nTPOT ≈ $Q/\\beta$ = "
                f"{fmt_time(base['decode'].time_s[0])}", (dx[0], dy[0]), xytext=(5, -60),
                textcoords="offset points", fontsize=9, color=DECODE_COLOR,
                arrowprops=dict(arrowstyle="->", color=DECODE_COLOR))
    ax.annotate("", (dx[5], dy[5] * 2.5), xytext=(dx[1], dy[1] * 2.5),
                arrowprops=dict(arrowstyle="->", lw=1.5, color="0.3"))
    ax.text(dx[3], dy[3] * 4.5, "batching →", rotation=33, fontsize=9, color="0.3",
            ha="center", va="center")
    ax.annotate("", (lx[7], dy[7] / 2.5), xytext=(dx[7], dy[7] / 2.5),
                arrowprops=dict(arrowstyle="->", lw=1.5, color=COLORS[2]))
    ax.text(np.sqrt(dx[7] * lx[7]), dy[7] / 3.6, "fewer bytes", fontsize=9, color=COLORS[2],
            ha="center", va="top", bbox=label_box)
    ax.text(base["ceiling"] / 1.15, Y_RANGE[1] / 2.7, "KV reads cap\ndecode here", fontsize=8,
            color=DECODE_COLOR, ha="right", va="top", bbox=label_box)
    ax.text(base["ridge"] * 1.15, Y_RANGE[0] * 3, "ridge $I^* = \\pi/\\beta$:\nleft of it, buy "
            "bandwidth;\nright of it, buy FLOP/s", fontsize=8, color=ROOF_COLOR, ha="left",
            va="bottom")
    ax.legend(loc="upper left", fontsize=8)
    m = models.get(model)
    dev = hardware.get(device)
    ax.set_title(f"The mental model: {m.label} on the {dev.label}, {prompt_len}-token prompt",
                 fontsize=10.5)
    return fig


def request_figure(model: Any, device: Any, shapes: dict[str, tuple[int, int]],
                   batches: Sequence[int] = (1, 16), **kwargs: Any) -> Figure:
    """Stacked bars of :func:`lib.inference.request_phases`: prefill and decode time per shape.

    ``shapes`` maps a name to ``(prompt_len, output_len)``.

    One panel per batch size. Keywords as in :func:`lib.inference.decode`.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> len(request_figure("llama-3-8b", "h100-sxm", {"chat": (256, 512)}).axes)
    2
    """
    fig, ax0 = new_figure(9.0, 3.6)
    fig.delaxes(ax0)
    axes = fig.subplots(1, len(batches), sharey=True, squeeze=False)[0]
    names = [f"{s} ({p} → {n})" for s, (p, n) in shapes.items()]
    for ax, b in zip(axes, batches):
        split = [request_phases(model, device, b, p_in, n_out, **kwargs)
                 for p_in, n_out in shapes.values()]
        first = np.array([t for t, _ in split])
        rest = np.array([t for _, t in split])
        ax.barh(names, first, color=PREFILL_COLOR, label="prefill (TTFT)")
        ax.barh(names, rest, left=first, color=DECODE_COLOR,
                label="decode: (n_out − 1) × TPOT")
        ax.set_xlabel("seconds")
        ax.set_title(f"batch {b}" + (" (prompts prefilled together)" if b > 1 else ""),
                     fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower right", fontsize=8)
    m = models.get(model)
    dev = hardware.get(device)
    fig.suptitle(f"Where a request's time goes (prompt → output tokens): {m.label} on the "
                 f"{dev.label}", fontsize=10.5)
    return fig


class MentalModelExplorer(Explorer):
    """Device, model, batch and prompt length: prefill and decode on the device's roofline."""

    name = "mental_model"
    title = "Prefill and decode on one roofline"
    figsize = (7.8, 5.6)
    controls = (
        Control("device", "device", tuple((d, d) for d in DEVICES), kind="dropdown"),
        Control("model", "model", tuple((models.get(m).label, m) for m in MODELS),
                kind="dropdown"),
        Control("batch", "batch (sequences)", tuple((str(b), b) for b in BATCHES), default=0),
        Control("prompt_len", "prompt length = decode context (tokens)",
                tuple((str(p), p) for p in PROMPTS), default=1, static=False),
    )

    def setup(self, fig: Figure) -> None:
        ax, box = fig.subplots(2, 1, height_ratios=(5.2, 1))
        self.ax = ax
        box.set_axis_off()
        format_roofline_axes(ax, X_RANGE, Y_RANGE)
        dyn = self.dynamic
        self.roof_line = dyn(ax.plot([], [], color=ROOF_COLOR, lw=2)[0])
        self.ridge_line = dyn(ax.axvline(1.0, color=ROOF_COLOR, ls=":", lw=1))
        self.ridge_text = dyn(ax.text(1.0, 1.0, "", fontsize=8, color=ROOF_COLOR,
                                      va="bottom", ha="center"))
        self.ceiling_line = dyn(ax.axvline(1.0, color=DECODE_COLOR, ls="--", lw=1))
        self.ceiling_text = dyn(ax.text(1.0, Y_RANGE[0] * 1.3, "", fontsize=8,
                                        color=DECODE_COLOR, rotation=90, va="bottom",
                                        ha="left"))
        self.trail = dyn(ax.plot([], [], "-", color=DECODE_COLOR, lw=1, alpha=0.5)[0])
        self.trail_fit = dyn(ax.plot([], [], "o", color=DECODE_COLOR, ms=5, alpha=0.6)[0])
        self.trail_out = dyn(ax.plot([], [], "o", mfc="white", mec=DECODE_COLOR, ms=5)[0])
        self.decode_point = dyn(ax.plot([], [], "o", color=DECODE_COLOR, ms=11, mec="black",
                                        zorder=5)[0])
        self.decode_label = dyn(ax.annotate("", (1, 1), xytext=(10, -6),
                                            textcoords="offset points", fontsize=9,
                                            color=DECODE_COLOR, weight="bold", va="top"))
        self.prefill_point = dyn(ax.plot([], [], "s", color=PREFILL_COLOR, ms=11, mec="black",
                                         zorder=5)[0])
        self.prefill_label = dyn(ax.annotate("", (1, 1), xytext=(0, -14),
                                             textcoords="offset points", fontsize=9,
                                             color=PREFILL_COLOR, weight="bold", ha="center",
                                             va="top"))
        self.info = dyn(box.text(0.5, 0.5, "", transform=box.transAxes, ha="center",
                                 va="center", fontsize=9, linespacing=1.4,
                                 bbox=dict(boxstyle="round", fc="white", ec="0.7")))
        handles = [
            Line2D([], [], marker="s", ls="", color=PREFILL_COLOR, mec="black", ms=8,
                   label="prefill (all B prompts together)"),
            Line2D([], [], marker="o", ls="", color=DECODE_COLOR, mec="black", ms=8,
                   label="decode step at batch B"),
            Line2D([], [], marker="o", ls="-", lw=1, color=DECODE_COLOR, alpha=0.6, ms=5,
                   label="decode, batch 1→256 (hollow: KV does not fit)"),
            Line2D([], [], ls="--", color=DECODE_COLOR, lw=1,
                   label="decode ceiling (batch → ∞)"),
        ]
        ax.legend(handles=handles, loc="upper left", fontsize=7.5)
        ax.set_title(self.title, fontsize=11)

    def update(self, *, device: str, model: str, batch: int, prompt_len: int,
               **_: Any) -> None:
        dev = hardware.get(device)
        m = models.get(model)
        dtype = inference.compute_dtype_for("bf16", dev)
        peak, bw = dev.peak(dtype), dev.memory_bandwidth
        self.roof_line.set_data(*roof_xy(peak, bw, X_RANGE))
        ridge = ridge_point(peak, bw)
        self.ridge_line.set_xdata([ridge, ridge])
        self.ridge_text.set_position((ridge, peak * 1.35))
        self.ridge_text.set_text(f"ridge {ridge:.0f}")

        trail = inference.decode(m, dev, np.asarray(DECODE_BATCHES), prompt_len)
        x, y = roofline_point(trail)
        fits = np.asarray(trail.fits, bool)
        self.trail.set_data(x, y)
        self.trail_fit.set_data(x[fits], y[fits])
        self.trail_out.set_data(x[~fits], y[~fits])
        i = DECODE_BATCHES.index(batch)
        self.decode_point.set_data([x[i]], [y[i]])
        self.decode_point.set_markerfacecolor(DECODE_COLOR if fits[i] else "white")
        self.decode_label.xy = (x[i], y[i])
        self.decode_label.set_text(f"B={batch}")

        ceil = decode_ceiling(m, dev, prompt_len)
        self.ceiling_line.set_xdata([ceil, ceil])
        self.ceiling_text.set_x(ceil * 1.08)
        self.ceiling_text.set_text(f"ceiling {ceil:.0f}")

        pre = inference.prefill(m, dev, batch, prompt_len)
        px, py = roofline_point(pre)
        self.prefill_point.set_data([px], [py])
        self.prefill_label.xy = (px, py)
        self.prefill_label.set_text("prefill")

        t_d = float(trail.time_s[i])
        need = float(trail.memory_required[i])
        lines = [
            f"prefill: {fmt_intensity(pre.arithmetic_intensity)}, {pre.bound}-bound, "
            f"TTFT {fmt_time(pre.time_s)}",
            f"decode: {fmt_intensity(x[i])}, {trail.bound[i]}-bound, TPOT {fmt_time(t_d)}",
            f"{fmt_count(batch / t_d)} tokens/s; {fmt_bytes(need)} of "
            f"{fmt_bytes(dev.memory_capacity)}" + ("" if fits[i] else " ✗ won't fit"),
        ]
        self.info.set_text("\n".join(lines))
