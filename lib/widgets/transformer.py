"""Chapter 4's explorer and figures: where a transformer's parameters, bytes and FLOPs go.

Every breakdown here sorts a model's costs into the same six groups (:data:`GROUPS`),
drawn in the same colours everywhere: the embedding table, the attention projections
(Q, K, V and O), the MLP (every expert and the router in a mixture of experts), the LM
head, the **context** (the KV cache and the attention arithmetic over it, the only
part that grows with the sequence) and the rest (norms, residual adds, activations).

The explorer shows three 100 % bars for a catalog model, a KV-cache precision and a
context length: the memory one sequence holds, the bytes one decode step moves, and
the FLOPs one token costs (:func:`lib.transformer.breakdown`). The figure functions draw
the chapter's static plots. All numbers come from :mod:`lib.models`,
:mod:`lib.transformer` and :mod:`lib.inference`.

Introduced in chapters/04_transformer_arithmetic.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lib import inference, models, transformer
from lib.capacity import kv_cache_bytes
from lib.models import KV_DTYPES as _ALL_KV
from lib.plotting import COLORS, new_figure
from lib.transformer import GROUPS, breakdown
from lib.units import fmt_bytes, fmt_count, fmt_flops
from lib.widgets import Control, Explorer

__all__ = ["GROUP_COLORS", "CONTEXTS", "KV_DTYPES", "TransformerExplorer", "params_figure",
           "flops_context_figure", "kv_ratio_figure", "op_bytes_figure"]

#: One colour per group of :data:`lib.transformer.GROUPS` (Okabe-Ito, as every figure).
GROUP_COLORS = {
    "embedding": COLORS[5], "attention": COLORS[0], "mlp": COLORS[2], "lm_head": COLORS[3],
    "context": COLORS[1], "other": "0.72",
}
#: Context lengths the explorer offers (tokens).
CONTEXTS = (1024, 4096, 8192, 16384, 32768, 131072)
#: KV-cache precisions the explorer offers.
KV_DTYPES = tuple(d for d in ("bf16", "fp8", "int8") if d in _ALL_KV)


class TransformerExplorer(Explorer):
    """Model, KV-cache precision and context: memory held, bytes read and FLOPs, by component."""

    name = "transformer"
    title = "Where one token's memory, bytes and FLOPs go"
    figsize = (7.6, 4.7)
    controls = (
        Control("model", "model", tuple((n, n) for n in models.names()),
                default=models.names().index("llama-3-8b"), kind="dropdown"),
        Control("context", "context (tokens)", tuple((f"{c:,}", c) for c in CONTEXTS),
                default=1),
        Control("kv_dtype", "KV-cache precision", tuple((d, d) for d in KV_DTYPES), default=0,
                static=False),
    )
    #: bar key -> (y position, label on the axis)
    BARS = {
        "memory": (2, "memory held\n(weights + KV cache)"),
        "bytes": (1, "bytes moved by\none decode step"),
        "flops": (0, "FLOPs of\none token"),
    }

    def setup(self, fig: Figure) -> None:
        grid = fig.add_gridspec(2, 1, height_ratios=[0.75, 3])
        head = fig.add_subplot(grid[0])
        head.axis("off")
        ax = self.ax = fig.add_subplot(grid[1])
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.55, 2.75)
        ax.set_yticks([y for y, _ in self.BARS.values()],
                      [lab for _, lab in self.BARS.values()], fontsize=8.5)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} %"))
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("share of the total", fontsize=8.5)
        ax.grid(True, axis="x", alpha=0.25)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        head.set_title(self.title, fontsize=11)
        dyn = self.dynamic
        self.segments: dict[str, dict[str, Any]] = {}
        self.pct: dict[str, dict[str, Any]] = {}
        self.totals: dict[str, Any] = {}
        for bar, (y, _) in self.BARS.items():
            self.segments[bar] = {g: dyn(ax.barh([y], [0.0], height=0.5, color=GROUP_COLORS[g],
                                                 edgecolor="white", linewidth=0.6)[0])
                                  for g in GROUPS}
            self.pct[bar] = {g: dyn(ax.text(0, y, "", ha="center", va="center", fontsize=7.5))
                             for g in GROUPS}
            self.totals[bar] = dyn(ax.text(0, y + 0.31, "", ha="left", va="bottom", fontsize=8))
        handles = [ax.barh([0], [0], color=GROUP_COLORS[g])[0] for g in GROUPS]
        fig.legend(handles, list(GROUPS.values()), loc="outside lower center", ncol=3,
                   fontsize=7.5, frameon=False)
        self.info = dyn(head.text(0.5, 0.3, "", transform=head.transAxes, ha="center",
                                  va="center", fontsize=8.5, linespacing=1.4))

    def update(self, *, model: str, context: int, kv_dtype: str, **_: Any) -> None:
        m = models.get(model)
        b = breakdown(m, context, kv_dtype)
        for bar, parts in b.items():
            total = sum(parts.values())
            left = 0.0
            for g, value in parts.items():
                share = 100.0 * value / total
                self.segments[bar][g].set_x(left)
                self.segments[bar][g].set_width(share)
                text = self.pct[bar][g]
                text.set_x(left + share / 2)
                text.set_text(f"{share:.0f}%" if share >= 5.5 else "")
                text.set_color("white" if g in ("attention", "context", "lm_head") else "black")
                left += share
        mem, moved, fl = b["memory"], b["bytes"], b["flops"]
        weights = sum(v for g, v in mem.items() if g != "context")
        kv = mem["context"]
        self.totals["memory"].set_text(
            f"{fmt_bytes(weights)} of weights (bf16) + {fmt_bytes(kv)} of KV cache "
            f"= {fmt_bytes(weights + kv)}")
        self.totals["bytes"].set_text(
            f"{fmt_bytes(sum(moved.values()))} per step at batch 1, of which "
            f"{fmt_bytes(moved['context'])} KV cache")
        self.totals["flops"].set_text(
            f"{fmt_flops(sum(fl.values()))} per token; 2 × {fmt_count(m.params_active)} "
            f"active parameters = {fmt_flops(2 * m.params_active)}")
        kept = m.kv_tokens(context)
        window = f" (sliding window keeps {kept:,})" if kept < context else ""
        if context > m.max_context:
            window += f", beyond its max_context of {m.max_context:,}"
        self.info.set_text(
            f"{m.label}: {context:,}-token context{window}\n"
            f"KV cache in {kv_dtype}: {fmt_bytes(m.kv_bytes_per_token(kv_dtype), binary=True)} "
            f"per token")


# --- the chapter's static figures ----------------------------------------------------

def _legend_below(fig: Figure, ax, groups: Sequence[str], ncol: int = 3) -> None:
    handles = [ax.barh([0], [0], color=GROUP_COLORS[g])[0] for g in groups]
    fig.legend(handles, [GROUPS[g] for g in groups], loc="outside lower center", ncol=ncol,
               fontsize=8, frameon=False)


def params_figure(names: Sequence[str] | None = None) -> Figure:
    """Where each model's parameters are: one 100 % bar per model, by component.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> fig = params_figure(["gpt2", "llama-3-8b"])
    >>> len(fig.axes[0].get_yticks())
    2
    """
    names = list(names) if names is not None else models.names()
    fig, ax = new_figure(7.2, 1.6 + 0.42 * len(names))
    y = np.arange(len(names))[::-1]
    for yy, name in zip(y, names):
        m = models.get(name)
        parts = breakdown(m, 0)["memory"]        # no context: the weights alone
        total = sum(parts.values())
        left = 0.0
        for g, n in parts.items():
            share = 100.0 * n / total
            ax.barh([yy], [share], left=left, height=0.62, color=GROUP_COLORS[g],
                    edgecolor="white", linewidth=0.5)
            if share >= 6:
                ax.text(left + share / 2, yy, f"{share:.0f}%", ha="center", va="center",
                        fontsize=7.5, color="white" if g in ("attention", "lm_head") else "black")
            left += share
        active = (f", {fmt_count(m.params_active)} active" if m.is_moe else "")
        ax.text(101, yy, f"{fmt_count(m.params_total)}{active}", va="center", fontsize=8)
    ax.set_yticks(y, [models.get(n).label for n in names], fontsize=8.5)
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} %"))
    ax.set_xlabel("share of all parameters", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title("Where the parameters are", fontsize=10)
    _legend_below(fig, ax, ["embedding", "attention", "mlp", "lm_head", "other"])
    return fig


def flops_context_figure(model: Any, contexts: Sequence[int] | None = None) -> Figure:
    """FLOPs per decoded token against the context: the 2N floor and the attention term.

    Draws the total of one decode step at batch 1 (:func:`lib.transformer.ops`), the
    ``2 x params_active`` rule, and the attention term
    :func:`lib.transformer.attention_flops_per_token`, with the context at which
    attention alone matches the matrix products against the weights marked.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> fig = flops_context_figure("llama-3-8b")
    >>> len(fig.axes[0].get_lines()) >= 3
    True
    """
    m = models.get(model)
    ctx = np.unique(np.geomspace(64, 2 ** 20, 400).round()) if contexts is None \
        else np.asarray(contexts, float)
    flops = sum(np.asarray(op.flops)
                for op in transformer.ops(transformer.forward_pass(m, 1, 1, ctx)))
    attention = transformer.attention_flops_per_token(m, ctx + 1)
    floor = 2.0 * m.params_active
    cross = 2.0 * m.params_multiplied / transformer.attention_flops_per_token(m, 1)
    fig, ax = new_figure(7.0, 4.2)
    ax.loglog(ctx, flops, color="black", lw=2.2, label="total per token (lib.transformer)")
    ax.axhline(floor, color=COLORS[0], ls="--", lw=1.5,
               label=f"$2N$ = 2 × {fmt_count(m.params_active)} = {fmt_flops(floor)}")
    ax.loglog(ctx, attention, color=GROUP_COLORS["context"], lw=1.8,
              label=r"attention over the context, $4\,L\,C\,h_q\,d_h$")
    ax.axvline(cross, color="0.4", ls=":", lw=1)
    ax.text(cross * 1.08, floor / 9, f"attention = matmuls\nat $C^*$ ≈ {cross:,.0f}", fontsize=8,
            color="0.3", va="top")
    ax.axvline(m.max_context, color="0.75", lw=1)
    ax.text(m.max_context / 1.08, floor / 40, f"{m.label}'s\nmax_context\n{m.max_context:,}",
            fontsize=7.5, color="0.45", ha="right", va="top")
    ax.set_xlim(ctx.min(), ctx.max())
    ax.set_ylim(floor / 100, flops.max() * 2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_count(v)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_flops(v, 2)))
    ax.set_xlabel("context $C$ (tokens already in the KV cache)")
    ax.set_ylabel("FLOPs per generated token")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"{m.label}: FLOPs per token against the context", fontsize=10)
    return fig


def kv_ratio_figure(names: Sequence[str] | None = None, kv_dtype: str = "bf16",
                    weight_dtype: str = "bf16",
                    contexts: Sequence[int] | None = None) -> Figure:
    """One sequence's KV cache divided by the model's weights, against the context.

    Where a line crosses 1, a single sequence's cache outweighs the whole model.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> fig = kv_ratio_figure(["llama-2-7b", "llama-3-8b"])
    >>> len(fig.axes[0].get_lines())
    3
    """
    names = list(names) if names is not None else models.names()
    ctx = np.geomspace(256, 2 ** 20, 200) if contexts is None else np.asarray(contexts, float)
    fig, ax = new_figure(8.2, 4.2)
    styles = ["-", "--", "-.", ":"]
    for i, name in enumerate(names):
        m = models.get(name)
        ratio = kv_cache_bytes(m, 1, ctx.round(), kv_dtype) / m.weight_bytes(weight_dtype)
        window = f", window {m.sliding_window:,}" if m.sliding_window else ""
        ax.loglog(ctx, ratio, color=COLORS[i % 7], ls=styles[i % 4], lw=1.8,
                  label=f"{m.label}\n($h_{{kv}}$ = {m.n_kv_heads}{window})")
    ax.axhline(1.0, color="black", lw=1)
    ax.text(ctx.min() * 1.1, 1.12, "KV cache = weights", fontsize=8)
    ax.set_xlim(ctx.min(), ctx.max())
    ax.set_ylim(1e-3, 30)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_count(v)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("context of one sequence (tokens)")
    ax.set_ylabel(f"KV cache ({kv_dtype}) ÷ weights ({weight_dtype})")
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(fontsize=7.5, loc="outside right upper", frameon=False)
    ax.set_title("When does one sequence's KV cache outweigh the model?", fontsize=10)
    return fig


def op_bytes_figure(estimates: Sequence[inference.Estimate],
                    titles: Sequence[str] | None = None) -> Figure:
    """Bytes each op of a forward moves, split into weights, KV cache and activations.

    One panel per (scalar) estimate, one horizontal stacked bar per op, in
    :data:`lib.transformer.OP_NAMES` order.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> d = inference.decode("llama-3-8b", "h100-sxm", 1, 4096)
    >>> fig = op_bytes_figure([d], ["decode"])
    >>> len(fig.axes[0].get_yticks()) == len(d.ops)
    True
    """
    titles = list(titles) if titles is not None else [e.phase for e in estimates]
    fig, _ = new_figure(7.2, 0.6 + 3.1 * len(estimates))
    fig.clear()
    axes = fig.subplots(len(estimates), 1, squeeze=False)[:, 0]
    kinds = [("bytes_weights", "weights", COLORS[0]), ("bytes_kv", "KV cache", COLORS[1]),
             ("bytes_act", "activations", "0.6")]
    for ax, est, title in zip(axes, estimates, titles):
        names = [o.name for o in est.ops]
        y = np.arange(len(names))[::-1]
        left = np.zeros(len(names))
        for attr, label, color in kinds:
            values = np.array([float(getattr(o, attr)) for o in est.ops])
            ax.barh(y, values, left=left, height=0.65, color=color, label=label)
            left += values
        top = left.max()
        for yy, total in zip(y, left):
            ax.text(total + top * 0.01, yy, fmt_bytes(total, digits=2) if total else "0 B",
                    va="center", fontsize=7.5)
        ax.set_xlim(0, top * 1.15)
        ax.set_yticks(y, names, fontsize=8)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_bytes(v, digits=3)))
        ax.tick_params(axis="x", labelsize=7.5)
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_title(f"{title}\n{fmt_bytes(float(est.bytes))} in all (weights "
                     f"{fmt_bytes(float(est.bytes_weights))}, KV cache "
                     f"{fmt_bytes(float(est.bytes_kv))}, activations "
                     f"{fmt_bytes(float(est.bytes_act))})", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return fig
