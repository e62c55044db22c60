"""What one forward pass of a model costs on a device: prefill, decode, and everything between.

A forward pass is a list of operations (embedding lookup, QKV projection,
attention, MLP, ..., LM head). For each, this module counts the FLOPs and the
*compulsory* bytes through main memory (the convention of :mod:`lib.kernels`:
every input read once, every output written once), split three ways:

* ``bytes_weights`` -- parameters read (each weight matrix once per forward,
  however many tokens share it);
* ``bytes_kv`` -- KV-cache entries written (the new tokens' K and V) and read
  (every cached entry the attention kernel needs, plus the new ones);
* ``bytes_act`` -- activations read and written between kernels.

Each op is placed on the roofline of a :class:`lib.hardware.Device`
(``max(FLOPs / peak, bytes / bandwidth)``); the forward's roofline lower
bound is the **sum over ops** of those per-op times, plus tensor-parallel
communication, which is reported on its own line. All sizes broadcast, so
``decode(model, device, batch=[1, 8, 64], context=[[512], [8192]])`` is one call.

Conventions and assumptions (each is a choice a chapter can question):

* **1 multiply-add = 2 FLOP.** Elementwise non-linear ops count a few FLOP per
  element (softmax 5, LayerNorm 8, RMSNorm 4, SiLU-and-multiply 5, GELU 8).
* **Which compute roof** (:func:`compute_dtype_for`): matmuls against the weights
  run at the weights' precision when the device has tensor cores for it
  (fp32, bf16, fp16, and fp8 where the device publishes an fp8 peak);
  weight-only quantised formats (int8, int4, and fp8 on a device without fp8)
  are dequantised and computed in bf16. Pass ``compute_dtype`` to override it,
  e.g. ``"int8"`` for W8A8. Attention's two matmuls (activations x KV cache)
  run at the activation precision (bf16, or the weights' own fp32/fp16).
  Elementwise ops (norms, softmax, residual adds) run on the vector units: their
  roof is the device's fp32 peak where published, else the activation dtype's.
* **Activations** are stored at bf16 (fp32 or fp16 when the weights are).
  Every weight tensor, embedding and LM head included, is stored at
  ``weight_dtype``; quantisation scales are not counted.
* **Attention** is FlashAttention-style by default (``fused_attention=True``):
  computed blockwise, so the score matrix never reaches main memory, and the
  masked (future) half of causal attention is skipped (``causal_skip``). With
  ``fused_attention=False`` the score matrix (new tokens x keys, per head) is
  written by QK^T, read and written by softmax and read by attention x V,
  and the masked half is computed too (unless ``causal_skip=True``).
* **KV cache**: the QKV projection writes the new tokens' K and V into the cache;
  attention reads every entry it attends to, the new ones included (a decode
  step with C tokens cached reads C + 1 entries per sequence per layer and writes 1).
  With sliding-window attention a rolling-buffer cache keeps at most the window.
* **LM head**: its weight matrix is read in full every forward; logits are computed
  for the last position of each sequence only (what a serving engine needs to
  sample), or for every new token with ``all_logits=True`` (speculative verification).
  The embedding reads one row per token, never the whole table.
* **Mixture of experts**: each token runs ``top_k`` experts (FLOPs), and the
  weights read are those of the experts at least one token of the batch is
  routed to: with uniform, independent routing a batch of T tokens touches
  E (1 - (1 - k/E)^T) of the E experts on average (:func:`expected_experts`).
  Batch-1 decode reads top_k experts; a large batch reads nearly all of them.
* **Tensor parallelism** over ``tp`` devices (Megatron-LM style): attention heads,
  KV heads (replicated when ``tp`` exceeds them), MLP columns, the vocabulary
  and the weights are split ``tp`` ways; norms and residual adds are replicated.
  Each layer ends its attention and its MLP with an all-reduce of the
  activations; a ring all-reduce sends ``2 (tp - 1) / tp`` x bytes per device
  over the device's interconnect (:attr:`lib.hardware.Device.interconnect_bandwidth`,
  per direction). Communication is added after the ops, never hidden inside them,
  and its latency and any overlap with compute are ignored.
  Every number in an :class:`Estimate` is per device; ``tokens_per_s`` is for the
  whole group.
* **Memory** needed = weights + KV cache; activations and workspace are ignored.

Introduced in chapters/04_transformer_arithmetic.ipynb (the per-op table),
chapters/05_prefill.ipynb (prefill), chapters/06_decode.ipynb (decode, KV cache,
batching, MoE) and chapters/07_mental_model.ipynb (TTFT, TPOT, tensor
parallelism, MBU and MFU).

Examples
--------
>>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=1024)
>>> est.bound, round(est.time_s * 1e3, 2)
('memory', 4.11)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import hardware, models, roofline
from lib._validate import choice, positive, scalar_or_array
from lib.dtypes import DTYPES, bytes_per_element
from lib.hardware import Device
from lib.models import ModelConfig
from lib.units import fmt_bytes, fmt_count, fmt_flop_rate, fmt_flops, fmt_intensity, fmt_time

__all__ = [
    "WEIGHT_DTYPES",
    "KV_DTYPES",
    "OP_NAMES",
    "OpCost",
    "Estimate",
    "compute_dtype_for",
    "activation_dtype_for",
    "expected_experts",
    "kv_heads_per_device",
    "forward",
    "prefill",
    "decode",
    "ttft",
    "tpot",
    "generation_time",
    "weight_bytes",
    "kv_cache_bytes",
    "memory_required",
    "max_batch",
    "max_context",
    "critical_batch",
    "shortest_compute_bound_prompt",
    "tpot_approx",
    "launch_floor",
    "mbu",
    "mfu",
    "format_estimate",
]

#: Precisions the weights may be stored in.
WEIGHT_DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8", "int4")
#: Precisions the KV cache may be stored in.
KV_DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8")

#: Every op an :class:`Estimate` may list, in the order it lists them ("router" only for MoE).
OP_NAMES = ("embedding", "norms", "QKV projection", "attention scores QK^T", "softmax",
            "attention x V", "output projection", "residual adds", "router", "MLP",
            "final norm", "LM head")

# FLOP per element of the elementwise ops (rough counts; they are memory-bound anyway).
_SOFTMAX_FLOP = 5
_NORM_FLOP = {"layernorm": 8, "rmsnorm": 4}
_ACT_FLOP = {True: 5, False: 8}  # gated (SiLU(gate) * up) vs plain (GELU)


# --- small pieces -------------------------------------------------------------------------

def _model(model: Any) -> ModelConfig:
    return models.get(model)


def _device(device: Any) -> Device:
    return device if isinstance(device, Device) else hardware.get(device)


def _tp(tp: Any) -> int:
    arr = positive("tp", tp, integer=True)
    if arr.ndim != 0:
        raise ValueError(f"tp={tp!r} must be a single whole number (one parallel layout per call).")
    return int(arr)


def compute_dtype_for(weight_dtype: str, device: Any) -> str:
    """The precision matmuls against the weights run in, by the module's documented rule.

    fp32, bf16 and fp16 weights compute in their own precision; fp8 weights compute in
    fp8 where the device publishes an fp8 peak and in bf16 elsewhere; int8 and int4
    weights are weight-only quantisation, dequantised to bf16 (pass ``compute_dtype``
    to :func:`forward` for W8A8-style int8 compute).

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> compute_dtype_for("fp8", "h100-sxm"), compute_dtype_for("fp8", "a100-sxm-80gb")
    ('fp8', 'bf16')
    >>> compute_dtype_for("int4", "h100-sxm")
    'bf16'
    """
    wd = choice("weight_dtype", weight_dtype, WEIGHT_DTYPES)
    dev = _device(device)
    if wd in ("fp32", "bf16", "fp16"):
        return wd
    if wd == "fp8" and "fp8" in dev.peak_flops:
        return "fp8"
    return "bf16"


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


def expected_experts(n_experts: ArrayLike, top_k: ArrayLike,
                     tokens: ArrayLike) -> float | np.ndarray:
    """Expected number of distinct experts ``tokens`` routed tokens touch: ``E (1 - (1 - k/E)^T)``.

    Assumes each token picks its ``top_k`` experts uniformly and independently of the
    other tokens (real routers are skewed, which touches fewer experts).

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> expected_experts(8, 2, 1)          # one token: its top-2
    2.0
    >>> round(expected_experts(8, 2, 16), 2)   # 16 tokens: nearly all 8
    7.92
    """
    e = positive("n_experts", n_experts, integer=True)
    k = positive("top_k", top_k, integer=True)
    t = positive("tokens", tokens, allow_zero=True)
    if np.any(k > e):
        raise ValueError(f"top_k={top_k!r} must be <= n_experts={n_experts!r}.")
    return scalar_or_array(e * (1.0 - (1.0 - k / e) ** t))


def kv_heads_per_device(model: Any, tp: int = 1) -> int:
    """KV heads each of ``tp`` devices holds: ``n_kv_heads / tp``, or 1 (replicated) if tp is larger.

    ``tp`` must divide ``n_heads``, and either divide ``n_kv_heads`` or be a multiple of it.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> kv_heads_per_device("llama-2-70b", 4), kv_heads_per_device("llama-2-70b", 16)
    (2, 1)
    >>> kv_heads_per_device("llama-2-7b", 3)
    Traceback (most recent call last):
    ...
    ValueError: tp=3 must divide n_heads=32 of llama-2-7b (each device holds whole attention heads); try one of 1, 2, 4, 8, 16, 32.
    """
    m = _model(model)
    t = _tp(tp)
    if m.n_heads % t:
        ok = ", ".join(str(x) for x in range(1, m.n_heads + 1) if m.n_heads % x == 0)
        raise ValueError(f"tp={t} must divide n_heads={m.n_heads} of {m.name} (each device "
                         f"holds whole attention heads); try one of {ok}.")
    if m.n_kv_heads % t == 0:
        return m.n_kv_heads // t
    if t % m.n_kv_heads == 0:
        return 1
    raise ValueError(f"tp={t} must divide n_kv_heads={m.n_kv_heads} of {m.name}, or be a "
                     f"multiple of it (KV heads are then replicated).")


# --- results ------------------------------------------------------------------------------

def _plain(x: Any) -> Any:
    """numpy -> JSON-ready Python (lists, floats, str); inf -> None."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "fc":
            return [_plain(v) for v in x.tolist()] if x.ndim else _plain(x.item())
        return x.tolist()
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return _plain(x.item())
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


