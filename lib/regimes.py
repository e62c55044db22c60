"""Where the regime changes: the batch, the prompt and the intensity at which the bound flips.

Prefill turns compute-bound once a prompt is long enough
(:func:`shortest_compute_bound_prompt`); a decode step once the batch is large enough
(:func:`critical_batch`), unless each sequence's KV-cache reads keep the step's intensity
below the ridge however large the batch grows (:func:`decode_ceiling`). A service with a
latency target meets it only up to some batch (:func:`largest_batch_within`). Each is a
sweep of :mod:`lib.inference` read with the book's one tie rule
(:func:`lib.roofline.bound_of`, via each estimate's ``bound``).

Introduced in chapters/06_decode.ipynb (prompt), chapters/06_decode.ipynb (batch) and
chapters/07_mental_model.ipynb (ceiling, latency target).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import capacity, inference, roofline
from lib._validate import positive, scalar_or_array
from lib.hardware import Device
from lib.models import ModelConfig

__all__ = ["shortest_compute_bound_prompt", "critical_batch", "decode_ceiling",
           "largest_batch_within"]


def shortest_compute_bound_prompt(model: "str | ModelConfig", device: "str | Device",
                                  batch: int = 1, prompt_lens: ArrayLike | None = None,
                                  **kwargs: Any) -> float:
    """The shortest of ``prompt_lens`` whose prefill is compute-bound, or ``inf`` if none is.

    Prefill's counterpart of :func:`critical_batch`: below this prompt length the weight
    reads set the time even though every token is a row of a GEMM. ``prompt_lens``
    defaults to every length from 1 to 8192; ``kwargs`` go to
    :func:`lib.inference.prefill` (dtypes, ``tp``, ``fused_attention``...).

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> shortest_compute_bound_prompt("llama-3-8b", "h100-sxm")
    406.0
    >>> shortest_compute_bound_prompt("llama-3-8b", "h100-sxm", prompt_lens=[16, 64])
    inf
    """
    p = positive("prompt_lens", np.arange(1, 8193) if prompt_lens is None else prompt_lens,
                 integer=True)
    return roofline.first_compute_bound(
        p, inference.prefill(model, device, batch, p, **kwargs).bound)


def critical_batch(model: "str | ModelConfig", device: "str | Device", context: ArrayLike = 0,
                   *, limit: int = 1 << 24, **kwargs: Any) -> Any:
    """Smallest decode batch whose step is compute-bound; ``inf`` if none up to ``limit`` is.

    At long contexts each sequence's KV-cache reads grow with the batch as fast as its
    FLOPs, so attention keeps decode memory-bound however large the batch
    (:func:`decode_ceiling`). A whole number as a float. Keywords as in
    :func:`lib.inference.decode`.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> # Above peak / bandwidth (295 on H100): activations move bytes that weights alone do not
    >>> critical_batch("llama-3-8b", "h100-sxm", context=0)
    378.0
    >>> # Int8 weights computed in bf16 halve it
    >>> critical_batch("llama-3-8b", "h100-sxm", context=0, weight_dtype="int8")
    189.0
    >>> # With a KV cache to read, the step may never turn compute-bound
    >>> critical_batch("llama-3-8b", "h100-sxm", context=[128, 1024]).tolist()
    [645.0, inf]
    """
    ctx = positive("context", context, allow_zero=True, integer=True)
    lim = int(positive("limit", limit, integer=True))

    def compute_bound(bs: np.ndarray) -> np.ndarray:
        return np.asarray(inference.decode(model, device, bs, ctx, **kwargs).bound) \
            == roofline.COMPUTE

    lo = np.zeros_like(ctx)
    hi = np.full_like(ctx, float(lim))
    never = ~compute_bound(hi)
    while np.any(hi - lo > 1):                 # bisection, every context at once
        mid = np.where(hi - lo > 1, np.floor((lo + hi) / 2), hi)
        cb = compute_bound(np.maximum(mid, 1))
        hi = np.where(cb, mid, hi)
        lo = np.where(cb, lo, mid)
    return scalar_or_array(np.where(never, np.inf, hi))


def decode_ceiling(model: "str | ModelConfig", device: "str | Device", context: ArrayLike,
                   **kwargs: Any) -> Any:
    """The arithmetic intensity decode approaches as the batch grows, FLOP/byte.

    Each extra sequence adds its FLOPs and its own bytes (its KV cache, read in full
    every step, and its activations) but no weight bytes, so the step's intensity climbs
    towards the intensity of one more sequence, computed here as the change in FLOPs
    over the change in bytes between two very large batches. Where it lies below the
    device's ridge point no batch makes decode compute-bound (:func:`critical_batch` is
    ``inf``). Keywords as in :func:`lib.inference.decode`.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> round(decode_ceiling("llama-3-8b", "h100-sxm", 2048), 1)   # below the ridge (295)
    57.5
    >>> [round(c) for c in decode_ceiling("llama-2-7b", "h100-sxm", [128, 2048])]  # MHA: 4x more KV
    [169, 13]
    """
    ctx = np.asarray(context)
    big = np.array([2**20, 2**21]).reshape((2,) + (1,) * ctx.ndim)
    est = inference.decode(model, device, big, ctx, **kwargs)
    flops, moved = np.asarray(est.flops), np.asarray(est.bytes)
    return scalar_or_array((flops[1] - flops[0]) / (moved[1] - moved[0]))


def largest_batch_within(model: "str | ModelConfig", device: "str | Device",
                         tpot_target_s: float, context: int, **kwargs: Any) -> float:
    """The most sequences one device decodes at ``context`` within a per-token time target.

    The batch must also fit in memory beside the weights (:func:`lib.capacity.max_batch`,
    with ``context + 1`` tokens in each cache after the step). 0 if even one sequence
    misses the target. Keywords as in :func:`lib.inference.decode` (dtypes, ``tp``...).

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> largest_batch_within("llama-3-8b", "h100-sxm", 0.025, context=2303)   # memory-bound
    211.0
    >>> largest_batch_within("llama-3-8b", "h100-sxm", 0.001, context=2303)   # faster than the weights
    0.0
    """
    target = float(positive("tpot_target_s", tpot_target_s))
    ctx = int(positive("context", context, allow_zero=True, integer=True))
    memory = {k: v for k, v in kwargs.items() if k in ("weight_dtype", "kv_dtype", "tp")}
    most = int(capacity.max_batch(model, device, ctx + 1, **memory))
    if most < 1:
        return 0.0
    b = np.arange(1, most + 1)
    ok = b[np.asarray(inference.decode(model, device, b, ctx, **kwargs).time_s) <= target]
    return float(ok.max()) if ok.size else 0.0
