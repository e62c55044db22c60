"""Accelerators: peak compute, memory bandwidth and capacity, each with its source.

Every peak FLOP/s here is **dense**. NVIDIA's datasheets print Hopper, Ada and
Blackwell tensor-core figures "with sparsity" (2:4 structured sparsity, twice the
dense rate); those are recorded separately in ``sparse_peak_flops`` and never
used by the roofline. A figure the vendor does not publish is absent rather than
invented: asking for it raises a ``ValueError`` that says so.

Bandwidths are decimal (1 TB/s = 10^12 byte/s) as vendors print them. Memory
capacities are decimal bytes too (80 GB = 80 x 10^9 bytes) unless the vendor
states binary units.

Introduced in chapters/01_memory_bound.ipynb and chapters/02_compute_bound.ipynb.

Examples
--------
>>> h100 = get("h100-sxm")
>>> h100.peak("bf16") / 1e12
989.4
>>> round(h100.peak("bf16") / h100.memory_bandwidth)
295
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from lib._validate import choice
from lib.dtypes import DTYPES
from lib.units import GB, KIB, MB, TB, TERA

__all__ = ["KINDS", "Source", "Provenance", "MemoryLevel", "Device", "OPTIONAL_FIGURES",
           "DEVICES", "get", "names"]


#: How a figure was obtained: printed by the vendor, computed from printed figures,
#: measured by a microbenchmark, or a constant of a vendor's performance model.
KINDS = ("datasheet", "derived", "measured", "estimated")


@dataclass(frozen=True)
class Source:
    """Where a figure was read: the document, the table or sentence, and the date read."""

    url: str
    where: str
    accessed: str
    bibkey: str


@dataclass(frozen=True)
class Provenance:
    """Where one figure comes from and how it was obtained (``kind``, one of :data:`KINDS`).

    Introduced in chapters/02_compute_bound.ipynb.
    """

    kind: str
    source: Source
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", choice("kind", self.kind, KINDS))


@dataclass(frozen=True)
class MemoryLevel:
    """One level of a device's memory hierarchy, or a link off the chip.

    ``capacity`` is in bytes for the whole device, ``bandwidth`` in byte/s for the
    whole device (or per direction for a link), ``latency`` in seconds. ``None`` means
    no citable source gives the figure.

    ``bandwidth_kind`` and ``latency_kind`` (one of :data:`KINDS`) say how each figure
    was obtained; ``note`` gives the details (the clock a latency measured in cycles was
    converted at, the datasheet quantities a peak was derived from). ``source`` is where
    the level (and its capacity) is documented; ``bandwidth_source`` and
    ``latency_source`` name a different document where the bandwidth or latency comes
    from one.
    """

    name: str
    capacity: float | None
    bandwidth: float | None
    latency: float | None
    note: str
    source: Source
    bandwidth_kind: str | None = "datasheet"
    latency_kind: str | None = None
    bandwidth_source: Source | None = None
    latency_source: Source | None = None

    def __post_init__(self) -> None:
        for figure in ("bandwidth", "latency"):
            value, kind = getattr(self, figure), getattr(self, f"{figure}_kind")
            if (value is None) != (kind is None):
                raise ValueError(f"{figure}_kind={kind!r} for {figure}={value!r} of "
                                 f"{self.name!r}: give a kind exactly when the figure is known.")
            if kind is not None:
                object.__setattr__(self, f"{figure}_kind", choice(f"{figure}_kind", kind, KINDS))

    def sources(self) -> tuple[Source, ...]:
        """Every document this level's figures come from, without repeats.

        Examples
        --------
        >>> [s.bibkey for s in get("a100-sxm-80gb").levels[3].sources()]   # HBM2e
        ['nvidia_a100_datasheet', 'ernst_gpu_benches']
        """
        found = [self.source, self.bandwidth_source, self.latency_source]
        return tuple(dict.fromkeys(s for s in found if s is not None))


#: Device figures that are optional (``None`` where no citable source gives them), each
#: with its :class:`Provenance` in :attr:`Device.provenance`.
OPTIONAL_FIGURES = ("sm_count", "boost_clock_hz", "exp_throughput", "interconnect_bandwidth",
                    "interconnect_latency")


@dataclass(frozen=True)
class Device:
    """An accelerator as the roofline sees it. Build one with keyword arguments.

    Attributes
    ----------
    name : str
        Catalog key, e.g. ``"h100-sxm"``.
    label : str
        Name for people, e.g. ``"NVIDIA H100 SXM5 80GB"``.
    vendor : str
    peak_flops : Mapping[str, float]
        Dense peak FLOP/s (or OP/s for integers) by dtype, only for dtypes the
        vendor publishes.
    sparse_peak_flops : Mapping[str, float]
        The datasheet's 2:4-sparse figures, for reference only.
    memory_bandwidth : float
        Peak main-memory bandwidth, byte/s.
    memory_capacity : float
        Main-memory capacity, bytes.
    memory_type : str
        HBM3, GDDR6, unified LPDDR5, ...
    source : Source
        The primary source of the headline figures (peaks, bandwidth, capacity).
    levels : tuple of MemoryLevel
        The hierarchy from registers outward, where known.
    notes : str
        Caveats a reader should know (accumulate precision, binary units, ...).
    sm_count : int or None
        Streaming multiprocessors (NVIDIA) or compute units (AMD): the processors a
        kernel's thread blocks are spread over.
    boost_clock_hz : float or None
        The clock behind the dense tensor peak, Hz.
    exp_throughput : float or None
        Special-function evaluations (``exp``, ``tanh``...) per second, the roof of a
        softmax's exponentials: 16 per SM per clock on recent NVIDIA GPUs.
    interconnect : str
        The device-to-device link the next two figures describe ("" if none).
    interconnect_bandwidth : float or None
        Link bandwidth per direction, byte/s (line rate).
    interconnect_latency : float or None
        Latency of one message (one step of a ring all-reduce) over that link, seconds.
    provenance : Mapping[str, Provenance]
        How each figure was obtained, by attribute name: every optional figure that is
        known, and any headline figure not printed as such (see :meth:`provenance_of`).
    """

    name: str
    label: str
    vendor: str
    peak_flops: Mapping[str, float]
    sparse_peak_flops: Mapping[str, float]
    memory_bandwidth: float
    memory_capacity: float
    memory_type: str
    source: Source
    levels: tuple[MemoryLevel, ...] = ()
    notes: str = ""
    sm_count: int | None = None
    boost_clock_hz: float | None = None
    exp_throughput: float | None = None
    interconnect: str = ""
    interconnect_bandwidth: float | None = None
    interconnect_latency: float | None = None
    provenance: Mapping[str, Provenance] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))
        for figure in OPTIONAL_FIGURES:
            known = getattr(self, figure) is not None
            if known != (figure in self.provenance):
                raise ValueError(f"{figure} of {self.name!r}: a figure and its provenance come "
                                 "together (give both, or neither).")
        unknown = set(self.provenance) - set(OPTIONAL_FIGURES) - set(_HEADLINE)
        if unknown:
            raise ValueError(f"provenance of {self.name!r} names {sorted(unknown)}, which are "
                             "not figures of a Device.")

    def peak(self, dtype: str) -> float:
        """Dense peak FLOP/s for ``dtype``; a ``ValueError`` if the vendor publishes none.

        Examples
        --------
        >>> get("a100-sxm-80gb").peak("bf16") / 1e12
        312.0
        >>> get("a100-sxm-80gb").peak("fp8")
        Traceback (most recent call last):
        ...
        ValueError: dtype='fp8': NVIDIA publishes no fp8 peak for a100-sxm-80gb (the hardware has no fp8 tensor cores or the figure is not published). Published: fp32, tf32, bf16, fp16, int8.
        """
        key = choice("dtype", dtype, DTYPES)
        if key not in self.peak_flops:
            published = ", ".join(self.peak_flops) or "none"
            raise ValueError(
                f"dtype={dtype!r}: {self.vendor} publishes no {key} peak for {self.name} "
                f"(the hardware has no {key} tensor cores or the figure is not published). "
                f"Published: {published}."
            )
        return self.peak_flops[key]

    def provenance_of(self, figure: str) -> Provenance:
        """How ``figure`` (an attribute name) was obtained, and from which document.

        Headline figures default to the device's ``source``, as datasheet figures.

        Introduced in chapters/02_compute_bound.ipynb.

        Examples
        --------
        >>> p = get("h100-sxm").provenance_of("exp_throughput")
        >>> p.kind, p.source.bibkey
        ('derived', 'shah2024flashattention3')
        >>> get("h100-sxm").provenance_of("memory_bandwidth").kind
        'datasheet'
        """
        key = choice("figure", figure, (*_HEADLINE, *OPTIONAL_FIGURES))
        if key in self.provenance:
            return self.provenance[key]
        if key in OPTIONAL_FIGURES:
            raise ValueError(f"figure={figure!r}: the catalog holds no {key} for {self.name} "
                             "(no citable source gives it).")
        return Provenance("datasheet", self.source)

    @property
    def short_label(self) -> str:
        """The label without the vendor's name, for figure legends ("H100 SXM5 80GB")."""
        for prefix in ("NVIDIA GeForce ", "NVIDIA ", "AMD Instinct ", "Google Cloud "):
            if self.label.startswith(prefix):
                return self.label[len(prefix):]
        return self.label

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: every figure, its source, and how each optional one was obtained.

        Introduced in chapters/07_mental_model.ipynb.

        Examples
        --------
        >>> d = get("l4").to_dict()
        >>> d["memory_bandwidth"], d["interconnect"], d["provenance"]["interconnect_latency"]["kind"]
        (300000000000.0, 'PCIe Gen4 x16', 'estimated')
        """
        return {
            "name": self.name, "label": self.label, "vendor": self.vendor,
            "peak_flops": dict(self.peak_flops), "sparse_peak_flops": dict(self.sparse_peak_flops),
            "memory_bandwidth": self.memory_bandwidth, "memory_capacity": self.memory_capacity,
            "memory_type": self.memory_type,
            **{f: getattr(self, f) for f in OPTIONAL_FIGURES}, "interconnect": self.interconnect,
            "source": dataclasses.asdict(self.source),
            "provenance": {k: dataclasses.asdict(v) for k, v in self.provenance.items()},
            "notes": self.notes,
        }


#: Headline figures, read from :attr:`Device.source` unless :attr:`Device.provenance` says otherwise.
_HEADLINE = ("peak_flops", "sparse_peak_flops", "memory_bandwidth", "memory_capacity")


def _m(**kw: float) -> Mapping[str, float]:
    return MappingProxyType({k: v * TERA for k, v in kw.items()})


_READ = "2026-11-24"

_A100 = Source(
    "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf",
    "A100 datasheet, 'NVIDIA A100 Tensor Core GPU Specifications' table, SXM columns; sparse figures marked *",
    _READ, "nvidia_a100_datasheet")
_H100 = Source(
    "https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet",
    "H100 datasheet, 'Technical Specifications' table, H100 SXM and H100 PCIe columns; "
    "footnote '* With sparsity' (dense = half)",
    _READ, "nvidia_h100_datasheet")
_H200 = Source(
    "https://www.nvidia.com/en-us/data-center/h200/",
    "H200 product page, 'Specifications' table, H200 SXM column; footnote '* With sparsity'",
    _READ, "nvidia_h200_page")
_B200 = Source(
    "https://resources.nvidia.com/en-us-dgx-systems/dgx-b200-datasheet",
    "DGX B200 datasheet: 8 GPUs, 1,440 GB total HBM3e, 64 TB/s HBM3e bandwidth, "
    "72 PFLOPS FP8 training (sparse); per GPU = total / 8, dense = sparse / 2",
    _READ, "nvidia_dgx_b200_datasheet")
_L4 = Source(
    "https://www.nvidia.com/en-us/data-center/l4/",
    "L4 product page, 'Specifications' table; tensor figures marked '* With sparsity'",
    _READ, "nvidia_l4_page")
_L40S = Source(
    "https://www.nvidia.com/en-us/data-center/l40s/",
    "L40S product page, 'Specifications' table (dense | sparse* columns)",
    _READ, "nvidia_l40s_page")
_ADA = Source(
    "https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf",
    "NVIDIA Ada GPU Architecture whitepaper, Appendix A, table 'GeForce RTX 4090' "
    "(dense/sparse); FP16/BF16/FP8 with FP32 accumulate",
    _READ, "nvidia_ada_whitepaper")
_MI300X = Source(
    "https://www.amd.com/content/dam/amd/en/documents/instinct-tech-docs/data-sheets/amd-instinct-mi300x-data-sheet.pdf",
    "AMD Instinct MI300X data sheet, 'AI Performance' (dense; 'with sparsity' listed separately)",
    _READ, "amd_mi300x_datasheet")
_V5E = Source(
    "https://cloud.google.com/tpu/docs/v5e",
    "Cloud TPU v5e, 'Key chip specifications' table: 197 TFLOPs bf16, 393 TFLOPs int8, "
    "16 GB HBM2 at 819 GBps",
    _READ, "google_tpu_v5e")
_V5P = Source(
    "https://cloud.google.com/tpu/docs/v5p",
    "Cloud TPU v5p, 'Key specifications' table: 459 TFLOPs bf16, 95 GB HBM2e at 2765 GBps; "
    "int8 918 TOPS from Google's v5p launch post",
    _READ, "google_tpu_v5p")
_M2U = Source(
    "https://www.apple.com/newsroom/2023/06/apple-introduces-m2-ultra/",
    "Apple newsroom, 'Apple introduces M2 Ultra' (June 2023): 800 GB/s memory bandwidth, "
    "up to 192 GB unified memory; no GPU FLOP/s figure given",
    _READ, "apple_m2_ultra")
_HOPPER_WP = Source(
    "https://resources.nvidia.com/en-us-tensor-core/gtc22-whitepaper-hopper",
    "NVIDIA H100 Tensor Core GPU Architecture whitepaper: 132 SMs (SXM5), 256 KB L1/shared "
    "and 64K 32-bit registers per SM, 50 MB L2, NVLink 4 900 GB/s total, PCIe Gen5",
    _READ, "nvidia_hopper_whitepaper")
_AMPERE_WP = Source(
    "https://images.nvidia.com/aem-dam/en-zz/Solutions/data-center/nvidia-ampere-architecture-whitepaper.pdf",
    "NVIDIA A100 Tensor Core GPU Architecture whitepaper: 108 SMs, 192 KB L1/shared and "
    "64K 32-bit registers per SM, 40 MB L2, NVLink 3 600 GB/s total, PCIe Gen4",
    _READ, "nvidia_ampere_whitepaper")


#: Shared memory serves 32 banks x 32 bits = 128 bytes per clock to each SM (CUDA guide).
_SMEM_BYTES_PER_CLOCK_PER_SM = 32 * 4

_CUDA_GUIDE = Source(
    "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#shared-memory-5-x",
    "CUDA C++ Programming Guide, 'Compute Capabilities', Shared Memory for 5.x (which 8.x and "
    "9.0 follow): 'Shared memory has 32 banks ... Each bank has a bandwidth of 32 bits per "
    "clock cycle', i.e. 128 bytes per clock per SM",
    _READ, "nvidia_cuda_guide")
_AMPERE_L2 = Source(
    _AMPERE_WP.url,
    "Ampere whitepaper, section 'A100 L2 Cache': 'The A100 L2 read bandwidth is 5120 Bytes/clk'; "
    "GPU Boost Clock 1410 MHz (Table 4)",
    _READ, "nvidia_ampere_whitepaper")


def _bench(commit: str, path: str, where: str) -> Source:
    """A data file of Ernst's gpu-benches microbenchmarks (pointer chasing, cache bandwidth)."""
    return Source(f"https://github.com/te42kyfo/gpu-benches/blob/{commit}/{path}", where, _READ,
                  "ernst_gpu_benches")