@dataclass(frozen=True)
class OpCost:
    """One operation of a forward pass, summed over the layers, per device.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Attributes
    ----------
    name : str
        One of :data:`OP_NAMES`.
    flops : float or ndarray
        FLOP of this op in the whole forward.
    bytes_weights, bytes_kv, bytes_act : float or ndarray
        Bytes of weights read, of KV cache read and written, of activations read and written.
    time_s : float or ndarray
        Roofline lower bound ``max(flops / peak_flops, bytes / bandwidth)``, seconds.
    bound : str or ndarray
        ``"memory"`` or ``"compute"``: the roof that sets ``time_s``.
    calls : int
        Kernel launches of this op per forward (e.g. one per layer).
    peak_flops : float
        The compute roof used for this op, FLOP/s (see the module's dtype rule).
    """

    name: str
    flops: float | np.ndarray
    bytes_weights: float | np.ndarray
    bytes_kv: float | np.ndarray
    bytes_act: float | np.ndarray
    time_s: float | np.ndarray
    bound: str | np.ndarray
    calls: int
    peak_flops: float

    @property
    def bytes(self) -> float | np.ndarray:
        """All bytes moved: weights + KV cache + activations."""
        return scalar_or_array(np.asarray(self.bytes_weights) + self.bytes_kv + self.bytes_act)

    @property
    def arithmetic_intensity(self) -> float | np.ndarray:
        """FLOP per byte; ``inf`` for an op that moves nothing through main memory."""
        b = np.asarray(self.bytes, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(b > 0, np.asarray(self.flops) / np.where(b > 0, b, 1), np.inf)
        return scalar_or_array(out)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (``arithmetic_intensity`` is ``None`` where it is infinite)."""
        out = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        out["bytes"] = _plain(self.bytes)
        out["arithmetic_intensity"] = _plain(self.arithmetic_intensity)
        return out


@dataclass(frozen=True)
class Estimate:
    """The roofline estimate of one forward pass (a prefill, a decode step, or any chunk).

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Every quantity is per device (with ``tp > 1``, each of the ``tp`` devices does this
    much, at the same time); arrays where the inputs were arrays.

    Attributes
    ----------
    phase : str
        ``"prefill"``, ``"decode"`` or ``"forward"``.
    model, device : str
        Catalog names.
    batch, new_tokens, cached : float or ndarray
        Sequences; tokens each processes in this forward (prompt length, or 1 in decode);
        tokens each already has in its KV cache (0 in prefill, the context in decode).
    weight_dtype, kv_dtype, compute_dtype, activation_dtype : str
        Precisions used (see :func:`compute_dtype_for`).
    tp : int
        Tensor-parallel degree.
    fused_attention, causal_skip, all_logits : bool
        The attention and logits choices in force.
    ops : tuple of OpCost
        The per-op breakdown, in :data:`OP_NAMES` order.
    flops, bytes_weights, bytes_kv, bytes_act, bytes : float or ndarray
        Totals over the ops.
    arithmetic_intensity : float or ndarray
        ``flops / bytes``.
    math_time_s, memory_time_s : float or ndarray
        Sums over ops of ``flops / peak`` and of ``bytes / bandwidth``.
    compute_time_s : float or ndarray
        Sum over ops of ``max(T_math, T_mem)`` -- the roofline bound without communication.
    comm_bytes, comm_time_s : float or ndarray
        Tensor-parallel all-reduce bytes each device sends and their time (0 when tp = 1).
    time_s : float or ndarray
        ``compute_time_s + comm_time_s``: the roofline lower bound on the forward's time.
    bound : str or ndarray
        ``"compute"`` where ``math_time_s >= memory_time_s``, else ``"memory"``.
    tokens : float or ndarray
        Tokens processed by the forward, all sequences: ``batch * new_tokens``.
    tokens_per_s : float or ndarray
        ``tokens / time_s``, for the whole tensor-parallel group.
    peak_flops : float
        Dense peak of the matmul compute dtype (the MFU denominator), FLOP/s.
    memory_bandwidth : float
        The device's memory bandwidth (the MBU denominator), byte/s.
    memory_required : float or ndarray
        Weights + KV cache (cached + new tokens) per device, bytes.
    fits : bool or ndarray
        ``memory_required <= device memory capacity``.
    """

    phase: str
    model: str
    device: str
    batch: Any
    new_tokens: Any
    cached: Any
    weight_dtype: str
    kv_dtype: str
    compute_dtype: str
    activation_dtype: str
    tp: int
    fused_attention: bool
    causal_skip: bool
    all_logits: bool
    ops: tuple[OpCost, ...]
    flops: Any
    bytes_weights: Any
    bytes_kv: Any
    bytes_act: Any
    bytes: Any
    arithmetic_intensity: Any
    math_time_s: Any
    memory_time_s: Any
    compute_time_s: Any
    comm_bytes: Any
    comm_time_s: Any
    time_s: Any
    bound: Any
    tokens: Any
    tokens_per_s: Any
    peak_flops: float
    memory_bandwidth: float
    memory_required: Any
    fits: Any

    def op(self, name: str) -> OpCost:
        """The :class:`OpCost` called ``name`` (one of :data:`OP_NAMES`).

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=0)
        >>> est.op("LM head").bytes_weights / 1e6    # 32000 x 4096 at bf16
        262.144
        """
        present = [o.name for o in self.ops]
        key = choice("op", name, present) if name not in present else name
        return self.ops[present.index(key)]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: inputs, totals and ``ops`` (a list of dicts).

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> d = prefill("gpt2", "h100-sxm", batch=1, prompt_len=128).to_dict()
        >>> d["phase"], d["bound"], len(d["ops"])
        ('prefill', 'memory', 11)
        """
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = [o.to_dict() for o in v] if f.name == "ops" else _plain(v)
        return out


