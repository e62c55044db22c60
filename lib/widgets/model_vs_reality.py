"""Chapter 8's figures: the model's three times against published measurements.

Every point is a published run (:mod:`lib.runs`): across, the time its source measured
(of what it timed: a prefill, the decode steps, a whole request); up, what the model
predicts for the same work, three ways: the floor, the per-op time and the calibrated
estimate (:func:`lib.runs.compare`). A perfect prediction lies on the diagonal; the
shaded band holds the predictions within :data:`lib.runs.TOLERANCE` of the measurement.
Nothing is computed here that :mod:`lib.runs` does not compute; these functions only
draw it.

Introduced in chapters/08_model_vs_reality.ipynb.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from lib import runs
from lib._validate import choice
from lib.plotting import COLORS, new_figure
from lib.runs import TIMES, TOLERANCE, Prediction
from lib.units import fmt_time

__all__ = ["FAMILY_STYLE", "TIME_NAMES", "RANGE", "RATIO_RANGE", "draw_predictions",
           "predicted_vs_measured", "draw_sweep", "sweep_figure"]

#: Marker and colour of each device family (:data:`lib.runs.FAMILIES`).
FAMILY_STYLE: Mapping[str, tuple[str, str]] = {
    "NVIDIA Ampere": ("o", COLORS[0]), "NVIDIA Hopper": ("s", COLORS[1]),
    "NVIDIA Ada": ("^", COLORS[2]), "AMD CDNA 3": ("D", COLORS[3]),
    "Apple M2": ("v", COLORS[4]), "NVIDIA Blackwell": ("P", COLORS[5]),
    "Google TPU": ("X", COLORS[6])}
#: What each of the model's times is called in a panel's title.
TIME_NAMES = {"floor_s": "floor", "time_s": "per-op time", "estimate_s": "calibrated estimate"}
#: Both axes' limits, seconds.
RANGE = (1e-3, 1e3)
#: The limits of predicted / measured in the lower row of :func:`predicted_vs_measured`.
RATIO_RANGE = (0.02, 4.0)
REJECTED_COLOR = "#C00000"


def _seconds(ax: Axes, axis: str) -> None:
    fmt = FuncFormatter(lambda v, _: "0" if v == 0 else fmt_time(v, 2))
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def draw_predictions(ax: Axes, predictions: Sequence[Prediction], time: str = "estimate_s",
                     tolerance: float = TOLERANCE, mine: Prediction | None = None,
                     stats: bool = True, ratio: bool = False) -> dict[str, int]:
    """Draw one of the model's times against the measured time of each run, in ``ax``.

    Counted runs (:attr:`lib.runs.Prediction.counted`) are drawn with their family's
    marker, filled for the tuning split and open for the held-out one; a rejected run as a
    red cross; runs the model cannot estimate are left out. ``mine`` adds a star.

    Parameters
    ----------
    ax : Axes
        Made log-log over :data:`RANGE`, with the diagonal and the band.
    predictions : sequence of Prediction
        From :func:`lib.runs.compare`.
    time : {"floor_s", "time_s", "estimate_s"}
        Which of the model's times goes up.
    tolerance : float
        Half-width of the band, as a share of the measurement.
    mine : Prediction, optional
        A run of the reader's (:func:`lib.runs.measurement`), drawn as a black star.
    stats : bool
        Write the median absolute error of each split in the corner.
    ratio : bool
        Draw predicted / measured up (on :data:`RATIO_RANGE`) instead of the predicted
        time: the same points, with the band and the bias easier to read.

    Returns
    -------
    dict
        How many points of each kind were drawn: ``"counted"``, ``"rejected"``, ``"mine"``.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> draw_predictions(ax, runs.compare(runs.keys("tuning")), "floor_s")
    {'counted': 73, 'rejected': 0, 'mine': 0}
    """
    lo, hi = RANGE
    x = np.geomspace(lo, hi, 50)
    scale = np.ones_like(x) if ratio else x
    ax.fill_between(x, scale * (1 - tolerance), scale * (1 + tolerance), color="0.88", lw=0,
                    zorder=0)
    ax.plot(x, scale, color="0.3", lw=1, zorder=1)
    drawn = {"counted": 0, "rejected": 0, "mine": 0}

    def up(chosen: Sequence[Prediction]) -> list[float]:
        return [getattr(p, time) / (p.measured_s if ratio else 1.0) for p in chosen]

    counted = [(p, runs.family(p.run)) for p in predictions if p.counted]   # counted once
    for fam, (marker, color) in FAMILY_STYLE.items():
        for split, face in (("tuning", color), ("held-out", "white")):
            chosen = [p for p, f in counted if p.run.split == split and f == fam]
            if chosen:
                ax.scatter([p.measured_s for p in chosen], up(chosen),
                           marker=marker, s=26, facecolors=face, edgecolors=color, lw=1,
                           zorder=3)
                drawn["counted"] += len(chosen)
    bad = [p for p in predictions if p.run.rejected]
    if bad:
        ax.scatter([p.measured_s for p in bad], up(bad), marker="x",
                   s=60, color=REJECTED_COLOR, lw=2, zorder=4)
        drawn["rejected"] = len(bad)
    if mine is not None:
        ax.scatter([mine.measured_s], up([mine]), marker="*", s=220, color="black",
                   edgecolors="white", lw=0.8, zorder=5)
        drawn["mine"] = 1
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    _seconds(ax, "x")
    if ratio:
        ax.set_ylim(*RATIO_RANGE)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        _seconds(ax, "y")
        ax.set_title(TIME_NAMES[time], fontsize=10)
    ax.set_xlabel("measured")
    ax.grid(True, which="major", alpha=0.3)
    if stats:
        lines = []
        for split in runs.SPLITS:
            chosen = [p for p, _ in counted if p.run.split == split]
            if chosen:
                s = runs.error_stats(chosen, time, tolerance)
                lines.append(f"{split}: {s.median_abs:.0%} median |error|")
        ax.text(0.04, 0.96, "\n".join(lines), transform=ax.transAxes, va="top", ha="left",
                fontsize=8, bbox=dict(facecolor="white", edgecolor="none", alpha=0.85))
    return drawn


def predicted_vs_measured(predictions: Sequence[Prediction] | None = None,
                          times: Sequence[str] = TIMES, mine: Prediction | None = None,
                          tolerance: float = TOLERANCE) -> Figure:
    """The model's times against the measured times of the published runs, one column each.

    The upper row is the prediction against the measurement (log-log, the diagonal and the
    band of :data:`lib.runs.TOLERANCE`); the lower row the same points as predicted /
    measured, where a point below 1 is a model too fast.

    Parameters
    ----------
    predictions : sequence of Prediction, optional
        Default: every published run (:func:`lib.runs.compare`).
    times : sequence of {"floor_s", "time_s", "estimate_s"}
        One panel per time, left to right.
    mine : Prediction, optional
        A run of the reader's, drawn as a star in every panel.
    tolerance : float
        Half-width of the shaded band.

    Returns
    -------
    Figure

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> fig = predicted_vs_measured()
    >>> [ax.get_title() for ax in fig.axes]
    ['floor', 'per-op time', 'calibrated estimate', '', '', '']
    """
    preds = list(runs.compare() if predictions is None else predictions)
    if not times:
        raise ValueError("times=() must name at least one of the model's times: "
                         f"{', '.join(TIMES)}.")
    fig, _ = new_figure(3.4 * len(times) + 0.4, 6.3)
    fig.clear()
    axes = fig.subplots(2, len(times), sharex=True, sharey="row", squeeze=False,
                        height_ratios=(3, 1.6))
    for top, bottom, time in zip(axes[0], axes[1], times):
        time = choice("time", time, TIMES)
        draw_predictions(top, preds, time, tolerance, mine)
        top.set_xlabel("")
        draw_predictions(bottom, preds, time, tolerance, mine, stats=False, ratio=True)
    axes[0, 0].set_ylabel("predicted by the model")
    axes[1, 0].set_ylabel("predicted / measured")
    families = {runs.family(p.run) for p in preds if p.counted}
    handles = [Line2D([], [], ls="", marker=m, color=c, markerfacecolor=c, label=fam)
               for fam, (m, c) in FAMILY_STYLE.items() if fam in families]
    handles += [Line2D([], [], ls="", marker="o", color="0.4", markerfacecolor="white",
                       label="open: held-out"),
                Patch(facecolor="0.88", label=f"within ±{tolerance:.0%}")]
    if any(p.run.rejected for p in preds):
        handles.append(Line2D([], [], ls="", marker="x", color=REJECTED_COLOR, mew=2,
                              label="rejected (below the floor)"))
    if mine is not None:
        handles.append(Line2D([], [], ls="", marker="*", color="black", ms=12, label="yours"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5),
               fontsize=8, frameon=False)
    return fig


def draw_sweep(ax: Axes, series: Mapping[str, Sequence[str]], interleaved: bool = False,
               title: str = "") -> dict[str, np.ndarray]:
    """Measured times of runs that differ in their batch, beside the model's three times.

    Parameters
    ----------
    ax : Axes
    series : mapping of label to run keys
        Each a set of measurements (one framework or source) drawn as black markers; the
        model's lines are drawn once per batch, from the first run with that batch.
    interleaved : bool
        Also draw the estimate plus the prefills a server at that concurrency spreads over
        each decode step (:func:`lib.runs.interleaved_prefill_s`).
    title : str

    Returns
    -------
    dict of ndarray
        ``"batch"`` and, for each of :data:`lib.runs.TIMES` (and ``"interleaved"``), the
        predicted time at each batch, seconds.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> out = draw_sweep(ax, {"NIM": [f"nim180-l33-70b-fp8-h100-tp2-5000-500-c{c}-itl"
    ...                               for c in (1, 5, 25, 50)]}, interleaved=True)
    >>> out["batch"].tolist(), bool(np.all(out["interleaved"] > out["estimate_s"]))
    ([1, 5, 25, 50], True)
    """
    first: dict[int, str] = {}
    for i, (label, keys) in enumerate(series.items()):
        preds = sorted(runs.compare(list(keys)), key=lambda p: p.run.batch)
        ax.plot([p.run.batch for p in preds], [p.measured_s for p in preds],
                marker=("o", "s", "D", "^")[i % 4], color="black", ls="",
                markerfacecolor="black" if i == 0 else "white", ms=6, label=label, zorder=4)
        for p in preds:
            first.setdefault(p.run.batch, p.run.key)
    batches = np.array(sorted(first))
    chosen = runs.compare([first[b] for b in batches])
    out: dict[str, np.ndarray] = {"batch": batches}
    styles = {"floor_s": (":", "0.45"), "time_s": ("--", COLORS[0]),
              "estimate_s": ("-", COLORS[1])}
    for time, (ls, color) in styles.items():
        out[time] = np.array([getattr(p, time) for p in chosen])
        ax.plot(batches, out[time], ls=ls, color=color, lw=1.6, label=TIME_NAMES[time],
                zorder=3)
    if interleaved:
        out["interleaved"] = out["estimate_s"] + np.array(
            [runs.interleaved_prefill_s(p.run) for p in chosen])
        ax.plot(batches, out["interleaved"], ls="-.", color=COLORS[2], lw=1.6,
                label="estimate + interleaved prefills", zorder=3)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylim(0, None)
    _seconds(ax, "y")
    ax.set_xlabel("batch (requests in flight)")
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return out


def sweep_figure(sweeps: Sequence[Mapping[str, Sequence[str]]], titles: Sequence[str] = (),
                 interleaved: Sequence[bool] = (), ylabels: Sequence[str] = ()) -> Figure:
    """One :func:`draw_sweep` panel per sweep, side by side.

    Parameters
    ----------
    sweeps : sequence of mappings of label to run keys
    titles, ylabels : sequence of str, optional
        One per panel.
    interleaved : sequence of bool, optional
        Per panel, whether to draw the estimate with interleaved prefills.

    Returns
    -------
    Figure

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> fig = sweep_figure([{"NIM": ["nim180-l33-70b-fp8-h100-tp2-5000-500-c1-itl",
    ...                              "nim180-l33-70b-fp8-h100-tp2-5000-500-c5-itl"]}])
    >>> len(fig.axes)
    1
    """
    if not sweeps:
        raise ValueError("sweeps=[] must hold at least one sweep of run keys.")
    fig, _ = new_figure(4.6 * len(sweeps), 3.8)
    fig.clear()
    axes = np.atleast_1d(fig.subplots(1, len(sweeps)))
    for i, (ax, sweep) in enumerate(zip(axes, sweeps)):
        draw_sweep(ax, sweep, bool(interleaved[i]) if i < len(interleaved) else False,
                   titles[i] if i < len(titles) else "")
        if i < len(ylabels):
            ax.set_ylabel(ylabels[i])
    return fig
