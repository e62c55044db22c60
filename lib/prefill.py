"""Speeding up prefill: fused kernels, attention masks, launches and chunks, priced on a device.

A prefill is one forward of ``batch`` prompts of ``prompt_len`` tokens. Its matrix products
see ``M = batch x prompt_len`` rows, so beyond a few hundred tokens it is bound by the
tensor cores (:func:`lib.regimes.shortest_compute_bound_prompt`). This module composes the
book's cost model to ask what else a prefill pays, and what each technique removes:

* **fusion** -- :func:`step` is :func:`lib.fusion.step` for a forward of any length: the
  same three fusion levels, with or without CUDA graphs, priced by the one rule
  (:func:`lib.inference.calibrated_parts`). At the merged level, causal mask and graphs it
  is exactly :attr:`lib.inference.Estimate.estimate_s` of :func:`lib.inference.prefill`;
* **attention masks** (:data:`MASKS`) -- dense causal; a sliding window of ``window`` keys
  (Mistral 7B's, :meth:`lib.models.ModelConfig.kv_tokens`); block-sparse, computing a
  ``density`` share of the causal score blocks (block-sparse FlashAttention, whose IO
  complexity its paper gives as Theta(N d + N^2 d^2 M^-1 s), s the non-zero block share).
  :func:`attention` gives the FLOPs and bytes of attention proper under each;
* **launches** -- :func:`launch_bound_below`: the prompt length below which a prefill's
  fixed costs per kernel outweigh its bytes and FLOPs;
* **chunks** -- :func:`chunked`: a prompt prefilled in chunks, each a forward after the
  ones before it (each chunk reads the KV cache of the earlier ones), and
  :func:`piggyback`: a decode step riding on a chunk, the weights read once for both.

Sources (``references.bib``): FlashAttention and its block-sparse variant
(``dao2022flashattention``), Mistral 7B's sliding window (``jiang2023mistral``),
Longformer's (``beltagy2020longformer``), BigBird's block-sparse attention
(``zaheer2020bigbird``), SARATHI's chunked prefills and decode-maximal batching
(``agrawal2023sarathi``). The costs are the book's own (:mod:`lib.efficiency`); no figure
is taken from these papers.

Introduced in chapters/13_prefill_kernels.ipynb.

Examples
--------
>>> s = step("llama-3-8b", "h100-sxm", 1, 8192, mask="sliding window", window=1024)
>>> round(float(s.time_s) * 1e3, 1)                # ms, calibrated estimate
195.1
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import capacity, fusion, hardware, inference, kernels, models, transformer
from lib._validate import choice, positive, scalar_or_array
from lib.fusion import Step
from lib.hardware import Device
from lib.kernels import Kernel
from lib.models import ModelConfig
from lib.transformer import ATTENTION_OPS, Op

__all__ = ["MASKS", "masked_model", "AttentionCost", "attention", "step", "FusionSaving",
           "fusion_saving", "fixed_share", "launch_bound_below", "Chunked", "chunked",
           "Piggyback", "piggyback"]

#: Attention masks :func:`attention` and :func:`step` price.
MASKS = ("causal", "sliding window", "block-sparse")


def _mask_args(mask: str, window: Any, density: Any) -> tuple[str, Any, Any]:
    mk = choice("mask", mask, MASKS)
    w = None if mk != "sliding window" else int(positive("window", window, integer=True))
    d = positive("density", density)
    if np.any(d > 1):
        raise ValueError(f"density={density!r} must be in (0, 1]: the share of the causal "
                         "score blocks a block-sparse mask computes.")
    return mk, w, (d if mk == "block-sparse" else 1.0)


def masked_model(model: "str | ModelConfig", mask: str = "causal",
                 window: int = 4096) -> ModelConfig:
    """``model`` with the attention span ``mask`` gives it: full causal, or a sliding window.

    A catalog model with a window of its own (Mistral-7B) attends over every earlier token
    under ``"causal"`` (:meth:`lib.models.ModelConfig.without_sliding_window`); under
    ``"sliding window"`` every model attends over its last ``window`` keys, a rolling cache
    of that many. ``"block-sparse"`` keeps the full causal span (it skips blocks within it).

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> masked_model("llama-3-8b", "sliding window", 1024).kv_tokens(8192)
    1024.0
    >>> masked_model("mistral-7b").kv_tokens(8192)
    8192.0
    """
    mk, w, _ = _mask_args(mask, window, 1.0)
    m = models.get(model)
    return dataclasses.replace(m, sliding_window=w)


def _pass(model: Any, batch: ArrayLike, prompt_len: ArrayLike, cached: ArrayLike, mask: str,
          window: Any, density: Any, fused_attention: bool, tile_q: int | None,
          weight_dtype: str, kv_dtype: str) -> tuple[transformer.ForwardPass, tuple[Op, ...]]:
    """The forward pass under ``mask`` and its ops, attention's priced for the mask."""
    mk, w, d = _mask_args(mask, window, density)
    m = masked_model(model, mk, w or 1)
    p = transformer.forward_pass(m, batch, prompt_len, cached, weight_dtype=weight_dtype,
                                 kv_dtype=kv_dtype, fused_attention=fused_attention,
                                 attention_tile=tile_q)
    op_list = transformer.ops(p)
    if mk != "block-sparse":
        return p, op_list
    # the same kernels over a `density` share of the causal (query, key) pairs: FLOPs,
    # exps and the per-tile re-reads of K and V shrink; Q, O and one pass over K, V do not
    qk, sm, pv = kernels.attention(p.batch, p.new_tokens, p.keys, p.pairs * d, p.heads,
                                   p.kv_heads, m.head_dim, p.act_dtype, p.kv_dtype,
                                   p.fused_attention, p.attention_tile)
    new = dict(zip(ATTENTION_OPS, (qk, sm, pv)))
    return p, tuple(dataclasses.replace(o, kernel=new[o.name].repeat(m.n_layers, o.name))
                    if o.name in new else o for o in op_list)


