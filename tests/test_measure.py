"""lib.measure: deterministic logic exactly (grids, bands, fits, byte counts, the torch-absent
path), and one smoke test of real tiny measurements that asserts only plausibility: timings
vary from run to run and machine to machine, so no test holds a timing threshold."""

from __future__ import annotations

import builtins
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import hardware, inference, measure, models, roofline
from lib.measure import KiB, MiB


# --- timing summaries ---------------------------------------------------------------------------

def test_summarise_median_quartiles_by_hand():
    # sorted per call (inner=2): 0.5, 1, 1.5, 2, 50; numpy's linear percentiles
    t = measure.summarise([4.0, 1.0, 3.0, 2.0, 100.0], inner=2)
    assert (t.median_s, t.q1_s, t.q3_s, t.min_s) == (1.5, 1.0, 2.0, 0.5)
    assert t.iqr_s == 1.0 and t.repeats == 5 and t.inner == 2
    assert json.loads(json.dumps(t.to_dict()))["iqr_s"] == 1.0


@pytest.mark.parametrize("bad", [[], [[1.0]], [-1.0, 2.0]])
def test_summarise_rejects_bad_samples(bad):
    with pytest.raises(ValueError, match="samples"):
        measure.summarise(bad)


def test_a_second_pass_keeps_the_faster_median(monkeypatch):
    # the first pass is disturbed (10 ms per call), the second is not (1 ms): the peak keeps 1 ms
    medians = iter([1e-2, 1e-3])
    monkeypatch.setattr(measure, "time_call", lambda fn, **kw: measure.summarise(
        [next(medians)] * 3))
    g = measure.gemm_sweep([8], "fp32", passes=2)
    assert g.median_s.tolist() == [1e-3] and g.peak == 2 * 8**3 / 1e-3


def test_time_call_with_a_fake_clock_is_exact():
    # each call advances the clock by 1 ms: calibration settles on 2 calls per batch of 2 ms
    now = [0.0]

    def clock():
        return now[0]

    def fn():
        now[0] += 1e-3
    t = measure.time_call(fn, repeats=3, min_time_s=2e-3, clock=clock)
    assert t.inner >= 2 and t.median_s == pytest.approx(1e-3) and t.iqr_s == pytest.approx(0)


@pytest.mark.parametrize("kw,name", [({"repeats": 0}, "repeats"),
                                     ({"min_time_s": -1}, "min_time_s")])
def test_time_call_checks_its_arguments(kw, name):
    with pytest.raises(ValueError, match=name):
        measure.time_call(lambda: None, **kw)


# --- grids, bands and byte counts ---------------------------------------------------------------

def test_size_grid_by_hand():
    assert (measure.size_grid(16 * KiB, 128 * KiB) // KiB).tolist() == [16, 32, 64, 128]
    # half octaves: 16 * sqrt(2) = 22.6 -> 24 (4 KiB multiples), 45.3 -> 44
    assert (measure.size_grid(16 * KiB, 64 * KiB, 2) // KiB).tolist() == [16, 24, 32, 44, 64]
    with pytest.raises(ValueError, match="hi_bytes"):
        measure.size_grid(64 * KiB, 16 * KiB)


@settings(max_examples=50, deadline=None)
@given(lo=st.integers(1, 2**20), octaves=st.floats(0, 12), k=st.integers(1, 4))
def test_size_grid_is_sorted_unique_and_within_range(lo, octaves, k):
    hi = lo * 2**octaves
    g = measure.size_grid(lo, hi, k, multiple=64)
    assert np.all(np.diff(g) > 0) and np.all(g % 64 == 0)
    assert g[0] <= max(64, lo + 32) and g[-1] <= max(64, hi + 32)


def test_stream_kernels_count_bytes_as_lib_kernels_do():
    # add: a, b read and c written, 3 arrays of n FP32 = the working set; 1 FLOP per element
    n, k = measure.stream_kernel("add", 3 * 4 * 1000)
    assert int(n) == 1000 and float(k.bytes_moved) == 12000 and float(k.flops) == 1000
    # dot: 2 arrays read, one number written; 2 FLOP per element
    n, k = measure.stream_kernel("dot", 2 * 4 * 1000)
    assert int(n) == 1000 and float(k.bytes_moved) == 8004 and float(k.flops) == 2000
    with pytest.raises(ValueError, match="'ad'.*did you mean 'add'"):
        measure.stream_kernel("ad", 1024)


def test_level_bands_and_bandwidths_by_hand():
    caches = {"L1": 48 * KiB, "L2": 1 * MiB, "L3": 32 * MiB}
    bands = measure.level_bands(caches)
    assert bands == {"L1": (0.0, 24 * KiB), "L2": (96 * KiB, 512 * KiB),
                     "L3": (2 * MiB, 16 * MiB), "memory": (128 * MiB, math.inf)}
    ws = [16 * KiB, 64 * KiB, 128 * KiB, 256 * KiB, 1 * MiB, 8 * MiB, 128 * MiB, 256 * MiB]
    bw = [50e9, 99e9, 150e9, 170e9, 1e9, 100e9, 40e9, 44e9]
    # 64 KiB and 1 MiB straddle two levels and count for none
    assert measure.level_bandwidths(ws, bw, caches) == {
        "L1": 50e9, "L2": 160e9, "L3": 100e9, "memory": 42e9}


def test_a_level_that_was_not_measured_is_absent_not_guessed():
    out = measure.level_bandwidths([16 * KiB], [50e9], {"L1": 48 * KiB, "L2": 1 * MiB})
    assert out == {"L1": 50e9}
    assert measure.level_bands({}) == {"memory": (0.0, math.inf)}


def test_cache_sizes_reads_sysfs(tmp_path):
    for i, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"),
                                             (2, "Unified", "1024K"), (3, "Unified", "32M")]):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    assert measure.cache_sizes(tmp_path) == {"L1": 48 * KiB, "L2": 1 * MiB, "L3": 32 * MiB}
    assert measure.cache_sizes(tmp_path / "absent") == {}


