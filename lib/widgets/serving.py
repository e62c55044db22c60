"""Chapter 15's explorer and figures: a server's batch over time and its throughput-latency curve.

The explorer takes a request shape (chat-like or long prompts), an arrival rate, a batch
limit and a scheduler, simulates a few hundred requests of Llama-3-8B on one H100 SXM with
:func:`lib.serving.simulate` (calibrated step times), and shows the requests running and
waiting over time with the KV cache's use (:func:`lib.serving.timeline`), and the
throughput-latency curve of that scheduler and batch limit across the explorer's rates, the
chosen rate marked. Each setting is simulated once and kept (:func:`functools.lru_cache`).

The figure functions draw the chapter's static plots from :class:`lib.serving.Result`\\ s.

Introduced in chapters/15_serving.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from lib import serving
from lib.plotting import COLORS, new_figure
from lib.units import fmt_time
from lib.widgets import Control, Explorer, nice_ceiling

__all__ = ["ServingExplorer", "LENGTHS", "RATES", "BATCHES", "N_REQUESTS", "MODEL", "DEVICE",
           "simulation", "curve", "timeline_figure", "curve_figure"]

MODEL, DEVICE = "llama-3-8b", "h100-sxm"
#: Request shapes: label -> :func:`lib.serving.workload` keywords (lognormal lengths, cv 1).
LENGTHS = {
    "chat: 512 in, 256 out": serving.CHAT,
    "long prompts: 3,000 in, 250 out": dict(prompt_len=3000, output_len=250,
                                            length_dist="lognormal", cv=1.0),
}
RATES = (2.0, 5.0, 10.0, 20.0, 40.0)          # requests per second
BATCHES = (8, 32, 256)                        # max_batch
#: Requests per simulation: enough for a queue to form, few enough for a quick update.
N_REQUESTS = 300
SEED = 0
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


@lru_cache(maxsize=512)
def simulation(lengths: str, rate: float, max_batch: int, scheduler: str) -> serving.Result:
    """The explorer's simulation of one setting (kept for the next visit).

    Introduced in chapters/15_serving.ipynb.
    """
    w = serving.workload(N_REQUESTS, rate=rate, seed=SEED, model=MODEL, **LENGTHS[lengths])
    return serving.simulate(w, MODEL, DEVICE, scheduler=scheduler, max_batch=max_batch)


@lru_cache(maxsize=128)
def curve(lengths: str, max_batch: int, scheduler: str) -> tuple[Any, ...]:
    """Output tokens/s (all of them over the time to the last), p90 TTFT and TPOT (s) at
    each of :data:`RATES`.

    Introduced in chapters/15_serving.ipynb.
    """
    rs = [simulation(lengths, r, max_batch, scheduler) for r in RATES]
    return (np.array([r.throughput_tokens_per_s for r in rs]),
            np.array([r.percentiles(r.ttft_s)["p90"] for r in rs]),
            np.array([r.percentiles(r.tpot_s)["p90"] for r in rs]))


def _ms(v: float, _: Any = None) -> str:
    return f"{v:g}"


class ServingExplorer(Explorer):
    """Request shape, arrival rate, batch limit and scheduler: a server's queue and latency."""

    name = "serving"
    title = "Serving many users: rate × batch limit × scheduler"
    figsize = (9.6, 5.6)
    controls = (
        Control("lengths", "requests", tuple((k, k) for k in LENGTHS), default=0,
                kind="dropdown"),
        Control("rate", "arrival rate (requests/s)", tuple((f"{r:g}", r) for r in RATES),
                default=2, static=("2", "10", "40")),
        Control("max_batch", "batch limit", tuple((str(b), b) for b in BATCHES), default=2,
                static=("8", "256")),
        Control("scheduler", "scheduler", tuple((s, s) for s in serving.SCHEDULERS),
                default=1, kind="dropdown"),
    )

    def setup(self, fig: Figure) -> None:
        # Every limit is fixed and the time and throughput axes run from 0 to 1 with tick
        # labels drawn as dynamic text: no update redraws the background.
        fig.set_layout_engine("none")
        grid = fig.add_gridspec(3, 2, width_ratios=(1.35, 1), height_ratios=(1.3, 1, 0.36),
                                left=0.08, right=0.98, top=0.97, bottom=0.02, wspace=0.28,
                                hspace=0.5)
        qx = self.qx = fig.add_subplot(grid[0, 0])
        kx = self.kx = fig.add_subplot(grid[1, 0], sharex=qx)
        tx = self.tx = fig.add_subplot(grid[0, 1])
        px = self.px = fig.add_subplot(grid[1, 1], sharex=tx)
        head = fig.add_subplot(grid[2, :])
        head.axis("off")
        dyn = self.dynamic
        qx.set_ylabel("requests", fontsize=9)
        qx.set_ylim(0, N_REQUESTS)
        self.run_line = dyn(qx.plot([], [], color=COLORS[0], lw=1.5, label="running")[0])
        self.wait_line = dyn(qx.plot([], [], color=COLORS[1], lw=1.5, ls="--",
                                     label="waiting")[0])
        qx.legend(fontsize=7.5, loc="upper right")
        kx.set_ylabel("KV cache used (%)", fontsize=9)
        kx.set_xlabel("time (s)", fontsize=9, labelpad=12)
        kx.set_ylim(0, 100)
        self.kv_line = dyn(kx.plot([], [], color=COLORS[2], lw=1.5)[0])
        for ax, what in ((tx, "p90 TTFT (s)"), (px, "p90 TPOT (s)")):
            ax.set_ylabel(what, fontsize=9)
            ax.set_yscale("log")
            ax.yaxis.set_minor_locator(NullLocator())
        tx.set_ylim(1e-3, 1e3)
        px.set_ylim(1e-3, 1.0)
        tx.yaxis.set_major_locator(LogLocator(numticks=4))
        px.set_xlabel("output tokens/s (all / time to the last)", fontsize=9, labelpad=12)
        qx.yaxis.set_major_locator(MaxNLocator(4))
        kx.yaxis.set_major_locator(MaxNLocator(4))
        self.ticks = {}
        for ax, top in ((qx, kx), (tx, px)):
            ax.set_xlim(0.0, 1.0)
            ax.set_xticks(TICKS)
            for a in (ax, top):
                a.tick_params(labelbottom=False, labelsize=8)
                a.grid(True, alpha=0.3)
            self.ticks[top] = [dyn(top.text(x, -0.04, "", transform=top.get_xaxis_transform(),
                                            ha="center", va="top", fontsize=8))
                               for x in TICKS]
        self.ttft_line = dyn(tx.plot([], [], "-o", color=COLORS[0], ms=3, lw=1.2)[0])
        self.ttft_pt = dyn(tx.plot([], [], "o", color=COLORS[1], ms=9, mfc="none", mew=2)[0])
        self.tpot_line = dyn(px.plot([], [], "-o", color=COLORS[0], ms=3, lw=1.2)[0])
        self.tpot_pt = dyn(px.plot([], [], "o", color=COLORS[1], ms=9, mfc="none", mew=2)[0])
        self.info = dyn(head.text(0.0, 0.9, "", transform=head.transAxes, va="top", ha="left",
                                  fontsize=9, linespacing=1.4))

    def _label(self, ax: Any, top: float) -> None:
        for x, t in zip(TICKS, self.ticks[ax]):
            t.set_text(f"{x * top:,.0f}" if top >= 1000 else f"{x * top:.3g}")

    def update(self, *, lengths: str, rate: float, max_batch: int, scheduler: str,
               **_: Any) -> None:
        r = simulation(lengths, rate, max_batch, scheduler)
        tl = _timeline(lengths, rate, max_batch, scheduler)
        thr, ttft, tpot = curve(lengths, max_batch, scheduler)
        t_top = nice_ceiling(float((r.step_start_s + r.step_s).max()))   # the last token
        self._label(self.kx, t_top)
        self.run_line.set_data(tl.t_s / t_top, tl.running)
        self.wait_line.set_data(tl.t_s / t_top, tl.waiting)
        self.kv_line.set_data(tl.t_s / t_top, 100 * tl.kv_fraction)
        x_top = nice_ceiling(float(thr.max()) * 1.05)
        self._label(self.px, x_top)
        i = RATES.index(rate)
        self.ttft_line.set_data(thr / x_top, ttft)
        self.ttft_pt.set_data([thr[i] / x_top], [ttft[i]])
        self.tpot_line.set_data(thr / x_top, tpot)
        self.tpot_pt.set_data([thr[i] / x_top], [tpot[i]])

        s = r.summary()
        t, p = s["ttft_s"], s["tpot_s"]
        self.info.set_text("\n".join([
            f"{r.devices} GPU{'s' if r.devices > 1 else ''}: {r.sustained_tokens_per_s:,.0f} "
            f"tokens/s while requests arrive ({rate * float(np.mean(r.output_len)):,.0f} "
            f"offered), {r.throughput_tokens_per_s:,.0f} overall; decode batch "
            f"{r.mean_decode_batch:.0f}; {r.preemptions} preemptions",
            f"TTFT p50 {fmt_time(t['p50'])}, p99 {fmt_time(t['p99'])}; TPOT p50 "
            f"{fmt_time(p['p50'])}, p99 {fmt_time(p['p99'])}",
        ]))