_CHASE = ("pointer chase by one warp through a random cyclic chain, latency in cycles at the "
          "clock the file records")
_A100_40_LAT = _bench("2f9158840909a373a52a7ec7b0acddbc2ccf10b0", "cuda-latency/a100_40.txt",
                      f"{_CHASE} (1410 MHz): 36.0 cycles for chains up to 144 kB (L1), 213.0 "
                      "for 0.3-18 MB (near L2 partition), 574.6 for the largest, 1.5 GB (HBM)")
_A100_80_LAT = _bench("2f9158840909a373a52a7ec7b0acddbc2ccf10b0", "cuda-latency/a100_80.txt",
                      f"{_CHASE} (1410 MHz): 36.0 cycles for chains up to 144 kB (L1), 211.0 "
                      "for 0.3-18 MB (near L2 partition), 571.8 for the largest, 340 MB (HBM)")
_H100_PCIE_LAT = _bench("a7dc559cc5a1d09e62b6b0fbb99ee165039acba4", "gpu-latency/h100_pcie.txt",
                        f"{_CHASE} (1755 MHz): 34.2 cycles for a 1 kB chain (L1), 265.5 for "
                        "0.4-20 MB (near L2 partition), 658.4 for the largest, 1.5 GB (HBM)")
_H100_PCIE_L2 = _bench("70c3826d5f0999617878ceb5938dc546d7f68708", "gpu-l2-cache/h100_pcie.txt",
                       "gpu-l2-cache (reads that miss L1, hit L2): 6.83-6.98 TB/s for data sets "
                       "of 10-33 MB")