# --- the forward pass ---------------------------------------------------------------------

def _attended_pairs(n: np.ndarray, c: np.ndarray, window: int | None) -> np.ndarray:
    """(query, key) pairs per sequence per head under a causal mask (self included)."""
    if window is None:
        return n * c + n * (n + 1) / 2
    a, b = c + 1, c + n                  # positions of the new tokens, 1-based
    m = np.clip(window, a - 1, b)        # last position whose query sees all earlier keys
    return (m * (m + 1) - (a - 1) * a) / 2 + (b - m) * window


def forward(model: Any, device: Any, batch: ArrayLike, new_tokens: ArrayLike,
            cached: ArrayLike = 0, *, weight_dtype: str = "bf16", kv_dtype: str = "bf16",
            tp: int = 1, compute_dtype: str | None = None, fused_attention: bool = True,
            causal_skip: bool | None = None, all_logits: bool = False,
            link_bandwidth: float | None = None, phase: str = "forward") -> Estimate:
    """Roofline estimate of one forward: ``batch`` sequences of ``new_tokens``, ``cached`` in the KV cache.

    Prefill is ``cached=0``; a decode step is ``new_tokens=1``; a chunk of a chunked
    prefill or a speculative verification of g draft tokens (``new_tokens=g+1``,
    ``all_logits=True``) lies between. See the module docstring for every convention.

    Parameters
    ----------
    model : str or ModelConfig
        Catalog name or a config (e.g. from :func:`lib.models.from_hf_config`).
    device : str or Device
        Catalog name or a device.
    batch, new_tokens : array_like of int >= 1
        Sequences; tokens per sequence in this forward. Broadcast together with ``cached``.
    cached : array_like of int >= 0
        Tokens per sequence already in the KV cache.
    weight_dtype : {"fp32", "bf16", "fp16", "fp8", "int8", "int4"}
    kv_dtype : {"fp32", "bf16", "fp16", "fp8", "int8"}
    tp : int
        Tensor-parallel degree; must divide ``n_heads`` (see :func:`kv_heads_per_device`).
    compute_dtype : str, optional
        Override the matmul precision chosen by :func:`compute_dtype_for`.
    fused_attention : bool
        FlashAttention-style (scores stay on chip) or not (scores through main memory).
    causal_skip : bool, optional
        Skip the masked half of causal attention; default ``fused_attention``.
    all_logits : bool
        Logits for every new token instead of only each sequence's last one.
    link_bandwidth : float, optional
        Interconnect bandwidth per direction, byte/s; default the device's.
    phase : str
        Label stored in the result.

    Returns
    -------
    Estimate

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> # Verifying 4 draft tokens costs about as much as one decode step (memory-bound)
    >>> one = forward("llama-2-7b", "h100-sxm", batch=1, new_tokens=1, cached=1000)
    >>> five = forward("llama-2-7b", "h100-sxm", batch=1, new_tokens=5, cached=1000,
    ...                all_logits=True)
    >>> round(float(five.time_s / one.time_s), 3)
    1.003
    """
    m = _model(model)
    dev = _device(device)
    b = positive("batch", batch, integer=True)
    n = positive("new_tokens", new_tokens, integer=True)
    c = positive("cached", cached, allow_zero=True, integer=True)
    b, n, c = np.broadcast_arrays(b, n, c)
    wd = choice("weight_dtype", weight_dtype, WEIGHT_DTYPES)
    kd = choice("kv_dtype", kv_dtype, KV_DTYPES)
    t = _tp(tp)
    hkv = kv_heads_per_device(m, t)
    cd = (compute_dtype_for(wd, dev) if compute_dtype is None
          else choice("compute_dtype", compute_dtype, DTYPES))
    ad = activation_dtype_for(wd)
    fused = bool(fused_attention)
    skip = fused if causal_skip is None else bool(causal_skip)
    wb, kb, ab = bytes_per_element(wd), bytes_per_element(kd), bytes_per_element(ad)

    matmul_peak = dev.peak(cd)
    attn_peak = dev.peak(ad)
    vector_peak = dev.peak_flops.get("fp32") or dev.peak(ad)
    bw = dev.memory_bandwidth
    if t > 1:
        link = link_bandwidth if link_bandwidth is not None else dev.interconnect_bandwidth
        if link is None:
            raise ValueError(f"tp={t} needs a device-to-device link, and the catalog holds no "
                             f"interconnect bandwidth for {dev.name}; pass link_bandwidth "
                             f"(byte/s per direction).")
        link = float(positive("link_bandwidth", link))

    L, d, hd, f, V = m.n_layers, m.d_model, m.head_dim, m.d_ff, m.vocab_size
    hq = m.n_heads // t                   # query heads per device
    qd, kvd = hq * hd, hkv * hd           # per-device widths of Q and of K (or V)
    fd = f / t                            # MLP columns per device
    tok = b * n                           # tokens in this forward
    kept = np.asarray(m.kv_tokens(c), float)
    keys = kept + n                       # KV entries in the cache when attention runs
    pairs = _attended_pairs(n, c, m.sliding_window) if skip else n * keys
    rect = n * keys                       # score-matrix elements per sequence per head
    t_out = tok if all_logits else b      # positions whose logits are computed
    zero = np.zeros_like(tok)

    ops: list[OpCost] = []

    def add(name: str, calls: int, peak: float, flops: Any, w: Any = 0.0, kv: Any = 0.0,
            act: Any = 0.0) -> None:
        fl = zero + flops
        bw_, kv_, ac_ = zero + w, zero + kv, zero + act
        total = bw_ + kv_ + ac_
        ops.append(OpCost(name, scalar_or_array(fl), scalar_or_array(bw_), scalar_or_array(kv_),
                          scalar_or_array(ac_), roofline.kernel_time(fl, total, peak, bw),
                          roofline.bound(fl, total, peak, bw), calls, peak))

    # embedding: one row per token (vocab-parallel under TP), plus learned positions
    rows = np.minimum(tok, V) / t
    if m.positional == "learned":
        add("embedding", 1, vector_peak, tok * d, (rows + n / t) * d * wb, act=tok * d * ab)
    else:
        add("embedding", 1, vector_peak, 0.0, rows * d * wb, act=tok * d * ab)

    norm_flop = _NORM_FLOP[m.norm]
    add("norms", 2 * L, vector_peak, 2 * L * norm_flop * tok * d, 2 * L * m.norm_params * wb,
        act=2 * L * 2 * tok * d * ab)

    qkv_w = qd + 2 * kvd
    add("QKV projection", L, matmul_peak,
        L * (2 * tok * d * qkv_w + (tok * qkv_w if m.qkv_bias else 0)),
        L * (d * qkv_w + (qkv_w if m.qkv_bias else 0)) * wb,
        kv=L * tok * 2 * kvd * kb,
        act=L * tok * (d + qd) * ab)

    scores = b * hq * rect * ab if not fused else zero   # the score matrix, once
    add("attention scores QK^T", L, attn_peak, L * 2 * b * hq * hd * pairs,
        kv=L * b * keys * kvd * kb, act=L * (tok * qd * ab + scores))
    add("softmax", L, vector_peak, L * _SOFTMAX_FLOP * b * hq * (pairs if fused else rect),
        act=L * 2 * scores)
    add("attention x V", L, attn_peak, L * 2 * b * hq * hd * pairs,
        kv=L * b * keys * kvd * kb, act=L * (tok * qd * ab + scores))

    add("output projection", L, matmul_peak,
        L * (2 * tok * qd * d + (tok * d if m.out_bias else 0)),
        L * (qd * d + (d if m.out_bias else 0)) * wb,
        act=L * tok * (qd + d) * ab)

    add("residual adds", 2 * L, vector_peak, 2 * L * tok * d, act=2 * L * 3 * tok * d * ab)

    e, k = m.n_experts, m.top_k
    if m.is_moe:
        add("router", L, matmul_peak, L * 2 * tok * d * e, L * d * e * wb,
            act=L * tok * (d + e) * ab)
    touched = e * (1.0 - (1.0 - k / e) ** tok) if m.is_moe else zero + 1.0
    mm = m.mlp_matrices
    routed = tok * k                      # token-expert pairs
    bias_w = ((mm - 1) * fd + d) if m.mlp_bias else 0.0
    inter = (6 if m.gated_mlp else 4) * routed * fd   # hidden activations written and read
    combine = (routed * d + tok * d) if m.is_moe else zero
    add("MLP", L, matmul_peak,
        L * (2 * routed * mm * d * fd + _ACT_FLOP[m.gated_mlp] * routed * fd
             + (routed * ((mm - 1) * fd + d) if m.mlp_bias else 0)),
        L * touched * (mm * d * fd + bias_w) * wb,
        act=L * (2 * routed * d + inter + combine) * ab)

    add("final norm", 1, vector_peak, norm_flop * tok * d, m.norm_params * wb,
        act=2 * tok * d * ab)
    add("LM head", 1, matmul_peak, 2 * t_out * d * V / t, d * V / t * wb,
        act=t_out * (d + V / t) * ab)

    # totals
    flops = sum(np.asarray(o.flops) for o in ops)
    bw_tot = sum(np.asarray(o.bytes_weights) for o in ops)
    kv_tot = sum(np.asarray(o.bytes_kv) for o in ops)
    act_tot = sum(np.asarray(o.bytes_act) for o in ops)
    total_bytes = bw_tot + kv_tot + act_tot
    math_t = sum(np.asarray(o.flops) / o.peak_flops for o in ops)
    mem_t = total_bytes / bw
    compute_t = sum(np.asarray(o.time_s) for o in ops)
    if t > 1:
        comm_bytes = 2 * L * 2 * (t - 1) / t * tok * d * ab
        comm_t = comm_bytes / link
    else:
        comm_bytes = comm_t = zero
    time_s = compute_t + comm_t
    mem_needed = (weight_bytes(m, wd, t)
                  + kv_cache_bytes(m, b, c + n, kd, t))
    bound = np.where(math_t >= mem_t, roofline.COMPUTE, roofline.MEMORY)

    s = scalar_or_array
    return Estimate(
        phase=phase, model=m.name, device=dev.name, batch=s(b), new_tokens=s(n), cached=s(c),
        weight_dtype=wd, kv_dtype=kd, compute_dtype=cd, activation_dtype=ad, tp=t,
        fused_attention=fused, causal_skip=skip, all_logits=bool(all_logits), ops=tuple(ops),
        flops=s(flops), bytes_weights=s(bw_tot), bytes_kv=s(kv_tot), bytes_act=s(act_tot),
        bytes=s(total_bytes), arithmetic_intensity=s(flops / total_bytes),
        math_time_s=s(math_t), memory_time_s=s(mem_t), compute_time_s=s(compute_t),
        comm_bytes=s(zero + comm_bytes), comm_time_s=s(zero + comm_t), time_s=s(time_s),
        bound=bound.item() if bound.ndim == 0 else bound, tokens=s(tok),
        tokens_per_s=s(tok / time_s), peak_flops=matmul_peak, memory_bandwidth=bw,
        memory_required=s(mem_needed),
        fits=(bool(mem_needed <= dev.memory_capacity) if np.ndim(mem_needed) == 0
              else np.asarray(mem_needed) <= dev.memory_capacity),
    )


