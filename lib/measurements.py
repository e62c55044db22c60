"""Published measurements: what real kernels and runs achieved, each with its source.

The catalog in :mod:`lib.hardware` holds what a device *could* do (datasheet peaks and
bandwidths, derived or microbenchmarked hierarchy figures). This module holds what
people *measured* real code doing on it: a matrix product's best FLOP/s, an attention
kernel's, a decode loop's tokens per second. Each :class:`Measurement` says which
device, what was measured, the value in SI units and as the source prints it, under
which conditions, and where it was read (a :class:`lib.hardware.Source` with URL, the
table or sentence, the date read and the bibliography key). A measurement is a fact
about one run with one software stack on one day; quote it with its conditions.

Nothing here is computed: fractions of a peak and placements on a roofline are the
work of :mod:`lib.roofline` and :mod:`lib.kernels`, applied to these values in
chapters/03_roofline.ipynb.

Introduced in chapters/03_roofline.ipynb.

Examples
--------
>>> m = get("mamf-h100-sxm-bf16")
>>> m.device, m.value / 1e12, m.printed
('h100-sxm', 794.5, '794.5 TFLOPS')
>>> round(fraction_of_peak(m), 3)        # of the dense BF16 peak, 989.4 TFLOP/s
0.803
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from lib import hardware
from lib._validate import choice, positive
from lib.dtypes import DTYPES
from lib.hardware import Source
from lib.units import GB, TERA

__all__ = ["UNITS", "Measurement", "MEASUREMENTS", "get", "keys", "for_device",
           "fraction_of_peak"]

#: Units a measurement's ``value`` may carry (SI; a rate per second).
UNITS = ("FLOP/s", "byte/s", "token/s", "Hz")


@dataclass(frozen=True)
class Measurement:
    """One published measurement of a real run on a catalog device.

    Attributes
    ----------
    key : str
        Name in :data:`MEASUREMENTS`, e.g. ``"mamf-h100-sxm-bf16"``.
    device : str
        The catalog name (:func:`lib.hardware.get`) of the device it ran on.
    what : str
        What was measured, in one phrase.
    value : float
        The measured value in SI units (:data:`UNITS`).
    unit : str
        One of :data:`UNITS`.
    printed : str
        The value exactly as the source prints it, with the source's unit.
    dtype : str
        The number format of the arithmetic ("" where it does not apply).
    conditions : str
        What the source says about the run: batch, shape, software, power limit.
    source : Source
        Where it was read.
    shape : Mapping[str, int]
        The matrix product's ``m``, ``n``, ``k`` (as :func:`lib.kernels.gemm` takes them)
        where the measurement names one; empty otherwise.

    Introduced in chapters/03_roofline.ipynb.
    """

    key: str
    device: str
    what: str
    value: float
    unit: str
    printed: str
    dtype: str
    conditions: str
    source: Source
    shape: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", hardware.get(self.device).name)
        object.__setattr__(self, "unit", choice("unit", self.unit, UNITS))
        object.__setattr__(self, "value", float(positive("value", self.value)))
        if self.dtype:
            object.__setattr__(self, "dtype", choice("dtype", self.dtype, DTYPES))
        object.__setattr__(self, "shape", MappingProxyType(dict(self.shape)))

    @property
    def bibkey(self) -> str:
        """The bibliography key to cite it with."""
        return self.source.bibkey


_READ = "2026-11-30"

_GPT_FAST_README = ("https://github.com/pytorch-labs/gpt-fast/blob/"
                    "32971d3129541c5bfb4f715abc33d1c5f408d204/README.md")
_GPT_FAST_CONDITIONS = ("batch size 1, a prompt of 5 tokens, one A100-80GB of an 8xA100 node "
                        "power-limited to 330 W")


def _gpt_fast(row: str) -> Source:
    return Source(_GPT_FAST_README, f"README, 'Benchmarks' table, {row}", _READ, "gpt_fast")


_MAMF = Source(
    "https://github.com/stas00/ml-engineering/blob/744d01e18b79512572f64a6bbd8b5f4a725203a7/"
    "compute/accelerator/README.md#maximum-achievable-matmul-flops-comparison-table",
    "Machine Learning Engineering, 'Maximum Achievable Matmul FLOPS comparison table', BF16: "
    "MAMF, Theory, Efficiency, Best Shape MxNxK, torch version. 'Reporting a mean of 100 "
    "iterations after 50 warmup iterations for each shape'",
    _READ, "stas_ml_engineering")
_MAMF_HOW = ("torch.matmul, BF16 inputs, no sparsity; the fastest of a brute-force search over "
             "shapes, mean of 100 iterations after 50 warm-up; ")
_AMD_MAF = Source(
    "https://rocm.blogs.amd.com/software-tools-optimization/measuring-max-achievable-flops-part2/"
    "README.html",
    "AMD ROCm blog, 'Measuring Max-Achievable FLOPs - Part 2' (Sander et al., 28 Feb 2025), "
    "Table 1: MI300X 'MAF BF16 (median freq.)' 708 TFLOPs (1207 MHz); Appendix B, the "
    "hipblaslt-bench command (m 4096, n 4864, k 32896)",
    _READ, "amd_maf_part2")
_AMD_MAF_CONDITIONS = ("hipBLASLt (hipblaslt-bench), BF16 inputs with FP32 accumulation, "
                       "trigonometric (not constant) data, cold caches, thermally stable; "
                       "the lowest per-chiplet median clock during the run")
_FA2 = Source(
    "https://arxiv.org/abs/2307.08691",
    "FlashAttention-2, Section 1: 'FlashAttention-2 reaches up to 230 TFLOPs/s, 73% of the "
    "theoretical maximum TFLOPs/s on A100 GPUs'; Section 4.1: 'on an A100 80GB SXM4 GPU', "
    "benchmark settings",
    _READ, "dao2023flashattention2")
_FA3 = Source(
    "https://arxiv.org/abs/2407.08608v1",
    "FlashAttention-3 (arXiv v1), abstract: 'FP16 reaching up to 740 TFLOPs/s (75% "
    "utilization)'; Section 4.1: 'on an H100 80GB SXM5 GPU', benchmark settings",
    _READ, "shah2024flashattention3")
_FA_CONDITIONS = ("forward pass, the fastest of the paper's attention benchmarks: sequences of "
                  "512 to 16k tokens with 16k tokens per batch, hidden size 2048, head dimension "
                  "{heads}, with and without a causal mask; FLOPs counted as "
                  "4 x seqlen^2 x head dimension x heads")

_ENTRIES = [
    Measurement(
        "gpt-fast-llama2-7b-bf16", "a100-sxm-80gb",
        "Llama-2-7B decoding in BF16: tokens per second for one user",
        104.9, "token/s", "104.9 tokens/s", "bf16", _GPT_FAST_CONDITIONS,
        _gpt_fast("Llama-2-7B, Base: Tokens/Second 104.9")),
    Measurement(
        "gpt-fast-llama2-7b-int8", "a100-sxm-80gb",
        "Llama-2-7B decoding with int8 weight-only quantisation: tokens per second",
        155.58, "token/s", "155.58 tokens/s", "bf16", _GPT_FAST_CONDITIONS,
        _gpt_fast("Llama-2-7B, 8-bit: Tokens/Second 155.58")),
    *(Measurement(
        f"gpt-fast-llama2-7b-bf16-tp{p}", "a100-sxm-80gb",
        f"Llama-2-7B decoding in BF16 with tensor parallelism over {p} GPUs: tokens per "
        "second for one user",
        tok, "token/s", f"{tok} tokens/s", "bf16",
        _GPT_FAST_CONDITIONS.replace("one A100-80GB of", f"{p} A100-80GBs of")
        + " in a hybrid cube mesh",
        Source(_GPT_FAST_README, f"README, 'Tensor Parallelism' table, Llama-2-7B, Number of "
               f"GPUs {p}: Tokens/Second {tok}", _READ, "gpt_fast"))
      for p, tok in ((2, 168.84), (4, 254.02), (8, 328.43))),
    Measurement(
        "gpt-fast-llama2-7b-bf16-bandwidth", "a100-sxm-80gb",
        "gpt-fast's own 'Memory Bandwidth' for the BF16 Llama-2-7B run (its byte count per "
        "token times tokens per second)",
        1397.31 * GB, "byte/s", "1397.31 GB/s", "bf16", _GPT_FAST_CONDITIONS,
        _gpt_fast("Llama-2-7B, Base: Memory Bandwidth (GB/s) 1397.31")),
    Measurement(
        "gpt-fast-a100-empirical-bandwidth", "a100-sxm-80gb",
        "the memory bandwidth the gpt-fast authors found their power-limited A100 reaches",
        1700 * GB, "byte/s", "about 1700 GB/s", "",
        "an A100 80GB power-limited to 330 W; 'Empirically, seems like peak bandwidth is "
        "about 1700 GB/s' (how it was measured is not stated)",
        Source(_GPT_FAST_README, "README, note under the Tensor Parallelism results: 'Running "
               "on an A100 80GB, albeit power-limited to 330 watts. Empirically, seems like "
               "peak bandwidth is about 1700 GB/s.'", _READ, "gpt_fast")),
    Measurement(
        "mamf-a100-sxm-bf16", "a100-sxm-80gb",
        "the best BF16 matrix-product FLOP/s found by a shape search (MAMF)",
        271.2 * TERA, "FLOP/s", "271.2 TFLOPS", "bf16",
        _MAMF_HOW + "best shape 1024x10240x5120, torch 2.6.0+cu126; the table says 'NVIDIA "
        "A100 SXM' without the memory size (both catalog parts have the same 312 TFLOP/s "
        "peak)", _MAMF, {"m": 1024, "n": 10240, "k": 5120}),
    Measurement(
        "mamf-h100-sxm-bf16", "h100-sxm",
        "the best BF16 matrix-product FLOP/s found by a shape search (MAMF)",
        794.5 * TERA, "FLOP/s", "794.5 TFLOPS", "bf16",
        _MAMF_HOW + "best shape 2048x2048x13312, torch 2.7.0+cu126; 'H200 is the same'",
        _MAMF, {"m": 2048, "n": 2048, "k": 13312}),
    Measurement(
        "mamf-mi300x-bf16", "mi300x",
        "the best BF16 matrix-product FLOP/s found by a shape search (MAMF)",
        668.4 * TERA, "FLOP/s", "668.4 TFLOPS", "bf16",
        _MAMF_HOW + "best shape 10240x15360x8192, torch 2.5.1+6.3.42131 (ROCm), "
        "PYTORCH_TUNABLEOP_ENABLED=1", _MAMF, {"m": 10240, "n": 15360, "k": 8192}),
    Measurement(
        "amd-maf-mi300x-bf16", "mi300x",
        "AMD's max-achievable BF16 matrix-product FLOP/s (MAF)",
        708 * TERA, "FLOP/s", "708 TFLOPs", "bf16", _AMD_MAF_CONDITIONS, _AMD_MAF,
        {"m": 4096, "n": 4864, "k": 32896}),
    Measurement(
        "amd-maf-mi300x-bf16-clock", "mi300x",
        "the GPU clock during AMD's BF16 MAF run (median, slowest chiplet)",
        1207e6, "Hz", "1207 MHz", "bf16", _AMD_MAF_CONDITIONS, _AMD_MAF,
        {"m": 4096, "n": 4864, "k": 32896}),
    Measurement(
        "flashattention2-a100", "a100-sxm-80gb",
        "FlashAttention-2's attention forward pass: FLOP/s",
        230 * TERA, "FLOP/s", "230 TFLOPs/s", "fp16",
        "FP16/BF16; " + _FA_CONDITIONS.format(heads="64 or 128"), _FA2),
    Measurement(
        "flashattention3-h100", "h100-sxm",
        "FlashAttention-3's attention forward pass in FP16: FLOP/s",
        740 * TERA, "FLOP/s", "740 TFLOPs/s", "fp16",
        "FP16; " + _FA_CONDITIONS.format(heads="64, 128 or 256"), _FA3),
]

#: Every measurement, by key.
MEASUREMENTS: Mapping[str, Measurement] = MappingProxyType({m.key: m for m in _ENTRIES})


def keys() -> list[str]:
    """Measurement keys, in catalog order.

    Examples
    --------
    >>> keys()[:2]
    ['gpt-fast-llama2-7b-bf16', 'gpt-fast-llama2-7b-int8']
    """
    return list(MEASUREMENTS)


def get(key: "str | Measurement") -> Measurement:
    """Look a measurement up by key; a :class:`Measurement` is returned as is.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> get("gpt-fast-llama2-7b-bf16").value
    104.9
    >>> get("mamf-h100")
    Traceback (most recent call last):
    ...
    ValueError: measurement='mamf-h100' is not known; did you mean 'mamf-h100-sxm-bf16', 'mamf-a100-sxm-bf16', 'mamf-mi300x-bf16'? Accepted: gpt-fast-llama2-7b-bf16, gpt-fast-llama2-7b-int8, gpt-fast-llama2-7b-bf16-tp2, gpt-fast-llama2-7b-bf16-tp4, gpt-fast-llama2-7b-bf16-tp8, gpt-fast-llama2-7b-bf16-bandwidth, gpt-fast-a100-empirical-bandwidth, mamf-a100-sxm-bf16, mamf-h100-sxm-bf16, mamf-mi300x-bf16, amd-maf-mi300x-bf16, amd-maf-mi300x-bf16-clock, flashattention2-a100, flashattention3-h100.
    """
    if isinstance(key, Measurement):
        return key
    return MEASUREMENTS[choice("measurement", key, MEASUREMENTS)]


def for_device(device: "str | hardware.Device") -> list[Measurement]:
    """The measurements taken on ``device``, in catalog order.

    Examples
    --------
    >>> [m.key for m in for_device("h100-sxm")]
    ['mamf-h100-sxm-bf16', 'flashattention3-h100']
    """
    name = hardware.get(device).name
    return [m for m in _ENTRIES if m.device == name]


def fraction_of_peak(measurement: "str | Measurement", dtype: str | None = None) -> float:
    """A FLOP/s measurement over its device's dense peak (for ``dtype``, default its own),
    or a byte/s measurement over its device's memory bandwidth.

    This is what the sources call efficiency or utilisation: MAMF's 'Efficiency', the
    FlashAttention papers' 'of the theoretical maximum'.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> round(fraction_of_peak("flashattention2-a100"), 3)       # the paper: 73%
    0.737
    >>> round(fraction_of_peak("gpt-fast-a100-empirical-bandwidth"), 3)
    0.834
    >>> fraction_of_peak("gpt-fast-llama2-7b-bf16")
    Traceback (most recent call last):
    ...
    ValueError: measurement='gpt-fast-llama2-7b-bf16' is in token/s: only a FLOP/s or byte/s measurement is a fraction of a peak.
    """
    m = get(measurement)
    device = hardware.get(m.device)
    if m.unit == "FLOP/s":
        return m.value / device.peak(dtype or m.dtype)
    if m.unit == "byte/s":
        return m.value / device.memory_bandwidth
    raise ValueError(f"measurement={m.key!r} is in {m.unit}: only a FLOP/s or byte/s "
                     "measurement is a fraction of a peak.")
