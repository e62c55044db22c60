"""Chapter 4's explorer and figures: where a transformer's parameters, bytes and FLOPs go.

Every breakdown here sorts a model's costs into the same six groups (:data:`GROUPS`),
drawn in the same colours everywhere: the embedding table, the attention projections
(Q, K, V and O), the MLP (every expert and the router in a mixture of experts), the LM
head, the **context** (the KV cache and the attention arithmetic over it, the only
part that grows with the sequence) and the rest (norms, residual adds, activations).

The explorer shows three 100 % bars for a catalog model, a KV-cache precision and a
context length: the memory one sequence holds, the bytes one decode step reads, and
the FLOPs one token costs. The figure functions draw the chapter's static plots.
All numbers come from :mod:`lib.models` and :mod:`lib.inference`.

Introduced in chapters/04_transformer_arithmetic.ipynb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lib import inference, models
from lib._validate import choice
from lib.dtypes import bytes_per_element
from lib.plotting import COLORS, new_figure
from lib.units import fmt_bytes, fmt_count, fmt_flops, fmt_intensity, fmt_time
from lib.widgets import Control, Explorer

__all__ = ["GROUPS", "GROUP_COLORS", "CONTEXTS", "KV_DTYPES", "TABLE_COLUMNS", "breakdown",
           "ops_table", "TransformerExplorer", "params_figure", "flops_context_figure",
           "kv_ratio_figure", "op_bytes_figure"]

#: Cost groups, in drawing order: key -> label.
GROUPS = {
    "embedding": "embedding table",
    "attention": "attention projections (Q, K, V, O)",
    "mlp": "MLP (all experts + router)",
    "lm_head": "LM head",
    "context": "context: KV cache, attention over it",
    "other": "norms, residuals, activations",
}
#: One colour per group (Okabe-Ito, as every figure of the book).
GROUP_COLORS = {
    "embedding": COLORS[5], "attention": COLORS[0], "mlp": COLORS[2], "lm_head": COLORS[3],
    "context": COLORS[1], "other": "0.72",
}
#: Context lengths the explorer offers (tokens).
CONTEXTS = (1024, 4096, 8192, 16384, 32768, 131072)
#: KV-cache precisions the explorer offers.
KV_DTYPES = ("bf16", "fp8", "int8")
#: Columns :func:`ops_table` can print, and what each holds.
TABLE_COLUMNS = {
    "FLOPs": "FLOPs of the op",
    "bytes": "all bytes it moves through main memory",
    "weights": "weight bytes read",
    "KV cache": "KV-cache bytes written and read",
    "activations": "activation bytes read and written",
    "FLOP/B": "arithmetic intensity, FLOP per byte ('on chip' when it moves no bytes)",
    "T_math": "FLOPs / the peak of its roof",
    "T_mem": "bytes / memory bandwidth",
    "time": "roofline time, max(T_math, T_mem) (the total: sum over the ops)",
    "bound": "which of the two clocks is longer",
}

# FLOPs and bytes do not depend on the device; inference.forward needs one for its timings.
_DEVICE = "h100-sxm"

# inference op name -> group, for FLOPs and for weight bytes (KV and activation bytes are
# always "context" and "other").
_FLOP_GROUP = {
    "embedding": "embedding", "norms": "other", "QKV projection": "attention",
    "attention scores QK^T": "context", "softmax": "context", "attention x V": "context",
    "output projection": "attention", "residual adds": "other", "router": "mlp", "MLP": "mlp",
    "final norm": "other", "LM head": "lm_head",
}
_PARAM_GROUP = {"embedding": "embedding", "attention": "attention", "mlp": "mlp",
                "norms": "other", "lm_head": "lm_head"}


def _zero() -> dict[str, float]:
    return {g: 0.0 for g in GROUPS}


def breakdown(model: Any, context: int, kv_dtype: str = "bf16",
              weight_dtype: str = "bf16") -> dict[str, dict[str, float]]:
    """Memory held, bytes read and FLOPs of one decode step of one sequence, by :data:`GROUPS`.

    Returns three dicts keyed by group:

    * ``"memory"`` -- bytes one sequence needs: every weight at ``weight_dtype`` plus the
      KV cache of ``context`` tokens at ``kv_dtype`` (a sliding window caps it);
    * ``"bytes"`` -- bytes one decode step (batch 1, ``context`` tokens cached) reads and
      writes, from :func:`lib.inference.decode`: the weights it touches (one embedding
      row; ``top_k`` experts of a MoE), the KV cache, the activations;
    * ``"flops"`` -- FLOPs of that step, from the same estimate.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> b = breakdown("llama-3-8b", 4096)
    >>> round(b["memory"]["context"] / 2**30, 3)        # 4096 tokens x 128 KiB, in GiB
    0.5
    >>> b["flops"]["embedding"]                          # a lookup, not a matmul
    0.0
    >>> mix = breakdown("mixtral-8x7b", 4096)
    >>> round(mix["bytes"]["mlp"] / mix["memory"]["mlp"], 2)   # batch 1 reads 2 of 8 experts
    0.25
    """
    m = models.get(model)
    wb = bytes_per_element(weight_dtype)
    memory = _zero()
    for key, n in m.params_breakdown().items():
        memory[_PARAM_GROUP[key]] += n * wb
    memory["context"] = float(inference.kv_cache_bytes(m, 1, context, kv_dtype))
    est = inference.decode(m, _DEVICE, 1, context, weight_dtype=weight_dtype, kv_dtype=kv_dtype)
    moved, flops = _zero(), _zero()
    for op in est.ops:
        group = _FLOP_GROUP[op.name]
        moved[group] += float(op.bytes_weights)
        moved["context"] += float(op.bytes_kv)
        moved["other"] += float(op.bytes_act)
        flops[group] += float(op.flops)
    return {"memory": memory, "bytes": moved, "flops": flops}


def _table_cell(column: str, row: Any, est: inference.Estimate, total: bool) -> str:
    if column == "FLOPs":
        return fmt_flops(float(row.flops))
    if column in ("bytes", "weights", "KV cache", "activations"):
        attr = {"bytes": "bytes", "weights": "bytes_weights", "KV cache": "bytes_kv",
                "activations": "bytes_act"}[column]
        return fmt_bytes(float(getattr(row, attr)))
    if column == "FLOP/B":
        ai = float(row.arithmetic_intensity)
        if np.isnan(ai):
            return "-"
        return "on chip" if np.isinf(ai) else fmt_intensity(ai).removesuffix(" FLOP/B")
    if column == "T_math":
        return fmt_time(float(est.math_time_s if total else row.flops / row.peak_flops))
    if column == "T_mem":
        return fmt_time(float(est.memory_time_s if total
                              else row.bytes / est.memory_bandwidth))
    if column == "time":
        return fmt_time(float(row.time_s))
    return str(row.bound)


def ops_table(estimate: inference.Estimate,
              columns: Sequence[str] = ("FLOPs", "weights", "KV cache", "activations",
                                        "FLOP/B")) -> str:
    """A narrow per-op table of a (scalar) estimate: the ``columns`` you choose, then the total.

    :func:`lib.inference.format_estimate` prints every column at once, which is wider than
    a book page; this prints a few of :data:`TABLE_COLUMNS`, one row per op of
    ``estimate.ops`` and a total row. Tensor-parallel communication is not listed.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> est = inference.prefill("llama-3-8b", "h100-sxm", 1, 2048)
    >>> lines = ops_table(est, ["FLOPs", "FLOP/B", "bound"]).splitlines()
    >>> print(lines[0]); print(lines[-1])
    op                          FLOPs  FLOP/B  bound
    total                  29.7 TFLOP     813  compute
    """
    e = estimate
    if np.ndim(e.time_s) != 0:
        raise ValueError("ops_table needs a single configuration; index the inputs or call "
                         "it once per configuration.")
    cols = [choice("columns", c, TABLE_COLUMNS) for c in columns]
    head = ("op", *cols)
    rows = [(o.name, *(_table_cell(c, o, e, False) for c in cols)) for o in e.ops]
    total = ("total", *(_table_cell(c, e, e, True) for c in cols))
    widths = [max(len(r[i]) for r in (head, total, *rows)) for i in range(len(head))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(x.ljust(w) if i == 0 else x.rjust(w)
                         for i, (x, w) in enumerate(zip(r, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), *map(line, rows), rule, line(total)])


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
        "bytes": (1, "bytes read by\none decode step"),
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
        parts = _zero()
        for key, n in m.params_breakdown().items():
            parts[_PARAM_GROUP[key]] += n
        total = m.params_total
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
        ax.text(101, yy, f"{fmt_count(total)}{active}", va="center", fontsize=8)
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

    Draws the total of one decode step at batch 1 (:func:`lib.inference.decode`), the
    ``2 x params_active`` rule, and the attention term
    :meth:`lib.models.ModelConfig.attention_flops_per_token`, with the context at which
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
    est = inference.decode(m, _DEVICE, 1, ctx)
    attention = m.attention_flops_per_token(ctx + 1)
    floor = 2.0 * m.params_active
    cross = 2.0 * m.params_multiplied / m.attention_flops_per_token(1)
    fig, ax = new_figure(7.0, 4.2)
    ax.loglog(ctx, est.flops, color="black", lw=2.2, label="total per token (lib.inference)")
    ax.axhline(floor, color=COLORS[0], ls="--", lw=1.5,
               label=f"2N = 2 × {fmt_count(m.params_active)} = {fmt_flops(floor)}")
    ax.loglog(ctx, attention, color=GROUP_COLORS["context"], lw=1.8,
              label="attention over the context, 4·L·C·n_heads·head_dim")
    ax.axvline(cross, color="0.4", ls=":", lw=1)
    ax.text(cross * 1.08, floor / 9, f"attention = matmuls\nat C ≈ {cross:,.0f}", fontsize=8,
            color="0.3", va="top")
    ax.axvline(m.max_context, color="0.75", lw=1)
    ax.text(m.max_context / 1.08, floor / 40, f"{m.label}'s\nmax_context\n{m.max_context:,}",
            fontsize=7.5, color="0.45", ha="right", va="top")
    ax.set_xlim(ctx.min(), ctx.max())
    ax.set_ylim(floor / 100, est.flops.max() * 2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_count(v)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_flops(v, 2)))
    ax.set_xlabel("context C (tokens already in the KV cache)")
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
        ratio = inference.kv_cache_bytes(m, 1, ctx.round(), kv_dtype) / m.weight_bytes(weight_dtype)
        window = f", window {m.sliding_window:,}" if m.sliding_window else ""
        ax.loglog(ctx, ratio, color=COLORS[i % 7], ls=styles[i % 4], lw=1.8,
                  label=f"{m.label}\n({m.n_kv_heads} KV heads{window})")
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
    :data:`lib.inference.OP_NAMES` order.

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
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_bytes(v, digits=2)))
        ax.tick_params(axis="x", labelsize=7.5)
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_title(f"{title}\n{fmt_bytes(float(est.bytes))} in all (weights "
                     f"{fmt_bytes(float(est.bytes_weights))}, KV cache "
                     f"{fmt_bytes(float(est.bytes_kv))}, activations "
                     f"{fmt_bytes(float(est.bytes_act))})", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return fig
