"""A tiny transformer to read and run: plain numpy, seeded weights, every FLOP and byte counted.

The cost model of chapters 4-6 says what a forward pass *must* do. This module does it: a
decoder-only transformer in about 150 lines of numpy, with the blocks the book
prices -- RMSNorm (or GPT-2's LayerNorm), rotary positions (or GPT-2's learned table),
grouped-query attention over a KV cache, a gated SwiGLU MLP (or GPT-2's GELU MLP) -- built
from the same :class:`lib.models.ModelConfig` as every other module, with seeded random
weights. As it runs, each operation tallies its FLOPs and the elements it reads and
writes, from the shapes of the arrays it actually touches, under the names of
:data:`lib.transformer.OP_NAMES`. :func:`compare_counts` sets the tallies beside
:func:`lib.transformer.ops` for the same model, batch, prompt and context; the tests
assert that every op's FLOPs, exponentials and bytes (weights, KV cache, all) are
**equal**.

It counts by :mod:`lib.kernels`' rules, which are idealised in places; the code says
where, line by line:

* **Bytes** are each op's compulsory traffic: the arrays it reads once and writes once.
  The numpy code computes and stores everything in float32; the tally keeps *elements*
  by kind (activation, weight, KV cache), and :meth:`Forward.counts` turns them into
  bytes at any precision: at ``"fp32"`` (the default) they are what this code moves, at
  ``"bf16"`` what an engine storing bf16 would move.
* **Attention is counted fused** (``fused_attention=True``, lib's default), as
  FlashAttention runs it: the numpy code materialises the score matrix, but the count
  keeps it on chip (no score bytes) and counts only the (query, key) pairs the causal
  mask keeps -- a kernel that skips masked blocks. ``fused_attention=False`` counts
  what this code really does: scores through memory, every pair computed.
* **Elementwise FLOPs** follow lib's per-element conventions (RMSNorm 4, LayerNorm 8,
  RoPE 3, softmax 5 with one ``exp``, SiLU-and-multiply 5 with one ``exp``, GELU 8 with
  one ``tanh``); the one ``rsqrt`` per row of a norm is not counted, as in lib.
* The attention scale ``1/sqrt(head_dim)`` is folded into the query weights when they
  are drawn, so attention does exactly the arithmetic lib counts.
* The **embedding** reads the distinct rows its tokens pick; lib assumes every token of
  a forward is distinct (``min(tokens, vocab)`` rows), so the two agree whenever the
  prompt repeats no token (as the tests' prompts do) and lib counts more rows when it
  does.
* The cosine and sine tables of the rotary embedding are computed per forward and not
  counted (an engine precomputes them; lib counts neither).

A sliding window (Mistral) is honoured: attention reads the window's last entries, as
lib's rolling-buffer cache holds them (this cache keeps every entry; a forward reads
only those). Not modelled: mixtures of experts, tensor parallelism, quantised
arithmetic (the weights are float32; only the byte *count* changes with the dtype).

The timing helpers (:func:`time_prefill`, :func:`time_decode`, through
:func:`lib.timing.time_call`) run
the model on the reader's CPU with warm-up, repeats and medians; chapter 16 sets them
against the machine's measured roofline (:mod:`lib.measure`).

Introduced in chapters/16_measure.ipynb.

Examples
--------
>>> w = init(SMALL, seed=0)
>>> step = forward(w, prompt_tokens(SMALL, batch=2, length=5))
>>> step.logits.shape, step.cache.length
((2, 4096), 5)
>>> bool(compare_counts(step).equal)
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import models, transformer
from lib._validate import flag, positive
from lib.dtypes import bytes_per_element
from lib.kernels import Kernel
from lib.models import ModelConfig
from lib.tables import Table
from lib.timing import Timing, time_call
from lib.units import fmt_bytes

__all__ = ["GPT2_SIZED", "SMALL", "MAX_WEIGHT_BYTES", "Layer", "Weights", "KVCache", "Forward",
           "CountRow", "CountCheck", "ForwardTiming", "init", "empty_cache",
           "prompt_tokens", "forward", "generate", "lib_counts", "compare_counts",
           "time_prefill", "time_decode"]

#: GPT-2 small's size (12 layers, width 768, 12 heads of 64, its 50 257-token vocabulary, tied
#: embeddings) with the block this chapter's models use: RMSNorm, rotary positions, 4 KV
#: heads (grouped-query attention, 3 query heads each) and a SwiGLU MLP of width 2048, whose
#: three matrices hold as many weights as GPT-2's two of width 3072.
GPT2_SIZED = dataclasses.replace(
    models.get("gpt2"), name="gpt2-sized", n_kv_heads=4, d_ff=2048, gated_mlp=True,
    norm="rmsnorm", qkv_bias=False, out_bias=False, mlp_bias=False, positional="rope",
    rope_theta=10000.0, label="GPT-2-sized (114M), Llama block", source=None, paper="")
#: A small model of the same block that runs in milliseconds: 4 layers, width 256, 8 query
#: heads sharing 2 KV heads, a 4096-token vocabulary, an untied LM head.
SMALL = dataclasses.replace(
    GPT2_SIZED, name="tiny-small", n_layers=4, d_model=256, n_heads=8, n_kv_heads=2,
    head_dim=32, d_ff=704, vocab_size=4096, tied_embeddings=False,
    label="tiny, 4 layers x 256")
#: Largest model :func:`init` draws (float32 bytes): a numpy model is for reading, not for 7B.
MAX_WEIGHT_BYTES = 2e9


# --- weights and cache ----------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Layer:
    """One transformer block's weights (float32). A ``None`` bias or norm shift is absent.

    ``w_qkv`` is ``d x (q + 2 kv)``: the Q, K and V projections side by side, one GEMM
    (chapter 4's eq-attn-params); ``w_up`` is ``d x 2 d_ff`` (gate, then up) when gated,
    ``d x d_ff`` otherwise.

    Introduced in chapters/16_measure.ipynb.
    """

    norm1: np.ndarray
    norm1_shift: np.ndarray | None
    w_qkv: np.ndarray
    b_qkv: np.ndarray | None
    w_o: np.ndarray
    b_o: np.ndarray | None
    norm2: np.ndarray
    norm2_shift: np.ndarray | None
    w_up: np.ndarray
    b_up: np.ndarray | None
    w_down: np.ndarray
    b_down: np.ndarray | None


@dataclass(frozen=True, eq=False, repr=False)
class Weights:
    """A model's seeded weights: embedding, optional position table, layers, final norm, LM head.

    ``lm_head`` is ``d x vocab``; with tied embeddings it is a view of ``embed.T``.

    Introduced in chapters/16_measure.ipynb.
    """

    model: ModelConfig
    seed: int
    embed: np.ndarray
    positions: np.ndarray | None
    layers: tuple[Layer, ...]
    final_norm: np.ndarray
    final_norm_shift: np.ndarray | None
    lm_head: np.ndarray

    @property
    def nbytes(self) -> int:
        """Bytes of float32 weights held (a tied LM head once)."""
        arrays = [self.embed, self.positions, self.final_norm, self.final_norm_shift]
        arrays += [a for layer in self.layers for a in dataclasses.astuple(layer)]
        if not self.model.tied_embeddings:
            arrays.append(self.lm_head)
        return sum(a.nbytes for a in arrays if a is not None)

    def __repr__(self) -> str:
        return f"Weights({self.model.name!r}, seed={self.seed}, {fmt_bytes(self.nbytes)} float32)"


@dataclass(frozen=True, eq=False, repr=False)
class KVCache:
    """Per-layer K and V buffers ``(batch, kv_heads, capacity, head_dim)``, ``length`` entries used.

    A cache *denotes* its first ``length`` entries. :func:`forward` writes the new entries
    after them, in place, and returns a cache of the longer length; the old one still
    denotes the same tokens, so a timing loop can decode from it again and again. (Two
    forwards from one cache write the same slots: copy the buffers to branch.)

    Introduced in chapters/16_measure.ipynb.
    """

    k: tuple[np.ndarray, ...]
    v: tuple[np.ndarray, ...]
    length: int

    @property
    def capacity(self) -> int:
        """Entries each sequence's buffers hold."""
        return self.k[0].shape[2]

    def __repr__(self) -> str:
        b, hkv, cap, dh = self.k[0].shape
        return (f"KVCache({len(self.k)} layers x batch {b} x {hkv} KV heads x {dh}, "
                f"length {self.length} of {cap})")


def init(model: "str | ModelConfig", seed: int = 0) -> Weights:
    """Seeded random weights for ``model``: normal, std 0.02 (norm gains 1, std 0.1), float32.

    The query columns of ``w_qkv`` (and their bias) are scaled by ``1/sqrt(head_dim)``,
    attention's scale folded into the weights. Mixtures of experts are refused, and so is a
    model above :data:`MAX_WEIGHT_BYTES`.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> w = init(SMALL, seed=1)
    >>> w.layers[0].w_qkv.shape, w.lm_head.shape          # q + 2 kv = 256 + 2 x 64
    ((256, 384), (256, 4096))
    >>> init("mixtral-8x7b")
    Traceback (most recent call last):
    ...
    ValueError: model='mixtral-8x7b' is a mixture of experts; lib.tiny runs dense models only.
    """
    m = models.get(model)
    if m.is_moe:
        raise ValueError(f"model={m.name!r} is a mixture of experts; lib.tiny runs dense "
                         f"models only.")
    if m.positional == "rope" and m.head_dim % 2:
        raise ValueError(f"head_dim={m.head_dim} must be even for rotary positions "
                         f"(model {m.name!r}).")
    if 4 * m.params_total > MAX_WEIGHT_BYTES:
        raise ValueError(f"model={m.name!r} needs {fmt_bytes(4 * m.params_total)} of float32 "
                         f"weights, more than MAX_WEIGHT_BYTES={fmt_bytes(MAX_WEIGHT_BYTES)}; "
                         f"shrink it with dataclasses.replace.")
    seed = int(positive("seed", seed, allow_zero=True, integer=True))
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return 0.02 * rng.standard_normal(shape, dtype=np.float32)

    def gain() -> np.ndarray:
        return 1 + 5 * normal(m.d_model)

    def shift() -> np.ndarray | None:
        return normal(m.d_model) if m.norm == "layernorm" else None

    def bias(n: int, present: bool) -> np.ndarray | None:
        return normal(n) if present else None

    d, q, kv, ff = m.d_model, m.q_dim, m.kv_dim, m.d_ff
    up = 2 * ff if m.gated_mlp else ff
    scale = np.float32(m.head_dim ** -0.5)
    layers = []
    for _ in range(m.n_layers):
        w_qkv, b_qkv = normal(d, q + 2 * kv), bias(q + 2 * kv, m.qkv_bias)
        w_qkv[:, :q] *= scale                       # attention's 1/sqrt(d_h), folded in
        if b_qkv is not None:
            b_qkv[:q] *= scale
        layers.append(Layer(gain(), shift(), w_qkv, b_qkv, normal(q, d), bias(d, m.out_bias),
                            gain(), shift(), normal(d, up), bias(up, m.mlp_bias),
                            normal(ff, d), bias(d, m.mlp_bias)))
    embed = normal(m.vocab_size, d)
    positions = normal(m.max_context, d) if m.positional == "learned" else None
    head = embed.T if m.tied_embeddings else normal(d, m.vocab_size)
    return Weights(m, seed, embed, positions, tuple(layers), gain(), shift(), head)


def empty_cache(weights: Weights, batch: int, capacity: int) -> KVCache:
    """An empty KV cache for ``batch`` sequences of up to ``capacity`` tokens.

    Introduced in chapters/16_measure.ipynb.
    """
    m = weights.model
    b = int(positive("batch", batch, integer=True))
    c = int(positive("capacity", capacity, integer=True))
    shape = (b, m.n_kv_heads, c, m.head_dim)
    return KVCache(tuple(np.zeros(shape, np.float32) for _ in range(m.n_layers)),
                   tuple(np.zeros(shape, np.float32) for _ in range(m.n_layers)), 0)


def prompt_tokens(model: "str | ModelConfig", batch: int, length: int,
                  start: int = 0) -> np.ndarray:
    """``batch x length`` token ids, distinct until the vocabulary runs out (a fixed permutation).

    Distinct tokens are what :mod:`lib.transformer` assumes of an embedding lookup.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> ids = prompt_tokens(SMALL, 2, 3)
    >>> ids.shape, len(set(ids.ravel().tolist()))
    ((2, 3), 6)
    """
    m = models.get(model)
    b = int(positive("batch", batch, integer=True))
    n = int(positive("length", length, integer=True))
    s = int(positive("start", start, allow_zero=True, integer=True))
    order = np.random.default_rng(12345).permutation(m.vocab_size)
    return order[(s + np.arange(b * n)) % m.vocab_size].reshape(b, n)


# --- the counter ----------------------------------------------------------------------------

_FIELDS = ("flops", "exps", "act", "weight", "kv", "calls")   # act/weight/kv: elements moved


class _Tally:
    """Adds up each op's FLOPs and moved elements as the forward runs (plain ints: cheap)."""

    def __init__(self) -> None:
        self.ops: dict[str, list[int]] = {}

    def add(self, op: str, flops: int = 0, exps: int = 0, read: tuple = (),
            write: tuple = ()) -> None:
        """``read`` and ``write``: ``(array, kind)`` pairs, kind one of act, weight, kv."""
        row = self.ops.setdefault(op, [0, 0, 0, 0, 0, 0])
        row[0] += int(flops)
        row[1] += int(exps)
        row[5] += 1
        for array, kind in (*read, *write):
            if array is not None:
                row[_FIELDS.index(kind)] += array.size


def _matmul(t: _Tally, op: str, x: np.ndarray, w: np.ndarray,
            b: np.ndarray | None = None) -> np.ndarray:
    """``x @ w (+ b)``, counted as :func:`lib.kernels.gemm` counts it (eq-ch04-gemm-row).

    2 FLOP per multiply-add (``2 m n k``), plus one per output element for a bias; reads
    ``x`` and the weights once, writes the output once. ``x`` is flattened to ``m`` rows
    first: numpy multiplies a stack ``(B, n, k) @ (k, n)`` one matrix at a time, which
    would read the weights ``B`` times.
    """
    m, (k, n) = x.size // x.shape[-1], w.shape
    y = x.reshape(m, k) @ w
    y = (y if b is None else y + b).reshape(*x.shape[:-1], n)
    t.add(op, 2 * m * n * k + (m * n if b is not None else 0),
          read=((x, "act"), (w, "weight"), (b, "weight")), write=((y, "act"),))
    return y


def _norm(t: _Tally, op: str, x: np.ndarray, g: np.ndarray, shift: np.ndarray | None) -> np.ndarray:
    """RMSNorm (``shift is None``: square, sum, scale, gain = 4 FLOP per element) or
    LayerNorm (mean, centre, square, sum, scale, gain, shift ~ 8); rsqrt per row not counted."""
    if shift is None:
        y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-5) * g
    else:
        c = x - x.mean(axis=-1, keepdims=True)
        y = c / np.sqrt(np.mean(c * c, axis=-1, keepdims=True) + 1e-5) * g + shift
    t.add(op, (4 if shift is None else 8) * x.size, read=((x, "act"), (g, "weight"),
                                                          (shift, "weight")), write=((y, "act"),))
    return y


