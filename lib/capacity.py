"""What fits in a device's memory: the weights, the KV cache, and the batch or context they leave.

A served model holds its weights (every parameter, whatever a token uses) and, per
sequence, a KV cache that grows by :meth:`lib.models.ModelConfig.kv_bytes_per_token`
with every token of context. What is left of the device's memory after the weights
bounds the batch at a given context, or the context at a given batch::

    max batch = floor((capacity - weight bytes) / KV bytes of one sequence)

Everything is per device: with tensor parallelism over ``tp`` devices each holds
``1 / tp`` of the weights and its share of the KV heads. Activations and workspace are
not counted (a serving engine reserves a few GB for them: use ``memory_fraction``).

Introduced in chapters/04_transformer_arithmetic.ipynb.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import hardware, models
from lib._validate import positive, scalar_or_array
from lib.hardware import Device
from lib.models import ModelConfig

__all__ = ["weight_bytes", "kv_cache_bytes", "memory_required", "fits", "max_batch",
           "max_context"]


def weight_bytes(model: "str | ModelConfig", weight_dtype: str = "bf16", tp: int = 1) -> float:
    """Bytes of weights each of ``tp`` devices stores: every parameter at ``weight_dtype``, / tp.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> weight_bytes("llama-2-70b", "bf16", tp=4) / 1e9
    34.488324096
    """
    m = models.get(model)
    m.kv_heads_per_device(tp)          # checks tp
    return m.weight_bytes(weight_dtype) / int(tp)


def kv_cache_bytes(model: "str | ModelConfig", batch: ArrayLike, context: ArrayLike,
                   kv_dtype: str = "bf16", tp: int = 1) -> Any:
    """KV-cache bytes per device for ``batch`` sequences of ``context`` tokens each.

    ``batch x kept tokens x KV bytes per token``, where the kept tokens are the context,
    or the sliding window when smaller (:meth:`lib.models.ModelConfig.kv_tokens`), and
    the bytes per token count the KV heads this device holds.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> kv_cache_bytes("llama-2-7b", 1, 4096) / 2**30     # GiB
    2.0
    >>> kv_cache_bytes("llama-2-70b", [1, 32], 4096, tp=8) / 2**30
    array([0.15625, 5.     ])
    """
    m = models.get(model)
    b = positive("batch", batch, allow_zero=True, integer=True)
    kept = np.asarray(m.kv_tokens(context), float)
    return scalar_or_array(b * kept * m.kv_bytes_per_token(kv_dtype, tp))


def memory_required(model: "str | ModelConfig", batch: ArrayLike, context: ArrayLike, *,
                    weight_dtype: str = "bf16", kv_dtype: str = "bf16", tp: int = 1) -> Any:
    """Weights plus KV cache per device, bytes (activations and workspace not counted).

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> round(memory_required("llama-2-7b", 8, 4096) / 1e9, 1)
    30.6
    """
    return scalar_or_array(weight_bytes(model, weight_dtype, tp)
                           + kv_cache_bytes(model, batch, context, kv_dtype, tp))


def fits(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
         context: ArrayLike, *, weight_dtype: str = "bf16", kv_dtype: str = "bf16",
         tp: int = 1) -> Any:
    """Whether :func:`memory_required` is within the device's memory capacity.

    Introduced in chapters/11_decode_kernels.ipynb (capacity itself in chapters/06_decode.ipynb).

    Examples
    --------
    >>> fits("llama-2-70b", "h100-sxm", 1, 4096), fits("llama-2-70b", "h100-sxm", 1, 4096, tp=2)
    (False, True)
    """
    need = np.asarray(memory_required(model, batch, context, weight_dtype=weight_dtype,
                                      kv_dtype=kv_dtype, tp=tp))
    out = need <= hardware.get(device).memory_capacity
    return bool(out) if out.ndim == 0 else out


def _available(m: ModelConfig, dev: Device, weight_dtype: str, tp: int,
               memory_fraction: float) -> float:
    frac = float(positive("memory_fraction", memory_fraction))
    if frac > 1:
        raise ValueError(f"memory_fraction={memory_fraction!r} must be in (0, 1].")
    return dev.memory_capacity * frac - weight_bytes(m, weight_dtype, tp)


def max_batch(model: "str | ModelConfig", device: "str | Device", context: ArrayLike, *,
              weight_dtype: str = "bf16", kv_dtype: str = "bf16", tp: int = 1,
              memory_fraction: float = 1.0) -> Any:
    """Most sequences of ``context`` tokens whose KV cache fits beside the weights, per device.

    ``floor((memory_fraction x capacity - weight bytes) / KV bytes per sequence)``, 0 when
    the weights alone do not fit. A whole number, returned as a float.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> max_batch("llama-2-7b", "h100-sxm", context=4096)
    30.0
    >>> max_batch("llama-3-8b", "h100-sxm", context=[4096, 32768]).tolist()
    [119.0, 14.0]
    >>> max_batch("llama-2-70b", "h100-sxm", context=4096)   # 138 GB of weights: nothing fits
    0.0
    """
    m, dev = models.get(model), hardware.get(device)
    ctx = positive("context", context, integer=True)
    avail = _available(m, dev, weight_dtype, tp, memory_fraction)
    per_seq = kv_cache_bytes(m, 1, ctx, kv_dtype, tp)
    return scalar_or_array(np.floor(np.maximum(avail, 0.0) / per_seq))


def max_context(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike, *,
                weight_dtype: str = "bf16", kv_dtype: str = "bf16", tp: int = 1,
                memory_fraction: float = 1.0) -> Any:
    """Longest context (tokens per sequence) ``batch`` sequences can hold in memory, per device.

    A whole number as a float; ``inf`` where a sliding window caps the cache below what
    memory allows (the model's own ``max_context`` is not applied).

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> max_context("llama-3-8b", "h100-sxm", batch=[1, 16]).tolist()
    [487819.0, 30488.0]
    >>> max_context("mistral-7b", "h100-sxm", batch=1)     # 4096-token rolling buffer
    inf
    """
    m, dev = models.get(model), hardware.get(device)
    b = positive("batch", batch, integer=True)
    avail = _available(m, dev, weight_dtype, tp, memory_fraction)
    per_token = m.kv_bytes_per_token(kv_dtype, tp)
    ctx = np.floor(np.maximum(avail, 0.0) / (b * per_token))
    if m.sliding_window is not None:
        ctx = np.where(ctx >= m.sliding_window, np.inf, ctx)
    return scalar_or_array(ctx)
