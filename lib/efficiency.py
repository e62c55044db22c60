"""What real kernels achieve: the factors behind the calibrated estimate.

The roofline charges every kernel its datasheet peaks, and the book's per-op time adds
those charges up. Real kernels reach a fraction of each peak, and every kernel costs a
few microseconds however little it does. :class:`Efficiency` holds, for one device, the
evidence for both, each factor with its provenance (:class:`lib.hardware.Provenance`):

* ``bandwidth``: the fraction of the datasheet memory bandwidth a streaming kernel
  sustains (STREAM-like triad or copy, or the best decode-attention kernel where no
  STREAM run is published);
* ``matmul`` and ``matmul_fp8``: the fraction of the dense peak the best large matrix
  product reaches (MAMF: a shape search over ``torch.matmul``);
* ``matmul_shapes``: the fraction of that best shape's speed a model's own layer shapes
  reach (MAMF's author: a sweep at ``N = K = 4096`` finds 80-90% of it), common to every
  device;
* ``attention``: the fraction of the peak a fused attention kernel reaches
  (FlashAttention-2 and -3);
* ``kernel_s``: the time one kernel costs back to back when a step is replayed as a
  CUDA graph (gpu-benches' tiny kernels, whose data stay in the L2 cache), charged once per
  launch of a kernel that works on activations;
* ``streaming_kernel_s``: the same fixed cost for a kernel that streams its data from DRAM
  (a matrix product reading weights): the intercept of a straight line through the times of
  the same benchmark's kernels far larger than the L2 cache, ``t = t0 + V / b``
  (:func:`streaming_fit`); it adds the memory pipeline's filling and draining to the launch;
* ``host_s``: the host's time to launch one kernel from eager PyTorch, which the GPU waits
  for when its kernels are shorter (Meta's trace analysis: 5-20 µs);
* ``attention_call_s``: the fixed cost of one decode-attention call, what keeps it far
  below the bandwidth at short contexts (read off FlashInfer's measurements);
* ``weight_only``: how efficiently a dequantising kernel streams int4 weights, relative to
  a BF16 one (Marlin's comparison of int4 kernels at batch 1).

Every factor comes from a microbenchmark, a vendor document or a paper, never from the
end-to-end runs of :mod:`lib.runs` that the calibrated estimate is compared with. Where a
device has no published evidence, the factor is ``estimated`` and its note says from
what. :func:`lib.inference.forward` applies them (``estimate_s``):

    estimate = sum over kernels of [ max(F / (pi * eta_c), Q / (beta * eta_bw)) + t_fixed ]
               (+ the host's launches where they are slower, without CUDA graphs)
               + the tensor-parallel all-reduces (lib.comm, already latency-aware)

with ``eta_c`` the matmul factor times ``matmul_shapes`` for a layer's matrix products (the
attention factor for attention's), and ``t_fixed`` the streaming kernel's cost for a matrix
product that reads weights, the decode-attention call's for one that reads a KV cache, and
``kernel_s`` for the rest.

Introduced in chapters/08_model_vs_reality.ipynb.

Examples
--------
>>> e = get("h100-sxm")
>>> e.bandwidth.value, e.matmul.value, e.bandwidth.provenance.kind
(0.88, 0.803, 'derived')
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np

from lib import hardware
from lib.hardware import Provenance, Source
from lib.tables import Table

__all__ = ["Factor", "Efficiency", "EFFICIENCIES", "get", "WEIGHT_ONLY", "TABLE_FACTORS", "table",
           "common_table", "STREAMING_RUNS", "streaming_fit"]

_READ = "2026-11-30"


@dataclass(frozen=True)
class Factor:
    """One calibration factor: its value and where it comes from."""

    value: float
    provenance: Provenance

    def __post_init__(self) -> None:
        if not self.value > 0:
            raise ValueError(f"value={self.value!r} of a factor must be > 0.")


def _gb(path: str, commit: str, where: str) -> Source:
    return Source(f"https://github.com/te42kyfo/gpu-benches/blob/{commit}/{path}", where, _READ,
                  "ernst_gpu_benches")


_MAMF = Source(
    "https://github.com/stas00/ml-engineering/blob/744d01e18b79512572f64a6bbd8b5f4a725203a7/"
    "compute/accelerator/README.md#maximum-achievable-matmul-flops-comparison-table",
    "'Maximum Achievable Matmul FLOPS comparison table', BF16 and FP8 rows: MAMF / Theory / "
    "Efficiency", _READ, "stas_ml_engineering")
_FLASHINFER = Source(
    "https://github.com/flashinfer-ai/flashinfer-ai.github.io/blob/"
    "13d192bdc89ca7dbb90344207e783607d985b5db/_posts/2024-01-03-introduce-flashinfer.md",
    "'Accelerating Self-Attentions for LLM Serving with FlashInfer', Figures 5 and 6: GPU "
    "memory bandwidth utilization of decode attention, read off the plots (within 3 points)",
    _READ, "flashinfer_blog_2024")
_SMALL_KERNELS = _gb(
    "gpu-small-kernels", "c35574e6",
    "gpu-small-kernels: 10000 back-to-back SCALE kernels, plain stream and -graph; at the "
    "smallest size (65,536 bytes) A100_80 49 GB/s and H200 52 GB/s as a graph, 1.3 µs per "
    "kernel; L40 70 GB/s, 0.9 µs (files a100_80_graph.txt at 11f5daa3, h200_graph.txt, "
    "l40_graph.txt)")
_STREAMING = _gb(
    "gpu-small-kernels", "c35574e6",
    "gpu-small-kernels, CUDA graph: back-to-back SCALE kernels (read one array of doubles, "
    "write another) of growing size; the rows whose two arrays are at least four times the L2 "
    "cache, the best block size's GB/s (files a100_80_graph.txt, h200_graph.txt, "
    "a40_graph.txt)")

#: gpu-small-kernels' streaming kernels as a CUDA graph, beyond the L2 cache: for each file,
#: (doubles per array, the best block size's bandwidth in GB/s as printed). Each kernel reads
#: one array and writes the other: 16 bytes per double. Every row at least four times the L2
#: cache, thinned to eight evenly spaced (the other rows lie on the same line).
STREAMING_RUNS: Mapping[str, tuple[tuple[int, int], ...]] = MappingProxyType({
    "a100_80": ((10494834, 1694), (13220466, 1706), (17986297, 1717), (22657553, 1724),
                (28541990, 1731), (35954686, 1735), (48915950, 1740), (61620009, 1742)),
    "h200": ((12698350, 3316), (16993255, 3341), (21453592, 3357), (28709743, 3372),
             (38420109, 3383), (51414768, 3391), (64909958, 3397), (86864163, 3401)),
    "a40": ((1558613, 628), (2958705, 637), (5616497, 643), (10661781, 648),
            (19093621, 651), (36245386, 652), (68804555, 653), (130611580, 654)),
})


def streaming_fit(rows: "Sequence[tuple[int, float]]") -> tuple[float, float]:
    """The fixed cost and the bandwidth of a streaming kernel: the least-squares line
    ``t = t0 + V / b`` through ``rows`` of (doubles per array, GB/s), each kernel moving
    ``V = 16`` bytes per double (one read, one write). Returns ``(t0, b)`` in seconds and
    byte/s.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> t0, b = streaming_fit(STREAMING_RUNS["a100_80"])
    >>> round(t0 * 1e6, 2), round(b / 1e9)
    (3.33, 1753)
    """
    volume = np.array([16.0 * n for n, _ in rows])
    seconds = volume / np.array([gbs * 1e9 for _, gbs in rows])
    (t0, inverse_b), *_ = np.linalg.lstsq(np.vstack([np.ones_like(volume), volume]).T,
                                          seconds, rcond=None)
    return float(t0), float(1.0 / inverse_b)


_HTA = Source(
    "https://github.com/facebookresearch/HolisticTraceAnalysis/blob/"
    "0c2146a8d003629a67f225528969752e1f0656aa/docs/source/features/cuda_kernel_launch_stats.rst",
    "'Short GPU kernels': 'Usually, the launch time on the CPU side is between 5-20 "
    "microseconds. In some cases the GPU execution time is lower than the launch time itself.'",
    _READ, "hta_kernel_launch_stats")
_MARLIN = Source(
    "https://github.com/IST-DASLab/marlin/blob/2f6d7c10e124b3c5fa29ff8d77d568bd7af3274c/"
    "README.md",
    "README and assets/peak.png (16bit x 4bit, group 128, 72k x 18k, A10), read off at batch "
    "1: ideal 3.87x over FP16; PyTorch's own int4 kernel 3.59x, exllamav2 3.78x, AWQ 3.37x, "
    "Marlin 3.87x", _READ, "frantar2024marlin")
_FA2 = Source("https://arxiv.org/abs/2307.08691",
              "FlashAttention-2, Section 1: '230 TFLOPs/s, 73% of the theoretical maximum "
              "TFLOPs/s on A100 GPUs'", _READ, "dao2023flashattention2")
_FA3 = Source("https://arxiv.org/abs/2407.08608v1",
              "FlashAttention-3 (arXiv v1), abstract: 'FP16 reaching up to 740 TFLOPs/s (75% "
              "utilization)' on H100", _READ, "shah2024flashattention3")


def _m(value: float, source: Source, note: str = "") -> Factor:
    return Factor(value, Provenance("measured", source, note))


def _d(value: float, source: Source, note: str) -> Factor:
    return Factor(value, Provenance("derived", source, note))


def _e(value: float, source: Source, note: str) -> Factor:
    return Factor(value, Provenance("estimated", source, note))


# --- the evidence, factor by factor -----------------------------------------------------------

_BW_A100_40 = _m(0.884, _gb("gpu-stream/a100_40.txt", "a7dc559c",
                            "gpu-stream, A100 40 GB: triad 1375 GB/s (blockSize 704)"),
                 "triad 1375 GB/s of the datasheet's 1555 GB/s")
_BW_A100_80 = _m(0.863, _gb("gpu-stream/a100_80.txt", "a7dc559c",
                            "gpu-stream, A100 80 GB: triad 1759 GB/s (blockSize 1024)"),
                 "triad 1759 GB/s of the datasheet's 2039 GB/s")
_BW_H100_PCIE = _m(0.916, _gb("gpu-stream/h100_pcie.txt", "a7dc559c",
                              "gpu-stream, H100 PCIe: triad 1832 GB/s (blockSize 1024)"),
                   "triad 1832 GB/s of the datasheet's 2000 GB/s")
_BW_H100_SXM = _d(0.88, _FLASHINFER,
                  "no STREAM run on an H100 SXM is published in the stored sources; FlashInfer's "
                  "decode attention reaches about 88-89% of its 3352 GB/s (batch 64 at 1k tokens, "
                  "batch 1 at 64k, read off its plots), so a streaming kernel sustains at least "
                  "that: a lower bound")
_BW_H200 = _m(0.736, _gb("gpu-stream/h200.txt", "a7dc559c",
                         "gpu-stream, H200: triad 3534 GB/s (blockSize 1024)"),
              "triad 3534 GB/s of the datasheet's 4800 GB/s, measured as on every other device "
              "gpu-stream ran on (the same repository's gpu-roofline reaches 3780 GB/s at 0.5 "
              "FLOP/B)")
_BW_MI300X = _m(0.788, Source(
    "https://github.com/ROCm/system-acceptance-docs/blob/"
    "b754ce72603b9bb8a23c557cfcd5a16c2815e04c/docs/mi300x/performance-bench.rst",
    "'BabelStream benchmarking results': minimum passing score Copy 4,177,285 MB/s, Triad "
    "3,885,301 MB/s (BabelStream v5.0, FP64, 2.1 GB arrays, all 8 GPUs at once)", _READ,
    "amd_mi300x_acceptance"),
    "AMD's minimum passing copy score, 4177 GB/s of 5300 GB/s (a healthy system's expected "
    "output: 4256 GB/s)")
_BW_RTX4090 = _d(0.87, _FLASHINFER, "FlashInfer's decode attention on an RTX 4090: about 86-90% "
                 "of 1008 GB/s at long contexts, read off its plots (a lower bound); no STREAM "
                 "run published in the stored sources")
_L40 = _gb("gpu-stream/l40.txt", "0a45416b",
           "gpu-stream, L40 (the L40S's memory system: 48 GB GDDR6, 864 GB/s): triad 803 GB/s")
_BW_ADA = _e(0.929, _L40, "measured on the L40, whose memory system the L40S and (narrower) L4 "
             "share: triad 803 of 864 GB/s; whether ECC was on is not recorded")
_BW_HBM = _e(0.86, _gb("gpu-stream", "a7dc559c", "gpu-stream: A100 and H100 PCIe triad"),
             "no published measurement: the median of the HBM devices measured (A100 0.86-0.88, "
             "H100 PCIe 0.92, H200 0.74, MI300X 0.79)")
_BW_M2 = _e(0.85, Source("https://github.com/ggml-org/llama.cpp/pull/2188",
                         "'GPUs of M1 Max / M2 Max can sustain 340 GB/s' (of 400 GB/s)", _READ,
                         "llamacpp_pr2188"),
            "no M2 Ultra measurement: the sustained fraction quoted for the M1/M2 Max, whose "
            "two dies the Ultra joins")

_MM_A100 = _m(0.869, _MAMF, "A100 SXM: 271.2 of 312 TFLOP/s")
_MM_H100 = _m(0.803, _MAMF, "H100 SXM: 794.5 of 989 TFLOP/s; the table adds 'H200 is the same'")
_MM_H100_FP8 = _m(0.709, _MAMF, "H100 SXM FP8: 1402.6 of 1979 TFLOP/s")
_MM_H200_FP8 = _m(0.734, _MAMF, "H200 SXM FP8: 1453.4 of 1979 TFLOP/s")
_MM_B200 = _m(0.776, _MAMF, "B200 SXM: 1745.0 of 2250 TFLOP/s")
_MM_B200_FP8 = _m(0.763, _MAMF, "B200 SXM FP8: 3432.5 of 4500 TFLOP/s")
_MM_MI300X = _m(0.511, _MAMF, "MI300X: 668.4 TFLOP/s of the catalog's 1307.4 (the table's "
                "'Theory' is 1300; PYTORCH_TUNABLEOP_ENABLED=1)")
_MM_TPU = _m(0.923, Source(
    "https://github.com/jax-ml/jax/blob/cec06d116c05f0d52adfceee3d3b730fdbcb0ce5/docs/pallas/"
    "tpu/matmul.ipynb", "Pallas TPU matmul notebook, XLA bf16 8192^3 on a TPU v5e: 'FLOP/s "
    "utilization: 92.2960%'", _READ, "jax_pallas_tpu_matmul"), "181.8 of 197 TFLOP/s")
_MM_NONE = _e(0.80, _MAMF, "no published MAMF-style measurement for this device: the H100's "
              "0.80, the middle of the NVIDIA rows (A100 0.87, H100 0.80, B200 0.78)")

_ATT_A100 = _m(0.737, _FA2, "230 of 312 TFLOP/s")
_ATT_H100 = _m(0.748, _FA3, "740 of 989 TFLOP/s (FP16)")

_KERNEL_HBM = _d(1.3e-6, _SMALL_KERNELS, "A100 and H200 as a graph: 1.34 and 1.26 µs per kernel")
_KERNEL_ADA = _d(0.9e-6, _SMALL_KERNELS, "L40 as a graph: 0.94 µs per kernel")
_KERNEL_OTHER = _e(1.3e-6, _SMALL_KERNELS, "no measurement for this device: the A100's and "
                   "H200's 1.3 µs")
_A100_STREAM, _H200_STREAM, _A40_STREAM = (streaming_fit(STREAMING_RUNS[f])[0]
                                            for f in ("a100_80", "h200", "a40"))
_STREAM_A100 = _d(_A100_STREAM, _STREAMING, "A100 80GB: the intercept of t = t0 + V/b over 8 "
                  "kernels of 168 MB to 986 MB (b = 1753 GB/s, the triad's 1759)")
_STREAM_H200 = _d(_H200_STREAM, _STREAMING, "H200: the intercept of t = t0 + V/b over 8 "
                  "kernels of 203 MB to 1.39 GB (b = 3416 GB/s)")
_STREAM_HOPPER = _e(_H200_STREAM, _STREAMING, "no measurement: the H200's, the same GH100 die "
                    "and memory controllers")
_STREAM_ADA = _e(_A40_STREAM, _STREAMING, "the A40's (Ampere, GDDR6 like the L40S and L4): its "
                 "intercept over 8 kernels of 25 MB to 2.1 GB. The L40's own file cannot fix "
                 "one: beyond its 96 MB L2 every kernel takes over 0.5 ms, and its times "
                 "scatter by more than the intercept")
_STREAM_OTHER = _e(_A100_STREAM, _STREAMING, "no measurement for this device: the A100's, the "
                   "larger of the two HBM parts fitted (the H200's is 1.8 µs)")
_MAMF_SWEEP = Source(
    "https://github.com/stas00/ml-engineering/blob/744d01e18b79512572f64a6bbd8b5f4a725203a7/"
    "compute/accelerator/benchmarks/README.md#maximum-achievable-matmul-flops-finder",
    "'Examples of usage', 1: './mamf-finder.py --m_range 0 20480 256 --n 4096 --k 4096' 'should "
    "give around 80-90% of the maximum achievable result'; the table's MAMF is the best shape "
    "of a much wider search", _READ, "stas_ml_engineering")
_SHAPES = _e(0.85, _MAMF_SWEEP, "the middle of the 'around 80-90%' of MAMF that the finder's "
             "author says its quick sweep finds: M from 256 to 20,480 at N = K = 4096, the width "
             "of a 7B model's layers. MAMF is the best of a far wider search over shapes")
_HOST = _e(5e-6, _HTA, "the low end of Meta's 5-20 µs, as chapter 6's timeline uses")
_ATT_CALL = _d(15e-6, _FLASHINFER,
               "H100 SXM, Figure 6: batch 1 at 1k tokens reaches about 22% of the bandwidth "
               "and batch 64 at 32 tokens about 41%, against about 88% for long caches; with "
               "Llama-2-7B's 32 heads of 128 that is 13-17 µs per call above the bytes' time")
_INT4 = _d(0.928, _MARLIN, "PyTorch's own int4 kernel (the one gpt-fast and torchao call) at "
           "3.59x of the ideal 3.87x over FP16, batch 1 (Marlin reaches 1.0, AWQ 0.87)")
_NO_DEQUANT_COST = _e(1.0, _MARLIN, "no kernel-level measurement of 8-bit weight-only GEMV: "
                      "charged at the BF16 efficiency")


@dataclass(frozen=True)
class Efficiency:
    """What kernels achieve on one device (see the module docstring for each factor).

    Introduced in chapters/08_model_vs_reality.ipynb.
    """

    device: str
    bandwidth: Factor
    matmul: Factor
    matmul_fp8: Factor
    attention: Factor
    kernel_s: Factor
    streaming_kernel_s: Factor
    host_s: Factor = _HOST
    attention_call_s: Factor = _ATT_CALL
    matmul_shapes: Factor = _SHAPES

    def matmul_for(self, compute_dtype: str) -> Factor:
        """The matmul factor for a compute precision (FP8 has its own where measured)."""
        return self.matmul_fp8 if compute_dtype == "fp8" else self.matmul


#: How a dequantising kernel streams a weight-only format, relative to a BF16 GEMV.
WEIGHT_ONLY: Mapping[str, Factor] = MappingProxyType({
    "int4": _INT4, "q4_0": _INT4, "int8": _NO_DEQUANT_COST, "q8_0": _NO_DEQUANT_COST})


def _entry(device: str, bandwidth: Factor, matmul: Factor, kernel: Factor, streaming: Factor,
           matmul_fp8: Factor | None = None, attention: Factor | None = None) -> Efficiency:
    return Efficiency(hardware.get(device).name, bandwidth, matmul, matmul_fp8 or matmul,
                      attention or matmul, kernel, streaming)


#: Every catalog device's factors.
EFFICIENCIES: Mapping[str, Efficiency] = MappingProxyType({e.device: e for e in (
    _entry("a100-sxm-40gb", _BW_A100_40, _MM_A100, _KERNEL_HBM, _STREAM_A100, attention=_ATT_A100),
    _entry("a100-sxm-80gb", _BW_A100_80, _MM_A100, _KERNEL_HBM, _STREAM_A100, attention=_ATT_A100),
    _entry("h100-sxm", _BW_H100_SXM, _MM_H100, _KERNEL_OTHER, _STREAM_HOPPER, _MM_H100_FP8,
           _ATT_H100),
    _entry("h100-pcie", _BW_H100_PCIE, _MM_NONE, _KERNEL_OTHER, _STREAM_HOPPER, _MM_H100_FP8,
           _ATT_H100),
    _entry("h200", _BW_H200, _MM_H100, _KERNEL_HBM, _STREAM_H200, _MM_H200_FP8, _ATT_H100),
    _entry("b200", _BW_HBM, _MM_B200, _KERNEL_OTHER, _STREAM_OTHER, _MM_B200_FP8),
    _entry("l4", _BW_ADA, _MM_NONE, _KERNEL_ADA, _STREAM_ADA),
    _entry("l40s", _BW_ADA, _MM_NONE, _KERNEL_ADA, _STREAM_ADA),
    _entry("rtx-4090", _BW_RTX4090, _MM_NONE, _KERNEL_ADA, _STREAM_ADA),
    _entry("mi300x", _BW_MI300X, _MM_MI300X, _KERNEL_OTHER, _STREAM_OTHER),
    _entry("tpu-v5e", _BW_HBM, _MM_TPU, _KERNEL_OTHER, _STREAM_OTHER),
    _entry("tpu-v5p", _BW_HBM, _e(0.923, _MM_TPU.provenance.source, "no v5p measurement: "
                                  "the v5e's 0.923 under the same compiler"), _KERNEL_OTHER,
           _STREAM_OTHER),
    _entry("m2-ultra", _BW_M2, _MM_NONE, _KERNEL_OTHER, _STREAM_OTHER),
)})


def get(device: "str | hardware.Device") -> Efficiency:
    """The factors for ``device`` (a catalog name or a :class:`lib.hardware.Device`).

    A device outside the catalog gets the estimated defaults of an HBM GPU.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> get("mi300x").matmul.value
    0.511
    >>> get("rtx-4090").kernel_s.value
    9e-07
    """
    dev = hardware.get(device)
    if dev.name in EFFICIENCIES:
        return EFFICIENCIES[dev.name]
    return Efficiency(dev.name, _BW_HBM, _MM_NONE, _MM_NONE, _MM_NONE, _KERNEL_OTHER,
                      _STREAM_OTHER)


# --- the factors as a table (chapters/08_model_vs_reality.ipynb) -----------------------------

#: The per-device factors :func:`table` shows, with the symbols chapter 8 gives them.
TABLE_FACTORS = MappingProxyType({
    "bandwidth": "η_β bandwidth", "matmul": "η_π matmul",
    "matmul_fp8": "η_π FP8 matmul", "attention": "η_att attention",
    "kernel_s": "t_k per kernel", "streaming_kernel_s": "t_s streaming kernel"})


def _cell(f: Factor, sources: list[str]) -> str:
    key = f.provenance.source.bibkey
    if key not in sources:
        sources.append(key)
    value = f"{f.value * 1e6:.1f} µs" if f.value < 1e-3 else f"{f.value:.3g}"
    return f"{value} {f.provenance.kind[0]} [{sources.index(key) + 1}]"


def table(devices: "list[str] | None" = None) -> Table:
    """The factors of each device: value, kind (m: measured, d: derived, e: estimated) and
    the source, numbered in the footer by bibliography key.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> print(table(["a100-sxm-80gb"]))
    device         η_β bandwidth   η_π matmul  η_π FP8 matmul  η_att attention  t_k per kernel  t_s streaming kernel
    -------------  -------------  -----------  --------------  ---------------  --------------  --------------------
    a100-sxm-80gb    0.863 m [1]  0.869 m [2]     0.869 m [2]      0.737 m [3]    1.3 µs d [1]          3.3 µs d [1]
    [1] ernst_gpu_benches  [2] stas_ml_engineering  [3] dao2023flashattention2
    """
    names = list(EFFICIENCIES) if devices is None else [hardware.get(d).name for d in devices]
    sources: list[str] = []
    rows = [[n, *(_cell(getattr(get(n), f), sources) for f in TABLE_FACTORS)] for n in names]
    footer = "  ".join(f"[{i + 1}] {k}" for i, k in enumerate(sources))
    return Table(["device", *TABLE_FACTORS.values()], rows, footer=[footer])


def common_table() -> Table:
    """The factors every device shares: how much of MAMF a model's layer shapes reach, the
    host's eager launch, a decode-attention call's fixed cost and the weight-only formats'
    dequantising efficiency, each with its kind,
    its source's bibliography key and its note.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> [row[:3] for row in common_table().rows][:3]   # doctest: +NORMALIZE_WHITESPACE
    [('η_shape layer shapes', '0.85', 'estimated'),
     ('t_host eager launch', '5.0 µs', 'estimated'),
     ('t_attn decode-attention call', '15.0 µs', 'derived')]
    """
    e = get("h100-sxm")
    chosen = [("η_shape layer shapes", e.matmul_shapes),
              ("t_host eager launch", e.host_s),
              ("t_attn decode-attention call", e.attention_call_s),
              *((f"η_deq {fmt} weights", WEIGHT_ONLY[fmt]) for fmt in ("int4", "int8"))]
    rows = [[name, f"{f.value * 1e6:.1f} µs" if f.value < 1e-3 else f"{f.value:.3g}",
             f.provenance.kind, f.provenance.source.bibkey, f.provenance.note]
            for name, f in chosen]
    return Table(["factor", "value", "kind", "source", "note"], rows,
                 align=["<", ">", "<", "<", "<"])
