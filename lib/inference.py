"""What a forward pass costs on a device: each op on its roofline, the floor, prefill and decode.

:mod:`lib.transformer` says what a forward pass does, op by op (FLOPs and bytes). This
module places each op on a :class:`lib.hardware.Device`'s roofline and adds them up.
Each op runs on one roof (:data:`lib.transformer.ROOFS`): the weights' GEMMs on the
tensor cores at the compute precision (:func:`compute_dtype_for`), attention's two
matmuls at the activations' precision, elementwise work on the vector units (the
device's FP32 peak where published). A softmax's or an activation's exponentials run on
the special-function units (:attr:`lib.hardware.Device.exp_throughput`, 3.9 T/s on an
H100 SXM against 989 TFLOP/s of BF16 matmul); where the catalog holds no such rate they
count as vector FLOPs. An op's math time is that of its slowest unit; its time is
``max(math time, bytes / bandwidth)``.

Two times, honestly named:

* ``time_s``, the **per-op time**: the sum over ops of each op's roofline time, plus the
  tensor-parallel all-reduces (:mod:`lib.comm`). Every op is charged as its own kernel,
  every activation as a round trip through memory, nothing overlapped. An engine that
  fuses ops (norms into GEMMs, the softmax under the matmuls) beats it, so it is *not*
  a lower bound: it is what these kernels cost, each at its own roofline.
* ``floor_s``, the **floor**: ``max(tensor-core time, vector time, special-function time,
  compulsory bytes / bandwidth, link bytes / link bandwidth)``, each the whole forward's
  work on that resource alone (the all-reduces' per-message latencies are a library's cost
  model, which a custom all-reduce beats, so the floor leaves them out). The compulsory
  bytes are the weights, the KV cache read and the new entries written
  (:func:`lib.transformer.compulsory_bytes`). No implementation of this work on this
  device can beat it; "lower bound" in this book means this.

A third time is an estimate of what real code achieves:

* ``estimate_s``, the **calibrated estimate**: each kernel charged at the fractions of the
  peaks that real kernels reach on this device, plus the fixed cost of each launch (with
  or without CUDA graphs), the dequantisation of weight-only formats and the all-reduces
  (:mod:`lib.efficiency` holds the factors and their sources). It is what to expect from
  a mature engine, not a bound: chapters/08_model_vs_reality.ipynb measures how far off it
  is on published runs.

A device that publishes no peak for a precision the forward needs (Apple's M2 Ultra
publishes none) still answers: its estimate is **memory-only** (``peak_known`` is
``False``), every math time 0, and both times count the bytes alone.

All sizes broadcast, so ``decode(model, device, batch=[1, 8, 64], context=[[512], [8192]])``
is one call.

Introduced in chapters/04_transformer_arithmetic.ipynb (the per-op table),
chapters/05_prefill.ipynb (prefill, the floor), chapters/06_decode.ipynb (decode) and
chapters/07_mental_model.ipynb (TTFT, TPOT, tensor parallelism, MBU and MFU).

Examples
--------
>>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=1024)
>>> est.bound, round(est.time_s * 1e3, 2), round(est.floor_s * 1e3, 2)
('memory', 4.2, 4.11)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import capacity, comm, efficiency, hardware, models, roofline, transformer
from lib._validate import choice, positive, scalar_or_array
from lib.dtypes import DTYPES, bytes_per_element
from lib.hardware import Device
from lib.kernels import Kernel
from lib.models import WEIGHT_DTYPES, ModelConfig
from lib.tables import Table
from lib.transformer import ATTENTION_OPS, KernelCounts, Op
from lib.units import fmt_bytes, fmt_count, fmt_flop_rate, fmt_flops, fmt_intensity, fmt_time

__all__ = [
    "OpCost", "Estimate", "compute_dtype_for", "forward", "prefill", "decode", "ttft", "tpot",
    "request_phases", "generation_time", "tpot_approx", "launch_floor", "mbu", "mfu",
    "Utilisation", "utilisation", "CALIBRATED_PARTS", "calibrated_parts", "reads_cache",
    "SPLIT", "time_split", "attention_share", "roofline_point", "TABLE_COLUMNS", "ops_table",
]


def compute_dtype_for(weight_dtype: str, device: "str | Device") -> str:
    """The precision matmuls against the weights run in, by the book's rule.

    fp32, bf16 and fp16 weights compute in their own precision; fp8 weights compute in
    fp8 where the device publishes an fp8 peak and in bf16 elsewhere; int8, int4 and
    llama.cpp's q8_0 and q4_0 weights are weight-only quantisation, dequantised to bf16
    (pass ``compute_dtype`` to :func:`forward` for W8A8-style int8 compute).

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> compute_dtype_for("fp8", "h100-sxm"), compute_dtype_for("fp8", "a100-sxm-80gb")
    ('fp8', 'bf16')
    >>> compute_dtype_for("int4", "h100-sxm")
    'bf16'
    """
    wd = choice("weight_dtype", weight_dtype, WEIGHT_DTYPES)
    if wd in ("fp32", "bf16", "fp16"):
        return wd
    if wd == "fp8" and "fp8" in hardware.get(device).peak_flops:
        return "fp8"
    return "bf16"


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
class OpCost(KernelCounts):
    """One op of a forward pass on a device: its kernel's FLOPs and bytes, and its time, per device.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Attributes
    ----------
    name : str
        One of :data:`lib.transformer.OP_NAMES`.
    kernel : Kernel
        The op's FLOPs, exps and bytes in the whole forward (:attr:`lib.transformer.Op.kernel`);
        ``flops``, ``exps``, ``bytes_weights``, ``bytes_kv``, ``bytes_act``, ``bytes`` and
        ``arithmetic_intensity`` read from it.
    math_time_s, memory_time_s : float or ndarray
        Time at the slowest of its compute units (0 when the peak is unknown), and
        ``bytes / bandwidth``.
    time_s : float or ndarray
        ``max(math_time_s, memory_time_s)``, seconds.
    bound : str or ndarray
        ``"memory"`` or ``"compute"``: the roof that sets ``time_s``.
    calls : int
        Kernel launches of this op per forward (0 for a part of a fused kernel).
    roof : str
        One of :data:`lib.transformer.ROOFS`.
    peak_flops : float or None
        The compute roof of this op, FLOP/s; ``None`` when the device publishes none.
    """

    name: str
    kernel: Kernel
    math_time_s: Any
    memory_time_s: Any
    time_s: Any
    bound: Any
    calls: int
    roof: str
    peak_flops: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (``arithmetic_intensity`` is ``None`` where it is infinite)."""
        out = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
               if f.name != "kernel"}
        for key in ("flops", "exps", "bytes_weights", "bytes_kv", "bytes_act", "bytes",
                    "arithmetic_intensity"):
            out[key] = _plain(getattr(self, key))
        return out


