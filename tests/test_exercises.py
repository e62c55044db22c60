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
    "ch01.fused-ops-h100": (67 / 3.35 * 8, 1e-9),
    "ch01.dot-share-h100": (0.5 * 3.35e12 / 67e12 * 100, 1e-3),    # against the FP32 units
    "ch01.h200-decode-speedup": (4.8 / 3.35, 1e-9),
    "ch01.warps-per-sm-h100-pcie": (2e12 * 658.4 / 1.755e9 / 114 / (32 * 16), 1e-6),
    # chapter 2
    "ch02.a100-peak": (432 * 256 * 2 * 1.41e9, 1e-9),
    "ch02.square-intensity": (2 * 4096 / 6, 1e-9),
    "ch02.critical-m-h100": (319, 0),              # 2m·8192² / 2(2·8192m + 8192²) >= 295.3
    "ch02.critical-m-h100-int8w": (160, 0),
    # with the sparse 1978.9 TFLOP/s: m·4096² / (2·4096m + 4096²) >= 590.7 from m = 831
    "ch02.critical-m-sparse-h100": (831, 0),
    "ch02.tiled-intensity": (2 * 8192**3 / (2 * (8192**3 / 256 + 8192**3 / 128 + 8192**2)),
                             1e-9),
    "ch02.wave-efficiency": (162 / (2 * 132), 1e-9),  # 18 x 9 tiles on 132 SMs: 2 waves
    "ch02.explorer-first-m": (1024, 0), "ch02.explorer-first-m-w8a16": (256, 0),
    # chapter 3
    "ch03.ridge-h100": (989.4 / 3.35, 1e-9), "ch03.ridge-a100": (312 / 2.039, 1e-9),
    "ch03.mbu-gpt-fast-int8": (6_738_415_616 * 155.58 / 2.039e12, 1e-9),
    "ch03.mamf-wave-efficiency": (128 / 132, 1e-9),   # 2048/128 x 2048/256 = 128 tiles, 1 wave
    "ch03.maf-clock-efficiency": (708 / (1307.4 * 1207 / 2100), 1e-9),
    "ch03.l2-tile-side-h100-pcie": (256, 0),   # 4096 / (8192/T + 1) >= 756/6.9 from T = 226
    "ch03.tp2-link-intensity": (4096 / 2, 1e-9),    # K / b for two devices
    # chapter 4
    "ch04.llama2-7b-params": (6_738_415_616, 0),
    "ch04.llama3-70b-kv-bytes": (2 * 80 * 8 * 128 * 2, 0),
    "ch04.llama2-7b-kv-outweighs-weights": (6_738_415_616 * 2 / (2 * 32 * 32 * 128 * 2), 1e-9),
    "ch04.llama3-8b-attention-beats-mlp": (2 * 3 * 4096 * 14336 / (4 * 32 * 128), 1e-9),
    # QKV projection of one decode step: 32 layers x (d x (h_q + 2 h_kv) d_h GEMM, one row)
    "ch04.llama3-8b-qkv-flops": (32 * 2 * 1 * (4096 + 2 * 1024) * 4096, 0),
    "ch04.llama3-8b-qkv-bytes": (32 * 2 * (4096 * 6144 + 4096 + 6144), 0),
    # h_q / h_kv, plus the softmax's few FLOPs and the query and output rows
    "ch04.llama3-8b-decode-attention-intensity": (32 / 8, 0.02),
    # chapter 5
    "ch05.ttft-hand-ms": (2 * L13 * 4096 / 312e12 * 1e3, 1e-9),
    "ch05.ttft-lib-ms": (2 * L13 * 4096 / 312e12 * 1e3, 0.15),  # + attention, norms, exps
    # Llama-2-7B, P = 4096, h_q = h_kv = 32, d_h = 128: causal Q K^T over Q and K read once
    "ch05.attn-ai-fused": (32 * 4097 / (2 * (32 + 32)), 1e-9),
    # ... and with every one of the P^2 scores per head written once (2 bytes)
    "ch05.attn-ai-unfused": (2 * 32 * 128 * 4096 / (2 * (2 * 32 * 128 + 4096 * 32)), 1e-9),
    # Llama-3-8B, P = 8192, K once per 256-row tile: 1/I = b/(2 t_q) + b/P
    "ch05.tiled-ai-256": (1 / (2 / (2 * 256) + 2 / 8192), 0.01),
    # Llama-3-8B, P = 512: 4 L h_q d_h P(P+1)/2 against 2 P (N - embedding - LM head)
    "ch05.attn-flop-share-512": (100 * 4 * 32 * 32 * 128 * 512 * 513 / 2
                                 / (4 * 32 * 32 * 128 * 512 * 513 / 2
                                    + 2 * 512 * (L3_8 - 2 * 128_256 * 4096)), 0.02),
    "ch05.mlp-up-ai-512": (2 * 512 * 4096 * 14336
                           / (2 * (512 * 4096 + 4096 * 14336 + 512 * 14336)), 1e-9),
    # chapter 6
    "ch06.tpot-13b-a100-ms": (READ_L13 / 2.039e12 * 1e3, 0.01),
    "ch06.critical-batch-a100": (312 / 2.039, 1e-9),
    "ch06.critical-batch-a100-int8": (312 / 2.039 / 2, 1e-9),
    "ch06.fp8kv-max-batch-32k": ((80e9 - L3_8 * 2) // (32768 * KV_L3 / 2), 0),
    "ch06.decode-ceiling-2k": (2 * L3_8 / (2048 * KV_L3), 0.06),   # + attention FLOPs, activations
    "ch06.no-compute-bound-context": (2 * L3_8 * 3.35e12 / (989.4e12 * KV_L3), 1e-9),
    "ch06.tpot-ratio-16k-1k": ((2 * L3_8 + 16 * 16384 * KV_L3) / (2 * L3_8 + 16 * 1024 * KV_L3),
                               0.05),
    "ch06.paged-throughput-gain": (   # 238 vs 59 sequences of 2,048 tokens, memory-bound steps
        ((80e9 - 2 * L3_8) // (2048 * KV_L3)) / (2 * L3_8 + 238 * 2048 * KV_L3)
        / (((80e9 - 2 * L3_8) // (8192 * KV_L3)) / (2 * L3_8 + 59 * 2048 * KV_L3)), 0.05),
    # chapter 7
    "ch07.l4-max-batch": ((24e9 - L3_8 * 2) // (2049 * KV_L3), 0),
    "ch07.sla-batch-h100": ((80e9 - L3_8 * 2) // (2304 * KV_L3), 0),   # memory, not time
    "ch07.tpot-fp8-kv-ms": ((READ_L3 + 64 * 4097 * KV_L3 / 2) / 3.35e12 * 1e3, 0.03),
    "ch07.e2e-chat-s": (2 * L3_8 * 1000 / 989.4e12
                        + 255 * (READ_L3 + 1128 * KV_L3) / 3.35e12, 0.02),
    # (b_w / 2) x ridge with b_w = 1: lib's prefill adds attention and activations
    "ch07.exchange-int8-h100": (1 / 2 * 989.4e12 / 3.35e12, 0.1),
    # one H100's TPOT over (an eighth of it + 64 ring all-reduces of 8,192 bytes over 8 GPUs:
    # NCCL's 6.6 us base, 14 messages of 0.6 us, 14/8 x 8,192 bytes at 450 GB/s)
    "ch07.tp8-speedup": ((READ_L3 + 2048 * KV_L3) / 3.35e12
                         / ((READ_L3 + 2048 * KV_L3) / 3.35e12 / 8
                            + 64 * (6.6e-6 + 14 * 0.6e-6 + 14 / 8 * 8192 / 450e9)), 0.02),
    "ch07.mi300x-tpot-ratio": (5.3 / 3.35, 0.01),        # memory-bound: the bandwidths
    # chapter 8
    "ch08.bandwidth-a100-80": (1759 / 2039, 1e-9),      # gpu-stream triad / datasheet
    "ch08.graph-kernel-us": (2 * 4096 * 8 / 49e9 * 1e6, 1e-9),   # 65,536 B at 49 GB/s
    # gpt-fast, Llama-3.1-8B, A100 80 GB: 200 steps at contexts 5..204 (mean 105), the
    # weights and the cache at 0.863 of 2,039 GB/s, 129 weight-streaming matrix products of
    # 3.33 us, 194 other kernels of 1.3 us, 32 attention calls of 15 us (activations left out)
    "ch08.predict-tokens-per-s": (1 / ((READ_L3 + 105 * KV_L3) / (0.863 * 2.039e12)
                                       + 129 * 3.33e-6 + 194 * 1.3e-6 + 32 * 15e-6), 0.005),
    # Mixtral 8x7B at batch 32 reads every expert; FP16 over 2 GPUs; 2,047 steps
    "ch08.rejected-weights-s": (2047 * (46_702_792_704 - 32_000 * 4096) * 2 / 2 / 2.039e12,
                                0.001),
    # Llama-2-7B, FP8: every weight but 31,872 embedding rows, 0.88 of 3.35 TB/s
    "ch08.ttft128-weights-ms": ((6_738_415_616 - 31_872 * 4096) / (0.88 * 3.35e12) * 1e3,
                                1e-6),
}


@pytest.mark.parametrize("id,expected,rel", [(k, *v) for k, v in sorted(BY_HAND.items())])
def test_answers_match_the_hand_calculation(id, expected, rel):
    assert exercises.answer(id) == pytest.approx(expected, rel=rel, abs=0)


def test_answers_that_follow_from_others():
    assert 295 < exercises.answer("ch07.first-compute-bound-prompt") < 2 * 295
    assert 1 < exercises.answer("ch07.tp8-speedup") < 8 / 2      # latency, not bytes
    assert exercises.answer("ch05.first-p-b8") < exercises.answer("ch05.first-p-b1")
    assert exercises.answer("ch05.gpt2-launch-ratio") > 1
    assert exercises.answer("ch05.int4-speedup") == pytest.approx(1.0, abs=0.02)
    assert 1.5 < exercises.answer("ch05.fp8-speedup") < 2.0     # exps do not speed up
    assert 1 < exercises.answer("ch06.fp8kv-speedup-32k") < 2
    assert 0 < exercises.answer("ch06.kv-share-b64-4k") < 1
    assert 5 < exercises.answer("ch06.launch-breakeven-us") < 20
    assert exercises.answer("ch06.critical-batch-llama3-a100") > 153
    assert 0 < exercises.answer("ch06.hotspot-share") < 0.05        # bytes are elsewhere
    # lib's sweep finds fewer tokens than the derivation: activations use up arithmetic time
    from lib import regimes
    import numpy as np
    ctx = np.arange(8, 1025, 8)
    swept = ctx[np.isinf(regimes.critical_batch("llama-3-8b", "h100-sxm", ctx))][0]
    assert 0.6 < swept / exercises.answer("ch06.no-compute-bound-context") < 1


def test_exercises_load_neither_widgets_nor_pyplot():
    import subprocess
    import sys

    code = ("import sys; from lib import exercises; exercises.check('ch03.ridge-h100', 1); "
            "exercises.ids(); bad = [m for m in sys.modules if m.startswith("
            "('lib.widgets', 'matplotlib', 'PIL'))]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