def prefill(model: Any, device: Any, batch: ArrayLike, prompt_len: ArrayLike, *,
            weight_dtype: str = "bf16", kv_dtype: str = "bf16", tp: int = 1,
            compute_dtype: str | None = None, fused_attention: bool = True,
            causal_skip: bool | None = None, all_logits: bool = False,
            link_bandwidth: float | None = None) -> Estimate:
    """Roofline estimate of prefilling ``batch`` prompts of ``prompt_len`` tokens (an empty cache).

    Its ``time_s`` is the time to first token (TTFT) lower bound. Keywords as in :func:`forward`.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> p = prefill("llama-2-7b", "h100-sxm", batch=1, prompt_len=[128, 2048])
    >>> p.bound.tolist()
    ['memory', 'compute']
    >>> [round(x) for x in p.arithmetic_intensity]   # grows with the prompt
    [115, 819]
    """
    return forward(model, device, batch, positive("prompt_len", prompt_len, integer=True), 0,
                   weight_dtype=weight_dtype, kv_dtype=kv_dtype, tp=tp,
                   compute_dtype=compute_dtype, fused_attention=fused_attention,
                   causal_skip=causal_skip, all_logits=all_logits,
                   link_bandwidth=link_bandwidth, phase="prefill")


def decode(model: Any, device: Any, batch: ArrayLike, context: ArrayLike, *,
           weight_dtype: str = "bf16", kv_dtype: str = "bf16", tp: int = 1,
           compute_dtype: str | None = None, fused_attention: bool = True,
           causal_skip: bool | None = None, link_bandwidth: float | None = None) -> Estimate:
    """Roofline estimate of one decode step: ``batch`` sequences, ``context`` tokens cached, 1 new each.

    Its ``time_s`` is the time per output token (TPOT) lower bound. Keywords as in
    :func:`forward`.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=1)
    >>> round(est.bytes_weights / 1e9, 2), round(est.time_s * 1e3, 2)   # ~ weights / bandwidth
    (13.21, 3.95)
    >>> # 16 sequences cost about twice one: each brings its own 1 GB of KV cache
    >>> (decode("llama-2-7b", "h100-sxm", batch=[1, 16], context=2048).time_s * 1e3).round(2)
    array([4.27, 9.12])
    """
    return forward(model, device, batch, 1, positive("context", context, allow_zero=True,
                                                     integer=True),
                   weight_dtype=weight_dtype, kv_dtype=kv_dtype, tp=tp,
                   compute_dtype=compute_dtype, fused_attention=fused_attention,
                   causal_skip=causal_skip, link_bandwidth=link_bandwidth, phase="decode")


