"""What one forward pass of a decoder-only transformer does, op by op: its FLOPs and bytes.

For every token it processes, a forward pass runs::

    x = embed(tokens)                           embedding          a table lookup
    for each of the L layers:
        h = norm(x)                             norms (1 of 2)
        q, k, v = h @ W_qkv                     QKV projection     one GEMM
        q, k = rope(q, k); cache += k, v        RoPE and KV write  (KV write without RoPE)
        s = q @ K^T                             attention scores QK^T
        p = softmax(s)                          softmax
        o = p @ V                               attention x V
        x = x + o @ W_o                         output projection, residual adds (1 of 2)
        h = norm(x)                             norms (2 of 2)
        u = h @ W_gate_up                       MLP up             gate and up as one GEMM
        a = silu(gate) * up                     activation
        x = x + a @ W_down                      MLP down, residual adds (2 of 2)
    logits = norm(x) @ W_head                   final norm, LM head

A mixture of experts adds a **router** (a small GEMM choosing ``top_k`` experts per token)
before the MLP, runs the MLP's GEMMs over the experts its tokens are routed to, and ends
with an **expert combine** (each token's ``top_k`` outputs, weighted and summed).

Each op below is one function of a :class:`ForwardPass` returning an :class:`Op`: the FLOPs
and bytes of one kernel per layer (or per forward), built from the definitions of
:mod:`lib.kernels` (:func:`~lib.kernels.gemm`, :func:`~lib.kernels.attention`, the norms,
the activation, the lookup) and summed over the layers. Nothing is counted twice, and no
definition is written here again. :func:`ops` lists them all, in the order above.

Conventions, each a choice a chapter can question:

* **Bytes** are each kernel's *compulsory* main-memory traffic, as in :mod:`lib.kernels`:
  its inputs read once and its outputs written once, split into weights, KV cache and
  activations. Every op is its own kernel, so every activation makes a round trip
  through memory between ops (a fused engine saves those bytes: chapter 4 shows how few
  they are).
* **Merged GEMMs**: Q, K and V are one GEMM, the MLP's gate and up projections another
  (as vLLM and TensorRT-LLM run them). A separate kernel applies the rotary embedding to
  Q and K and writes the new K and V into the cache.
* **Attention** is FlashAttention-style by default (``fused_attention=True``): one
  kernel, the scores never in main memory, and the masked half of causal attention
  skipped; K and V are read once (``attention_tile=None``) or once per query tile.
  Unfused, the score matrix goes through memory and the masked half is computed.
  A decode step with C tokens cached reads C + 1 entries per sequence and layer.
* **Precisions**: weights at ``weight_dtype`` (every tensor, embedding and LM head
  included; a group-scaled format's scales counted, per-tensor scales not:
  :class:`lib.dtypes.Format`), the KV cache at ``kv_dtype``, activations
  at the weights' own fp32 or fp16, else bf16 (:func:`activation_dtype_for`).
* **LM head**: its matrix is read in full every forward; logits are computed for each
  sequence's last position only, or for every new token with ``all_logits=True``
  (speculative verification).
* **Mixture of experts**: each token runs ``top_k`` experts (FLOPs); the weights read are
  those of the experts at least one token is routed to
  (:meth:`lib.models.ModelConfig.experts_touched`).
* **Tensor parallelism** over ``tp`` devices (Megatron-LM style): query heads, KV heads
  (replicated when ``tp`` exceeds them), MLP columns and the vocabulary are split;
  norms, residual adds and the router are replicated. Every count is per device. The
  all-reduces that join the devices are costed by :mod:`lib.comm`.

Introduced in chapters/04_transformer_arithmetic.ipynb (the mixture of experts too);
attention's fused and unfused kernels in chapters/05_prefill.ipynb; tensor parallelism in
chapters/07_mental_model.ipynb.

Examples
--------
>>> p = forward_pass("llama-3-8b", batch=1, new_tokens=1, cached=4096)
>>> [op.name for op in ops(p)][:4]
['embedding', 'norms', 'QKV projection', 'RoPE and KV write']
>>> round(sum(op.flops for op in ops(p)) / 1e9, 1)     # GFLOP for one decoded token
17.2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import capacity, kernels, models
from lib._validate import broadcast, choice, flag, positive, scalar_or_array
from lib.dtypes import bytes_per_element
from lib.kernels import Kernel
from lib.models import KV_DTYPES, WEIGHT_DTYPES, ModelConfig

__all__ = ["OP_NAMES", "ROOFS", "ATTENTION_OPS", "ForwardPass", "KernelCounts", "Op",
           "forward_pass",
           "activation_dtype_for", "ops", "compulsory_bytes", "attention_flops_per_token",
           "embedding", "norms", "qkv_projection", "kv_write", "attention", "output_projection",
           "residual_adds", "router", "mlp_up", "activation", "mlp_down", "expert_combine",
           "final_norm", "lm_head", "GROUPS", "breakdown"]

#: Every op a forward pass may list, in the order :func:`ops` lists them. A model lists
#: one of "RoPE and KV write" and "KV write"; "router" and "expert combine" only for a MoE.
OP_NAMES = ("embedding", "norms", "QKV projection", "RoPE and KV write", "KV write",
            "attention scores QK^T", "softmax", "attention x V", "output projection",
            "residual adds", "router", "MLP up", "activation", "MLP down", "expert combine",
            "final norm", "LM head")
#: The three ops of attention proper (the projections around it are separate ops).
ATTENTION_OPS = ("attention scores QK^T", "softmax", "attention x V")
#: Which units an op runs on: the tensor cores at the weights' compute precision
#: ("matmul"), the tensor cores at the activations' precision ("attention": activations
#: times the KV cache), or the vector units ("vector": elementwise work).
ROOFS = ("matmul", "attention", "vector")


@dataclass(frozen=True)
class ForwardPass:
    """One forward pass: a model, its batch and tokens, its precisions, its split over devices.

    Build one with :func:`forward_pass`, which checks the inputs. ``batch``,
    ``new_tokens`` and ``cached`` are broadcast arrays of one shape; every derived size
    is per device.

    Introduced in chapters/04_transformer_arithmetic.ipynb.
    """

    model: ModelConfig
    batch: np.ndarray
    new_tokens: np.ndarray
    cached: np.ndarray
    weight_dtype: str
    kv_dtype: str
    tp: int
    fused_attention: bool
    causal_skip: bool
    all_logits: bool
    attention_tile: int | None

    @property
    def act_dtype(self) -> str:
        """The activations' precision (:func:`activation_dtype_for`)."""
        return activation_dtype_for(self.weight_dtype)

    @property
    def tokens(self) -> np.ndarray:
        """Tokens this forward processes, all sequences: ``batch x new_tokens``."""
        return self.batch * self.new_tokens

    @property
    def heads(self) -> int:
        """Query heads per device."""
        return self.model.n_heads // self.tp

    @property
    def kv_heads(self) -> int:
        """KV heads per device (:meth:`lib.models.ModelConfig.kv_heads_per_device`)."""
        return self.model.kv_heads_per_device(self.tp)

    @property
    def q_width(self) -> int:
        """Width of the queries on one device: ``heads x head_dim``."""
        return self.heads * self.model.head_dim

    @property
    def kv_width(self) -> int:
        """Width of the keys (or the values) on one device: ``kv_heads x head_dim``."""
        return self.kv_heads * self.model.head_dim

    @property
    def d_ff(self) -> int:
        """MLP columns (per expert) on one device: ``d_ff / tp``."""
        return self.model.d_ff // self.tp

    @property
    def vocab(self) -> int:
        """Rows of the vocabulary on one device: ``vocab_size / tp``, padded up to a whole
        shard as engines pad it."""
        return -(-self.model.vocab_size // self.tp)

    @property
    def keys(self) -> np.ndarray:
        """KV entries each sequence's attention reads: those kept in the cache, plus the new."""
        return np.asarray(self.model.kv_tokens(self.cached), float) + self.new_tokens

    @property
    def pairs(self) -> np.ndarray:
        """(query, key) scores each sequence computes per head (fewer when causal blocks are skipped)."""
        n, c, w = self.new_tokens, self.cached, self.model.sliding_window
        if not self.causal_skip:
            return n * self.keys
        if w is None:
            return n * c + n * (n + 1) / 2
        a, b = c + 1, c + n                  # the new tokens' positions, 1-based
        m = np.clip(w, a - 1, b)             # the last position that sees every earlier key
        return (m * (m + 1) - (a - 1) * a) / 2 + (b - m) * w

    @property
    def routed(self) -> np.ndarray:
        """(token, expert) pairs the MLP computes: ``tokens x top_k`` (just ``tokens`` if dense)."""
        return self.tokens * self.model.top_k

    @property
    def experts(self) -> Any:
        """Experts per layer whose weights this forward reads (1 for a dense model)."""
        return self.model.experts_touched(self.tokens)

    @property
    def logit_rows(self) -> np.ndarray:
        """Positions whose logits are computed: each sequence's last, or every new token."""
        return self.tokens if self.all_logits else self.batch


class KernelCounts:
    """An op's counts, read from its ``kernel`` (:class:`lib.kernels.Kernel`) under op names.

    Shared by :class:`Op` and :class:`lib.inference.OpCost`.
    """

    kernel: Kernel

    flops = property(lambda self: self.kernel.flops, doc="FLOP of this op in the whole forward.")
    exps = property(lambda self: self.kernel.exps, doc="Exponentials among the FLOPs.")
    bytes = property(lambda self: self.kernel.bytes_moved, doc="All bytes it moves.")
    bytes_weights = property(lambda self: self.kernel.bytes_weights, doc="Weight bytes read.")
    bytes_kv = property(lambda self: self.kernel.bytes_kv, doc="KV-cache bytes read and written.")
    bytes_act = property(lambda self: self.kernel.bytes_act, doc="Activation bytes moved.")
    arithmetic_intensity = property(lambda self: self.kernel.intensity,
                                    doc="FLOP per byte; ``inf`` where it moves no bytes.")


@dataclass(frozen=True)
class Op(KernelCounts):
    """One operation of a forward pass: its kernel summed over the layers, per device.

    ``calls`` counts the kernel launches per forward (one per layer, or 0 for a part of
    a fused kernel, such as a fused attention's softmax). ``roof`` is one of
    :data:`ROOFS`.

    Introduced in chapters/04_transformer_arithmetic.ipynb.
    """

    name: str
    kernel: Kernel
    roof: str
    calls: int


def activation_dtype_for(weight_dtype: str) -> str:
    """Precision activations are stored in: the weights' own for fp32/fp16, else bf16.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> activation_dtype_for("int4"), activation_dtype_for("fp32")
    ('bf16', 'fp32')
    """
    wd = choice("weight_dtype", weight_dtype, WEIGHT_DTYPES)
    return wd if wd in ("fp32", "fp16") else "bf16"


def forward_pass(model: "str | ModelConfig", batch: ArrayLike, new_tokens: ArrayLike,
                 cached: ArrayLike = 0, *, weight_dtype: str = "bf16", kv_dtype: str = "bf16",
                 tp: int = 1, fused_attention: bool = True, causal_skip: bool | None = None,
                 all_logits: bool = False, attention_tile: int | None = None) -> ForwardPass:
    """A checked :class:`ForwardPass`: ``batch`` sequences of ``new_tokens``, ``cached`` in the cache.

    Prefill is ``cached=0``; a decode step ``new_tokens=1``; a chunk of a chunked prefill,
    or the verification of ``g`` draft tokens (``new_tokens=g+1``, ``all_logits=True``),
    lies between. Sizes broadcast together. ``causal_skip`` defaults to
    ``fused_attention``.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> p = forward_pass("llama-2-70b", batch=[1, 8], new_tokens=1, cached=100, tp=4)
    >>> p.tokens.tolist(), p.heads, p.kv_heads
    ([1.0, 8.0], 16, 2)
    >>> forward_pass("gpt2", 1, 1, fused_attention="no")
    Traceback (most recent call last):
    ...
    ValueError: fused_attention='no' must be True or False.
    """
    m = models.get(model)
    b, n, c = broadcast(batch=positive("batch", batch, integer=True),
                        new_tokens=positive("new_tokens", new_tokens, integer=True),
                        cached=positive("cached", cached, allow_zero=True, integer=True))
    fused = flag("fused_attention", fused_attention)
    tile = None if attention_tile is None else int(
        positive("attention_tile", attention_tile, integer=True))
    m.kv_heads_per_device(tp)             # checks tp against the heads
    if m.d_ff % int(tp):
        raise ValueError(f"tp={tp} must divide d_ff={m.d_ff} of {m.name} (each device holds "
                         f"whole MLP columns).")
    return ForwardPass(
        model=m, batch=b, new_tokens=n, cached=c,
        weight_dtype=choice("weight_dtype", weight_dtype, WEIGHT_DTYPES),
        kv_dtype=choice("kv_dtype", kv_dtype, KV_DTYPES), tp=int(tp), fused_attention=fused,
        causal_skip=fused if causal_skip is None else flag("causal_skip", causal_skip),
        all_logits=flag("all_logits", all_logits), attention_tile=tile)


# --- the ops, in the order a forward pass runs them ----------------------------------------

def embedding(p: ForwardPass) -> Op:
    """The input embedding: one row per distinct token read (the vocabulary split over devices).

    GPT-2 also reads a learned position row per new position and adds the two.
    """
    m = p.model
    rows = np.minimum(p.tokens, m.vocab_size) / p.tp   # the distinct rows, spread evenly
    learned = m.positional == "learned"
    k = kernels.embedding(rows + (p.new_tokens if learned else 0), p.tokens, m.d_model,
                          p.act_dtype, p.weight_dtype, tables=2 if learned else 1)
    return Op("embedding", k, "vector", 1)


def _norm(p: ForwardPass) -> Kernel:
    """One norm over every token's hidden vector (RMSNorm or LayerNorm, as the model has)."""
    norm = kernels.rmsnorm if p.model.norm == "rmsnorm" else kernels.layernorm
    return norm(p.tokens, p.model.d_model, p.act_dtype, p.weight_dtype)


def norms(p: ForwardPass) -> Op:
    """Two norms per layer, before attention and before the MLP."""
    layers = 2 * p.model.n_layers
    return Op("norms", _norm(p).repeat(layers), "vector", layers)


def qkv_projection(p: ForwardPass) -> Op:
    """Q, K and V from the normed hidden vector: one GEMM with the three matrices side by side."""
    m = p.model
    k = kernels.gemm(p.tokens, p.q_width + 2 * p.kv_width, m.d_model, p.act_dtype,
                     p.weight_dtype, bias=m.qkv_bias)
    return Op("QKV projection", k.repeat(m.n_layers), "matmul", m.n_layers)


def kv_write(p: ForwardPass) -> Op:
    """Rotary embedding of Q and K (RoPE models) and the new K and V written into the cache.

    Reads Q, K and V; writes the rotated Q and the cache entries. RoPE costs 3 FLOP per
    element of Q and K (``x cos - y sin``). Without RoPE (GPT-2) only K and V are read
    and written to the cache.
    """
    m = p.model
    ab, kb = bytes_per_element(p.act_dtype), bytes_per_element(p.kv_dtype)
    rope = m.positional == "rope"
    q = p.tokens * p.q_width if rope else 0.0
    cache = p.tokens * 2 * p.kv_width * kb
    flops = 3 * p.tokens * (p.q_width + p.kv_width) if rope else 0.0
    k = Kernel("rotary embedding and KV write", flops,
               (2 * q + p.tokens * 2 * p.kv_width) * ab + cache, bytes_kv=cache)
    name = "RoPE and KV write" if rope else "KV write"
    return Op(name, k.repeat(m.n_layers), "vector", m.n_layers)


def attention(p: ForwardPass) -> tuple[Op, Op, Op]:
    """Attention proper: ``Q K^T``, softmax, ``P V`` (one kernel when fused, three when not)."""
    m = p.model
    qk, sm, pv = kernels.attention(p.batch, p.new_tokens, p.keys, p.pairs, p.heads, p.kv_heads,
                                   m.head_dim, p.act_dtype, p.kv_dtype, p.fused_attention,
                                   p.attention_tile)
    L = m.n_layers
    extra = 0 if p.fused_attention else L  # the softmax and P V launch on their own
    return (Op("attention scores QK^T", qk.repeat(L), "attention", L),
            Op("softmax", sm.repeat(L), "vector", extra),
            Op("attention x V", pv.repeat(L), "attention", extra))


def output_projection(p: ForwardPass) -> Op:
    """The attention output back to the model width: one GEMM."""
    m = p.model
    k = kernels.gemm(p.tokens, m.d_model, p.q_width, p.act_dtype, p.weight_dtype,
                     bias=m.out_bias)
    return Op("output projection", k.repeat(m.n_layers), "matmul", m.n_layers)


def residual_adds(p: ForwardPass) -> Op:
    """Two residual additions per layer, ``x = x + f(x)``, each a vector add."""
    layers = 2 * p.model.n_layers
    k = kernels.vector_add(p.tokens * p.model.d_model, p.act_dtype)
    return Op("residual adds", k.repeat(layers), "vector", layers)


def router(p: ForwardPass) -> tuple[Op, ...]:
    """A mixture of experts' router: scores for every expert (a small GEMM, replicated). Dense: ()."""
    m = p.model
    if not m.is_moe:
        return ()
    k = kernels.gemm(p.tokens, m.n_experts, m.d_model, p.act_dtype, p.weight_dtype)
    return (Op("router", k.repeat(m.n_layers), "matmul", m.n_layers),)


def mlp_up(p: ForwardPass) -> Op:
    """The MLP's up (and gate) projection: one GEMM per touched expert (one for a dense model)."""
    m = p.model
    width = (m.mlp_matrices - 1) * p.d_ff
    k = kernels.gemm(p.routed, width, m.d_model, p.act_dtype, p.weight_dtype, bias=m.mlp_bias,
                     groups=p.experts)
    return Op("MLP up", k.repeat(m.n_layers), "matmul", m.n_layers)


def activation(p: ForwardPass) -> Op:
    """The MLP's non-linearity: SiLU(gate) x up (gated) or GELU, its own kernel."""
    m = p.model
    k = kernels.activation(p.routed * p.d_ff, m.gated_mlp, p.act_dtype)
    return Op("activation", k.repeat(m.n_layers), "vector", m.n_layers)


def mlp_down(p: ForwardPass) -> Op:
    """The MLP's down projection, back to the model width: one GEMM per touched expert."""
    m = p.model
    k = kernels.gemm(p.routed, m.d_model, p.d_ff, p.act_dtype, p.weight_dtype,
                     bias=m.mlp_bias, groups=p.experts)
    return Op("MLP down", k.repeat(m.n_layers), "matmul", m.n_layers)


def expert_combine(p: ForwardPass) -> tuple[Op, ...]:
    """A mixture of experts' weighted sum of each token's ``top_k`` outputs. Dense: ()."""
    m = p.model
    if not m.is_moe:
        return ()
    ab = bytes_per_element(p.act_dtype)
    d = m.d_model
    k = Kernel("expert combine", 2 * p.routed * d, (p.routed + p.tokens) * d * ab)
    return (Op("expert combine", k.repeat(m.n_layers), "vector", m.n_layers),)


def final_norm(p: ForwardPass) -> Op:
    """The norm after the last layer."""
    return Op("final norm", _norm(p), "vector", 1)


def lm_head(p: ForwardPass) -> Op:
    """Logits over the vocabulary (split over devices): one GEMM, its matrix read in full."""
    k = kernels.gemm(p.logit_rows, p.vocab, p.model.d_model, p.act_dtype, p.weight_dtype)
    return Op("LM head", k, "matmul", 1)


def ops(p: ForwardPass) -> tuple[Op, ...]:
    """Every op of the forward pass ``p``, in :data:`OP_NAMES` order.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> [op.name for op in ops(forward_pass("mixtral-8x7b", 1, 1))][9:]
    ['router', 'MLP up', 'activation', 'MLP down', 'expert combine', 'final norm', 'LM head']
    """
    return (embedding(p), norms(p), qkv_projection(p), kv_write(p), *attention(p),
            output_projection(p), residual_adds(p), *router(p), mlp_up(p), activation(p),
            mlp_down(p), *expert_combine(p), final_norm(p), lm_head(p))


def compulsory_bytes(p: ForwardPass, op_list: tuple[Op, ...] | None = None) -> Any:
    """Bytes no implementation of ``p`` can avoid moving: weights, cache entries read, new ones written.

    The weights the ops read (each once), the KV entries cached before the forward (read
    once), and the new entries (written once). Every activation could in principle stay
    on chip, so none counts. This is the memory term of the forward's floor.
    ``op_list`` is ``ops(p)`` when the caller has it already.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> p = forward_pass("llama-2-7b", batch=1, new_tokens=1, cached=4096)
    >>> round(compulsory_bytes(p) / 1e9, 2)      # 13.2 GB of weights + 2.1 GB of cache
    15.36
    """
    op_list = ops(p) if op_list is None else op_list
    weights = sum(np.asarray(o.bytes_weights) for o in op_list)
    written = sum(np.asarray(o.bytes_kv) for o in op_list if o.name.endswith("KV write"))
    read = capacity.kv_cache_bytes(p.model, p.batch, p.cached, p.kv_dtype, p.tp)
    return scalar_or_array(weights + written + read)


def attention_flops_per_token(model: "str | ModelConfig", keys: ArrayLike) -> Any:
    """FLOP one new token spends attending to ``keys`` keys: ``4 L n_heads head_dim keys``.

    Both attention matmuls of :func:`lib.kernels.attention`, in every layer, for every
    *query* head (grouped-query attention shrinks the cache, not this arithmetic). A
    sliding window caps the keys. The softmax is not counted. Accepts arrays.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> attention_flops_per_token("llama-3-8b", 4096) / 1e9   # GFLOP
    2.147483648
    >>> attention_flops_per_token("mistral-7b", [4096, 32768]).tolist()   # window 4096
    [2147483648.0, 2147483648.0]
    """
    m = models.get(model)
    k = np.asarray(m.kv_tokens(keys), float)
    qk, _, pv = kernels.attention(1, 1, k, k, m.n_heads, m.n_kv_heads, m.head_dim)
    return scalar_or_array(m.n_layers * (np.asarray(qk.flops) + pv.flops))


# --- where a token's memory, bytes and FLOPs go ---------------------------------------------

#: Cost groups of :func:`breakdown`: key -> label.
GROUPS = {
    "embedding": "embedding table",
    "attention": "attention projections (Q, K, V, O)",
    "mlp": "MLP (all experts + router)",
    "lm_head": "LM head",
    "context": "context: KV cache, attention over it",
    "other": "norms, residuals, activations",
}
# op -> the group its FLOPs and weight bytes belong to (KV bytes are always "context",
# activation bytes always "other")
_OP_GROUP = {
    "embedding": "embedding", "norms": "other", "QKV projection": "attention",
    "RoPE and KV write": "other", "KV write": "other", "attention scores QK^T": "context",
    "softmax": "context", "attention x V": "context", "output projection": "attention",
    "residual adds": "other", "router": "mlp", "MLP up": "mlp", "activation": "other",
    "MLP down": "mlp", "expert combine": "other", "final norm": "other", "LM head": "lm_head",
}
_PARAM_GROUP = {"embedding": "embedding", "attention": "attention", "mlp": "mlp",
                "norms": "other", "lm_head": "lm_head"}


def breakdown(model: "str | ModelConfig", context: int, kv_dtype: str = "bf16",
              weight_dtype: str = "bf16") -> dict[str, dict[str, float]]:
    """Memory held, bytes moved and FLOPs of one decode step of one sequence, by :data:`GROUPS`.

    Returns three dicts keyed by group:

    * ``"memory"`` -- bytes one sequence needs: every weight at ``weight_dtype`` plus the
      KV cache of ``context`` tokens at ``kv_dtype`` (a sliding window caps it);
    * ``"bytes"`` -- bytes one decode step (batch 1, ``context`` tokens cached) moves: the
      weights it reads (one embedding row; ``top_k`` experts of a MoE), the KV cache, the
      activations;
    * ``"flops"`` -- FLOPs of that step.

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
    memory = dict.fromkeys(GROUPS, 0.0)
    wb = bytes_per_element(choice("weight_dtype", weight_dtype, WEIGHT_DTYPES))
    for key, n in m.params_breakdown().items():
        memory[_PARAM_GROUP[key]] += n * wb
    memory["context"] = float(capacity.kv_cache_bytes(m, 1, context, kv_dtype))
    moved, flops = dict.fromkeys(GROUPS, 0.0), dict.fromkeys(GROUPS, 0.0)
    for op in ops(forward_pass(m, 1, 1, context, weight_dtype=weight_dtype,
                               kv_dtype=kv_dtype)):
        group = _OP_GROUP[op.name]
        moved[group] += float(op.bytes_weights)
        moved["context"] += float(op.bytes_kv)
        moved["other"] += float(op.bytes_act)
        flops[group] += float(op.flops)
    return {"memory": memory, "bytes": moved, "flops": flops}
