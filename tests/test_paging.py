"""lib.paging: allocation policies, the four kinds of slot, the batch that fits, prefix sharing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import capacity, paging

# --- known answers, by hand -----------------------------------------------------------------


def test_each_policy_by_hand():
    # prompt 20, final 45 (25 output tokens), 40 cached, max 2048, 16-token blocks
    got = [paging.tokens_reserved(p, 40, 45, 20, max_len=2048, block_size=16)
           for p in paging.POLICIES]
    assert got == [2048, 20 + 32, 45, 48]            # 25 -> 32 (the paper's example)


def test_pow2_is_capped_at_the_maximum():
    assert paging.tokens_reserved("pow2", 10, 2000, 1700, max_len=2048) == 2048   # 1700 + 512


def test_lifetime_sums_by_hand():
    w = paging.requests([8], [24], max_len=64)
    paged = paging.usage("paged", w, 16)
    # tokens: sum_{t=1}^{24} (8 + t) = 192 + 300
    assert paged.tokens == 492 and paged.weight == 24
    # blocks: c = 9..16 -> 16 slots (8 steps), c = 17..32 -> 32 slots (16 steps)
    assert paged.reserved == 8 * 16 + 16 * 32
    ex = paging.usage("exact", w)
    assert ex.reserved == 24 * 32 and ex.future == sum(24 - t for t in range(1, 25))
    assert ex.unused == 0
    mx = paging.usage("max", w)
    assert mx.unused == 24 * (64 - 32) and mx.reserved == 24 * 64


def test_snapshot_by_hand():
    w = paging.requests([100], [300], max_len=1024)
    s = paging.usage("paged", w, 16, view="snapshot", fraction=0.5)   # 250 cached
    assert (s.tokens, s.reserved, s.internal) == (250, 256, 6)
    m = paging.usage("max", w, view="snapshot", fraction=0.5)
    assert (m.future, m.unused) == (150, 1024 - 400)


def test_paper_table1_max_batch():
    # kwon2023vllm Table 1: 15.7K KV slots for OPT-13B on one A100-40GB; Figure 13: Orca (Max)
    # batches 7.00 requests on both traces (2,048 slots each)
    w = paging.requests([10], [10], max_len=2048)
    assert paging.concurrent(paging.usage("max", w), 15_700) == 7


def test_kv_budget_is_capacity_at_batch_one():
    # (0.9 x 80e9 - 2 x 8,030,261,248) / 131,072, rounded down
    assert paging.kv_budget_tokens("llama-3-8b", "h100-sxm") == 426_784
    assert paging.kv_budget_tokens("llama-3-8b", "h100-sxm", memory_fraction=1.0) == \
        capacity.max_context("llama-3-8b", "h100-sxm", 1)


def test_max_policy_batch_equals_capacity_max_batch():
    w = paging.requests([5], [5], max_len=4096)
    budget = paging.kv_budget_tokens("llama-2-7b", "h100-sxm", memory_fraction=1.0)
    assert paging.concurrent(paging.usage("max", w), budget) == \
        capacity.max_batch("llama-2-7b", "h100-sxm", 4096)


def test_share_prefix_by_hand():
    # system prompt 1000 tokens, 32 requests with 200 of their own, 16-token blocks:
    # without: 32 x ceil(1200/16) = 2400; with: floor(1000/16) = 62 shared + 32 x 13
    s = paging.share_prefix(1000, 200, 32, 16)
    assert (s.blocks_without, s.blocks_with, s.shared_blocks, s.copies) == (2400, 478, 62, 31)
    assert s.saving == pytest.approx(1 - 478 / 2400)
    # prefix in whole blocks: nothing to copy on write
    assert paging.share_prefix(1024, 10, 4, 16).copies == 0
    # before any private token the partial block is shared too
    assert paging.share_prefix(40, 0, 4, 16).blocks_with == 3


def test_sampling_saving_by_hand():
    # prompt 32 (2 full blocks), two samples of 16 tokens: each holds 3 blocks for 16 steps
    assert paging.sampling_saving([32], [[16, 16]], 16) == pytest.approx(1 / 3)
    # unequal samples: the shared blocks stay until the longer one ends
    # without: 16 x 3 + 8 x 3 = 72; with: private 16 + 8, shared 2 x 16 -> 56
    assert paging.sampling_saving([32], [[16, 8]], 16) == pytest.approx(1 - 56 / 72)


def test_parallel_outputs_cut_to_the_maximum():
    w = paging.requests([100, 2000], [10, 40], max_len=2048)
    o = paging.parallel_outputs(w, paging.Lengths("exponential", 500), 4,
                                np.random.default_rng(0))
    assert o.shape == (2, 4) and np.all(o >= 1)
    assert np.all(o[1] <= 48) and np.all(w.prompt_len[:, None] + o <= 2048)
    with pytest.raises(ValueError, match=r"must be a Lengths"):
        paging.parallel_outputs(w, [1, 2], 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"n_samples=0"):
        paging.parallel_outputs(w, paging.Lengths("fixed", 5), 0, np.random.default_rng(0))


def test_tokens_reserved_for_a_batch_at_one_step():
    # what a serving simulator asks each step: three requests with 17, 100 and 33 tokens
    # cached, paged in 16-token blocks -> 32 + 112 + 48 slots; the reserving policies
    # ignore the context (max: 3 x 2048; exact: 40 + 300 + 33)
    ctx, final, prompt = [17, 100, 33], [40, 300, 33], [10, 90, 20]
    assert paging.tokens_reserved("paged", ctx, final, prompt, max_len=2048).tolist() == \
        [32, 112, 48]
    assert paging.tokens_reserved("max", ctx, final, prompt, max_len=2048).sum() == 3 * 2048
    assert paging.tokens_reserved("exact", ctx, final, prompt, max_len=2048).sum() == 373
    # pow2: 10 + 32, 90 + 256, 20 + 16
    assert paging.tokens_reserved("pow2", ctx, final, prompt, max_len=2048).tolist() == \
        [42, 346, 36]


def test_preset_means_are_the_papers():
    # kwon2023vllm Figure 11 legends
    assert [d.mean for d in paging.SHAREGPT] == [161.31, 337.99]
    assert [d.mean for d in paging.ALPACA] == [19.31, 58.45]
    assert paging.DEFAULT_BLOCK_SIZE == 16


def test_samples_have_their_mean_and_spread():
    rng = np.random.default_rng(1)
    for d in (paging.Lengths("exponential", 300), paging.Lengths("lognormal", 300, cv=0.5)):
        x = d.sample(200_000, rng)
        assert x.mean() == pytest.approx(300, rel=0.02)
        assert x.std() / x.mean() == pytest.approx(d.spread, rel=0.05)
    assert set(paging.Lengths("fixed", 7.4).sample(5, rng)) == {7}


def test_requests_are_truncated_to_max_len():
    w = paging.requests(paging.Lengths("exponential", 1500), paging.Lengths("exponential", 1500),
                        max_len=2048, n=5000, seed=3)
    assert np.all(w.final_len <= 2048) and np.all(w.output_len >= 1)
    assert 0 < w.truncated < 1


def test_seeded_workloads_repeat():
    a = paging.requests(*paging.SHAREGPT, max_len=2048, n=100, seed=5)
    b = paging.requests(*paging.SHAREGPT, max_len=2048, n=100, seed=5)
    assert np.array_equal(a.output_len, b.output_len)


def test_lifetime_paged_mean_matches_the_formula():
    # exponential outputs: time-weighted mean cached = P + E[n^2] / (2 E[n]) ~ P + n_bar,
    # plus about (sigma - 1) / 2 of slack
    w = paging.requests(paging.Lengths("fixed", 200), paging.Lengths("exponential", 400),
                        max_len=100_000, n=50_000, seed=0)
    u = paging.usage("paged", w, 16)
    n = w.output_len.astype(float)
    expect = 200 + (n ** 2).mean() / (2 * n.mean()) + 0.5
    assert float(u.tokens_per_request) == pytest.approx(expect, rel=1e-3)
    assert float(u.slots_per_request - u.tokens_per_request) == pytest.approx(7.5, abs=0.3)


def test_block_size_broadcasts():
    w = paging.requests([30, 70], [50, 10], max_len=512)
    u = paging.usage("paged", w, [1, 16, 64])
    assert np.shape(u.internal) == (3,) and u.internal[0] == 0
    for i, s in enumerate((1, 16, 64)):
        assert u.internal[i] == paging.usage("paged", w, s).internal


# --- properties -----------------------------------------------------------------------------

lengths = st.lists(st.tuples(st.integers(1, 300), st.integers(1, 300)), min_size=1,
                   max_size=20)


@settings(max_examples=60, deadline=None)
@given(lengths, st.sampled_from([1, 2, 3, 8, 16, 64, 256]),
       st.sampled_from(["lifetime", "snapshot"]), st.floats(0, 1))
def test_policies_order_and_waste(reqs, s, view, frac):
    p, o = (np.array(x) for x in zip(*reqs))
    w = paging.requests(p, np.asarray(o), max_len=1024)
    u = paging.compare(w, s, view, frac)
    for v in u.values():
        assert v.tokens == u["exact"].tokens
        for part in paging.PARTS:
            assert getattr(v, part) >= -1e-9
    # exact <= max; pow2 <= max; exact <= pow2
    assert u["exact"].reserved <= u["pow2"].reserved <= u["max"].reserved
    # paged never holds more than a block per sequence (step) beyond the tokens
    assert u["paged"].internal < s * u["paged"].weight
    # paged holds at most the exact oracle plus its last block's slack
    assert u["paged"].reserved <= u["exact"].reserved + (s - 1) * u["paged"].weight
    one = paging.usage("paged", w, 1, view, frac)
    assert one.reserved == one.tokens and one.internal == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5000), st.integers(1, 5000), st.integers(1, 5000),
       st.sampled_from([1, 8, 16, 64]))
def test_paged_slack_is_under_one_block(c, extra, more, s):
    final = c + extra
    r = paging.tokens_reserved("paged", c, final, 0, max_len=final + more, block_size=s)
    assert c <= r < c + s
    assert paging.tokens_reserved("paged", c, final, 0, max_len=final, block_size=1) == c
    assert paging.tokens_reserved("exact", c, final, 0, max_len=final + more) <= \
        paging.tokens_reserved("max", c, final, 0, max_len=final + more)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3000), st.integers(1, 3000), st.integers(1, 64),
       st.sampled_from([1, 4, 16, 128]))
def test_sharing_bounds(prefix, private, k, s):
    r = paging.share_prefix(prefix, private, k, s)
    assert 0 <= r.saving <= (k - 1) / k + 1e-12
    assert r.blocks_with <= r.blocks_without
    if k == 1:
        assert r.saving == 0 and r.copies == 0


# --- input checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("call,match", [
    (lambda: paging.tokens_reserved("paged", 50, 40, 0, max_len=100),
     r"context must be <= final_len: context=50, final_len=40"),
    (lambda: paging.tokens_reserved("max", 5, 400, 0, max_len=100),
     r"final_len must be <= max_len"),
    (lambda: paging.tokens_reserved("pow2", 5, 40, 40, max_len=100),
     r"prompt_len must be < final_len"),
    (lambda: paging.tokens_reserved("pagd", 5, 40, 0, max_len=100),
     r"policy='pagd' is not known; did you mean 'paged'"),
    (lambda: paging.tokens_reserved("paged", 5, 40, 0, max_len=100, block_size=0),
     r"block_size=0 must be a whole number > 0"),
    (lambda: paging.Lengths("normal", 10), r"kind='normal' is not known"),
    (lambda: paging.Lengths("lognormal", -1), r"mean=-1 must be a finite number > 0"),
    (lambda: paging.requests([1, 2], [3], 100), r"one length per request"),
    (lambda: paging.requests([1], [3], 1), r"max_len=1 must be at least 2"),
    (lambda: paging.usage("paged", paging.requests([1], [3], 10), view="now"),
     r"view='now' is not known"),
    (lambda: paging.usage("max", paging.requests([1], [3], 10), view="snapshot", fraction=2),
     r"fraction=2 must be in \[0, 1\]"),
    (lambda: paging.share_prefix(0, 0, 2), r"prefix_len \+ private_len must be > 0"),
    (lambda: paging.sampling_saving([1, 2], [[3, 4]]), r"one row per request"),
    (lambda: paging.kv_budget_tokens("mistral-7b", "h100-sxm"), r"sliding window"),
])
def test_errors_name_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_papers_figures_as_printed():
    # kwon2023vllm: Figure 2's bars, Table 1, Figure 13a, Figure 15, §6.3, §7.1
    f2 = paging.KWON_FIG2_PERCENT
    assert f2["max"] == {"tokens": 20.4, "future": 13.3, "unused": 57.3}
    assert f2["pow2"] == {"tokens": 26.8, "future": 17.9, "unused": 13.6}
    assert f2["exact"] == {"tokens": 38.2, "future": 25.2} and f2["paged"] == {"tokens": 96.3}
    # "External frag. & Others" as printed: 8.9, 41.6, 36.6; each bar sums to 100 within the
    # rounding of its printed parts
    assert paging.KWON_FIG2_EXTERNAL_PERCENT == {"max": 8.9, "pow2": 41.6, "exact": 36.6}
    for pol, ext in paging.KWON_FIG2_EXTERNAL_PERCENT.items():
        assert sum(f2[pol].values()) + ext == pytest.approx(100, abs=0.15)
    # "only 20.4% - 38.2% of the KV cache memory is used to store the actual token states"
    assert (f2["max"]["tokens"], f2["exact"]["tokens"]) == (20.4, 38.2)
    assert paging.KWON_KV_SLOTS_OPT13B == 15_700
    assert paging.KWON_BATCHED_SHAREGPT == {"max": 7.00, "pow2": 9.81, "exact": 13.62,
                                            "paged": 30.42}
    # "6.1% - 9.8% memory saving on parallel sampling and 37.6% - 55.2% on beam search"
    assert [round(v, 1) for v in paging.KWON_PARALLEL_SAVING_ALPACA.values()][::2] == [6.1, 9.8]
    assert [round(v, 1) for v in paging.KWON_BEAM_SAVING_ALPACA.values()][::2] == [37.6, 55.2]
    assert paging.KWON_SAVING_SHAREGPT == {"parallel": (16.2, 30.5), "beam": (44.3, 66.3)}
    assert paging.KWON_KERNEL_OVERHEAD == (0.20, 0.26)
    assert paging.VATTENTION_DECODE_SPEEDUP == 2.85


def test_model_reproduces_the_papers_max_and_paged_batches():
    # ShareGPT lengths (exponential, the paper's means) on the paper's 15.7K slots: Orca (Max)
    # batched 7.00, vLLM 30.42 (Figure 13a); the model is within a request of both
    w = paging.requests(*paging.SHAREGPT, max_len=2048, n=20_000, seed=0)
    found = paging.compare(w)
    assert paging.concurrent(found["max"], paging.KWON_KV_SLOTS_OPT13B) == 7
    assert abs(paging.concurrent(found["paged"], paging.KWON_KV_SLOTS_OPT13B) - 30.42) < 1.5