@dataclass(frozen=True)
class Estimate:
    """The cost of one forward pass on a device (a prefill, a decode step, or any chunk).

    Every quantity is per device (with ``tp > 1``, each of the ``tp`` devices does this
    much, at the same time); arrays where the inputs were arrays.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

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
        The per-op breakdown, in :data:`lib.transformer.OP_NAMES` order.
    flops, exps, bytes_weights, bytes_kv, bytes_act, bytes : float or ndarray
        Totals over the ops.
    arithmetic_intensity : float or ndarray
        ``flops / bytes``.
    math_time_s, memory_time_s : float or ndarray
        Sums over ops of their math times and of ``bytes / bandwidth``.
    compute_time_s : float or ndarray
        Sum over ops of their roofline times: the per-op time without communication.
    comm_bytes, comm_time_s : float or ndarray
        Tensor-parallel all-reduce bytes each device sends and their time (0 when tp = 1).
    time_s : float or ndarray
        The per-op time, ``compute_time_s + comm_time_s``.
    compulsory_bytes : float or ndarray
        Bytes no implementation can avoid (:func:`lib.transformer.compulsory_bytes`).
    floor_s : float or ndarray
        The floor: the busiest single resource (tensor cores, vector units, special
        functions, memory for the compulsory bytes, the link). Never above ``time_s``.
    estimate_s : float or ndarray
        The calibrated estimate: what a mature engine takes (:mod:`lib.efficiency`).
    cuda_graphs : bool
        Whether ``estimate_s`` charges graph-replayed launches (else eager ones).
    bound : str or ndarray
        ``"compute"`` where ``math_time_s >= memory_time_s``, else ``"memory"``
        (:func:`lib.roofline.bound_of`); ``"memory"`` throughout a memory-only estimate.
    tokens : float or ndarray
        Tokens processed by the forward, all sequences: ``batch * new_tokens``.
    tokens_per_s : float or ndarray
        ``tokens / time_s``, for the whole tensor-parallel group.
    peak_known : bool
        Whether the device publishes the peaks this forward needs; if not, every math
        time is 0 and both times count the bytes alone (memory-only).
    peak_flops : float or None
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
    exps: Any
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
    compulsory_bytes: Any
    floor_s: Any
    estimate_s: Any
    cuda_graphs: bool
    bound: Any
    tokens: Any
    tokens_per_s: Any
    peak_known: bool
    peak_flops: float | None
    memory_bandwidth: float
    memory_required: Any
    fits: Any

    def op(self, name: str) -> OpCost:
        """The :class:`OpCost` called ``name`` (one of :data:`lib.transformer.OP_NAMES`).

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=0)
        >>> est.op("LM head").bytes_weights / 1e6    # 32000 x 4096 at bf16
        262.144
        """
        present = [o.name for o in self.ops]
        return self.ops[present.index(choice("op", name, present))]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: inputs, totals and ``ops`` (a list of dicts).

        ``comm_s`` repeats ``comm_time_s`` under the calculator's name for it.

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> d = prefill("gpt2", "h100-sxm", batch=1, prompt_len=128).to_dict()
        >>> d["phase"], d["bound"], len(d["ops"]), d["floor_s"] <= d["time_s"]
        ('prefill', 'memory', 14, True)
        """
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = [o.to_dict() for o in v] if f.name == "ops" else _plain(v)
        out["comm_s"] = out["comm_time_s"]
        return out


# --- each op on its roofline ----------------------------------------------------------------

def _roofs(dev: Device, compute_dtype: str, act_dtype: str) -> dict[str, float] | None:
    """Peak FLOP/s of each roof, or ``None`` when the device does not publish them all."""
    if compute_dtype not in dev.peak_flops or act_dtype not in dev.peak_flops:
        return None
    return {"matmul": dev.peak(compute_dtype), "attention": dev.peak(act_dtype),
            "vector": dev.peak_flops.get("fp32", dev.peak(act_dtype))}


def _unit_times(op: Op, roofs: dict[str, float] | None,
                exp_rate: float | None) -> dict[str, Any]:
    """Seconds each kind of unit needs for ``op``: tensor cores, vector units, special functions."""
    if roofs is None:
        return {}
    flops = np.asarray(op.flops, float)
    unit = "vector" if op.roof == "vector" else "tensor"
    if exp_rate is None:
        return {unit: roofline.math_time(flops, roofs[op.roof])}
    exps = np.asarray(op.exps, float)
    return {unit: roofline.math_time(flops - exps, roofs[op.roof]),
            "exp": roofline.math_time(exps, exp_rate)}