def ttft(model: Any, device: Any, batch: ArrayLike, prompt_len: ArrayLike,
         **kwargs: Any) -> float | np.ndarray:
    """Time to first token lower bound, seconds: :func:`prefill`'s ``time_s``.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> round(ttft("llama-3-8b", "h100-sxm", 1, 4096) * 1e3, 1)
    66.4
    """
    return prefill(model, device, batch, prompt_len, **kwargs).time_s


def tpot(model: Any, device: Any, batch: ArrayLike, context: ArrayLike,
         **kwargs: Any) -> float | np.ndarray:
    """Time per output token lower bound, seconds: :func:`decode`'s ``time_s``.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> round(tpot("llama-3-8b", "h100-sxm", 1, 4096) * 1e3, 2)
    4.64
    """
    return decode(model, device, batch, context, **kwargs).time_s


def generation_time(model: Any, device: Any, batch: int, prompt_len: int, output_len: int,
                    **kwargs: Any) -> float:
    """Lower bound on serving ``batch`` requests end to end: TTFT + ``output_len - 1`` decode steps.

    The prefill yields the first output token; each later token is one decode step whose
    context grows by one (``prompt_len``, ``prompt_len + 1``, ...). Keywords as in
    :func:`decode` (``all_logits`` is not accepted). Single values only.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> t = generation_time("llama-3-8b", "h100-sxm", batch=1, prompt_len=1000, output_len=256)
    >>> round(t, 2)                       # 16 ms prefill + 255 steps of about 4.5 ms
    1.17
    """
    for name, value in (("batch", batch), ("prompt_len", prompt_len),
                        ("output_len", output_len)):
        if positive(name, value, integer=True).ndim:
            raise ValueError(f"{name}={value!r} must be a single whole number; sweep with "
                             f"prefill() and decode(), which accept arrays.")
    first = prefill(model, device, batch, prompt_len, **kwargs).time_s
    if int(output_len) == 1:
        return float(first)
    contexts = int(prompt_len) + np.arange(int(output_len) - 1)
    return float(first + np.sum(decode(model, device, batch, contexts, **kwargs).time_s))


