"""A decode step in time: the host launching kernels, the GPU running them, and the gaps.

The host (the CPU) starts every kernel of a step with a launch that takes it a few
microseconds; the GPU runs each kernel for its per-op time (:mod:`lib.inference`). The
two work asynchronously, so a kernel starts when both its launch is done and the kernel
before it has finished. When kernels are longer than a launch, the host runs ahead and
its launches hide; when they are shorter, the GPU waits for the host and idles between
them. A CUDA graph records the step's kernels once and replays them with one launch per
step, so the GPU runs them back to back.

What the diagram draws comes from :mod:`lib`: the kernels and their per-op times from
:func:`lib.inference.decode` (its ``ops``: one kernel per call, a fused attention one
kernel per layer), their count as :func:`lib.inference.launch_floor` counts it. The
launch latency is a parameter, as in :func:`lib.inference.launch_floor`. The replayed
graph is idealised: a real GPU still spends a little time between two kernels.

Introduced in chapters/06_decode.ipynb.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from lib import hardware, inference, models
from lib._validate import positive
from lib.diagrams import COLORS, FAINT, INK, box, canvas
from lib.inference import Estimate

__all__ = ["Kernel", "LAYER_ORDER", "step_kernels", "schedule", "decode_timeline"]

#: The ops of one layer in the order a GPU runs them (the block sketched in
#: :mod:`lib.transformer`); the norms and the residual adds run twice per layer. Ops a
#: model does not have (a router, RoPE) are skipped; an op with no launches of its own
#: (the softmax and the second matmul of a fused attention) joins the kernel before it.
LAYER_ORDER = ("norms", "QKV projection", "RoPE and KV write", "KV write",
               "attention scores QK^T", "softmax", "attention x V", "output projection",
               "residual adds", "norms", "router", "MLP up", "activation", "MLP down",
               "expert combine", "residual adds")

#: Short labels for the diagram.
SHORT = {"embedding": "emb", "norms": "norm", "QKV projection": "QKV",
         "RoPE and KV write": "RoPE", "KV write": "KV", "attention scores QK^T": "attn",
         "softmax": "soft", "attention x V": "AV", "output projection": "O",
         "residual adds": "add", "router": "route", "MLP up": "up", "activation": "act",
         "MLP down": "down", "expert combine": "comb", "final norm": "norm", "LM head": "head"}

#: A colour for each roof an op runs on (:data:`lib.transformer.ROOFS`), matching the
#: weights, KV cache and activations colours of chapter 6's figures.
ROOF_COLORS = {"matmul": COLORS[0], "attention": COLORS[1], "vector": COLORS[5]}
ROOF_LABELS = {"matmul": "weight matrix product", "attention": "attention (reads the KV cache)",
               "vector": "elementwise (norm, RoPE, add, activation)"}


@dataclass(frozen=True)
class Kernel:
    """One kernel launch of a step: its short label, its roof and its per-op time, seconds."""

    label: str
    roof: str
    time_s: float


def step_kernels(estimate: Estimate) -> tuple[Kernel, ...]:
    """The kernels of a single-step estimate, in the order the GPU runs them.

    One kernel per launch (:attr:`lib.inference.OpCost.calls`): the embedding, then each
    layer's kernels in :data:`LAYER_ORDER`, then the final norm and the LM head. Each
    takes its op's per-op time divided by its launches; an op with no launches of its
    own adds its time to the kernel before it. So there are as many kernels as
    :func:`lib.inference.launch_floor` counts, and their times add up to the estimate's
    ``compute_time_s``.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> est = inference.decode("llama-2-7b", "h100-sxm", batch=1, context=1024)
    >>> ks = step_kernels(est)
    >>> len(ks) == inference.launch_floor(est, 1.0), [k.label for k in ks[1:12]]
    (True, ['norm', 'QKV', 'RoPE', 'attn', 'O', 'add', 'norm', 'up', 'act', 'down', 'add'])
    >>> round(sum(k.time_s for k in ks) / est.compute_time_s, 9)
    1.0
    """
    if np.ndim(estimate.time_s) or estimate.tp != 1:
        raise ValueError("estimate: pass one step on one device (a single batch and context, "
                         "tp=1); a timeline is drawn for one configuration.")
    ops = {o.name: o for o in estimate.ops}
    n_layers = models.get(estimate.model).n_layers
    layer: list[list[Any]] = []
    seen: dict[str, int] = {}
    for name in LAYER_ORDER:
        op = ops.get(name)
        if op is None:
            continue
        if op.calls == 0:
            if not layer:
                raise ValueError(f"{name} has no kernel of its own and nothing before it.")
            layer[-1][2] += float(op.time_s) / n_layers
            continue
        per_layer = op.calls // n_layers
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > per_layer:
            raise ValueError(f"{name}: {op.calls} launches do not fit {LAYER_ORDER}.")
        layer.append([SHORT[name], op.roof, float(op.time_s) / op.calls])
    once = [ops[n] for n in ("embedding", "final norm", "LM head") if n in ops]
    kernels = [Kernel(SHORT[once[0].name], once[0].roof, float(once[0].time_s))]
    kernels += [Kernel(*k) for _ in range(n_layers) for k in layer]
    kernels += [Kernel(SHORT[o.name], o.roof, float(o.time_s)) for o in once[1:]]
    return tuple(kernels)


def schedule(times_s: Any, launch_latency_s: float, graph: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
    """When each kernel's launch ends and when the GPU starts it, seconds from the step's start.

    Eager: the host launches kernel ``i`` during ``[i t, (i + 1) t]`` for a launch latency
    ``t``, and the GPU starts it once that launch is done and kernel ``i - 1`` has
    finished. With ``graph=True`` one launch of ``t`` starts the whole step and the GPU
    runs the kernels back to back.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> ready, start = schedule([1e-6, 8e-6, 1e-6], 5e-6)   # the second kernel outlasts a launch
    >>> (ready * 1e6).round(1).tolist(), (start * 1e6).round(1).tolist()
    ([5.0, 10.0, 15.0], [5.0, 10.0, 18.0])
    >>> (schedule([1e-6, 8e-6, 1e-6], 5e-6, graph=True)[1] * 1e6).round(1).tolist()
    [5.0, 6.0, 14.0]
    """
    d = np.asarray(positive("times_s", times_s, allow_zero=True), float).ravel()
    t = float(positive("launch_latency_s", launch_latency_s, allow_zero=True))
    ready = np.full(d.size, t) if graph else t * np.arange(1, d.size + 1)
    start = np.empty_like(d)
    end = 0.0
    for i, (r, di) in enumerate(zip(ready, d)):
        start[i] = max(r, end)
        end = start[i] + di
    return ready, start


def decode_timeline(model: Any, device: Any, batch: int = 1, context: int = 1024, *,
                    launch_latency_s: float = 5e-6, layers: int = 2,
                    width: float = 7.0, **kwargs: Any) -> Figure:
    """The first ``layers`` layers of a decode step in time, launched eagerly and as a CUDA graph.

    Four lanes: the host launching one kernel per ``launch_latency_s``; the GPU running
    each kernel for its per-op time as soon as it is launched and the one before it is
    done (hatched: idle, waiting for the host); the host launching the whole step once
    as a CUDA graph; the GPU running the same kernels back to back. Kernels are coloured
    by the units they run on; those too short to see are drawn as thin slivers. Keywords
    go to :func:`lib.inference.decode` (dtypes...).

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> fig = decode_timeline("gpt2", "h100-sxm", layers=1)
    >>> fig.axes[0].get_xlabel()
    'time from the start of the step (µs)'
    >>> any("idle" in t.get_text() for t in fig.axes[0].texts)
    True
    """
    m, dev = models.get(model), hardware.get(device)
    n_layers = int(positive("layers", layers, integer=True))
    if n_layers > m.n_layers:
        raise ValueError(f"layers={layers} must be at most the model's {m.n_layers} layers.")
    est = inference.decode(m, dev, batch, context, **kwargs)
    kernels = step_kernels(est)
    per_layer = (len(kernels) - 3) // m.n_layers
    shown = kernels[:1 + n_layers * per_layer]
    lat = float(positive("launch_latency_s", launch_latency_s))
    d = np.array([k.time_s for k in shown])
    ready, start = schedule(d, lat)
    _, g_start = schedule(d, lat, graph=True)
    us = 1e6
    x_max = max(start[-1] + d[-1], ready[-1]) * us * 1.04
    fig, ax = canvas(width, 3.5, units=(x_max, 12.0))
    sliver = x_max / 500

    def lane(y: float, title: str) -> None:
        ax.text(0, y + 1.55, title, ha="left", va="bottom", fontsize=8.5, color=INK)

    def kernel_row(y: float, begins: np.ndarray) -> None:
        for k, s in zip(shown, begins):
            c = ROOF_COLORS[k.roof]
            w = k.time_s * us
            box(ax, s * us, y, max(w, sliver), 1.4, color=c,
                edge="white" if w > 4 * sliver else c, round_=0)

    # lane 1: eager launches
    y1 = 9.3
    lane(y1, f"host, eager: one launch per kernel, {lat * us:g} µs each")
    for k, r in zip(shown, ready):
        box(ax, (r - lat) * us, y1, lat * us * 0.94, 1.4,
            k.label if lat * us / x_max * width > 0.18 else "", color=FAINT, fontsize=6.2,
            round_=0)
    for j in range(n_layers):
        a = (1 + j * per_layer) * lat * us
        b = a + per_layer * lat * us
        ax.annotate("", (a, y1 - 0.25), (b, y1 - 0.25),
                    arrowprops=dict(arrowstyle="|-|", lw=0.8, color="0.4",
                                    shrinkA=0, shrinkB=0, mutation_scale=3))
        ax.text((a + b) / 2, y1 - 0.25, f"layer {j + 1}", ha="center", va="center",
                fontsize=7, color="0.3", bbox=dict(boxstyle="square,pad=0.15", fc="white",
                                                  ec="none"))

    # lane 2: eager GPU, with its idle gaps
    y2 = 6.4
    ends = start + d
    idle = np.maximum(start - np.concatenate([[0.0], ends[:-1]]), 0.0)
    idle_share = idle.sum() / ends[-1]
    lane(y2, f"GPU, eager: each kernel runs once launched and the one before is done "
             f"(idle {idle_share:.0%} of this time)")
    for gap_start, gap in zip(start - idle, idle):
        if gap * us > sliver:
            ax.add_patch(Rectangle((gap_start * us, y2), gap * us, 1.4, facecolor="white",
                                   edgecolor="0.6", hatch="////", lw=0.5))
    kernel_row(y2, start)
    widest = int(np.argmax(idle))
    if idle[widest] * us / x_max * width > 0.3:
        ax.text((start[widest] - idle[widest] / 2) * us, y2 + 0.7, "idle", ha="center",
                va="center", fontsize=7, color="0.3",
                bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none"))

    # lane 3 and 4: one graph launch, kernels back to back
    y3, y4 = 3.9, 1.0
    lane(y3, "host, CUDA graph: one launch replays the whole step")
    box(ax, 0, y3, lat * us * 0.94, 1.4, color=FAINT, round_=0)
    g_end = g_start[-1] + d[-1]
    lane(y4, f"GPU, CUDA graph: the same kernels back to back, done at "
             f"{g_end * us:.0f} µs instead of {ends[-1] * us:.0f} µs")
    kernel_row(y4, g_start)

    ax.set_ylim(0.6, 12.0)
    ax.axis("on")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("time from the start of the step (µs)", fontsize=8.5)
    handles = [Patch(facecolor=ROOF_COLORS[r], label=ROOF_LABELS[r]) for r in ROOF_COLORS
               if any(k.roof == r for k in shown)]
    handles.append(Patch(facecolor="white", edgecolor="0.5", hatch="////", label="GPU idle"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4,
              fontsize=7.5, frameon=False, handlelength=1.2, columnspacing=1.0)
    ax.set_title(f"{m.label} on {dev.short_label}, batch {batch}, {context:,} tokens cached: "
                 f"the embedding and the first {n_layers} of {m.n_layers} layers",
                 fontsize=9.5, pad=22)
    return fig
