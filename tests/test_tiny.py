"""lib.tiny: a numpy transformer whose counted FLOPs and bytes equal lib's analytic counts.

Three kinds of test: the counters against :mod:`lib.transformer` (equal, op by op, for
MHA, GQA, gated and GPT-2 blocks, prefill and decode, batch > 1; hypothesis over small
shapes); known answers counted by hand (attention pairs under the causal mask, the KV bytes
per token, the weights a decode step reads, the GPT-2-sized parameter count); and the
numerics (the KV cache, GQA against MHA, an independent per-token reference, seeds).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import models, tiny, transformer
from lib.models import KV_DTYPES, WEIGHT_DTYPES

FIELDS = ("flops", "exps", "bytes_moved", "bytes_weights", "bytes_kv")

# GPT-2's own block (LayerNorm, learned positions, GELU, biases, tied head), shrunk
GPT2_BLOCK = dataclasses.replace(models.get("gpt2"), name="gpt2-block", n_layers=2, d_model=48,
                                 n_heads=4, n_kv_heads=4, head_dim=12, d_ff=96, vocab_size=300,
                                 max_context=64)
MHA = dataclasses.replace(tiny.SMALL, name="small-mha", n_layers=2, n_kv_heads=8)
GQA = dataclasses.replace(tiny.SMALL, name="small-gqa", n_layers=2)
MQA = dataclasses.replace(tiny.SMALL, name="small-mqa", n_layers=2, n_kv_heads=1,
                          tied_embeddings=True, qkv_bias=True)
# Mistral's sliding window, shrunk: a query sees itself and the 3 tokens before it
SWA = dataclasses.replace(GQA, name="small-swa", sliding_window=4)


def run(weights, batch, new_tokens, cached=0, **kw):
    """A forward of ``new_tokens`` per sequence after a prefill of ``cached`` (distinct tokens)."""
    m = weights.model
    cache = None
    if cached:
        cache = tiny.forward(weights, tiny.prompt_tokens(m, batch, cached),
                             capacity=cached + new_tokens).cache
    ids = tiny.prompt_tokens(m, batch, new_tokens, start=batch * cached)
    return tiny.forward(weights, ids, cache, capacity=new_tokens, **kw)


def assert_equal_counts(step, weight_dtype="fp32", kv_dtype="fp32"):
    check = tiny.compare_counts(step, weight_dtype, kv_dtype)
    for r in check.rows:
        for f in FIELDS:
            assert float(getattr(r.counted, f)) == float(getattr(r.lib, f)), (r.op, f)
    assert check.equal


@pytest.fixture(scope="module")
def small():
    return tiny.init(tiny.SMALL, seed=0)


@pytest.fixture(scope="module")
def gpt2_sized():
    return tiny.init(tiny.GPT2_SIZED, seed=0)


# --- counters equal lib's analytic counts -------------------------------------------------

@pytest.mark.parametrize("model", [MHA, GQA, MQA, SWA, GPT2_BLOCK], ids=lambda m: m.name)
@pytest.mark.parametrize("batch,new_tokens,cached", [(1, 7, 0), (3, 5, 0), (1, 1, 9),
                                                     (4, 1, 30), (2, 3, 6)])
@pytest.mark.parametrize("fused", [True, False])
def test_counts_equal_lib(model, batch, new_tokens, cached, fused):
    step = run(tiny.init(model, seed=3), batch, new_tokens, cached, fused_attention=fused)
    for wd, kd in (("fp32", "fp32"), ("bf16", "bf16"), ("int4", "fp8"), ("q4_0", "int4_g32")):
        assert_equal_counts(step, wd, kd)


def test_counts_equal_lib_with_all_logits():
    step = run(tiny.init(GQA), 2, 4, 3, all_logits=True)     # speculative verification
    assert step.logits.shape == (2, 4, GQA.vocab_size)
    assert_equal_counts(step, "bf16", "bf16")


def test_gpt2_sized_prefill_and_decode_equal_lib(gpt2_sized):
    assert_equal_counts(run(gpt2_sized, 2, 6), "bf16", "bf16")
    assert_equal_counts(run(gpt2_sized, 2, 1, 9), "bf16", "fp8")


def test_the_catalog_gpt2_config_runs_unchanged():
    # the catalog's GPT-2 at its real widths and vocabulary, one layer deep to stay fast
    m = dataclasses.replace(models.get("gpt2"), n_layers=1)
    assert_equal_counts(run(tiny.init(m), 1, 3, 2), "fp16", "fp16")


@st.composite
def configs(draw):
    kv = draw(st.integers(1, 3))
    rope = draw(st.booleans())
    return models.ModelConfig(
        "hypothesis", n_layers=draw(st.integers(1, 2)), d_model=draw(st.integers(2, 24)),
        n_heads=kv * draw(st.integers(1, 3)), n_kv_heads=kv,
        head_dim=2 * draw(st.integers(1, 4)) if rope else draw(st.integers(1, 8)),
        d_ff=draw(st.integers(1, 24)), vocab_size=draw(st.integers(2, 40)),
        gated_mlp=draw(st.booleans()), tied_embeddings=draw(st.booleans()),
        norm=draw(st.sampled_from(models.NORMS)), qkv_bias=draw(st.booleans()),
        out_bias=draw(st.booleans()), mlp_bias=draw(st.booleans()),
        positional="rope" if rope else "learned", max_context=32,
        sliding_window=draw(st.one_of(st.none(), st.integers(1, 8))))


@settings(max_examples=40, deadline=None)
@given(model=configs(), batch=st.integers(1, 3), new_tokens=st.integers(1, 5),
       cached=st.integers(0, 6), fused=st.booleans(), all_logits=st.booleans(),
       weight_dtype=st.sampled_from(WEIGHT_DTYPES), kv_dtype=st.sampled_from(KV_DTYPES))
def test_counts_equal_lib_over_small_shapes(model, batch, new_tokens, cached, fused, all_logits,
                                            weight_dtype, kv_dtype):
    w = tiny.init(model, seed=1)
    assert w.nbytes == 4 * model.params_total          # every parameter drawn, tied once
    step = run(w, batch, new_tokens, cached, fused_attention=fused, all_logits=all_logits)
    assert np.all(np.isfinite(step.logits))
    assert_equal_counts(step, weight_dtype, kv_dtype)


# --- known answers, counted by hand --------------------------------------------------------

def test_calls_are_lib_kernel_launches_with_attention_unfused(small):
    # per layer: 2 norms, QKV, RoPE and KV write, QK^T, softmax, P V, output projection,
    # 2 residual adds, MLP up, activation, MLP down = 13; plus embedding, final norm, LM head
    step = run(small, 2, 1, 5)
    assert step.calls == 13 * 4 + 3 == 55
    p = transformer.forward_pass(tiny.SMALL, 2, 1, 5, fused_attention=False)
    assert step.calls == sum(op.calls for op in transformer.ops(p))


def test_causal_pairs_by_hand(small):
    # batch 2, 5 new tokens, nothing cached: each head scores 1 + 2 + ... + 5 = 15 pairs
    # fused (masked half skipped), 5 x 5 = 25 unfused; 2 d_h FLOP a pair, 8 heads, 4 layers
    fused = run(small, 2, 5).tally["attention scores QK^T"][0]
    unfused = run(small, 2, 5, fused_attention=False).tally["attention scores QK^T"][0]
    assert fused == 2 * 2 * 32 * 8 * 15 * 4 == 61440
    assert unfused == 2 * 2 * 32 * 8 * 25 * 4 == 102400


def test_kv_bytes_written_per_token_by_hand(small):
    # kappa = 2 (K, V) x 4 layers x 2 KV heads x 32 x 4 bytes = 2048 bytes per token at fp32
    step = run(small, 3, 1, 10)
    written = step.counts()["RoPE and KV write"].bytes_kv
    assert written == 3 * 2048 == 3 * tiny.SMALL.kv_bytes_per_token("fp32")
    # and attention reads the 11 entries of each sequence, K in QK^T and V in P V
    c = step.counts()
    assert c["attention scores QK^T"].bytes_kv + c["attention x V"].bytes_kv == 3 * 11 * 2048


def test_decode_reads_each_weight_once(small, gpt2_sized):
    # a batch-1 decode step reads every multiplied weight and one embedding row:
    # lib.models' params_read, counted from the checkpoint's side
    for w in (small, gpt2_sized, tiny.init(GPT2_BLOCK)):
        weights = sum(float(k.bytes_weights) for k in run(w, 1, 1, 5).counts().values())
        assert weights == 4 * w.model.params_read


def test_gpt2_sized_parameters_by_hand(gpt2_sized):
    # embedding 50257 x 768 (tied head); per layer Q, K, V, O = 768 x (768 + 2 x 256) +
    # 768 x 768, SwiGLU 3 x 768 x 2048, two norms of 768; the final norm
    per_layer = 768 * 1280 + 768 * 768 + 3 * 768 * 2048 + 2 * 768
    total = 50257 * 768 + 12 * per_layer + 768
    assert total == 114_114_048 == tiny.GPT2_SIZED.params_total
    assert gpt2_sized.nbytes == 4 * total
    # GPT-2's MLP had as many weights: 2 x 768 x 3072
    assert 3 * 768 * 2048 == 2 * 768 * 3072


def test_sliding_window_pairs_by_hand():
    # window 4, 3 cached, 5 new: the new tokens (positions 4..8) see 4 keys each = 20 pairs
    # fused; the rolling buffer holds min(3, 4) = 3 entries, so 3 + 5 = 8 keys are read
    step = run(tiny.init(SWA), 1, 5, 3)
    qk = step.counts()["attention scores QK^T"]
    assert qk.flops == 2 * 32 * 8 * 20 * 2                       # 2 d_h heads pairs layers
    assert qk.bytes_kv == 8 * 2 * 32 * 4 * 2                     # keys kv_heads d_h bytes layers
    # 10 cached: still 4 entries held, so each new token's step reads 4 + 1
    assert run(tiny.init(SWA), 1, 1, 10).counts()["attention x V"].bytes_kv == 5 * 2 * 32 * 4 * 2


def test_repeated_tokens_read_fewer_rows_than_lib_assumes(small):
    # lib assumes a forward's tokens are distinct (min(tokens, vocab) rows); a prompt that
    # repeats a token reads its row once: the one count where the two differ, by design
    ids = np.array([[7, 7, 7, 9]])
    step = tiny.forward(small, ids)
    counted = step.counts()["embedding"].bytes_weights
    assert counted == 2 * 256 * 4
    assert tiny.lib_counts(step)["embedding"].bytes_weights == 4 * 256 * 4
    assert not next(r for r in tiny.compare_counts(step).rows if r.op == "embedding").equal


# --- numerics ------------------------------------------------------------------------------

def _reference_logits(w, ids):
    """Every position's logits, token by token in float64, one head at a time (no cache code)."""
    m = w.model
    f = {k: (None if v is None else np.asarray(v, np.float64))
         for k, v in vars(w).items() if isinstance(v, np.ndarray) or v is None}

    def norm(x, g, b):
        if b is None:
            return x / np.sqrt(np.mean(x * x) + 1e-5) * g
        c = x - x.mean()
        return c / np.sqrt(np.mean(c * c) + 1e-5) * g + b

    def rot(x, pos):
        h = len(x) // 2
        ang = pos * (m.rope_theta or 10000.0) ** (-np.arange(0, len(x), 2) / len(x))
        return np.concatenate([x[:h] * np.cos(ang) - x[h:] * np.sin(ang),
                               x[h:] * np.cos(ang) + x[:h] * np.sin(ang)])

    out = np.zeros(ids.shape + (m.vocab_size,))
    g = m.n_heads // m.n_kv_heads
    for b, seq in enumerate(ids):
        keys = [[[] for _ in range(m.n_kv_heads)] for _ in w.layers]
        vals = [[[] for _ in range(m.n_kv_heads)] for _ in w.layers]
        for pos, tok in enumerate(seq):
            x = f["embed"][tok] + (0 if w.positions is None else f["positions"][pos])
            for li, L in enumerate(w.layers):
                P = {k: (None if v is None else np.asarray(v, np.float64))
                     for k, v in vars(L).items()}
                a = norm(x, P["norm1"], P["norm1_shift"])
                qkv = a @ P["w_qkv"] + (0 if P["b_qkv"] is None else P["b_qkv"])
                heads = []
                for hq in range(m.n_heads):
                    kvh = hq // g
                    q = qkv[hq * m.head_dim:(hq + 1) * m.head_dim]
                    if hq % g == 0:       # first query head of its group adds the new K, V
                        k = qkv[m.q_dim + kvh * m.head_dim:m.q_dim + (kvh + 1) * m.head_dim]
                        v = qkv[m.q_dim + m.kv_dim + kvh * m.head_dim:
                                m.q_dim + m.kv_dim + (kvh + 1) * m.head_dim]
                        keys[li][kvh].append(rot(k, pos) if w.positions is None else k)
                        vals[li][kvh].append(v)
                    q = rot(q, pos) if w.positions is None else q
                    w_ = m.sliding_window or len(seq)      # the last w_ keys, itself included
                    s = np.array([q @ k for k in keys[li][kvh][-w_:]])
                    p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
                    heads.append(sum(pi * v for pi, v in zip(p, vals[li][kvh][-w_:])))
                x = x + np.concatenate(heads) @ P["w_o"] + (0 if P["b_o"] is None else P["b_o"])
                a = norm(x, P["norm2"], P["norm2_shift"])
                u = a @ P["w_up"] + (0 if P["b_up"] is None else P["b_up"])
                if m.gated_mlp:
                    act = u[:m.d_ff] / (1 + np.exp(-u[:m.d_ff])) * u[m.d_ff:]
                else:
                    act = 0.5 * u * (1 + np.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3)))
                x = x + act @ P["w_down"] + (0 if P["b_down"] is None else P["b_down"])
            x = norm(x, f["final_norm"], f["final_norm_shift"])
            out[b, pos] = x @ f["lm_head"]
    return out