@dataclass(frozen=True)
class AttentionCost:
    """Attention proper (``Q K^T``, softmax, ``P V``) of a forward, all layers, one device.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Attributes
    ----------
    mask : str
    pairs : float or ndarray
        (query, key) scores each sequence computes per head and layer.
    flops, bytes, bytes_kv : float or ndarray
        FLOPs; all bytes through main memory, and the KV cache's share.
    intensity : float or ndarray
        ``flops / bytes``, FLOP/byte.
    """

    mask: str
    pairs: Any
    flops: Any
    bytes: Any
    bytes_kv: Any
    intensity: Any


def attention(model: "str | ModelConfig", batch: ArrayLike, prompt_len: ArrayLike,
              mask: str = "causal", *, window: int = 4096, density: ArrayLike = 1.0,
              cached: ArrayLike = 0, fused: bool = True, tile_q: int | None = None,
              kv_dtype: str = "bf16") -> AttentionCost:
    """FLOPs and bytes of attention proper in a prefill (or a chunk) under ``mask``.

    The kernels are :func:`lib.kernels.attention`'s, over the (query, key) pairs the mask
    keeps: all earlier keys (``"causal"``), the last ``window`` (``"sliding window"``), or
    a ``density`` share of the causal pairs (``"block-sparse"``). ``fused=False`` sends the
    score matrix through memory (and computes the masked half: no skipping without
    FlashAttention); ``tile_q`` counts a pass over K and V per tile of query rows, as
    FlashAttention's outer loop makes them, instead of the compulsory single pass.
    Sizes broadcast.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> a = attention("llama-3-8b", 1, [1024, 32768])
    >>> (a.flops / 1e12).round(3)                     # 4 L h_q d_h P(P+1)/2, + the softmax
    array([2.78000e-01, 2.84232e+02])
    >>> w = attention("llama-3-8b", 1, 32768, "sliding window", window=4096)
    >>> round(float(a.flops[1] / w.flops), 2)         # about P / (2 W) for P >> W
    4.27
    """
    p, op_list = _pass(model, batch, prompt_len, cached, mask, window, density, fused, tile_q,
                       "bf16", kv_dtype)
    att = [o for o in op_list if o.name in ATTENTION_OPS]
    flops = sum(np.asarray(o.flops, float) for o in att)
    moved = sum(np.asarray(o.bytes, float) for o in att)
    kv = sum(np.asarray(o.bytes_kv, float) for o in att)
    _, _, d = _mask_args(mask, window, density)
    s = scalar_or_array
    return AttentionCost(choice("mask", mask, MASKS), s(np.asarray(p.pairs) * d), s(flops),
                         s(moved), s(kv), s(flops / moved))


