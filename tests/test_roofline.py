"""Properties of the roofline model (hypothesis) and its error messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import hardware, roofline

# Physically sensible magnitudes; wide enough to cross every ridge in either direction.
peaks = st.floats(1e9, 1e17)            # FLOP/s
bandwidths = st.floats(1e8, 1e14)       # byte/s
intensities = st.floats(0.0, 1e6)       # FLOP/byte
flop_counts = st.floats(0.0, 1e18)      # FLOP
byte_counts = st.floats(0.0, 1e15)      # byte
seconds = st.floats(1e-9, 1e3)

SETTINGS = settings(max_examples=200, deadline=None)


@SETTINGS
@given(intensities, peaks, bandwidths)
def test_attainable_below_both_roofs(i, p, bw):
    a = roofline.attainable_flops(i, p, bw)
    assert a <= p
    assert a <= bw * i


@SETTINGS
@given(intensities, intensities, peaks, bandwidths)
def test_attainable_is_monotone_in_intensity(i1, i2, p, bw):
    lo, hi = sorted((i1, i2))
    assert roofline.attainable_flops(lo, p, bw) <= roofline.attainable_flops(hi, p, bw)


@SETTINGS
@given(peaks, bandwidths, st.floats(1.0 + 1e-9, 1e4))
def test_attainable_equals_peak_past_the_ridge(p, bw, factor):
    ridge = roofline.ridge_point(p, bw)
    assert roofline.attainable_flops(ridge * factor, p, bw) == pytest.approx(p, rel=1e-12)


@SETTINGS
@given(peaks, bandwidths, st.floats(1e-6, 1.0 - 1e-9))
def test_attainable_is_bandwidth_times_intensity_below_the_ridge(p, bw, factor):
    i = roofline.ridge_point(p, bw) * factor
    assert roofline.attainable_flops(i, p, bw) == pytest.approx(bw * i, rel=1e-12)


@SETTINGS
@given(flop_counts, byte_counts, peaks, bandwidths)
def test_kernel_time_is_at_least_both_terms(f, b, p, bw):
    t = roofline.kernel_time(f, b, p, bw)
    assert t >= f / p
    assert t >= b / bw
    assert t == max(roofline.math_time(f, p), roofline.memory_time(b, bw))


@SETTINGS
@given(flop_counts, byte_counts, peaks, bandwidths)
def test_time_bounds_bracket_and_differ_by_at_most_two(f, b, p, bw):
    lo, hi = roofline.kernel_time_bounds(f, b, p, bw)
    assert lo == roofline.kernel_time(f, b, p, bw)
    assert lo <= hi <= 2 * lo * (1 + 1e-12)


@SETTINGS
@given(flop_counts, byte_counts, peaks, bandwidths)
def test_bound_is_consistent_with_kernel_time(f, b, p, bw):
    which = roofline.bound(f, b, p, bw)
    t = roofline.kernel_time(f, b, p, bw)
    if which == roofline.MEMORY:
        assert t == b / bw and b / bw > f / p
    else:
        assert which == roofline.COMPUTE
        assert t == f / p and f / p >= b / bw


@SETTINGS
@given(st.floats(1e-3, 1e18), st.floats(1e-3, 1e15), peaks, bandwidths)
def test_bound_agrees_with_intensity_versus_ridge(f, b, p, bw):
    i = roofline.arithmetic_intensity(f, b)
    ridge = roofline.ridge_point(p, bw)
    which = roofline.bound(f, b, p, bw)
    if not math.isclose(i, ridge, rel_tol=1e-9):  # float rounding decides exact ties
        assert which == (roofline.MEMORY if i < ridge else roofline.COMPUTE)


@SETTINGS
@given(st.floats(1e-3, 1e18), st.floats(1e-3, 1e15), peaks, bandwidths)
def test_a_run_at_the_bound_is_at_the_roofline(f, b, p, bw):
    t = roofline.kernel_time(f, b, p, bw)
    assert roofline.roofline_fraction(f, b, t, p, bw) == pytest.approx(1.0)
    mfu = roofline.achieved_fraction(f, t, p)
    mbu = roofline.achieved_fraction(b, t, bw)
    assert max(mfu, mbu) == pytest.approx(1.0)
    assert min(mfu, mbu) <= 1.0 + 1e-12


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(flop_counts, byte_counts, peaks, bandwidths), min_size=1, max_size=20))
def test_broadcasting_equals_per_element(rows):
    f, b, p, bw = (np.array(c) for c in zip(*rows))
    times = roofline.kernel_time(f, b, p, bw)
    bounds = roofline.bound(f, b, p, bw)
    att = roofline.attainable_flops(f / np.maximum(b, 1.0), p, bw)
    lo, hi = roofline.kernel_time_bounds(f, b, p, bw)
    for j in range(len(rows)):
        assert times[j] == roofline.kernel_time(f[j], b[j], p[j], bw[j])
        assert bounds[j] == roofline.bound(f[j], b[j], p[j], bw[j])
        assert att[j] == roofline.attainable_flops(f[j] / max(b[j], 1.0), p[j], bw[j])
        assert (lo[j], hi[j]) == roofline.kernel_time_bounds(f[j], b[j], p[j], bw[j])


def test_broadcasting_one_kernel_over_every_device():
    devs = [d for d in hardware.DEVICES.values() if "bf16" in d.peak_flops]
    p = np.array([d.peak("bf16") for d in devs])
    bw = np.array([d.memory_bandwidth for d in devs])
    t = roofline.kernel_time(2 * 4096**3, 3 * 2 * 4096**2, p, bw)
    assert t.shape == (len(devs),)
    assert roofline.ridge_point(p, bw).shape == (len(devs),)


def test_scalars_in_scalars_out():
    assert isinstance(roofline.kernel_time(1e9, 1e9, 1e15, 1e12), float)
    assert isinstance(roofline.bound(1e9, 1e9, 1e15, 1e12), str)
    assert isinstance(roofline.ridge_point(1e15, 1e12), float)


def test_known_answers():
    h100 = hardware.get("h100-sxm")
    p, bw = h100.peak("bf16"), h100.memory_bandwidth
    assert round(roofline.ridge_point(p, bw)) == 295
    assert roofline.arithmetic_intensity(2 * 4096, 4 * 4096) == 0.5
    assert roofline.attainable_flops(0.5, p, bw) == pytest.approx(1.675e12)
    assert roofline.kernel_time(14e9, 14e9, p, bw) == pytest.approx(14e9 / 3.35e12)
    lo, hi = roofline.kernel_time_bounds(2e12, 1e9, 1e15, 1e12)
    assert (lo, hi) == pytest.approx((2e-3, 3e-3))
    assert roofline.achieved_fraction(1e12, 1.0, 2e12) == 0.5


def test_ridge_table_other_dtypes():
    fp8 = roofline.ridge_table("fp8")
    missing = {r.device for r in fp8 if r.ridge is None}
    assert {"a100-sxm-40gb", "a100-sxm-80gb", "tpu-v5e", "tpu-v5p", "m2-ultra"} == missing
    a100 = [r for r in fp8 if r.device == "a100-sxm-80gb"][0]
    assert a100.note == "NVIDIA publishes no fp8 peak for this device."
    ridges = [r.ridge for r in fp8 if r.ridge is not None]
    assert ridges == sorted(ridges)
    sub = roofline.ridge_table("BF16", devices=["H100-SXM", "a100-sxm-80gb"])
    assert [r.device for r in sub] == ["a100-sxm-80gb", "h100-sxm"]
    with pytest.raises(ValueError, match=r"dtype='bf61' is not known; did you mean 'bf16'"):
        roofline.ridge_table("bf61")


# -- errors: every bad number names the parameter and the value ---------------------------

GOOD = {"flops": 1e9, "bytes_moved": 1e9, "peak_flops": 1e15, "memory_bandwidth": 1e12,
        "intensity": 1.0, "seconds": 1e-3, "work": 1e9, "peak_rate": 1e12}

CALLS = {
    "arithmetic_intensity": ("flops", "bytes_moved"),
    "ridge_point": ("peak_flops", "memory_bandwidth"),
    "attainable_flops": ("intensity", "peak_flops", "memory_bandwidth"),
    "kernel_time": ("flops", "bytes_moved", "peak_flops", "memory_bandwidth"),
    "kernel_time_bounds": ("flops", "bytes_moved", "peak_flops", "memory_bandwidth"),
    "bound": ("flops", "bytes_moved", "peak_flops", "memory_bandwidth"),
    "math_time": ("flops", "peak_flops"),
    "memory_time": ("bytes_moved", "memory_bandwidth"),
    "achieved_fraction": ("work", "seconds", "peak_rate"),
    "roofline_fraction": ("flops", "bytes_moved", "seconds", "peak_flops", "memory_bandwidth"),
}

#: Parameters for which 0 is a legitimate value (no work, no traffic).
ZERO_OK = {
    ("arithmetic_intensity", "flops"), ("attainable_flops", "intensity"),
    ("kernel_time", "flops"), ("kernel_time", "bytes_moved"),
    ("kernel_time_bounds", "flops"), ("kernel_time_bounds", "bytes_moved"),
    ("bound", "flops"), ("bound", "bytes_moved"), ("math_time", "flops"),
    ("memory_time", "bytes_moved"), ("achieved_fraction", "work"),
    ("roofline_fraction", "flops"), ("roofline_fraction", "bytes_moved"),
}


def _cases():
    for fn, params in CALLS.items():
        for param in params:
            for bad, shown in [(-1.0, "-1"), (float("nan"), "nan"), (float("inf"), "inf"),
                               (0.0, "0")]:
                if bad == 0.0 and (fn, param) in ZERO_OK:
                    continue
                yield fn, param, bad, shown


@pytest.mark.parametrize("fn,param,bad,shown", list(_cases()))
def test_bad_input_names_parameter_and_value(fn, param, bad, shown):
    args = [GOOD[p] for p in CALLS[fn]]
    args[CALLS[fn].index(param)] = bad
    with pytest.raises(ValueError, match=rf"^{param}={shown} must be a finite number"):
        getattr(roofline, fn)(*args)


def test_bad_element_in_an_array_is_reported():
    with pytest.raises(ValueError, match=r"peak_flops \(element\)=-5 must be a finite number > 0"):
        roofline.ridge_point([1e15, -5.0], 1e12)


def test_non_numbers_are_rejected():
    with pytest.raises(ValueError, match=r"flops='lots' must be a number"):
        roofline.kernel_time("lots", 1e9, 1e15, 1e12)


def test_zero_flops_and_bytes_are_allowed_where_meaningful():
    assert roofline.kernel_time(0, 0, 1e15, 1e12) == 0.0
    assert roofline.attainable_flops(0, 1e15, 1e12) == 0.0
    assert roofline.arithmetic_intensity(0, 1.0) == 0.0


# -- first_compute_bound: the critical batch ----------------------------------------------


def test_first_compute_bound_is_where_bound_flips():
    from lib import kernels

    h100 = hardware.get("h100-sxm")
    p, bw = h100.peak("bf16"), h100.memory_bandwidth
    m = np.arange(1, 4097)

    def crit(k, peak=p):
        return roofline.first_compute_bound(m, roofline.bound(k.flops, k.bytes_moved, peak, bw))

    k = kernels.gemm(m, 4096, 4096, "bf16")
    i = int(crit(k)) - 1
    assert roofline.bound(k.flops[i], k.bytes_moved[i], p, bw) == roofline.COMPUTE
    assert roofline.bound(k.flops[i - 1], k.bytes_moved[i - 1], p, bw) == roofline.MEMORY
    # weight-only int8 (BF16 math) roughly halves the critical batch; int8 x int8 does not
    assert crit(kernels.gemm(m, 4096, 4096, "bf16", weight_dtype="int8")) < 0.6 * crit(k)
    assert crit(kernels.gemm(m, 4096, 4096, "int8"), h100.peak("int8")) == pytest.approx(
        crit(k), rel=0.01)
    assert crit(k) == kernels.critical_m(h100, 4096, 4096, m_max=4096)


def test_first_compute_bound_none_and_errors():
    assert roofline.first_compute_bound([1, 2, 3], ["memory"] * 3) == float("inf")
    with pytest.raises(ValueError, match=r"sizes=.* must be a non-empty, strictly increasing"):
        roofline.first_compute_bound([3, 2], "compute")
    with pytest.raises(ValueError, match=r"sizes=\[\] must be"):
        roofline.first_compute_bound([], "compute")


def test_bound_of_is_the_one_tie_rule():
    assert roofline.bound_of(1.0, 1.0) == roofline.COMPUTE
    assert roofline.bound_of([1.0, 1.0], [0.5, 2.0]).tolist() == ["compute", "memory"]