_READ_NEW = "2026-11-30"

_CUDA_ARITH = Source(
    "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#arithmetic-instructions",
    "CUDA C++ Programming Guide, 'Arithmetic Instructions', throughput table (results per clock "
    "cycle per multiprocessor), row '32-bit floating-point reciprocal, reciprocal square root, "
    "base-2 logarithm (__log2f), base 2 exponential (exp2f), sine (__sinf), cosine (__cosf)': "
    "16 for compute capabilities 7.x, 8.0, 8.6, 8.9 and 9.0",
    _READ_NEW, "nvidia_cuda_guide_arith")
_FA3_SFU = Source(
    "https://arxiv.org/abs/2407.08608",
    "FlashAttention-3, section 3.1, 'Pingpong scheduling': 'the H100 SXM5 GPU has 989 TFLOPS of "
    "FP16 matmul but only 3.9 TFLOPS of special functions such as exponential'; footnote 5: "
    "16 operations per SM per clock x 132 SMs x 1830 MHz",
    _READ_NEW, "shah2024flashattention3")
_HOPPER_BLOG = Source(
    "https://developer.nvidia.com/blog/nvidia-hopper-architecture-in-depth/",
    "NVIDIA Technical Blog, 'NVIDIA Hopper Architecture In-Depth', Table 3 (A100 column: 108 "
    "SMs, GPU Boost Clock 1410 MHz) and 'The H100 SXM5 GPU has 132 SMs, and the PCIe version "
    "has 114 SMs'; NVLink 4 '900 GB/sec total'; PCIe Gen 5 x16 '64 GB/sec in each direction'",
    _READ_NEW, "nvidia_hopper_blog")