def step(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
         prompt_len: ArrayLike, level: str = "merged GEMMs", *, cuda_graphs: bool = True,
         mask: str = "causal", window: int = 4096, density: ArrayLike = 1.0,
         cached: ArrayLike = 0, fused_attention: bool = True,
         weight_dtype: str = "bf16", kv_dtype: str = "bf16") -> Step:
    """A prefill's (or a chunk's) calibrated time at a fusion level, under an attention mask.

    :func:`lib.fusion.step` for ``prompt_len`` new tokens per sequence (``cached`` already
    in the cache), with attention's kernels those of ``mask`` (see :func:`attention`),
    priced by :func:`lib.fusion.price`. At ``"merged GEMMs"``, ``"causal"`` and
    ``fused_attention=True`` it is the calibrated estimate of :func:`lib.inference.forward`.
    Sizes broadcast.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> s = step("llama-3-8b", "h100-sxm", 1, 2048)
    >>> bool(np.isclose(s.time_s, inference.prefill("llama-3-8b", "h100-sxm", 1, 2048).estimate_s))
    True
    >>> {k: round(float(v) * 1e3, 2) for k, v in s.parts.items()}     # ms
    {'memory': 4.66, 'math': 44.37, 'per-kernel': 0.52, 'host wait': 0.0}
    """
    m = models.get(model)
    p, op_list = _pass(m, batch, prompt_len, cached, mask, window, density, fused_attention,
                       None, weight_dtype, kv_dtype)
    ks = fusion.group_ops(p, level, op_list)
    return fusion.price(ks, p.model, device, batch, cached, level, cuda_graphs=cuda_graphs,
                        weight_dtype=weight_dtype, new_tokens=prompt_len)


@dataclass(frozen=True)
class FusionSaving:
    """What fusing the elementwise ops saves in one forward: bytes, and where they were.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Attributes
    ----------
    bytes_removed : float or ndarray
        Bytes the ``"fused elementwise"`` level moves fewer than ``"merged GEMMs"``.
    bytes_hidden : float or ndarray
        The share of them that a compute-bound op (a GEMM whose time is its math) no longer
        writes: off the clock, they save no time.
    bytes_on_clock : float or ndarray
        The rest, removed from memory-bound ops: ``bytes_removed - bytes_hidden``.
    parts_saved : dict
        Seconds of each calibrated part (:data:`lib.fusion.PARTS`) saved.
    time_saved_s : float or ndarray
        The merged level's calibrated time minus the fused level's.
    share : float or ndarray
        ``time_saved_s`` over the merged level's time.
    """

    bytes_removed: Any
    bytes_hidden: Any
    bytes_on_clock: Any
    parts_saved: dict
    time_saved_s: Any
    share: Any