def _op_cost(op: Op, times: dict[str, Any], roofs: dict[str, float] | None,
             bandwidth: float) -> OpCost:
    zero = np.zeros(np.shape(op.flops))
    t_math = np.maximum.reduce([zero, *map(np.asarray, times.values())])
    t_mem = np.asarray(roofline.memory_time(op.bytes, bandwidth))
    s = scalar_or_array
    return OpCost(op.name, op.kernel, s(t_math), s(t_mem), s(np.maximum(t_math, t_mem)),
                  _bound(t_math, t_mem, roofs is not None), op.calls, op.roof,
                  None if roofs is None else roofs[op.roof])


def _bound(t_math: Any, t_mem: Any, peak_known: bool) -> Any:
    """:func:`lib.roofline.bound_of`; ``"memory"`` throughout a memory-only estimate."""
    if peak_known:
        return roofline.bound_of(t_math, t_mem)
    out = np.full(np.shape(t_mem), roofline.MEMORY)
    return out.item() if out.ndim == 0 else out


def _all_reduces(p: transformer.ForwardPass, dev: Device, link_bandwidth: float | None,
                 link_latency: float | None) -> comm.Collective:
    """Two all-reduces per layer (after attention, after the MLP) of every token's hidden vector."""
    if p.tp == 1:
        zero = np.zeros(np.shape(p.tokens))
        return comm.Collective(zero, zero, zero)
    nbytes = p.tokens * p.model.d_model * bytes_per_element(p.act_dtype)
    try:
        one = comm.all_reduce(nbytes, p.tp, dev, link_bandwidth, link_latency)
    except ValueError:
        raise ValueError(f"tp={p.tp} needs a device-to-device link, and the catalog holds none "
                         f"for {dev.name}; pass link_bandwidth (byte/s per direction) and "
                         f"link_latency (seconds per message).") from None
    n = 2 * p.model.n_layers
    return comm.Collective(n * np.asarray(one.bytes_sent), n * np.asarray(one.messages),
                           n * np.asarray(one.time_s))


#: What a calibrated time is made of (keys of :func:`calibrated_parts`).
CALIBRATED_PARTS = ("memory", "math", "per-kernel", "host wait")


def calibrated_parts(kernels: "Sequence[tuple[Sequence[Op], int]]", device: "str | Device",
                     weight_dtype: str, act_dtype: str, *, compute_dtype: str | None = None,
                     cuda_graphs: bool = True, reads_cache: ArrayLike = True
                     ) -> dict[str, Any]:
    """The calibrated time of a sequence of kernels, split into :data:`CALIBRATED_PARTS`.

    Each kernel is ``(ops, calls)``: the ops it runs (:class:`lib.transformer.Op`, FLOPs and
    bytes over the whole forward) and its launches per forward. Each op takes the longer of
    its bytes at the sustained bandwidth (a weight-only format's GEMMs also at its
    dequantising efficiency) and its math on each unit (tensor-core time over the achieved
    fraction of the peak: a layer's matrix products at MAMF times the layer shapes' share of
    it); that counts as ``"memory"`` or ``"math"``. Each launch adds the
    device's per-kernel cost (``"per-kernel"``): a streaming kernel's where the kernel reads
    weights from DRAM, an attention call's where it reads a KV cache (``reads_cache``), and
    the cache-resident kernel's otherwise. Launched eagerly, a kernel shorter than the
    host's launch time waits for it (``"host wait"``). The parts add up to
    :attr:`Estimate.estimate_s` without communication; :func:`forward` groups its ops into
    kernels and calls this, and so does :mod:`lib.fusion` for its own kernels.

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> from lib import transformer
    >>> p = transformer.forward_pass("llama-3-8b", 1, 1, 1024)
    >>> one = [((op,), op.calls) for op in transformer.ops(p) if op.calls]   # 8 of 14 ops
    >>> parts = calibrated_parts(one, "h100-sxm", "bf16", "bf16")
    >>> sorted(parts) == sorted(CALIBRATED_PARTS), parts["host wait"]
    (True, 0.0)
    """
    dev = hardware.get(device)
    cd = (compute_dtype_for(weight_dtype, dev) if compute_dtype is None
          else choice("compute_dtype", compute_dtype, DTYPES))
    roofs = _roofs(dev, cd, act_dtype)
    eff = efficiency.get(dev)
    dequant = efficiency.WEIGHT_ONLY.get(weight_dtype)
    eta_math = {"matmul": eff.matmul_for(cd).value * eff.matmul_shapes.value,
                "attention": eff.attention.value}
    reads_cache = np.asarray(reads_cache, bool)
    acc = dict.fromkeys(CALIBRATED_PARTS, 0.0)
    for ops, calls in kernels:
        t, streams = 0.0, False
        for op in ops:
            # a matrix product that reads weights: dequantised on the way, streamed from DRAM
            weights = op.roof == "matmul" and bool(np.any(np.asarray(op.bytes_weights)))
            streams = streams or weights
            math = [np.asarray(u, float) / (eta_math.get(op.roof, 1.0) if unit == "tensor"
                                            else 1.0)
                    for unit, u in _unit_times(op, roofs, dev.exp_throughput).items()]
            math = np.maximum.reduce([np.zeros(np.shape(op.flops)), *math])
            eta_bw = eff.bandwidth.value
            if dequant is not None and weights:
                eta_bw *= dequant.value
            mem = np.asarray(op.bytes, float) / (dev.memory_bandwidth * eta_bw)
            acc["memory"] = acc["memory"] + np.where(mem >= math, mem, 0.0)
            acc["math"] = acc["math"] + np.where(mem >= math, 0.0, math)
            t = t + np.maximum(mem, math)
        if calls == 0:
            continue
        fixed = (eff.streaming_kernel_s if streams else eff.kernel_s).value
        if ops[0].name in transformer.ATTENTION_OPS:
            fixed = np.where(reads_cache, eff.attention_call_s.value, fixed)
        acc["per-kernel"] = acc["per-kernel"] + calls * fixed
        if not cuda_graphs:
            acc["host wait"] = acc["host wait"] + calls * np.maximum(
                eff.host_s.value - (t / calls + fixed), 0.0)
    return {k: scalar_or_array(np.asarray(v, float)) for k, v in acc.items()}


