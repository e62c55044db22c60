"""lib.measurements: published measurements, pinned to the values their sources print."""

from __future__ import annotations

import re

import pytest

from lib import hardware, measurements
from lib.hardware import Source
from lib.measurements import Measurement

# key -> (device, value in SI units, as printed), typed from each source by hand
PRINTED = {
    # gpt-fast README @32971d3, 'Benchmarks' table and the note below Tensor Parallelism
    "gpt-fast-llama2-7b-bf16": ("a100-sxm-80gb", 104.9, "104.9 tokens/s"),
    "gpt-fast-llama2-7b-int8": ("a100-sxm-80gb", 155.58, "155.58 tokens/s"),
    "gpt-fast-llama2-7b-bf16-tp2": ("a100-sxm-80gb", 168.84, "168.84 tokens/s"),
    "gpt-fast-llama2-7b-bf16-tp4": ("a100-sxm-80gb", 254.02, "254.02 tokens/s"),
    "gpt-fast-llama2-7b-bf16-tp8": ("a100-sxm-80gb", 328.43, "328.43 tokens/s"),
    "gpt-fast-llama2-7b-bf16-bandwidth": ("a100-sxm-80gb", 1397.31e9, "1397.31 GB/s"),
    "gpt-fast-a100-empirical-bandwidth": ("a100-sxm-80gb", 1700e9, "about 1700 GB/s"),
    # stas00/ml-engineering @744d01e, MAMF comparison table, BF16
    "mamf-a100-sxm-bf16": ("a100-sxm-80gb", 271.2e12, "271.2 TFLOPS"),
    "mamf-h100-sxm-bf16": ("h100-sxm", 794.5e12, "794.5 TFLOPS"),
    "mamf-mi300x-bf16": ("mi300x", 668.4e12, "668.4 TFLOPS"),
    # AMD ROCm blog, Measuring Max-Achievable FLOPs Part 2, Table 1
    "amd-maf-mi300x-bf16": ("mi300x", 708e12, "708 TFLOPs"),
    "amd-maf-mi300x-bf16-clock": ("mi300x", 1207e6, "1207 MHz"),
    # FlashAttention-2 (Section 1) and FlashAttention-3 (arXiv v1 abstract)
    "flashattention2-a100": ("a100-sxm-80gb", 230e12, "230 TFLOPs/s"),
    "flashattention3-h100": ("h100-sxm", 740e12, "740 TFLOPs/s"),
}

# the efficiency each source prints beside its value, against its own 'theory' figure
PRINTED_EFFICIENCY = {
    "mamf-a100-sxm-bf16": 0.869, "mamf-h100-sxm-bf16": 0.803, "mamf-mi300x-bf16": 0.514,
    "flashattention2-a100": 0.73, "flashattention3-h100": 0.75,
}
THEORY_TFLOPS = {"mamf-a100-sxm-bf16": 312, "mamf-h100-sxm-bf16": 989,
                 "mamf-mi300x-bf16": 1300, "flashattention2-a100": 312,
                 "flashattention3-h100": 989}

SCALE = {"T": 1e12, "G": 1e9, "M": 1e6, "": 1.0}


def test_every_measurement_is_pinned():
    assert set(measurements.keys()) == set(PRINTED)


@pytest.mark.parametrize("key", sorted(PRINTED))
def test_value_as_printed_in_its_source(key):
    device, value, printed = PRINTED[key]
    m = measurements.get(key)
    assert m.device == device
    assert m.value == pytest.approx(value, rel=1e-12)
    assert m.printed == printed


@pytest.mark.parametrize("key", sorted(PRINTED))
def test_printed_text_agrees_with_the_value(key):
    m = measurements.get(key)
    number, prefix = re.search(r"([\d.]+) ?([TGM]?)", m.printed).groups()
    assert float(number) * SCALE[prefix] == pytest.approx(m.value, rel=1e-12)


@pytest.mark.parametrize("key", sorted(PRINTED_EFFICIENCY))
def test_efficiency_matches_the_source(key):
    m = measurements.get(key)
    # against the source's own 'theory' figure, the source's efficiency to its last digit
    # (MAMF prints 0.1 %; the FlashAttention papers a whole per cent, rounded down)
    last_digit = 1e-3 if key.startswith("mamf") else 1e-2
    assert m.value / (THEORY_TFLOPS[key] * 1e12) == pytest.approx(PRINTED_EFFICIENCY[key],
                                                                   abs=last_digit)
    # against the catalog's dense peak, within a percent of it
    assert measurements.fraction_of_peak(m) == pytest.approx(PRINTED_EFFICIENCY[key], rel=0.02)


@pytest.mark.parametrize("key", sorted(PRINTED))
def test_every_entry_has_a_source_and_conditions(key):
    m = measurements.get(key)
    assert m.source.url.startswith("https://") and m.source.where and m.conditions
    assert m.source.accessed == "2026-11-30"
    assert m.bibkey in {"gpt_fast", "stas_ml_engineering", "amd_maf_part2",
                        "dao2023flashattention2", "shah2024flashattention3"}


def test_shapes_are_the_published_best_shapes():
    assert dict(measurements.get("mamf-h100-sxm-bf16").shape) == {"m": 2048, "n": 2048,
                                                                  "k": 13312}
    assert dict(measurements.get("amd-maf-mi300x-bf16").shape) == {"m": 4096, "n": 4864,
                                                                   "k": 32896}


def test_gpt_fast_bandwidth_column_is_its_tokens_times_bytes():
    # gpt-fast's 'Memory Bandwidth' = its model size x tokens/s: 13.32 GB per token
    bw = measurements.get("gpt-fast-llama2-7b-bf16-bandwidth").value
    tok = measurements.get("gpt-fast-llama2-7b-bf16").value
    assert bw / tok / 1e9 == pytest.approx(13.32, abs=0.01)


def test_for_device():
    assert [m.key for m in measurements.for_device("mi300x")] == [
        "mamf-mi300x-bf16", "amd-maf-mi300x-bf16", "amd-maf-mi300x-bf16-clock"]
    assert measurements.for_device("l4") == []


def test_validation():
    src = Source("https://example.org", "t", "2026-11-30", "k")
    with pytest.raises(ValueError, match=r"unit='tok/s' is not known"):
        Measurement("x", "h100-sxm", "w", 1.0, "tok/s", "1", "", "c", src)
    with pytest.raises(ValueError, match=r"device='h100' is not known"):
        Measurement("x", "h100", "w", 1.0, "token/s", "1", "", "c", src)
    with pytest.raises(ValueError, match=r"value=0"):
        Measurement("x", "h100-sxm", "w", 0.0, "token/s", "0", "", "c", src)
    with pytest.raises(ValueError, match=r"in Hz: only a FLOP/s or byte/s"):
        measurements.fraction_of_peak("amd-maf-mi300x-bf16-clock")


def test_measurements_are_below_their_roofs():
    for m in measurements.MEASUREMENTS.values():
        if m.unit in ("FLOP/s", "byte/s"):
            assert 0 < measurements.fraction_of_peak(m) < 1, m.key


def test_catalog_devices_exist():
    for m in measurements.MEASUREMENTS.values():
        assert hardware.get(m.device).name == m.device
