"""Scaling out: tensor, pipeline, expert and sequence parallelism, priced by composing lib.

A model too large or too slow for one device is split over several. Each split trades
work per device for communication between devices:

* **Tensor parallelism** over ``tp`` devices (Megatron-LM) splits every layer's heads and
  MLP columns; each device does ``1 / tp`` of the matrix products and reads ``1 / tp`` of
  the weights, and two all-reduces per layer join the partial sums. It is
  :func:`lib.inference.forward` with ``tp``; :func:`tensor_parallel` sweeps ``tp`` and
  splits each step into compute and communication. ``overlap=True`` is an explicit
  assumption: each layer's all-reduces run while the next layer computes, so the step
  costs ``max(compute, communication)`` instead of their sum (every layer is alike, so
  the max per layer summed over layers is the max of the totals).
* **Pipeline parallelism** over ``pp`` stages (GPipe) gives each stage a run of whole
  layers. A stage is priced as :func:`lib.inference.forward` of the model with that many
  layers (:func:`stage_model`), less the ops it does not run: the embedding lives on the
  first stage only, the final norm and the LM head on the last. A batch cut into ``m``
  micro-batches flows through the stages; the schedule's idle time is the **bubble**,
  ``(pp - 1) / (m + pp - 1)`` of the whole when stages are equal and the links free
  (:func:`bubble_fraction`). Between stages one micro-batch's activations cross a link
  (:func:`lib.comm.point_to_point`).
* **Expert parallelism** spreads a mixture of experts' experts over ``ep`` devices; every
  MoE layer sends each token's hidden vector to the devices of its ``top_k`` experts and
  back (two all-to-alls, :func:`lib.comm.all_to_all`): :func:`expert_parallel`.
* **Sequence (context) parallelism** for very long prompts splits the tokens over ``cp``
  devices; ring attention passes each device's block of K and V around the ring,
  ``cp - 1`` steps per layer, hidden when a block's attention takes longer than its
  transfer: :func:`ring_attention`.

Three times, as in :mod:`lib.inference`: ``"estimate"`` (the calibrated estimate,
default), ``"per-op"`` (each op at its roofline) and, for tensor parallelism and
measurements, the floor. A pipeline stage has no floor of its own (the floor is a max
over the whole forward's resources and does not subtract), but a pipeline does: no run
beats the whole model's floor split over its stages, nor one micro-batch's floor through
all of them (:func:`chunked_prefill`, which also prices a prompt cut into chunks that
flow through the stages, as llama.cpp pipelines a prompt over several GPUs).

:func:`sharding_table` lists, for a model and up to ``devices`` devices, every
``(tp, pp)`` split with its memory per device, TTFT, TPOT and throughput against
latency targets. :func:`measurements` reads published scaling measurements
(``lib/data/scaling.json``) and :func:`compare` sets the floor and the estimate beside
them.

Introduced in chapters/14_parallelism.ipynb.

Examples
--------
>>> s = tensor_parallel("llama-3-70b", "h100-sxm", 1, 1, 1024, tps=[2, 4, 8])
>>> (s.time_s * 1e3).round(2).tolist()           # ms per decode step, calibrated
[27.3, 15.86, 10.72]
>>> round(bubble_fraction(4, 4), 3)
0.429
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import capacity, comm, hardware, inference, models, transformer
from lib._validate import choice, flag, positive, scalar_or_array
from lib.dtypes import bytes_per_element
from lib.hardware import Device
from lib.models import ModelConfig
from lib.tables import Table
from lib.units import fmt_bytes, fmt_count, fmt_time

__all__ = ["TIMINGS", "SCHEDULES", "FIRST_STAGE_OPS", "LAST_STAGE_OPS", "bubble_fraction", "stage_layers",
           "stage_model", "TensorParallel", "tensor_parallel", "Stage", "Pipeline", "pipeline",
           "ChunkedPrefill", "chunked_prefill",
           "ExpertParallel", "expert_parallel", "RingAttention", "ring_attention",
           "ShardingRow", "sharding_options", "sharding_table", "METRICS", "SWEEPS", "ScalingRun",
           "measurements", "ScalingCheck", "compare", "DATA"]

#: Pipeline schedules: GPipe's fill and drain per forward, or decode's steady cycle.
SCHEDULES = ("gpipe", "steady")
#: The times a split can be priced at (the floor only where it is well defined).
TIMINGS = ("estimate", "per-op", "floor")
#: Ops only the first stage of a pipeline runs, and only the last.
FIRST_STAGE_OPS = ("embedding",)
LAST_STAGE_OPS = ("final norm", "LM head")
#: What a published scaling measurement reports (:class:`ScalingRun`).
METRICS = ("tokens_per_s_per_seq", "ttft_s", "prompt_tokens_per_s")
#: The series a measurement belongs to: a tensor-parallel or a pipeline-parallel sweep.
SWEEPS = ("tensor", "pipeline")
#: Published scaling measurements (``lib/data/scaling.json``).
DATA = Path(__file__).parent / "data" / "scaling.json"


def bubble_fraction(stages: ArrayLike, micro_batches: ArrayLike) -> Any:
    """GPipe's bubble: the idle fraction of a pipeline of equal stages, ``(p - 1) / (m + p - 1)``.

    ``p`` stages, ``m`` micro-batches, no time on the links (Huang et al. 2019, section
    2.3: the bubble is ``O((K - 1) / (M + K - 1))`` amortised over the micro-steps).

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> bubble_fraction(4, [1, 4, 16]).round(3).tolist()
    [0.75, 0.429, 0.158]
    >>> bubble_fraction(1, 8)
    0.0
    """
    p = positive("stages", stages, integer=True)
    m = positive("micro_batches", micro_batches, integer=True)
    return scalar_or_array((p - 1.0) / (m + p - 1.0))


def stage_layers(n_layers: int, stages: int) -> tuple[int, ...]:
    """Layers of each of ``stages`` pipeline stages: as even as whole layers allow, earlier first.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> stage_layers(80, 3)
    (27, 27, 26)
    >>> stage_layers(32, 40)
    Traceback (most recent call last):
    ...
    ValueError: pp=40 must be <= n_layers=32: each pipeline stage holds at least one whole layer.
    """
    n = int(positive("n_layers", n_layers, integer=True))
    p = int(positive("pp", stages, integer=True))
    if p > n:
        raise ValueError(f"pp={p} must be <= n_layers={n}: each pipeline stage holds at least "
                         "one whole layer.")
    return tuple(int(len(a)) for a in np.array_split(np.arange(n), p))


def stage_model(model: "str | ModelConfig", layers: int) -> ModelConfig:
    """The model with ``layers`` layers: what :func:`lib.inference.forward` prices for one stage.

    Its forward still lists the embedding, the final norm and the LM head;
    :func:`pipeline` removes those a stage does not run.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> stage_model("llama-3-70b", 20).n_layers
    20
    """
    m = models.get(model)
    k = int(positive("layers", layers, integer=True))
    return dataclasses.replace(m, n_layers=k, name=f"{m.name}[{k} layers]")


def _timing(timing: str, allowed: tuple[str, ...] = TIMINGS) -> str:
    return choice("timing", timing, allowed)


def _link(device: Device, link_bandwidth: float | None,
          link_latency: float | None) -> tuple[float, float]:
    return comm.link_of(device, link_bandwidth, link_latency)


# --- tensor parallelism ------------------------------------------------------------------

@dataclass(frozen=True)
class TensorParallel:
    """One forward at several tensor-parallel degrees; every array has ``tps`` as its first axis.

    All quantities are per device unless named otherwise.

    Introduced in chapters/14_parallelism.ipynb.

    Attributes
    ----------
    tps : ndarray
        The degrees ``p``.
    timing : str
        ``"estimate"``, ``"per-op"`` or ``"floor"``.
    overlap : bool
        Whether communication hides behind compute (``max`` instead of sum).
    flops, bytes_weights, bytes_kv, bytes : ndarray
        Per device, per forward.
    kv_heads : ndarray
        KV heads each device holds (replicated when ``p`` exceeds them).
    memory_required : ndarray
        Weights + KV cache per device, bytes; ``fits`` against the capacity.
    compute_s, comm_s, time_s : ndarray
        The forward's compute (all ops), its all-reduces, and the step:
        ``compute + comm`` (or ``max`` with ``overlap``; the floor is already a max).
    comm_bytes : ndarray
        Bytes each device sends in the all-reduces.
    tokens_per_s, tokens_per_s_per_device : ndarray
        The group's throughput, and divided by ``p``.
    speedup, scaling_efficiency : ndarray
        ``time at the first degree / time``, and that over ``p / first degree``.
    """

    model: str
    device: str
    tps: np.ndarray
    timing: str
    overlap: bool
    flops: Any
    bytes_weights: Any
    bytes_kv: Any
    bytes: Any
    kv_heads: np.ndarray
    memory_required: Any
    fits: Any
    compute_s: Any
    comm_s: Any
    comm_bytes: Any
    time_s: Any
    tokens_per_s: Any
    tokens_per_s_per_device: Any
    speedup: Any
    scaling_efficiency: Any


def _split(est: inference.Estimate, timing: str) -> tuple[Any, Any]:
    """(compute, communication) of a forward at ``timing``; the floor's compute is its max."""
    comm_s = np.asarray(est.comm_time_s, float)
    if timing == "estimate":
        return np.asarray(est.estimate_s, float) - comm_s, comm_s
    if timing == "per-op":
        return np.asarray(est.compute_time_s, float), comm_s
    return np.asarray(est.floor_s, float), np.zeros_like(comm_s)


