"""Fewer bytes per token: what quantised weights and a quantised KV cache do to decode.

A decode step reads every weight once and each sequence's whole KV cache
(chapters/06_decode.ipynb). Quantisation stores either in fewer bits. This module
composes :mod:`lib.dtypes` (each format's bits, its group scales included),
:mod:`lib.capacity` (what fits) and :func:`lib.inference.decode` (what a step costs) to
answer the chapter's questions:

* :func:`kv_footprint`, :func:`weight_footprint` -- bytes per token of context, or of all
  the weights, split into the codes and the scales' (and zero points') overhead;
* :func:`format_table` -- those sizes for several formats side by side;
* :func:`capacity_gain` -- the larger batch, or longer context, that the same memory holds;
* :func:`compare` -- a decode step at a baseline and at quantised formats, on any broadcast
  grid of batch x context: times, bytes, speed-up, and whether each fits;
* :func:`byte_speedup` -- the bytes-only bound on the speed-up (Amdahl's law on bytes);
* :func:`threshold_context` -- the shortest context at which a format's speed-up reaches a
  threshold, for each batch; :func:`threshold_batch` -- the largest batch at which it still
  does, for each context;
* :func:`step_split` -- a step's calibrated estimate split into weights, KV cache, the rest
  and the fixed per-kernel costs.

What quantisation does **not** change: the FLOPs (weight-only formats dequantise to BF16
and run the matrix products at the BF16 peak, :func:`lib.inference.compute_dtype_for`),
and the other tensor's bytes (quantised weights leave the KV cache's bytes alone, and a
quantised cache leaves the weights' alone). Its effect on quality is not modelled here: the
chapter cites the papers that measure it.

Introduced in chapters/09_quantisation.ipynb.

Examples
--------
>>> f = kv_footprint("llama-3-8b", "int4_g32")
>>> f.code_bytes / 1024, f.overhead_bytes / 1024, f.total_bytes / 1024   # KiB per token
(32.0, 8.0, 40.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import capacity, hardware, inference, models, transformer
from lib._validate import choice, positive, scalar_or_array
from lib.dtypes import get_format
from lib.hardware import Device
from lib.inference import Estimate
from lib.models import KV_DTYPES, WEIGHT_DTYPES, ModelConfig
from lib.tables import Table
from lib.units import fmt_bytes

__all__ = ["Footprint", "kv_footprint", "weight_footprint", "format_table", "CapacityGain",
           "capacity_gain", "TIMES", "Comparison", "compare", "byte_speedup",
           "threshold_context", "threshold_batch", "SPLIT", "step_split"]


@dataclass(frozen=True)
class Footprint:
    """Bytes of a tensor stored in one format: its codes and its scales' overhead.

    Introduced in chapters/09_quantisation.ipynb.

    Attributes
    ----------
    dtype : str
        The format (:data:`lib.dtypes.FORMATS`).
    elements : float
        Elements stored (per token of context for the KV cache; all weights for weights).
    code_bytes, overhead_bytes : float
        Bytes of the codes; bytes of the group scales and zero points (0 for a format
        without groups).
    """

    dtype: str
    elements: float
    code_bytes: float
    overhead_bytes: float

    @property
    def total_bytes(self) -> float:
        """``code_bytes + overhead_bytes``."""
        return self.code_bytes + self.overhead_bytes

    @property
    def bits_per_element(self) -> float:
        """Bits stored per element, scales included."""
        return 8 * self.total_bytes / self.elements


def _split(dtype: str, total: float) -> Footprint:
    fmt = get_format(dtype)
    codes = total * fmt.code_bits / fmt.bits_per_element
    return Footprint(fmt.name, total / fmt.bytes_per_element, codes, total - codes)


def kv_footprint(model: "str | ModelConfig", kv_dtype: str = "bf16", tp: int = 1) -> Footprint:
    """KV-cache bytes one token of context adds (κ), split into codes and scales.

    The total is :meth:`lib.models.ModelConfig.kv_bytes_per_token` (``2 L h_kv d_h b_kv``,
    with ``b_kv`` counting the scales' share); the split follows the format's code bits.

    Introduced in chapters/09_quantisation.ipynb.

    Examples
    --------
    >>> kv_footprint("llama-2-7b", "fp8").total_bytes / 1024       # half of BF16's 512 KiB
    256.0
    >>> round(kv_footprint("llama-3-8b", "q8_0").overhead_bytes)    # one FP16 per 32 values
    4096
    """
    m = models.get(model)
    kd = choice("kv_dtype", kv_dtype, KV_DTYPES)
    return _split(kd, m.kv_bytes_per_token(kd, tp))


def weight_footprint(model: "str | ModelConfig", weight_dtype: str = "bf16",
                     tp: int = 1) -> Footprint:
    """Bytes of every weight one device stores, split into codes and scales.

    The total is :func:`lib.capacity.weight_bytes` (every parameter at ``weight_dtype``).

    Introduced in chapters/09_quantisation.ipynb.

    Examples
    --------
    >>> f = weight_footprint("llama-2-7b", "q4_0")
    >>> round(f.total_bytes / 1e9, 2), round(f.overhead_bytes / 1e9, 2)
    (3.79, 0.42)
    """
    wd = choice("weight_dtype", weight_dtype, WEIGHT_DTYPES)
    return _split(wd, capacity.weight_bytes(model, wd, tp))


def format_table(model: "str | ModelConfig", kv_dtypes: "tuple[str, ...] | list[str]" = KV_DTYPES,
                 baseline: str = "bf16") -> Table:
    """KV bytes per token of ``model`` in each format: bits, overhead, and the ratio to ``baseline``.

    Introduced in chapters/09_quantisation.ipynb.

    Examples
    --------
    >>> print(format_table("llama-3-8b", ["bf16", "fp8", "int4_g32"]))  # doctest: +NORMALIZE_WHITESPACE
    KV cache of llama-3-8b, per token of context
    format    bits/element  of which scales  KV per token  vs bf16
    --------  ------------  ---------------  ------------  -------
    bf16                16                0        131 kB    1.000
    fp8                  8                0       65.5 kB    0.500
    int4_g32             5                1         41 kB    0.312
    """
    m = models.get(model)
    base = kv_footprint(m, baseline).total_bytes
    rows = []
    for d in kv_dtypes:
        f = kv_footprint(m, d)
        fmt = get_format(f.dtype)
        rows.append((f.dtype, f"{fmt.bits_per_element:g}", f"{fmt.overhead_bits:g}",
                     fmt_bytes(f.total_bytes), f"{f.total_bytes / base:.3f}"))
    return Table(("format", "bits/element", "of which scales", "KV per token",
                  f"vs {baseline}"), rows, title=f"KV cache of {m.name}, per token of context")


@dataclass(frozen=True)
class CapacityGain:
    """What the same device memory holds at a baseline and at quantised formats.

    Introduced in chapters/09_quantisation.ipynb.

    Attributes
    ----------
    base_batch, batch : float or ndarray
        Most sequences of ``context`` tokens that fit (:func:`lib.capacity.max_batch`).
    base_context, context : float or ndarray
        Longest context ``batch_at`` sequences can each hold (:func:`lib.capacity.max_context`).
    """

    base_batch: Any
    batch: Any
    base_context: Any
    context: Any

    @property
    def batch_gain(self) -> Any:
        """``batch / base_batch`` (``inf`` where nothing fitted before, ``nan`` never)."""
        return _ratio(self.batch, self.base_batch)

    @property
    def context_gain(self) -> Any:
        """``context / base_context``."""
        return _ratio(self.context, self.base_context)


def _ratio(new: Any, old: Any) -> Any:
    n, o = np.asarray(new, float), np.asarray(old, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(o > 0, n / np.where(o > 0, o, 1.0), np.where(n > 0, np.inf, 1.0))
    return scalar_or_array(r)


def capacity_gain(model: "str | ModelConfig", device: "str | Device", *, context: ArrayLike,
                  batch_at: ArrayLike = 1, weight_dtype: str = "bf16", kv_dtype: str = "bf16",
                  base_weight_dtype: str = "bf16", base_kv_dtype: str = "bf16", tp: int = 1,
                  memory_fraction: float = 1.0) -> CapacityGain:
    """The batch at ``context``, and the context at ``batch_at``, before and after quantising.

    Quantised weights free memory once (their bytes saved); a quantised cache makes each
    token cheaper. Both raise the batch that fits at a given context and the context that
    fits at a given batch (:func:`lib.capacity.max_batch`, :func:`lib.capacity.max_context`;
    activations not counted, ``memory_fraction`` of the device usable).

    Introduced in chapters/09_quantisation.ipynb.

    Examples
    --------
    >>> g = capacity_gain("llama-3-8b", "h100-sxm", context=32768, kv_dtype="fp8")
    >>> g.base_batch, g.batch                     # 14 sequences of 32k tokens, then 29
    (14.0, 29.0)
    """
    mem = dict(tp=tp, memory_fraction=memory_fraction)
    return CapacityGain(
        capacity.max_batch(model, device, context, weight_dtype=base_weight_dtype,
                           kv_dtype=base_kv_dtype, **mem),
        capacity.max_batch(model, device, context, weight_dtype=weight_dtype,
                           kv_dtype=kv_dtype, **mem),
        capacity.max_context(model, device, batch_at, weight_dtype=base_weight_dtype,
                             kv_dtype=base_kv_dtype, **mem),
        capacity.max_context(model, device, batch_at, weight_dtype=weight_dtype,
                             kv_dtype=kv_dtype, **mem))


#: The times :func:`compare` can compare: the calibrated estimate, the per-op time, the floor.
TIMES = ("estimate_s", "time_s", "floor_s")


@dataclass(frozen=True)
class Comparison:
    """One decode step at a baseline and at quantised formats (:func:`compare`).

    Introduced in chapters/09_quantisation.ipynb.

    Attributes
    ----------
    base, quantised : Estimate
        :func:`lib.inference.decode` at each pair of formats, on the same grid.
    time : str
        Which of :data:`TIMES` the speed-up compares.
    """

    base: Estimate
    quantised: Estimate
    time: str

    @property
    def base_s(self) -> Any:
        """The baseline step's time, seconds."""
        return getattr(self.base, self.time)

    @property
    def quantised_s(self) -> Any:
        """The quantised step's time, seconds."""
        return getattr(self.quantised, self.time)

    @property
    def speedup(self) -> Any:
        """``base_s / quantised_s``: above 1 the quantised step is faster."""
        return scalar_or_array(np.asarray(self.base_s, float) / np.asarray(self.quantised_s, float))

    @property
    def byte_ratio(self) -> Any:
        """Bytes the baseline step moves over bytes the quantised one moves."""
        return scalar_or_array(np.asarray(self.base.bytes, float)
                               / np.asarray(self.quantised.bytes, float))

    @property
    def kv_share(self) -> Any:
        """The KV cache's share of the baseline step's bytes."""
        return scalar_or_array(np.asarray(self.base.bytes_kv, float)
                               / np.asarray(self.base.bytes, float))

    @property
    def fits(self) -> Any:
        """Whether the quantised formats' weights and cache fit the device."""
        return self.quantised.fits

    @property
    def base_fits(self) -> Any:
        """Whether the baseline's weights and cache fit the device."""
        return self.base.fits


def compare(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
            context: ArrayLike, *, weight_dtype: str = "bf16", kv_dtype: str = "bf16",
            base_weight_dtype: str = "bf16", base_kv_dtype: str = "bf16",
            time: str = "estimate_s", **kwargs: Any) -> Comparison:
    """A decode step before and after quantising, over any broadcast grid of batch x context.

    Both steps are :func:`lib.inference.decode` (keywords such as ``tp`` or ``cuda_graphs``
    pass through). The speed-up compares ``time``: the calibrated estimate by default
    (what a mature engine takes, a weight-only format's dequantisation included), the
    per-op time, or the floor. Steps that do not fit in memory are still computed; read
    :attr:`Comparison.fits` and :attr:`Comparison.base_fits`.

    Introduced in chapters/09_quantisation.ipynb.

    Examples
    --------
    >>> c = compare("llama-3-8b", "h100-sxm", batch=[1, 64], context=8192, kv_dtype="fp8")
    >>> c.speedup.round(2), c.kv_share.round(2)      # little at batch 1, much at batch 64
    (array([1.03, 1.64]), array([0.07, 0.81]))
    >>> round(compare("llama-3-8b", "h100-sxm", 1, 1, weight_dtype="int4",
    ...               time="floor_s").speedup, 2)      # the weights' bytes, 4x fewer
    4.0
    """
    t = choice("time", time, TIMES)
    grid = dict(batch=batch, context=context, **kwargs)
    return Comparison(
        inference.decode(model, device, weight_dtype=base_weight_dtype, kv_dtype=base_kv_dtype,
                         **grid),
        inference.decode(model, device, weight_dtype=weight_dtype, kv_dtype=kv_dtype, **grid),
        t)


def byte_speedup(share: ArrayLike, ratio: ArrayLike) -> Any:
    """Amdahl's law on bytes: ``1 / ((1 - share) + share x ratio)``.

    A memory-bound step that moves a fraction ``share`` of its bytes in one tensor, which a
    format shrinks to ``ratio`` of its size, takes ``(1 - share) + share x ratio`` of its
    time: the speed-up no kernel can beat while the step stays memory-bound. Broadcasts.

    Introduced in chapters/09_quantisation.ipynb.

    Examples
    --------
    >>> byte_speedup(0.8, 0.5)           # the cache is 80% of the bytes, FP8 halves it
    1.6666666666666667
    >>> byte_speedup([0.0, 1.0], 0.25)   # nothing to shrink; everything shrinks 4x
    array([1., 4.])
    """
    s = positive("share", share, allow_zero=True)
    r = positive("ratio", ratio)
    if np.any(s > 1):
        raise ValueError(f"share={share!r} must be a fraction in [0, 1].")
    return scalar_or_array(1.0 / ((1.0 - s) + s * r))


def threshold_context(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
                      threshold: float, *, contexts: ArrayLike | None = None,
                      **kwargs: Any) -> Any:
    """Shortest context (of ``contexts``) at which :func:`compare`'s speed-up reaches ``threshold``.

    For each batch, the first of ``contexts`` (default: 64 to 131,072 tokens, eight steps
    per doubling) whose speed-up is at least ``threshold``; ``inf`` where none is.
    Keywords as in :func:`compare` (formats, ``time``, ``tp``).

    Introduced in chapters/09_quantisation.ipynb.

    Examples
    --------
    >>> threshold_context("llama-2-7b", "h100-sxm", [1, 16], 1.25, kv_dtype="fp8").tolist()
    [21247.0, 1328.0]
    >>> threshold_context("llama-3-8b", "h100-sxm", 1, 3.0, kv_dtype="fp8")  # never 3x
    inf
    """
    th = float(positive("threshold", threshold))
    ctx = (np.unique(np.round(2.0 ** np.arange(6, 17.001, 0.125))) if contexts is None
           else positive("contexts", contexts, integer=True))
    if ctx.ndim != 1 or np.any(np.diff(ctx) <= 0):
        raise ValueError(f"contexts={contexts!r} must be a strictly increasing 1-d sequence.")
    b = positive("batch", batch, integer=True)
    grid_b = b.reshape(b.shape + (1,))
    ok = np.asarray(compare(model, device, grid_b, ctx, **kwargs).speedup) >= th
    first = np.where(ok.any(axis=-1), ctx[np.argmax(ok, axis=-1)], np.inf)
    return scalar_or_array(first)


def threshold_batch(model: "str | ModelConfig", device: "str | Device", context: ArrayLike,
                    threshold: float, *, batches: ArrayLike | None = None,
                    **kwargs: Any) -> Any:
    """Largest batch (of ``batches``) at which :func:`compare`'s speed-up still reaches ``threshold``.

    The question for quantised weights, whose gain fades as the batch grows: up to which
    batch do they pay? For each context, the largest of ``batches`` (default 1 to 1,024)
    whose speed-up is at least ``threshold``; 0 where none is. Keywords as in
    :func:`compare`.

    Introduced in chapters/09_quantisation.ipynb.

    Examples
    --------
    >>> threshold_batch("llama-3-8b", "h100-sxm", [1024, 8192], 1.5, weight_dtype="int4").tolist()
    [82.0, 13.0]
    >>> threshold_batch("llama-3-8b", "h100-sxm", 1024, 5.0, weight_dtype="int4")   # never 5x
    0.0
    """
    th = float(positive("threshold", threshold))
    bs = (np.arange(1.0, 1025.0) if batches is None
          else positive("batches", batches, integer=True))
    if bs.ndim != 1 or np.any(np.diff(bs) <= 0):
        raise ValueError(f"batches={batches!r} must be a strictly increasing 1-d sequence.")
    ctx = positive("context", context, allow_zero=True, integer=True)
    ok = np.asarray(compare(model, device, bs, ctx.reshape(ctx.shape + (1,)), **kwargs).speedup) \
        >= th
    last = np.where(ok.any(axis=-1), bs[ok.shape[-1] - 1 - np.argmax(ok[..., ::-1], axis=-1)],
                    0.0)
    return scalar_or_array(last)


#: The parts of a decode step's calibrated estimate :func:`step_split` reports.
SPLIT = ("weights", "KV cache", "other", "fixed costs")


def step_split(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
               context: ArrayLike, *, weight_dtype: str = "bf16", kv_dtype: str = "bf16",
               tp: int = 1) -> dict[str, Any]:
    """A decode step's calibrated estimate split into weights, KV cache, the rest, fixed costs.

    Each op is priced by :func:`lib.inference.calibrated_parts`, the rule behind
    :attr:`lib.inference.Estimate.estimate_s`: a memory-bound op's time (its bytes at the
    sustained bandwidth, a weight-only format's matrix products also at its dequantising
    efficiency) is shared among its weight, KV-cache and activation bytes in proportion;
    a compute-bound op's time, and the activations' share, count as ``"other"``; each kernel
    launch's fixed cost (a decode-attention call's larger one included) as
    ``"fixed costs"``. The parts (keys :data:`SPLIT`) add up to the estimate of
    :func:`lib.inference.decode` with CUDA graphs, less any communication (``tp > 1``).

    Introduced in chapters/09_quantisation.ipynb.

    Examples
    --------
    >>> s = step_split("llama-2-7b", "h100-sxm", 1, 4096)
    >>> {k: round(v * 1e3, 2) for k, v in s.items()}       # ms
    {'weights': 4.48, 'KV cache': 0.73, 'other': 0.0, 'fixed costs': 0.96}
    >>> est = inference.decode("llama-2-7b", "h100-sxm", 1, 4096)
    >>> round(sum(s.values()) * 1e3, 2), round(est.estimate_s * 1e3, 2)   # the estimate
    (6.18, 6.18)
    """
    dev = hardware.get(device)
    p = transformer.forward_pass(model, batch, 1,
                                 positive("context", context, allow_zero=True, integer=True),
                                 weight_dtype=weight_dtype, kv_dtype=kv_dtype, tp=tp)
    op_list = transformer.ops(p)
    rule = dict(device=dev, weight_dtype=p.weight_dtype, act_dtype=p.act_dtype)
    out: dict[str, Any] = dict.fromkeys(SPLIT, 0.0)
    for op in op_list:
        part = inference.calibrated_parts([((op,), 0)], **rule)     # no launch: its time only
        moved = np.asarray(op.bytes, float)
        per_byte = np.where(moved > 0, np.asarray(part["memory"], float)
                            / np.where(moved > 0, moved, 1.0), 0.0)
        out["weights"] = out["weights"] + per_byte * np.asarray(op.bytes_weights, float)
        out["KV cache"] = out["KV cache"] + per_byte * np.asarray(op.bytes_kv, float)
        out["other"] = (out["other"] + per_byte * np.asarray(op.bytes_act, float)
                        + np.asarray(part["math"], float))
    launches = inference.calibrated_parts([((op,), op.calls) for op in op_list], **rule)
    out["fixed costs"] = launches["per-kernel"]
    return {k: scalar_or_array(np.asarray(v, float)) for k, v in out.items()}
