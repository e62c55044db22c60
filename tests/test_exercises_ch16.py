"""Known answers of chapter 16's exercises (lib.exercises.ch16), computed by hand from the
reference machine (40 GB/s, 200 GFLOP/s FP32) and the models' published sizes, not by
calling lib."""

from __future__ import annotations

import pytest

from lib import exercises

# GPT-2 (124,439,808 parameters; Radford et al. 2019, the Hugging Face checkpoint): a batch-1
# FP32 step reads every weight once (4 bytes each), and 512 cached tokens of 12 layers x 2
# (K, V) x 768 x 4 bytes; the embedding table is also the LM head (tied), read in full there.
_GPT2 = (124_439_808 * 4 + 512 * 12 * 2 * 768 * 4) / 40e9 * 1e3
# Llama-3-8B (8,030,261,248 parameters, of which the 128,256 x 4,096 input embedding is
# read one row per token, not in full): 4 bytes per weight at 40 GB/s
_LLAMA = 40e9 / ((8_030_261_248 - 128_256 * 4_096) * 4)

BY_HAND = {
    # np.add over 2^25 FP32 elements: a, b read, c written: 3 x 2^25 x 4 bytes at 40 GB/s
    "ch16.add-ms": (3 * 2**25 * 4 / 40e9 * 1e3, 1e-6),
    # write-allocate: c's lines are read before they are written: 4n on the bus, 3n counted
    "ch16.write-allocate-factor": (4 / 3, 1e-12),
    # ridge 200e9 / 40e9 = 5 FLOP/byte = r / 4 (2r FLOP per 8 bytes)
    "ch16.dialled-r-at-ridge": (20, 1e-12),
    "ch16.gpt2-decode-ms": (_GPT2, 1e-2),
    "ch16.critique-tok-s": (_LLAMA, 1e-2),
}


@pytest.mark.parametrize("id,expected,rel", [(k, *v) for k, v in sorted(BY_HAND.items())])
def test_answers_match_the_hand_calculation(id, expected, rel):
    assert exercises.answer(id) == pytest.approx(expected, rel=rel, abs=0)


def test_every_chapter_16_exercise_has_a_test():
    assert {i for i in exercises.ids() if i.startswith("ch16.")} == set(BY_HAND)


def test_the_checks_give_feedback_both_ways():
    assert exercises.check("ch16.dialled-r-at-ridge", 20)
    assert not exercises.check("ch16.dialled-r-at-ridge", 5)