_NCCL_TUNING = Source(
    "https://github.com/NVIDIA/nccl/blob/5067397c/src/graph/tuning.cc",
    "NCCL 2.30 src/graph/tuning.cc, NCCL's own cost model: time = baseLat + nsteps x hwLat + "
    "bytes / bw, ring all-reduce nsteps = 2 (nRanks - 1); baseLat ring LL 6.6 us; hwLat per "
    "step, ring LL: NVLink 0.6 us, PCIe 1.0 us",
    _READ_NEW, "nccl_tuning")


def _smem_bandwidth(sms: int, clock_hz: float) -> float:
    """Peak shared-memory bandwidth of the whole device: 128 B/clock/SM x SMs x clock."""
    return _SMEM_BYTES_PER_CLOCK_PER_SM * sms * clock_hz


def _cycles(cycles: float, clock_hz: float) -> float:
    """A latency measured in clock cycles, in seconds at ``clock_hz``."""
    return cycles / clock_hz


def _hopper_levels(hbm: MemoryLevel, *, sms: int = 132, clock_hz: float = 1830e6,
                   nvlink: MemoryLevel | None = None, l2: tuple | None = None,
                   latency: tuple | None = None) -> tuple[MemoryLevel, ...]:
    """Hopper's hierarchy. ``clock_hz`` is the boost clock behind the dense tensor peak
    (132 SMs x 4096 dense BF16 FLOP/clock x 1830 MHz = 989.4 TFLOP/s on SXM5);
    ``l2`` is (bandwidth, source) and ``latency`` (l1_cycles, l2_cycles, hbm_cycles,
    clock_hz, source) where a measurement on this part exists."""
    smem = _smem_bandwidth(sms, clock_hz)
    lat = (None, None, None) if latency is None else tuple(
        _cycles(c, latency[3]) for c in latency[:3])
    lat_src = None if latency is None else latency[4]
    lat_kind = None if latency is None else "measured"
    lat_note = ("" if latency is None else
                f" Latency: {latency[0]} cycles at {latency[3] / 1e6:.0f} MHz "
                "(pointer chase, L1 hit).")
    hbm = dataclasses.replace(
        hbm, latency=lat[2], latency_kind=lat_kind, latency_source=lat_src,
        note=hbm.note + ("" if latency is None else
                         f"; latency: {latency[2]} cycles at {latency[3] / 1e6:.0f} MHz "
                         "(pointer chase over 1.5 GB, includes TLB misses)"))
    l2_bw, l2_src = (None, None) if l2 is None else l2
    return (
        MemoryLevel("registers", sms * 256 * KIB, None, None,
                    f"64K 32-bit registers = 256 KiB per SM, {sms} SMs (datasheet); no "
                    "citable bandwidth or latency", _HOPPER_WP, bandwidth_kind=None),
        MemoryLevel("L1 / shared memory (SRAM)", sms * 256 * KIB, smem, lat[0],
                    f"256 KiB per SM, up to 228 KiB usable as shared memory (datasheet). "
                    f"Bandwidth: 128 B/clock/SM x {sms} SMs x {clock_hz / 1e6:.0f} MHz, the "
                    "boost clock of the dense tensor peak." + lat_note,
                    _HOPPER_WP, bandwidth_kind="derived", latency_kind=lat_kind,
                    bandwidth_source=_CUDA_GUIDE, latency_source=lat_src),
        MemoryLevel("L2 cache", 50 * MB, l2_bw, lat[1],
                    "50 MB, shared by all SMs, in two partitions (datasheet)."
                    + ("" if l2 is None else " Bandwidth: reads that hit L2.")
                    + ("" if latency is None else
                       f" Latency: {latency[1]} cycles at {latency[3] / 1e6:.0f} MHz "
                       "(near partition; the far one is slower)."),
                    _HOPPER_WP, bandwidth_kind=None if l2 is None else "measured",
                    latency_kind=lat_kind, bandwidth_source=l2_src, latency_source=lat_src),
        hbm,
        nvlink or MemoryLevel("NVLink 4 (to another GPU)", None, 450 * GB, None,
                              "900 GB/s total = 450 GB/s each direction (datasheet); no "
                              "citable latency", _HOPPER_WP, bandwidth_kind="derived"),
        MemoryLevel("PCIe Gen5 x16 (to the host)", None, 64 * GB, None,
                    "128 GB/s total = 64 GB/s each direction (datasheet); no citable latency",
                    _HOPPER_WP, bandwidth_kind="derived"),
    )


