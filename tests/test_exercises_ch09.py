"""Chapter 9's exercise answers against hand calculations from sourced constants.

Llama-3-8B's config.json: 32 layers, 8 KV heads of 128, 8,030,261,248 parameters; Llama-2-7B:
32 KV heads, 6,738,415,616 parameters; the H100 SXM's 80 GB; KIVI's groups of 32 with an FP16
scale and minimum (liu2024kivi). Answers that rest on the calibrated estimate are held between
bounds that follow from the bytes.
"""

from __future__ import annotations

import math

import pytest

from lib import exercises
from lib.exercises import ch09

L3_ELEMENTS = 2 * 32 * 8 * 128
L3_PARAMS = 8_030_261_248
L2_PARAMS = 6_738_415_616
L2_KAPPA = 2 * 32 * 32 * 128 * 2


def test_kappa_of_kivi2_by_hand():
    assert exercises.answer("ch09.kappa-int2-g32-kib") == L3_ELEMENTS * (2 + 32 / 32) / 8 / 1024


def test_amdahl_by_hand():
    w = 2 * L2_PARAMS
    kv = ch09.AMDAHL_BATCH * ch09.AMDAHL_CONTEXT * L2_KAPPA
    f = kv / (w + kv)
    # lib counts the bytes the step really moves (one embedding row, activations): within 1%
    assert exercises.answer("ch09.amdahl-fp8-l2-b8-4k") == pytest.approx(
        1 / ((1 - f) + f * 0.5), rel=0.01)


def test_max_batch_by_hand():
    free = 80e9 - L3_PARAMS * 4 / 8
    per_seq = ch09.FIT_CONTEXT * L3_ELEMENTS * 5 / 8
    assert exercises.answer("ch09.max-batch-int4-32k") == math.floor(free / per_seq) == 56


def test_estimates_lie_within_what_their_bytes_allow():
    # explorer: KIVI-4 cache (r = 5/16) for 8 sequences of 32,768 tokens
    kv = ch09.PREDICT_BATCH * ch09.PREDICT_CONTEXT * L3_ELEMENTS * 2
    f = kv / (2 * L3_PARAMS + kv)
    got = exercises.answer("ch09.explorer-int4g32-b8-32k")
    assert 1.5 < got < 1 / ((1 - f) + f * 5 / 16)
    # int4 weights at batch 1: at most the bytes' 4x, less the dequantisation's 0.928
    assert 2 < exercises.answer("ch09.int4-weights-b1-speedup") < 4 * 0.928
    # at batch 256 the weights are a small share of the bytes
    kv256 = 256 * ch09.CRITIQUE_CONTEXT * L3_ELEMENTS * 2
    f_w = 2 * L3_PARAMS / (2 * L3_PARAMS + kv256)
    assert 1 < exercises.answer("ch09.int4-weights-b256-speedup") < 1 / ((1 - f_w) + f_w / 4)


def test_every_chapter_9_exercise_is_registered_and_checks():
    ids = [i for i in exercises.ids() if i.startswith("ch09.")]
    assert len(ids) >= 5
    for i in ids:
        assert exercises.check(i, exercises.answer(i))
