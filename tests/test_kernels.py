"""Tests of lib.kernels: known answers, properties that must hold for any size, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import kernels
from lib.dtypes import DTYPES, bytes_per_element

sizes = st.integers(min_value=1, max_value=1 << 16)
big = st.integers(min_value=1, max_value=1 << 20)
dtypes = st.sampled_from(DTYPES)
tiles = st.sampled_from([16, 32, 64, 128, 256])

# Every size-taking kernel with its size arguments, for the shared input checks.
SIZED = [
    (kernels.vector_add, (1024,)),
    (kernels.vector_scale, (1024,)),
    (kernels.dot, (1024,)),
    (kernels.gemv, (64, 128)),
    (kernels.gemm, (16, 64, 128)),
    (kernels.elementwise_chain, (1024, 3)),
    (kernels.softmax, (8, 128)),
    (kernels.layernorm, (8, 128)),
    (kernels.rmsnorm, (8, 128)),
    (kernels.gemm_tiled, (256, 256, 64, 64, 128)),
    (kernels.gemm_tile_footprint, (128, 256, 64)),
]


# --- known answers -----------------------------------------------------------------

def test_dot_product_intensity_known_answers():
    # 2N FLOP over 2N elements (+1 written): 1/2 FLOP/byte at BF16, 1/4 at FP32.
    assert kernels.dot(1 << 20, "bf16").intensity == pytest.approx(0.5, rel=1e-5)
    assert kernels.dot(1 << 20, "fp32").intensity == pytest.approx(0.25, rel=1e-5)
    k = kernels.dot(4096, "bf16")
    assert k.flops == 2 * 4096
    assert k.bytes_moved == 2 * (2 * 4096 + 1)


def test_vector_ops_known_answers():
    k = kernels.vector_add(1000, "fp32")
    assert (k.flops, k.bytes_moved) == (1000.0, 12000.0)
    assert kernels.vector_scale(1000, "fp32").intensity == 0.125
    assert kernels.vector_add(10, "bf16").intensity == pytest.approx(1 / 6)


def test_gemv_is_about_one_flop_per_byte_at_16_bit():
    for n in (1024, 4096, 16384):
        # 2n^2 / (2(n^2 + 2n)) = n / (n + 2): about 1, below it by 2/n
        assert kernels.gemv(n, n, "bf16").intensity == pytest.approx(n / (n + 2))
        assert kernels.gemv(n, n, "bf16").intensity == pytest.approx(1.0, rel=2.5 / n)
    assert kernels.gemv(4096, 4096, "fp32").intensity == pytest.approx(0.5, rel=1e-3)
    assert kernels.gemv(4096, 4096, "int8").intensity == pytest.approx(2.0, rel=1e-3)


@pytest.mark.parametrize("n", [128, 1024, 4096, 8192])
@pytest.mark.parametrize("dtype", ["fp32", "bf16", "fp8"])
def test_square_gemm_intensity_is_2n_over_3b(n, dtype):
    b = bytes_per_element(dtype)
    k = kernels.gemm(n, n, n, dtype)
    assert k.flops == 2 * n**3
    assert k.intensity == pytest.approx(2 * n / (3 * b))


def test_gemm_doc_numbers():
    assert round(kernels.gemm(4096, 4096, 4096, "bf16").intensity) == 1365
    assert kernels.gemm(16, 4096, 4096, "bf16", weight_dtype="int8").intensity == pytest.approx(
        2 * 16 * 4096 * 4096 / (2 * 16 * 4096 + 1 * 4096 * 4096 + 2 * 16 * 4096))


def test_norms_and_softmax_known_answers():
    assert kernels.softmax(4096, 4096, "bf16").intensity == 1.25
    assert kernels.layernorm(1, 4096, "bf16").intensity == pytest.approx(8 * 4096 / (2 * (2 * 4096 + 2 * 4096)))
    assert kernels.rmsnorm(1, 4096, "bf16").intensity == pytest.approx(4 * 4096 / (2 * 3 * 4096))


def test_peak_from_units_reproduces_datasheets():
    # A100 (Ampere whitepaper): 432 tensor cores x 256 FMA/clk x 2 x 1.41 GHz = 312 TFLOP/s
    assert kernels.peak_flops_from_units(432, 256, 1.41e9) == pytest.approx(312e12, rel=1e-3)
    assert kernels.peak_flops_from_units(6912, 1, 1.41e9) == pytest.approx(19.5e12, rel=1e-3)
    # H100 SXM5 (Hopper whitepaper): 528 tensor cores x 512 FMA/clk at 1.83 GHz = 989.4
    assert kernels.peak_flops_from_units(528, 512, 1.83e9) == pytest.approx(989.4e12, rel=1e-3)
    np.testing.assert_allclose(kernels.peak_flops_from_units([1, 2], 1, 1.0), [2.0, 4.0])


def test_tiled_gemm_known_answer_and_compulsory_limit():
    k = kernels.gemm_tiled(4096, 4096, 4096, 128, 256, "bf16")
    assert k.bytes_moved == 2 * (4096**3 / 256 + 4096**3 / 128 + 4096**2)
    assert k.flops == kernels.gemm(4096, 4096, 4096).flops
    whole = kernels.gemm_tiled(300, 500, 70, 300, 500, "bf16", weight_dtype="int8")
    assert whole.bytes_moved == kernels.gemm(300, 500, 70, "bf16", weight_dtype="int8").bytes_moved
    # tiles larger than the matrix change nothing
    assert kernels.gemm_tiled(300, 500, 70, 4096, 4096).bytes_moved == kernels.gemm(300, 500, 70).bytes_moved
    # ragged edges: ceil, not floor
    assert kernels.gemm_tiled(129, 257, 64, 128, 256, "fp32").bytes_moved == 4 * (
        129 * 64 * 2 + 64 * 257 * 2 + 129 * 257)


def test_tile_footprint_known_answer():
    assert kernels.gemm_tile_footprint(128, 256, 64, "bf16") == 128 * 256 * 4 + (128 + 256) * 64 * 2
    assert kernels.gemm_tile_footprint(64, 64, 32, "fp8", acc_dtype="bf16") == 64 * 64 * 2 + 128 * 32


def test_waves_known_answers():
    w = kernels.gemm_waves(4096, 4096, 128, 256, 132)
    assert (w.tiles, w.waves) == (512.0, 4.0)
    assert w.efficiency == pytest.approx(512 / 528)
    w = kernels.gemm_waves(1536, 1536, 128, 128, 132)
    assert (w.tiles, w.waves, w.efficiency) == (144.0, 2.0, pytest.approx(144 / 264))
    w = kernels.gemm_waves(128, 128, 128, 128, 108)
    assert (w.tiles, w.waves, w.efficiency) == (1.0, 1.0, pytest.approx(1 / 108))
    w = kernels.gemm_waves([1536, 1664], 1536, 128, 128, 132)
    np.testing.assert_array_equal(w.waves, [2.0, 2.0])
    np.testing.assert_array_equal(w.tiles, [144.0, 156.0])


# --- properties ---------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(sizes, min_size=1, max_size=5), sizes, dtypes)
def test_gemm_broadcasts_like_one_call_per_element(ms, n, dtype):
    arr = kernels.gemm(ms, n, 64, dtype)
    assert np.shape(arr.flops) == (len(ms),)
    assert np.shape(arr.bytes_moved) == (len(ms),)
    for i, m in enumerate(ms):
        one = kernels.gemm(m, n, 64, dtype)
        assert arr.flops[i] == one.flops
        assert arr.bytes_moved[i] == one.bytes_moved


@settings(max_examples=30, deadline=None)
@given(st.lists(sizes, min_size=1, max_size=4), st.lists(sizes, min_size=1, max_size=3), dtypes)
def test_outer_broadcasting_shapes(ms, ns, dtype):
    m = np.array(ms)[:, None]
    n = np.array(ns)[None, :]
    for k in (kernels.gemm(m, n, 32, dtype), kernels.gemv(m, n, dtype),
              kernels.gemm_tiled(m, n, 32, 64, 64, dtype), kernels.softmax(m, n, dtype)):
        assert np.shape(k.flops) == (len(ms), len(ns)) == np.shape(k.bytes_moved)
        assert np.shape(k.intensity) == (len(ms), len(ns))
    w = kernels.gemm_waves(m, n, 64, 64, 132)
    assert np.shape(w.tiles) == np.shape(w.waves) == np.shape(w.efficiency) == (len(ms), len(ns))
    # an array n_ops with a scalar n broadcasts too
    chain = kernels.elementwise_chain(100, np.array(ns), dtype)
    assert np.shape(chain.bytes_moved) == (len(ns),)


@settings(max_examples=60, deadline=None)
@given(big, st.integers(min_value=1, max_value=64), dtypes)
def test_fusion_multiplies_intensity_by_n_ops(n, ops, dtype):
    unfused = kernels.elementwise_chain(n, ops, dtype)
    fused = kernels.elementwise_chain(n, ops, dtype, fused=True)
    assert fused.flops == unfused.flops == n * ops
    assert fused.intensity == pytest.approx(ops * unfused.intensity)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=4096), st.integers(min_value=64, max_value=1 << 15),
       st.integers(min_value=64, max_value=1 << 15), dtypes)
def test_gemm_intensity_increases_with_m(m, n, k, dtype):
    assert kernels.gemm(m + 1, n, k, dtype).intensity > kernels.gemm(m, n, k, dtype).intensity


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=64), dtypes)
def test_gemm_intensity_tends_to_2m_over_b_for_small_m(m, dtype):
    # For m << n, k the weights dominate the traffic: I = 2mnk / (b(mk + kn + mn)) -> 2m / b
    # (m FLOP/byte at 16-bit); the relative gap is about 2m/n.
    n = k = 1 << 16
    limit = 2 * m / bytes_per_element(dtype)
    got = kernels.gemm(m, n, k, dtype).intensity
    assert got < limit
    assert got == pytest.approx(limit, rel=2.5 * m / n)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=256), st.sampled_from([1024, 4096, 8192]))
def test_weight_only_int8_raises_intensity_at_small_m(m, d):
    bf16 = kernels.gemm(m, d, d, "bf16").intensity
    w8 = kernels.gemm(m, d, d, "bf16", weight_dtype="int8").intensity
    w4 = kernels.gemm(m, d, d, "bf16", weight_dtype="int4").intensity
    assert bf16 < w8 < w4
    if m <= 16:
        assert w8 == pytest.approx(2 * bf16, rel=0.05)  # weights dominate: half the bytes
    # int8 x int8 (both operands narrow) moves the whole line, not just the weights
    both = kernels.gemm(m, d, d, "int8").intensity
    assert both == pytest.approx(2 * bf16)


@settings(max_examples=60, deadline=None)
@given(sizes, sizes, st.integers(min_value=1, max_value=1024), st.integers(min_value=2, max_value=5))
def test_gemm_flops_and_bytes_scale(m, n, k, c):
    base = kernels.gemm(m, n, k)
    # FLOPs are linear in each dimension; scaling all three by c scales FLOPs by c^3, bytes by c^2
    assert kernels.gemm(c * m, n, k).flops == c * base.flops
    scaled = kernels.gemm(c * m, c * n, c * k)
    assert scaled.flops == c**3 * base.flops
    assert scaled.bytes_moved == c**2 * base.bytes_moved
    assert scaled.intensity == pytest.approx(c * base.intensity)


@settings(max_examples=40, deadline=None)
@given(big, dtypes, st.integers(min_value=2, max_value=8))
def test_vector_kernels_scale_linearly(n, dtype, c):
    for fn in (kernels.vector_add, kernels.vector_scale):
        a, b = fn(n, dtype), fn(c * n, dtype)
        assert b.flops == c * a.flops and b.bytes_moved == c * a.bytes_moved
        assert b.intensity == pytest.approx(a.intensity)


@settings(max_examples=40, deadline=None)
@given(sizes, sizes)
def test_bytes_scale_with_dtype_size(m, n):
    for fn in (kernels.gemv, kernels.softmax, kernels.rmsnorm, kernels.layernorm):
        b32, b16, b8 = fn(m, n, "fp32"), fn(m, n, "bf16"), fn(m, n, "fp8")
        assert b32.flops == b16.flops == b8.flops
        assert b32.bytes_moved == 2 * b16.bytes_moved == 4 * b8.bytes_moved


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=256, max_value=8192), st.integers(min_value=256, max_value=8192),
       st.integers(min_value=16, max_value=4096), tiles, tiles, dtypes)
def test_tiled_traffic_at_least_compulsory_and_falls_with_tile_size(m, n, k, tm, tn, dtype):
    compulsory = kernels.gemm(m, n, k, dtype).bytes_moved
    tiled = kernels.gemm_tiled(m, n, k, tm, tn, dtype)
    bigger = kernels.gemm_tiled(m, n, k, 2 * tm, 2 * tn, dtype)
    assert tiled.bytes_moved >= compulsory
    assert bigger.bytes_moved <= tiled.bytes_moved
    assert tiled.intensity <= kernels.gemm(m, n, k, dtype).intensity
    # large-matrix limit: intensity below 2 / (b (1/tm + 1/tn))
    assert tiled.intensity <= 2 / (bytes_per_element(dtype) * (1 / tm + 1 / tn)) * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=1 << 14), st.integers(min_value=1, max_value=1 << 14),
       tiles, tiles, st.integers(min_value=1, max_value=200))
def test_waves_hold_every_tile_and_waste_less_than_one_wave(m, n, tm, tn, units):
    w = kernels.gemm_waves(m, n, tm, tn, units)
    assert w.tiles == math.ceil(m / tm) * math.ceil(n / tn)
    assert (w.waves - 1) * units < w.tiles <= w.waves * units
    assert 0 < w.efficiency <= 1


# --- bad input ----------------------------------------------------------------------

@pytest.mark.parametrize("fn,args", SIZED, ids=[f.__name__ for f, _ in SIZED])
@pytest.mark.parametrize("bad", [0, -4, float("nan"), float("inf"), 2.5, "x"])
def test_bad_sizes_raise_value_error_naming_the_parameter(fn, args, bad):
    for i in range(len(args)):
        wrong = list(args)
        wrong[i] = bad
        with pytest.raises(ValueError, match=r"="):
            fn(*wrong)


def test_bad_size_message_names_parameter_and_value():
    with pytest.raises(ValueError, match=r"^m=0 must be a whole number > 0\.$"):
        kernels.gemm(0, 4096, 4096)
    with pytest.raises(ValueError, match=r"^k=nan must be a whole number > 0\.$"):
        kernels.gemm(1, 4096, float("nan"))
    with pytest.raises(ValueError, match=r"n \(element\)=-1"):
        kernels.gemv(4, [4, -1])
    with pytest.raises(ValueError, match=r"^tile_n=1.5 must be a whole number > 0\.$"):
        kernels.gemm_tiled(64, 64, 64, 16, 1.5)
    with pytest.raises(ValueError, match=r"^units=0 must be a whole number > 0\.$"):
        kernels.gemm_waves(64, 64, 16, 16, 0)
    with pytest.raises(ValueError, match=r"^clock_hz=-1"):
        kernels.peak_flops_from_units(4, 256, -1)
    with pytest.raises(ValueError, match=r"^units=2.5 must be a whole number"):
        kernels.peak_flops_from_units(2.5, 256, 1e9)


@pytest.mark.parametrize("fn,args", SIZED, ids=[f.__name__ for f, _ in SIZED])
def test_unknown_dtype_raises_with_suggestion(fn, args):
    with pytest.raises(ValueError, match=r"dtype='bfloat16' is not known; did you mean 'bf16'"):
        fn(*args, "bfloat16")


def test_unknown_weight_and_accumulator_dtypes_raise():
    with pytest.raises(ValueError, match=r"dtype='int3' is not known"):
        kernels.gemm(16, 64, 64, "bf16", weight_dtype="int3")
    with pytest.raises(ValueError, match=r"dtype='int3' is not known"):
        kernels.gemm_tiled(16, 64, 64, 16, 16, "bf16", weight_dtype="int3")
    with pytest.raises(ValueError, match=r"dtype='fp64' is not known"):
        kernels.gemm_tile_footprint(16, 16, 16, acc_dtype="fp64")


def test_zero_ops_chain_is_rejected():
    with pytest.raises(ValueError, match=r"n_ops=0"):
        kernels.elementwise_chain(100, 0)


# --- the kernels of a transformer (chapters 4-6) -------------------------------------------

def test_byte_split_by_kind():
    g = kernels.gemm(16, 4096, 4096, "bf16", weight_dtype="int4")
    assert g.bytes_weights == 4096 * 4096 / 2
    assert g.bytes_act == 2 * (16 * 4096 + 16 * 4096) and g.bytes_kv == 0
    assert kernels.gemv(64, 128, "bf16").bytes_weights == 64 * 128 * 2
    assert kernels.rmsnorm(8, 4096, "bf16", "fp32").bytes_weights == 4096 * 4
    assert kernels.layernorm(8, 768, "bf16").bytes_weights == 2 * 768 * 2
    assert kernels.vector_add(100, "fp32").bytes_act == 1200


def test_gemm_bias_and_groups():
    plain, biased = kernels.gemm(8, 64, 32), kernels.gemm(8, 64, 32, bias=True)
    assert biased.flops - plain.flops == 8 * 64
    assert biased.bytes_weights - plain.bytes_weights == 64 * 2
    grouped = kernels.gemm(8, 64, 32, groups=2.5)      # rows spread over 2.5 experts, expected
    assert grouped.flops == plain.flops
    assert grouped.bytes_weights == 2.5 * plain.bytes_weights
    assert grouped.bytes_act == plain.bytes_act


def test_attention_kernels_known_answers():
    # one decode token over 4,096 cached keys, 32 query heads sharing 8 KV heads, d = 128
    qk, sm, pv = kernels.attention(1, 1, 4097, 4097, 32, 8, 128)
    assert qk.flops == pv.flops == 2 * 32 * 128 * 4097
    assert qk.bytes_kv == pv.bytes_kv == 4097 * 8 * 128 * 2     # K (then V) read once
    assert qk.bytes_act == pv.bytes_act == 32 * 128 * 2        # Q read; O written
    assert sm.bytes_moved == 0 and sm.exps == 32 * 4097 and sm.flops == 5 * 32 * 4097
    # unfused, a 512-token prompt without causal skip: the score matrix goes through memory
    qk, sm, pv = kernels.attention(2, 512, 512, 512 * 512, 32, 32, 128, fused=False)
    scores = 2 * 32 * 512 * 512 * 2
    assert sm.bytes_act == 2 * scores and qk.bytes_act == scores + 2 * 512 * 32 * 128 * 2
    assert sm.flops == 5 * 2 * 32 * 512 * 512


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 8192), c=st.integers(0, 8192), tile=st.sampled_from([16, 64, 128]))
def test_tiled_attention_moves_at_least_the_compulsory_bytes(n, c, tile):
    keys = c + n
    pairs = n * c + n * (n + 1) / 2
    once = kernels.attention(1, n, keys, pairs, 32, 8, 128)[0]
    tiled = kernels.attention(1, n, keys, pairs, 32, 8, 128, tile_q=tile)[0]
    assert tiled.bytes_kv >= once.bytes_kv * (1 - 1e-12)
    assert tiled.flops == once.flops
    # each K row read for at most every query tile (4 query heads per KV head)
    assert tiled.bytes_kv <= once.bytes_kv * np.ceil(n * 4 / tile) * (1 + 1e-12)


def test_activation_embedding_and_repeat():
    gated, plain = kernels.activation(100), kernels.activation(100, gated=False)
    assert (gated.flops, gated.exps, gated.bytes_moved) == (500, 100, 600)
    assert (plain.flops, plain.exps, plain.bytes_moved) == (800, 100, 400)
    e = kernels.embedding(rows=3, tokens=5, width=8, tables=2)
    assert (e.flops, e.bytes_weights, e.bytes_act) == (40, 48, 80)
    r = kernels.softmax(4, 8).repeat(3, "three softmaxes")
    assert r.name == "three softmaxes" and r.exps == 96 and r.bytes_moved == 3 * 4 * 8 * 4
    assert kernels.dot(8).intensity == pytest.approx(16 / (17 * 4))
    assert kernels.Kernel("nothing", 0, 0).intensity == np.inf


def test_critical_m_and_precisions():
    # 8192 x 8192 BF16 weights on an H100 SXM: compute-bound from M = 319 (dense 989.4 TFLOP/s
    # against 3.35 TB/s); weight-only INT8 halves the weight bytes and about halves M
    assert kernels.critical_m("h100-sxm", 8192, 8192) == 319
    assert kernels.critical_m("h100-sxm", 8192, 8192, weight_dtype="int8") == 160
    assert kernels.critical_m("h100-sxm", 8192, 8192, m_max=100) == np.inf
    g, compute = kernels.gemm_at(16, 4096, 4096, "int8")
    assert compute == "int8" and g.bytes_moved == 16 * 4096 * 2 + 4096 * 4096
    with pytest.raises(ValueError, match="precision='int3' is not known"):
        kernels.gemm_at(1, 2, 3, "int3")
    with pytest.raises(ValueError, match="fused='yes' must be True or False"):
        kernels.attention(1, 1, 1, 1, 1, 1, 8, fused="yes")
