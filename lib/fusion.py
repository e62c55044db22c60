"""Fewer, larger kernels: merged GEMMs, fused elementwise ops and CUDA graphs in a decode step.

A decode step is a few hundred kernels (:func:`lib.inference.launch_floor`). Each costs the
GPU about a microsecond however little it does (:attr:`lib.efficiency.Efficiency.kernel_s`),
and, launched from eager Python, the host a few more (``host_s``), which the GPU waits for
when the kernel is shorter. This module rebuilds :mod:`lib.transformer`'s op list at three
**fusion levels** (:data:`LEVELS`) and prices each kernel as the calibrated estimate does:

* ``"unfused"``: Q, K and V as three GEMMs and the MLP's gate and up as two (what a plain
  ``nn.Linear`` per matrix launches); every other op its own kernel, attention fused;
* ``"merged GEMMs"``: the op list of :mod:`lib.transformer` -- one GEMM with the three
  matrices side by side, one for gate and up. Same weight bytes, fewer launches, and the
  normed input read once instead of three (two) times. Its price is exactly
  :attr:`lib.inference.Estimate.estimate_s`;
* ``"fused elementwise"``: the residual add fused into the norm after it (vLLM's
  ``fused_add_rms_norm``), RoPE and the KV-cache write in the QKV GEMM's epilogue, and the
  SiLU-and-multiply in the gate/up GEMM's epilogue. Each fusion removes an intermediate
  tensor's write and read back (counted from the tensors :mod:`lib.transformer` passes
  between those ops); nothing else changes.

``cuda_graphs`` is independent of the level: replayed as a graph, no kernel waits for the
host; each still pays its GPU-side cost, and every byte still moves.

Each kernel's time splits into the parts :data:`PARTS`: its bytes at the sustained
bandwidth (``"memory"``) or its FLOPs at the achieved peak (``"math"``), whichever is
longer; its fixed per-kernel cost (``"per-kernel"``); and, launched eagerly, the time the
GPU waits for the host (``"host wait"``).

``new_tokens`` builds the same levels for a forward of any length: a prefill, or a chunk of
one (chapters/13_prefill_kernels.ipynb, where :mod:`lib.prefill` uses them).

Introduced in chapters/11_decode_kernels.ipynb.

Examples
--------
>>> [kernel_count("llama-3-8b", lv) for lv in LEVELS]        # 14, 11 and 7 per layer, + 3
[451, 355, 227]
>>> s = step("gpt2", "h100-sxm", 1, 1024, "unfused", cuda_graphs=False)
>>> round(s.time_s * 1e6), round(s.parts["host wait"] / s.time_s, 2)
(951, 0.47)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

import numpy as np
from numpy.typing import ArrayLike

from lib import efficiency, hardware, inference, kernels, models, transformer
from lib._validate import choice, flag, scalar_or_array
from lib.dtypes import bytes_per_element
from lib.hardware import Device
from lib.kernels import Kernel
from lib.models import ModelConfig
from lib.tables import Table
from lib.transformer import Op
from lib.units import fmt_bytes, fmt_time

__all__ = ["LEVELS", "PARTS", "FusedKernel", "Step", "kernels_at", "kernel_count", "step",
           "price", "group_ops", "levels_table"]

#: Fusion levels, from the most kernels to the fewest.
LEVELS = ("unfused", "merged GEMMs", "fused elementwise")
#: What a step's calibrated time is made of (keys of :attr:`Step.parts`).
PARTS = inference.CALIBRATED_PARTS


@dataclass(frozen=True)
class FusedKernel:
    """A kernel of a step at some fusion level: the ops it runs, launched ``calls`` times.

    Introduced in chapters/11_decode_kernels.ipynb.
    """

    name: str
    parts: tuple[Op, ...]
    calls: int

    @property
    def flops(self) -> Any:
        return sum(np.asarray(p.kernel.flops, float) for p in self.parts)

    @property
    def bytes(self) -> Any:
        return sum(np.asarray(p.kernel.bytes_moved, float) for p in self.parts)


@dataclass(frozen=True)
class Step:
    """One decode step's kernels at a fusion level and their calibrated time.

    Introduced in chapters/11_decode_kernels.ipynb.

    Attributes
    ----------
    level : str
        One of :data:`LEVELS`.
    model, device : str
    batch, context : float or ndarray
    cuda_graphs : bool
    kernels : tuple of FusedKernel
    n_kernels : int
        Launches per step: the sum of the kernels' ``calls``.
    flops, bytes, bytes_act : float or ndarray
        FLOPs and bytes of the step; the activations' share of the bytes.
    parts : dict
        Seconds of each of :data:`PARTS`; they add up to ``time_s``.
    time_s : float or ndarray
        The calibrated time of the step at this level.
    launch_floor_s : float
        ``n_kernels x host_s``: the host's time to launch the step eagerly.
    """

    level: str
    model: str
    device: str
    batch: Any
    context: Any
    cuda_graphs: bool
    kernels: tuple[FusedKernel, ...]
    n_kernels: int
    flops: Any
    bytes: Any
    bytes_act: Any
    parts: Mapping[str, Any]
    time_s: Any
    launch_floor_s: float


def _less(part: Op, saved: Any) -> Op:
    """``part`` moving ``saved`` fewer activation bytes (an intermediate kept on chip)."""
    k = part.kernel
    smaller = Kernel(k.name, k.flops, np.asarray(k.bytes_moved) - saved, k.bytes_weights,
                     k.bytes_kv, k.exps)
    return replace(part, kernel=smaller)


def _split_gemm(part: Op, widths: dict[str, int], p: transformer.ForwardPass, m: ModelConfig,
                bias: bool, rows: Any, groups: Any) -> list[Op]:
    """A merged GEMM as one GEMM per matrix (:func:`lib.kernels.gemm`)."""
    return [Op(name, kernels.gemm(rows, n, m.d_model, p.act_dtype, p.weight_dtype, bias=bias,
                                  groups=groups).repeat(m.n_layers, name), part.roof, m.n_layers)
            for name, n in widths.items()]


def kernels_at(model: "str | ModelConfig", batch: ArrayLike, context: ArrayLike,
               level: str = "merged GEMMs", *, weight_dtype: str = "bf16",
               kv_dtype: str = "bf16", new_tokens: ArrayLike = 1,
               fused_attention: bool = True) -> tuple[FusedKernel, ...]:
    """The kernels of one forward at ``level`` (see the module docstring), in op order.

    A decode step by default; ``new_tokens`` tokens per sequence (a prefill with
    ``context=0``, a chunk of one after ``context`` tokens) at the same levels. With
    ``fused_attention=False`` the softmax and ``P V`` are kernels of their own and the
    score matrix goes through memory (:func:`lib.kernels.attention`).

    Introduced in chapters/11_decode_kernels.ipynb; ``new_tokens`` and
    ``fused_attention`` in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> ks = kernels_at("llama-3-8b", 1, 1024, "fused elementwise")
    >>> [k.name for k in ks][:5]
    ['embedding', 'residual add + norm', 'QKV + RoPE + KV write', 'attention', 'output projection']
    """
    lv = choice("level", level, LEVELS)
    m = models.get(model)
    p = transformer.forward_pass(m, batch, new_tokens, context, weight_dtype=weight_dtype,
                                 kv_dtype=kv_dtype, fused_attention=fused_attention)
    return group_ops(p, lv)


def group_ops(p: transformer.ForwardPass, level: str,
              op_list: "tuple[Op, ...] | None" = None) -> tuple[FusedKernel, ...]:
    """The ops of ``p`` (or ``op_list``, ops of ``p`` some of which a caller changed) as
    the kernels of fusion level ``level``: :func:`kernels_at` after building ``p``.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> p = transformer.forward_pass("gpt2", 1, 256)
    >>> len(group_ops(p, "fused elementwise")) < len(group_ops(p, "unfused"))
    True
    """
    lv = choice("level", level, LEVELS)
    m = p.model
    parts = {o.name: o for o in (transformer.ops(p) if op_list is None else op_list)}
    calls = {o.name: o.calls for o in parts.values()}
    ab, L = bytes_per_element(p.act_dtype), m.n_layers
    kv_name = "RoPE and KV write" if "RoPE and KV write" in parts else "KV write"
    out: list[FusedKernel] = []
    for name, part in parts.items():
        if calls[name] == 0:                       # a part of the kernel before it
            prev = out[-1]
            out[-1] = replace(prev, parts=prev.parts + (part,))
            continue
        if name == "attention scores QK^T":
            out.append(FusedKernel("attention", (part,), calls[name]))
        elif lv == "unfused" and name == "QKV projection":
            widths = {"Q projection": p.q_width, "K projection": p.kv_width,
                      "V projection": p.kv_width}
            out += [FusedKernel(q.name, (q,), L) for q in
                    _split_gemm(part, widths, p, m, m.qkv_bias, p.tokens, 1)]
        elif lv == "unfused" and name == "MLP up" and m.gated_mlp:
            widths = {"MLP gate": p.d_ff, "MLP up": p.d_ff}
            out += [FusedKernel(q.name, (q,), L) for q in
                    _split_gemm(part, widths, p, m, m.mlp_bias, p.routed, p.experts)]
        elif lv == "fused elementwise" and name == "residual adds":
            continue                               # joins the norm after it
        elif lv == "fused elementwise" and name == "norms":
            # the norm reads the residual stream its add just wrote: kept on chip
            saved = calls["residual adds"] * p.tokens * m.d_model * ab
            out.append(FusedKernel("residual add + norm",
                                   (part, _less(parts["residual adds"], saved)), calls[name]))
        elif lv == "fused elementwise" and name == "QKV projection":
            continue                               # its epilogue applies RoPE and writes K, V
        elif lv == "fused elementwise" and name == kv_name:
            kv = p.tokens * 2 * p.kv_width * ab * L        # K and V out of the GEMM
            rope = parts[name].kernel.bytes_act            # the RoPE kernel's reads and writes
            out.append(FusedKernel("QKV + RoPE + KV write",
                                   (_less(parts["QKV projection"], kv), _less(part, rope)), L))
        elif lv == "fused elementwise" and name == "MLP up":
            continue                               # its epilogue applies the activation
        elif lv == "fused elementwise" and name == "activation":
            inter = p.routed * (m.mlp_matrices - 1) * p.d_ff * ab * L   # gate and up outputs
            out.append(FusedKernel("gate/up + activation",
                                   (_less(parts["MLP up"], inter), _less(part, inter)), L))
        else:
            out.append(FusedKernel(name, (part,), calls[name]))
    return tuple(out)


def kernel_count(model: "str | ModelConfig", level: str = "merged GEMMs") -> int:
    """Kernels one decode step launches at ``level`` (whatever the batch and context).

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> [kernel_count("gpt2", lv) for lv in LEVELS]     # no gate: only Q, K, V split
    [159, 135, 87]
    """
    return sum(k.calls for k in kernels_at(model, 1, 0, level))


def step(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
         context: ArrayLike, level: str = "merged GEMMs", *, cuda_graphs: bool = True,
         weight_dtype: str = "bf16", kv_dtype: str = "bf16", new_tokens: ArrayLike = 1,
         fused_attention: bool = True) -> Step:
    """A decode step's calibrated time at a fusion level, split into :data:`PARTS`.

    Each kernel costs, per launch, ``sum over its parts of max(bytes / (beta eta_beta),
    math at peak / eta) + t_k`` (a decode-attention call its own fixed cost, t_attn), and,
    eagerly launched, at least the host's ``host_s``: :func:`lib.inference.calibrated_parts`,
    the rule of :attr:`lib.inference.Estimate.estimate_s`, which ``"merged GEMMs"``
    reproduces. One device (``tp = 1``); ``batch``, ``context`` and ``new_tokens`` broadcast.

    ``new_tokens > 1`` prices a prefill (``context=0``) or a chunk of one at each level;
    an attention kernel pays the decode-attention call's cost only where it reads a KV cache
    (``new_tokens == 1`` or ``context > 0``), as :func:`lib.inference.forward` charges it.

    Introduced in chapters/11_decode_kernels.ipynb; ``new_tokens`` and
    ``fused_attention`` in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> s = step("llama-3-8b", "h100-sxm", 1, 1024)
    >>> import lib.inference as inf
    >>> bool(np.isclose(s.time_s, inf.decode("llama-3-8b", "h100-sxm", 1, 1024).estimate_s))
    True
    >>> {k: round(v * 1e6) for k, v in s.parts.items()}      # µs
    {'memory': 5141, 'math': 0, 'per-kernel': 961, 'host wait': 0}
    >>> pre = step("llama-3-8b", "h100-sxm", 1, 0, new_tokens=2048)   # a prefill
    >>> bool(np.isclose(pre.time_s, inf.prefill("llama-3-8b", "h100-sxm", 1, 2048).estimate_s))
    True
    """
    m = models.get(model)
    ks = kernels_at(m, batch, context, level, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                    new_tokens=new_tokens, fused_attention=fused_attention)
    return price(ks, m, device, batch, context, level, cuda_graphs=cuda_graphs,
                 weight_dtype=weight_dtype, new_tokens=new_tokens)


def price(ks: "tuple[FusedKernel, ...]", model: "str | ModelConfig", device: "str | Device",
          batch: ArrayLike, context: ArrayLike, level: str, *, cuda_graphs: bool = True,
          weight_dtype: str = "bf16", new_tokens: ArrayLike = 1) -> Step:
    """A :class:`Step` of the kernels ``ks`` (from :func:`kernels_at`, or changed from them).

    What :func:`step` does after building its kernels, for a module that changes a kernel
    first (:mod:`lib.prefill` swaps attention's for a sparse mask's): the one pricing rule,
    :func:`lib.inference.calibrated_parts`, and the totals.

    Introduced in chapters/13_prefill_kernels.ipynb.

    Examples
    --------
    >>> ks = kernels_at("gpt2", 1, 0, new_tokens=512)
    >>> s = price(ks, "gpt2", "h100-sxm", 1, 0, "merged GEMMs", new_tokens=512)
    >>> s.n_kernels == kernel_count("gpt2")
    True
    """
    graphs = flag("cuda_graphs", cuda_graphs)
    dev = hardware.get(device)
    m = models.get(model)
    parts = inference.calibrated_parts([(k.parts, k.calls) for k in ks], dev, weight_dtype,
                                       transformer.activation_dtype_for(weight_dtype),
                                       cuda_graphs=graphs,
                                       reads_cache=inference.reads_cache(new_tokens, context))
    host = efficiency.get(dev).host_s.value
    n = sum(k.calls for k in ks)
    flops = sum(k.flops for k in ks)
    moved = sum(k.bytes for k in ks)
    act = sum(sum(np.asarray(p.kernel.bytes_act, float) for p in k.parts) for k in ks)
    total = sum(np.asarray(v, float) for v in parts.values())
    return Step(choice("level", level, LEVELS), m.name, dev.name, scalar_or_array(np.asarray(
        batch, float)), scalar_or_array(np.asarray(context, float)), graphs, ks, n,
        scalar_or_array(flops), scalar_or_array(moved), scalar_or_array(act), parts,
        scalar_or_array(total), n * host)


def levels_table(model: "str | ModelConfig", device: "str | Device", batch: int,
                 context: int, **kwargs: Any) -> Table:
    """Every fusion level, eager and as a CUDA graph: kernels, bytes and the calibrated time.

    Single values only. Keywords go to :func:`step` (dtypes).

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> print(levels_table("gpt2", "h100-sxm", 1, 1024).rows[0][:2])
    ('unfused', '159')
    """
    rows = []
    for lv in LEVELS:
        eager = step(model, device, batch, context, lv, cuda_graphs=False, **kwargs)
        graph = step(model, device, batch, context, lv, cuda_graphs=True, **kwargs)
        rows.append((lv, str(eager.n_kernels), fmt_bytes(float(eager.bytes)),
                     fmt_bytes(float(eager.bytes_act)), fmt_time(eager.launch_floor_s),
                     fmt_time(float(eager.time_s)), fmt_time(float(graph.time_s))))
    m, dev = models.get(model), hardware.get(device)
    return Table(("level", "kernels", "bytes", "of which activations", "host launches",
                  "eager", "CUDA graph"), rows,
                 title=f"{m.label} on {dev.short_label}, batch {batch}, {context:,} tokens "
                       "cached: one decode step, calibrated estimate")
