"""lib.transformer: every op tied to the kernel it is built from, and known answers from configs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import capacity, kernels, models, transformer
from lib.transformer import forward_pass, ops

FIELDS = ("flops", "bytes_moved", "bytes_weights", "bytes_kv", "exps")
PASSES = [
    ("llama-3-8b", 4, 1, 1000, {}),                               # decode, GQA
    ("llama-2-7b", 2, 300, 0, {}),                                # prefill, MHA
    ("gpt2", 3, 64, 10, {"fused_attention": False}),              # LayerNorm, biases, learned
    ("mixtral-8x7b", 8, 1, 50, {"weight_dtype": "int4", "kv_dtype": "fp8"}),
    ("qwen2-7b", 1, 5, 200, {"all_logits": True, "tp": 2}),       # QKV bias, speculative
    ("mistral-7b", 1, 128, 8000, {"attention_tile": 64}),         # sliding window, tiles
    ("llama-2-70b", 2, 1, 100, {"tp": 16}),                       # replicated KV heads
    ("gpt2", 1, 1, 5, {"tp": 2}),                                 # 50,257 rows: padded
]


def _same(op: transformer.Op, kernel: kernels.Kernel) -> None:
    for f in FIELDS:
        assert np.asarray(getattr(op.kernel, f)) == pytest.approx(
            np.asarray(getattr(kernel, f)), rel=1e-12, abs=1e-9), (op.name, f)


@pytest.mark.parametrize("name,b,n,c,kw", PASSES)
def test_every_op_is_the_kernel_it_is_built_from(name, b, n, c, kw):
    """Each row of a forward pass equals its definition in lib.kernels, times its layers."""
    p = forward_pass(name, b, n, c, **kw)
    m, L = p.model, p.model.n_layers
    ad, wd = p.act_dtype, p.weight_dtype
    by_name = {op.name: op for op in ops(p)}
    norm = kernels.rmsnorm if m.norm == "rmsnorm" else kernels.layernorm
    tok = b * n
    learned = m.positional == "learned"
    _same(by_name["embedding"], kernels.embedding(
        min(tok, m.vocab_size) / p.tp + (n if learned else 0), tok, m.d_model, ad, wd,
        tables=2 if learned else 1))
    _same(by_name["norms"], norm(tok, m.d_model, ad, wd).repeat(2 * L))
    _same(by_name["final norm"], norm(tok, m.d_model, ad, wd))
    _same(by_name["QKV projection"], kernels.gemm(
        tok, p.q_width + 2 * p.kv_width, m.d_model, ad, wd, bias=m.qkv_bias).repeat(L))
    qk, sm, pv = kernels.attention(b, n, p.keys, p.pairs, p.heads, p.kv_heads, m.head_dim, ad,
                                   p.kv_dtype, p.fused_attention, p.attention_tile)
    for name_, k in zip(transformer.ATTENTION_OPS, (qk, sm, pv)):
        _same(by_name[name_], k.repeat(L))
    _same(by_name["output projection"], kernels.gemm(tok, m.d_model, p.q_width, ad, wd,
                                                     bias=m.out_bias).repeat(L))
    _same(by_name["residual adds"], kernels.vector_add(tok * m.d_model, ad).repeat(2 * L))
    experts = m.experts_touched(tok)
    width = (m.mlp_matrices - 1) * m.d_ff // p.tp
    _same(by_name["MLP up"], kernels.gemm(tok * m.top_k, width, m.d_model, ad, wd,
                                          bias=m.mlp_bias, groups=experts).repeat(L))
    _same(by_name["activation"], kernels.activation(tok * m.top_k * m.d_ff // p.tp, m.gated_mlp,
                                                    ad).repeat(L))
    _same(by_name["MLP down"], kernels.gemm(tok * m.top_k, m.d_model, m.d_ff // p.tp, ad, wd,
                                            bias=m.mlp_bias, groups=experts).repeat(L))
    _same(by_name["LM head"], kernels.gemm(tok if p.all_logits else b,
                                           -(-m.vocab_size // p.tp), m.d_model, ad, wd))
    if m.is_moe:
        _same(by_name["router"], kernels.gemm(tok, m.n_experts, m.d_model, ad, wd).repeat(L))
    # the ops not built from lib.kernels are defined in transformer alone; every op is listed
    own = {"RoPE and KV write", "KV write", "expert combine"}
    assert set(by_name) - own <= set(transformer.OP_NAMES)
    assert [o.name for o in ops(p)] == [x for x in transformer.OP_NAMES if x in by_name]
    assert ("RoPE and KV write" in by_name) == (m.positional == "rope")
    assert ("KV write" in by_name) == (m.positional == "learned")


# --- known answers, from the configs --------------------------------------------------------

def _decode_ops(name, **kw):
    return {o.name: o for o in ops(forward_pass(name, kw.pop("batch", 1), 1,
                                                kw.pop("context", 0), **kw))}


def test_llama2_7b_decode_reads_the_checkpoint_but_the_embedding_table():
    # 6,738,415,616 parameters (checkpoint); the 32,000 x 4,096 input table is read one row
    # at a time. At bf16, 2 bytes each.
    o = _decode_ops("llama-2-7b")
    read = sum(x.bytes_weights for x in o.values())
    assert read == (6_738_415_616 - 32_000 * 4096 + 4096) * 2
    assert read == models.get("llama-2-7b").params_read * 2


@pytest.mark.parametrize("name", models.names())
def test_a_batch_large_enough_reads_every_weight_once(name):
    m = models.get(name)
    big = forward_pass(m, m.vocab_size * 4, 1, 0)   # every row, every expert touched
    read = sum(np.asarray(o.bytes_weights) for o in ops(big))
    # a learned position table is read one row per position, not in full; a tied table is
    # read twice, by the lookup and by the LM head
    unread = (m.max_context - 1) * m.d_model if m.positional == "learned" else 0
    twice = m.vocab_size * m.d_model if m.tied_embeddings else 0
    assert read == pytest.approx((m.params_total - unread + twice) * 2, rel=1e-6)


@pytest.mark.parametrize("name", models.names())
def test_flops_per_token_are_2n_for_short_contexts(name):
    m = models.get(name)
    lookups = m.embedding_params - (m.vocab_size * m.d_model if m.tied_embeddings else 0)
    multiplied = m.params_active - lookups
    for p in (forward_pass(m, 1, 1, 1), forward_pass(m, 1, 16, 0, all_logits=True)):
        per_token = sum(np.asarray(o.flops) for o in ops(p)) / p.tokens
        # within 2% of 2 x the parameters a token multiplies (norms, RoPE and the softmax add)
        assert per_token == pytest.approx(2 * multiplied, rel=0.02)


def test_attention_flops_known_answer_and_causal_skip():
    P, L, h, hd = 4096, 32, 32, 128                   # llama-2-7b
    skip = {o.name: o for o in ops(forward_pass("llama-2-7b", 1, P, 0))}
    full = {o.name: o for o in ops(forward_pass("llama-2-7b", 1, P, 0, causal_skip=False))}
    assert full["attention scores QK^T"].flops == L * 2 * h * hd * P * P
    assert skip["attention scores QK^T"].flops == L * 2 * h * hd * P * (P + 1) / 2
    both = skip["attention scores QK^T"].flops + skip["attention x V"].flops
    assert both == pytest.approx(L * 4 * P * P * h * hd / 2, rel=1e-3)    # 4 B T^2 h d / 2


def test_softmax_exponentials_of_a_prefill():
    # Llama-3-8B, 2,048 tokens, causal: 2048 x 2049 / 2 scores per head, 32 heads, 32 layers
    o = {x.name: x for x in ops(forward_pass("llama-3-8b", 1, 2048, 0))}
    assert o["softmax"].exps == 2048 * 2049 / 2 * 32 * 32
    assert o["softmax"].bytes == 0                            # fused: the scores stay on chip
    assert o["activation"].exps == 2048 * 14336 * 32           # one exp per SiLU


def test_decode_kv_traffic_reads_cached_plus_new_and_writes_new():
    b, c = 4, 1000
    per_token = 2 * 32 * 8 * 128 * 2                  # llama-3-8b: K and V, 32 layers, 8 heads
    o = _decode_ops("llama-3-8b", batch=b, context=c)
    assert o["RoPE and KV write"].bytes_kv == b * per_token                  # writes 1
    reads = o["attention scores QK^T"].bytes_kv + o["attention x V"].bytes_kv
    assert reads == b * (c + 1) * per_token                                  # reads C + 1
    p = forward_pass("llama-3-8b", b, 1, c)
    weights = sum(x.bytes_weights for x in ops(p))
    assert transformer.compulsory_bytes(p) == weights + b * (c + 1) * per_token


def test_embedding_reads_rows_and_lm_head_reads_all():
    o = _decode_ops("llama-3-8b", batch=8, context=10)
    assert o["embedding"].bytes_weights == 8 * 4096 * 2
    assert o["embedding"].flops == 0
    assert o["LM head"].bytes_weights == 128_256 * 4096 * 2
    assert o["LM head"].flops == 2 * 8 * 4096 * 128_256


def test_logits_only_for_the_last_position_unless_asked():
    last = {x.name: x for x in ops(forward_pass("llama-3-8b", 2, 100, 0))}
    every = {x.name: x for x in ops(forward_pass("llama-3-8b", 2, 100, 0, all_logits=True))}
    assert every["LM head"].flops == 100 * last["LM head"].flops
    assert every["LM head"].bytes_weights == last["LM head"].bytes_weights


def test_moe_reads_the_experts_its_tokens_touch():
    m = models.get("mixtral-8x7b")
    expert = 3 * 4096 * 14336 * 2                      # one expert's matrices, bf16
    one = _decode_ops("mixtral-8x7b")
    assert one["MLP up"].bytes_weights + one["MLP down"].bytes_weights == 32 * 2 * expert
    many = _decode_ops("mixtral-8x7b", batch=256)
    assert many["MLP up"].bytes_weights + many["MLP down"].bytes_weights == pytest.approx(
        32 * 8 * expert, rel=1e-6)
    assert many["router"].flops == 32 * 2 * 256 * 4096 * 8
    assert m.experts_touched(1) == 2 and m.experts_touched(0) == 0


def test_tensor_parallel_splits_heads_columns_and_vocabulary():
    one = {o.name: o for o in ops(forward_pass("llama-2-70b", 8, 1, 1024))}
    four = {o.name: o for o in ops(forward_pass("llama-2-70b", 8, 1, 1024, tp=4))}
    for name in ("QKV projection", "output projection", "MLP up", "MLP down", "LM head"):
        assert four[name].bytes_weights == pytest.approx(one[name].bytes_weights / 4)
        assert four[name].flops == pytest.approx(one[name].flops / 4, rel=1e-3)
    assert four["attention x V"].bytes_kv == pytest.approx(one["attention x V"].bytes_kv / 4)
    assert four["norms"].flops == one["norms"].flops              # replicated
    rep = forward_pass("llama-2-70b", 1, 1, 1000, tp=16)          # 8 KV heads: replicated
    assert rep.kv_heads == 1 and rep.heads == 4


def test_sliding_window_caps_attention():
    window = {o.name: o for o in ops(forward_pass("mistral-7b", 1, 1, 40_000))}
    at = {o.name: o for o in ops(forward_pass("mistral-7b", 1, 1, 4096))}
    assert window["attention x V"].bytes_kv == at["attention x V"].bytes_kv
    pre = forward_pass("mistral-7b", 1, 8192, 0)
    full = forward_pass(models.get("mistral-7b").without_sliding_window(), 1, 8192, 0)
    assert np.all(pre.pairs < full.pairs)
    # the first 4096 queries see every earlier key, the rest exactly 4096 keys each
    assert pre.pairs == 4096 * 4097 / 2 + 4096 * 4096


def test_tiled_attention_intensity_levels_off_near_the_tile():
    for tile in (64, 128):
        qk = {o.name: o for o in ops(forward_pass("llama-3-8b", 1, 32768, 0,
                                                  attention_tile=tile))}["attention scores QK^T"]
        assert qk.arithmetic_intensity == pytest.approx(tile, rel=0.05)
    once = forward_pass("llama-3-8b", 1, 2048, 0)
    tiled = forward_pass("llama-3-8b", 1, 2048, 0, attention_tile=4 * 2048)   # one tile
    assert ops(once)[5].bytes_kv == ops(tiled)[5].bytes_kv


def test_attention_flops_per_token():
    assert transformer.attention_flops_per_token("llama-2-70b", 1) == 4 * 80 * 64 * 128
    out = transformer.attention_flops_per_token("llama-2-70b", [0, 10, 100])
    assert out.tolist() == [0.0, 4 * 80 * 64 * 128 * 10, 4 * 80 * 64 * 128 * 100]
    assert transformer.attention_flops_per_token("mistral-7b", 10 ** 6) == \
        transformer.attention_flops_per_token("mistral-7b", 4096)


def test_breakdown_adds_up_to_the_decode_step():
    m = models.get("mixtral-8x7b")
    b = transformer.breakdown(m, 4096)
    p = forward_pass(m, 1, 1, 4096)
    assert sum(b["memory"].values()) == pytest.approx(
        m.weight_bytes("bf16") + capacity.kv_cache_bytes(m, 1, 4096))
    assert sum(b["bytes"].values()) == pytest.approx(sum(o.bytes for o in ops(p)))
    assert sum(b["flops"].values()) == pytest.approx(sum(o.flops for o in ops(p)))
    assert b["bytes"]["context"] == pytest.approx(sum(o.bytes_kv for o in ops(p)))
    assert b["flops"]["embedding"] == 0.0


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(models.names()), b=st.integers(1, 64), n=st.integers(1, 512),
       c=st.integers(0, 20_000))
def test_compulsory_bytes_never_exceed_what_the_ops_move(name, b, n, c):
    p = forward_pass(name, b, n, c)
    moved = sum(np.asarray(o.bytes) for o in ops(p))
    assert 0 < transformer.compulsory_bytes(p) <= moved


@pytest.mark.parametrize("kw, match", [
    (dict(batch=0), "batch=0 must be a whole number > 0"),
    (dict(new_tokens=1.5), "new_tokens=1.5 must be a whole number"),
    (dict(cached=-1), "cached=-1 must be a whole number >= 0"),
    (dict(batch=[1, 2, 3], cached=[1, 2]), r"batch \(shape \(3,\)\) and .* do not broadcast"),
    (dict(fused_attention="no"), "fused_attention='no' must be True or False"),
    (dict(all_logits=1), "all_logits=1 must be True or False"),
    (dict(weight_dtype="tf32"), "weight_dtype='tf32' is not known"),
    (dict(kv_dtype="bf61"), "kv_dtype='bf61' is not known"),
    (dict(tp=3), "tp=3 must divide n_heads=32"),
    (dict(attention_tile=0), "attention_tile=0 must be a whole number > 0"),
    (dict(tp=28, model="qwen2-7b"), "tp=28 must divide d_ff=18944 of qwen2-7b"),
])
def test_bad_input_names_the_parameter(kw, match):
    args = dict(model="llama-2-7b", batch=1, new_tokens=1, cached=0)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        forward_pass(args.pop("model"), args.pop("batch"), args.pop("new_tokens"),
                     args.pop("cached"), **args)