def fusion_saving(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
                  prompt_len: ArrayLike, *, cuda_graphs: bool = True) -> FusionSaving:
    """Fused elementwise against merged GEMMs: which removed bytes were on the clock.

    Op by op (:func:`step` at the two levels), the bytes fusion removes are split by the
    op's bound at the merged level under the one pricing rule
    (:func:`lib.inference.calibrated_parts`): an op whose time is its math (a compute-bound
    GEMM writing Q, K, V or the gate and up outputs) saves no time by writing less; a
    memory-bound op (norm, residual add, RoPE, SiLU) saves its bytes at the sustained
    bandwidth. Sizes broadcast.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> f = fusion_saving("llama-3-8b", "h100-sxm", 1, 2048)
    >>> round(float(f.bytes_removed) / 1e9, 2), round(float(f.bytes_hidden) / 1e9, 2)  # GB
    (10.2, 4.03)
    >>> round(float(f.share), 3)
    0.046
    """
    dev = hardware.get(device)
    merged, fused = (step(model, dev, batch, prompt_len, lv, cuda_graphs=cuda_graphs)
                     for lv in fusion.LEVELS[1:])

    def ops_of(s: Step) -> dict[str, Op]:
        return {o.name: o for k in s.kernels for o in k.parts}

    before, after = ops_of(merged), ops_of(fused)
    removed = hidden = 0.0
    for name, op in before.items():
        less = np.asarray(op.kernel.bytes_moved, float) - np.asarray(
            after[name].kernel.bytes_moved, float)
        alone = inference.calibrated_parts([((op,), 0)], dev, "bf16", "bf16")
        removed = removed + less
        hidden = hidden + np.where(np.asarray(alone["math"]) > 0, less, 0.0)
    parts = {k: scalar_or_array(np.asarray(merged.parts[k], float) - fused.parts[k])
             for k in merged.parts}
    saved = np.asarray(merged.time_s, float) - fused.time_s
    s = scalar_or_array
    return FusionSaving(s(np.asarray(removed, float)), s(np.asarray(hidden, float)),
                        s(np.asarray(removed - hidden, float)), parts, s(saved),
                        s(saved / np.asarray(merged.time_s, float)))


def fixed_share(s: Step) -> Any:
    """Share of a step's calibrated time that is fixed cost: per-kernel cost and host wait.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> round(float(fixed_share(step("gpt2", "h100-sxm", 1, 16, cuda_graphs=False))), 2)
    0.87
    """
    fixed = np.asarray(s.parts["per-kernel"], float) + np.asarray(s.parts["host wait"], float)
    return scalar_or_array(fixed / np.asarray(s.time_s, float))


def launch_bound_below(model: "str | ModelConfig", device: "str | Device",
                       level: str = "merged GEMMs", *, cuda_graphs: bool = True,
                       batch: int = 1, prompt_lens: ArrayLike | None = None) -> float:
    """The longest of ``prompt_lens`` whose prefill is **launch-bound**, or 0 if none is.

    Launch-bound, as this book defines it (a threshold of its own, not a standard one): the
    fixed costs per kernel (:func:`fixed_share`) are at least half the calibrated time, as
    much as the bytes and the FLOPs together. ``prompt_lens`` defaults
    to every length from 1 to the model's context or 8192, whichever is shorter, so an answer
    equal to the model's context means it is launch-bound at every prompt it accepts. The
    share falls as the prompt grows, so the answer is the edge: shorter prompts are
    launch-bound, longer ones are not.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> launch_bound_below("gpt2", "h100-sxm", cuda_graphs=False)
    834.0
    >>> launch_bound_below("gpt2", "h100-sxm", "unfused", cuda_graphs=False)   # its context
    986.0
    >>> launch_bound_below("llama-3-8b", "h100-sxm", cuda_graphs=False)
    0.0
    """
    top = int(min(8192, models.get(model).max_context))
    lens = positive("prompt_lens", np.arange(1, top + 1) if prompt_lens is None else prompt_lens,
                    integer=True)
    b = int(positive("batch", batch, integer=True))
    share = np.asarray(fixed_share(step(model, device, b, lens, level,
                                        cuda_graphs=cuda_graphs)))
    bound = np.atleast_1d(lens)[np.atleast_1d(share) >= 0.5]
    return float(bound.max()) if bound.size else 0.0


