"""Diagrams of attention's heads and of one decoder layer as the ops a cost model counts.

:func:`gqa_figure` draws how query heads share key/value heads in multi-head (MHA),
grouped-query (GQA) and multi-query attention (MQA), with the KV cache one token adds,
:math:`\\kappa = 2 L h_{kv} d_h b_{kv}`, for each. :func:`decoder_layer_figure` draws one
layer of a decoder-only transformer as the sequence of ops :mod:`lib.transformer` lists
(:data:`lib.transformer.OP_NAMES`), each marked by what its main-memory bytes are in a
decode step: weights, KV cache or activations.

Every head count, width and byte count is read from the model's config
(:mod:`lib.models`) or from :mod:`lib.transformer`'s ops, never typed into the drawing.

Introduced in chapters/04_transformer_arithmetic.ipynb.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch

from lib import models, transformer
from lib.diagrams import COLORS, INK, arrow, box, canvas
from lib.units import fmt_bytes

__all__ = ["KIND_COLORS", "gqa_figure", "decoder_layer_figure", "layer_sequence"]

#: Fill colours for what an op's bytes are (the colours of chapter 4's byte figures):
#: weights, KV cache, activations only, and work that stays on chip.
KIND_COLORS = {"weights": COLORS[0], "kv": COLORS[1], "activations": "#b3b3b3",
               "on chip": "white"}
#: Lighter fills of the same hues, for boxes that carry dark text.
_LIGHT = {"weights": "#cfe3f2", "kv": "#f6d2bd", "activations": "#e6e6e6", "on chip": "white"}
_QUERY = "#d9ecf7"           # a query head: an activation, not cached


def _variants(m: models.ModelConfig, kv_heads: Sequence[int] | None) -> list[int]:
    """KV-head counts to draw: MHA, the model's own, MQA (distinct, largest first)."""
    counts = [m.n_heads, m.n_kv_heads, 1] if kv_heads is None else list(kv_heads)
    out: list[int] = []
    for h in counts:
        if m.n_heads % int(h):
            raise ValueError(f"kv_heads={h} must divide the {m.n_heads} query heads of "
                             f"{m.name}.")
        if int(h) not in out:
            out.append(int(h))
    return sorted(out, reverse=True)


def _attention_name(m: models.ModelConfig, h_kv: int) -> str:
    if h_kv == m.n_heads:
        return "MHA"
    return "MQA" if h_kv == 1 else "GQA"