def _ampere_levels(hbm: MemoryLevel, latency: tuple[float, float, float, Source]
                   ) -> tuple[MemoryLevel, ...]:
    """Ampere's hierarchy; ``latency`` is (l1_cycles, l2_cycles, hbm_cycles, source), all
    measured at the 1410 MHz boost clock."""
    sms, clock = 108, 1410e6
    l1_cyc, l2_cyc, hbm_cyc, lat_src = latency
    hbm = dataclasses.replace(
        hbm, latency=_cycles(hbm_cyc, clock), latency_kind="measured", latency_source=lat_src,
        note=hbm.note + f"; latency: {hbm_cyc} cycles at 1410 MHz (pointer chase over the "
        "largest chain, includes TLB misses)")
    measured = ("by NHR@FAU on an 'A100 40GB/80GB' at 1410 MHz; the data do not name the form "
                "factor, but chip, clock and HBM are the SXM4 part's")
    return (
        MemoryLevel("registers", sms * 256 * KIB, None, None,
                    "64K 32-bit registers = 256 KiB per SM, 108 SMs (datasheet); no citable "
                    "bandwidth or latency", _AMPERE_WP, bandwidth_kind=None),
        MemoryLevel("L1 / shared memory (SRAM)", sms * 192 * KIB, _smem_bandwidth(sms, clock),
                    _cycles(l1_cyc, clock),
                    "192 KiB per SM, up to 164 KiB usable as shared memory (datasheet). "
                    "Bandwidth: 128 B/clock/SM x 108 SMs x 1410 MHz. "
                    f"Latency: {l1_cyc} cycles (L1 hit), {measured}.",
                    _AMPERE_WP, bandwidth_kind="derived", latency_kind="measured",
                    bandwidth_source=_CUDA_GUIDE, latency_source=lat_src),
        MemoryLevel("L2 cache", 40 * MB, 5120 * clock, _cycles(l2_cyc, clock),
                    "40 MB, shared by all SMs, in two partitions (datasheet). Bandwidth: "
                    "5120 B/clock x 1410 MHz (the whitepaper does not name the L2's clock; "
                    f"sustained reads reach less). Latency: {l2_cyc} cycles (near partition), "
                    f"{measured}.",
                    _AMPERE_WP, bandwidth_kind="derived", latency_kind="measured",
                    bandwidth_source=_AMPERE_L2, latency_source=lat_src),
        hbm,
        MemoryLevel("NVLink 3 (to another GPU)", None, 300 * GB, None,
                    "600 GB/s total = 300 GB/s each direction (datasheet); no citable latency",
                    _AMPERE_WP, bandwidth_kind="derived"),
        MemoryLevel("PCIe Gen4 x16 (to the host)", None, 32 * GB, None,
                    "64 GB/s total = 32 GB/s each direction (datasheet); no citable latency",
                    _AMPERE_WP, bandwidth_kind="derived"),
    )


def _hbm(kind: str, capacity: float, bandwidth: float, source: Source) -> MemoryLevel:
    return MemoryLevel(f"{kind} (main memory)", capacity, bandwidth, None, "datasheet peak", source)


#: Special-function results per clock per SM on NVIDIA GPUs of compute capability 7.x-9.0.
_SFU_PER_CLOCK_PER_SM = 16


def _compute_units(sms: int, clock_hz: float, sms_from: Provenance, clock_from: Provenance,
                   exp: bool = True) -> dict[str, Any]:
    """SM count and boost clock with their provenance, and the exp throughput they imply
    (16 results per clock per SM, CUDA guide) where ``exp`` (NVIDIA parts)."""
    out: dict[str, Any] = dict(sm_count=sms, boost_clock_hz=clock_hz,
                               provenance={"sm_count": sms_from, "boost_clock_hz": clock_from})
    if exp:
        out["exp_throughput"] = _SFU_PER_CLOCK_PER_SM * sms * clock_hz
        out["provenance"]["exp_throughput"] = Provenance(
            "derived", _CUDA_ARITH, f"16 per clock per SM x {sms} SMs x "
            f"{clock_hz / 1e6:.0f} MHz")
    return out