@dataclass(frozen=True)
class Chunked:
    """A prompt prefilled in chunks: each chunk a forward after the chunks before it.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Attributes
    ----------
    chunk : int
        Tokens per chunk (the last may be shorter).
    n_chunks : int
    time_s : float
        Sum of the chunks' calibrated estimates.
    flops, bytes, bytes_weights, bytes_kv : float
        Totals over the chunks; the weights are read once per chunk.
    kv_reread : float
        KV-cache bytes of earlier chunks each chunk reads again (0 for one chunk).
    whole_s : float
        The unchunked prefill's calibrated estimate.
    overhead : float
        ``time_s / whole_s - 1``.
    lm_heads_s : float
        Calibrated time of the LM head in every chunk but the last: each chunk is priced as
        a whole forward, logits of its last token included, which an engine that samples
        only after the last chunk does not compute. Part of ``time_s``, so part of
        ``overhead``.
    """

    chunk: int
    n_chunks: int
    time_s: float
    flops: float
    bytes: float
    bytes_weights: float
    bytes_kv: float
    kv_reread: float
    whole_s: float
    overhead: float
    lm_heads_s: float

    @property
    def overhead_logits_once(self) -> float:
        """``overhead`` for an engine that computes logits only after the last chunk."""
        return (self.time_s - self.lm_heads_s) / self.whole_s - 1


def chunked(model: "str | ModelConfig", device: "str | Device", prompt_len: int, chunk: int,
            batch: int = 1, level: str = "merged GEMMs", *, cuda_graphs: bool = True,
            mask: str = "causal", window: int = 4096, density: float = 1.0,
            weight_dtype: str = "bf16", kv_dtype: str = "bf16") -> Chunked:
    """A prefill of ``prompt_len`` tokens in chunks of ``chunk``: total time and bytes.

    Chunk ``i`` is a forward of ``chunk`` new tokens after ``i * chunk`` cached ones
    (:func:`step`; at the merged level under a causal mask, ``inference.forward(model,
    device, batch, new_tokens=chunk, cached=i * chunk)``): it reads every weight, and its
    attention reads the K and V of all earlier chunks again (and, as every forward that
    reads a cache, pays a decode-attention call's fixed cost). Each chunk also computes its
    last token's logits (the LM head's weights read again): an overstatement for an engine
    that samples only after the last chunk, reported as ``lm_heads_s``. Single values only.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> c = chunked("llama-3-8b", "h100-sxm", 8192, 512)
    >>> c.n_chunks, round(c.overhead, 3)
    (16, 0.09)
    >>> round(c.overhead_logits_once, 3)          # logits only after the last chunk
    0.066
    """
    for name, v in (("prompt_len", prompt_len), ("chunk", chunk), ("batch", batch)):
        if positive(name, v, integer=True).ndim:
            raise ValueError(f"{name}={v!r} must be a single whole number; call chunked() "
                             "once per configuration.")
    P, c, b = int(prompt_len), min(int(chunk), int(prompt_len)), int(batch)
    done = np.arange(0, P, c)
    new = np.minimum(c, P - done)
    kw = dict(cuda_graphs=cuda_graphs, mask=mask, window=window, density=density,
              weight_dtype=weight_dtype, kv_dtype=kv_dtype)
    parts = step(model, device, b, new, level, cached=done, **kw)
    whole = float(step(model, device, b, P, level, **kw).time_s)
    total = float(np.sum(parts.time_s))

    def of(attr: str) -> float:
        return float(np.sum(sum(np.asarray(getattr(o.kernel, attr), float)
                                for k in parts.kernels for o in k.parts)))

    reread = float(np.sum(capacity.kv_cache_bytes(masked_model(model, mask, window), b, done,
                                                  kv_dtype)))
    head = [k for k in parts.kernels if k.name == "LM head"]
    heads = inference.calibrated_parts([(k.parts, k.calls) for k in head], device, weight_dtype,
                                       transformer.activation_dtype_for(weight_dtype),
                                       cuda_graphs=cuda_graphs)
    per_chunk = np.broadcast_to(sum(np.asarray(v, float) for v in heads.values()), done.shape)
    return Chunked(c, int(done.size), total, float(np.sum(parts.flops)),
                   float(np.sum(parts.bytes)), of("bytes_weights"), of("bytes_kv"), reread,
                   whole, total / whole - 1, float(np.sum(per_chunk[:-1])))