def gqa_figure(model: Any = "llama-3-8b", kv_dtype: str = "bf16",
               kv_heads: Sequence[int] | None = None) -> Figure:
    """Query heads sharing KV heads in MHA, GQA and MQA, and the KV cache per token of each.

    One row per KV-head count (by default MHA, the model's own, and MQA): the model's
    :math:`h_q` query heads on top, its :math:`h_{kv}` KV heads below, a line from each
    query head to the KV head it reads. Beside each row, the KV cache one token adds,
    :math:`\\kappa = 2 L h_{kv} d_h b_{kv}`, from :meth:`lib.models.ModelConfig.kv_bytes_per_token`.

    Parameters
    ----------
    model : str or ModelConfig
        The model whose shape is drawn (a catalog name or a config).
    kv_dtype : str
        Precision of the KV cache.
    kv_heads : sequence of int, optional
        KV-head counts to draw instead of MHA, the model's own and MQA; each must divide
        the query heads.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> fig = gqa_figure("llama-3-8b")
    >>> [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("κ")]
    ['κ = 512 KiB', 'κ = 128 KiB', 'κ = 16 KiB']
    >>> gqa_figure("llama-3-8b", kv_heads=[3])
    Traceback (most recent call last):
    ...
    ValueError: kv_heads=3 must divide the 32 query heads of llama-3-8b.
    """
    m = models.get(model)
    rows = _variants(m, kv_heads)
    h_q = m.n_heads
    row_h, bh = 20.0, 3.2                    # a row of heads; a head box's height
    height_units = 8.0 + row_h * (len(rows) - 1) + 2 * bh + 9.0 + 3.0
    fig, ax = canvas(7.2, 0.45 + 0.066 * height_units, units=(100.0, height_units))
    x0, x1 = 17.0, 71.0                      # where the heads are drawn
    pitch = (x1 - x0) / h_q
    w = pitch * 0.72
    ax.text(50, height_units - 2.0,
            f"{m.label}: {h_q} query heads of width $d_h$ = {m.head_dim}, {m.n_layers} layers",
            ha="center", va="top", fontsize=10, color=INK)
    for i, h_kv in enumerate(rows):
        top = height_units - 8.0 - i * row_h
        yq, ykv = top - bh, top - bh - 9.0
        group = h_q // h_kv
        name = _attention_name(m, h_kv)
        released = " (as released)" if h_kv == m.n_kv_heads else ""
        ax.text(1.0, (yq + ykv + bh) / 2, f"{name}{released}\n$h_{{kv}}$ = {h_kv}",
                ha="left", va="center", fontsize=8.5, color=INK, linespacing=1.5)
        kv_w = min(pitch * group - pitch * 0.28, 9.0) if h_kv > 1 else 9.0
        for j in range(h_kv):
            centre = x0 + pitch * (j * group + group / 2)
            for q in range(j * group, (j + 1) * group):
                cq = x0 + pitch * (q + 0.5)
                ax.plot([cq, centre], [yq, ykv + bh], color="0.55", lw=0.6, zorder=1)
            box(ax, centre - kv_w / 2, ykv, kv_w, bh, color=KIND_COLORS["kv"],
                edge=INK, round_=0.3)
        for q in range(h_q):
            box(ax, x0 + pitch * q + (pitch - w) / 2, yq, w, bh, color=_QUERY, edge=INK,
                round_=0.2)
        if i == 0:
            ax.text(x0 - 0.8, yq + bh / 2, "Q", ha="right", va="center", fontsize=8)
            ax.text(x0 - 0.8, ykv + bh / 2, "K, V", ha="right", va="center", fontsize=8)
        variant = dataclasses.replace(m, name=f"{m.name}-kv{h_kv}", n_kv_heads=h_kv,
                                      sliding_window=m.sliding_window)
        kappa = variant.kv_bytes_per_token(kv_dtype)
        group_text = ("each query head has its own K, V" if group == 1 else
                      f"{group} query heads share one K, V" if h_kv > 1 else
                      "all query heads share one K, V")
        ax.text(74.0, yq + bh, f"κ = {fmt_bytes(kappa, binary=True)}", ha="left", va="top",
                fontsize=9.5, color=INK, fontweight="bold")
        general = r"$= 2\,L\,h_{kv}\,d_h\,b_{kv}$" + "\n" if i == 0 else ""
        ax.text(74.0, yq - 1.6,
                f"{general}= 2 · {m.n_layers} · {h_kv} · {m.head_dim} · "
                f"{kappa / (2 * m.n_layers * h_kv * m.head_dim):g} B\n{group_text}",
                ha="left", va="top", fontsize=7.5, color="0.25", linespacing=1.5)
    handles = [Patch(facecolor=_QUERY, edgecolor=INK, label="query head (not cached)"),
               Patch(facecolor=KIND_COLORS["kv"], edgecolor=INK,
                     label=f"KV head: cached, {m.head_dim} K + {m.head_dim} V values "
                           "per token and layer")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig


# --- one decoder layer as its ops -----------------------------------------------------------

def layer_sequence(model: Any) -> list[str]:
    """One layer's ops in the order they run, from :func:`lib.transformer.ops`.

    :func:`lib.transformer.ops` books the two norms and the two residual adds of a layer
    as one op each; here each appears where it runs. Embedding, final norm and LM head,
    which run once per forward, are not part of the layer.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> layer_sequence("llama-3-8b")[:4]
    ['norms', 'QKV projection', 'RoPE and KV write', 'attention scores QK^T']
    >>> layer_sequence("mixtral-8x7b")[-6:]
    ['router', 'MLP up', 'activation', 'MLP down', 'expert combine', 'residual adds']
    """
    names = [op.name for op in transformer.ops(transformer.forward_pass(model, 1, 1, 1))]
    once = {"embedding", "final norm", "LM head"}
    body = [n for n in names if n not in once]
    attn = body[:body.index("output projection") + 1]
    mlp = body[body.index("output projection") + 1:]
    mlp = [n for n in mlp if n not in ("residual adds",)]
    return attn + ["residual adds", "norms"] + mlp + ["residual adds"]


def _kinds(model: Any, context: int) -> dict[str, str]:
    """What each op's bytes mostly are in a decode step (batch 1, ``context`` cached)."""
    out = {}
    for op in transformer.ops(transformer.forward_pass(model, 1, 1, context)):
        parts = {"weights": float(op.bytes_weights), "kv": float(op.bytes_kv),
                 "activations": float(op.bytes_act)}
        out[op.name] = "on chip" if not any(parts.values()) else max(parts, key=parts.get)
    return out


def _weight_shapes(m: models.ModelConfig) -> dict[str, str]:
    """The weight matrix each GEMM op reads, as rows x columns of the model's config."""
    qkv = m.q_dim + 2 * m.kv_dim
    up = (m.mlp_matrices - 1) * m.d_ff
    experts = f"{m.n_experts} × " if m.is_moe else ""
    return {
        "QKV projection": f"$W_{{qkv}}$\n{m.d_model}×{qkv}",
        "output projection": f"$W_o$\n{m.q_dim}×{m.d_model}",
        "router": f"$W_{{router}}$\n{m.d_model}×{m.n_experts}",
        "MLP up": f"{experts}$W_{{up}}$\n{m.d_model}×{up}",
        "MLP down": f"{experts}$W_{{down}}$\n{m.d_ff}×{m.d_model}",
        "embedding": f"{m.vocab_size:,}×{m.d_model}",
        "LM head": f"{m.d_model}×{m.vocab_size:,}",
    }


def _label(name: str) -> str:
    short = {"attention scores QK^T": "scores\n$QK^T$", "attention x V": "attention\n× V",
             "residual adds": "residual\nadd", "norms": "norm",
             "RoPE and KV write": "RoPE,\nKV write"}
    return short.get(name, "\n".join(textwrap.wrap(name, 10)))


def decoder_layer_figure(model: Any = "llama-3-8b", context: int = 4096) -> Figure:
    """One decoder layer as the sequence of ops :mod:`lib.transformer` counts.

    The layer's ops (:func:`layer_sequence`) in two rows, attention then MLP, each box
    filled by what most of its main-memory bytes are in a decode step of one sequence
    with ``context`` tokens cached: weights (blue), KV cache (orange), activations only
    (grey), nothing (white: on chip, inside the fused attention kernel). Above each
    GEMM the weight matrix it reads, with its shape from the config; the KV cache
    between the rows, written by one op and read by two. The embedding before the
    layers and the final norm and LM head after them run once per forward.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> fig = decoder_layer_figure("llama-3-8b")
    >>> texts = [t.get_text() for t in fig.axes[0].texts]
    >>> any("4096×6144" in t for t in texts), "× 32 layers" in texts
    (True, True)
    """
    m = models.get(model)
    seq = layer_sequence(m)
    kinds = _kinds(m, context)
    shapes = _weight_shapes(m)
    calls = {op.name: op.calls
             for op in transformer.ops(transformer.forward_pass(m, 1, 1, context))}
    split = seq.index("residual adds") + 1
    rows = [seq[:split], seq[split:]]
    fig, ax = canvas(7.2, 5.0, units=(100.0, 72.0))
    n_cols = max(len(r) for r in rows)
    left, right = 3.0, 97.0
    pitch = (right - left) / n_cols
    bw, bh, th = pitch * 0.80, 7.0, 5.6       # op box, weight tag heights
    ys = (40.0, 15.0)

    def fill(name: str) -> str:
        return _LIGHT[kinds[name]]

    centres: dict[tuple[int, int], tuple[float, float]] = {}
    for r, (names, y) in enumerate(zip(rows, ys)):
        for c, name in enumerate(names):
            x = left + pitch * c + (pitch - bw) / 2
            dashed = kinds[name] == "on chip"
            patch = box(ax, x, y, bw, bh, _label(name), color=fill(name), fontsize=7.5,
                        round_=0.6)
            if dashed:
                patch.set_linestyle((0, (3, 2)))
            centres[(r, c)] = (x + bw / 2, y + bh / 2)
            if c:
                arrow(ax, (x - (pitch - bw) + 0.2, y + bh / 2), (x - 0.2, y + bh / 2),
                      width=0.9)
            if name in shapes and kinds[name] == "weights":
                wy = y + bh + 3.0 if r == 0 else y - 3.0 - th
                box(ax, x - 0.6, wy, bw + 1.2, th, shapes[name], color=KIND_COLORS["weights"],
                    edge=KIND_COLORS["weights"], text_color="white", fontsize=6.5, round_=0.4,
                    linespacing=1.3)
                if r == 0:
                    arrow(ax, (x + bw / 2, wy), (x + bw / 2, y + bh + 0.2), width=0.9,
                          color=KIND_COLORS["weights"])
                else:
                    arrow(ax, (x + bw / 2, wy + th), (x + bw / 2, y - 0.2), width=0.9,
                          color=KIND_COLORS["weights"])
    # the attention row flows into the MLP row
    (xa, ya), (xb, yb) = centres[(0, len(rows[0]) - 1)], centres[(1, 0)]
    ax.annotate("", xy=(xb, yb + bh / 2 + 0.2), xytext=(xa, ya - bh / 2 - 0.2),
                arrowprops=dict(arrowstyle="-|>", color=INK, lw=0.9, mutation_scale=10,
                                connectionstyle="bar,angle=180,fraction=-0.02",
                                shrinkA=0, shrinkB=0))
    # the fused attention kernel: the op that launches and the parts with no launch of their own
    fused = [c for c, n in enumerate(rows[0]) if calls.get(n) == 0]
    if fused:
        c0, c1 = fused[0] - 1, fused[-1]
        x0 = left + pitch * c0 + (pitch - bw) / 2 - 0.8
        x1 = left + pitch * c1 + (pitch + bw) / 2 + 0.8
        frame = FancyBboxPatch((x0, ys[0] - 1.2), x1 - x0, bh + 2.4,
                               boxstyle="round,pad=0,rounding_size=1", facecolor="none",
                               edgecolor="0.35", linewidth=0.9, linestyle=(0, (4, 2)))
        ax.add_patch(frame)
        ax.text((x0 + x1) / 2, ys[0] + bh + 1.8, "one fused attention kernel", ha="center",
                va="bottom", fontsize=7, color="0.3", style="italic")
    # the KV cache, between the rows: written by one op, read by the attention matmuls
    kv_ops = [c for c, n in enumerate(rows[0]) if kinds[n] == "kv" or "KV write" in n]
    if kv_ops:
        c0, c1 = kv_ops[0], kv_ops[-1]
        kx0 = left + pitch * c0 + (pitch - bw) / 2
        kx1 = left + pitch * c1 + (pitch + bw) / 2
        ky = 25.5
        per_layer = m.kv_bytes_per_token() / m.n_layers          # 2 h_kv d_h b_kv
        box(ax, kx0, ky, kx1 - kx0, 6.5,
            f"KV cache, this layer's part: {fmt_bytes(context * per_layer, binary=True)}\n"
            f"{context:,} tokens × 2·{m.n_kv_heads}·{m.head_dim} values "
            f"× {per_layer / (2 * m.kv_dim):g} B",
            color=KIND_COLORS["kv"], edge=KIND_COLORS["kv"], text_color="white",
            fontsize=7.5, round_=0.8, linespacing=1.4)
        for c in kv_ops:
            cx, _ = centres[(0, c)]
            name = rows[0][c]
            if "KV write" in name:
                arrow(ax, (cx - 1.0, ys[0] - 0.2), (cx - 1.0, ky + 6.5), color=KIND_COLORS["kv"],
                      width=1.0)
                ax.text(cx + 0.2, (ys[0] + ky + 6.5) / 2, "writes", fontsize=6.5,
                        color=KIND_COLORS["kv"], va="center", ha="left")
            else:
                arrow(ax, (cx, ky + 6.5), (cx, ys[0] - 0.2), color=KIND_COLORS["kv"], width=1.0)
                ax.text(cx + 0.6, (ys[0] + ky + 6.5) / 2, "reads", fontsize=6.5,
                        color=KIND_COLORS["kv"], va="center", ha="left")
    # once per forward, outside the layers
    ax.text(left, 64.0, f"before the first layer: embedding, one row of the {shapes['embedding']} "
            "table per token", fontsize=7.5, color=INK, va="center", ha="left")
    ax.text(right, 64.0, f"× {m.n_layers} layers", fontsize=9, color=INK, va="center",
            ha="right", fontweight="bold")
    ax.text(left, 3.0, f"after the last layer: final norm, then LM head "
            f"({shapes['LM head']}), read in full", fontsize=7.5, color=INK, va="center",
            ha="left")
    ax.plot([left - 1.5, right + 1.5, right + 1.5, left - 1.5, left - 1.5],
            [61.0, 61.0, 6.0, 6.0, 61.0], color="0.6", lw=0.8, zorder=0)
    handles = [Patch(facecolor=_LIGHT["weights"], edgecolor=INK, label="reads weights"),
               Patch(facecolor=_LIGHT["kv"], edgecolor=INK, label="reads or writes the KV cache"),
               Patch(facecolor=_LIGHT["activations"], edgecolor=INK,
                     label="activations only"),
               Patch(facecolor="white", edgecolor=INK, linestyle="--", label="on chip"),
               Line2D([], [], color=KIND_COLORS["weights"], lw=4, label="weight matrix")]
    fig.legend(handles=handles, loc="outside lower center", ncol=5, fontsize=7.5,
               frameon=False, handlelength=1.6)
    ax.set_title(f"{m.label}: one layer as the ops of lib.transformer (decode, "
                 f"{context:,} tokens cached)", fontsize=9.5)
    return fig
