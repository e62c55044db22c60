"""lib.prefill and lib.fusion's forwards of any length: fusion, masks, launches and chunks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import fusion, inference, kernels, prefill
from lib.fusion import LEVELS

#: Llama-3-8B (config.json): 32 layers, 32 query heads, 8 KV heads of 128, d = 4096,
#: d_ff = 14,336; BF16 KV cache: 2 x 32 x 8 x 128 x 2 = 131,072 bytes per token.
L, HQ, HKV, HD, D, DFF = 32, 32, 8, 128, 4096, 14336
KAPPA = 2 * L * HKV * HD * 2


# --- fusion levels for a forward of any length ---------------------------------------------

@pytest.mark.parametrize("model", ["gpt2", "llama-3-8b", "mistral-7b", "mixtral-8x7b"])
def test_merged_causal_step_is_the_calibrated_prefill(model):
    # mistral-7b's own window is the "sliding window" mask; "causal" is full attention
    lens = np.array([16, 512, 4096])
    for graphs in (True, False):
        s = prefill.step(model, "h100-sxm", 2, lens, cuda_graphs=graphs,
                         **({"mask": "sliding window", "window": 4096}
                            if model == "mistral-7b" else {}))
        e = inference.prefill(model, "h100-sxm", 2, lens, cuda_graphs=graphs)
        assert s.time_s == pytest.approx(e.estimate_s, rel=1e-12)
        assert s.bytes == pytest.approx(e.bytes, rel=1e-12)
        assert s.flops == pytest.approx(e.flops, rel=1e-12)


def test_a_chunk_is_forward_with_a_cache():
    s = prefill.step("llama-3-8b", "a100-sxm-80gb", 1, 512, cached=2048)
    e = inference.forward("llama-3-8b", "a100-sxm-80gb", 1, 512, 2048)
    assert s.time_s == pytest.approx(e.estimate_s, rel=1e-12)


def test_fusion_step_of_one_token_is_unchanged_and_new_tokens_prices_a_prefill():
    assert fusion.step("llama-3-8b", "h100-sxm", 1, 1024).time_s == pytest.approx(
        inference.decode("llama-3-8b", "h100-sxm", 1, 1024).estimate_s, rel=1e-12)
    s = fusion.step("gpt2", "h100-sxm", 4, 0, new_tokens=256, cuda_graphs=False)
    assert s.time_s == pytest.approx(
        inference.prefill("gpt2", "h100-sxm", 4, 256, cuda_graphs=False).estimate_s, rel=1e-12)


def test_prefill_bytes_fusion_saves_by_hand():
    # 2,048 tokens of Llama-3-8B in BF16: per layer the residual stream read back by the norm
    # twice (2 x T x d x 2), Q read and rewritten and K, V written and read
    # (T x (2 x 4096 + 4 x 1024) x 2), gate and up written and read (2 x T x 2 x d_ff x 2)
    T = 2048
    merged, fused = (prefill.step("llama-3-8b", "h100-sxm", 1, T, lv) for lv in LEVELS[1:])
    per_layer = 2 * T * D * 2 + T * (2 * 4096 + 4 * 1024) * 2 + 2 * T * 2 * DFF * 2
    assert merged.bytes - fused.bytes == pytest.approx(L * per_layer, rel=1e-12)
    assert per_layer * L / 1e9 == pytest.approx(10.20, abs=0.01)        # GB


def test_fusion_saving_splits_the_bytes_by_hand():
    # 2,048 tokens of Llama-3-8B on the H100: the GEMMs stop writing K and V (T x 2 x 1,024 x
    # 2 bytes per layer) and the gate and up outputs (T x 2 x d_ff x 2); both GEMMs are
    # compute-bound, so those 4.03 GB save no time. The rest (norm, RoPE, SiLU kernels) does.
    T = 2048
    f = prefill.fusion_saving("llama-3-8b", "h100-sxm", 1, T)
    hidden = L * (T * 2 * 1024 * 2 + T * 2 * DFF * 2)
    assert f.bytes_hidden == pytest.approx(hidden, rel=1e-12)
    assert hidden / 1e9 == pytest.approx(4.03, abs=0.01)
    assert f.bytes_removed == pytest.approx(f.bytes_hidden + f.bytes_on_clock, rel=1e-12)
    # the memory time saved is the on-clock bytes at the sustained bandwidth (3.35 TB/s x 0.88)
    assert f.parts_saved["memory"] == pytest.approx(f.bytes_on_clock / (3.35e12 * 0.88),
                                                    rel=1e-9)
    assert f.parts_saved["math"] == 0
    assert f.time_saved_s == pytest.approx(sum(f.parts_saved.values()), rel=1e-12)


def test_unfused_attention_in_a_step():
    s = prefill.step("llama-3-8b", "h100-sxm", 1, 2048, fused_attention=False)
    e = inference.prefill("llama-3-8b", "h100-sxm", 1, 2048, fused_attention=False)
    assert s.time_s == pytest.approx(e.estimate_s, rel=1e-12)
    # the softmax and P V launch on their own: two more kernels per layer
    assert s.n_kernels == fusion.kernel_count("llama-3-8b") + 2 * L


# --- attention under a mask ----------------------------------------------------------------

def test_dense_causal_attention_is_lib_kernels_attention():
    P = 4096
    qk, sm, pv = kernels.attention(1, P, P, P * (P + 1) / 2, HQ, HKV, HD)
    a = prefill.attention("llama-3-8b", 1, P)
    assert a.flops == pytest.approx(L * (qk.flops + sm.flops + pv.flops), rel=1e-12)
    assert a.bytes == pytest.approx(L * (qk.bytes_moved + sm.bytes_moved + pv.bytes_moved))


def test_causal_attention_by_hand():
    # per layer and query head: P(P+1)/2 scores, 2 x 128 FLOP each for Q K^T and for P V,
    # 5 FLOP each in the softmax; Q read and O written (P x 4096 x 2 each), K and V read
    # once (P x 1024 x 2 each)
    P = 1024
    pairs = P * (P + 1) / 2
    a = prefill.attention("llama-3-8b", 1, P)
    assert a.flops == pytest.approx(L * HQ * pairs * (4 * HD + 5), rel=1e-12)
    assert a.bytes == pytest.approx(L * (2 * P * 4096 * 2 + 2 * P * 1024 * 2), rel=1e-12)
    assert a.pairs == pairs


def test_sliding_window_pairs_by_hand():
    # position i (1-based) sees min(i, W) keys: W(W+1)/2 + (P - W) W in all
    P, W = 32768, 4096
    a = prefill.attention("llama-3-8b", 1, P, "sliding window", window=W)
    assert a.pairs == W * (W + 1) / 2 + (P - W) * W
    # a window no shorter than the prompt changes nothing
    assert prefill.attention("llama-3-8b", 1, 2048, "sliding window", window=4096).flops == \
        prefill.attention("llama-3-8b", 1, 2048).flops


def test_unfused_attention_intensity_tends_to_a_constant():
    # unfused: every score written, read and written by the softmax, read by P V: 8 bytes
    # per (query, key, head) in BF16 against 4 x 128 + 5 FLOP: about 64.6 FLOP/byte
    a = prefill.attention("llama-3-8b", 1, 65536, fused=False)
    assert a.intensity == pytest.approx((4 * HD + 5) / 8, rel=0.01)


def test_tiles_reread_keys():
    one = prefill.attention("llama-3-8b", 1, 8192)
    tiled = prefill.attention("llama-3-8b", 1, 8192, tile_q=128)
    assert tiled.bytes > one.bytes and tiled.flops == one.flops


@settings(max_examples=40, deadline=None)
@given(P=st.integers(1, 20000), W=st.integers(1, 8192), rho=st.floats(0.01, 1.0))
def test_masks_never_cost_more_than_causal(P, W, rho):
    c = prefill.attention("llama-3-8b", 1, P, tile_q=128)
    w = prefill.attention("llama-3-8b", 1, P, "sliding window", window=W, tile_q=128)
    s = prefill.attention("llama-3-8b", 1, P, "block-sparse", density=rho, tile_q=128)
    assert w.flops <= c.flops * (1 + 1e-12) and w.bytes <= c.bytes * (1 + 1e-12)
    assert s.flops == pytest.approx(rho * c.flops, rel=1e-9)
    assert s.bytes <= c.bytes * (1 + 1e-12)


def test_block_sparse_step_saves_attention_only():
    dense = prefill.step("llama-3-8b", "h100-sxm", 1, 16384)
    sparse = prefill.step("llama-3-8b", "h100-sxm", 1, 16384, mask="block-sparse",
                          density=0.25)
    att = prefill.attention("llama-3-8b", 1, 16384)
    assert dense.flops - sparse.flops == pytest.approx(0.75 * att.flops, rel=1e-9)
    assert sparse.time_s < dense.time_s


# --- launches -------------------------------------------------------------------------------

def test_launch_bound_edge():
    edge = prefill.launch_bound_below("gpt2", "h100-sxm", cuda_graphs=False)
    shares = prefill.fixed_share(prefill.step("gpt2", "h100-sxm", 1, [edge, edge + 1],
                                              cuda_graphs=False))
    assert shares[0] >= 0.5 > shares[1]
    graphs = prefill.launch_bound_below("gpt2", "h100-sxm", cuda_graphs=True)
    fused = prefill.launch_bound_below("gpt2", "h100-sxm", "fused elementwise",
                                       cuda_graphs=True)
    assert edge > graphs > fused
    # a model whose weights take milliseconds to read is never launch-bound on one device
    assert prefill.launch_bound_below("llama-3-8b", "h100-sxm", cuda_graphs=False) == 0


# --- chunks ---------------------------------------------------------------------------------

def test_one_chunk_is_the_whole_prefill():
    c = prefill.chunked("llama-3-8b", "h100-sxm", 4096, 8192)
    assert c.n_chunks == 1 and c.overhead == 0 and c.kv_reread == 0


def test_chunks_reread_the_cache_by_hand():
    # 8 chunks of 1,024: chunk i reads i x 1,024 cached tokens, 0 + 1 + ... + 7 = 28 in all
    c = prefill.chunked("llama-3-8b", "h100-sxm", 8192, 1024)
    assert c.n_chunks == 8
    assert c.kv_reread == 28 * 1024 * KAPPA
    whole = inference.prefill("llama-3-8b", "h100-sxm", 1, 8192)
    # every weight once per chunk, but the embedding rows only of the chunk's own tokens:
    # 8,192 rows in all, not 8 x 8,192: 7 x 8,192 x 4,096 x 2 bytes fewer than 8 whole reads
    assert 8 * whole.bytes_weights - c.bytes_weights == pytest.approx(7 * 8192 * D * 2,
                                                                      rel=1e-12)
    # the same work, but for the logits of each chunk's last token (7 more rows of the
    # LM head, 2 x 4,096 x 128,256 FLOP each), which an engine may skip
    assert c.flops - whole.flops == pytest.approx(7 * 2 * D * 128256, rel=1e-6)
    # the 7 extra LM heads: 128,256 x 4,096 x 2 bytes each at 3.35 TB/s x 0.88, + 1.78 µs
    # (a streaming kernel's fixed cost, the H200's)
    assert c.lm_heads_s == pytest.approx(7 * (128256 * D * 2 / (3.35e12 * 0.88) + 1.78e-6),
                                         rel=1e-3)
    assert prefill.chunked("llama-3-8b", "h100-sxm", 4096, 8192).lm_heads_s == 0
    overheads = [prefill.chunked("llama-3-8b", "h100-sxm", 8192, k).overhead
                 for k in (256, 512, 2048)]
    assert overheads == sorted(overheads, reverse=True)


def test_chunks_under_a_window_reread_at_most_the_window():
    # 4 chunks of 4,096 under a 4,096-token window: chunks 2-4 each re-read 4,096 tokens
    c = prefill.chunked("llama-3-8b", "h100-sxm", 16384, 4096, mask="sliding window",
                        window=4096)
    assert c.kv_reread == 3 * 4096 * KAPPA
    full = prefill.chunked("llama-3-8b", "h100-sxm", 16384, 4096)
    assert full.kv_reread == (1 + 2 + 3) * 4096 * KAPPA and c.time_s < full.time_s


def test_piggyback_reads_the_weights_once():
    g = prefill.piggyback("llama-3-8b", "h100-sxm", 512, 2048, 16, 2048)
    assert max(g.chunk_s, g.decode_s) < g.mixed_s < g.chunk_s + g.decode_s
    assert g.saved_s == pytest.approx(g.chunk_s + g.decode_s - g.mixed_s)
    # at most what the decode step's weight reads and launches cost alone: ~16 GB at
    # 3.35 TB/s x 0.88 is 5.2 ms, plus 355 kernels x 1.3 µs
    assert g.saved_s < 16.1e9 / (3.35e12 * 0.88) + 355 * 1.3e-6


# --- input checks ---------------------------------------------------------------------------

def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="mask='sliding'.*sliding window"):
        prefill.attention("gpt2", 1, 128, "sliding")
    with pytest.raises(ValueError, match="density=1.5"):
        prefill.attention("gpt2", 1, 128, "block-sparse", density=1.5)
    with pytest.raises(ValueError, match="window"):
        prefill.step("gpt2", "h100-sxm", 1, 128, mask="sliding window", window=0)
    with pytest.raises(ValueError, match="chunk=.*single"):
        prefill.chunked("gpt2", "h100-sxm", 1024, [128, 256])
    with pytest.raises(ValueError, match="level"):
        prefill.step("gpt2", "h100-sxm", 1, 128, "fused")
