"""Tests of lib.memory and of the memory-hierarchy figures in lib.hardware.

Known answers pin every bandwidth and latency chapter 1 added to the catalog, so a
changed figure is a deliberate edit, not an accident; properties check the
latency-bandwidth model for any input; bad input must raise a helpful ValueError.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import exercises, hardware, kernels, memory, roofline

ROOT = Path(__file__).resolve().parents[1]

bandwidths = st.floats(min_value=1e6, max_value=1e14)
latencies = st.floats(min_value=1e-10, max_value=1e-3)
sizes = st.floats(min_value=1.0, max_value=1e12)
fractions = st.floats(min_value=1e-6, max_value=0.999)


# --- the catalog's hierarchy figures (known answers) ------------------------------

def lv(device: str, key: str) -> hardware.MemoryLevel:
    return memory.level(hardware.get(device), key)


# (device, level key, bandwidth byte/s or None, latency s or None)
FIGURES = [
    # A100: shared memory 128 B/clk/SM x 108 SMs x 1410 MHz; L2 5120 B/clk x 1410 MHz;
    # latencies measured in cycles at 1410 MHz (gpu-benches)
    ("a100-sxm-40gb", "l1", 128 * 108 * 1.41e9, 36.0 / 1.41e9),
    ("a100-sxm-40gb", "l2", 5120 * 1.41e9, 213.0 / 1.41e9),
    ("a100-sxm-40gb", "main memory", 1555e9, 574.6 / 1.41e9),
    ("a100-sxm-80gb", "l1", 128 * 108 * 1.41e9, 36.0 / 1.41e9),
    ("a100-sxm-80gb", "l2", 5120 * 1.41e9, 211.0 / 1.41e9),
    ("a100-sxm-80gb", "main memory", 2039e9, 571.8 / 1.41e9),
    # H100 SXM5 and H200: 132 SMs at the 1830 MHz tensor boost clock; nothing measured
    ("h100-sxm", "l1", 128 * 132 * 1.83e9, None),
    ("h100-sxm", "l2", None, None),
    ("h100-sxm", "main memory", 3.35e12, None),
    ("h200", "l1", 128 * 132 * 1.83e9, None),
    ("h200", "l2", None, None),
    ("h200", "main memory", 4.8e12, None),
    # H100 PCIe: 114 SMs at 1620 MHz; L2 bandwidth and latencies measured at 1755 MHz
    ("h100-pcie", "l1", 128 * 114 * 1.62e9, 34.2 / 1.755e9),
    ("h100-pcie", "l2", 6.9e12, 265.5 / 1.755e9),
    ("h100-pcie", "main memory", 2.0e12, 658.4 / 1.755e9),
    ("h100-pcie", "nvlink", 300e9, None),
    ("h100-pcie", "pcie", 64e9, None),
]


@pytest.mark.parametrize("device,key,bandwidth,latency", FIGURES)
def test_hierarchy_figures_known_answers(device, key, bandwidth, latency):
    level = lv(device, key)
    if bandwidth is None:
        assert level.bandwidth is None
    else:
        assert level.bandwidth == pytest.approx(bandwidth, rel=1e-12)
    if latency is None:
        assert level.latency is None
    else:
        assert level.latency == pytest.approx(latency, rel=1e-12)


def test_hierarchy_figures_in_readable_units():
    assert lv("a100-sxm-80gb", "l1").bandwidth / 1e12 == pytest.approx(19.49, abs=0.01)
    assert lv("a100-sxm-80gb", "l2").bandwidth / 1e12 == pytest.approx(7.22, abs=0.01)
    assert lv("h100-sxm", "l1").bandwidth / 1e12 == pytest.approx(30.92, abs=0.01)
    assert lv("h100-pcie", "main memory").latency * 1e9 == pytest.approx(375.2, abs=0.1)
    assert lv("a100-sxm-40gb", "main memory").latency * 1e9 == pytest.approx(407.5, abs=0.1)


def test_no_link_or_register_figure_is_invented():
    for name, dev in hardware.DEVICES.items():
        for level in dev.levels:
            if "register" in level.name:
                assert level.bandwidth is None and level.latency is None, name
            if "NVLink" in level.name or "PCIe" in level.name:
                assert level.latency is None, name
                assert level.capacity is None, name


def test_levels_are_ordered_and_consistent():
    for name, dev in hardware.DEVICES.items():
        if not dev.levels:
            continue
        keys = [memory.level(dev, k).name for k in memory.LEVELS]
        assert keys == [lvl.name for lvl in dev.levels], name
        main = memory.level(dev, "main memory")
        assert main.bandwidth == dev.memory_bandwidth and main.capacity == dev.memory_capacity
        nvlink = memory.level(dev, "nvlink")
        assert nvlink.bandwidth == dev.interconnect_bandwidth
        # closer to the compute is faster, where both figures are known
        known = [lvl for lvl in dev.levels[:4] if lvl.bandwidth is not None]
        assert [lvl.bandwidth for lvl in known] == sorted((lvl.bandwidth for lvl in known),
                                                          reverse=True)
        lat = [lvl.latency for lvl in dev.levels[1:4] if lvl.latency is not None]
        assert lat == sorted(lat)


def test_every_figure_is_labelled_and_cited():
    bib = (ROOT / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    for name, dev in hardware.DEVICES.items():
        for level in dev.levels:
            for src in level.sources():
                assert src.bibkey in keys, (name, level.name, src.bibkey)
                assert src.accessed >= "2026-11-24" and src.url.startswith("https://")
            note = level.note.lower()
            if level.latency is not None:     # every latency here is a measurement in cycles
                assert level.latency_source is not None, (name, level.name)
                assert level.latency_kind == "measured" and "mhz" in note, (name, level.name)
            if level.bandwidth_source is not None:   # not the level's own datasheet
                assert level.bandwidth_kind in ("measured", "derived"), (name, level.name)
            assert (level.bandwidth is None) == (level.bandwidth_kind is None)


def test_level_lookup_errors():
    with pytest.raises(ValueError, match="key='l3' is not known"):
        memory.level(hardware.get("h100-sxm"), "l3")
    with pytest.raises(ValueError, match="device='mi300x' has no memory hierarchy"):
        memory.level(hardware.get("mi300x"), "l2")
    with pytest.raises(ValueError, match="has no memory hierarchy"):
        memory.hierarchy_table(hardware.get("tpu-v5e"))


def test_hierarchy_table_marks_unknowns_and_kinds():
    table = str(memory.hierarchy_table("h100-pcie")).splitlines()
    assert table[0].split()[:2] == ["level", "capacity"]
    assert len(table) == 2 + 6
    assert "19.5 ns" in table[3] and "derived" in table[3] and "measured" in table[3]
    assert "6.9 TB/s" in table[4] and "151 ns" in table[4]
    assert "375 ns" in table[5] and "datasheet" in table[5]
    assert "—" in table[2]  # registers: no bandwidth or latency
    sxm = str(memory.hierarchy_table(hardware.get("h100-sxm")))
    assert "80 GB" in sxm and "74.5 GiB" in sxm  # GB and GiB both, explicitly


# --- the latency-bandwidth model -----------------------------------------------------

def test_known_answers():
    assert memory.transfer_time(3.35e12, 3.35e12) == 1.0
    assert memory.transfer_time(0, 1e9, 1e-6) == 1e-6
    assert memory.bytes_in_flight(2.0e12, 375e-9) == pytest.approx(750e3)
    assert memory.effective_bandwidth(750e3, 2.0e12, 375e-9) == pytest.approx(1.0e12)
    assert memory.size_for_fraction(0.9, 2.0e12, 375e-9) == pytest.approx(6.75e6)
    assert memory.bandwidth_from_concurrency(128, 375e-9, 2e12) == pytest.approx(128 / 375e-9)
    assert memory.tensor_bytes(6_738_415_616, "bf16") == 13_476_831_232
    assert memory.tensor_bytes(10, "int4") == 5


def test_vectorised():
    t = memory.transfer_time([1e3, 1e6, 1e9], 1e12, [1e-6, 1e-6, 0])
    np.testing.assert_allclose(t, [1e-6 + 1e-9, 2e-6, 1e-3])
    bw = memory.effective_bandwidth(np.logspace(3, 9, 7), 3.35e12, 5e-7)
    assert bw.shape == (7,) and np.all(np.diff(bw) > 0)


@given(sizes, bandwidths, latencies)
@settings(max_examples=200, deadline=None)
def test_effective_bandwidth_properties(n, bw, lat):
    eff = memory.effective_bandwidth(n, bw, lat)
    assert 0 < eff <= bw
    assert memory.transfer_time(n, bw, lat) >= lat
    assert memory.transfer_time(n, bw, lat) == pytest.approx(n / eff)
    # more bytes per transfer never lowers the achieved bandwidth
    assert memory.effective_bandwidth(2 * n, bw, lat) >= eff * (1 - 1e-12)
    # below B x L bytes, less than half of peak; above, more
    half = memory.bytes_in_flight(bw, lat)
    if n < half * (1 - 1e-9):
        assert eff < bw / 2
    elif n > half * (1 + 1e-9):
        assert eff > bw / 2


@given(fractions, bandwidths, latencies)
@settings(max_examples=200, deadline=None)
def test_size_for_fraction_inverts_effective_bandwidth(f, bw, lat):
    n = memory.size_for_fraction(f, bw, lat)
    assert memory.effective_bandwidth(n, bw, lat) / bw == pytest.approx(f, rel=1e-9)


@given(st.floats(min_value=1.0, max_value=1e10), latencies, bandwidths)
@settings(max_examples=200, deadline=None)
def test_littles_law(in_flight, lat, bw):
    got = memory.bandwidth_from_concurrency(in_flight, lat, bw)
    assert got <= bw
    if in_flight >= memory.bytes_in_flight(bw, lat):
        assert got == bw
    else:
        assert got == pytest.approx(in_flight / lat)


@pytest.mark.parametrize("call,match", [
    (lambda: memory.transfer_time(-1, 1e9), "nbytes=-1 must be a finite number >= 0"),
    (lambda: memory.transfer_time(1, 0), "bandwidth=0 must be a finite number > 0"),
    (lambda: memory.transfer_time(1, 1e9, -1e-9), "latency=-1e-09 must be"),
    (lambda: memory.effective_bandwidth(0, 1e9, 1e-6), "nbytes=0 must be"),
    (lambda: memory.bytes_in_flight(float("nan"), 1e-6), "bandwidth=nan must be"),
    (lambda: memory.size_for_fraction(1.5, 1e9, 1e-6), "fraction=1.5 must be below 1"),
    (lambda: memory.size_for_fraction([0.5, 1.0], 1e9, 1e-6), "fraction=1.0 must be below 1"),
    (lambda: memory.size_for_fraction(0, 1e9, 1e-6), "fraction=0 must be"),
    (lambda: memory.bandwidth_from_concurrency(1, 0, 1e9), "latency=0 must be"),
    (lambda: memory.tensor_bytes(1.5, "bf16"), "must be a whole number"),
    (lambda: memory.tensor_bytes(10, "bfloat16"), "did you mean 'bf16'"),
    (lambda: memory.weight_stream(7e9, "bf16", tokens=0), "tokens=0 must be"),
])
def test_bad_input_raises_helpful_errors(call, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        call()


# --- kernels on the roofline -------------------------------------------------------

def test_kernel_cost_agrees_with_roofline():
    dev = hardware.get("h100-sxm")
    k = kernels.dot(2**24, "bf16")
    c = memory.kernel_cost(k, dev, "bf16")
    assert c.time == roofline.kernel_time(k.flops, k.bytes_moved, dev.peak("bf16"),
                                          dev.memory_bandwidth)
    assert c.bound == "memory" and c.bandwidth_fraction == 1.0
    attainable = roofline.attainable_flops(k.intensity, dev.peak("bf16"), dev.memory_bandwidth)
    assert c.compute_fraction == pytest.approx(attainable / dev.peak("bf16"))
    assert c.compute_fraction == pytest.approx(0.5 * 3.35e12 / 989.4e12, rel=1e-4)


def test_kernel_cost_compute_bound_and_arrays():
    dev = hardware.get("a100-sxm-80gb")
    c = memory.kernel_cost(kernels.gemm(4096, 4096, 4096, "bf16"), dev)
    assert c.bound == "compute" and c.compute_fraction == 1.0 and c.bandwidth_fraction < 1
    w = memory.kernel_cost(memory.weight_stream(7_000_000_000, "bf16", [1, 64, 1024]), dev)
    assert list(w.bound) == ["memory", "memory", "compute"]
    with pytest.raises(ValueError, match="publishes no fp8 peak"):
        memory.kernel_cost(kernels.dot(1024, "fp8"), dev, "fp8")


def test_llama2_7b_decode_reads_weights_once_per_token():
    # 6,738,415,616 parameters, but the 32,000-row embedding table is read one row a token
    n = 6_738_415_616 - 31_999 * 4096
    c = memory.kernel_cost(memory.weight_stream(n, "bf16"), "h100-sxm")
    assert c.t_mem * 1e3 == pytest.approx(3.945, abs=1e-3)       # ms per token at batch 1
    assert c.compute_fraction == pytest.approx(3.35 / 989.4, rel=1e-6)  # intensity 1
    # chapter 1's weight stream is exactly the weight traffic of chapter 6's decode step
    from lib import inference, models
    assert models.get("llama-2-7b").params_read == n
    assert inference.decode("llama-2-7b", "h100-sxm", 1, 0).bytes_weights == c.bytes_moved


def test_fusion_multiplies_intensity():
    unfused = kernels.elementwise_chain(2**28, 8, "fp32")
    fused = kernels.elementwise_chain(2**28, 8, "fp32", fused=True)
    dev = hardware.get("a100-sxm-80gb")
    a, b = (memory.kernel_cost(k, dev, "fp32") for k in (unfused, fused))
    assert a.time / b.time == pytest.approx(8)


def test_tables_render_as_html():
    t = memory.cost_table([kernels.dot(1024, "bf16")], hardware.get("h100-sxm"))
    html = t._repr_html_()
    assert html.startswith("<table") and html.count("<tr>") == 2
    assert ">0.5<" in html and repr(t) == str(t)
    h = memory.hierarchy_table(hardware.get("a100-sxm-40gb"))._repr_html_()
    assert "L1 / shared memory (SRAM)" in h and h.count("<tr>") == 7


def test_cost_table():
    dev = hardware.get("h100-sxm")
    t = memory.cost_table([kernels.vector_add(2**24, "fp32"), kernels.gemv(4096, 4096)], dev,
                          "bf16")
    lines = str(t).splitlines()
    assert len(lines) == 4 and lines[0].startswith("kernel")
    assert "memory" in lines[2] and lines[3].startswith("GEMV")
    with pytest.raises(ValueError, match="one size per kernel"):
        memory.cost_table([kernels.dot([1024, 2048])], dev)


# --- chapter 1's exercises ---------------------------------------------------------

def test_chapter1_exercises_are_registered_and_consistent():
    ids = [i for i in exercises.ids() if i.startswith("ch01.")]
    assert len(ids) >= 4
    for i in ids:
        value = exercises.answer(i)
        assert np.isfinite(value) and value > 0, i
        assert exercises.check(i, value).correct
        assert not exercises.check(i, value * 3).correct