def busy_times(op_list: "Sequence[Op]", device: "str | Device", compute_dtype: str,
               act_dtype: str) -> dict[str, Any]:
    """Seconds each kind of unit (tensor cores, vector units, special functions) is busy
    over ``op_list``, each op at its roof's peak: the math terms of a forward's floor.

    ``{}`` when the device does not publish the peaks (a memory-only estimate).
    :func:`forward`'s ``floor_s`` is the largest of these, the compulsory bytes over the
    bandwidth, and the link's bytes over its bandwidth; a serving simulator that prices
    a step of mixed sequences sums these over its ops (:mod:`lib.serving`).

    Introduced in chapters/15_serving.ipynb.

    Examples
    --------
    >>> from lib import transformer
    >>> ops = transformer.ops(transformer.forward_pass("llama-3-8b", 1, 4096))
    >>> t = busy_times(ops, "h100-sxm", "bf16", "bf16")
    >>> sorted(t), round(float(t["tensor"]) * 1e3, 1)
    (['exp', 'tensor', 'vector'], 62.2)
    """
    dev = hardware.get(device)
    roofs = _roofs(dev, choice("compute_dtype", compute_dtype, DTYPES), act_dtype)
    return _busy(_unit_times(op, roofs, dev.exp_throughput) for op in op_list)


def _busy(unit_times: "Iterable[dict[str, Any]]") -> dict[str, Any]:
    """Each unit's seconds summed over the ops' :func:`_unit_times`."""
    busy: dict[str, Any] = {}
    for times in unit_times:
        for unit, t in times.items():
            busy[unit] = busy.get(unit, 0.0) + np.asarray(t)
    return busy


def reads_cache(new_tokens: ArrayLike, cached: ArrayLike) -> Any:
    """Whether a forward's attention reads a KV cache, and so pays the attention call's cost
    (:func:`calibrated_parts`): a decode step, a speculative verification or a chunk after
    the first does; a prefill from an empty cache does not.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> reads_cache([1, 5, 512, 512], [1024, 1024, 0, 512]).tolist()
    [True, True, False, True]
    """
    return (np.asarray(new_tokens) == 1) | (np.asarray(cached) > 0)


def _kernels(op_list: "Sequence[Op]") -> list[tuple[tuple[Op, ...], int]]:
    """Ops grouped into the kernels that launch them: an op with no launch of its own
    (``calls == 0``) runs inside the kernel before it."""
    out: list[tuple[tuple[Op, ...], int]] = []
    for op in op_list:
        if op.calls == 0 and out:
            out[-1] = (out[-1][0] + (op,), out[-1][1])
        else:
            out.append(((op,), op.calls))
    return out


