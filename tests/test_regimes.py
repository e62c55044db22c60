"""lib.regimes: where prefill and decode change bound, read with the one tie rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib import inference, regimes


def test_critical_batch_is_where_decode_turns_compute_bound():
    for model, ctx in (("llama-3-8b", 0), ("mixtral-8x7b", 64), ("llama-2-70b", 256)):
        b = regimes.critical_batch(model, "h100-sxm", context=ctx)
        assert np.isfinite(b)
        assert inference.decode(model, "h100-sxm", batch=b, context=ctx).bound == "compute"
        assert inference.decode(model, "h100-sxm", batch=b - 1, context=ctx).bound == "memory"
    # near peak / bandwidth (295) for a dense model at short context, above it (activations)
    assert 295 <= regimes.critical_batch("llama-3-8b", "h100-sxm", 0) < 1.5 * 295
    # at long context MHA attention keeps decode memory-bound for any batch
    assert regimes.critical_batch("llama-2-7b", "h100-sxm", context=8192) == np.inf
    arr = regimes.critical_batch("llama-3-8b", "h100-sxm", context=[0, 64, 100_000])
    assert arr[0] < arr[1] and arr[2] == np.inf


def test_int8_weights_with_bf16_compute_halve_the_critical_batch():
    bf16 = regimes.critical_batch("llama-3-8b", "h100-sxm", context=0)
    int8 = regimes.critical_batch("llama-3-8b", "h100-sxm", context=0, weight_dtype="int8")
    assert int8 == pytest.approx(bf16 / 2, rel=0.02)


def test_shortest_compute_bound_prompt_is_the_first_compute_bound_prefill():
    p = regimes.shortest_compute_bound_prompt("llama-3-8b", "h100-sxm")
    assert inference.prefill("llama-3-8b", "h100-sxm", 1, int(p)).bound == "compute"
    assert inference.prefill("llama-3-8b", "h100-sxm", 1, int(p) - 1).bound == "memory"
    assert regimes.shortest_compute_bound_prompt("llama-3-8b", "h100-sxm", 8) < p
    assert regimes.shortest_compute_bound_prompt("llama-3-8b", "h100-sxm",
                                                 prompt_lens=[1, 2]) == math.inf
    with pytest.raises(ValueError, match="sizes=.* strictly increasing"):
        regimes.shortest_compute_bound_prompt("llama-3-8b", "h100-sxm", prompt_lens=[8, 4])


def test_ceiling_is_where_the_decode_trail_stalls():
    ceiling = regimes.decode_ceiling("llama-3-8b", "h100-sxm", 2048)
    ai = inference.decode("llama-3-8b", "h100-sxm", [1, 64, 4096, 2**18],
                          2048).arithmetic_intensity
    assert np.all(np.diff(ai) > 0) and np.all(ai < ceiling)
    assert ai[-1] == pytest.approx(ceiling, rel=0.01)
    for context in (0, 128, 2048):            # the ceiling and the search agree
        c = regimes.decode_ceiling("llama-3-8b", "h100-sxm", context)
        crit = regimes.critical_batch("llama-3-8b", "h100-sxm", context)
        assert math.isinf(crit) == (c < 295.3)


def test_ceiling_falls_with_context_and_rises_with_a_narrower_cache():
    c = regimes.decode_ceiling("llama-3-8b", "h100-sxm", [512, 2048, 8192])
    assert c.shape == (3,) and np.all(np.diff(c) < 0)
    fp8 = regimes.decode_ceiling("llama-3-8b", "h100-sxm", 2048, kv_dtype="fp8")
    assert fp8 == pytest.approx(2 * c[1], rel=0.1)


def test_largest_batch_within_a_latency_target():
    b = regimes.largest_batch_within("llama-3-8b", "h100-sxm", 0.02, 2303)
    assert inference.decode("llama-3-8b", "h100-sxm", b, 2303).time_s <= 0.02
    assert inference.decode("llama-3-8b", "h100-sxm", b + 1, 2303).time_s > 0.02
    # memory, not time, limits it at 25 ms
    assert regimes.largest_batch_within("llama-3-8b", "h100-sxm", 0.025, 2303) == 211
    assert regimes.largest_batch_within("llama-2-70b", "h100-sxm", 1.0, 100) == 0   # no fit
    with pytest.raises(ValueError, match="tpot_target_s=0 must be"):
        regimes.largest_batch_within("llama-3-8b", "h100-sxm", 0, 100)
