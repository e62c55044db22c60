"""Quantised formats (lib.dtypes.Format) and what they do to decode (lib.quantisation).

Known answers are worked from the formats' published layouts (llama.cpp's ggml-common.h,
KIVI's code) and the models' config.json numbers, never by calling the function under test.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import capacity, dtypes, inference, models, quantisation
from lib.cli import main
from lib.dtypes import Format
from lib.models import KV_DTYPES, WEIGHT_DTYPES

H100 = "h100-sxm"
#: Llama-3-8B's config.json: 32 layers, 8 KV heads of 128; 8,030,261,248 parameters.
L3_ELEMENTS = 2 * 32 * 8 * 128
L3_PARAMS = 8_030_261_248
#: Llama-2-7B: 32 layers, 32 KV heads of 128; 6,738,415,616 parameters.
L2_ELEMENTS = 2 * 32 * 32 * 128
L2_PARAMS = 6_738_415_616


# --- the formats ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, bits", [
    ("bf16", 16), ("fp8", 8), ("int8", 8), ("int4", 4),   # per-tensor scales: the code alone
    ("q8_0", (32 * 8 + 16) / 32),          # block_q8_0: FP16 d + 32 int8 = 34 bytes
    ("q4_0", (32 * 4 + 16) / 32),          # block_q4_0: FP16 d + 16 bytes of nibbles = 18
    ("q4_1", (32 * 4 + 16 + 16) / 32),     # block_q4_1: FP16 d and m + 16 bytes = 20
    ("int4_g32", (4 * 32 + 32) / 32),      # KIVI-4: groups of 32, FP16 scale and minimum
    ("int2_g32", (2 * 32 + 32) / 32),      # KIVI-2
])
def test_bits_per_element_include_the_scales(name, bits):
    f = dtypes.get_format(name)
    assert f.bits_per_element == bits
    assert dtypes.bytes_per_element(name) == bits / 8


def test_the_existing_sizes_did_not_move():
    # chapters 1-8 print these; the new representation must reproduce them exactly
    assert dict(dtypes.BYTES_PER_ELEMENT) == {
        "fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0,
        "int4": 0.5, "q8_0": 34 / 32, "q4_0": 18 / 32, "q4_1": 20 / 32,
        "int4_g32": 20 / 32, "int2_g32": 12 / 32}
    assert dtypes.INTEGER_DTYPES == ("int8", "int4")


def test_every_group_format_has_a_source_and_every_dtype_a_format():
    assert set(dtypes.DTYPES) == set(dtypes.FORMATS)
    for f in dtypes.FORMATS.values():
        assert (f.group_size is None) == (f.source == ""), f.name
        assert f.overhead_bits == (0 if f.group_size is None
                                   else 8 * (f.scale_bytes + f.zero_bytes) / f.group_size)


def test_group_formats_are_accepted_wherever_a_kv_dtype_is():
    assert {"q8_0", "q4_0", "q4_1", "int4_g32", "int2_g32"} <= set(KV_DTYPES)
    assert set(KV_DTYPES) <= set(dtypes.DTYPES) and set(WEIGHT_DTYPES) <= set(dtypes.DTYPES)
    est = inference.decode("llama-3-8b", H100, 4, 1000, kv_dtype="int4_g32")
    assert est.kv_dtype == "int4_g32"
    # the cache read in a decode step: 4 sequences x 1,000 tokens x 40,960 bytes
    assert capacity.kv_cache_bytes("llama-3-8b", 4, 1000, "int4_g32") == 4 * 1000 * 40_960
    assert inference.forward("llama-3-8b", H100, 1, 16, 100, kv_dtype="q4_1").kv_dtype == "q4_1"


def test_the_calculator_accepts_the_group_formats():
    out, err = io.StringIO(), io.StringIO()
    code = main(["estimate", "--model", "llama-3-8b", "--hardware", H100, "--phase", "decode",
                 "--batch", "4", "--context", "1000", "--kv-dtype", "int2_g32", "--json"],
                stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    got = json.loads(out.getvalue())
    assert got["kv_dtype"] == "int2_g32"
    assert got["bytes_kv"] == pytest.approx(float(inference.decode(
        "llama-3-8b", H100, 4, 1000, kv_dtype="int2_g32").bytes_kv))


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="x", code_bits=0), "code_bits=0 must be > 0"),
    (dict(name="x", code_bits=4, scale_bytes=2), "need a group_size"),
    (dict(name="x", code_bits=4, group_size=0, scale_bytes=2), "group_size=0 must be"),
    (dict(name="x", code_bits=4, group_size=True, scale_bytes=2), "group_size=True must be"),
    (dict(name="x", code_bits=4, group_size=32, scale_bytes=-1), "must be >= 0"),
])
def test_format_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Format(**kwargs)


def test_unknown_formats_suggest_close_ones():
    with pytest.raises(ValueError, match=r"kv_dtype='int2' is not known; did you mean "
                                         r"'int2_g32'.*Accepted: fp32, bf16"):
        quantisation.kv_footprint("llama-3-8b", "int2")
    with pytest.raises(ValueError, match=r"weight_dtype='int2_g32' is not known"):
        quantisation.weight_footprint("llama-3-8b", "int2_g32")   # a cache format only


# --- bytes per token, split ----------------------------------------------------------------

@pytest.mark.parametrize("kv, total", [
    ("bf16", L3_ELEMENTS * 2), ("fp8", L3_ELEMENTS * 1), ("q8_0", L3_ELEMENTS * 34 / 32),
    ("q4_0", L3_ELEMENTS * 18 / 32), ("q4_1", L3_ELEMENTS * 20 / 32),
    ("int4_g32", L3_ELEMENTS * 5 / 8), ("int2_g32", L3_ELEMENTS * 3 / 8)])
def test_llama3_kappa_by_hand(kv, total):
    f = quantisation.kv_footprint("llama-3-8b", kv)
    assert f.total_bytes == total
    assert f.elements == L3_ELEMENTS
    assert f.code_bytes + f.overhead_bytes == f.total_bytes


def test_kivi4_splits_into_32_kib_of_codes_and_8_of_scales():
    f = quantisation.kv_footprint("llama-3-8b", "int4_g32")
    assert (f.code_bytes, f.overhead_bytes) == (L3_ELEMENTS / 2, L3_ELEMENTS / 32 * 4)
    assert f.bits_per_element == 5


@pytest.mark.parametrize("model", models.names())
def test_fp8_halves_the_bf16_cache_exactly(model):
    bf16 = quantisation.kv_footprint(model, "bf16").total_bytes
    assert quantisation.kv_footprint(model, "fp8").total_bytes * 2 == bf16
    assert quantisation.kv_footprint(model, "fp8").overhead_bytes == 0


def test_weight_footprint_of_q4_0_by_hand():
    f = quantisation.weight_footprint("llama-2-7b", "q4_0")
    assert f.total_bytes == L2_PARAMS * 18 / 32
    assert f.overhead_bytes == pytest.approx(L2_PARAMS * 2 / 32, rel=1e-12)
    assert quantisation.weight_footprint("llama-2-7b", "int4").total_bytes == L2_PARAMS / 2


def test_format_table_lists_each_format_against_the_baseline():
    t = quantisation.format_table("llama-2-7b", ["bf16", "int2_g32"])
    assert [r[0] for r in t.rows] == ["bf16", "int2_g32"]
    assert t.rows[1][1:3] == ("3", "1") and t.rows[1][4] == f"{3 / 16:.3f}"


# --- capacity ------------------------------------------------------------------------------

def test_capacity_gain_by_hand():
    g = quantisation.capacity_gain("llama-3-8b", H100, context=32768, kv_dtype="fp8",
                                   batch_at=16)
    free = 80e9 - 2 * L3_PARAMS
    assert g.base_batch == np.floor(free / (32768 * L3_ELEMENTS * 2)) == 14
    assert g.batch == np.floor(free / (32768 * L3_ELEMENTS)) == 29
    assert g.context == np.floor(free / (16 * L3_ELEMENTS))
    assert g.batch_gain == pytest.approx(29 / 14)
    both = quantisation.capacity_gain("llama-3-8b", H100, context=32768, weight_dtype="int4",
                                      kv_dtype="int4_g32")
    assert both.batch == np.floor((80e9 - L3_PARAMS / 2) / (32768 * L3_ELEMENTS * 5 / 8)) == 56


def test_capacity_gain_where_nothing_fitted_before():
    # Llama-2-70B's 138 GB of BF16 weights do not fit an H100; in int4 they do
    g = quantisation.capacity_gain("llama-2-70b", H100, context=4096, weight_dtype="int4",
                                   kv_dtype="fp8")
    assert g.base_batch == 0 and g.batch > 0 and g.batch_gain == np.inf
    same = quantisation.capacity_gain("llama-2-70b", H100, context=4096)
    assert same.batch_gain == 1.0


# --- the step ------------------------------------------------------------------------------

def test_compare_is_two_decodes_on_one_grid():
    c = quantisation.compare("llama-2-7b", H100, [[1], [16]], [1024, 4096], kv_dtype="fp8",
                             time="time_s")
    base = inference.decode("llama-2-7b", H100, [[1], [16]], [1024, 4096])
    assert np.array_equal(c.base_s, base.time_s)
    assert c.speedup.shape == (2, 2)
    assert np.all(c.speedup > 1) and c.speedup[1, 1] > c.speedup[0, 0]
    assert np.all(np.asarray(c.fits)) and np.all(np.asarray(c.base_fits))


def test_weight_quantisation_leaves_the_cache_and_the_flops_alone():
    c = quantisation.compare("llama-3-8b", H100, 8, 4096, weight_dtype="int4")
    assert c.quantised.bytes_kv == c.base.bytes_kv
    assert c.quantised.flops == c.base.flops
    assert c.quantised.compute_dtype == "bf16"          # weight-only: the BF16 roof
    k = quantisation.compare("llama-3-8b", H100, 8, 4096, kv_dtype="int2_g32")
    assert k.quantised.bytes_weights == k.base.bytes_weights
    assert k.quantised.flops == k.base.flops
    # the cache's reads shrink by the bytes per element: 3 bits of 16
    read = capacity.kv_cache_bytes("llama-3-8b", 8, 4096)
    assert k.base.bytes_kv - k.quantised.bytes_kv == pytest.approx(read * (1 - 3 / 16),
                                                                    rel=1e-3)


def test_the_batch_one_floor_is_the_weights_bytes():
    c = quantisation.compare("llama-3-8b", H100, 1, 1, weight_dtype="int4", time="floor_s")
    assert 3.9 < c.speedup < 4.0           # a quarter of the weight bytes, a few others stay


def test_weight_gain_fades_with_the_batch_and_cache_gain_grows():
    b = np.array([1, 8, 64, 256])
    w = quantisation.compare("llama-3-8b", H100, b, 1024, weight_dtype="int4").speedup
    k = quantisation.compare("llama-3-8b", H100, b, 1024, kv_dtype="int4_g32").speedup
    assert np.all(np.diff(w) < 0) and np.all(np.diff(k) > 0)


def test_byte_speedup_known_values_and_errors():
    assert quantisation.byte_speedup(0.8, 0.5) == pytest.approx(1 / 0.6)
    assert quantisation.byte_speedup(1.0, 5 / 16) == pytest.approx(16 / 5)
    with pytest.raises(ValueError, match=r"share=1.5 must be a fraction"):
        quantisation.byte_speedup(1.5, 0.5)
    with pytest.raises(ValueError, match=r"ratio=0 must be a finite number > 0"):
        quantisation.byte_speedup(0.5, 0)


def test_compare_rejects_an_unknown_time():
    with pytest.raises(ValueError, match=r"time='tpot' is not known.*Accepted: estimate_s"):
        quantisation.compare("gpt2", H100, 1, 1, time="tpot")


def test_threshold_context():
    got = quantisation.threshold_context("llama-2-7b", H100, [1, 16, 64], 1.25, kv_dtype="fp8")
    assert got[0] > got[1] > got[2]
    # on an explicit grid: the first context whose speed-up reaches the threshold
    ctx = np.array([512, 1024, 2048, 4096])
    s = quantisation.compare("llama-2-7b", H100, 16, ctx, kv_dtype="fp8").speedup
    first = ctx[np.argmax(s >= 1.25)] if np.any(s >= 1.25) else np.inf
    assert quantisation.threshold_context("llama-2-7b", H100, 16, 1.25, contexts=ctx,
                                          kv_dtype="fp8") == first
    assert quantisation.threshold_context("qwen2-7b", H100, 1, 1.25, kv_dtype="fp8") == np.inf
    with pytest.raises(ValueError, match=r"strictly increasing"):
        quantisation.threshold_context("gpt2", H100, 1, 1.1, contexts=[64, 32])


def test_step_split_adds_up_to_the_calibrated_estimate():
    ctx = np.array([[1024], [32768]])
    for wd, kd in (("bf16", "q8_0"), ("int4", "int4_g32"), ("fp8", "fp8")):
        est = inference.decode("llama-3-8b", H100, [1, 64, 256], ctx, weight_dtype=wd,
                               kv_dtype=kd)
        parts = quantisation.step_split("llama-3-8b", H100, [1, 64, 256], ctx,
                                        weight_dtype=wd, kv_dtype=kd)
        assert list(parts) == list(quantisation.SPLIT)
        np.testing.assert_allclose(sum(parts.values()), est.estimate_s, rtol=1e-12)
    # with tensor parallelism, the estimate less its all-reduces
    est = inference.decode("llama-2-70b", H100, 8, 4096, tp=4)
    parts = quantisation.step_split("llama-2-70b", H100, 8, 4096, tp=4)
    np.testing.assert_allclose(sum(parts.values()), est.estimate_s - est.comm_time_s,
                               rtol=1e-12)


def test_step_split_known_answer_at_batch_1():
    # Batch 1, memory-bound: the weights' part is their bytes at the sustained bandwidth
    # (eta_beta of lib.efficiency), the cache's its bytes likewise; int4 weights also at
    # the dequantising efficiency 0.928 (Marlin's plot, chapter 8).
    from lib import efficiency
    eta = efficiency.get(H100).bandwidth.value
    bw = 3.35e12 * eta
    est = inference.decode("llama-2-7b", H100, 1, 4096)
    parts = quantisation.step_split("llama-2-7b", H100, 1, 4096)
    np.testing.assert_allclose(parts["weights"], est.bytes_weights / bw, rtol=1e-3)
    # 4,096 tokens x 512 KiB read, plus one token's K and V written
    np.testing.assert_allclose(parts["KV cache"], 4097 * 524288 / bw, rtol=1e-3)
    q = quantisation.step_split("llama-2-7b", H100, 1, 4096, weight_dtype="int4")
    np.testing.assert_allclose(q["weights"] * 0.928 * 4, parts["weights"], rtol=0.02)
    assert q["KV cache"] == pytest.approx(parts["KV cache"], rel=1e-12)
    assert q["fixed costs"] == pytest.approx(parts["fixed costs"], rel=1e-12)


# --- properties ----------------------------------------------------------------------------

def _ordered_pairs(names):
    return st.tuples(st.sampled_from(names), st.sampled_from(names)).map(
        lambda p: tuple(sorted(p, key=dtypes.bytes_per_element, reverse=True)))


@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(["llama-2-7b", "llama-3-8b", "qwen2-7b", "mixtral-8x7b"]),
       pair=_ordered_pairs(KV_DTYPES), batch=st.integers(1, 512),
       context=st.integers(0, 65536))
def test_a_smaller_cache_format_never_adds_bytes_or_time(model, pair, batch, context):
    big, small = pair
    c = quantisation.compare(model, H100, batch, context, base_kv_dtype=big, kv_dtype=small)
    assert c.quantised.bytes <= c.base.bytes
    assert c.quantised.floor_s <= c.base.floor_s * (1 + 1e-12)
    assert c.quantised.estimate_s <= c.base.estimate_s * (1 + 1e-12)
    assert c.speedup >= 1 - 1e-12
    # never faster than its bytes allow: Amdahl on the cache's share
    r = dtypes.bytes_per_element(small) / dtypes.bytes_per_element(big)
    assert c.speedup <= quantisation.byte_speedup(c.kv_share, r) * (1 + 1e-9) or c.kv_share == 0


@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(["llama-2-7b", "llama-3-8b", "qwen2-7b"]),
       pair=_ordered_pairs(WEIGHT_DTYPES), batch=st.integers(1, 512),
       context=st.integers(0, 32768))
def test_a_smaller_weight_format_never_adds_bytes(model, pair, batch, context):
    big, small = pair
    c = quantisation.compare(model, "a100-sxm-80gb", batch, context, base_weight_dtype=big,
                             weight_dtype=small)
    assert c.quantised.bytes_weights <= c.base.bytes_weights
    assert c.quantised.bytes_kv == c.base.bytes_kv


@settings(max_examples=50, deadline=None)
@given(share=st.floats(0, 1), ratio=st.floats(0.01, 1))
def test_byte_speedup_lies_between_one_and_one_over_r(share, ratio):
    s = quantisation.byte_speedup(share, ratio)
    assert 1 - 1e-12 <= s <= 1 / ratio * (1 + 1e-12)


@settings(max_examples=30, deadline=None)
@given(pair=_ordered_pairs(KV_DTYPES), context=st.integers(1, 131072))
def test_a_smaller_cache_never_fits_fewer_sequences(pair, context):
    big, small = pair
    g = quantisation.capacity_gain("llama-3-8b", H100, context=context, base_kv_dtype=big,
                                   kv_dtype=small)
    assert g.batch >= g.base_batch and g.context >= g.base_context


def test_threshold_batch():
    got = quantisation.threshold_batch("llama-3-8b", H100, [1024, 8192], 1.5,
                                       weight_dtype="int4")
    assert got[0] > got[1] > 0
    bs = np.arange(1, 129)
    s = quantisation.compare("llama-3-8b", H100, bs, 1024, weight_dtype="int4").speedup
    assert got[0] == bs[s >= 1.5].max() and np.all(s[bs <= got[0]] >= 1.5)
    assert quantisation.threshold_batch("llama-3-8b", H100, 1024, 1.5, batches=bs,
                                        weight_dtype="int4") == got[0]
    assert quantisation.threshold_batch("gpt2", H100, 0, 10.0, weight_dtype="int4") == 0
    with pytest.raises(ValueError, match=r"batches=\[4, 2\] must be a strictly increasing"):
        quantisation.threshold_batch("gpt2", H100, 0, 1.1, batches=[4, 2])