# --- memory -------------------------------------------------------------------------------

def weight_bytes(model: Any, weight_dtype: str = "bf16", tp: int = 1) -> float:
    """Bytes of weights each of ``tp`` devices stores: every parameter at ``weight_dtype``, / tp.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> weight_bytes("llama-2-70b", "bf16", tp=4) / 1e9
    34.488324096
    """
    m = _model(model)
    wd = choice("weight_dtype", weight_dtype, WEIGHT_DTYPES)
    return m.weight_bytes(wd) / _tp(tp)


def kv_cache_bytes(model: Any, batch: ArrayLike, context: ArrayLike, kv_dtype: str = "bf16",
                   tp: int = 1) -> float | np.ndarray:
    """KV-cache bytes per device for ``batch`` sequences of ``context`` tokens each.

    ``batch x kept tokens x 2 x layers x kv_heads_per_device x head_dim x bytes``, where
    kept tokens is the context, or the sliding window when smaller.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> kv_cache_bytes("llama-2-7b", 1, 4096) / 2**30     # GiB
    2.0
    >>> kv_cache_bytes("llama-2-70b", [1, 32], 4096, tp=8) / 2**30
    array([0.15625, 5.     ])
    """
    m = _model(model)
    b = positive("batch", batch, integer=True)
    ctx = positive("context", context, allow_zero=True, integer=True)
    kd = choice("kv_dtype", kv_dtype, KV_DTYPES)
    per_token = 2 * m.n_layers * kv_heads_per_device(m, tp) * m.head_dim * bytes_per_element(kd)
    return scalar_or_array(b * np.asarray(m.kv_tokens(ctx), float) * per_token)


def memory_required(model: Any, batch: ArrayLike, context: ArrayLike, *,
                    weight_dtype: str = "bf16", kv_dtype: str = "bf16",
                    tp: int = 1) -> float | np.ndarray:
    """Weights plus KV cache per device, bytes (activations and workspace not counted).

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> round(memory_required("llama-2-7b", 8, 4096) / 1e9, 1)
    30.6
    """
    return scalar_or_array(weight_bytes(model, weight_dtype, tp)
                           + kv_cache_bytes(model, batch, context, kv_dtype, tp))


def _available(m: ModelConfig, dev: Device, weight_dtype: str, tp: int,
               memory_fraction: float) -> float:
    frac = float(positive("memory_fraction", memory_fraction))
    if frac > 1:
        raise ValueError(f"memory_fraction={memory_fraction!r} must be in (0, 1].")
    return dev.memory_capacity * frac - weight_bytes(m, weight_dtype, tp)


def max_batch(model: Any, device: Any, context: ArrayLike, *, weight_dtype: str = "bf16",
              kv_dtype: str = "bf16", tp: int = 1,
              memory_fraction: float = 1.0) -> float | np.ndarray:
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
    m, dev = _model(model), _device(device)
    ctx = positive("context", context, integer=True)
    avail = _available(m, dev, weight_dtype, tp, memory_fraction)
    per_seq = kv_cache_bytes(m, 1, ctx, kv_dtype, tp)
    return scalar_or_array(np.floor(np.maximum(avail, 0.0) / per_seq))


