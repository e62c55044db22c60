"""Known answers of chapter 15's exercises (lib.exercises.ch15), computed by hand from the
chapter's stated inputs and published constants, not by calling lib."""

from __future__ import annotations

import pytest

from lib import exercises

BY_HAND = {
    # eq-serve-static: 4 requests of 100, 200, 300 and 1,000 tokens run 1,000 steps' worth of
    # slots each (the prefill row and 999 decode slots); 1,600 of the 4,000 make a token
    "ch15.static-useful-share": (1600 / 4000, 1e-12),
    # eq-serve-little with the chapter's simulated inputs at 10 requests/s: a mean of 252.4
    # output tokens and a mean TPOT of 7.8 ms; Little's law holds to the prefill steps' share
    "ch15.little-batch": (10.0 * (252.4 - 1) * 7.8e-3, 0.1),
    # identical requests all at once, every prompt in one prefill step: the same forwards
    "ch15.burst-static-over-continuous": (1.0, 1e-9),
}


@pytest.mark.parametrize("id,expected,rel", [(k, *v) for k, v in sorted(BY_HAND.items())])
def test_answers_match_the_hand_calculation(id, expected, rel):
    assert exercises.answer(id) == pytest.approx(expected, rel=rel, abs=0)
    assert exercises.check(id, expected)


def test_answers_that_follow_from_the_model():
    # Goodput under TPOT <= 20 ms: a decode step at batch B reads 16.06 GB of weights and
    # B x ~640 tokens x 131,072 B of cache at 3.35 TB/s (4.8 TB/s on the H200): the batch
    # that keeps a step under 20 ms is at most (0.02 x 3.35e12 - 16.06e9) / (640 x 131072),
    # about 600, and each request holds a slot for 255 steps: at most 600 / (255 x 0.02)
    # requests/s. The H200's goodput is higher, by less than its 1.43x bandwidth (prefill is
    # compute-bound and the two GPUs' compute is the same).
    h100 = exercises.answer("ch15.goodput-h100")
    h200 = exercises.answer("ch15.goodput-h200")
    bound = (0.02 * 3.35e12 - 16.06e9) / (640 * 131072) / (255 * 0.02)
    assert 5 < h100 < bound
    assert 1.0 < h200 / h100 < 4.8 / 3.35
    # a batch limit of 8 at 20 requests/s of 256 output tokens cannot keep up: 8 sequences
    # at >= 4.8 ms per step make at most 8 / 4.8e-3 = 1,667 tokens/s of the 5,120 asked for,
    # so the queue grows and p90 TTFT is hundreds of times the unloaded value
    assert exercises.answer("ch15.widget-ttft-ratio") > 100
    # static batching cannot keep up at 10 chat requests/s (chapter: about 750 of 2,500
    # tokens/s); continuous batching can: more than 2x, less than the offered/static ratio
    assert 2 < exercises.answer("ch15.loaded-gain") < 2524 / 700


def test_every_chapter_15_exercise_has_a_test():
    ids = {i for i in exercises.ids() if i.startswith("ch15.")}
    assert ids == set(BY_HAND) | {"ch15.goodput-h100", "ch15.goodput-h200",
                                  "ch15.widget-ttft-ratio", "ch15.loaded-gain"}
