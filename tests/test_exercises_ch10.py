"""Chapter 10's exercise answers, computed by hand from sourced constants (not by lib)."""

from __future__ import annotations

import math

import pytest

from lib import exercises
from lib.exercises import ch10

#: Llama-3-8B: 8,030,261,248 parameters (config.json), 32 layers x 8 KV heads x 128 x 2
#: bytes x 2 (K and V) = 131,072 bytes per token; H100 SXM: 80 GB.
PARAMS, KAPPA, MEMORY = 8_030_261_248, 2 * 32 * 8 * 128 * 2, 80e9
BUDGET = math.floor((0.9 * MEMORY - 2 * PARAMS) / KAPPA)          # 426,784 tokens

BY_HAND = {
    # every request reserves 8,192 slots
    "ch10.max-batch-h100": math.floor(BUDGET / 8192),
    # c = 101..400 in 16-token blocks: 12 steps in block 7, then blocks 8..25 full;
    # slots 16 x (12 x 7 + 16 x (8 + ... + 25)) = 77,376; tokens sum(100 + t) = 75,150
    "ch10.paged-slack-tokens": (16 * (12 * 7 + 16 * sum(range(8, 26))) - (300 * 100 + 300 * 301 / 2))
    / 300,
    # without: 32 x ceil(1200/16) = 2,400 blocks; with: 62 + 32 x (75 - 62) = 478
    "ch10.system-prompt-saving": 1 - (62 + 32 * 13) / 2400,
}


@pytest.mark.parametrize("id,value", sorted(BY_HAND.items()))
def test_known_answers(id, value):
    assert exercises.answer(id) == pytest.approx(value, rel=1e-9)
    assert exercises.check(id, value)


def test_budget_by_hand():
    assert BUDGET == 426_784


def test_alpaca_answers_agree_with_the_mean_lengths():
    # paged lifetime slots per request ~ P + E[n^2]/(2 E[n]) + (sigma-1)/2; for exponential
    # outputs E[n^2] = 2 n_bar^2: 19.31 + 58.45 + 7.5 ~ 85 slots against 8,192 reserved
    approx_gain = 8192 / (19.31 + 58.45 + 7.5)
    assert exercises.answer("ch10.alpaca-gain") == pytest.approx(approx_gain, rel=0.08)
    # 256-token blocks: nearly every sequence fits in one block, ~80 of 256 slots used
    assert exercises.answer("ch10.alpaca-slack-256") == pytest.approx(1 - 80 / 256, rel=0.08)


def test_every_chapter_10_answer_is_checked_here():
    ids = {i for i in exercises.ids() if i.startswith("ch10.")}
    assert ids == set(BY_HAND) | {"ch10.alpaca-gain", "ch10.alpaca-slack-256"}
    assert ch10.MAX_LEN == 8192
