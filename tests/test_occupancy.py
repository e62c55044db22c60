"""lib.occupancy: split-KV decode attention, its blocks, waves and best split."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import inference, models, occupancy
from lib.occupancy import split_kv

MODELS = ("llama-3-8b", "llama-2-7b", "qwen2-7b", "gpt2", "llama-2-70b", "mixtral-8x7b")
DEVICES = ("h100-sxm", "a100-sxm-80gb", "mi300x", "rtx-4090")


def test_llama3_batch1_by_hand():
    # 1 sequence x 8 KV heads = 8 blocks on the H100's 132 SMs
    r = split_kv("llama-3-8b", "h100-sxm", 1, 4095)
    assert (r.blocks, r.waves, r.sm_count) == (8, 1, 132)
    assert r.busy == pytest.approx(8 / 132)
    # K and V of 4,096 keys, plus Q and O, in 32 layers
    assert r.bytes_attention == 32 * (4096 * 2 * 8 * 128 * 2 + 2 * 32 * 128 * 2)
    assert r.bytes_reduce == 0 and r.reduce_time_s == 0
    assert r.time_s == pytest.approx(r.bytes_attention / (3.35e12 * 0.88 * 8 / 132))


def test_splits_by_hand():
    r = split_kv("llama-3-8b", "h100-sxm", 1, 8191, [4, 17])
    assert r.blocks.tolist() == [32, 136]
    assert r.waves.tolist() == [1, 2]
    assert r.busy.tolist() == pytest.approx([32 / 132, 136 / 264])
    # each split: 128 FP32 outputs + 1 FP32 log-sum-exp per query head, written and read
    assert r.bytes_reduce[0] == 32 * 2 * 32 * 4 * 129 * 4
    assert r.reduce_time_s[0] == pytest.approx(
        r.bytes_reduce[0] / (3.35e12 * 0.88) + 32 * 1.3e-6)


def test_query_head_grid_and_the_key_tiles():
    r = split_kv("llama-3-8b", "h100-sxm", 1, 8191, grid="query_head")
    assert r.blocks == 32
    # 300 keys are 3 tiles of 128: asking for 8 splits gives 3
    r = split_kv("llama-3-8b", "h100-sxm", 2, 299, 8)
    assert r.splits_used == 3 and r.blocks == 2 * 8 * 3
    # GPT-2's heads of 64 take tiles of 256 keys (FlashAttention-2's block_n): 1,000 keys, 4
    assert split_kv("gpt2", "h100-sxm", 1, 999, 8).splits_used == 4


def test_attention_bytes_are_lib_inference_s():
    est = inference.decode("qwen2-7b", "a100-sxm-80gb", 4, 2048, kv_dtype="fp8")
    r = split_kv("qwen2-7b", "a100-sxm-80gb", 4, 2048, kv_dtype="fp8")
    assert r.bytes_attention == pytest.approx(sum(est.op(n).bytes for n in
                                                  ("attention scores QK^T", "softmax",
                                                   "attention x V")))


def test_broadcasts():
    r = split_kv("llama-3-8b", "h100-sxm", [[1], [16]], [1024, 8192], [[1], [4]])
    assert np.shape(r.time_s) == (2, 2)
    assert occupancy.best_splits("llama-3-8b", "h100-sxm", [[1], [16]], [1024, 8192]).shape \
        == (2, 2)


def test_sm_count_missing_is_a_clear_error_or_an_override():
    with pytest.raises(ValueError, match=r"device 'b200' publishes no SM count.*sm_count="):
        split_kv("llama-3-8b", "b200", 1, 1024)
    r = split_kv("llama-3-8b", "b200", 1, 1024, sm_count=148)
    assert r.sm_count == 148 and r.busy == pytest.approx(8 / 148)


@pytest.mark.parametrize("kwargs,match", [
    ({"splits": 0}, r"splits=0 must be a whole number > 0"),
    ({"splits": 2.5}, r"splits=2.5 must be a whole number > 0"),
    ({"grid": "head"}, r"grid='head' is not known.*Accepted: kv_head, query_head"),
    ({"sm_count": -1}, r"sm_count=-1 must be a whole number > 0"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        split_kv("llama-3-8b", "h100-sxm", 1, 1024, **kwargs)


def test_flash_attention2_heuristic_known_answers():
    # the comment in flash_api.cpp: batch x heads = 48 on 108 SMs -> 2 splits (there the
    # SMs are the slots; the caller doubles them, so pass 54)
    assert occupancy.flash_attention2_splits(48, 54, keys=4096) == 2
    # 8 blocks, 264 slots, 64 tiles: 8s/264 is best (0.97) at s = 32; 85% of it needs
    # s >= 27.2, and of 23..31 none changes ceil(64 / s) from 3: the answer is 32
    assert occupancy.flash_attention2_splits(8, 132, keys=8192) == 32
    # 212 blocks >= 0.8 x 264: no split
    assert occupancy.flash_attention2_splits(212, 132, keys=8192) == 1
    # a short cache: at most ceil(300 / 128) = 3 splits
    assert occupancy.flash_attention2_splits(8, 132, keys=300) == 3


def test_flash_decoding_bench_is_as_published():
    rows = occupancy.FLASH_DECODING_BENCH
    assert len(rows) == 10 and rows[0] == (256, 256, 390.5, 63.4)
    assert rows[-2] == (1, 65536, 2300.6, 64.4) and rows[-1] == (1, 131072, 4592.2, 106.6)
    assert all(b * n == 65536 for b, n, _, _ in rows[:-1])
    assert occupancy.BENCH_SHAPE == (16, 2, 128)
    t = occupancy.flash_decoding_table()
    assert len(t.rows) == 10


settings_ = settings(max_examples=40, deadline=None, derandomize=True)


@settings_
@given(model=st.sampled_from(MODELS), device=st.sampled_from(DEVICES),
       batch=st.integers(1, 128), context=st.integers(0, 65536), splits=st.integers(1, 128))
def test_more_splits_never_fewer_busy_sms(model, device, batch, context, splits):
    one, many = (split_kv(model, device, batch, context, s) for s in (1, splits))
    assert many.busy >= one.busy - 1e-12
    # only the reduction can make splitting slower than not splitting
    assert many.time_s - many.reduce_time_s <= one.time_s * (1 + 1e-12)
    assert 0 < many.busy <= 1 and many.waves == math.ceil(many.blocks / many.sm_count)


@settings_
@given(model=st.sampled_from(MODELS), device=st.sampled_from(DEVICES),
       batch=st.integers(1, 64), context=st.integers(0, 32768))
def test_best_split_is_never_slower_than_none(model, device, batch, context):
    best = occupancy.best_splits(model, device, batch, context, max_splits=64)
    t = split_kv(model, device, batch, context, [1, best]).time_s
    assert t[1] <= t[0]
    tile = occupancy.key_tile(models.get(model).head_dim)
    assert 1 <= best <= max(1, math.ceil((context + 1) / tile))
