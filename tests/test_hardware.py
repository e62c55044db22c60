"""Known-answer tests for every headline figure of the hardware catalog.

The table below is written from the primary sources (vendor datasheets, product
pages and whitepapers), *as the vendor prints them*, independently of
lib/hardware.py. Where the vendor prints only the 2:4-sparse tensor figure
(marked * on NVIDIA's Hopper, Ada and Blackwell sheets) the dense figure is that
number halved, which is what this table does. Units: TFLOP/s (TOP/s for int8),
GB/s, GB -- decimal, as printed.

Re-checked against the sources on 2026-11-24. If a test here fails, the catalog
and a datasheet disagree: find out which is right before touching either.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from lib import hardware, roofline

BIB = Path(__file__).resolve().parents[1] / "references.bib"

T = 1e12
G = 1e9


def _half(sparse: dict[str, float]) -> dict[str, float]:
    return {k: v / 2 for k, v in sparse.items()}


# name -> dense (TFLOP/s), sparse as printed (TFLOP/s), bandwidth (GB/s), capacity (GB), source
PRIMARY = {
    # NVIDIA A100 datasheet (r4), Specifications table, SXM columns: dense figures printed,
    # sparse ones marked *.
    "a100-sxm-40gb": dict(
        dense={"fp32": 19.5, "tf32": 156, "bf16": 312, "fp16": 312, "int8": 624},
        sparse={"tf32": 312, "bf16": 624, "fp16": 624, "int8": 1248},
        bandwidth=1555, capacity=40),
    "a100-sxm-80gb": dict(
        dense={"fp32": 19.5, "tf32": 156, "bf16": 312, "fp16": 312, "int8": 624},
        sparse={"tf32": 312, "bf16": 624, "fp16": 624, "int8": 1248},
        bandwidth=2039, capacity=80),
    # NVIDIA H100 datasheet, Technical Specifications: tensor figures printed with sparsity
    # ("* With sparsity"); FP32 (CUDA cores) is dense.
    "h100-sxm": dict(
        dense={"fp32": 67, **_half({"tf32": 989, "bf16": 1979, "fp16": 1979, "fp8": 3958,
                                    "int8": 3958})},
        sparse={"tf32": 989, "bf16": 1979, "fp16": 1979, "fp8": 3958, "int8": 3958},
        bandwidth=3350, capacity=80),
    "h100-pcie": dict(
        dense={"fp32": 51, **_half({"tf32": 756, "bf16": 1513, "fp16": 1513, "fp8": 3026,
                                    "int8": 3026})},
        sparse={"tf32": 756, "bf16": 1513, "fp16": 1513, "fp8": 3026, "int8": 3026},
        bandwidth=2000, capacity=80),
    # NVIDIA H200 product page, Specifications, H200 SXM column ("* With sparsity").
    "h200": dict(
        dense={"fp32": 67, **_half({"tf32": 989, "bf16": 1979, "fp16": 1979, "fp8": 3958,
                                    "int8": 3958})},
        sparse={"tf32": 989, "bf16": 1979, "fp16": 1979, "fp8": 3958, "int8": 3958},
        bandwidth=4800, capacity=141),
    # DGX B200 datasheet: 8 GPUs, 72 PFLOPS FP8 training (sparse), 1,440 GB HBM3e at
    # 64 TB/s -> per GPU 9,000 sparse FP8, 180 GB, 8,000 GB/s. HGX B200 page, per GPU:
    # FP16/BF16 4.5 PFLOPS*, INT8 9 POPS*, FP32 75 TFLOPS. TF32: see the test below.
    "b200": dict(
        dense={"fp32": 75, **_half({"bf16": 4500, "fp16": 4500, "fp8": 72000 / 8,
                                    "int8": 9000})},
        sparse={"bf16": 4500, "fp16": 4500, "fp8": 72000 / 8, "int8": 9000},
        bandwidth=64000 / 8, capacity=1440 / 8),
    # NVIDIA L4 product page, Specifications: tensor figures printed with sparsity.
    "l4": dict(
        dense={"fp32": 30.3, **_half({"tf32": 120, "bf16": 242, "fp16": 242, "fp8": 485,
                                      "int8": 485})},
        sparse={"tf32": 120, "bf16": 242, "fp16": 242, "fp8": 485, "int8": 485},
        bandwidth=300, capacity=24),
    # NVIDIA L40S product page: "dense | sparse*" printed side by side.
    "l40s": dict(
        dense={"fp32": 91.6, "tf32": 183, "bf16": 362.05, "fp16": 362.05, "fp8": 733,
               "int8": 733},
        sparse={"tf32": 366, "bf16": 733, "fp16": 733, "fp8": 1466, "int8": 1466},
        bandwidth=864, capacity=48),
    # NVIDIA Ada GPU Architecture whitepaper, Appendix A, GeForce RTX 4090 (dense/sparse);
    # FP16/BF16/FP8 with FP32 accumulate.
    "rtx-4090": dict(
        dense={"fp32": 82.6, "tf32": 82.6, "bf16": 165.2, "fp16": 165.2, "fp8": 330.3,
               "int8": 660.6},
        sparse={"tf32": 165.2, "bf16": 330.4, "fp16": 330.4, "fp8": 660.6, "int8": 1321.2},
        bandwidth=1008, capacity=24),
    # AMD Instinct MI300X data sheet: dense figures, "with sparsity" listed separately.
    "mi300x": dict(
        dense={"fp32": 163.4, "tf32": 653.7, "bf16": 1307.4, "fp16": 1307.4, "fp8": 2614.9,
               "int8": 2614.9},
        sparse={"tf32": 1307.4, "bf16": 2614.9, "fp16": 2614.9, "fp8": 5229.8,
                "int8": 5229.8},
        bandwidth=5300, capacity=192),
    # Google Cloud TPU v5e / v5p documentation, key chip specifications (no sparse mode).
    "tpu-v5e": dict(dense={"bf16": 197, "int8": 393}, sparse={}, bandwidth=819, capacity=16),
    "tpu-v5p": dict(dense={"bf16": 459, "int8": 918}, sparse={}, bandwidth=2765, capacity=95),
    # Apple newsroom, M2 Ultra: 800 GB/s, up to 192 GB unified memory; no GPU FLOP/s.
    "m2-ultra": dict(dense={}, sparse={}, bandwidth=800, capacity=192),
}

#: The exact catalog names, in catalog order.
NAMES = ["a100-sxm-40gb", "a100-sxm-80gb", "h100-sxm", "h100-pcie", "h200", "b200", "l4", "l40s",
         "rtx-4090", "mi300x", "tpu-v5e", "tpu-v5p", "m2-ultra"]

#: Ridge points (dense BF16 FLOP/s / bandwidth), rounded to the nearest FLOP/byte.
RIDGES = {"a100-sxm-40gb": 201, "a100-sxm-80gb": 153, "h100-sxm": 295, "h100-pcie": 378,
          "h200": 206, "b200": 281, "l4": 403, "l40s": 419, "rtx-4090": 164, "mi300x": 247,
          "tpu-v5e": 241, "tpu-v5p": 166}

#: Printed figures agree with the catalog to this relative tolerance. 0.1% absorbs the
#: datasheets' rounding (NVIDIA prints 1,979* where the whitepaper gives 1,978.9).
REL = 1e-3

#: Where the vendor's own sparse figure is not twice its dense one. The L40S page prints
#: BF16/FP16 as "362.05 | 733*": 733 / 362.05 = 2.02 (every other L40S pair is exactly 2x).
NOT_EXACTLY_DOUBLE = {("l40s", "bf16"), ("l40s", "fp16")}


def _dense_cases():
    return [(n, dt, v) for n, row in PRIMARY.items() for dt, v in row["dense"].items()]


def _sparse_cases():
    return [(n, dt, v) for n, row in PRIMARY.items() for dt, v in row["sparse"].items()]


def test_catalog_names_are_exact():
    assert hardware.names() == NAMES
    assert set(PRIMARY) == set(NAMES)


@pytest.mark.parametrize("name,dtype,tflops", _dense_cases())
def test_dense_peak_matches_primary_source(name, dtype, tflops):
    assert hardware.get(name).peak(dtype) == pytest.approx(tflops * T, rel=REL)


@pytest.mark.parametrize("name", NAMES)
def test_catalog_publishes_exactly_the_vendors_dtypes(name):
    dev = hardware.get(name)
    expected_dense = set(PRIMARY[name]["dense"])
    if name == "b200":
        expected_dense |= {"tf32"}  # checked separately below
    assert set(dev.peak_flops) == expected_dense
    expected_sparse = set(PRIMARY[name]["sparse"]) | ({"tf32"} if name == "b200" else set())
    assert set(dev.sparse_peak_flops) == expected_sparse


@pytest.mark.parametrize("name,dtype,tflops", _sparse_cases())
def test_sparse_figure_matches_primary_source(name, dtype, tflops):
    assert hardware.get(name).sparse_peak_flops[dtype] == pytest.approx(tflops * T, rel=REL)


@pytest.mark.parametrize("name,dtype", [(n, dt) for n in NAMES
                                        for dt in hardware.get(n).sparse_peak_flops])
def test_sparse_is_twice_dense(name, dtype):
    dev = hardware.get(name)
    ratio = dev.sparse_peak_flops[dtype] / dev.peak_flops[dtype]
    if (name, dtype) in NOT_EXACTLY_DOUBLE:
        assert ratio == pytest.approx(733 / 362.05)
    else:
        assert ratio == pytest.approx(2.0, rel=REL)


@pytest.mark.parametrize("name", NAMES)
def test_dense_is_never_the_sparse_figure(name):
    dev = hardware.get(name)
    for dtype, sparse in dev.sparse_peak_flops.items():
        assert dev.peak(dtype) < sparse


def test_b200_tf32_between_nvidias_two_printed_figures():
    # NVIDIA's Blackwell documents print HGX B200 TF32 two ways: 18 PFLOPS* for 8 GPUs
    # (2.25 PFLOPS* each) in the launch datasheet, 2.2 PFLOPS* per GPU on the current
    # HGX page. The catalog takes the first; the dense figure is half of either.
    tf32 = hardware.get("b200").peak("tf32")
    assert 2200 / 2 * T <= tf32 <= 2250 / 2 * T


@pytest.mark.parametrize("name", NAMES)
def test_bandwidth_matches_primary_source(name):
    assert hardware.get(name).memory_bandwidth == pytest.approx(
        PRIMARY[name]["bandwidth"] * G, rel=REL)


@pytest.mark.parametrize("name", NAMES)
def test_capacity_matches_primary_source(name):
    assert hardware.get(name).memory_capacity == pytest.approx(PRIMARY[name]["capacity"] * G,
                                                               rel=REL)


@pytest.mark.parametrize("name,ridge", sorted(RIDGES.items()))
def test_bf16_ridge_point(name, ridge):
    dev = hardware.get(name)
    assert round(roofline.ridge_point(dev.peak("bf16"), dev.memory_bandwidth)) == ridge


def test_ridge_table_sorted_and_complete():
    rows = roofline.ridge_table("bf16")
    assert [r.device for r in rows if r.ridge is not None] == sorted(RIDGES, key=RIDGES.get)
    assert {r.device: round(r.ridge) for r in rows if r.ridge is not None} == RIDGES
    assert rows[-1].device == "m2-ultra" and rows[-1].ridge is None


def test_well_known_pitfalls_are_not_in_the_catalog():
    # the sparse 1,979 TFLOP/s used as H100 BF16; an early 3.0 TB/s; TPU tables copied wrong
    assert hardware.get("h100-sxm").peak("bf16") < 1000 * T
    assert hardware.get("h100-sxm").memory_bandwidth == 3.35e12
    assert hardware.get("tpu-v5e").memory_bandwidth == 819 * G
    assert hardware.get("tpu-v5p").memory_bandwidth == 2765 * G


def test_m2_ultra_has_no_compute_peak_and_says_so():
    m2 = hardware.get("m2-ultra")
    assert dict(m2.peak_flops) == {}
    assert "no GPU FLOP/s" in m2.notes
    with pytest.raises(ValueError, match=r"Apple publishes no bf16 peak for m2-ultra.*"
                                         r"Published: none"):
        m2.peak("bf16")
    row = [r for r in roofline.ridge_table("bf16") if r.device == "m2-ultra"][0]
    assert row.peak_flops is None and row.ridge is None and row.note == m2.notes


def test_missing_dtype_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match=r"NVIDIA publishes no fp8 peak for a100-sxm-80gb"):
        hardware.get("a100-sxm-80gb").peak("fp8")
    with pytest.raises(ValueError, match=r"dtype='bfloat16' is not known; did you mean 'bf16'"):
        hardware.get("h100-sxm").peak("bfloat16")


def _bibkeys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(), flags=re.M))


@pytest.mark.parametrize("name", NAMES)
def test_every_source_is_in_references_bib(name):
    dev = hardware.get(name)
    keys = _bibkeys()
    assert dev.source.bibkey in keys
    for level in dev.levels:
        for src in level.sources():
            assert src.bibkey in keys
    for p in dev.provenance.values():
        assert p.source.bibkey in keys and p.source.url.startswith("https://")
    assert dev.source.url.startswith("https://")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", dev.source.accessed)


@pytest.mark.parametrize("typo,close", [("h100", "h100-sxm"), ("a100", "a100-sxm-80gb"),
                                        ("H100-SXM5", "h100-sxm"), ("mi300", "mi300x"),
                                        ("tpu-v5", "tpu-v5e"), ("4090", "rtx-4090")])
def test_unknown_device_suggests_close_names(typo, close):
    with pytest.raises(ValueError, match=r"device=.* is not known; did you mean") as info:
        hardware.get(typo)
    assert repr(close) in str(info.value)
    assert "Accepted: a100-sxm-40gb" in str(info.value)


def test_lookup_is_case_insensitive():
    assert hardware.get("H200") is hardware.get("h200")


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_is_finite_and_positive(name):
    dev = hardware.get(name)
    for v in [*dev.peak_flops.values(), *dev.sparse_peak_flops.values(),
              dev.memory_bandwidth, dev.memory_capacity]:
        assert math.isfinite(v) and v > 0


# --- compute units, special functions and links (primary sources, written out here) -------

# name -> (SMs or CUs, boost clock MHz). A100: Hopper in-depth blog, Table 3 (108 SMs,
# 1410 MHz). H100: "The H100 SXM5 GPU has 132 SMs, and the PCIe version has 114 SMs"; the
# clock behind each dense tensor peak is peak / (SMs x 4096 FLOP per clock). RTX 4090: Ada
# whitepaper, Appendix A (128 SMs, 2520 MHz). MI300X: AMD data sheet (304 CUs, 2100 MHz).
UNITS = {"a100-sxm-40gb": (108, 1410), "a100-sxm-80gb": (108, 1410), "h100-sxm": (132, 1830),
         "h100-pcie": (114, 1620), "h200": (132, 1830), "rtx-4090": (128, 2520),
         "mi300x": (304, 2100)}
# name -> (link, GB/s per direction, per-message latency us). NVLink totals halved (A100
# 600, H100/H200 900, B200 1800 GB/s; the H100 PCIe bridge 600); PCIe Gen4 x16 64 GB/s
# both ways (L4, L40S pages). Latency: NCCL tuning.cc, ring LL hwLat, NVLink 0.6, PCIe 1.0.
LINKS = {"a100-sxm-40gb": ("NVLink 3", 300, 0.6), "a100-sxm-80gb": ("NVLink 3", 300, 0.6),
         "h100-sxm": ("NVLink 4", 450, 0.6), "h100-pcie": ("NVLink 4 bridge (pairs)", 300, 0.6),
         "h200": ("NVLink 4", 450, 0.6), "b200": ("NVLink 5", 900, 0.6),
         "l4": ("PCIe Gen4 x16", 32, 1.0), "l40s": ("PCIe Gen4 x16", 32, 1.0),
         "rtx-4090": ("PCIe Gen4 x16", 32, 1.0),
         # 7 Infinity Fabric links of 64 GB/s each way; the step latency that gives RCCL's
         # measured 43.72 us for an 8 KB all-reduce over 8 GPUs: (43.72 - 6.6) / 14
         "mi300x": ("Infinity Fabric (7 links)", 448, (43.72 - 6.6) / 14)}


@pytest.mark.parametrize("name", NAMES)
def test_compute_units_and_clocks(name):
    dev = hardware.get(name)
    assert (dev.sm_count, dev.boost_clock_hz and dev.boost_clock_hz / 1e6) == UNITS.get(
        name, (None, None))


@pytest.mark.parametrize("name", [n for n in UNITS if n != "mi300x"])
def test_tensor_peak_is_sms_times_clock(name):
    dev = hardware.get(name)
    # dense FP16 FLOP per clock per SM: Hopper 4096, Ampere 2048 (whitepapers); GeForce Ada
    # 512 with FP32 accumulate (Ada whitepaper, half of the FP16-accumulate rate)
    flop_per_clock = {"a100-sxm-40gb": 2048, "a100-sxm-80gb": 2048, "rtx-4090": 512}.get(
        name, 4096)
    assert dev.peak("fp16") == pytest.approx(dev.sm_count * flop_per_clock
                                             * dev.boost_clock_hz, rel=0.002)


def test_special_function_throughput():
    # FlashAttention-3, section 3.1: "the H100 SXM5 GPU has 989 TFLOPS of FP16 matmul but
    # only 3.9 TFLOPS of special functions such as exponential"
    h100 = hardware.get("h100-sxm")
    assert h100.exp_throughput == pytest.approx(3.9e12, rel=0.01)
    assert h100.peak("bf16") / h100.exp_throughput == pytest.approx(256, rel=0.01)
    for name, dev in hardware.DEVICES.items():   # 16 per clock per SM where NVIDIA says SMs
        if dev.exp_throughput is not None:
            assert dev.vendor == "NVIDIA"
            assert dev.exp_throughput == 16 * dev.sm_count * dev.boost_clock_hz
            assert dev.provenance_of("exp_throughput").kind == "derived"


@pytest.mark.parametrize("name", NAMES)
def test_links(name):
    dev = hardware.get(name)
    if name not in LINKS:
        assert (dev.interconnect, dev.interconnect_bandwidth, dev.interconnect_latency) == (
            "", None, None)
        return
    link, gbs, us = LINKS[name]
    assert dev.interconnect == link
    assert dev.interconnect_bandwidth == gbs * G
    assert dev.interconnect_latency == pytest.approx(us * 1e-6)
    nvlink = [lv for lv in dev.levels if "NVLink" in lv.name]
    if nvlink:                                  # the hierarchy and the link agree
        assert nvlink[0].bandwidth == dev.interconnect_bandwidth


@pytest.mark.parametrize("name", NAMES)
def test_every_optional_figure_has_its_provenance(name):
    dev = hardware.get(name)
    for figure in hardware.OPTIONAL_FIGURES:
        if getattr(dev, figure) is None:
            with pytest.raises(ValueError, match=f"holds no {figure} for {name}"):
                dev.provenance_of(figure)
        else:
            assert dev.provenance_of(figure).kind in hardware.KINDS
    assert dev.provenance_of("memory_bandwidth").kind == ("derived" if name == "b200"
                                                          else "datasheet")


def test_devices_are_built_with_keywords_and_checked():
    base = dict(name="x", label="X", vendor="V", peak_flops={}, sparse_peak_flops={},
                memory_bandwidth=1e12, memory_capacity=1e9, memory_type="HBM",
                source=hardware.get("l4").source)
    hardware.Device(**base)
    with pytest.raises(ValueError, match="sm_count of 'x': a figure and its provenance"):
        hardware.Device(**base, sm_count=10)
    with pytest.raises(ValueError, match="kind='guessed' is not known"):
        hardware.Provenance("guessed", base["source"])
    with pytest.raises(ValueError, match="latency_kind=None for latency=1e-06"):
        hardware.MemoryLevel("L9", None, None, 1e-6, "", base["source"], bandwidth_kind=None)
    d = hardware.get("h100-sxm")
    assert hardware.get(d) is d and d.short_label == "H100 SXM5 80GB"
    assert hardware.get("mi300x").short_label == "MI300X 192GB"
    assert d.to_dict()["provenance"]["exp_throughput"]["source"]["bibkey"] == \
        "shah2024flashattention3"