def _link(name: str, bandwidth: float, bandwidth_from: Provenance, latency: float,
          units: dict[str, Any] | None = None,
          latency_from: Provenance | None = None) -> dict[str, Any]:
    """A device-to-device link: its name, bandwidth per direction and per-message latency
    (by default NCCL's own cost model), merged with ``units`` (from :func:`_compute_units`)."""
    out = dict(units or {}, interconnect=name, interconnect_bandwidth=bandwidth,
               interconnect_latency=latency)
    out["provenance"] = {**(units or {}).get("provenance", {}),
                         "interconnect_bandwidth": bandwidth_from,
                         "interconnect_latency": latency_from or Provenance(
                             "estimated", _NCCL_TUNING,
                             f"NCCL's hwLat per ring step, LL protocol, "
                             f"{'NVLink' if 'NVLink' in name else 'PCIe'}")}
    return out


def _with_provenance(figures: dict[str, Any], **more: Provenance) -> dict[str, Any]:
    """``figures`` with ``more`` entries added to its provenance (headline figures not
    printed as such, e.g. a system total divided by its GPUs)."""
    return {**figures, "provenance": {**figures.get("provenance", {}), **more}}


_NVLINK_LAT, _PCIE_LAT = 0.6e-6, 1.0e-6

_A100_UNITS = _compute_units(
    108, 1410e6, Provenance("datasheet", _HOPPER_BLOG, "Table 3, A100 column: SMs 108"),
    Provenance("datasheet", _HOPPER_BLOG, "Table 3, A100 column: GPU Boost Clock 1410 MHz"))
_A100_LINK = _link("NVLink 3", 300 * GB, Provenance(
    "derived", _HOPPER_BLOG, "'A100 includes 12 third-generation NVLink links to provide "
    "600 GB/sec total bandwidth': 300 GB/s each direction"), _NVLINK_LAT, _A100_UNITS)
_H100_CLOCK = Provenance("derived", _H100, "the clock behind the dense BF16 peak: 989.4 "
                         "TFLOP/s / (132 SMs x 4096 FLOP per clock per SM)")
_H100_UNITS = _compute_units(
    132, 1830e6, Provenance("datasheet", _HOPPER_BLOG, "'The H100 SXM5 GPU has 132 SMs'"),
    _H100_CLOCK)
_NVLINK4 = Provenance("derived", _HOPPER_BLOG, "'H100 includes 18 fourth-generation NVLink "
                      "links to provide 900 GB/sec total bandwidth': 450 GB/s each direction")
_PCIE4 = "PCIe Gen4 x16: 64 GB/s bidirectional, 32 GB/s each direction"
_RTX4090_PCIE = Source(
    "https://www.techpowerup.com/review/nvidia-geforce-rtx-4090-pci-express-scaling/29.html",
    "'NVIDIA GeForce RTX 4090 PCI-Express Scaling', conclusion: 'half the bandwidth of its "
    "native PCIe setting of PCI-Express 4.0 x16'", _READ, "techpowerup_4090_pcie")
_MI300X_RCCL = Source(
    "https://github.com/ROCm/system-acceptance-docs/blob/"
    "b754ce72603b9bb8a23c557cfcd5a16c2815e04c/docs/mi300x/performance-bench.rst",
    "RCCL example output, all_reduce_perf -g 8 (graph 0): 8 KB in 43.72 us, 4 KB in 45.01 us",
    _READ, "amd_mi300x_acceptance")

