"""Split-KV decode attention (Flash-Decoding): thread blocks, waves, busy SMs and the best split.

A decode-attention kernel that gives one thread block to each (sequence, KV head) launches
``B x h_kv`` blocks per layer: 8 for Llama-3-8B at batch 1, on a GPU with 132 streaming
multiprocessors (SMs). The other SMs idle, and a memory-bound kernel run on a few SMs
reaches only their share of the bandwidth. **Split-KV attention** (Flash-Decoding, Dao,
Haziza, Massa and Sizov 2023) cuts each sequence's keys and values into ``s`` chunks, one
block each, and adds a small second kernel that merges the ``s`` partial outputs with
their log-sum-exps. This module models that trade:

* **blocks** per launch: ``B x h_kv x s`` (``grid="kv_head"``, the query heads of a group
  packed into one block, as FlashAttention-2 since its ``seqlenq_ngroups_swapped`` path and
  FlashInfer do), or ``B x h_q x s`` (``grid="query_head"``, FlashAttention 2.0.9);
* **waves** and the **busy fraction**: the blocks run ``ceil(blocks / SMs)`` waves and keep
  ``blocks / (waves x SMs)`` of the SM slots busy -- the wave quantisation of
  :func:`lib.kernels.gemm_waves` (chapter 2), one block per tile;
* **the model's assumption**: a memory-bound kernel's achievable bandwidth is the device's
  sustained bandwidth (:attr:`lib.efficiency.Efficiency.bandwidth`) times the busy
  fraction, so attention's bytes (the fused attention ops of :func:`lib.inference.decode`)
  take ``Q_attn / (beta eta_beta busy)``;
* **the reduction**: each split writes its partial output (``d_h`` FP32 values) and its
  log-sum-exp (one FP32 value) per query head, and the combine kernel reads them back
  (FlashAttention-2's ``out_accum`` and ``softmax_lse_accum``, both ``kFloat``), one more
  kernel per layer at the device's per-kernel cost (:attr:`lib.efficiency.Efficiency.kernel_s`);
* **the best split**: the ``s`` with the shortest total, beside FlashAttention-2's own
  ``num_splits_heuristic`` (:func:`flash_attention2_splits`, a port of its C++).

Its two assumptions: one block per SM at a time, and bandwidth in proportion to the busy
SMs (as if one block alone kept its SM's memory requests in flight). It leaves out, on
purpose, a decode-attention call's fixed cost (the calibrated estimate's
``attention_call_s``): the same for every split, so it moves no choice of ``s``, and read
off a kernel whose short cache kept it below the bandwidth, in part what ``busy`` models
here, so adding both would count that part twice. chapters/11_decode_kernels.ipynb compares it with
Flash-Decoding's published measurements.

Introduced in chapters/11_decode_kernels.ipynb.

Examples
--------
>>> r = split_kv("llama-3-8b", "h100-sxm", batch=1, context=8192)
>>> int(r.blocks), round(r.busy, 3)           # 1 x 8 KV heads on 132 SMs
(8, 0.061)
>>> int(best_splits("llama-3-8b", "h100-sxm", batch=1, context=8192))
33
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import efficiency, hardware, inference, kernels, models
from lib._validate import broadcast, choice, positive, scalar_or_array
from lib.hardware import Device
from lib.models import ModelConfig
from lib.tables import Table
from lib.units import fmt_time
from lib.transformer import ATTENTION_OPS

__all__ = ["GRIDS", "key_tile", "ACCUM_BYTES", "MAX_SPLITS", "sm_count_of", "SplitKV", "split_kv",
           "best_splits", "flash_attention2_splits", "FLASH_DECODING_BENCH", "BENCH_SHAPE",
           "bench_model", "flash_decoding_table"]

#: How a decode-attention kernel lays its blocks out: one per (sequence, KV head), the
#: query heads of a group in the same block, or one per (sequence, query head).
GRIDS = ("kv_head", "query_head")


def key_tile(head_dim: int) -> int:
    """Keys per tile of FlashAttention-2's split-KV kernel: 256 for ``head_dim <= 64``, 128 up
    to 128, 64 above (``block_n`` in ``set_params_splitkv``, csrc/flash_attn/flash_api.cpp at
    00979f57). A split holds whole tiles, so ``ceil(keys / tile)`` splits is the most that helps.

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> key_tile(64), key_tile(128), key_tile(256)
    (256, 128, 64)
    """
    hd = int(positive("head_dim", head_dim, integer=True))
    return 256 if hd <= 64 else (128 if hd <= 128 else 64)

#: Bytes of one partial-output element and of one log-sum-exp: FP32 (``out_accum`` and
#: ``softmax_lse_accum`` are allocated ``at::kFloat`` in ``set_params_splitkv``).
ACCUM_BYTES = 4
#: FlashAttention-2's largest split count (``TORCH_CHECK(params.num_splits <= 128)``).
MAX_SPLITS = 128


def sm_count_of(device: "str | Device", override: int | None = None) -> int:
    """The SMs (compute units) a device's blocks spread over: the catalog's, or ``override``.

    Devices whose vendor publishes no count in the catalog's sources (the B200, L4, L40S,
    the TPUs, the M2 Ultra) raise a ``ValueError`` that says so and how to pass one; the
    model never guesses it.

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> sm_count_of("h100-sxm"), sm_count_of("a100-sxm-80gb"), sm_count_of("b200", override=148)
    (132, 108, 148)
    >>> sm_count_of("l4")
    Traceback (most recent call last):
    ...
    ValueError: device 'l4' publishes no SM count in the catalog (Device.sm_count is None); pass sm_count=<its streaming multiprocessors or compute units> to model its occupancy.
    """
    if override is not None:
        return int(positive("sm_count", override, integer=True))
    dev = hardware.get(device)
    if dev.sm_count is None:
        raise ValueError(f"device {dev.name!r} publishes no SM count in the catalog "
                         "(Device.sm_count is None); pass sm_count=<its streaming "
                         "multiprocessors or compute units> to model its occupancy.")
    return int(dev.sm_count)


@dataclass(frozen=True)
class SplitKV:
    """Decode attention with its KV split ``splits`` ways: one launch per layer, all layers.

    Arrays broadcast over ``batch``, ``context`` and ``splits``.

    Introduced in chapters/11_decode_kernels.ipynb.

    Attributes
    ----------
    model, device, grid : str
    sm_count, n_layers : int
    batch, context, splits : float or ndarray
        The inputs; ``splits`` as asked.
    splits_used : float or ndarray
        ``min(splits, ceil((context + 1) / key_tile(head_dim)))``: a split holds whole key
        tiles.
    blocks, waves : float or ndarray
        Thread blocks per launch, and the waves they run in on ``sm_count`` SMs.
    busy : float or ndarray
        Fraction of the (SM x wave) slots holding a block: the share of the sustained
        bandwidth the kernel reaches, by the model's assumption.
    bandwidth : float
        The sustained bandwidth, byte/s: datasheet x :attr:`lib.efficiency.Efficiency.bandwidth`.
    bytes_attention, bytes_reduce : float or ndarray
        Attention's bytes in the step (K, V, Q and O, all layers; from
        :func:`lib.inference.decode`), and the partials written and read back (0 unsplit).
    attention_time_s : float or ndarray
        ``bytes_attention / (bandwidth x busy)``.
    reduce_time_s : float or ndarray
        ``bytes_reduce / bandwidth`` plus one combine kernel per layer (0 unsplit).
    time_s : float or ndarray
        ``attention_time_s + reduce_time_s``: the attention of one decode step.
    """

    model: str
    device: str
    grid: str
    sm_count: int
    n_layers: int
    batch: Any
    context: Any
    splits: Any
    splits_used: Any
    blocks: Any
    waves: Any
    busy: Any
    bandwidth: float
    bytes_attention: Any
    bytes_reduce: Any
    attention_time_s: Any
    reduce_time_s: Any
    time_s: Any


def split_kv(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
             context: ArrayLike, splits: ArrayLike = 1, *, kv_dtype: str = "bf16",
             grid: str = "kv_head", sm_count: int | None = None) -> SplitKV:
    """One decode step's attention on ``device`` with each sequence's KV cut into ``splits``.

    One device holds every head (no tensor parallelism); :func:`bench_model` shows how to
    model one device's share of a split model.

    Parameters
    ----------
    model, device : str or config
        Catalog names (or a :class:`lib.models.ModelConfig`, :class:`lib.hardware.Device`).
    batch, context : array_like of int
        Sequences, and tokens cached in each (the step attends to ``context + 1`` keys).
    splits : array_like of int >= 1
        KV chunks per (sequence, head); 1 is the unsplit kernel.
    kv_dtype : str
        The KV cache's precision.
    grid : {"kv_head", "query_head"}
        One block per (sequence, KV head) or per (sequence, query head), per split.
    sm_count : int, optional
        Override the catalog's SM count (required where it publishes none).

    Returns
    -------
    SplitKV

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> r = split_kv("llama-3-8b", "h100-sxm", 1, 8192, splits=[1, 16, 33])
    >>> r.blocks.tolist(), r.busy.round(3).tolist()
    ([8.0, 128.0, 264.0], [0.061, 0.97, 1.0])
    >>> (r.time_s * 1e6).round(1).tolist()          # µs for the 32 layers' attention
    [6013.4, 423.2, 417.9]
    """
    m, dev = models.get(model), hardware.get(device)
    g = choice("grid", grid, GRIDS)
    sms = sm_count_of(dev, sm_count)
    b, c, s = broadcast(batch=positive("batch", batch, integer=True),
                        context=positive("context", context, allow_zero=True, integer=True),
                        splits=positive("splits", splits, integer=True))
    est = inference.decode(m, dev, b, c, kv_dtype=kv_dtype)
    q_attn = sum(np.asarray(est.op(n).bytes, float) for n in ATTENTION_OPS)
    keys = np.asarray(m.kv_tokens(c), float) + 1
    used = np.minimum(s, np.ceil(keys / key_tile(m.head_dim)))
    heads = m.n_kv_heads if g == "kv_head" else m.n_heads
    waves = kernels.gemm_waves(b * heads * used, 1, 1, 1, sms)
    eff = efficiency.get(dev)
    bw = dev.memory_bandwidth * eff.bandwidth.value
    split = used > 1
    # each split writes d_h + 1 FP32 values per query head (output, log-sum-exp); the
    # combine kernel reads them back: twice, in every layer
    extra = np.where(split, 2.0 * b * m.n_heads * used * (m.head_dim + 1) * ACCUM_BYTES
                     * m.n_layers, 0.0)
    t_attn = q_attn / (bw * np.asarray(waves.efficiency, float))
    t_red = np.where(split, extra / bw + m.n_layers * eff.kernel_s.value, 0.0)
    v = scalar_or_array
    return SplitKV(m.name, dev.name, g, sms, m.n_layers, v(b), v(c), v(s), v(used),
                   v(np.asarray(waves.tiles, float)), v(np.asarray(waves.waves, float)),
                   v(np.asarray(waves.efficiency, float)), bw, v(q_attn), v(extra), v(t_attn),
                   v(t_red), v(t_attn + t_red))


def best_splits(model: "str | ModelConfig", device: "str | Device", batch: ArrayLike,
                context: ArrayLike, *, max_splits: int = MAX_SPLITS, **kwargs: Any) -> Any:
    """The split count from 1 to ``max_splits`` that makes :func:`split_kv`'s time shortest.

    Ties go to the fewer splits. Keywords as in :func:`split_kv`; broadcasts over
    ``batch`` and ``context``.

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> best_splits("llama-3-8b", "h100-sxm", [1, 16, 64], 8192).tolist()
    [33, 1, 9]
    >>> best_splits("llama-3-8b", "h100-sxm", 1, 100)   # 101 keys: one tile, nothing to split
    1
    """
    top = int(positive("max_splits", max_splits, integer=True))
    b = positive("batch", batch, integer=True)
    c = positive("context", context, allow_zero=True, integer=True)
    b, c = broadcast(batch=b, context=c)
    s = np.arange(1, top + 1).reshape((top,) + (1,) * b.ndim)
    t = np.asarray(split_kv(model, device, b[None], c[None], s, **kwargs).time_s, float)
    # a split beyond the key tiles changes nothing: keep the fewest that reach the minimum
    best = np.argmin(np.round(t, 15), axis=0) + 1
    return best.astype(int) if best.ndim else int(best)


def _fa2_one(blocks: int, slots: int, n_blocks: int, max_splits: int) -> int:
    """num_splits_heuristic of csrc/flash_attn/flash_api.cpp (00979f57), line for line."""
    if blocks >= 0.8 * slots:
        return 1
    max_splits = min(max_splits, slots, n_blocks)

    def eligible(s: int) -> bool:
        return s == 1 or math.ceil(n_blocks / s) != math.ceil(n_blocks / (s - 1))

    eff = [0.0] * max_splits
    best = 0.0
    for s in range(1, max_splits + 1):
        if eligible(s):
            waves = blocks * s / slots
            eff[s - 1] = waves / math.ceil(waves)
            best = max(best, eff[s - 1])
    for s in range(1, max_splits + 1):
        if eligible(s) and eff[s - 1] >= 0.85 * best:
            return s
    return 1


def flash_attention2_splits(blocks: ArrayLike, sm_count: int, keys: ArrayLike,
                            head_dim: int = 128, max_splits: int = MAX_SPLITS) -> Any:
    """The split count FlashAttention-2 chooses for a decode step: its ``num_splits_heuristic``.

    A port of the C++ in ``csrc/flash_attn/flash_api.cpp`` (Dao-AILab/flash-attention at
    00979f57): with ``blocks = batch x heads x query blocks`` and twice the SMs as slots
    ("we're using 128 threads per block"), no split once the blocks fill 80% of the slots;
    otherwise, among split counts that change the number of key tiles per split, the
    smallest whose wave efficiency ``w / ceil(w)`` (``w = blocks x s / slots``) is at least
    85% of the best. Key tiles are 128 keys for ``head_dim <= 128`` (256 for <= 64, 64
    above). Its aim is the SMs' wave efficiency, not time: compare :func:`best_splits`.

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> flash_attention2_splits(48, 54, keys=4096)   # the C++ comment: 48 on 108 slots
    2
    >>> flash_attention2_splits([8, 64, 512], 132, keys=8192).tolist()
    [32, 4, 1]
    """
    sms = int(positive("sm_count", sm_count, integer=True))
    top = int(positive("max_splits", max_splits, integer=True))
    tile = key_tile(head_dim)
    b, k = broadcast(blocks=positive("blocks", blocks, integer=True),
                     keys=positive("keys", keys, integer=True))
    out = np.vectorize(lambda bb, kk: _fa2_one(int(bb), 2 * sms, math.ceil(kk / tile), top),
                       otypes=[float])(b, k)
    return int(out) if out.ndim == 0 else out.astype(int)


# --- Flash-Decoding's published micro-benchmark ------------------------------------------------

#: Flash-Decoding's attention micro-benchmark (Dao, Haziza, Massa and Sizov, "Flash-Decoding
#: for long-context inference", PyTorch blog, 13 October 2023; pytorch/pytorch.github.io
#: _posts/2023-10-13-flash-decoding.md at f18ed032, table "Micro-benchmark of the multi-head
#: attention, run-time in us"): A100, FP16, 16 query heads of 128 and 2 KV heads (CodeLlama-34B
#: on 4 GPUs). Rows: (batch, sequence length, FlashAttention v2.0.9 µs, Flash-Decoding µs).
#: The post does not say which A100; the PyTorch-eager column is left out.
FLASH_DECODING_BENCH = (
    (256, 256, 390.5, 63.4), (128, 512, 366.3, 67.7), (64, 1024, 364.8, 77.7),
    (32, 2048, 352.0, 58.5), (16, 4096, 401.7, 57.0), (8, 8192, 529.2, 56.4),
    (4, 16384, 582.7, 58.2), (2, 32768, 1156.1, 60.3), (1, 65536, 2300.6, 64.4),
    (1, 131072, 4592.2, 106.6))
#: The benchmark's attention shape (query heads, KV heads, head dimension), one layer.
BENCH_SHAPE = (16, 2, 128)


def bench_model() -> ModelConfig:
    """One layer of the attention Flash-Decoding benchmarked: :data:`BENCH_SHAPE` on Llama-2-70B's
    config (the same architecture as CodeLlama-34B; only attention's shape is used).

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> m = bench_model()
    >>> m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim
    (1, 16, 2, 128)
    """
    h, hkv, hd = BENCH_SHAPE
    return dataclasses.replace(models.get("llama-2-70b"), name="flash-decoding-bench",
                               label="Flash-Decoding's benchmark attention", n_layers=1,
                               n_heads=h, n_kv_heads=hkv, head_dim=hd)


def flash_decoding_table(device: "str | Device" = "a100-sxm-80gb") -> Table:
    """Flash-Decoding's micro-benchmark beside this module's model, row by row.

    For each published row: FlashAttention 2.0.9 measured and modelled unsplit, one block
    per (sequence, query head) (``grid="query_head"``, its grid); Flash-Decoding measured
    and modelled at :func:`best_splits`; the two measured and the two modelled speed-ups.
    The sequence length counts every key, so the context is one less.

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> t = flash_decoding_table()
    >>> t.rows[-2][0], t.rows[-2][-2:]
    ('1 x 65,536', ('35.7x', '6.44x'))
    """
    m = bench_model()
    rows = []
    for b, n, fa2, fd in FLASH_DECODING_BENCH:
        one = split_kv(m, device, b, n - 1, 1, kv_dtype="fp16", grid="query_head")
        s = best_splits(m, device, b, n - 1, kv_dtype="fp16")
        best = split_kv(m, device, b, n - 1, s, kv_dtype="fp16")
        rows.append((f"{b} x {n:,}", f"{fa2:g}", fmt_time(one.time_s),
                     f"{one.busy:.0%}", f"{fd:g}", fmt_time(best.time_s), str(s),
                     f"{fa2 / fd:.1f}x", f"{one.time_s / best.time_s:.2f}x"))
    dev = hardware.get(device)
    return Table(("batch x keys", "FA 2.0.9 µs", "model, unsplit", "SMs busy",
                  "Flash-Decoding µs", "model, split", "splits", "measured gain",
                  "model gain"), rows,
                 title=f"Flash-Decoding's micro-benchmark (A100, FP16, 16 query and 2 KV heads "
                       f"of 128) against the occupancy model on the {dev.short_label}")
