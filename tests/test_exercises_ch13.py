"""Known answers of chapter 13's exercises (lib.exercises.ch13), computed by hand from the
models' config.json shapes and the catalog's constants, not by calling lib."""

from __future__ import annotations

import pytest

from lib import exercises

#: Llama-3-8B (config.json): 32 layers, d 4,096, 32 query heads and 8 KV heads of 128,
#: d_ff 14,336; BF16 (2 bytes). KV bytes per token: 2 x 32 x 8 x 128 x 2 = 131,072.
L, D, HQ, HKV, HD, DFF, B2 = 32, 4096, 32, 8, 128, 14336, 2
KAPPA = 2 * L * HKV * HD * B2
P, W = 32768, 4096

BY_HAND = {
    # 2,048 tokens: residual read back twice, Q/K/V between GEMM and RoPE, gate/up between
    # GEMM and SiLU
    "ch13.fusion-bytes-saved-gb": (
        L * 2048 * (2 * D + 2 * HQ * HD + 4 * HKV * HD + 4 * DFF) * B2 / 1e9, 1e-9),
    # the full 2,048 x 2,048 score matrix (unfused: no causal skip), 4 passes of 2 bytes
    "ch13.unfused-score-bytes-gb": (L * HQ * 2048 ** 2 * 4 * B2 / 1e9, 1e-9),
    "ch13.window-flops-ratio": ((P * (P + 1) / 2) / (W * (W + 1) / 2 + (P - W) * W), 1e-9),
    # GPT-2: 12 layers x 13 kernels (2 norms, Q, K, V, KV write, attention, O, 2 adds, up,
    # GELU, down) + embedding, final norm, LM head = 159, at 5 µs each
    "ch13.launch-floor-gpt2-ms": (159 * 5e-3, 1e-12),
    # 16 chunks of 512: chunk i re-reads i x 512 tokens
    "ch13.chunk-kv-reread-gb": (KAPPA * 512 * sum(range(16)) / 1e9, 1e-12),
}


@pytest.mark.parametrize("id,expected,rel", [(k, *v) for k, v in sorted(BY_HAND.items())])
def test_answers_match_the_hand_calculation(id, expected, rel):
    assert exercises.answer(id) == pytest.approx(expected, rel=rel, abs=0)
    assert exercises.check(id, expected)


def test_flash_gain_is_the_score_bytes_at_the_sustained_bandwidth():
    # Unfused, the 34.4 GB of scores cost about 34.4e9 / (3.35e12 x 0.88) = 11.7 ms more,
    # plus two launches per layer; the fused prefill takes about 50 ms: a gain near 1.2
    fused_ms = 49.6
    extra_ms = L * HQ * 2048 ** 2 * 4 * B2 / (3.35e12 * 0.88) * 1e3
    assert exercises.answer("ch13.flash-gain-2k") == pytest.approx(
        (fused_ms + extra_ms) / fused_ms, rel=0.05)


def test_launch_edge_lies_where_fixed_costs_meet_the_bytes():
    # GPT-2's 250 MB of weights take ~0.14 ms at the A100's 2.039 TB/s x 0.863: against
    # 159 launches of 5 µs (0.8 ms), fixed costs dominate well past 100 tokens and stop
    # dominating below the 523 tokens where the prefill turns compute-bound
    assert 100 < exercises.answer("ch13.launch-edge-gpt2-a100") < 523


def test_piggyback_saves_most_of_a_decode_step():
    # 16 sequences of 2,048: the step reads 16 GB of weights (5.2 ms at 3.35 TB/s x 0.88)
    # and 4.3 GB of cache (1.5 ms); riding on a compute-bound chunk removes the weight reads
    # but adds the 16 rows' math: between half and 80% of the step
    assert 0.5 < exercises.answer("ch13.piggyback-saved-share") < 0.8