def tensor_parallel(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
                    new_tokens: ArrayLike, cached: ArrayLike = 0, *,
                    tps: ArrayLike = (1, 2, 4, 8), timing: str = "estimate",
                    overlap: bool = False, **kwargs: Any) -> TensorParallel:
    """A forward at each tensor-parallel degree in ``tps``: work, memory and time per device.

    Each degree is :func:`lib.inference.forward` with ``tp=p`` (heads, KV heads, MLP
    columns and vocabulary split; two all-reduces per layer, :mod:`lib.comm`). Keywords
    go to :func:`lib.inference.forward` (``weight_dtype``, ``link_bandwidth``, ...).
    ``batch``, ``new_tokens`` and ``cached`` broadcast; the result's arrays have ``tps``
    as their first axis.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> s = tensor_parallel("llama-3-8b", "h100-sxm", 1, 1, 1024, tps=[1, 8])
    >>> s.kv_heads.tolist(), s.speedup.round(2).tolist()
    ([8, 1], [1.0, 2.38])
    >>> tensor_parallel("llama-3-8b", "h100-sxm", 1, 1, 0, tps=[3])
    Traceback (most recent call last):
    ...
    ValueError: tp=3 must divide n_heads=32 of llama-3-8b (each device holds whole attention heads); try one of 1, 2, 4, 8, 16, 32.
    """
    m, dev = models.get(model), hardware.get(device)
    t = _timing(timing)
    ov = flag("overlap", overlap)
    ps = positive("tps", tps, integer=True).astype(int).reshape(-1)
    ests = [inference.forward(m, dev, batch, new_tokens, cached, tp=int(p), **kwargs)
            for p in ps]
    parts = [_split(e, t) for e in ests]
    comp = np.array([c for c, _ in parts])
    comm_s = np.array([k for _, k in parts])
    total = np.maximum(comp, comm_s) if (ov or t == "floor") else comp + comm_s
    stack = lambda attr: np.array([np.asarray(getattr(e, attr), float) for e in ests])  # noqa: E731
    tokens = stack("tokens")
    first = total[0]
    speed = first / total
    shape = (-1,) + (1,) * (np.ndim(first))
    return TensorParallel(
        model=m.name, device=dev.name, tps=ps, timing=t, overlap=ov, flops=stack("flops"),
        bytes_weights=stack("bytes_weights"), bytes_kv=stack("bytes_kv"), bytes=stack("bytes"),
        kv_heads=np.array([m.kv_heads_per_device(int(p)) for p in ps]),
        memory_required=stack("memory_required"),
        fits=np.array([np.asarray(e.fits) for e in ests]), compute_s=comp, comm_s=comm_s,
        comm_bytes=stack("comm_bytes"), time_s=total, tokens_per_s=tokens / total,
        tokens_per_s_per_device=tokens / total / ps.reshape(shape), speedup=speed,
        scaling_efficiency=speed / (ps.reshape(shape) / ps[0]))


