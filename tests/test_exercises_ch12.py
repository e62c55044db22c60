"""Known answers of chapter 12's exercises (lib.exercises.ch12), computed by hand from the
published constants, not by calling lib."""

from __future__ import annotations

import pytest

from lib import exercises

BY_HAND = {
    # Leviathan et al. 2023, Table 4, EnDe with a T5-small draft: alpha 0.75, gamma 7, c 0.02
    "ch12.t5-small-tokens": ((1 - 0.75 ** 8) / 0.25, 1e-12),
    "ch12.t5-small-speedup": ((1 - 0.75 ** 8) / 0.25 / (7 * 0.02 + 1), 1e-12),
    # Leviathan et al., Theorem 3.11 with c_hat = 0: (gamma + 1) / tau at alpha 0.7, gamma 4
    "ch12.flops-factor": (5 / ((1 - 0.7 ** 5) / 0.3), 1e-12),
    # Medusa's five heads on Llama-2-7B's shapes (d 4096, V 32000): block d^2 + bias d,
    # projection d V, at 2 bytes
    "ch12.medusa-heads-gb": (5 * (4096 ** 2 + 4096 + 4096 * 32000) * 2 / 1e9, 1e-12),
}


@pytest.mark.parametrize("id,expected,rel", [(k, *v) for k, v in sorted(BY_HAND.items())])
def test_answers_match_the_hand_calculation(id, expected, rel):
    assert exercises.answer(id) == pytest.approx(expected, rel=rel, abs=0)


def test_leviathan_t5_prediction_is_what_they_printed():
    assert round(exercises.answer("ch12.t5-small-speedup"), 1) == 3.2     # Table 4, "Exp"


def test_answers_that_follow_from_the_formula():
    # the 8B draft costs a ninth to a fifth of the 70B's step: by hand, Theorem 3.8's best
    # gamma is 6 at c = 0.1 (2.470x) and 4 at c = 0.2 (1.868x)
    assert 4 <= exercises.answer("ch12.pair-best-gamma") <= 6
    assert 1.867 < exercises.answer("ch12.pair-best-speedup") < 2.471
    # at batch 64 the verification costs more than a step: less than batch 1's
    # (1 - 0.8^9) / 0.2 / (1 + 8 x 0.05) = 3.09x, still more than 1
    assert 1 < exercises.answer("ch12.explorer-b64-speedup") < 3.09
    assert exercises.answer("ch12.busy-speedup") < 1
    # 16 x 39 = 624 tokens through the matrix products, past the ridge
    assert 1.2 < exercises.answer("ch12.tree-verify-ratio-b16") < 39 / 16 * 2


def test_every_chapter_12_exercise_has_a_test():
    ids = {i for i in exercises.ids() if i.startswith("ch12.")}
    tested = set(BY_HAND) | {"ch12.pair-best-gamma", "ch12.pair-best-speedup",
                             "ch12.explorer-b64-speedup", "ch12.busy-speedup",
                             "ch12.tree-verify-ratio-b16"}
    assert ids == tested
