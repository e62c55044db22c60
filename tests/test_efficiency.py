"""lib.efficiency and the calibrated estimate (inference's estimate_s): each factor is the
evidence's number, every device has factors, and the estimate behaves as its formula says."""

from __future__ import annotations

import numpy as np
import pytest

from lib import efficiency, hardware, inference, measurements, transformer
from lib.efficiency import EFFICIENCIES, WEIGHT_ONLY


def test_every_catalog_device_has_factors_with_provenance():
    assert set(EFFICIENCIES) == set(hardware.names())
    for e in EFFICIENCIES.values():
        for name in ("bandwidth", "matmul", "matmul_fp8", "attention", "kernel_s",
                     "streaming_kernel_s", "host_s", "attention_call_s", "matmul_shapes"):
            f = getattr(e, name)
            assert f.provenance.kind in hardware.KINDS
            assert f.provenance.source.bibkey and f.provenance.source.url.startswith("http")
            if f.provenance.kind == "estimated":
                assert f.provenance.note, f"{e.device}.{name}: an estimate must say from what"
        assert 0 < e.bandwidth.value <= 1 and 0 < e.matmul.value <= 1


@pytest.mark.parametrize("device,expected", [
    ("a100-sxm-80gb", 1759 / 2039),        # gpu-benches triad, A100 80 GB
    ("a100-sxm-40gb", 1375 / 1555),        # gpu-benches triad, A100 40 GB
    ("h100-pcie", 1832 / 2000),            # gpu-benches triad, H100 PCIe
    ("h200", 3534 / 4800),                 # gpu-benches triad, H200
    ("mi300x", 4177.285 / 5300),           # AMD's BabelStream minimum passing copy score
])
def test_bandwidth_fractions_are_the_microbenchmarks(device, expected):
    assert efficiency.get(device).bandwidth.value == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize("device,key", [("a100-sxm-80gb", "mamf-a100-sxm-bf16"),
                                        ("h100-sxm", "mamf-h100-sxm-bf16"),
                                        ("mi300x", "mamf-mi300x-bf16")])
def test_matmul_fractions_are_the_mamf_measurements(device, key):
    assert efficiency.get(device).matmul.value == pytest.approx(
        measurements.fraction_of_peak(key), abs=5e-4)


def test_attention_fractions_are_flashattention_2_and_3():
    assert efficiency.get("a100-sxm-80gb").attention.value == pytest.approx(
        measurements.fraction_of_peak("flashattention2-a100"), abs=5e-4)
    assert efficiency.get("h100-sxm").attention.value == pytest.approx(
        measurements.fraction_of_peak("flashattention3-h100"), abs=5e-4)


def test_launch_costs_and_int4_kernel_by_hand():
    # gpu-benches, graph mode: 65,536 bytes per kernel at 49 GB/s (A100 80 GB)
    assert efficiency.get("a100-sxm-80gb").kernel_s.value == pytest.approx(65536 / 49e9, rel=0.03)
    assert efficiency.get("l40s").kernel_s.value == pytest.approx(65536 / 70e9, rel=0.05)
    assert WEIGHT_ONLY["int4"].value == pytest.approx(3.59 / 3.87, abs=1e-3)   # Marlin's plot
    assert efficiency.get("h100-sxm").matmul_for("fp8").value == pytest.approx(1402.6 / 1978.9,
                                                                               abs=5e-4)


def test_layer_shapes_take_the_middle_of_the_finders_quick_sweep():
    # ml-engineering: a sweep of M at N = K = 4096 'should give around 80-90%' of MAMF
    shapes = efficiency.get("h100-sxm").matmul_shapes
    assert shapes.value == pytest.approx((0.80 + 0.90) / 2)
    assert shapes.provenance.kind == "estimated" and "80-90%" in shapes.provenance.source.where
    assert all(e.matmul_shapes == shapes for e in EFFICIENCIES.values())   # one for every device


def test_compute_bound_matrix_product_runs_at_mamf_times_the_layer_shapes():
    """The QKV projections of a 4,096-token prompt: compute-bound, so their calibrated time
    is their FLOPs over the peak times MAMF's fraction times the shapes'."""
    p = transformer.forward_pass("llama-2-7b", 1, 4096)
    op = next(o for o in transformer.ops(p) if o.name == "QKV projection")
    e = efficiency.get("a100-sxm-80gb")
    parts = inference.calibrated_parts([((op,), op.calls)], "a100-sxm-80gb", "bf16", "bf16")
    by_hand = op.flops / (312e12 * e.matmul.value * e.matmul_shapes.value)
    assert parts["memory"] == 0.0
    assert parts["math"] == pytest.approx(by_hand, rel=1e-9)
    assert parts["per-kernel"] == pytest.approx(op.calls * e.streaming_kernel_s.value)