@pytest.mark.parametrize("model", [MHA, GQA, MQA, SWA, GPT2_BLOCK], ids=lambda m: m.name)
def test_forward_matches_an_independent_reference(model):
    w = tiny.init(model, seed=5)
    ids = tiny.prompt_tokens(model, 2, 6)
    got = tiny.forward(w, ids, all_logits=True).logits
    np.testing.assert_allclose(got, _reference_logits(w, ids), rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("model", [GQA, SWA, GPT2_BLOCK], ids=lambda m: m.name)
def test_decoding_with_the_cache_equals_prefilling_the_longer_sequence(model):
    w = tiny.init(model, seed=2)
    ids = tiny.prompt_tokens(model, 3, 10)
    full = tiny.forward(w, ids, all_logits=True).logits
    step = tiny.forward(w, ids[:, :4], capacity=10)
    np.testing.assert_allclose(step.logits, full[:, 3], rtol=1e-4, atol=1e-5)
    step = tiny.forward(w, ids[:, 4:6], step.cache)           # a chunk of two
    np.testing.assert_allclose(step.logits, full[:, 5], rtol=1e-4, atol=1e-5)
    for j in range(6, 10):                                     # then one token at a time
        step = tiny.forward(w, ids[:, j:j + 1], step.cache)
        np.testing.assert_allclose(step.logits, full[:, j], rtol=1e-4, atol=1e-5)
    assert step.cache.length == 10


def test_gqa_equals_mha_with_each_kv_head_repeated_for_its_group():
    gqa = tiny.init(GQA, seed=4)
    m, g, dh = GQA, GQA.n_heads // GQA.n_kv_heads, GQA.head_dim
    # column indices of K (or V) for every query head: its group's KV head, repeated
    cols = np.concatenate([np.arange(kv * dh, (kv + 1) * dh)
                           for kv in range(m.n_kv_heads) for _ in range(g)])
    layers = []
    for L in gqa.layers:
        q, k, v = np.split(L.w_qkv, [m.q_dim, m.q_dim + m.kv_dim], axis=1)
        layers.append(dataclasses.replace(L, w_qkv=np.concatenate([q, k[:, cols], v[:, cols]], 1)))
    mha = dataclasses.replace(gqa, model=dataclasses.replace(m, n_kv_heads=m.n_heads),
                              layers=tuple(layers))
    ids = tiny.prompt_tokens(m, 2, 5)
    np.testing.assert_allclose(tiny.forward(mha, ids, all_logits=True).logits,
                               tiny.forward(gqa, ids, all_logits=True).logits,
                               rtol=1e-5, atol=1e-6)
    # the MHA cache is g times larger, the arithmetic is the same
    a, b = run(mha, 1, 1, 8).counts(), run(gqa, 1, 1, 8).counts()
    assert a["attention scores QK^T"].flops == b["attention scores QK^T"].flops
    assert a["attention scores QK^T"].bytes_kv == g * b["attention scores QK^T"].bytes_kv


def test_seeds():
    ids = tiny.prompt_tokens(MQA, 2, 4)
    a, b, c = (tiny.forward(tiny.init(MQA, seed=s), ids).logits for s in (7, 7, 8))
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    gen = [tiny.generate(tiny.init(MQA, seed=7), ids, 3) for _ in range(2)]
    assert np.array_equal(*gen) and gen[0].shape == (2, 3)


def test_counting_mode_does_not_change_the_numbers(small):
    a = run(small, 2, 3, 4, fused_attention=True)
    b = run(small, 2, 3, 4, fused_attention=False)
    assert np.array_equal(a.logits, b.logits)


def test_a_cache_can_be_decoded_from_again(small):
    cache = tiny.forward(small, tiny.prompt_tokens(tiny.SMALL, 2, 6), capacity=7).cache
    ids = tiny.prompt_tokens(tiny.SMALL, 2, 1, start=50)
    first = tiny.forward(small, ids, cache)
    again = tiny.forward(small, ids, cache)
    assert cache.length == 6 and first.cache.length == again.cache.length == 7
    assert np.array_equal(first.logits, again.logits)


# --- timing --------------------------------------------------------------------------------

def test_forward_timings_are_plausible(small):
    pre = tiny.time_prefill(small, batch=2, prompt=6, repeats=2, warmup=0)
    dec = tiny.time_decode(small, batch=2, context=6, repeats=2, warmup=0)
    for t in (pre, dec):
        assert 0 < t.timing.median_s < 60 and np.isfinite(t.flops) and t.bytes_moved > 0
        assert set(t.to_dict()) >= {"model", "phase", "timing", "flops", "bytes_moved"}
    # a decode step reads every weight once (fp32) but one embedding row per sequence
    assert dec.weight_bytes == 4 * (tiny.SMALL.params_read + tiny.SMALL.d_model)
    assert (pre.phase, pre.new_tokens, dec.phase, dec.cached) == ("prefill", 6, "decode", 6)


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("model,match", [
    ("mixtral-8x7b", "mixture of experts"),
    ("llama-2-7b", "MAX_WEIGHT_BYTES"),
    (dataclasses.replace(tiny.SMALL, head_dim=33), "must be even"),
    ("gtp2", "did you mean 'gpt2'"),
])
def test_init_refuses(model, match):
    with pytest.raises(ValueError, match=match):
        tiny.init(model)


def test_forward_refuses_bad_input(small):
    ids = tiny.prompt_tokens(tiny.SMALL, 2, 3)
    with pytest.raises(ValueError, match="integer token ids"):
        tiny.forward(small, ids[0])
    with pytest.raises(ValueError, match="integer token ids"):
        tiny.forward(small, ids.astype(float))
    with pytest.raises(ValueError, match=r"must lie in \[0, 4096\)"):
        tiny.forward(small, ids + 4096)
    cache = tiny.forward(small, ids).cache
    with pytest.raises(ValueError, match="capacity=3 is too small"):
        tiny.forward(small, ids[:, :1], cache)
    with pytest.raises(ValueError, match="batch=1 but the cache holds 2"):
        tiny.forward(small, ids[:1, :1], tiny.forward(small, ids, capacity=4).cache)
    with pytest.raises(ValueError, match="fused_attention"):
        tiny.forward(small, ids, fused_attention="yes")
    gpt2 = tiny.init(GPT2_BLOCK)
    with pytest.raises(ValueError, match="exceed max_context=64"):
        tiny.forward(gpt2, tiny.prompt_tokens(GPT2_BLOCK, 1, 65))
    with pytest.raises(ValueError, match="seed"):
        tiny.init(tiny.SMALL, seed=-1)