def forward(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
            new_tokens: ArrayLike, cached: ArrayLike = 0, *, weight_dtype: str = "bf16",
            kv_dtype: str = "bf16", tp: int = 1, compute_dtype: str | None = None,
            fused_attention: bool = True, causal_skip: bool | None = None,
            all_logits: bool = False, attention_tile: int | None = None,
            link_bandwidth: float | None = None, link_latency: float | None = None,
            cuda_graphs: bool = True, phase: str = "forward") -> Estimate:
    """The cost of one forward: ``batch`` sequences of ``new_tokens``, ``cached`` in the KV cache.

    Prefill is ``cached=0``; a decode step is ``new_tokens=1``; a chunk of a chunked
    prefill or a speculative verification of g draft tokens (``new_tokens=g+1``,
    ``all_logits=True``) lies between. The ops and their conventions are
    :mod:`lib.transformer`'s; see this module's docstring for the two times.

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
    weight_dtype : str
        One of :data:`lib.models.WEIGHT_DTYPES`.
    kv_dtype : str
        One of :data:`lib.models.KV_DTYPES`.
    tp : int
        Tensor-parallel degree; must divide ``n_heads``.
    compute_dtype : str, optional
        Override the matmul precision chosen by :func:`compute_dtype_for`.
    fused_attention : bool
        FlashAttention-style (scores stay on chip) or not (scores through main memory).
    causal_skip : bool, optional
        Skip the masked half of causal attention; default ``fused_attention``.
    all_logits : bool
        Logits for every new token instead of only each sequence's last one.
    attention_tile : int, optional
        Query rows per tile of fused attention, to count K and V once per tile; default
        once in all (:func:`lib.kernels.attention`).
    link_bandwidth, link_latency : float, optional
        The device-to-device link, byte/s per direction and seconds per message; default
        the device's (:mod:`lib.comm`).
    cuda_graphs : bool
        For ``estimate_s`` only: launches replayed as a CUDA graph (or a compiled engine),
        or launched one by one from eager code.
    phase : str
        Label stored in the result.

    Returns
    -------
    Estimate

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> # Verifying 4 draft tokens costs about as much as one decode step (memory-bound)
    >>> one = forward("llama-2-7b", "h100-sxm", batch=1, new_tokens=1, cached=1000)
    >>> five = forward("llama-2-7b", "h100-sxm", batch=1, new_tokens=5, cached=1000,
    ...                all_logits=True)
    >>> round(float(five.time_s / one.time_s), 3)
    1.005
    """
    p = transformer.forward_pass(model, batch, new_tokens, cached, weight_dtype=weight_dtype,
                                 kv_dtype=kv_dtype, tp=tp, fused_attention=fused_attention,
                                 causal_skip=causal_skip, all_logits=all_logits,
                                 attention_tile=attention_tile)
    dev = hardware.get(device)
    cd = (compute_dtype_for(p.weight_dtype, dev) if compute_dtype is None
          else choice("compute_dtype", compute_dtype, DTYPES))
    roofs = _roofs(dev, cd, p.act_dtype)
    exp_rate = dev.exp_throughput
    op_list = transformer.ops(p)
    unit_times = [_unit_times(op, roofs, exp_rate) for op in op_list]
    costs = tuple(_op_cost(op, t, roofs, dev.memory_bandwidth)
                  for op, t in zip(op_list, unit_times))
    link = _all_reduces(p, dev, link_bandwidth, link_latency)

    def total(attr: str) -> np.ndarray:
        return sum(np.asarray(getattr(c, attr), float) for c in costs)

    busy = _busy(unit_times)                   # each unit's time over the whole forward
    must_move = np.asarray(transformer.compulsory_bytes(p, op_list))
    # The link's part of the floor is its bytes over its bandwidth: the per-message latencies
    # are NCCL's cost model, which a custom all-reduce beats, so they bound nothing.
    link_bw = dev.interconnect_bandwidth if link_bandwidth is None else link_bandwidth
    link_floor = (np.asarray(link.bytes_sent) / link_bw if p.tp > 1
                  else np.zeros(np.shape(link.time_s)))
    floor = np.maximum.reduce([*busy.values(), must_move / dev.memory_bandwidth, link_floor])
    compute_t = total("time_s")
    time_s = compute_t + link.time_s
    estimate = sum(np.asarray(v, float) for v in calibrated_parts(
        _kernels(op_list), dev, p.weight_dtype, p.act_dtype, compute_dtype=cd,
        cuda_graphs=bool(cuda_graphs), reads_cache=reads_cache(p.new_tokens, p.cached)
    ).values()) + link.time_s
    math_t, mem_t = total("math_time_s"), total("memory_time_s")
    flops, moved = total("flops"), total("bytes_weights") + total("bytes_kv") + total("bytes_act")
    need = capacity.memory_required(p.model, p.batch, p.cached + p.new_tokens,
                                    weight_dtype=p.weight_dtype, kv_dtype=p.kv_dtype, tp=p.tp)
    fit = np.asarray(need) <= dev.memory_capacity
    s = scalar_or_array
    return Estimate(
        phase=phase, model=p.model.name, device=dev.name, batch=s(p.batch),
        new_tokens=s(p.new_tokens), cached=s(p.cached), weight_dtype=p.weight_dtype,
        kv_dtype=p.kv_dtype, compute_dtype=cd, activation_dtype=p.act_dtype, tp=p.tp,
        fused_attention=p.fused_attention, causal_skip=p.causal_skip, all_logits=p.all_logits,
        ops=costs, flops=s(flops), exps=s(total("exps")), bytes_weights=s(total("bytes_weights")),
        bytes_kv=s(total("bytes_kv")), bytes_act=s(total("bytes_act")), bytes=s(moved),
        arithmetic_intensity=s(flops / moved), math_time_s=s(math_t), memory_time_s=s(mem_t),
        compute_time_s=s(compute_t), comm_bytes=s(link.bytes_sent), comm_time_s=s(link.time_s),
        time_s=s(time_s), compulsory_bytes=s(must_move), floor_s=s(floor),
        estimate_s=s(estimate), cuda_graphs=bool(cuda_graphs),
        bound=_bound(math_t, mem_t, roofs is not None), tokens=s(p.tokens),
        tokens_per_s=s(p.tokens / time_s), peak_known=roofs is not None,
        peak_flops=None if roofs is None else roofs["matmul"],
        memory_bandwidth=dev.memory_bandwidth, memory_required=s(need),
        fits=bool(fit) if fit.ndim == 0 else fit)


def prefill(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
            prompt_len: ArrayLike, **kwargs: Any) -> Estimate:
    """The cost of prefilling ``batch`` prompts of ``prompt_len`` tokens (an empty cache).

    Its ``time_s`` is the per-op time to first token (TTFT), ``floor_s`` its floor.
    Keywords as in :func:`forward`.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> p = prefill("llama-2-7b", "h100-sxm", batch=1, prompt_len=[128, 2048])
    >>> p.bound.tolist()
    ['memory', 'compute']
    >>> [round(x) for x in p.arithmetic_intensity]   # grows with the prompt
    [113, 748]
    """
    return forward(model, device, batch, positive("prompt_len", prompt_len, integer=True), 0,
                   phase="prefill", **kwargs)


def decode(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
           context: ArrayLike, **kwargs: Any) -> Estimate:
    """The cost of one decode step: ``batch`` sequences, ``context`` tokens cached, 1 new each.

    Its ``time_s`` is the per-op time per output token (TPOT), ``floor_s`` its floor.
    Keywords as in :func:`forward` (``all_logits`` does not apply).

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=1)
    >>> round(est.bytes_weights / 1e9, 2), round(est.time_s * 1e3, 2)   # ~ weights / bandwidth
    (13.21, 3.95)
    >>> # 16 sequences cost about twice one: each brings its own 1 GB of KV cache
    >>> (decode("llama-2-7b", "h100-sxm", batch=[1, 16], context=2048).time_s * 1e3).round(2)
    array([4.27, 9.14])
    """
    if "all_logits" in kwargs:
        raise ValueError("all_logits applies to forward() and prefill(): a decode step "
                         "computes one token's logits per sequence.")
    return forward(model, device, batch, 1,
                   positive("context", context, allow_zero=True, integer=True),
                   phase="decode", **kwargs)