def test_dialled_counts_intensity_grows_with_r_bytes_do_not():
    c = measure.dialled_counts([1, 2, 64], 2**20)
    assert c.bytes_moved.tolist() == [8 * 2**20] * 3               # one read, one write, FP32
    assert c.flops.tolist() == [2 * 2**20, 4 * 2**20, 128 * 2**20]  # r multiplies + r adds
    assert c.intensity.tolist() == [0.25, 0.5, 16.0]
    assert float(measure.dialled_counts(8, 10, itemsize=8).intensity) == 1.0


def test_the_stride_dial_moves_every_line_and_refuses_to_skip_lines():
    # every 16th FP32 element: one per 64-byte line, so all bytes still move; 2 FLOP per line
    c = measure.dialled_counts(1, 1024, stride=[16, 8, 4, 1])
    assert c.bytes_moved.tolist() == [8192.0] * 4
    assert c.flops.tolist() == [128.0, 256.0, 512.0, 2048.0]
    assert c.intensity.tolist() == [1 / 64, 1 / 32, 1 / 16, 1 / 4]
    with pytest.raises(ValueError, match="stride=32.*cache lines"):
        measure.dialled_counts(1, 1024, stride=32)
    with pytest.raises(ValueError, match="stride=16.*cache lines"):
        measure.dialled_counts(1, 1024, itemsize=8, stride=16)


def test_dialled_sweep_checks_its_array_holds_a_block():
    with pytest.raises(ValueError, match="array_bytes"):
        measure.dialled_sweep([1], array_bytes=1024, block_bytes=64 * KiB)


def test_gemm_counts_follow_lib_kernels_with_fp64_twice_the_bytes():
    f32, b32 = measure._gemm_counts(np.array([4]), np.array([8]), np.array([16]), "fp32")
    f64, b64 = measure._gemm_counts(np.array([4]), np.array([8]), np.array([16]), "fp64")
    assert f32.tolist() == f64.tolist() == [2 * 4 * 8 * 16]
    assert b32.tolist() == [4 * (4 * 16 + 16 * 8 + 4 * 8)] and b64.tolist() == [2 * b32[0]]


# --- fitting ------------------------------------------------------------------------------------