_DEVICES = [
    Device(
        name="a100-sxm-40gb", label="NVIDIA A100 SXM4 40GB", vendor="NVIDIA",
        peak_flops=_m(fp32=19.5, tf32=156, bf16=312, fp16=312, int8=624),
        sparse_peak_flops=_m(tf32=312, bf16=624, fp16=624, int8=1248),
        memory_bandwidth=1555 * GB, memory_capacity=40 * GB, memory_type="HBM2", source=_A100,
        levels=_ampere_levels(_hbm("HBM2", 40 * GB, 1555 * GB, _A100),
                              (36.0, 213.0, 574.6, _A100_40_LAT)),
        notes="Ampere tensor cores have no FP8. A100 datasheet figures are dense; sparse are "
              "marked *.",
        **_A100_LINK),
    Device(
        name="a100-sxm-80gb", label="NVIDIA A100 SXM4 80GB", vendor="NVIDIA",
        peak_flops=_m(fp32=19.5, tf32=156, bf16=312, fp16=312, int8=624),
        sparse_peak_flops=_m(tf32=312, bf16=624, fp16=624, int8=1248),
        memory_bandwidth=2039 * GB, memory_capacity=80 * GB, memory_type="HBM2e", source=_A100,
        levels=_ampere_levels(_hbm("HBM2e", 80 * GB, 2039 * GB, _A100),
                              (36.0, 211.0, 571.8, _A100_80_LAT)),
        notes="Same compute as the 40 GB part; faster, larger HBM2e.",
        **_A100_LINK),
    Device(
        name="h100-sxm", label="NVIDIA H100 SXM5 80GB", vendor="NVIDIA",
        peak_flops=_m(fp32=67, tf32=494.7, bf16=989.4, fp16=989.4, fp8=1978.9, int8=1978.9),
        sparse_peak_flops=_m(tf32=989.4, bf16=1978.9, fp16=1978.9, fp8=3957.8, int8=3957.8),
        memory_bandwidth=3.35 * TB, memory_capacity=80 * GB, memory_type="HBM3", source=_H100,
        levels=_hopper_levels(_hbm("HBM3", 80 * GB, 3.35 * TB, _H100)),
        notes="The datasheet's 1,979 TFLOPS BF16 is the 2:4-sparse figure; dense is half. "
              "Early documents quoted 3.0 TB/s; the datasheet says 3.35 TB/s. FlashAttention-3 "
              "gives 3.9 TFLOPS of special functions (exp), the catalog's exp throughput.",
        **_link("NVLink 4", 450 * GB, _NVLINK4, _NVLINK_LAT, {
            **_H100_UNITS, "provenance": {**_H100_UNITS["provenance"], "exp_throughput":
                                          Provenance("derived", _FA3_SFU, "16 per clock per SM "
                                                     "x 132 SMs x 1830 MHz = 3.9 TFLOPS")}})),
    Device(
        name="h100-pcie", label="NVIDIA H100 PCIe 80GB", vendor="NVIDIA",
        peak_flops=_m(fp32=51, tf32=378, bf16=756, fp16=756, fp8=1513, int8=1513),
        sparse_peak_flops=_m(tf32=756, bf16=1513, fp16=1513, fp8=3026, int8=3026),
        memory_bandwidth=2.0 * TB, memory_capacity=80 * GB, memory_type="HBM2e", source=_H100,
        levels=_hopper_levels(
            _hbm("HBM2e", 80 * GB, 2.0 * TB, _H100), sms=114, clock_hz=1620e6,
            nvlink=MemoryLevel("NVLink 4 bridge (to one other card)", None, 300 * GB, None,
                               "600 GB/s total = 300 GB/s each direction, the catalog's "
                               "interconnect figure (datasheet); no citable latency", _H100,
                               bandwidth_kind="derived"),
            l2=(6.9 * TB, _H100_PCIE_L2), latency=(34.2, 265.5, 658.4, 1755e6, _H100_PCIE_LAT)),
        notes="Fewer SMs and lower clocks than SXM; 350 W. Sparse figures halved for dense. "
              "The NVLink bridge joins pairs of cards only.",
        **_link("NVLink 4 bridge (pairs)", 300 * GB, Provenance(
            "derived", _H100, "NVLink bridge, 600 GB/s total: 300 GB/s each direction"),
            _NVLINK_LAT, _compute_units(
                114, 1620e6, Provenance("datasheet", _HOPPER_BLOG,
                                        "'the PCIe version has 114 SMs'"),
                Provenance("derived", _H100, "the clock behind the dense BF16 peak: 756 "
                           "TFLOP/s / (114 SMs x 4096 FLOP per clock per SM)")))),
    Device(
        name="h200", label="NVIDIA H200 SXM 141GB", vendor="NVIDIA",
        peak_flops=_m(fp32=67, tf32=494.7, bf16=989.4, fp16=989.4, fp8=1978.9, int8=1978.9),
        sparse_peak_flops=_m(tf32=989.4, bf16=1978.9, fp16=1978.9, fp8=3957.8, int8=3957.8),
        memory_bandwidth=4.8 * TB, memory_capacity=141 * GB, memory_type="HBM3e", source=_H200,
        levels=_hopper_levels(_hbm("HBM3e", 141 * GB, 4.8 * TB, _H200)),
        notes="Same Hopper compute as H100 SXM with more, faster memory: a lower ridge point.",
        **_link("NVLink 4", 450 * GB, Provenance("derived", _H200, "NVLink 900 GB/s: 450 GB/s "
                                                 "each direction"), _NVLINK_LAT,
                _compute_units(132, 1830e6, Provenance(
                    "derived", _H200, "the same GH100 as H100 SXM: every tensor peak on the "
                    "page equals the H100 SXM's, so 132 SMs at 1830 MHz"), _H100_CLOCK))),
    Device(
        name="b200", label="NVIDIA B200 (HGX/DGX, 180GB)", vendor="NVIDIA",
        peak_flops=_m(fp32=75, tf32=1125, bf16=2250, fp16=2250, fp8=4500, int8=4500),
        sparse_peak_flops=_m(tf32=2250, bf16=4500, fp16=4500, fp8=9000, int8=9000),
        memory_bandwidth=8 * TB, memory_capacity=180 * GB, memory_type="HBM3e", source=_B200,
        notes="Per-GPU figures are the 8-GPU system totals divided by 8. Blackwell also runs "
              "FP4 (not in this catalog's dtypes). Later B200 parts ship 192 GB. NVIDIA "
              "publishes neither the SM count nor the clock.",
        **_with_provenance(
            _link("NVLink 5", 900 * GB, Provenance(
                "derived", _B200, "NVLink 1.8 TB/s per GPU: 900 GB/s each direction"),
                _NVLINK_LAT),
            memory_bandwidth=Provenance("derived", _B200, "64 TB/s / 8 GPUs"),
            memory_capacity=Provenance("derived", _B200, "1,440 GB / 8 GPUs"),
            peak_flops=Provenance("derived", _B200, "system totals / 8; dense = sparse / 2"))),
    Device(
        name="l4", label="NVIDIA L4 24GB", vendor="NVIDIA",
        peak_flops=_m(fp32=30.3, tf32=60, bf16=121, fp16=121, fp8=242.5, int8=242.5),
        sparse_peak_flops=_m(tf32=120, bf16=242, fp16=242, fp8=485, int8=485),
        memory_bandwidth=300 * GB, memory_capacity=24 * GB, memory_type="GDDR6", source=_L4,
        notes="A 72 W inference card: datasheet tensor figures are sparse; dense is half. "
              "NVIDIA's page gives neither the SM count nor the clock.",
        **_link("PCIe Gen4 x16", 32 * GB, Provenance("derived", _L4, _PCIE4), _PCIE_LAT)),
    Device(
        name="l40s", label="NVIDIA L40S 48GB", vendor="NVIDIA",
        peak_flops=_m(fp32=91.6, tf32=183, bf16=362.05, fp16=362.05, fp8=733, int8=733),
        sparse_peak_flops=_m(tf32=366, bf16=733, fp16=733, fp8=1466, int8=1466),
        memory_bandwidth=864 * GB, memory_capacity=48 * GB, memory_type="GDDR6", source=_L40S,
        notes="No NVLink; PCIe Gen4 only. NVIDIA's page gives neither the SM count nor the "
              "clock.",
        **_link("PCIe Gen4 x16", 32 * GB, Provenance("derived", _L40S, _PCIE4), _PCIE_LAT)),
    Device(
        name="rtx-4090", label="NVIDIA GeForce RTX 4090 24GB", vendor="NVIDIA",
        peak_flops=_m(fp32=82.6, tf32=82.6, bf16=165.2, fp16=165.2, fp8=330.3, int8=660.6),
        sparse_peak_flops=_m(tf32=165.2, bf16=330.4, fp16=330.4, fp8=660.6, int8=1321.2),
        memory_bandwidth=1008 * GB, memory_capacity=24 * GB, memory_type="GDDR6X", source=_ADA,
        notes="GeForce tensor cores run FP16/BF16/FP8 at half rate with FP32 accumulate, the "
              "mode frameworks use; with FP16 accumulate FP16 reaches 330.3 TFLOPS. No NVLink: "
              "two cards talk over PCIe Gen4 x16.",
        **_link("PCIe Gen4 x16", 32 * GB, Provenance("derived", _RTX4090_PCIE, _PCIE4),
                _PCIE_LAT, _compute_units(
                    128, 2520e6, Provenance("datasheet", _ADA, "Appendix A: 128 SMs"),
                    Provenance("datasheet", _ADA, "Appendix A: Boost Clock 2520 MHz")))),
    Device(
        name="mi300x", label="AMD Instinct MI300X 192GB", vendor="AMD",
        peak_flops=_m(fp32=163.4, tf32=653.7, bf16=1307.4, fp16=1307.4, fp8=2614.9,
                      int8=2614.9),
        sparse_peak_flops=_m(tf32=1307.4, bf16=2614.9, fp16=2614.9, fp8=5229.8, int8=5229.8),
        memory_bandwidth=5.3 * TB, memory_capacity=192 * GB, memory_type="HBM3",
        source=_MI300X,
        notes="Measured BF16 matmul reaches about half of this peak (stas00/ml-engineering). "
              "AMD publishes no special-function rate. Its Infinity Fabric figure (128 GB/s "
              "per link, 7 links to the other GPUs of an 8-GPU platform) does not say per "
              "direction: the catalog reads it as both directions together, 448 GB/s each "
              "way over the 7 links, the lower reading. The per-step latency makes the ring "
              "model give RCCL's measured 8-GPU small all-reduce (about 44 us).",
        **_link("Infinity Fabric (7 links)", 448 * GB, Provenance(
            "estimated", _MI300X, "7 Infinity Fabric links of 128 GB/s, direction unstated: "
            "7 x 64 GB/s each way"), (43.72e-6 - 6.6e-6) / 14, _compute_units(
                304, 2100e6, Provenance("datasheet", _MI300X, "Compute Units 304"),
                Provenance("datasheet", _MI300X, "Peak Engine Clock 2100 MHz"), exp=False),
            latency_from=Provenance("derived", _MI300X_RCCL,
                                    "(43.72 us - NCCL's 6.6 us start-up) / 14 ring steps"))),
    Device(
        name="tpu-v5e", label="Google Cloud TPU v5e", vendor="Google",
        peak_flops=_m(bf16=197, int8=393), sparse_peak_flops=_m(),
        memory_bandwidth=819 * GB, memory_capacity=16 * GB, memory_type="HBM2", source=_V5E,
        notes="TPUs have no sparse tensor-core mode. Earlier versions of Google's page gave "
              "16 GiB and 394 int8 TOPS; some third-party tables wrongly give 1.6 TB/s."),
    Device(
        name="tpu-v5p", label="Google Cloud TPU v5p", vendor="Google",
        peak_flops=_m(bf16=459, int8=918), sparse_peak_flops=_m(),
        memory_bandwidth=2765 * GB, memory_capacity=95 * GB, memory_type="HBM2e", source=_V5P,
        notes="Some third-party tables wrongly give 4.8 TB/s; Google says 2,765 GB/s."),
    Device(
        name="m2-ultra", label="Apple M2 Ultra (192GB)", vendor="Apple",
        peak_flops=_m(), sparse_peak_flops=_m(),
        memory_bandwidth=800 * GB, memory_capacity=192 * GB, memory_type="unified LPDDR5",
        source=_M2U,
        notes="Apple publishes no GPU FLOP/s figure for M2 Ultra (only a 31.6 trillion op/s "
              "Neural Engine figure of unstated precision), so this catalog holds none: its "
              "bandwidth roof is known, its compute roof is not."),
]

#: Every device, by catalog name.
DEVICES: Mapping[str, Device] = MappingProxyType({d.name: d for d in _DEVICES})


def names() -> list[str]:
    """Catalog names, in catalog order.

    Examples
    --------
    >>> names()[:3]
    ['a100-sxm-40gb', 'a100-sxm-80gb', 'h100-sxm']
    """
    return list(DEVICES)


def get(name: "str | Device") -> Device:
    """Look a device up by catalog name (case-insensitive); a ``Device`` is returned as is.

    Examples
    --------
    >>> get("H200").memory_capacity / 1e9
    141.0
    >>> get(get("l4")).name
    'l4'
    >>> get("h100")
    Traceback (most recent call last):
    ...
    ValueError: device='h100' is not known; did you mean 'h100-sxm', 'h100-pcie', 'h200'? Accepted: a100-sxm-40gb, a100-sxm-80gb, h100-sxm, h100-pcie, h200, b200, l4, l40s, rtx-4090, mi300x, tpu-v5e, tpu-v5p, m2-ultra.
    """
    if isinstance(name, Device):
        return name
    return DEVICES[choice("device", name, DEVICES)]