@lru_cache(maxsize=512)
def _timeline(lengths: str, rate: float, max_batch: int, scheduler: str) -> serving.Timeline:
    return serving.timeline(simulation(lengths, rate, max_batch, scheduler), bins=150)


# --- the chapter's static figures ----------------------------------------------------------

def timeline_figure(results: "dict[str, serving.Result]", bins: int = 200,
                    t_end: float | None = None) -> Figure:
    """Requests running and waiting, and KV use, over time, one colour per result.

    Introduced in chapters/15_serving.ipynb.

    Examples
    --------
    >>> w = serving.workload(50, rate=5.0, prompt_len=200, output_len=100, seed=0)
    >>> rs = {s: serving.simulate(w, MODEL, DEVICE, scheduler=s) for s in ("static", "continuous")}
    >>> len(timeline_figure(rs, bins=20).axes[0].lines)
    4
    """
    fig, ax = new_figure(8.0, 5.4)
    fig.clear()
    qx, kx = fig.subplots(2, 1, sharex=True, height_ratios=(1.6, 1))
    end = t_end if t_end is not None else max(float((r.step_start_s + r.step_s).max())
                                               for r in results.values())
    for k, (label, r) in enumerate(results.items()):
        tl = serving.timeline(r, bins, t_end=end)
        c = COLORS[k % len(COLORS)]
        qx.plot(tl.t_s, tl.running, color=c, lw=1.6, label=f"{label}: running")
        qx.plot(tl.t_s, tl.waiting, color=c, lw=1.2, ls="--", label=f"{label}: waiting")
        kx.plot(tl.t_s, 100 * tl.kv_fraction, color=c, lw=1.4, label=label)
    qx.set_ylabel("requests (time-averaged)")
    qx.grid(True, alpha=0.3)
    qx.legend(fontsize=8, ncol=2)
    kx.set_ylabel("KV cache held (%)")
    kx.set_xlabel("time since the first arrival (s)")
    kx.set_ylim(bottom=0)
    kx.grid(True, alpha=0.3)
    return fig