def test_fit_recovers_a_known_roofline_exactly():
    pi, beta = 2.5e11, 4e10                  # ridge 6.25 FLOP/byte
    b = np.full(7, 1e8)
    f = b * np.array([0.25, 0.5, 1, 2, 16, 64, 256])
    fit = measure.fit_roofline(f, b, np.maximum(f / pi, b / beta))
    assert fit.peak_flops == pytest.approx(pi, rel=1e-12)
    assert fit.memory_bandwidth == pytest.approx(beta, rel=1e-12)
    assert fit.ridge == pytest.approx(6.25) and (fit.n_memory, fit.n_compute) == (4, 3)
    assert fit.rms_log_error == pytest.approx(0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(log_pi=st.floats(9, 14), log_beta=st.floats(8, 13), seed=st.integers(0, 2**16))
def test_fit_recovers_any_roofline_from_points_on_both_sides(log_pi, log_beta, seed):
    pi, beta = 10.0**log_pi, 10.0**log_beta
    ridge = pi / beta
    rng = np.random.default_rng(seed)
    intensity = np.concatenate([ridge * rng.uniform(0.01, 0.9, 3),
                                ridge * rng.uniform(1.1, 100, 3)])
    b = 10.0 ** rng.uniform(5, 9, 6)
    f = intensity * b
    fit = measure.fit_roofline(f, b, np.maximum(f / pi, b / beta))
    assert fit.peak_flops == pytest.approx(pi, rel=1e-9)
    assert fit.memory_bandwidth == pytest.approx(beta, rel=1e-9)


def test_fit_with_noise_stays_close_and_predict_uses_the_roofline():
    rng = np.random.default_rng(1)
    b = np.full(12, 1e8)
    f = b * np.geomspace(0.1, 100, 12)
    t = np.maximum(f / 1e11, b / 1e10) * np.exp(rng.normal(0, 0.05, 12))
    fit = measure.fit_roofline(f, b, t)
    assert fit.peak_flops == pytest.approx(1e11, rel=0.1)
    assert fit.memory_bandwidth == pytest.approx(1e10, rel=0.1)
    assert fit.predict(1e9, 1e8) == roofline.kernel_time(1e9, 1e8, fit.peak_flops,
                                                         fit.memory_bandwidth)


@pytest.mark.parametrize("args,match", [(([1.0], [1.0], [1.0]), "at least two"),
                                        (([1.0, 2.0], [1.0], [1.0, 1.0]), "shapes"),
                                        (([1.0, 2.0], [1.0, 1.0], [0.0, 1.0]), "seconds")])
def test_fit_rejects_what_cannot_be_fitted(args, match):
    with pytest.raises(ValueError, match=match):
        measure.fit_roofline(*args)


# --- the machine, with synthetic sweeps --------------------------------------------------------

def _machine(bw=None, peak=None):
    prov = measure.provenance()
    ws = np.array([16 * KiB, 256 * KiB, 4 * MiB, 256 * MiB])
    stair = measure.BandwidthSweep("add", ws, ws.astype(float), ws / 1e11, ws / 1.1e11,
                                   ws / 0.9e11, prov)
    return measure.Machine(bw or {"L1": 2e11, "L2": 1e11, "L3": 6e10, "memory": 2e10},
                           peak or {"fp32": 2e11, "fp64": 1e11}, {"L1": 48 * KiB},
                           stair, (), prov, 1.0, 16e9)


def test_machine_ridges_devices_and_predictions():
    m = _machine()
    assert m.ridge("fp32") == 10.0 and m.ridge("fp64", "L2") == 1.0
    assert m.main_bandwidth == 2e10
    dev = m.as_device()
    assert dev.peak("fp32") == 2e11 and dev.memory_bandwidth == 2e10
    assert hardware.get(dev) is dev
    assert measure.predict_time(4e9, 1e8, m) == roofline.kernel_time(4e9, 1e8, 2e11, 2e10)
    with pytest.raises(ValueError, match="level='L4'"):
        m.ridge("fp32", "L4")
    d = json.loads(json.dumps(m.to_dict()))
    assert d["ridge"] == {"fp32": 10.0, "fp64": 5.0} and d["provenance"]["cores"] >= 1


def test_predict_forward_is_lib_inference_on_the_measured_device():
    m = _machine()
    est = measure.predict_forward("gpt2", m, 1, 1, 64)
    ref = inference.forward(models.get("gpt2"), m.as_device(), 1, 1, 64, weight_dtype="fp32",
                            kv_dtype="fp32", compute_dtype="fp32", fused_attention=False)
    assert est.time_s == ref.time_s and est.bytes == ref.bytes
    # batch-1 decode of an FP32 model: memory-bound, about its weight bytes over beta
    assert est.bound == "memory"
    assert est.time_s == pytest.approx(est.bytes / 2e10, rel=0.05)


def test_predict_timing_sets_a_timed_forward_beside_lib():
    from types import SimpleNamespace
    m = _machine()
    timed = SimpleNamespace(phase="decode", batch=2, new_tokens=1, cached=64, kernels=150,
                            timing=SimpleNamespace(median_s=0.05, q1_s=0.04, q3_s=0.06))
    p = measure.predict_timing("gpt2", timed, m)
    est = measure.predict_forward("gpt2", m, 2, 1, 64)
    assert (p.predicted_s, p.flops, p.bytes_moved, p.bound) == (est.time_s, est.flops,
                                                                 est.bytes, est.bound)
    assert p.ratio == 0.05 / est.time_s and p.kernels == 150
    assert json.loads(json.dumps(p.to_dict()))["phase"] == "decode"


def test_main_bandwidth_falls_back_to_the_slowest_level_measured():
    assert _machine(bw={"L1": 2e11, "L2": 1e11}).main_bandwidth == 1e11


# --- figures, on synthetic data ----------------------------------------------------------------

def test_figures_draw_synthetic_measurements():
    m = _machine()
    fig = measure.staircase_figure(m.staircase, {"L1": 48 * KiB, "L2": 1 * MiB},
                                   {"L1": 2e11, "L2": 1e11})
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].lines) >= 3
    fit = measure.RooflineFit(2e10, 1e10, 2, 2, 0.0)
    fig = measure.roofline_figure(fit, [("points", [0.1, 10], [1e9, 2e10], None)],
                                  devices=("h100-sxm", "m2-ultra"), peak=1e11)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any("H100" in t for t in labels) and not any("M2" in t for t in labels)  # no fp32 peak
    p = measure.Prediction("decode", 1, 1, 64, 2e-3, 1.9e-3, 2.1e-3, 1e-3, 1e-3, 1e-5,
                           "memory", 1e6, 1e7, 100)
    assert p.ratio == 2.0 and p.excess_per_kernel_s == pytest.approx(1e-5)
    assert len(measure.prediction_figure([p], ["one"]).axes[0].patches) == 2
    with pytest.raises(ValueError, match="labels"):
        measure.prediction_figure([p], [])