@dataclass(frozen=True)
class Piggyback:
    """A decode step for ``decode_batch`` sequences run with a prefill chunk, or apart.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Attributes
    ----------
    chunk_s, decode_s : float
        The chunk's and the decode step's calibrated estimates, each alone.
    mixed_s : float
        Both in one forward: every non-attention kernel over ``chunk + decode_batch`` rows,
        its weights read once; each attention its own kernel.
    saved_s : float
        ``chunk_s + decode_s - mixed_s``.
    """

    chunk_s: float
    decode_s: float
    mixed_s: float
    saved_s: float


def _merge(a: Op, b: Op) -> Op:
    """One kernel doing the work of ``a`` and ``b`` (the same op) over both sets of rows:
    the weights read once (the larger of the two reads), everything else added."""
    ka, kb = a.kernel, b.kernel
    w = np.maximum(ka.bytes_weights, kb.bytes_weights)
    moved = np.asarray(ka.bytes_moved) + kb.bytes_moved - (
        np.asarray(ka.bytes_weights) + kb.bytes_weights - w)
    k = Kernel(a.name, np.asarray(ka.flops) + kb.flops, moved, w,
               np.asarray(ka.bytes_kv) + kb.bytes_kv, np.asarray(ka.exps) + kb.exps)
    return dataclasses.replace(a, kernel=k)


def piggyback(model: "str | ModelConfig", device: "str | Device", chunk: int, cached: int,
              decode_batch: int, context: int, *, cuda_graphs: bool = True) -> Piggyback:
    """A chunk of ``chunk`` tokens (``cached`` before it) with a decode step riding on it.

    The idea of SARATHI's decode-maximal batching: the decode tokens join the chunk's
    matrix products as extra rows, so the weights, read once for the chunk, serve them
    too. Priced with :func:`lib.inference.calibrated_parts` from the two forwards' ops
    (:mod:`lib.transformer`): every op but attention merged into one kernel, each attention
    (the chunk's, the decode step's) its own. One device, BF16. Single values only.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> g = piggyback("llama-3-8b", "h100-sxm", 512, 2048, 16, 2048)
    >>> round(g.saved_s / g.decode_s, 2)     # of the decode step's time, saved
    0.69
    """
    dev = hardware.get(device)
    a = transformer.forward_pass(model, 1, chunk, cached)
    d = transformer.forward_pass(model, decode_batch, 1, context)
    ops_a, ops_d = transformer.ops(a), transformer.ops(d)

    def price(kernels_: Any, reads: bool) -> float:
        parts = inference.calibrated_parts(kernels_, dev, "bf16", "bf16",
                                           cuda_graphs=cuda_graphs, reads_cache=reads)
        return float(sum(np.asarray(v, float) for v in parts.values()))

    def att(ops_: Any) -> list[tuple[tuple[Op, ...], int]]:
        x = [o for o in ops_ if o.name in ATTENTION_OPS]
        return [(tuple(x), x[0].calls)]

    rest = [(_merge(x, y),) for x, y in zip(ops_a, ops_d) if x.name not in ATTENTION_OPS]
    mixed = (price([(k, k[0].calls) for k in rest], True)
             + price(att(ops_a), inference.reads_cache(chunk, cached))
             + price(att(ops_d), inference.reads_cache(1, context)))
    kw = dict(cuda_graphs=cuda_graphs)
    alone_a = float(inference.forward(model, dev, 1, chunk, cached, **kw).estimate_s)
    alone_d = float(inference.decode(model, dev, decode_batch, context, **kw).estimate_s)
    return Piggyback(alone_a, alone_d, mixed, alone_a + alone_d - mixed)