def max_context(model: Any, device: Any, batch: ArrayLike, *, weight_dtype: str = "bf16",
                kv_dtype: str = "bf16", tp: int = 1,
                memory_fraction: float = 1.0) -> float | np.ndarray:
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
    m, dev = _model(model), _device(device)
    b = positive("batch", batch, integer=True)
    avail = _available(m, dev, weight_dtype, tp, memory_fraction)
    per_token = kv_cache_bytes(m.without_sliding_window(), 1, 1, kv_dtype, tp)
    ctx = np.floor(np.maximum(avail, 0.0) / (b * per_token))
    if m.sliding_window is not None:
        ctx = np.where(ctx >= m.sliding_window, np.inf, ctx)
    return scalar_or_array(ctx)


# --- where decode turns compute-bound, and efficiency from a measurement -------------------

def shortest_compute_bound_prompt(model: Any, device: Any, batch: int = 1,
                                  prompt_lens: ArrayLike | None = None, **kwargs: Any) -> float:
    """The shortest of ``prompt_lens`` whose prefill is compute-bound, or ``inf`` if none is.

    Prefill's counterpart of :func:`critical_batch`: below this prompt length the
    weight reads set the time even though every token is a row of a GEMM.
    ``prompt_lens`` defaults to every length from 1 to 8192; ``kwargs`` go to
    :func:`prefill` (dtypes, ``tp``, ``fused_attention``...).

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> shortest_compute_bound_prompt("llama-3-8b", "h100-sxm")
    404.0
    >>> shortest_compute_bound_prompt("llama-3-8b", "h100-sxm", prompt_lens=[16, 64])
    inf
    """
    p = positive("prompt_lens", np.arange(1, 8193) if prompt_lens is None else prompt_lens,
                 integer=True)
    if p.ndim != 1 or p.size == 0 or np.any(np.diff(p) <= 0):
        raise ValueError(f"prompt_lens={prompt_lens!r} must be a non-empty, strictly increasing "
                         f"1-d sequence.")
    compute = np.asarray(prefill(model, device, batch, p, **kwargs).bound) == roofline.COMPUTE
    return float(p[compute][0]) if compute.any() else float("inf")


def critical_batch(model: Any, device: Any, context: ArrayLike = 0, *,
                   weight_dtype: str = "bf16", kv_dtype: str = "bf16", tp: int = 1,
                   compute_dtype: str | None = None, fused_attention: bool = True,
                   link_bandwidth: float | None = None,
                   limit: int = 1 << 24) -> float | np.ndarray:
    """Smallest decode batch whose step is compute-bound (``math_time_s >= memory_time_s``).

    ``inf`` where no batch up to ``limit`` gets there: at long contexts each sequence's
    KV-cache reads grow with the batch as fast as its FLOPs, so attention keeps decode
    memory-bound however large the batch. A whole number as a float.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> # Above peak / bandwidth (295 on H100): activations move bytes that weights alone do not
    >>> critical_batch("llama-3-8b", "h100-sxm", context=0)
    375.0
    >>> # Int8 weights computed in bf16 halve it
    >>> critical_batch("llama-3-8b", "h100-sxm", context=0, weight_dtype="int8")
    188.0
    >>> # With a KV cache to read, the step may never turn compute-bound
    >>> critical_batch("llama-3-8b", "h100-sxm", context=[128, 1024]).tolist()
    [637.0, inf]
    """
    ctx = positive("context", context, allow_zero=True, integer=True)
    kw = dict(weight_dtype=weight_dtype, kv_dtype=kv_dtype, tp=tp, compute_dtype=compute_dtype,
              fused_attention=fused_attention, link_bandwidth=link_bandwidth)
    lim = int(positive("limit", limit, integer=True))

    def compute_bound(bs: np.ndarray) -> np.ndarray:
        est = decode(model, device, bs, ctx, **kw)
        return np.asarray(est.math_time_s) >= np.asarray(est.memory_time_s)

    lo = np.zeros_like(ctx)
    hi = np.full_like(ctx, float(lim))
    never = ~compute_bound(hi)
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2)
        mid = np.where(hi - lo > 1, mid, hi)
        cb = compute_bound(np.maximum(mid, 1))
        hi = np.where(cb, mid, hi)
        lo = np.where(cb, lo, mid)
    return scalar_or_array(np.where(never, np.inf, hi))


def tpot_approx(model: Any, device: Any, batch: ArrayLike, context: ArrayLike, *,
                weight_dtype: str = "bf16", kv_dtype: str = "bf16") -> float | np.ndarray:
    """Back-of-envelope decode step time: ``B KV(C) / BW + max(2 B N / peak, W / BW)``, seconds.

    ``N`` is the active parameter count, ``W`` their bytes at ``weight_dtype``
    (:func:`weight_bytes`), ``KV(C)`` the cache of one sequence of ``C`` tokens at
    ``kv_dtype`` (:func:`kv_cache_bytes`), ``peak`` the dense peak of the matmul dtype
    (:func:`compute_dtype_for`), ``BW`` the memory bandwidth. The weights are read once
    per step whatever the batch; each sequence reads its own cache; attention's reads are
    never hidden behind math (their intensity stays near ``n_heads / n_kv_heads``).

    What it leaves out, and :func:`decode` keeps: activation traffic, attention FLOPs,
    the embedding rows that are not read, and one ``max`` per op instead of one for the
    whole step. For a mixture of experts ``W`` counts every expert (a small batch reads
    fewer). One device (``tp = 1``).

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> round(tpot_approx("llama-2-7b", "h100-sxm", 1, 1024) * 1e3, 2)   # decode(): 4.11 ms
    4.18
    >>> (tpot_approx("llama-3-8b", "h100-sxm", [1, 64], 4096) * 1e3).round(2)
    array([ 4.96, 15.05])
    """
    m, dev = _model(model), _device(device)
    b = positive("batch", batch, integer=True)
    bw = dev.memory_bandwidth
    peak = dev.peak(compute_dtype_for(weight_dtype, dev))
    w = weight_bytes(m, weight_dtype)
    kv = kv_cache_bytes(m, b, context, kv_dtype)
    return scalar_or_array(np.asarray(kv) / bw + np.maximum(2 * b * m.params_active / peak,
                                                            w / bw))


