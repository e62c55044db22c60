"""lib.capacity: weights and KV cache against a device's memory, from first principles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import capacity, hardware

W_7B = 6_738_415_616 * 2                    # Llama-2-7B's checkpoint at bf16, bytes


def test_kv_cache_bytes_from_first_principles():
    # 2 (K, V) x 32 layers x 32 heads x 128 x 2 bytes = 512 KiB per token
    assert capacity.kv_cache_bytes("llama-2-7b", 1, 4096) == 4096 * 512 * 1024
    # 70B: 8 KV heads, 1 per device at tp 8, fp8
    assert capacity.kv_cache_bytes("llama-2-70b", 2, 1000, "fp8", tp=8) == 2 * 1000 * 2 * 80 * 128
    assert capacity.kv_cache_bytes("mistral-7b", 1, 100_000) == 4096 * 128 * 1024  # window
    assert capacity.kv_cache_bytes("llama-2-7b", 1, 16, "int4") == 16 * 128 * 1024


def test_weights_and_memory_required():
    assert capacity.weight_bytes("llama-2-7b") == W_7B
    assert capacity.weight_bytes("llama-2-70b", "bf16", tp=4) == 68_976_648_192 * 2 / 4
    assert capacity.memory_required("llama-2-7b", 1, 4096) == W_7B + 2**31
    assert capacity.fits("llama-2-7b", "h100-sxm", 8, 4096)
    assert not capacity.fits("llama-2-70b", "h100-sxm", 1, 10)
    assert capacity.fits("llama-2-70b", "h100-sxm", [1, 64], 4096, tp=2).tolist() == [True, False]


def test_max_batch_and_max_context():
    assert capacity.max_batch("llama-2-7b", "h100-sxm", 4096) == np.floor((80e9 - W_7B) / 2**31)
    assert capacity.max_batch("llama-2-70b", "h100-sxm", 1024) == 0
    assert capacity.max_batch("llama-2-70b", "h100-sxm", 1024, tp=4) > 0
    assert capacity.max_context("llama-2-7b", "h100-sxm", 1) == np.floor((80e9 - W_7B) / 2**19)
    assert capacity.max_context("mistral-7b", "h100-sxm", 1) == np.inf
    assert capacity.max_context("mistral-7b", "h100-sxm", 4000) < 4096
    half = capacity.max_batch("llama-2-7b", "h100-sxm", 4096, memory_fraction=0.5)
    assert half == np.floor((40e9 - W_7B) / 2**31)


@settings(max_examples=40, deadline=None)
@given(context=st.integers(1, 200_000))
def test_max_batch_is_the_largest_that_fits(context):
    b = capacity.max_batch("llama-3-8b", "h200", context)
    cap = hardware.get("h200").memory_capacity
    assert capacity.memory_required("llama-3-8b", b, context) <= cap
    assert capacity.memory_required("llama-3-8b", b + 1, context) > cap


@pytest.mark.parametrize("call, match", [
    (lambda: capacity.max_batch("gpt2", "h100-sxm", 0), "context=0 must be"),
    (lambda: capacity.max_batch("gpt2", "h100-sxm", 10, memory_fraction=1.5), "memory_fraction"),
    (lambda: capacity.kv_cache_bytes("gpt2", 1, -5), "context=-5 must be a whole number >= 0"),
    (lambda: capacity.kv_cache_bytes("gpt2", 1, 5, "int2"), "kv_dtype='int2'"),
    (lambda: capacity.weight_bytes("gpt2", "tf32"), "weight_dtype='tf32'"),
    (lambda: capacity.weight_bytes("llama-2-7b", tp=3), "tp=3 must divide n_heads=32"),
    (lambda: capacity.max_context("gpt2", "h10", 1), "device='h10' is not known"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
