"""Tests of lib.inference: known answers, structure of the per-op costs, properties, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import hardware, inference, models
from lib.inference import decode, forward, prefill

H100 = hardware.get("h100-sxm")
REQUIRED = ("flops", "bytes", "arithmetic_intensity", "time_s", "bound", "tokens_per_s", "ops")


def matmul_params(m: models.ModelConfig) -> int:
    """Active parameters that a token multiplies by (the embedding lookup is not a matmul)."""
    lookup = (m.embedding_params - m.vocab_size * m.d_model if m.tied_embeddings
              else m.embedding_params)
    return m.params_active - lookup


# --- known answers -------------------------------------------------------------------------

@pytest.mark.parametrize("name", models.names())
def test_flops_per_token_is_about_2n_for_short_contexts(name):
    m = models.get(name)
    d = decode(name, H100, batch=1, context=1)
    p = prefill(name, H100, batch=1, prompt_len=16, all_logits=True)
    for per_token in (d.flops, p.flops / 16):
        # 2 N within a few %: the input embedding (up to 7% of Qwen2-7B) is a lookup, not a matmul
        assert per_token == pytest.approx(2 * m.params_active, rel=0.08)
        # ... and within 1.5% of 2 x the parameters a token actually multiplies by
        assert per_token == pytest.approx(2 * matmul_params(m), rel=0.015)


def test_batch1_decode_llama2_7b_on_h100_is_weight_reading():
    est = decode("llama-2-7b", "h100-sxm", batch=1, context=1)
    m = models.get("llama-2-7b")
    assert est.bound == "memory"
    assert all(o.bound == "memory" for o in est.ops if o.name != "softmax")
    # every weight but the embedding table (one row is read) crosses the bus once
    expected = (m.weight_bytes("bf16") - m.vocab_size * m.d_model * 2 + m.d_model * 2)
    assert est.bytes_weights == pytest.approx(expected, rel=1e-12)
    assert est.time_s == pytest.approx(m.weight_bytes("bf16") / H100.memory_bandwidth, rel=0.03)
    assert 3.8e-3 < est.time_s < 4.2e-3


def test_decode_kv_traffic_reads_cached_plus_new_and_writes_new():
    m = models.get("llama-3-8b")
    b, c = 4, 1000
    est = decode(m, H100, batch=b, context=c)
    per_token = m.kv_bytes_per_token("bf16")
    assert est.op("QKV projection").bytes_kv == pytest.approx(b * per_token)            # writes 1
    reads = est.op("attention scores QK^T").bytes_kv + est.op("attention x V").bytes_kv
    assert reads == pytest.approx(b * (c + 1) * per_token)                          # reads C + 1
    assert est.bytes_kv == pytest.approx(b * (c + 2) * per_token)


def test_embedding_reads_rows_and_lm_head_reads_all():
    m = models.get("llama-3-8b")
    est = decode(m, H100, batch=8, context=10)
    assert est.op("embedding").bytes_weights == 8 * m.d_model * 2
    assert est.op("LM head").bytes_weights == m.vocab_size * m.d_model * 2
    assert est.op("LM head").flops == 2 * 8 * m.d_model * m.vocab_size


def test_prefill_logits_only_for_the_last_position_unless_asked():
    m = models.get("llama-3-8b")
    last = prefill(m, H100, batch=2, prompt_len=100)
    every = prefill(m, H100, batch=2, prompt_len=100, all_logits=True)
    assert last.op("LM head").flops == 2 * 2 * m.d_model * m.vocab_size
    assert every.op("LM head").flops == 100 * last.op("LM head").flops
    assert every.op("LM head").bytes_weights == last.op("LM head").bytes_weights


def test_large_batch_prefill_is_compute_bound():
    est = prefill("llama-2-7b", "h100-sxm", batch=8, prompt_len=2048)
    assert est.bound == "compute"
    for name in ("QKV projection", "output projection", "MLP", "attention scores QK^T"):
        assert est.op(name).bound == "compute"
    assert est.time_s >= est.flops / H100.peak("bf16")


def test_attention_flops_known_answer_and_causal_skip():
    m = models.get("llama-2-7b")
    P = 4096
    skip = prefill(m, H100, batch=1, prompt_len=P)
    full = prefill(m, H100, batch=1, prompt_len=P, causal_skip=False)
    per_layer_full = 2 * m.n_heads * m.head_dim * P * P          # QK^T, one layer
    assert full.op("attention scores QK^T").flops == m.n_layers * per_layer_full
    assert skip.op("attention scores QK^T").flops == m.n_layers * 2 * m.n_heads * m.head_dim * (
        P * (P + 1) / 2)
    # 4 B T^2 h d per layer for both matmuls, halved by the causal skip
    both = skip.op("attention scores QK^T").flops + skip.op("attention x V").flops
    assert both == pytest.approx(m.n_layers * 4 * P * P * m.n_heads * m.head_dim / 2, rel=1e-3)


def test_fused_attention_keeps_scores_on_chip_and_unfused_turns_memory_bound():
    P = np.array([512, 32768])
    fused = prefill("llama-3-8b", "h100-sxm", batch=1, prompt_len=P)
    naive = prefill("llama-3-8b", "h100-sxm", batch=1, prompt_len=P, fused_attention=False)
    assert np.all(np.asarray(fused.op("softmax").bytes) == 0)
    assert fused.bound.tolist() == ["compute", "compute"]
    assert naive.bound.tolist()[1] == "memory"
    assert np.all(naive.time_s > fused.time_s)
    m = models.get("llama-3-8b")
    scores = m.n_layers * m.n_heads * 32768 ** 2 * 2      # the P x P matrix, bf16, per layer
    assert naive.op("softmax").bytes_act[1] == pytest.approx(2 * scores)
    assert not naive.causal_skip and fused.causal_skip


def test_moe_batch1_decode_reads_about_the_active_parameters():
    m = models.get("mixtral-8x7b")
    one = decode(m, H100, batch=1, context=1)
    assert one.bytes_weights == pytest.approx(m.params_active * 2, rel=0.02)
    assert one.op("MLP").bytes_weights == pytest.approx(
        m.n_layers * m.top_k * m.expert_params * 2)
    many = decode(m, H100, batch=256, context=1)
    assert many.bytes_weights == pytest.approx(m.params_total * 2, rel=0.02)
    assert many.op("router").flops == m.n_layers * 2 * 256 * m.d_model * m.n_experts


def test_expected_experts():
    assert inference.expected_experts(8, 2, 1) == 2
    assert inference.expected_experts(8, 2, 0) == 0
    assert inference.expected_experts(8, 2, 1000) == pytest.approx(8)
    t = np.arange(1, 200)
    e = inference.expected_experts(64, 6, t)
    assert np.all(np.diff(e) > 0) and np.all(e <= 64)
    with pytest.raises(ValueError, match="top_k"):
        inference.expected_experts(4, 5, 1)


def test_tensor_parallel_halves_weights_and_reports_communication_apart():
    one = decode("llama-2-70b", "h100-sxm", batch=8, context=1024)
    two = decode("llama-2-70b", "h100-sxm", batch=8, context=1024, tp=2)
    assert two.bytes_weights == pytest.approx(one.bytes_weights / 2, rel=0.01)
    assert two.flops == pytest.approx(one.flops / 2, rel=0.01)
    assert two.bytes_kv == pytest.approx(one.bytes_kv / 2, rel=1e-9)
    assert one.comm_time_s == 0 and two.comm_time_s > 0
    assert two.time_s == pytest.approx(two.compute_time_s + two.comm_time_s)
    assert sum(o.time_s for o in two.ops) == pytest.approx(two.compute_time_s)
    assert all("all-reduce" not in o.name for o in two.ops)
    m = models.get("llama-2-70b")
    ring = 2 * m.n_layers * 2 * (2 - 1) / 2 * 8 * m.d_model * 2
    assert two.comm_bytes == pytest.approx(ring)
    assert two.comm_time_s == pytest.approx(ring / H100.interconnect_bandwidth)
    assert two.tokens_per_s == pytest.approx(8 / two.time_s)


def test_tensor_parallel_heads_and_links():
    assert inference.kv_heads_per_device("llama-2-70b", 8) == 1
    assert inference.kv_heads_per_device("llama-2-70b", 16) == 1   # replicated
    rep = decode("llama-2-70b", "h100-sxm", batch=1, context=1000, tp=16)
    m = models.get("llama-2-70b")
    assert rep.op("QKV projection").bytes_kv == pytest.approx(2 * m.n_layers * 128 * 2)
    with pytest.raises(ValueError, match="tp=3 must divide n_heads=32"):
        decode("llama-2-7b", "h100-sxm", batch=1, context=1, tp=3)
    with pytest.raises(ValueError, match="tp=4 must divide n_kv_heads=6"):
        inference.kv_heads_per_device(models.ModelConfig(
            "x", n_layers=1, d_model=96, n_heads=12, n_kv_heads=6, head_dim=8, d_ff=8,
            vocab_size=8), 4)
    with pytest.raises(ValueError, match="no interconnect bandwidth for l4"):
        decode("llama-2-7b", "l4", batch=1, context=1, tp=2)
    ok = decode("llama-2-7b", "l4", batch=1, context=1, tp=2, link_bandwidth=32e9)
    assert ok.comm_time_s == pytest.approx(ok.comm_bytes / 32e9)
    with pytest.raises(ValueError, match="single whole number"):
        decode("llama-2-7b", "h100-sxm", batch=1, context=1, tp=[1, 2])


def test_sliding_window_caps_attention_reads():
    m = models.get("mistral-7b")
    short = decode(m, H100, batch=1, context=4000)
    long = decode(m, H100, batch=1, context=40000)
    full = decode(m.without_sliding_window(), H100, batch=1, context=40000)
    assert long.bytes_kv == pytest.approx(decode(m, H100, batch=1, context=4096).bytes_kv)
    assert short.bytes_kv < long.bytes_kv < full.bytes_kv
    assert prefill(m, H100, 1, 8192).op("attention x V").flops < prefill(
        m.without_sliding_window(), H100, 1, 8192).op("attention x V").flops


# --- dtypes ------------------------------------------------------------------------------------

def test_compute_dtype_rule():
    assert inference.compute_dtype_for("bf16", "h100-sxm") == "bf16"
    assert inference.compute_dtype_for("fp32", "a100-sxm-80gb") == "fp32"
    assert inference.compute_dtype_for("fp8", "h100-sxm") == "fp8"
    assert inference.compute_dtype_for("fp8", "a100-sxm-80gb") == "bf16"
    assert inference.compute_dtype_for("int8", "h100-sxm") == "bf16"
    assert inference.compute_dtype_for("int4", "h100-sxm") == "bf16"
    est = decode("llama-2-7b", "h100-sxm", batch=1, context=1, weight_dtype="fp8")
    assert est.compute_dtype == "fp8" and est.peak_flops == H100.peak("fp8")
    w8a8 = decode("llama-2-7b", "h100-sxm", batch=1, context=1, weight_dtype="int8",
                  compute_dtype="int8")
    assert w8a8.op("MLP").peak_flops == H100.peak("int8")
    with pytest.raises(ValueError, match="publishes no fp8 peak for a100"):
        decode("llama-2-7b", "a100-sxm-80gb", batch=1, context=1, compute_dtype="fp8")
    with pytest.raises(ValueError, match="publishes no bf16 peak for m2-ultra"):
        decode("llama-2-7b", "m2-ultra", batch=1, context=1)


def test_weight_and_kv_dtypes_scale_the_bytes():
    base = decode("llama-2-7b", "h100-sxm", batch=4, context=2048)
    q4 = decode("llama-2-7b", "h100-sxm", batch=4, context=2048, weight_dtype="int4")
    kv8 = decode("llama-2-7b", "h100-sxm", batch=4, context=2048, kv_dtype="fp8")
    assert q4.bytes_weights == pytest.approx(base.bytes_weights / 4)
    assert q4.flops == base.flops
    assert kv8.bytes_kv == pytest.approx(base.bytes_kv / 2)
    assert kv8.bytes_weights == base.bytes_weights


def test_int8_weights_with_bf16_compute_halve_the_critical_batch():
    bf16 = inference.critical_batch("llama-3-8b", "h100-sxm", context=0)
    int8 = inference.critical_batch("llama-3-8b", "h100-sxm", context=0, weight_dtype="int8")
    assert int8 == pytest.approx(bf16 / 2, rel=0.02)


# --- the roofline structure ---------------------------------------------------------------------

def test_each_op_is_on_the_roofline_and_the_total_is_their_sum():
    est = prefill("qwen2-7b", "a100-sxm-80gb", batch=2, prompt_len=300)
    bw = hardware.get("a100-sxm-80gb").memory_bandwidth
    for o in est.ops:
        assert o.time_s == pytest.approx(max(o.flops / o.peak_flops, o.bytes / bw))
        assert o.bound == ("memory" if o.bytes / bw > o.flops / o.peak_flops else "compute")
        assert o.name in inference.OP_NAMES and o.calls >= 1
    assert est.compute_time_s == pytest.approx(sum(o.time_s for o in est.ops))
    assert est.flops == pytest.approx(sum(o.flops for o in est.ops))
    assert est.bytes == pytest.approx(est.bytes_weights + est.bytes_kv + est.bytes_act)
    assert est.arithmetic_intensity == pytest.approx(est.flops / est.bytes)
    assert max(est.math_time_s, est.memory_time_s) <= est.time_s + 1e-15
    assert est.time_s <= est.math_time_s + est.memory_time_s + 1e-15
    names = [o.name for o in est.ops]
    assert names == [n for n in inference.OP_NAMES if n != "router"]
    assert "router" in [o.name for o in decode("mixtral-8x7b", H100, 1, 1).ops]


def test_vectorised_sweep_equals_one_call_per_point():
    B = np.array([1, 4, 64])[:, None]
    C = np.array([0, 100, 5000])[None, :]
    grid = decode("llama-3-8b", "h100-sxm", batch=B, context=C)
    assert np.shape(grid.time_s) == (3, 3)
    for i, b in enumerate([1, 4, 64]):
        for j, c in enumerate([0, 100, 5000]):
            one = decode("llama-3-8b", "h100-sxm", batch=b, context=c)
            assert grid.time_s[i, j] == pytest.approx(one.time_s, rel=1e-12)
            assert grid.bound[i, j] == one.bound
            assert grid.op("MLP").bytes_weights[i, j] == pytest.approx(
                one.op("MLP").bytes_weights)
    P = prefill("gpt2", "h100-sxm", batch=[1, 2], prompt_len=[[16], [256]])
    assert np.shape(P.flops) == (2, 2)


def test_to_dict_is_plain_json_with_the_cli_keys():
    for est in (decode("mixtral-8x7b", H100, 1, 100, tp=2), prefill("gpt2", H100, [1, 2], 64)):
        d = est.to_dict()
        text = json.dumps(d, allow_nan=False)
        assert all(k in d for k in REQUIRED)
        assert isinstance(d["ops"], list) and "name" in d["ops"][0]
        assert json.loads(text)["model"] == est.model
    soft = decode("gpt2", H100, 1, 10).op("softmax")
    assert soft.arithmetic_intensity == np.inf and soft.to_dict()["arithmetic_intensity"] is None


def test_format_estimate_table():
    est = decode("mixtral-8x7b", "h100-sxm", batch=2, context=100, tp=2)
    text = inference.format_estimate(est)
    for name in [o.name for o in est.ops] + ["total", "all-reduce (tp 2)", "memory-bound"]:
        assert name in text
    lines = text.splitlines()
    assert len({len(l) for l in lines[1:3]}) == 1          # header and rule aligned
    with pytest.raises(ValueError, match="single configuration"):
        inference.format_estimate(decode("gpt2", H100, [1, 2], 1))


# --- memory ---------------------------------------------------------------------------------------

def test_kv_cache_and_capacity():
    assert inference.kv_cache_bytes("llama-2-7b", 1, 4096) == 2 * 2**30
    assert inference.kv_cache_bytes("llama-2-70b", 2, 1000, "fp8", tp=8) == (
        2 * 1000 * 2 * 80 * 1 * 128 * 1)
    assert inference.kv_cache_bytes("mistral-7b", 1, 100_000) == 4096 * 128 * 1024
    w = models.get("llama-2-7b").weight_bytes("bf16")
    assert inference.weight_bytes("llama-2-7b") == w
    assert inference.max_batch("llama-2-7b", "h100-sxm", 4096) == np.floor((80e9 - w) / 2**31)
    assert inference.max_batch("llama-2-70b", "h100-sxm", 1024) == 0
    assert inference.max_batch("llama-2-70b", "h100-sxm", 1024, tp=4) > 0
    assert inference.max_context("llama-2-7b", "h100-sxm", 1) == np.floor((80e9 - w) / 2**19)
    assert inference.max_context("mistral-7b", "h100-sxm", 1) == np.inf
    assert inference.max_context("mistral-7b", "h100-sxm", 4000) < 4096
    half = inference.max_batch("llama-2-7b", "h100-sxm", 4096, memory_fraction=0.5)
    assert half == np.floor((40e9 - w) / 2**31)
    assert inference.memory_required("llama-2-7b", 1, 4096) == w + 2**31
    est = decode("llama-2-70b", "h100-sxm", batch=1, context=10)
    assert not est.fits and est.memory_required > H100.memory_capacity
    assert decode("llama-2-7b", "h100-sxm", batch=1, context=10).fits


@settings(max_examples=40, deadline=None)
@given(context=st.integers(1, 200_000))
def test_max_batch_is_the_largest_that_fits(context):
    b = inference.max_batch("llama-3-8b", "h200", context)
    need = inference.memory_required
    cap = hardware.get("h200").memory_capacity
    if b > 0:
        assert need("llama-3-8b", b, context) <= cap
    assert need("llama-3-8b", b + 1, context) > cap


def test_critical_batch_is_where_decode_turns_compute_bound():
    for model, ctx in (("llama-3-8b", 0), ("mixtral-8x7b", 64), ("llama-2-70b", 256)):
        b = inference.critical_batch(model, "h100-sxm", context=ctx)
        assert np.isfinite(b)
        at = decode(model, "h100-sxm", batch=b, context=ctx)
        below = decode(model, "h100-sxm", batch=b - 1, context=ctx)
        assert at.bound == "compute" and below.bound == "memory"
    # near peak / bandwidth for a dense model at short context
    assert 295 <= inference.critical_batch("llama-3-8b", "h100-sxm", 0) < 1.5 * 295
    # at long context MHA attention keeps decode memory-bound for any batch
    assert inference.critical_batch("llama-2-7b", "h100-sxm", context=8192) == np.inf
    arr = inference.critical_batch("llama-3-8b", "h100-sxm", context=[0, 64, 100_000])
    assert arr[0] < arr[1] and arr[2] == np.inf


def test_ttft_tpot_tokens_per_s_mbu_mfu():
    p = prefill("llama-3-8b", "h100-sxm", 2, 1000)
    d = decode("llama-3-8b", "h100-sxm", 2, 1000)
    assert inference.ttft("llama-3-8b", "h100-sxm", 2, 1000) == p.time_s
    assert inference.tpot("llama-3-8b", "h100-sxm", 2, 1000) == d.time_s
    assert p.tokens_per_s == pytest.approx(2000 / p.time_s)
    assert d.tokens_per_s == pytest.approx(2 / d.time_s)
    assert inference.mbu(d, d.memory_time_s) == pytest.approx(1.0)
    assert inference.mbu(d, 2 * d.memory_time_s) == pytest.approx(0.5)
    assert inference.mfu(p, p.flops / p.peak_flops) == pytest.approx(1.0)
    assert np.allclose(inference.mbu(d, [d.time_s, 2 * d.time_s]),
                       [d.memory_time_s / d.time_s, d.memory_time_s / d.time_s / 2])
    with pytest.raises(ValueError, match="measured_time_s=0 must be"):
        inference.mbu(d, 0)


# --- monotonicity -------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(models.names()), batch=st.integers(1, 64),
       c1=st.integers(0, 50_000), extra=st.integers(1, 50_000))
def test_decode_time_grows_with_context(name, batch, c1, extra):
    a = decode(name, H100, batch, c1)
    b = decode(name, H100, batch, c1 + extra)
    assert b.time_s >= a.time_s
    assert b.bytes_kv >= a.bytes_kv
    if models.get(name).sliding_window is None:
        assert b.time_s > a.time_s


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(models.names()), c=st.integers(0, 8192), b1=st.integers(1, 512),
       extra=st.integers(1, 512))
def test_decode_time_and_throughput_grow_with_batch(name, c, b1, extra):
    a = decode(name, H100, b1, c)
    b = decode(name, H100, b1 + extra, c)
    assert b.time_s > a.time_s
    assert b.tokens_per_s > a.tokens_per_s
    assert b.arithmetic_intensity >= a.arithmetic_intensity * (1 - 1e-9)


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(models.names()), p1=st.integers(1, 4096), extra=st.integers(1, 4096))
def test_prefill_intensity_and_time_grow_with_prompt(name, p1, extra):
    a = prefill(name, H100, 1, p1)
    b = prefill(name, H100, 1, p1 + extra)
    assert b.arithmetic_intensity > a.arithmetic_intensity
    assert b.time_s > a.time_s


def test_prefill_intensity_grows_over_a_sweep():
    P = 2 ** np.arange(0, 15)
    ai = prefill("llama-2-7b", H100, 1, P).arithmetic_intensity
    assert np.all(np.diff(ai) > 0)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 64), c=st.integers(0, 10_000))
def test_forward_chunk_costs_at_least_decode(n, c):
    one = forward("llama-3-8b", H100, 1, 1, c)
    chunk = forward("llama-3-8b", H100, 1, n, c, all_logits=True)
    assert chunk.time_s >= one.time_s * (1 - 1e-12)
    assert chunk.flops == pytest.approx(n * one.flops, rel=0.05 + 0.001 * n)


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: decode("llama-2-7b", H100, 0, 10), "batch=0 must be a whole number > 0"),
    (lambda: decode("llama-2-7b", H100, 1.5, 10), "batch=1.5 must be a whole number"),
    (lambda: decode("llama-2-7b", H100, 1, -1), "context=-1 must be a whole number >= 0"),
    (lambda: decode("llama-2-7b", H100, [1, np.nan], 1), "batch"),
    (lambda: prefill("llama-2-7b", H100, 1, 0), "prompt_len=0 must be a whole number > 0"),
    (lambda: decode("llama-2-7b", H100, 1, 1, weight_dtype="tf32"), "weight_dtype='tf32'"),
    (lambda: decode("llama-2-7b", H100, 1, 1, kv_dtype="int4"), "kv_dtype='int4'"),
    (lambda: decode("llama-2-7b", H100, 1, 1, compute_dtype="bf61"), "compute_dtype='bf61'"),
    (lambda: decode("llama-2-7", H100, 1, 1), "model='llama-2-7' is not known"),
    (lambda: decode("llama-2-7b", "h100", 1, 1), "device='h100' is not known"),
    (lambda: decode("llama-2-7b", H100, 1, 1, tp=0), "tp=0 must be"),
    (lambda: inference.max_batch("gpt2", H100, 0), "context=0 must be"),
    (lambda: inference.max_batch("gpt2", H100, 10, memory_fraction=1.5), "memory_fraction"),
    (lambda: decode("gpt2", H100, 1, 1).op("router"), "op='router' is not known"),
])
def test_bad_input_raises_a_named_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_generation_time_is_prefill_plus_decode_steps():
    t = inference.generation_time("llama-2-7b", "h100-sxm", batch=2, prompt_len=100,
                                  output_len=4, kv_dtype="fp8")
    steps = sum(decode("llama-2-7b", H100, 2, c, kv_dtype="fp8").time_s for c in (100, 101, 102))
    assert t == pytest.approx(prefill("llama-2-7b", H100, 2, 100, kv_dtype="fp8").time_s + steps)
    assert inference.generation_time("gpt2", H100, 1, 10, 1) == prefill("gpt2", H100, 1, 10).time_s
    with pytest.raises(ValueError, match="single whole number"):
        inference.generation_time("gpt2", H100, [1, 2], 10, 5)
    with pytest.raises(ValueError, match="output_len=0"):
        inference.generation_time("gpt2", H100, 1, 10, 0)


# --- chapter 6: the back-of-envelope step time and the launch floor --------------------------

@pytest.mark.parametrize("name", ["llama-2-7b", "llama-2-13b", "mistral-7b"])
@pytest.mark.parametrize("batch,context", [(1, 1), (1, 4096), (16, 2048), (64, 512)])
def test_tpot_approx_is_close_to_the_per_op_estimate_where_memory_bound(name, batch, context):
    approx = inference.tpot_approx(name, H100, batch, context)
    assert approx == pytest.approx(decode(name, H100, batch, context).time_s, rel=0.06)


def test_tpot_approx_terms():
    m = models.get("llama-3-8b")
    w = inference.weight_bytes(m, "int8")
    kv = inference.kv_cache_bytes(m, 1, 2048, "fp8")
    got = inference.tpot_approx(m, H100, 1, 2048, weight_dtype="int8", kv_dtype="fp8")
    assert got == pytest.approx((w + kv) / H100.memory_bandwidth)
    # a huge batch with no cache: the matmuls' math sets the time
    big = inference.tpot_approx(m, H100, 100_000, 0)
    assert big == pytest.approx(2 * 100_000 * m.params_active / H100.peak("bf16"))
    with pytest.raises(ValueError, match="batch=0 must be a whole number > 0"):
        inference.tpot_approx(m, H100, 0, 10)


def test_launch_floor_counts_kernels_and_scales_with_latency():
    m = models.get("llama-2-7b")
    fused = decode(m, H100, 1, 100)
    unfused = decode(m, H100, 1, 100, fused_attention=False)
    per_us = inference.launch_floor(fused, 1e-6) / 1e-6
    assert round(per_us) == 8 * m.n_layers + 3
    # unfused attention: QK^T, softmax and x V are three kernels per layer
    assert round(inference.launch_floor(unfused, 1e-6) / 1e-6) == 10 * m.n_layers + 3
    assert inference.launch_floor(fused, 0.0) == 0.0
    assert inference.launch_floor(fused, 4e-6, kernels=500) == pytest.approx(2e-3)
    np.testing.assert_allclose(inference.launch_floor(fused, np.array([1e-6, 2e-6])),
                               np.array([1, 2]) * per_us * 1e-6)
    with pytest.raises(ValueError, match="launch_latency_s=-1"):
        inference.launch_floor(fused, -1)
    with pytest.raises(ValueError, match="kernels=2.5"):
        inference.launch_floor(fused, 1e-6, kernels=2.5)


def test_shortest_compute_bound_prompt_is_the_first_compute_bound_prefill():
    p = inference.shortest_compute_bound_prompt("llama-3-8b", "h100-sxm")
    assert inference.prefill("llama-3-8b", "h100-sxm", 1, int(p)).bound == "compute"
    assert inference.prefill("llama-3-8b", "h100-sxm", 1, int(p) - 1).bound == "memory"
    # a bigger batch needs a shorter prompt; no prompt in a short list -> inf
    assert inference.shortest_compute_bound_prompt("llama-3-8b", "h100-sxm", 8) < p
    assert inference.shortest_compute_bound_prompt("llama-3-8b", "h100-sxm",
                                                   prompt_lens=[1, 2]) == float("inf")
    with pytest.raises(ValueError, match="prompt_lens"):
        inference.shortest_compute_bound_prompt("llama-3-8b", "h100-sxm", prompt_lens=[8, 4])