def _residual(t: _Tally, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The residual add ``x + y``: 1 FLOP per element, reads both, writes the sum."""
    z = x + y
    t.add("residual adds", z.size, read=((x, "act"), (y, "act")), write=((z, "act"),))
    return z


def _rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotate each pair (x_i, x_{i+d_h/2}) by its position's angle: 3 FLOP per element."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def _attention(t: _Tally, q: np.ndarray, k: np.ndarray, v: np.ndarray, cached: int,
               window: float, fused: bool) -> np.ndarray:
    """Causal grouped-query attention: ``n`` new queries, ``cached + n`` keys (eq-ch05-attn-flops).

    ``q``: (B, n, heads, d_h); ``k``, ``v``: (B, kv_heads, keys, d_h) views of the cache, the
    new entries last; a query sees the ``window`` keys up to its own (``inf``: all). Each
    KV head serves ``heads / kv_heads`` query heads without being copied. Counted fused
    (FlashAttention: scores on chip, masked pairs skipped) or unfused (scores through
    memory, every pair computed), as :func:`lib.kernels.attention` counts.
    """
    B, n, h, dh = q.shape
    hkv, keys = k.shape[1], k.shape[2]
    qg = q.reshape(B, n, hkv, h // hkv, dh).transpose(0, 2, 3, 1, 4)   # (B, hkv, g, n, d_h)
    s = qg @ k[:, :, None].swapaxes(-1, -2)                             # (B, hkv, g, n, keys)
    gap = cached + np.arange(n)[:, None] - np.arange(keys)              # query i - key j
    mask = (gap >= 0) & (gap < window)                                  # key j seen by query i
    s = np.where(mask, s, -np.inf)
    e = np.exp(s - s.max(axis=-1, keepdims=True))                       # max, subtract, exp
    p = e / e.sum(axis=-1, keepdims=True)                               # sum, divide
    o = p @ v[:, :, None]                                               # (B, hkv, g, n, d_h)
    o = o.transpose(0, 3, 1, 2, 4).reshape(B, n, h * dh)
    heads = s.size // mask.size                                         # B x h
    pairs = heads * (np.count_nonzero(mask) if fused else mask.size)
    scores = () if fused else ((s, "act"),)
    t.add("attention scores QK^T", 2 * dh * pairs, read=((q, "act"), (k, "kv")), write=scores)
    t.add("softmax", 5 * pairs, exps=pairs, read=scores, write=scores)
    t.add("attention x V", 2 * dh * pairs, read=((v, "kv"), *scores), write=((o, "act"),))
    return o


# --- the forward pass -----------------------------------------------------------------------

@dataclass(frozen=True, eq=False, repr=False)
class Forward:
    """One forward pass's result: ``logits``, the longer ``cache``, and its tallies.

    ``logits`` is ``(batch, vocab)`` for each sequence's last token, or
    ``(batch, new_tokens, vocab)`` with ``all_logits``. ``tally`` maps each op name to
    ``(flops, exps, activation elements, weight elements, KV elements, calls)``.

    Introduced in chapters/16_measure.ipynb.
    """

    model: ModelConfig
    logits: np.ndarray
    cache: KVCache
    batch: int
    new_tokens: int
    cached: int
    fused_attention: bool
    all_logits: bool
    tally: dict[str, tuple[int, ...]]

    def __repr__(self) -> str:
        return (f"Forward({self.model.name!r}, batch={self.batch}, new_tokens={self.new_tokens}, "
                f"cached={self.cached}, logits {self.logits.shape})")

    @property
    def calls(self) -> int:
        """Ops this forward ran, one call each (attention's three always apart, as numpy runs
        them): what Python's per-call overhead scales with. lib's ``calls`` with attention
        unfused."""
        return sum(row[5] for row in self.tally.values())

    def counts(self, weight_dtype: str = "fp32", kv_dtype: str = "fp32") -> dict[str, Kernel]:
        """The tallies as :class:`lib.kernels.Kernel` s, bytes at the given precisions.

        Activations are counted at :func:`lib.transformer.activation_dtype_for`
        ``(weight_dtype)``, as lib counts them. The default, fp32, is what this numpy code
        moves.

        Introduced in chapters/16_measure.ipynb.
        """
        b = {"act": bytes_per_element(transformer.activation_dtype_for(weight_dtype)),
             "weight": bytes_per_element(weight_dtype), "kv": bytes_per_element(kv_dtype)}
        out = {}
        for op in transformer.OP_NAMES:
            if op in self.tally:
                f, x, a, w, kv, _ = self.tally[op]
                out[op] = Kernel(op, f, a * b["act"] + w * b["weight"] + kv * b["kv"],
                                 bytes_weights=w * b["weight"], bytes_kv=kv * b["kv"], exps=x)
        return out


def forward(weights: Weights, tokens: ArrayLike, cache: KVCache | None = None, *,
            capacity: int | None = None, fused_attention: bool = True,
            all_logits: bool = False) -> Forward:
    """Run ``tokens`` (batch x new tokens) through the model after the ``cache``'s tokens.

    A prefill is ``cache=None`` (a new cache of ``capacity`` entries, default just enough);
    a decode step is one token per sequence after a cache. Every op is tallied as it runs
    (:class:`Forward`); ``fused_attention`` chooses how attention is *counted*, not how it
    is computed.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> w = init(SMALL)
    >>> pre = forward(w, prompt_tokens(SMALL, 1, 4), capacity=5)
    >>> step = forward(w, pre.logits.argmax(-1)[:, None], pre.cache)   # greedy next token
    >>> step.cached, step.cache.length
    (4, 5)
    >>> step.tally["attention scores QK^T"][0] == 2 * 32 * 8 * 5 * 4   # 2 d_h heads keys L
    True
    """
    m = weights.model
    ids = np.asarray(tokens)
    if ids.ndim != 2 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"tokens of shape {ids.shape} and dtype {ids.dtype} must be a "
                         f"non-empty (batch, new_tokens) array of integer token ids.")
    if ids.min() < 0 or ids.max() >= m.vocab_size:
        raise ValueError(f"tokens must lie in [0, {m.vocab_size}) (vocab_size of {m.name!r}).")
    B, n = ids.shape
    if cache is None:
        cache = empty_cache(weights, B, n if capacity is None else capacity)
    c = cache.length
    if cache.k[0].shape[0] != B:
        raise ValueError(f"tokens has batch={B} but the cache holds {cache.k[0].shape[0]} "
                         f"sequences.")
    if c + n > cache.capacity:
        raise ValueError(f"capacity={cache.capacity} is too small for {c} cached + {n} new "
                         f"tokens; pass a larger capacity to the prefill.")
    if m.positional == "learned" and c + n > m.max_context:
        raise ValueError(f"{c + n} positions exceed max_context={m.max_context} of {m.name!r}.")
    fused, all_logits = flag("fused_attention", fused_attention), flag("all_logits", all_logits)
    window = m.sliding_window or np.inf
    start = c - int(m.kv_tokens(c))             # a sliding window reads its last entries only
    t = _Tally()
    h, hkv, dh = m.n_heads, m.n_kv_heads, m.head_dim
    q_w, kv_w = m.q_dim, m.kv_dim

    # embedding: one row per distinct token (+ a position row per new position, added)
    x = weights.embed[ids]
    read = ((weights.embed[np.unique(ids)], "weight"),)
    if weights.positions is not None:
        pos_rows = weights.positions[c:c + n]
        x = x + pos_rows
        read += ((pos_rows, "weight"),)
    t.add("embedding", x.size if weights.positions is not None else 0, read=read,
          write=((x, "act"),))
    if m.positional == "rope":                      # angles of positions c .. c+n-1
        inv_freq = (m.rope_theta or 10000.0) ** (-np.arange(0, dh, 2) / dh)
        angles = np.arange(c, c + n)[:, None] * inv_freq
        cos = np.cos(angles)[:, None].astype(np.float32)    # (n, 1, d_h/2): all heads
        sin = np.sin(angles)[:, None].astype(np.float32)

    for i, layer in enumerate(weights.layers):
        # attention block: x = x + W_o attention(rope(norm(x) W_qkv)); weights: eq-attn-params
        a = _norm(t, "norms", x, layer.norm1, layer.norm1_shift)
        qkv = _matmul(t, "QKV projection", a, layer.w_qkv, layer.b_qkv)
        q = qkv[..., :q_w].reshape(B, n, h, dh)
        k = qkv[..., q_w:q_w + kv_w].reshape(B, n, hkv, dh)
        v = qkv[..., q_w + kv_w:].reshape(B, n, hkv, dh)
        if m.positional == "rope":                  # reads Q, K, V; writes rotated Q, cache
            read = ((q, "act"), (k, "act"), (v, "act"))
            q, k = _rope(q, cos, sin), _rope(k, cos, sin)
            op, flops, wrote = "RoPE and KV write", 3 * (q.size + k.size), ((q, "act"),)
        else:                                       # GPT-2: Q goes straight to attention
            op, flops, read, wrote = "KV write", 0, ((k, "act"), (v, "act")), ()
        cache.k[i][:, :, c:c + n] = k.transpose(0, 2, 1, 3)     # kappa bytes a token: eq-kv
        cache.v[i][:, :, c:c + n] = v.transpose(0, 2, 1, 3)
        t.add(op, flops, read=read, write=(*wrote, (k, "kv"), (v, "kv")))
        o = _attention(t, q, cache.k[i][:, :, start:c + n], cache.v[i][:, :, start:c + n],
                       c - start, window, fused)
        x = _residual(t, x, _matmul(t, "output projection", o, layer.w_o, layer.b_o))
        # MLP block: x = x + W_down act(norm(x) W_up); weights: eq-mlp-params
        a = _norm(t, "norms", x, layer.norm2, layer.norm2_shift)
        u = _matmul(t, "MLP up", a, layer.w_up, layer.b_up)
        if m.gated_mlp:                             # SiLU(gate) x up: 5 FLOP, 1 exp each
            gate, up = u[..., :m.d_ff], u[..., m.d_ff:]
            act = gate / (1 + np.exp(-gate)) * up
            t.add("activation", 5 * act.size, exps=act.size, read=((gate, "act"), (up, "act")),
                  write=((act, "act"),))
        else:                                       # GELU, tanh form: ~8 FLOP, 1 tanh each
            act = 0.5 * u * (1 + np.tanh(0.7978845608 * (u + 0.044715 * u ** 3)))
            t.add("activation", 8 * act.size, exps=act.size, read=((u, "act"),),
                  write=((act, "act"),))
        x = _residual(t, x, _matmul(t, "MLP down", act, layer.w_down, layer.b_down))

    # the final norm over every token, then logits for the last (or every) position
    x = _norm(t, "final norm", x, weights.final_norm, weights.final_norm_shift)
    logits = _matmul(t, "LM head", x if all_logits else x[:, -1], weights.lm_head)
    return Forward(m, logits, KVCache(cache.k, cache.v, c + n), B, n, c, fused, all_logits,
                   {op: tuple(row) for op, row in t.ops.items()})


def generate(weights: Weights, prompt: ArrayLike, steps: int) -> np.ndarray:
    """Greedy decoding: prefill ``prompt`` (batch x length), then ``steps`` one-token forwards.

    Returns the ``batch x steps`` generated ids (random weights: fluent in nothing).

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> generate(init(SMALL), prompt_tokens(SMALL, 1, 3), 4).shape
    (1, 4)
    """
    s = int(positive("steps", steps, integer=True))
    ids = np.asarray(prompt)
    step = forward(weights, ids, capacity=ids.shape[1] + s)
    out = []
    for _ in range(s):
        nxt = step.logits.argmax(axis=-1)[:, None]
        out.append(nxt)
        step = forward(weights, nxt, step.cache)
    return np.concatenate(out, axis=1)


# --- counted against lib --------------------------------------------------------------------

def lib_counts(step: Forward, weight_dtype: str = "fp32",
               kv_dtype: str = "fp32") -> dict[str, Kernel]:
    """:func:`lib.transformer.ops` for the model, batch, tokens, context and options of ``step``.

    Introduced in chapters/16_measure.ipynb.
    """
    p = transformer.forward_pass(step.model, step.batch, step.new_tokens, step.cached,
                                 weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                                 fused_attention=step.fused_attention, all_logits=step.all_logits)
    return {op.name: op.kernel for op in transformer.ops(p)}


@dataclass(frozen=True)
class CountRow:
    """One op counted two ways: by running it (``counted``) and by lib's formulas (``lib``).

    Introduced in chapters/16_measure.ipynb.
    """

    op: str
    counted: Kernel
    lib: Kernel

    @property
    def equal(self) -> bool:
        """Whether FLOPs, exps, bytes, weight bytes and KV bytes are all exactly equal."""
        return all(float(getattr(self.counted, f)) == float(getattr(self.lib, f))
                   for f in ("flops", "exps", "bytes_moved", "bytes_weights", "bytes_kv"))


def _exact(x: float) -> str:
    """Every digit, with thousands separators: equal counts must look equal to the last one."""
    x = float(x)
    return f"{x:,.0f}" if x.is_integer() else f"{x:,.4f}"


@dataclass(frozen=True)
class CountCheck:
    """Every op of one forward pass, counted and from lib; ``table()`` shows them side by side.

    Introduced in chapters/16_measure.ipynb.
    """

    rows: tuple[CountRow, ...]
    weight_dtype: str
    kv_dtype: str

    @property
    def equal(self) -> bool:
        """Whether every op agrees on every count."""
        return all(r.equal for r in self.rows)

    def total(self, field: str = "flops") -> tuple[float, float]:
        """(counted, lib) sums of one field over the ops, e.g. ``"bytes_moved"``."""
        return (sum(float(getattr(r.counted, field)) for r in self.rows),
                sum(float(getattr(r.lib, field)) for r in self.rows))

    def table(self) -> Table:
        """Op, FLOPs and bytes as counted and as lib has them, and whether all agree."""
        rows = [(r.op, _exact(r.counted.flops), _exact(r.lib.flops),
                 _exact(r.counted.bytes_moved), _exact(r.lib.bytes_moved),
                 "yes" if r.equal else "NO") for r in self.rows]
        f, b = self.total("flops"), self.total("bytes_moved")
        rows.append(("total", _exact(f[0]), _exact(f[1]), _exact(b[0]), _exact(b[1]),
                     "yes" if self.equal else "NO"))
        return Table(("op", "FLOP counted", "FLOP lib", "bytes counted", "bytes lib", "equal?"),
                     rows, totals=1, footer=(f"bytes at weights {self.weight_dtype}, KV cache "
                                             f"{self.kv_dtype}; equal? compares FLOPs, exps, "
                                             f"all bytes, weight bytes and KV bytes exactly",))


def compare_counts(step: Forward, weight_dtype: str = "fp32", kv_dtype: str = "fp32") -> CountCheck:
    """Each op of ``step``, as it counted itself and as :mod:`lib.transformer` counts it.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> step = forward(init(SMALL), prompt_tokens(SMALL, 1, 3))
    >>> check = compare_counts(step, "bf16", "bf16")
    >>> check.equal, [r.op for r in check.rows][:3]
    (True, ['embedding', 'norms', 'QKV projection'])
    """
    mine, theirs = step.counts(weight_dtype, kv_dtype), lib_counts(step, weight_dtype, kv_dtype)
    if list(mine) != list(theirs):
        raise ValueError(f"the ops differ: counted {list(mine)}, lib {list(theirs)}.")
    return CountCheck(tuple(CountRow(op, mine[op], theirs[op]) for op in mine),
                      weight_dtype, kv_dtype)


# --- timing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ForwardTiming:
    """A forward pass timed on this machine, with its counted FLOPs and bytes (fp32, as run).

    ``phase`` is ``"prefill"`` (``new_tokens`` per sequence, nothing cached) or
    ``"decode"`` (one token after ``cached``). ``flops`` and ``bytes_moved`` are the sums
    of the counted ops at fp32 with attention counted *unfused* (what numpy really does);
    ``weight_bytes`` is the weight share of them; ``kernels`` the ops this forward runs
    (:attr:`Forward.calls`), each a kernel launch in an engine and a handful of numpy calls
    here: the count Python's per-call overhead scales with.

    Introduced in chapters/16_measure.ipynb.
    """

    model: str
    phase: str
    batch: int
    new_tokens: int
    cached: int
    timing: Timing
    flops: float
    bytes_moved: float
    weight_bytes: float
    kernels: int

    def to_dict(self) -> dict[str, Any]:
        """Plain types, for JSON."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["timing"] = self.timing.to_dict()
        return d


def _timed(weights: Weights, phase: str, step: Forward, fn: Callable[[], Any], repeats: int,
           warmup: int) -> ForwardTiming:
    counts = step.counts("fp32", "fp32").values()
    return ForwardTiming(weights.model.name, phase, step.batch, step.new_tokens, step.cached,
                         time_call(fn, repeats=repeats, warmup=warmup), sum(float(k.flops) for k in counts),
                         sum(float(k.bytes_moved) for k in counts),
                         sum(float(k.bytes_weights) for k in counts), step.calls)


def time_prefill(weights: Weights, batch: int, prompt: int, repeats: int = 5,
                 warmup: int = 1) -> ForwardTiming:
    """Time a prefill of ``batch`` prompts of ``prompt`` tokens on this CPU.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> t = time_prefill(init(SMALL), batch=1, prompt=8, repeats=2)
    >>> t.phase, t.new_tokens, t.cached, t.timing.median_s > 0
    ('prefill', 8, 0, True)
    """
    ids = prompt_tokens(weights.model, batch, prompt)
    step = forward(weights, ids, fused_attention=False)
    return _timed(weights, "prefill", step, lambda: forward(weights, ids), repeats, warmup)


def time_decode(weights: Weights, batch: int, context: int, repeats: int = 5,
                warmup: int = 1) -> ForwardTiming:
    """Time one decode step of ``batch`` sequences with ``context`` tokens cached, on this CPU.

    The cache is filled by an untimed prefill; every timed step decodes from the same
    cache (:class:`KVCache`), so each one attends to exactly ``context`` earlier tokens.

    Introduced in chapters/16_measure.ipynb.

    Examples
    --------
    >>> t = time_decode(init(SMALL), batch=2, context=16, repeats=2)
    >>> t.phase, t.new_tokens, t.cached, t.kernels   # 1 + 8 + 4 x 11 + 1 + 1 launches
    ('decode', 1, 16, 55)
    """
    ctx = int(positive("context", context, integer=True))
    cache = forward(weights, prompt_tokens(weights.model, batch, ctx), capacity=ctx + 1).cache
    nxt = prompt_tokens(weights.model, batch, 1, start=ctx * batch)
    step = forward(weights, nxt, cache, fused_attention=False)
    return _timed(weights, "decode", step, lambda: forward(weights, nxt, cache), repeats, warmup)
