"""Known answers of chapter 14's exercises (lib.exercises.ch14), computed by hand from the
published constants, not by calling lib."""

from __future__ import annotations

import math

import pytest

from lib import exercises

# Ring attention on L40S (catalog: 362.05 TFLOP/s dense BF16; PCIe Gen4 x16, 32 GB/s each way,
# NCCL's 1 us per PCIe message): a block of n tokens of Llama-3-8B (32 query heads, 8 KV heads,
# head_dim 128) computes 4 n^2 x 32 x 128 FLOP against n x (2 x 8 x 128 x 2 bytes) sent.
_a, _b, _c = 4 * 32 * 128 / 362.05e12, 2 * 8 * 128 * 2 / 32e9, 1e-6
_RING = math.ceil((_b + math.sqrt(_b ** 2 + 4 * _a * _c)) / (2 * _a))

BY_HAND = {
    # GPipe (Huang et al. 2019): (p - 1) / (m + p - 1) with 4 stages and 4 micro-batches
    "ch14.bubble-4x4": (3 / 7, 1e-12),
    # Llama-3-70B, tp 8 on H100 SXM: 80 layers x 2 all-reduces of d 8192 x 2 bytes, each
    # NCCL's 6.6 us + 2 (8 - 1) x 0.6 us + 2 x 7/8 x 16384 B / 450 GB/s (NVLink 4 per direction)
    "ch14.tp8-allreduces-ms": (160 * (6.6e-6 + 14 * 0.6e-6 + 2 * 7 / 8 * 16384 / 450e9) * 1e3,
                               1e-9),
    # Mixtral: 4096 tokens over 8 devices, top-2, d 4096, bf16; 7 of 8 shares leave the device
    "ch14.mixtral-dispatch-mb": (4096 / 8 * 2 * 4096 * 2 * 7 / 8 / 1e6, 1e-12),
    "ch14.ring-min-block-l40s": (_RING, 0),
}


@pytest.mark.parametrize("id,expected,rel", [(k, *v) for k, v in sorted(BY_HAND.items())])
def test_answers_match_the_hand_calculation(id, expected, rel):
    assert exercises.answer(id) == pytest.approx(expected, rel=rel, abs=0)


def test_answers_that_follow_from_the_model():
    # 141 GB of bf16 weights need at least 2 H100s (80 GB each); at 2, the 16 prompts of 1024
    # tokens cost 2 x 70.55e9 x 16384 / 2 = 1.16 PFLOP per GPU, 1.17 s at the 989.4 TFLOP/s
    # dense peak alone: over the 1 s TTFT target at any efficiency. At 4, the layers' products
    # alone take 1.17 s / 2 at MAMF (0.803) times the layer shapes' 0.85: 0.86 s, and attention
    # and the all-reduces push it past 1 s. The next split is 8.
    assert 2 * 70.55e9 * 16384 / 2 / 989.4e12 > 1.0
    assert 0.8 < 2 * 70.55e9 * 16384 / 4 / (989.4e12 * 0.803 * 0.85) < 1.0
    assert exercises.answer("ch14.fewest-gpus") == 8
    # a decode step reads 141 GB / 8 of weights at 3.35 TB/s: at least 5.3 ms
    assert 141e9 / 8 / 3.35e12 * 1e3 < exercises.answer("ch14.fewest-gpus-tpot-ms") < 30
    # doubling the devices can at most halve the step
    assert 1 < exercises.answer("ch14.l40s-tp4-over-tp8") < 2
    # stages run one after another for one token: never faster than one device
    assert 1 <= exercises.answer("ch14.pp4-latency-ratio") < 1.01


def test_every_chapter_14_exercise_has_a_test():
    ids = {i for i in exercises.ids() if i.startswith("ch14.")}
    assert ids == set(BY_HAND) | {"ch14.fewest-gpus", "ch14.fewest-gpus-tpot-ms",
                                  "ch14.l40s-tp4-over-tp8", "ch14.pp4-latency-ratio"}
