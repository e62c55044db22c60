"""lib.exercises: checks that tell a student whether a numeric answer is close."""

from __future__ import annotations

import math
import re

import pytest

from lib import exercises


def test_right_answer():
    fb = exercises.check("ch03.ridge-h100", 300)
    assert fb and fb.correct
    assert repr(fb) == "✓ 300 FLOP/byte is within 5% of the answer."


def test_wrong_answer_says_which_way_and_hints():
    fb = exercises.check("ch03.ridge-h100", 590)
    assert not fb
    assert "100% too high" in repr(fb)
    assert "Hint: dense BF16 peak ÷ HBM bandwidth." in repr(fb)
    assert "too low" in repr(exercises.check("ch03.ridge-h100", 150))


@pytest.mark.parametrize("id", exercises.ids())
def test_feedback_never_gives_the_answer_away(id):
    expected = exercises.answer(id)
    for guess in (expected * 0.5, expected * 2, expected * 1.001):
        verdict = repr(exercises.check(id, guess)).split(" Hint:")[0]   # hints are formulas
        verdict = verdict.replace(f"{guess:.4g}", "")
        verdict = re.sub(r"[\d.e+]+(%| times)", "", verdict)   # how far off, not the answer
        for digits in (3, 4):
            assert f"{expected:.{digits}g}" not in verdict, (id, verdict)


def test_sizes_of_a_miss():
    assert "2.95e+05 times too low" in repr(exercises.check("ch03.ridge-h100", 1e-3))
    assert "far too low" in repr(exercises.check("ch03.ridge-h100", 0))
    assert "49% too low" in repr(exercises.check("ch03.ridge-h100", 150))


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
def test_every_answer_is_finite_positive_and_discriminating(id):
    value = exercises.answer(id)
    assert math.isfinite(value) and value > 0
    assert not exercises.check(id, value * 3).correct      # the check tells answers apart
    assert not exercises.check(id, value / 3).correct