def test_streaming_fit_recovers_a_line_and_the_published_runs():
    # a synthetic line: 2 µs plus the bytes at 1 TB/s, printed as GB/s
    rows = [(n, 16 * n / (2e-6 + 16 * n / 1e12) / 1e9) for n in (10**6, 10**7, 10**8)]
    t0, b = efficiency.streaming_fit(rows)
    assert t0 == pytest.approx(2e-6, rel=1e-9) and b == pytest.approx(1e12, rel=1e-9)
    # gpu-benches, graph mode, beyond four L2 caches: A100 80GB and H200
    t0, b = efficiency.streaming_fit(efficiency.STREAMING_RUNS["a100_80"])
    assert t0 == pytest.approx(3.33e-6, abs=0.01e-6) and b == pytest.approx(1759e9, rel=0.01)
    t0, b = efficiency.streaming_fit(efficiency.STREAMING_RUNS["h200"])
    assert t0 == pytest.approx(1.78e-6, abs=0.01e-6) and b == pytest.approx(3416e9, rel=0.001)
    assert efficiency.get("a100-sxm-80gb").streaming_kernel_s.value == pytest.approx(3.33e-6,
                                                                                     abs=1e-8)
    assert efficiency.get("h200").streaming_kernel_s.value == pytest.approx(1.78e-6, abs=1e-8)
    for e in EFFICIENCIES.values():     # streaming from DRAM never starts faster than a tiny kernel
        assert e.streaming_kernel_s.value > e.kernel_s.value


def test_unknown_device_gets_estimated_defaults():
    d = hardware.Device(name="my-gpu", label="my GPU", vendor="me",
                        peak_flops={"bf16": 100e12}, sparse_peak_flops={},
                        memory_bandwidth=1e12, memory_capacity=24e9, memory_type="GDDR6",
                        source=hardware.get("l4").source)
    e = efficiency.get(d)
    assert e.device == "my-gpu" and e.bandwidth.provenance.kind == "estimated"


# -- the estimate ---------------------------------------------------------------------------

@pytest.mark.parametrize("phase,kw", [
    ("decode", dict(batch=1, context=1024)), ("decode", dict(batch=64, context=4096)),
    ("prefill", dict(batch=1, prompt_len=2048)), ("prefill", dict(batch=8, prompt_len=128)),
])
@pytest.mark.parametrize("device", ["h100-sxm", "a100-sxm-80gb", "mi300x", "rtx-4090"])
def test_estimate_is_never_faster_than_the_floor(phase, kw, device):
    est = getattr(inference, phase)("llama-3-8b", device, **kw)
    assert est.estimate_s >= est.floor_s
    assert est.estimate_s >= est.memory_time_s / efficiency.get(device).bandwidth.value * 0.999


def test_batch_1_decode_by_hand():
    """Weights over the sustained bandwidth, plus one graph launch per kernel (a streaming
    kernel's for those that read weights) and the decode attention calls' fixed cost: the
    estimate to within a few percent."""
    est = inference.decode("llama-2-7b", "a100-sxm-80gb", batch=1, context=100)
    e = efficiency.get("a100-sxm-80gb")
    kernels = sum(o.calls for o in est.ops)
    attention_calls = sum(o.calls for o in est.ops if o.name in
                          ("attention scores QK^T", "softmax", "attention x V"))
    streaming = sum(o.calls for o in est.ops if o.roof == "matmul" and o.bytes_weights > 0)
    by_hand = (est.bytes / (2039e9 * e.bandwidth.value)
               + (kernels - attention_calls - streaming) * e.kernel_s.value
               + streaming * e.streaming_kernel_s.value
               + attention_calls * e.attention_call_s.value)
    assert est.estimate_s == pytest.approx(by_hand, rel=0.01)


def test_eager_launches_cost_more_when_kernels_are_short():
    graph = inference.decode("gpt2", "h100-sxm", batch=1, context=128)
    eager = inference.decode("gpt2", "h100-sxm", batch=1, context=128, cuda_graphs=False)
    n = sum(o.calls for o in eager.ops)
    assert eager.estimate_s > graph.estimate_s
    assert eager.estimate_s >= n * efficiency.get("h100-sxm").host_s.value
    assert eager.time_s == graph.time_s and eager.floor_s == graph.floor_s   # unchanged


def test_weight_only_int4_streams_less_efficiently():
    bf16 = inference.decode("llama-3-8b", "a100-sxm-80gb", 1, 512)
    int4 = inference.decode("llama-3-8b", "a100-sxm-80gb", 1, 512, weight_dtype="int4")
    ratio_bytes = int4.bytes_weights / bf16.bytes_weights
    assert ratio_bytes == pytest.approx(0.25, rel=0.02)
    # the int4 GEMMs are charged at 0.928 of the BF16 efficiency
    assert int4.estimate_s / bf16.estimate_s > ratio_bytes


def test_estimate_broadcasts():
    est = inference.decode("llama-3-8b", "h100-sxm", batch=[1, 8, 64], context=[[512], [8192]])
    assert np.shape(est.estimate_s) == (2, 3)
    assert np.all(np.diff(est.estimate_s, axis=1) > 0)
