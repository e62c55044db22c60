"""Chapter 11's exercise answers, computed by hand from sourced constants (not by lib)."""

from __future__ import annotations

import pytest

from lib import exercises

#: H100 SXM: 132 SMs (the Hopper whitepaper's SXM5 configuration), 3.35 TB/s, sustained
#: 0.88 of it (lib.efficiency, read off FlashInfer's plots); A100 SXM 80 GB: 108 SMs,
#: 2.039 TB/s, sustained 1759 / 2039 = 0.863 (gpu-stream triad). Per-kernel cost 1.3 µs.
H100_SMS, H100_BW = 132, 3.35e12 * 0.88
A100_SMS, A100_BW = 108, 2.039e12 * 0.863
KERNEL_S = 1.3e-6
#: Llama-3-8B (config.json): 32 layers, 32 query heads, 8 KV heads of 128; BF16 cache:
#: 2 x 8 x 128 x 2 = 4,096 bytes per token per layer.
L, HQ, HKV, HD = 32, 32, 8, 128


def attention_bytes(batch: int, context: int) -> float:
    """K and V of context + 1 keys, Q read and O written, every layer (BF16)."""
    return L * batch * ((context + 1) * 2 * HKV * HD * 2 + 2 * HQ * HD * 2)


def reduction_s(batch: int, splits: int, bw: float) -> float:
    """FP32 partial outputs and log-sum-exps written and read back, plus a combine kernel."""
    return L * (2 * batch * HQ * splits * (HD + 1) * 4 / bw + KERNEL_S)


# Exercise 2, A100, batch 4, 32,768 cached: 32 blocks on 108 SMs (busy 32/108). Splits that
# fill whole waves are multiples of 27 (32 x 27 = 8 x 108); the next best, 10 splits (320
# blocks in 3 waves, 0.988), loses 123 µs of bandwidth to gain 41 µs of reduction: 27 wins.
Q2 = attention_bytes(4, 32768)
T2_ONE = Q2 / (A100_BW * 32 / 108)
T2_BEST = Q2 / A100_BW + reduction_s(4, 27, A100_BW)
# Exercise 3, H100, batch 32, 8,192 cached: 256 blocks in 2 waves (256/264 busy). Every
# split up to 16 also leaves 0.9697 busy (256 s blocks in 2 s waves); 17 splits give 4,352
# blocks in 33 waves (4352/4356), which pays for its 237 µs of reduction.
Q3 = attention_bytes(32, 8192)
T3_ONE = Q3 / (H100_BW * 256 / 264)
T3_BEST = Q3 / (H100_BW * 4352 / 4356) + reduction_s(32, 17, H100_BW)

BY_HAND = {
    # Qwen2-7B: 4 KV heads (config.json) at batch 1 on 132 SMs
    "ch11.busy-unsplit-qwen2": 4 / 132,
    "ch11.splits-full-wave-qwen2": 132 / 4,
    "ch11.splitkv-gain-b4-32k-a100": T2_ONE / T2_BEST,
    "ch11.splitkv-gain-b32-8k": T3_ONE / T3_BEST,
    # (14 - 7) kernels per layer x 32 layers x 5 µs
    "ch11.launch-saving-ms": 7 * 32 * 5e-3,
}


@pytest.mark.parametrize("id,value", sorted(BY_HAND.items()))
def test_known_answers(id, value):
    assert exercises.answer(id) == pytest.approx(value, rel=1e-6)
    assert exercises.check(id, value)


def test_hand_numbers():
    assert T2_ONE / T2_BEST == pytest.approx(3.339, abs=1e-3)
    assert T3_ONE / T3_BEST == pytest.approx(1.0098, abs=1e-4)


def test_bytes_fusion_saves_by_hand():
    # per layer at 64 tokens (BF16): the residual stream read back by the norm, twice
    # (2 x 64 x 4096 x 2), Q, K, V between the GEMM and RoPE (64 x (2 x 4096 + 4 x 1024)
    # x 2), gate and up between the GEMM and SiLU (2 x 64 x 2 x 14336 x 2)
    saved = L * (2 * 64 * 4096 * 2 + 64 * (2 * 4096 + 4 * 1024) * 2 + 2 * 64 * 2 * 14336 * 2)
    # the step moves about: weights read (all but 128,192 unread embedding rows), the cache
    # (64 x 1,025 keys x 131,072 bytes), the new entries, and ~0.7 GB of activations
    weights = 2 * (8_030_261_248 - (128_256 - 64) * 4096)
    step = weights + 64 * 1025 * 131_072 + 64 * 131_072 + 0.72e9
    assert exercises.answer("ch11.fusion-bytes-saved-share") == pytest.approx(saved / step,
                                                                              rel=0.05)


def test_graph_answers_follow_from_the_launch_costs():
    # GPT-2's kernels are shorter than a 5 µs launch: a graph removes most of its time
    assert 1.5 < exercises.answer("ch11.graph-gain-gpt2") < 2.5
    # Llama-2-13B's GEMMs outlast a launch: a graph saves only the short kernels' waits
    assert 1.0 < exercises.answer("ch11.graph-gain-13b") < 1.15


def test_every_chapter_11_answer_is_checked_here():
    ids = {i for i in exercises.ids() if i.startswith("ch11.")}
    assert ids == set(BY_HAND) | {"ch11.fusion-bytes-saved-share", "ch11.graph-gain-gpt2",
                                  "ch11.graph-gain-13b"}