# Answers worked out by hand from the sources (datasheets, config.json, checkpoints), not
# by lib: id -> (expected, relative tolerance). The tolerance is wider where lib's model
# adds terms the hand calculation leaves out (activations, norms, the embedding rows).
L13 = 13_015_864_320          # Llama-2-13B parameters (checkpoint)
L3_8 = 8_030_261_248          # Llama-3-8B parameters (checkpoint)
KV_L3 = 2 * 32 * 8 * 128 * 2  # Llama-3-8B KV bytes per token, bf16
READ_L3 = (L3_8 - 128_255 * 4096) * 2   # bytes a decode step reads: all but 128,255 rows
READ_L13 = (L13 - 31_999 * 5120) * 2
BY_HAND = {
    # chapter 1
    "ch01.llama13b-h200-ms": (READ_L13 / 4.8e12 * 1e3, 1e-9),
    "ch01.bytes-in-flight-h100-pcie": (2e12 * 658.4 / 1.755e9 / 1e3, 1e-6),
    "ch01.fused-ops-h100": (67 / 3.35 * 8, 1e-9),
    "ch01.dot-share-h100": (0.5 * 3.35e12 / 989.4e12 * 100, 1e-3),
    "ch01.size-90pct-h100-pcie": (9 * 2e12 * 658.4 / 1.755e9 / 1e6, 1e-6),
    # chapter 2
    "ch02.a100-peak": (432 * 256 * 2 * 1.41e9, 1e-9),
    "ch02.square-intensity": (2 * 4096 / 6, 1e-9),
    "ch02.critical-m-h100": (319, 0),              # 2m·8192² / 2(2·8192m + 8192²) >= 295.3
    "ch02.critical-m-h100-int8w": (160, 0),
    "ch02.tiled-intensity": (2 * 8192**3 / (2 * (8192**3 / 256 + 8192**3 / 128 + 8192**2)),
                             1e-9),
    "ch02.wave-efficiency": (162 / (2 * 132), 1e-9),  # 18 x 9 tiles on 132 SMs: 2 waves
    "ch02.explorer-first-m": (1024, 0),
    # chapter 3
    "ch03.ridge-h100": (989.4 / 3.35, 1e-9), "ch03.ridge-a100": (312 / 2.039, 1e-9),
    "ch03.fp32-ops-a100": (19.5e12 / 1555e9 * 8, 1e-9),
    "ch03.gemm-m64-h100-us": (2 * (2 * 64 * 4096 + 4096**2) / 3.35e12 * 1e6, 1e-9),
    "ch03.first-m-bf16": (1024, 0), "ch03.first-m-w8a16": (256, 0),
    "ch03.first-m-int8": (1024, 0),
    "ch03.mbu-gpt-fast-int8": (6_738_415_616 * 155.58 / 2.039e12, 1e-9),
    # chapter 4
    "ch04.llama2-7b-params": (6_738_415_616, 0),
    "ch04.llama3-70b-kv-bytes": (2 * 80 * 8 * 128 * 2, 0),
    "ch04.llama2-7b-kv-outweighs-weights": (6_738_415_616 * 2 / (2 * 32 * 32 * 128 * 2), 1e-9),
    "ch04.llama3-8b-attention-beats-mlp": (2 * 3 * 4096 * 14336 / (4 * 32 * 128), 1e-9),
    # chapter 5
    "ch05.ttft-hand-ms": (2 * L13 * 4096 / 312e12 * 1e3, 1e-9),
    "ch05.ttft-lib-ms": (2 * L13 * 4096 / 312e12 * 1e3, 0.15),  # + attention, norms, exps
    # chapter 6
    "ch06.tpot-13b-a100-ms": (READ_L13 / 2.039e12 * 1e3, 0.01),
    "ch06.critical-batch-a100": (312 / 2.039, 1e-9),
    "ch06.critical-batch-a100-int8": (312 / 2.039 / 2, 1e-9),
    "ch06.fp8kv-max-batch-32k": ((80e9 - L3_8 * 2) // (32768 * KV_L3 / 2), 0),
    # chapter 7
    "ch07.l4-max-batch": ((24e9 - L3_8 * 2) // (2049 * KV_L3), 0),
    "ch07.sla-batch-h100": ((80e9 - L3_8 * 2) // (2304 * KV_L3), 0),   # memory, not time
    "ch07.tpot-fp8-kv-ms": ((READ_L3 + 64 * 4097 * KV_L3 / 2) / 3.35e12 * 1e3, 0.03),
    "ch07.e2e-chat-s": (2 * L3_8 * 1000 / 989.4e12
                        + 255 * (READ_L3 + 1128 * KV_L3) / 3.35e12, 0.02),
}


@pytest.mark.parametrize("id,expected,rel", [(k, *v) for k, v in sorted(BY_HAND.items())])
def test_answers_match_the_hand_calculation(id, expected, rel):
    assert exercises.answer(id) == pytest.approx(expected, rel=rel, abs=0)


def test_answers_that_follow_from_others():
    assert 295 < exercises.answer("ch07.first-compute-bound-prompt") < 2 * 295
    assert exercises.answer("ch05.first-p-b8") < exercises.answer("ch05.first-p-b1")
    assert exercises.answer("ch05.gpt2-launch-ratio") > 1
    assert exercises.answer("ch05.int4-speedup") == pytest.approx(1.0, abs=0.02)
    assert 1.5 < exercises.answer("ch05.fp8-speedup") < 2.0     # exps do not speed up
    assert 1 < exercises.answer("ch06.fp8kv-speedup-32k") < 2
    assert 0 < exercises.answer("ch06.kv-share-b64-4k") < 1
    assert 5 < exercises.answer("ch06.launch-breakeven-us") < 20
    assert exercises.answer("ch06.critical-batch-llama3-a100") > 153


def test_exercises_load_neither_widgets_nor_pyplot():
    import subprocess
    import sys

    code = ("import sys; from lib import exercises; exercises.check('ch03.ridge-h100', 1); "
            "exercises.ids(); bad = [m for m in sys.modules if m.startswith("
            "('lib.widgets', 'matplotlib', 'PIL'))]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