def ttft(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
         prompt_len: ArrayLike, **kwargs: Any) -> Any:
    """Time to first token, seconds: :func:`prefill`'s per-op ``time_s``.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> round(ttft("llama-3-8b", "h100-sxm", 1, 4096) * 1e3, 1)
    72.3
    """
    return prefill(model, device, batch, prompt_len, **kwargs).time_s


def tpot(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
         context: ArrayLike, **kwargs: Any) -> Any:
    """Time per output token, seconds: :func:`decode`'s per-op ``time_s``.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> round(tpot("llama-3-8b", "h100-sxm", 1, 4096) * 1e3, 2)
    4.65
    """
    return decode(model, device, batch, context, **kwargs).time_s


def request_phases(model: "str | ModelConfig", device: "str | Device", batch: int,
                   prompt_len: int, output_len: int, **kwargs: Any) -> tuple[float, float]:
    """A request's time in prefill (TTFT) and in its ``output_len - 1`` decode steps, seconds.

    The prefill yields the first output token; each later token is one decode step whose
    context grows by one (``prompt_len``, ``prompt_len + 1``, ...). ``batch`` requests of
    this shape are served together. Keywords as in :func:`decode`. Single values only.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> [round(t, 3) for t in request_phases("llama-3-8b", "h100-sxm", 1, 256, 512)]
    [0.005, 2.302]
    """
    for name, value in (("batch", batch), ("prompt_len", prompt_len),
                        ("output_len", output_len)):
        if positive(name, value, integer=True).ndim:
            raise ValueError(f"{name}={value!r} must be a single whole number; sweep with "
                             f"prefill() and decode(), which accept arrays.")
    first = float(prefill(model, device, batch, prompt_len, **kwargs).time_s)
    contexts = int(prompt_len) + np.arange(int(output_len) - 1)
    steps = decode(model, device, batch, contexts, **kwargs).time_s if contexts.size else 0.0
    return first, float(np.sum(steps))


def generation_time(model: "str | ModelConfig", device: "str | Device", batch: int,
                    prompt_len: int, output_len: int, **kwargs: Any) -> float:
    """Serving ``batch`` requests end to end: TTFT + ``output_len - 1`` decode steps, seconds.

    The sum of :func:`request_phases`. Keywords as in :func:`decode`.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> t = generation_time("llama-3-8b", "h100-sxm", batch=1, prompt_len=1000, output_len=256)
    >>> round(t, 2)                       # 17 ms prefill + 255 steps of about 4.5 ms
    1.17
    """
    return sum(request_phases(model, device, batch, prompt_len, output_len, **kwargs))