def launch_floor(estimate: Estimate, launch_latency_s: ArrayLike,
                 kernels: ArrayLike | None = None) -> float | np.ndarray:
    """Floor on a forward's time when each kernel launch takes ``launch_latency_s``: n x latency.

    When kernels are shorter than it takes to launch them, the GPU waits for the host and
    the step takes about ``max(estimate.time_s, launch_floor(...))`` however few bytes it
    moves. ``kernels`` defaults to the op list's count: each op's ``calls`` (one per layer),
    with attention's three ops (QK^T, softmax, x V) one kernel per layer when fused. Real
    code launches more (separate gate, up and down GEMMs, RoPE, the activation) or, fused
    or captured in a CUDA graph, effectively fewer: pass your own count. The latency is a
    parameter, not a catalog figure: measure yours (a few microseconds is typical).

    Introduced in chapters/05_prefill.ipynb; used again in chapters/06_decode.ipynb.

    Examples
    --------
    >>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=1024)
    >>> round(launch_floor(est, 5e-6) / 5e-6)          # kernels per step: 8 per layer + 3
    259
    >>> round(launch_floor(est, 5e-6) * 1e3, 1), round(est.time_s * 1e3, 1)   # ms
    (1.3, 4.1)
    >>> launch_floor(est, [2e-6, 5e-6], kernels=1000).tolist()
    [0.002, 0.005]
    """
    lat = positive("launch_latency_s", launch_latency_s, allow_zero=True)
    if kernels is None:
        attention = ("attention scores QK^T", "softmax", "attention x V")
        n = sum(o.calls for o in estimate.ops
                if not (estimate.fused_attention and o.name in attention[1:]))
    else:
        n = positive("kernels", kernels, allow_zero=True, integer=True)
    return scalar_or_array(n * lat)


def mbu(estimate: Estimate, measured_time_s: ArrayLike) -> float | np.ndarray:
    """Model bandwidth utilisation: bytes the step must move / measured time / peak bandwidth.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=1024)
    >>> round(mbu(est, 5.0e-3), 2)      # a measured 5.0 ms per token
    0.82
    """
    t = positive("measured_time_s", measured_time_s)
    return scalar_or_array(np.asarray(estimate.bytes) / t / estimate.memory_bandwidth)


def mfu(estimate: Estimate, measured_time_s: ArrayLike) -> float | np.ndarray:
    """Model FLOP/s utilisation: FLOPs the forward must do / measured time / dense peak.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> est = prefill("llama-2-7b", "h100-sxm", batch=1, prompt_len=4096)
    >>> round(mfu(est, 0.080), 2)       # a measured 80 ms prefill
    0.73
    """
    t = positive("measured_time_s", measured_time_s)
    return scalar_or_array(np.asarray(estimate.flops) / t / estimate.peak_flops)


# --- display ------------------------------------------------------------------------------

def format_estimate(estimate: Estimate) -> str:
    """A readable, aligned table of a (scalar) estimate: one row per op, then the totals.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> print(format_estimate(decode("gpt2", "h100-sxm", batch=1, context=0)))  # doctest: +ELLIPSIS
    decode: gpt2 on h100-sxm, batch 1, 0 tokens cached, 1 new each; weights bf16, KV bf16, compute bf16, tp 1
    op ...
    """
    e = estimate
    if np.ndim(e.time_s) != 0:
        raise ValueError("format_estimate needs a single configuration; index the inputs "
                         "or call it once per configuration.")
    head = (f"{e.phase}: {e.model} on {e.device}, batch {int(e.batch)}, "
            f"{int(e.cached)} tokens cached, {int(e.new_tokens)} new each; "
            f"weights {e.weight_dtype}, KV {e.kv_dtype}, compute {e.compute_dtype}, tp {e.tp}")
    cols = ("op", "FLOPs", "weights", "KV cache", "activations", "intensity", "time", "bound",
            "share")
    rows = []
    for o in e.ops:
        ai = o.arithmetic_intensity
        rows.append((o.name, fmt_flops(o.flops), fmt_bytes(o.bytes_weights),
                     fmt_bytes(o.bytes_kv), fmt_bytes(o.bytes_act),
                     "on chip" if not np.isfinite(ai) else fmt_intensity(ai),
                     fmt_time(o.time_s), o.bound, f"{100 * o.time_s / e.time_s:.1f}%"))
    if e.tp > 1:
        rows.append((f"all-reduce (tp {e.tp})", "", fmt_bytes(0), fmt_bytes(0),
                     fmt_bytes(e.comm_bytes), "", fmt_time(e.comm_time_s), "link",
                     f"{100 * e.comm_time_s / e.time_s:.1f}%"))
    total = ("total", fmt_flops(e.flops), fmt_bytes(e.bytes_weights), fmt_bytes(e.bytes_kv),
             fmt_bytes(e.bytes_act), fmt_intensity(e.arithmetic_intensity), fmt_time(e.time_s),
             e.bound, "100.0%")
    widths = [max(len(r[i]) for r in [cols, total, *rows]) for i in range(len(cols))]

    def line(r: tuple[str, ...]) -> str:
        return "  ".join(x.ljust(w) if i == 0 else x.rjust(w)
                         for i, (x, w) in enumerate(zip(r, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    tail = [
        f"roofline time {fmt_time(e.time_s)} ({e.bound}-bound): math {fmt_time(e.math_time_s)}, "
        f"memory {fmt_time(e.memory_time_s)}, communication {fmt_time(e.comm_time_s)}",
        f"{fmt_count(e.tokens)} token{'' if e.tokens == 1 else 's'} -> "
        f"{fmt_count(e.tokens_per_s)} tokens/s; "
        f"peak {fmt_flop_rate(e.peak_flops)} ({e.compute_dtype}), "
        f"memory needed {fmt_bytes(e.memory_required)} per device"
        f"{'' if e.fits else ' (does NOT fit)'}",
    ]
    return "\n".join([head, line(cols), rule, *map(line, rows), rule, line(total), *tail])