def curve_figure(rates: Sequence[float], curves: "dict[str, Sequence[serving.Result]]",
                 ttft_s: float | None = None, tpot_s: float | None = None) -> Figure:
    """Throughput against the arrival rate, and p50/p99 TTFT and TPOT against throughput.

    ``curves`` maps a label to one result per rate; the objectives, if given, are drawn as
    horizontal lines.

    Introduced in chapters/15_serving.ipynb.

    Examples
    --------
    >>> rs = serving.sweep_rates([1.0, 5.0], 60, MODEL, DEVICE,
    ...                          workload_kw=dict(prompt_len=200, output_len=50))
    >>> len(curve_figure([1.0, 5.0], {"continuous": rs}).axes)
    3
    """
    fig, _ = new_figure(10.0, 3.6)
    fig.clear()
    ax, bx, cx = fig.subplots(1, 3)
    rates = np.asarray(rates, float)
    for k, (label, rs) in enumerate(curves.items()):
        c = COLORS[k % len(COLORS)]
        thr = np.array([r.sustained_tokens_per_s for r in rs])
        ax.plot(rates, thr, "-o", color=c, ms=3, label=label)
        for q, ls in (("p50", "-"), ("p99", ":")):
            bx.plot(thr, [r.percentiles(r.ttft_s)[q] for r in rs], ls, marker="o", ms=3,
                    color=c, label=f"{label} {q}")
            cx.plot(thr, [r.percentiles(r.tpot_s)[q] * 1e3 for r in rs], ls, marker="o",
                    ms=3, color=c, label=f"{label} {q}")
    offered = rates * float(np.mean(next(iter(curves.values()))[0].output_len))
    ax.plot(rates, offered, color="0.6", lw=1, ls="--", label="offered")
    ax.set_xlabel("arrival rate λ (requests/s)")
    ax.set_ylabel("sustained output tokens/s")
    ax.set_title("throughput saturates", fontsize=10)
    bx.set_yscale("log")
    bx.set_ylabel("TTFT (s)")
    bx.set_title("queueing: TTFT explodes", fontsize=10)
    cx.set_ylabel("TPOT (ms)")
    cx.set_title("the batch grows: TPOT rises", fontsize=10)
    if ttft_s is not None:
        bx.axhline(ttft_s, color="0.3", lw=1, ls="-.", label="objective")
    if tpot_s is not None:
        cx.axhline(tpot_s * 1e3, color="0.3", lw=1, ls="-.", label="objective")
    for a in (bx, cx):
        a.set_xlabel("sustained output tokens/s")
    for a in (ax, bx, cx):
        a.grid(True, alpha=0.3)
        a.legend(fontsize=7)
    return fig