# --- the GPU path without PyTorch ---------------------------------------------------------------

@pytest.fixture
def no_torch(monkeypatch):
    real = builtins.__import__

    def fake(name, *args, **kw):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real(name, *args, **kw)
    monkeypatch.setattr(builtins, "__import__", fake)


def test_without_torch_every_gpu_measurement_says_so_and_returns_none(no_torch):
    st_ = measure.gpu_status()
    assert not st_.available and "PyTorch is not installed" in st_.reason
    assert measure.gpu_bandwidth() is None
    assert measure.gpu_gemm_msweep() is None
    assert measure.gpu_decode_sweep("gpt2") is None
    assert json.dumps(st_.to_dict())


def test_torch_without_cuda_is_an_answer_not_an_error(monkeypatch):
    class FakeCuda:
        @staticmethod
        def is_available():
            return False

    class FakeTorch:
        __version__ = "9.9"
        cuda = FakeCuda()
    monkeypatch.setattr(measure, "_torch", lambda: FakeTorch)
    st_ = measure.gpu_status()
    assert (st_.available, st_.torch, st_.reason) == (False, "9.9", "PyTorch sees no CUDA GPU")
    assert measure.gpu_bandwidth() is None


# --- one real, tiny measurement: plausibility only ---------------------------------------------

def test_smoke_real_tiny_measurements_are_plausible():
    tiny = measure.Config(16 * KiB, 256 * KiB, 1, (64,), 2, 2e-4)
    m = measure.measure_machine(tiny, caches={"L1": 48 * KiB, "L2": 1 * MiB})
    for v in m.bandwidth.values():
        assert math.isfinite(v) and 1e8 < v < 1e13           # 100 MB/s to 10 TB/s
    for v in m.peak.values():
        assert math.isfinite(v) and 1e6 < v < 1e15
    d = measure.dialled_sweep([1, 2], [16], array_bytes=256 * KiB, block_bytes=32 * KiB,
                              repeats=2, min_time_s=2e-4)
    assert np.all(np.isfinite(d.flop_rate)) and np.all(d.flop_rate > 0)
    g = measure.gemm_msweep([1, 4], n=64, k=64, repeats=2, min_time_s=2e-4)
    assert g.intensity[1] > g.intensity[0] and np.all(g.q3_s >= g.q1_s)
    json.dumps(m.to_dict()), json.dumps(d.to_dict()), json.dumps(g.to_dict())