# --- pipeline parallelism ----------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    """One pipeline stage's forward of one micro-batch, per device of its ``tp`` group.

    Introduced in chapters/14_parallelism.ipynb.
    """

    index: int
    layers: int
    ops: tuple[str, ...]
    flops: Any
    bytes: Any
    weight_bytes: float
    memory_required: Any
    compute_s: Any
    comm_s: Any
    time_s: Any


@dataclass(frozen=True)
class Pipeline:
    """A batch through ``pp`` stages of ``tp`` devices each, in ``micro_batches`` (GPipe).

    Introduced in chapters/14_parallelism.ipynb.

    Attributes
    ----------
    stages : tuple of Stage
        Each stage's cost for one micro-batch.
    stage_time_s : float or ndarray
        The slowest stage's time per micro-batch: the pipeline's beat.
    transfer_bytes, transfer_s : float or ndarray
        One micro-batch's activations sent between two stages, and their time.
    latency_s : float or ndarray
        One micro-batch through every stage and link: what one token waits.
    time_s : float or ndarray
        All micro-batches: ``latency + (m - 1) x max(beat, transfer)``.
    bubble_s, bubble_fraction : float or ndarray
        ``time - m x beat``: the slowest stage idle; and that over ``time``.
    compute_s, comm_s : float or ndarray
        Over all micro-batches, the slowest stage's compute and its tensor-parallel
        all-reduces (with ``overlap``, the hidden part is not counted).
    tokens, tokens_per_s, tokens_per_s_per_device : float or ndarray
        Tokens of the whole batch, and their rate for the ``tp x pp`` devices.
    flops_per_device, bytes_per_device : float or ndarray
        The busiest device's FLOPs and bytes over the whole batch.
    memory_per_device : float or ndarray
        The largest stage's weights + KV cache per device.
    fits : bool or ndarray
    """

    model: str
    device: str
    tp: int
    pp: int
    micro_batches: int
    timing: str
    overlap: bool
    stages: tuple[Stage, ...]
    stage_time_s: Any
    transfer_bytes: Any
    transfer_s: Any
    latency_s: Any
    time_s: Any
    bubble_s: Any
    bubble_fraction: Any
    compute_s: Any
    comm_s: Any
    tokens: Any
    tokens_per_s: Any
    tokens_per_s_per_device: Any
    flops_per_device: Any
    bytes_per_device: Any
    memory_per_device: Any
    memory_capacity: float
    fits: Any

    @property
    def devices(self) -> int:
        """``tp x pp``."""
        return self.tp * self.pp

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (stages as a list of dicts)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = ([{g.name: inference._plain(getattr(s, g.name))
                             for g in dataclasses.fields(s)} for s in v]
                           if f.name == "stages" else inference._plain(v))
        out["devices"] = self.devices
        return out


def _stage_params(m: ModelConfig, layers: int, first: bool, last: bool) -> int:
    """Parameters a stage of ``layers`` layers stores (embedding first, norm and head last)."""
    part = stage_model(m, layers).params_breakdown()
    params = part["attention"] + part["mlp"] + 2 * layers * m.norm_params
    if first:
        params += part["embedding"]
    if last:
        params += m.norm_params + (m.vocab_size * m.d_model if m.tied_embeddings
                                   else part["lm_head"])
    return params


def pipeline(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
             new_tokens: ArrayLike, cached: ArrayLike = 0, *, tp: int = 1, pp: int = 1,
             micro_batches: int = 1, timing: str = "estimate", overlap: bool = False,
             schedule: str = "gpipe", link_bandwidth: float | None = None,
             link_latency: float | None = None, **kwargs: Any) -> Pipeline:
    """A forward of ``batch`` sequences over ``pp`` stages of ``tp`` devices, in ``micro_batches``.

    Each stage is :func:`lib.inference.forward` of :func:`stage_model` (its layers) on one
    micro-batch of ``batch / micro_batches`` sequences, less the ops it does not run
    (:data:`FIRST_STAGE_OPS` off all but the first stage, :data:`LAST_STAGE_OPS` off all
    but the last; their calibrated cost is :func:`lib.inference.calibrated_parts` of those
    kernels, their per-op cost their ``time_s``). Between stages, each device sends its
    counterpart the micro-batch's hidden vectors, ``tokens x d x b_a`` bytes
    (:func:`lib.comm.point_to_point`; every device of a ``tp`` group holds them all after
    the all-reduce and sends its copy over its own link). ``schedule`` is one of
    :data:`SCHEDULES`:

    * ``"gpipe"``: every micro-batch through every stage, then the pipeline drains before
      the next forward (GPipe): ``latency + (m - 1) x beat``;
    * ``"steady"``: decode as serving engines run it, the micro-batches cycling through
      the stages step after step with no drain: a micro-batch's next step starts when its
      token leaves the last stage, and each stage serves all ``m`` in turn, so a step
      takes ``max(latency, m x beat)``. The bubble vanishes once ``m x beat`` covers the
      latency (about ``m >= pp`` with equal stages).

    ``timing`` is ``"estimate"`` or ``"per-op"`` (a stage has no floor).

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> p = pipeline("llama-3-70b", "h100-sxm", 8, 1, 1024, pp=4, micro_batches=4)
    >>> [s.layers for s in p.stages], round(p.bubble_fraction, 3)
    ([20, 20, 20, 20], 0.415)
    >>> pipeline("llama-3-70b", "h100-sxm", 8, 1, 1024, pp=4, micro_batches=3)
    Traceback (most recent call last):
    ...
    ValueError: micro_batches=3 must divide batch=8 (each micro-batch holds whole sequences).
    """
    m, dev = models.get(model), hardware.get(device)
    t = _timing(timing, ("estimate", "per-op"))
    ov = flag("overlap", overlap)
    sched = choice("schedule", schedule, SCHEDULES)
    mb = int(positive("micro_batches", micro_batches, integer=True))
    b = positive("batch", batch, integer=True)
    if np.any(b % mb):
        raise ValueError(f"micro_batches={mb} must divide batch={batch!r} (each micro-batch "
                         "holds whole sequences).")
    layers = stage_layers(m.n_layers, pp)
    p = len(layers)
    m.kv_heads_per_device(tp)
    micro = b / mb
    stages = []
    for i, k in enumerate(layers):
        sm = stage_model(m, k)
        est = inference.forward(sm, dev, micro, new_tokens, cached, tp=tp,
                                link_bandwidth=link_bandwidth, link_latency=link_latency,
                                **kwargs)
        drop = (() if i == 0 else FIRST_STAGE_OPS) + (() if i == p - 1 else LAST_STAGE_OPS)
        gone = [o for o in est.ops if o.name in drop]
        comp, comm_s = _split(est, t)
        if gone and t == "estimate":
            kernels = [((transformer.Op(o.name, o.kernel, o.roof, o.calls),), o.calls)
                       for o in gone]
            comp = comp - sum(np.asarray(v, float) for v in inference.calibrated_parts(
                kernels, dev, est.weight_dtype, est.activation_dtype,
                compute_dtype=est.compute_dtype, cuda_graphs=est.cuda_graphs).values())
        elif gone:
            comp = comp - sum(np.asarray(o.time_s, float) for o in gone)
        step = np.maximum(comp, comm_s) if ov else comp + comm_s
        wbytes = (_stage_params(m, k, i == 0, i == p - 1)
                  * bytes_per_element(est.weight_dtype) / tp)
        kv = capacity.kv_cache_bytes(sm, b, np.asarray(cached) + new_tokens, est.kv_dtype, tp)
        stages.append(Stage(
            index=i, layers=k, ops=tuple(o.name for o in est.ops if o.name not in drop),
            flops=scalar_or_array(np.asarray(est.flops) - sum(np.asarray(o.flops) for o in gone)),
            bytes=scalar_or_array(np.asarray(est.bytes) - sum(np.asarray(o.bytes) for o in gone)),
            weight_bytes=float(wbytes), memory_required=scalar_or_array(wbytes + np.asarray(kv)),
            compute_s=scalar_or_array(comp), comm_s=scalar_or_array(comm_s),
            time_s=scalar_or_array(step)))
    times = np.array([np.asarray(s.time_s, float) for s in stages])
    beat = times.max(axis=0)
    slow = times.argmax(axis=0)
    act = transformer.activation_dtype_for(kwargs.get("weight_dtype", "bf16"))
    tbytes = micro * np.asarray(new_tokens) * m.d_model * bytes_per_element(act)
    if p > 1:
        bw, lat = _link(dev, link_bandwidth, link_latency)
        xfer = np.asarray(comm.point_to_point(tbytes, bw, lat).time_s, float)
    else:
        tbytes, xfer = tbytes * 0.0, np.zeros(np.shape(tbytes))
    latency = times.sum(axis=0) + (p - 1) * xfer
    total = (latency + (mb - 1) * np.maximum(beat, xfer) if sched == "gpipe"
             else np.maximum(latency, mb * np.maximum(beat, xfer)))
    bubble = total - mb * beat
    pick = lambda attr: np.choose(slow, [np.asarray(getattr(s, attr), float)  # noqa: E731
                                         * np.ones(np.shape(beat)) for s in stages])
    tokens = b * np.asarray(new_tokens, float)
    mem = np.array([np.asarray(s.memory_required, float) for s in stages]).max(axis=0)
    s_ = scalar_or_array
    return Pipeline(
        model=m.name, device=dev.name, tp=int(tp), pp=p, micro_batches=mb, timing=t,
        overlap=ov, stages=tuple(stages), stage_time_s=s_(beat), transfer_bytes=s_(tbytes),
        transfer_s=s_(xfer), latency_s=s_(latency), time_s=s_(total), bubble_s=s_(bubble),
        bubble_fraction=s_(bubble / total), compute_s=s_(mb * pick("compute_s")),
        comm_s=s_(mb * (pick("time_s") - pick("compute_s"))), tokens=s_(tokens),
        tokens_per_s=s_(tokens / total), tokens_per_s_per_device=s_(tokens / total / (tp * p)),
        flops_per_device=s_(mb * np.array([np.asarray(s.flops, float)
                                           for s in stages]).max(axis=0)),
        bytes_per_device=s_(mb * np.array([np.asarray(s.bytes, float)
                                           for s in stages]).max(axis=0)),
        memory_per_device=s_(mem), memory_capacity=dev.memory_capacity,
        fits=bool(mem <= dev.memory_capacity) if np.ndim(mem) == 0
        else mem <= dev.memory_capacity)


# --- a prompt's chunks through a pipeline, and the pipeline's floor ------------------------

def _finish_times(times: np.ndarray, transfer: np.ndarray) -> np.ndarray:
    """When stage ``s`` finishes micro-batch ``j``, GPipe's forward schedule: ``out[s, j]``.

    ``times[s, j]`` is stage ``s``'s time on micro-batch ``j``; ``transfer[j]`` is micro-batch
    ``j``'s activations on each link between two stages. Every stage and every link serves
    the micro-batches in order, one at a time; a micro-batch starts on a stage once the
    stage is free and its activations have arrived (a permutation flow shop of ``2p - 1``
    machines). With equal times it is GPipe's ``latency + (m - 1) x max(beat, transfer)``.
    """
    p, m = times.shape
    done = np.zeros((p, m))
    sent = np.zeros((p, m))
    for j in range(m):
        for s in range(p):
            ready = 0.0
            if s:
                sent[s, j] = max(done[s - 1, j], sent[s, j - 1] if j else 0.0) + transfer[j]
                ready = sent[s, j]
            done[s, j] = max(ready, done[s, j - 1] if j else 0.0) + times[s, j]
    return done


@dataclass(frozen=True)
class ChunkedPrefill:
    """One prompt prefilled in chunks (micro-batches) through ``pp`` stages of ``tp`` devices.

    Introduced in chapters/14_parallelism.ipynb.

    Attributes
    ----------
    chunks : int
        Micro-batches: ``ceil(prompt_len / chunk)``; the last may be shorter.
    stage_times_s : ndarray
        ``[stage, chunk]``: each stage's time on each chunk (``timing``); a later chunk
        attends to the earlier ones' cache and takes a little longer.
    transfer_s : ndarray
        Each chunk's activations on one link between stages.
    time_s : float
        The whole prompt: the last chunk leaving the last stage (:func:`_finish_times`).
    latency_s : float
        The first chunk through every stage and link.
    bubble_s : float
        ``time_s`` less the busiest stage's work: the time that stage waits.
    floor_work_s, floor_path_s, floor_s : float
        The two lower bounds of :func:`chunked_prefill` and their max.
    tokens_per_s : float
        ``prompt_len / time_s``, what llama.cpp's ``llama-bench`` prints for ``pp N``.
    floor_tokens_per_s : float
        ``prompt_len / floor_s``: no implementation prefills faster.
    """

    model: str
    device: str
    tp: int
    pp: int
    prompt_len: int
    chunk: int
    chunks: int
    timing: str
    stage_times_s: np.ndarray
    transfer_s: np.ndarray
    time_s: float
    latency_s: float
    bubble_s: float
    floor_work_s: float
    floor_path_s: float
    floor_s: float
    tokens_per_s: float
    floor_tokens_per_s: float


def chunked_prefill(model: "str | ModelConfig", device: "str | Device", prompt_len: int,
                    chunk: int, *, tp: int = 1, pp: int = 1, timing: str = "estimate",
                    link_bandwidth: float | None = None, link_latency: float | None = None,
                    **kwargs: Any) -> ChunkedPrefill:
    """Prefill one ``prompt_len``-token prompt in chunks of ``chunk`` tokens over ``pp`` stages.

    This is how llama.cpp pipelines a prompt over several GPUs: the prompt is cut into
    micro-batches of ``chunk`` tokens (its ``n_ubatch``) and each GPU holds a run of whole
    layers; chunk ``j`` attends to the ``j x chunk`` tokens already cached. Each chunk on
    each stage is priced by :func:`pipeline` (so by :func:`lib.inference.forward` of the
    stage's layers), and the chunks flow through the stages in GPipe's schedule
    (:func:`_finish_times`). Keywords go to :func:`lib.inference.forward`
    (``weight_dtype``, ``kv_dtype``, ``fused_attention``, ...); ``timing`` is
    ``"estimate"`` or ``"per-op"``. One prompt, scalars only.

    **The floor.** Let ``R_r(x)`` be the work of ``x`` on one resource ``r`` of a device
    (tensor-core seconds, vector seconds, special-function seconds, compulsory bytes over
    the bandwidth, link bytes over the link bandwidth: the terms whose max is
    :func:`lib.inference.forward`'s ``floor_s``). Every term adds up over a model's layers,
    and over the chunks. Two bounds hold for any implementation and any schedule:

    1. *Work.* Stage ``s`` runs its own devices, so the run lasts at least as long as the
       busiest stage's work on any one resource: ``T >= max_s sum_j R_r(s, j)``. The max over
       ``pp`` stages is at least their mean, and the stages together do the whole model,
       so ``T >= sum_j R_r(model, j) / pp``. The chunks together do at least the work of
       the whole prompt in one forward (the same matmul FLOPs; causal attention over the
       chunks adds up to the prompt's; the weights are read once per chunk instead of
       once; chunks also read the cache): ``sum_j R_r(model, j) >= R_r(prefill)``. Taking
       the worst resource, ``T >= floor(prefill of prompt_len at tp) / pp``:
       ``floor_work_s``.
    2. *Path.* The last chunk goes through every stage in order, and each stage needs at
       least its floor for it: ``T >= sum_s floor(s, last) >= floor(model, last)``, a sum
       of maxima being at least the max of the sums: ``floor_path_s``, the forward of the
       last chunk with ``prompt_len - last`` tokens cached. It is the pipeline's latency
       bound: one micro-batch cannot go through the stages faster than through one device.

    ``floor_s`` is the larger. The floor leaves out the transfers between stages (a link
    can run beside the compute) and prices attention at its least work (fused, the masked
    half skipped) whatever ``fused_attention`` the estimate is given. With ``pp = 1`` it
    is :func:`lib.inference.prefill`'s floor, so a chunked prefill on one device is bounded
    like an unchunked one.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> c = chunked_prefill("llama-2-7b", "a100-sxm-80gb", 2048, 512, pp=8)
    >>> c.chunks, round(c.floor_work_s * 1e3, 2), round(c.floor_path_s * 1e3, 2)
    (4, 11.07, 22.8)
    >>> round(c.floor_s * 1e3, 2), round(c.time_s * 1e3, 1)
    (22.8, 46.8)
    >>> chunked_prefill("llama-2-7b", "a100-sxm-80gb", 2048, 512, pp=64)
    Traceback (most recent call last):
    ...
    ValueError: pp=64 must be <= n_layers=32: each pipeline stage holds at least one whole layer.
    """
    m, dev = models.get(model), hardware.get(device)
    t = _timing(timing, ("estimate", "per-op"))
    n = int(positive("prompt_len", prompt_len, integer=True))
    c = int(positive("chunk", chunk, integer=True))
    k = -(-n // c)
    new = np.array([c] * (k - 1) + [n - c * (k - 1)])
    cached = c * np.arange(k)
    pl = pipeline(m, dev, 1, new, cached, tp=tp, pp=pp, timing=t,
                  link_bandwidth=link_bandwidth, link_latency=link_latency, **kwargs)
    times = np.array([np.asarray(s.time_s, float) * np.ones(k) for s in pl.stages])
    xfer = np.asarray(pl.transfer_s, float) * np.ones(k)
    done = _finish_times(times, xfer)
    total = float(done[-1, -1])
    floor_kw = {key: v for key, v in kwargs.items() if key in ("weight_dtype", "kv_dtype",
                                                                "compute_dtype")}
    link = dict(link_bandwidth=link_bandwidth, link_latency=link_latency)
    work = float(inference.prefill(m, dev, 1, n, tp=tp, **link, **floor_kw).floor_s) / pl.pp
    path = float(inference.forward(m, dev, 1, int(new[-1]), int(cached[-1]), tp=tp, **link,
                                   **floor_kw).floor_s)
    floor = max(work, path)
    return ChunkedPrefill(
        model=m.name, device=dev.name, tp=int(tp), pp=pl.pp, prompt_len=n, chunk=c, chunks=k,
        timing=t, stage_times_s=times, transfer_s=xfer, time_s=total,
        latency_s=float(times[:, 0].sum() + (pl.pp - 1) * xfer[0]),
        bubble_s=total - float(times.sum(axis=1).max()), floor_work_s=work,
        floor_path_s=path, floor_s=floor, tokens_per_s=n / total,
        floor_tokens_per_s=n / floor)


# --- expert parallelism ------------------------------------------------------------------

@dataclass(frozen=True)
class ExpertParallel:
    """A mixture of experts' two all-to-alls per MoE layer, per device.

    Introduced in chapters/14_parallelism.ipynb.
    """

    model: str
    ep: int
    experts_per_device: float
    tokens_per_device: Any
    dispatch_bytes: Any
    bytes_per_layer: Any
    time_per_layer_s: Any
    bytes_s: Any
    time_s: Any


def expert_parallel(model: "str | ModelConfig", device: "str | Device", tokens: ArrayLike,
                    ep: int, *, act_dtype: str = "bf16", link_bandwidth: float | None = None,
                    link_latency: float | None = None) -> ExpertParallel:
    """Dispatch and combine of ``tokens`` over ``ep`` devices holding ``n_experts / ep`` experts each.

    The tokens are spread evenly over the devices (their attention runs data-parallel).
    Each token's hidden vector goes to the device of each of its ``top_k`` experts:
    a device holds ``tokens / ep x top_k x d x b_a`` bytes to send, of which
    ``(ep - 1) / ep`` leave it when the router spreads tokens uniformly
    (:func:`lib.comm.all_to_all`). The combine sends the results back: the same volume
    again. ``bytes_s`` and ``time_s`` are over all layers (every layer of the catalog's
    MoE models is a MoE layer). A skewed router sends more to its favourite experts:
    the busiest device then waits longer than this.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> e = expert_parallel("mixtral-8x7b", "h100-sxm", 4096, 8)
    >>> e.experts_per_device, e.dispatch_bytes / 1e6       # MB per device per all-to-all
    (1.0, 7.340032)
    >>> expert_parallel("mixtral-8x7b", "h100-sxm", 4096, 3)
    Traceback (most recent call last):
    ...
    ValueError: ep=3 must divide n_experts=8 of mixtral-8x7b (each device holds whole experts).
    """
    m, dev = models.get(model), hardware.get(device)
    n = positive("tokens", tokens, integer=True)
    e = int(positive("ep", ep, integer=True))
    if not m.is_moe:
        raise ValueError(f"model={m.name!r} is dense: expert parallelism needs a mixture of "
                         "experts (e.g. mixtral-8x7b).")
    if m.n_experts % e:
        raise ValueError(f"ep={e} must divide n_experts={m.n_experts} of {m.name} (each device "
                         "holds whole experts).")
    bw, lat = _link(dev, link_bandwidth, link_latency) if e > 1 else (1.0, 0.0)
    held = n / e * m.top_k * m.d_model * bytes_per_element(act_dtype)
    one = comm.all_to_all(held, e, bw, lat)
    per_layer = 2 * np.asarray(one.bytes_sent)
    t_layer = 2 * np.asarray(one.time_s)
    s_ = scalar_or_array
    return ExpertParallel(m.name, e, m.n_experts / e, s_(n / e), s_(np.asarray(one.bytes_sent)),
                          s_(per_layer), s_(t_layer), s_(m.n_layers * per_layer),
                          s_(m.n_layers * t_layer))


# --- sequence (context) parallelism: ring attention ---------------------------------------

@dataclass(frozen=True)
class RingAttention:
    """Ring attention over ``cp`` devices for one prompt, per device and per layer.

    Introduced in chapters/14_parallelism.ipynb.
    """

    model: str
    cp: int
    block_tokens: Any
    block_bytes: Any
    steps: int
    transfer_s: Any
    block_flops: Any
    block_compute_s: Any
    hidden: Any
    exposed_s: Any


def ring_attention(model: "str | ModelConfig", device: "str | Device", prompt_len: ArrayLike,
                   cp: int, *, batch: ArrayLike = 1, kv_dtype: str = "bf16",
                   link_bandwidth: float | None = None,
                   link_latency: float | None = None) -> RingAttention:
    """Ring attention (Liu et al. 2023): ``prompt_len`` tokens split into ``cp`` blocks on a ring.

    Each device holds ``P / cp`` tokens' queries and their K and V. At each of the
    ``cp - 1`` steps of a layer it sends its current K and V block to the next device
    (:func:`lib.comm.point_to_point`, ``batch x P / cp`` tokens of
    :meth:`lib.models.ModelConfig.kv_bytes_per_token` for one layer) while it computes
    attention of its queries against the block it holds (both matmuls of
    :func:`lib.transformer.attention_flops_per_token`, every pair counted: the causal mask
    leaves some blocks half or wholly empty, which a balanced ordering evens out). The
    transfer is hidden when ``block_compute_s >= transfer_s``; the compute time here is
    at the dense peak of the activations' precision, the fastest it can be, so ``hidden``
    is the generous reading.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> r = ring_attention("llama-3-8b", "h100-sxm", 131072, 8)
    >>> r.block_tokens, r.block_bytes / 1e6, r.steps, bool(r.hidden)
    (16384.0, 67.108864, 7, True)
    """
    m, dev = models.get(model), hardware.get(device)
    n = positive("prompt_len", prompt_len, integer=True)
    c = int(positive("cp", cp, integer=True))
    b = positive("batch", batch, integer=True)
    block = n / c
    kv_layer = m.kv_bytes_per_token(kv_dtype) / m.n_layers
    nbytes = b * block * kv_layer
    bw, lat = _link(dev, link_bandwidth, link_latency) if c > 1 else (1.0, 0.0)
    xfer = np.asarray(comm.point_to_point(nbytes, bw, lat).time_s, float) if c > 1 else (
        np.zeros(np.shape(nbytes)))
    flops = b * block * np.asarray(transformer.attention_flops_per_token(
        m.without_sliding_window(), block), float) / m.n_layers
    t = flops / dev.peak(transformer.activation_dtype_for("bf16"))
    s_ = scalar_or_array
    return RingAttention(m.name, c, s_(block), s_(nbytes), c - 1, s_(xfer), s_(flops), s_(t),
                         s_(t >= xfer), s_((c - 1) * np.maximum(xfer - t, 0.0)))


# --- which split: the sharding table -----------------------------------------------------

@dataclass(frozen=True)
class ShardingRow:
    """One ``(tp, pp)`` split of a model: memory, TTFT, TPOT and throughput against targets.

    Introduced in chapters/14_parallelism.ipynb.
    """

    tp: int
    pp: int
    devices: int
    weights_per_device: float
    memory_per_device: float
    fits: bool
    ttft_s: float
    tpot_s: float
    tokens_per_s: float
    tokens_per_s_per_device: float
    meets: bool
    note: str


def sharding_options(model: "str | ModelConfig", device: "str | Device", devices: int = 8, *,
                     batch: int = 1, prompt_len: int = 1024, output_len: int = 256,
                     ttft_target_s: float = 1.0, tpot_target_s: float = 0.03,
                     timing: str = "estimate", overlap: bool = False,
                     **kwargs: Any) -> list[ShardingRow]:
    """Every ``(tp, pp)`` split on up to ``devices`` devices, priced for one request shape.

    ``tp`` runs over the divisors of the heads that the KV heads allow
    (:meth:`lib.models.ModelConfig.kv_heads_per_device`), ``pp`` over powers of two up to
    the layers, with ``tp x pp <= devices``. TTFT is the prefill of ``batch`` prompts of
    ``prompt_len`` as one micro-batch (:func:`pipeline`'s ``latency_s``); TPOT is a
    decode step at ``prompt_len + output_len / 2`` tokens cached, the batch cut into
    ``min(pp, batch)`` micro-batches cycling through the stages (``time_s`` of the
    ``"steady"`` schedule). Memory counts the weights and the
    cache of ``prompt_len + output_len`` tokens. A split meets the targets when it fits,
    its TTFT is within ``ttft_target_s`` and its TPOT within ``tpot_target_s``. Rows come
    ordered by devices, then ``pp``.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> rows = sharding_options("llama-3-70b", "h100-sxm", 8, batch=16)
    >>> [(r.tp, r.pp) for r in rows if r.meets]
    [(8, 1)]
    """
    m, dev = models.get(model), hardware.get(device)
    n = int(positive("devices", devices, integer=True))
    b = int(positive("batch", batch, integer=True))
    ttft_t = float(positive("ttft_target_s", ttft_target_s))
    tpot_t = float(positive("tpot_target_s", tpot_target_s))
    total = int(prompt_len) + int(output_len)
    rows = []
    for d in range(1, n + 1):
        for pp in (1, 2, 4, 8, 16, 32, 64):
            if d % pp or pp > m.n_layers:
                continue
            tp = d // pp
            try:
                m.kv_heads_per_device(tp)
                if m.d_ff % tp:
                    continue
            except ValueError:
                continue
            mb = max(k for k in range(1, min(pp, b) + 1) if b % k == 0)
            pre = pipeline(m, dev, b, prompt_len, 0, tp=tp, pp=pp, timing=timing,
                           overlap=overlap, **kwargs)
            dec = pipeline(m, dev, b, 1, int(prompt_len) + int(output_len) // 2, tp=tp, pp=pp,
                           micro_batches=mb, timing=timing, overlap=overlap,
                           schedule="steady", **kwargs)
            full = pipeline(m, dev, b, 1, total - 1, tp=tp, pp=pp, micro_batches=mb,
                            timing=timing, **kwargs)
            wmax = max(s.weight_bytes for s in full.stages)
            mem = float(full.memory_per_device)
            fits = mem <= dev.memory_capacity
            ttft, tpot = float(pre.latency_s), float(dec.time_s)
            why = ("does not fit" if not fits else "TTFT too long" if ttft > ttft_t
                   else "TPOT too long" if tpot > tpot_t else "meets both")
            rows.append(ShardingRow(tp, pp, d, wmax, mem, fits, ttft, tpot, b / tpot,
                                    b / tpot / d, fits and ttft <= ttft_t and tpot <= tpot_t,
                                    why))
    return rows


def sharding_table(model: "str | ModelConfig", device: "str | Device", devices: int = 8,
                   **kwargs: Any) -> Table:
    """:func:`sharding_options` as a table, the cheapest split meeting the targets starred.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> t = sharding_table("llama-3-70b", "h100-sxm", 4, batch=16)
    >>> [line.split()[:3] for line in str(t).splitlines()[3:5]]
    [['1', '1', '1'], ['2', '1', '2']]
    """
    rows = sharding_options(model, device, devices, **kwargs)
    best = min((r.devices for r in rows if r.meets), default=None)
    cells = [(str(r.tp), str(r.pp), str(r.devices), fmt_bytes(r.memory_per_device),
              fmt_time(r.ttft_s), fmt_time(r.tpot_s), fmt_count(r.tokens_per_s_per_device),
              r.note + (" *" if r.meets and r.devices == best and r.pp == min(
                  x.pp for x in rows if x.meets and x.devices == best) else ""))
             for r in rows]
    m, dev = models.get(model), hardware.get(device)
    targets = {k: kwargs.get(k, v) for k, v in (("batch", 1), ("prompt_len", 1024),
                                                ("output_len", 256), ("ttft_target_s", 1.0),
                                                ("tpot_target_s", 0.03))}
    title = (f"{m.name} on up to {devices} x {dev.name}: batch {targets['batch']}, prompt "
             f"{targets['prompt_len']}, {targets['output_len']} out; targets TTFT <= "
             f"{fmt_time(targets['ttft_target_s'])}, TPOT <= {fmt_time(targets['tpot_target_s'])}")
    return Table(("tp", "pp", "GPUs", "memory/GPU", "TTFT", "TPOT", "tok/s/GPU", "verdict"),
                 cells, (">",) * 7 + ("<",), title=title,
                 footer=(f"memory: weights + KV cache of the largest stage, of "
                         f"{fmt_bytes(dev.memory_capacity)}; * the fewest GPUs that meet "
                         "both targets",))


# --- published scaling measurements ------------------------------------------------------

@dataclass(frozen=True)
class ScalingRun:
    """A published measurement at some number of devices (``lib/data/scaling.json``).

    ``metric`` is one of :data:`METRICS`: ``"tokens_per_s_per_seq"`` (decode at batch 1:
    1 / TPOT), ``"ttft_s"`` (a prefill's time to first token) or ``"prompt_tokens_per_s"``
    (a prefill's prompt tokens over its time, as ``llama-bench`` prints for ``pp N``). The
    devices are ``tp`` (tensor-parallel, default all of them) times ``pp`` (pipeline stages,
    default 1). A prompt pipelined in chunks of ``ubatch`` tokens (llama.cpp's ``n_ubatch``;
    0: the whole prompt at once) is priced by :func:`chunked_prefill`. ``fused_attention``
    and ``link_bandwidth`` (byte/s per direction; ``None``: the device's link) are the
    engine's and the machine's, for the estimate. ``sweep`` names the series a run belongs
    to (``"tensor"`` or ``"pipeline"``). ``conditions`` says how unstated details were
    settled.

    Introduced in chapters/14_parallelism.ipynb.
    """

    key: str
    model: str
    device: str
    devices: int
    weight_dtype: str
    kv_dtype: str
    phase: str
    batch: int
    prompt_tokens: int
    output_tokens: int
    metric: str
    value: float
    framework: str
    conditions: str
    source: dict[str, str]
    tp: int = 0
    pp: int = 1
    ubatch: int = 0
    fused_attention: bool = True
    link_bandwidth: float | None = None
    sweep: str = "tensor"

    def __post_init__(self) -> None:
        choice("metric", self.metric, METRICS)
        choice("sweep", self.sweep, SWEEPS)
        if not self.tp:
            object.__setattr__(self, "tp", self.devices // self.pp)
        if self.tp * self.pp != self.devices:
            raise ValueError(f"{self.key}: tp={self.tp} x pp={self.pp} must equal "
                             f"devices={self.devices}.")

    @property
    def measured_s(self) -> float:
        """The measurement as a time: the TTFT, seconds per decode step, or the prefill's time."""
        if self.metric == "ttft_s":
            return self.value
        if self.metric == "prompt_tokens_per_s":
            return self.batch * self.prompt_tokens / self.value
        return 1.0 / self.value


def measurements() -> list[ScalingRun]:
    """The published scaling measurements, in file order.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> runs = measurements()
    >>> sorted({r.model for r in runs})
    ['llama-2-70b', 'llama-2-7b', 'llama-3-70b', 'llama-3-8b']
    >>> sorted({(r.sweep, r.tp, r.pp) for r in runs if r.pp > 1})
    [('pipeline', 1, 8)]
    """
    rows = json.loads(DATA.read_text())["runs"]
    fields = {f.name for f in dataclasses.fields(ScalingRun)}
    return [ScalingRun(**{k: v for k, v in r.items() if k in fields}) for r in rows]


@dataclass(frozen=True)
class ScalingCheck:
    """A measurement beside the floor and the calibrated estimate at its device count.

    Introduced in chapters/14_parallelism.ipynb.
    """

    run: ScalingRun
    measured_s: float
    floor_s: float
    estimate_s: float

    @property
    def floor_ok(self) -> bool:
        """The floor is no slower than the measurement."""
        return self.floor_s <= self.measured_s

    @property
    def error(self) -> float:
        """Calibrated estimate over the measurement, minus 1 (positive: the model is slower)."""
        return self.estimate_s / self.measured_s - 1.0


def compare(runs: "list[ScalingRun] | None" = None) -> list[ScalingCheck]:
    """Each measurement's floor and calibrated estimate, at its own ``tp`` and ``pp``.

    A decode run (batch 1, ``prompt_tokens`` prompt, ``output_tokens`` generated) is priced
    as one step at the mean context ``prompt + output / 2``; a TTFT as the prefill; a
    ``"prompt_tokens_per_s"`` run as :func:`chunked_prefill` of its prompt in chunks of
    ``ubatch`` tokens over its ``pp`` stages, whose floor is derived there. Nothing is
    tuned to these numbers.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> all(c.floor_ok for c in compare())
    True
    """
    out = []
    for r in measurements() if runs is None else runs:
        kw = dict(weight_dtype=r.weight_dtype, kv_dtype=r.kv_dtype, tp=r.tp)
        if r.metric == "prompt_tokens_per_s":
            if r.batch != 1:
                raise ValueError(f"{r.key}: a prompt_tokens_per_s run is one prompt "
                                 f"(batch=1), not batch={r.batch}.")
            cp = chunked_prefill(r.model, r.device, r.prompt_tokens,
                                 r.ubatch or r.prompt_tokens, pp=r.pp,
                                 fused_attention=r.fused_attention,
                                 link_bandwidth=r.link_bandwidth, **kw)
            out.append(ScalingCheck(r, r.measured_s, cp.floor_s, cp.time_s))
            continue
        if r.pp > 1:
            raise ValueError(f"{r.key}: pp={r.pp} is priced for metric='prompt_tokens_per_s' "
                             f"only, not {r.metric!r}.")
        if r.metric == "ttft_s":
            est = inference.prefill(r.model, r.device, r.batch, r.prompt_tokens, **kw)
        else:
            est = inference.decode(r.model, r.device, r.batch,
                                   r.prompt_tokens + r.output_tokens // 2, **kw)
        out.append(ScalingCheck(r, r.measured_s, float(est.floor_s), float(est.estimate_s)))
    return out