def tpot_approx(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
                context: ArrayLike, *, weight_dtype: str = "bf16",
                kv_dtype: str = "bf16") -> Any:
    """The decode step to remember: ``B KV(C) / BW + max(2 B N / peak, W / BW)``, seconds.

    ``N`` is the active parameter count, ``W`` the bytes of every weight at
    ``weight_dtype`` (:func:`lib.capacity.weight_bytes`), ``KV(C)`` the cache of one sequence of ``C``
    tokens at ``kv_dtype`` (:func:`lib.capacity.kv_cache_bytes`), ``peak`` the dense peak
    of the matmul dtype (:func:`compute_dtype_for`), ``BW`` the memory bandwidth. The
    weights are read once per step whatever the batch; each sequence reads its own cache;
    attention's reads are never hidden behind math (their intensity stays near
    ``n_heads / n_kv_heads``).

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
    m, dev = models.get(model), hardware.get(device)
    b = positive("batch", batch, integer=True)
    bw = dev.memory_bandwidth
    peak = dev.peak(compute_dtype_for(weight_dtype, dev))
    w = capacity.weight_bytes(m, weight_dtype)
    kv = capacity.kv_cache_bytes(m, b, context, kv_dtype)
    return scalar_or_array(np.asarray(kv) / bw + np.maximum(2 * b * m.params_active / peak,
                                                            w / bw))


def launch_floor(estimate: Estimate, launch_latency_s: ArrayLike,
                 kernels: ArrayLike | None = None) -> Any:
    """Floor on a forward's time when each kernel launch takes ``launch_latency_s``: n x latency.

    When kernels are shorter than it takes to launch them, the GPU waits for the host and
    the step takes about ``max(estimate.time_s, launch_floor(...))`` however few bytes it
    moves. ``kernels`` defaults to the sum of the ops' ``calls``: one per layer for each
    op, a fused attention one kernel in all. Real code may launch more (separate RoPE,
    sampling) or, fused or captured in a CUDA graph, effectively fewer: pass your own
    count. The latency is a parameter, not a catalog figure: measure yours (a few
    microseconds is typical).

    Introduced in chapters/05_prefill.ipynb; used again in chapters/06_decode.ipynb.

    Examples
    --------
    >>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=1024)
    >>> round(launch_floor(est, 5e-6) / 5e-6)          # kernels per step: 11 per layer + 3
    355
    >>> launch_floor(est, [2e-6, 5e-6], kernels=1000).tolist()
    [0.002, 0.005]
    """
    lat = positive("launch_latency_s", launch_latency_s, allow_zero=True)
    n = (sum(o.calls for o in estimate.ops) if kernels is None
         else positive("kernels", kernels, allow_zero=True, integer=True))
    return scalar_or_array(n * lat)


def mbu(estimate: Estimate, measured_time_s: ArrayLike) -> Any:
    """Model bandwidth utilisation: bytes the step moves / measured time / peak bandwidth.

    :func:`lib.roofline.achieved_fraction` of the estimate's bytes (per-op, activations
    included).

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=1024)
    >>> round(mbu(est, 5.0e-3), 2)      # a measured 5.0 ms per token
    0.82
    """
    t = positive("measured_time_s", measured_time_s)
    return roofline.achieved_fraction(estimate.bytes, t, estimate.memory_bandwidth)


def mfu(estimate: Estimate, measured_time_s: ArrayLike) -> Any:
    """Model FLOP/s utilisation: FLOPs the forward does / measured time / dense matmul peak.

    :func:`lib.roofline.achieved_fraction` of the estimate's FLOPs; a ``ValueError``
    where the device publishes no peak.

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> est = prefill("llama-2-7b", "h100-sxm", batch=1, prompt_len=4096)
    >>> round(mfu(est, 0.080), 2)       # a measured 80 ms prefill
    0.73
    """
    t = positive("measured_time_s", measured_time_s)
    if estimate.peak_flops is None:
        raise ValueError(f"estimate: {estimate.device} publishes no {estimate.compute_dtype} "
                         "peak, so there is no MFU to give; MBU still applies.")
    return roofline.achieved_fraction(estimate.flops, t, estimate.peak_flops)


@dataclass(frozen=True)
class Utilisation:
    """A measured time set beside a forward's work: MBU, MFU and the roof it sits nearer.

    ``mfu`` is ``None`` where the device publishes no peak; ``nearer`` is ``"memory"`` when
    MBU >= MFU (the measurement is closer to the bandwidth roof), else ``"compute"``;
    ``vs_estimate`` is the measured time over the calibrated estimate (above 1: slower
    than a mature engine would be expected to run).
    """

    measured_s: float
    mbu: float
    mfu: float | None
    nearer: str
    vs_floor: float
    vs_estimate: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def utilisation(estimate: Estimate, measured_time_s: float) -> Utilisation:
    """MBU and MFU of a measured time for ``estimate``'s work, and the roof it is nearer.

    Single values only: ``estimate`` is one forward (a prefill or one decode step).

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> u = utilisation(decode("llama-2-7b", "a100-sxm-80gb", 1, 100), 1 / 104.9)
    >>> round(u.mbu, 2), round(u.mfu, 4), u.nearer   # gpt-fast's 104.9 tokens/s
    (0.68, 0.0045, 'memory')
    """
    if np.ndim(estimate.time_s):
        raise ValueError("utilisation() takes one forward: pass an estimate of single values "
                         "(no arrays).")
    t = float(positive("measured_time_s", measured_time_s))
    b = float(mbu(estimate, t))
    f = float(mfu(estimate, t)) if estimate.peak_flops is not None else None
    nearer = roofline.MEMORY if f is None or b >= f else roofline.COMPUTE
    return Utilisation(t, b, f, nearer, t / float(estimate.floor_s),
                       t / float(estimate.estimate_s))


# --- reading an estimate -------------------------------------------------------------------

#: The parts of a forward's per-op time, by what sets each op's: bytes of each kind, or math.
SPLIT = ("weights", "KV cache", "activations", "math")


def time_split(estimate: Estimate) -> dict[str, Any]:
    """Split a forward's per-op time by what sets it: each kind of bytes, or the math.

    Each op takes ``max(T_math, T_mem)``. A memory-bound op's time is shared among
    weights, KV cache and activations in proportion to its bytes of each; a
    compute-bound op's time counts as ``"math"``. The four parts (keys :data:`SPLIT`)
    add up to ``estimate.compute_time_s``; communication is not included.

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> est = decode("llama-2-7b", "h100-sxm", batch=1, context=4096)
    >>> {k: round(v * 1e3, 2) for k, v in time_split(est).items()}    # ms
    {'weights': 3.94, 'KV cache': 0.64, 'activations': 0.01, 'math': 0.0}
    """
    out = dict.fromkeys(SPLIT, 0.0)
    for o in estimate.ops:
        t = np.asarray(o.time_s, float)
        moved = np.asarray(o.bytes, float)
        mem = np.asarray(o.bound) == roofline.MEMORY
        share = np.where(moved > 0, t / np.where(moved > 0, moved, 1.0), 0.0)
        for key, part in (("weights", o.bytes_weights), ("KV cache", o.bytes_kv),
                          ("activations", o.bytes_act)):
            out[key] = out[key] + np.where(mem, share * np.asarray(part, float), 0.0)
        out["math"] = out["math"] + np.where(mem, 0.0, t)
    return {k: scalar_or_array(v) for k, v in out.items()}


def attention_share(estimate: Estimate, quantity: str = "time_s") -> Any:
    """Fraction of an estimate's ``flops`` or per-op ``time_s`` spent in attention proper.

    Attention proper is :data:`lib.transformer.ATTENTION_OPS`: the scores ``QK^T``, the
    softmax and the product with ``V`` (not the QKV and output projections).

    Introduced in chapters/05_prefill.ipynb.

    Examples
    --------
    >>> est = prefill("llama-3-8b", "h100-sxm", 1, [512, 8192])
    >>> attention_share(est, "flops").round(3)
    array([0.01 , 0.134])
    """
    q = choice("quantity", quantity, ("flops", "time_s"))
    part = sum(np.asarray(getattr(estimate.op(n), q), float) for n in ATTENTION_OPS)
    return scalar_or_array(part / np.asarray(getattr(estimate, q), float))


def roofline_point(estimate: Estimate) -> tuple[Any, Any]:
    """Where an estimate sits on a roofline: (FLOP/byte, the FLOP/s its per-op time achieves).

    The second coordinate is ``flops / time_s``; it equals the roof at the estimate's
    intensity when every op is bound by the same roof, and lies a little below it
    otherwise (the time is summed op by op).

    Introduced in chapters/06_decode.ipynb.

    Examples
    --------
    >>> x, y = roofline_point(decode("llama-3-8b", "h100-sxm", 1, 2048))
    >>> round(x, 2), round(y / 3.35e12, 2)     # on the memory roof: y = bandwidth * x
    (1.05, 1.05)
    """
    e = estimate
    return e.arithmetic_intensity, scalar_or_array(np.asarray(e.flops) / np.asarray(e.time_s))


#: Columns :func:`ops_table` can show, and what each holds.
TABLE_COLUMNS = {
    "FLOPs": "FLOPs of the op",
    "bytes": "all bytes it moves through main memory",
    "weights": "weight bytes read",
    "KV cache": "KV-cache bytes written and read",
    "activations": "activation bytes read and written",
    "FLOP/B": "arithmetic intensity, FLOP per byte ('on chip' when it moves no bytes)",
    "T_math": "its FLOPs at the peak of its slowest unit",
    "T_mem": "bytes / memory bandwidth",
    "time": "its roofline time, max(T_math, T_mem); the total is the per-op time",
    "bound": "which of the two is longer",
    "share": "its share of the per-op time",
    "calls": "kernel launches per forward",
}
_FULL = ("FLOPs", "weights", "KV cache", "activations", "FLOP/B", "time", "bound", "share")


def _cell(column: str, row: Any, e: Estimate) -> str:
    if column == "FLOPs":
        return fmt_flops(float(row.flops))
    if column in ("bytes", "weights", "KV cache", "activations"):
        return fmt_bytes(float(getattr(row, {"bytes": "bytes", "weights": "bytes_weights",
                                             "KV cache": "bytes_kv",
                                             "activations": "bytes_act"}[column])))
    if column == "FLOP/B":
        ai = float(row.arithmetic_intensity)
        return "on chip" if np.isinf(ai) else fmt_intensity(ai).removesuffix(" FLOP/B")
    if column in ("T_math", "T_mem", "time"):
        attr = {"T_math": "math_time_s", "T_mem": "memory_time_s", "time": "time_s"}[column]
        return fmt_time(float(getattr(row, attr)))
    if column == "share":
        return f"{100 * float(row.time_s) / float(e.time_s):.1f}%"
    if column == "calls":
        return str(sum(o.calls for o in e.ops)) if row is e else str(row.calls)
    return str(row.bound)


def ops_table(estimate: Estimate, columns: tuple[str, ...] | list[str] | None = None) -> Table:
    """The forward op by op, a (scalar) estimate's ``columns`` (default: all that fit a page).

    Rows are the ops, then the all-reduces (with ``tp > 1``) and the total; above, what
    was estimated; below, the per-op time, the floor and the calibrated estimate. Print it for text, or let a
    notebook show it as a table. ``columns`` are keys of :data:`TABLE_COLUMNS`.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> est = prefill("llama-3-8b", "h100-sxm", 1, 2048)
    >>> lines = str(ops_table(est, ["FLOPs", "FLOP/B", "bound"])).splitlines()
    >>> print(lines[1]); print(lines[-5])
    op                          FLOPs  FLOP/B    bound
    total                  29.7 TFLOP     778  compute
    """
    e = estimate
    if np.ndim(e.time_s) != 0:
        raise ValueError("estimate holds arrays; ops_table needs a single configuration: "
                         "index the inputs or call it once per configuration.")
    cols = [choice("columns", c, TABLE_COLUMNS) for c in (columns or _FULL)]
    rows = [(o.name, *(_cell(c, o, e) for c in cols)) for o in e.ops]
    if e.tp > 1:
        link = {"time": fmt_time(e.comm_time_s), "bound": "link",
                "share": f"{100 * e.comm_time_s / e.time_s:.1f}%"}
        rows.append((f"all-reduces (tp {e.tp})", *(link.get(c, "") for c in cols)))
    rows.append(("total", *(_cell(c, e, e) for c in cols)))
    title = (f"{e.phase}: {e.model} on {e.device}, batch {int(e.batch)}, "
             f"{int(e.cached)} tokens cached, {int(e.new_tokens)} new each; "
             f"weights {e.weight_dtype}, KV {e.kv_dtype}, compute {e.compute_dtype}, tp {e.tp}")
    peak = (f"peak {fmt_flop_rate(e.peak_flops)} ({e.compute_dtype})" if e.peak_known else
            f"no published {e.compute_dtype} peak: memory-only times")
    footer = (
        f"per-op time {fmt_time(e.time_s)} ({e.bound}-bound): math {fmt_time(e.math_time_s)}, "
        f"memory {fmt_time(e.memory_time_s)}, communication {fmt_time(e.comm_time_s)}"
        + (f" ({fmt_bytes(e.comm_bytes)} sent per device)" if e.tp > 1 else ""),
        f"floor {fmt_time(e.floor_s)}: no implementation is faster "
        f"({fmt_bytes(e.compulsory_bytes)} must move)",
        f"calibrated estimate {fmt_time(e.estimate_s)}: what a mature engine takes, at the "
        f"fractions of the peaks real kernels reach "
        f"({'launches replayed as a CUDA graph' if e.cuda_graphs else 'eager launches'})",
        f"{fmt_count(e.tokens)} token{'' if e.tokens == 1 else 's'} -> "
        f"{fmt_count(e.tokens_per_s)} tokens/s; {peak}; memory needed "
        f"{fmt_bytes(e.memory_required)} per device{'' if e.fits else ' (does NOT fit)'}",
    )
    return Table(("op", *cols), rows, title=title, totals=1, footer=footer)
