"""lib.exercises: checks that tell a student whether a numeric answer is close."""

from __future__ import annotations

import math

import pytest

from lib import exercises


def test_right_answer():
    fb = exercises.check("ch03.ridge-h100", 300)
    assert fb and fb.correct
    assert repr(fb).startswith("✓ 300 is within 5% of the expected 295.3 FLOP/byte")


def test_wrong_answer_says_which_way_and_hints():
    fb = exercises.check("ch03.ridge-h100", 590)
    assert not fb
    assert "100% too high" in repr(fb)
    assert "Hint: dense BF16 peak ÷ HBM bandwidth." in repr(fb)
    assert "too low" in repr(exercises.check("ch03.ridge-h100", 150))


def test_the_sparse_mistake_is_caught():
    # using the datasheet's sparse 1,979 TFLOP/s doubles the ridge point
    assert not exercises.check("ch03.ridge-h100", 1979e12 / 3.35e12)


def test_unknown_id_suggests():
    with pytest.raises(ValueError, match=r"exercise='ch03.ridge-h10' is not known; "
                                         r"did you mean 'ch03.ridge-h100'"):
        exercises.check("ch03.ridge-h10", 295)


def test_bad_value():
    with pytest.raises(ValueError, match=r"value=-1 must be a finite number >= 0"):
        exercises.check("ch03.ridge-h100", -1)
    with pytest.raises(ValueError, match=r"value=nan"):
        exercises.check("ch03.ridge-h100", float("nan"))


def test_register_twice_is_an_error():
    exercises.ids()  # load every chapter's registrations
    with pytest.raises(ValueError, match=r"id='ch03.ridge-h100' is registered twice"):
        exercises.register("ch03.ridge-h100", "", lambda: 1.0)


def test_ids_are_namespaced_by_chapter():
    for i in exercises.ids():
        assert i.split(".")[0] in exercises.CHAPTER_MODULES, i


@pytest.mark.parametrize("id", exercises.ids())
def test_every_answer_is_finite_and_positive(id):
    value = exercises.answer(id)
    assert math.isfinite(value) and value > 0
    assert exercises.check(id, value).correct  # lib's own answer passes its own check


CH03 = {
    "ch03.ridge-h100": 295.3, "ch03.ridge-a100": 153.0, "ch03.fp32-ops-a100": 100.3,
    "ch03.gemm-m64-h100-us": 10.33, "ch03.first-m-bf16": 1024, "ch03.first-m-w8a16": 256,
    "ch03.first-m-int8": 1024, "ch03.mbu-gpt-fast-int8": 0.514,
}


@pytest.mark.parametrize("id,expected", sorted(CH03.items()))
def test_chapter3_known_answers(id, expected):
    assert exercises.answer(id) == pytest.approx(expected, rel=2e-3)
