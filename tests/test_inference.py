"""lib.inference: each op on its roofline, the two times, the phases, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import capacity, comm, hardware, inference, models, transformer
from lib.inference import decode, forward, prefill

H100 = hardware.get("h100-sxm")
REQUIRED = ("flops", "bytes", "arithmetic_intensity", "time_s", "bound", "tokens_per_s", "ops",
            "floor_s", "comm_s", "peak_known")


# --- each op on its roof --------------------------------------------------------------------

def test_each_op_is_on_its_roofline_and_the_per_op_time_is_their_sum():
    est = prefill("qwen2-7b", "a100-sxm-80gb", batch=2, prompt_len=300)
    a100 = hardware.get("a100-sxm-80gb")
    roof = {"matmul": a100.peak("bf16"), "attention": a100.peak("bf16"),
            "vector": a100.peak("fp32")}
    for o in est.ops:
        assert o.peak_flops == roof[o.roof]
        math = max((o.flops - o.exps) / o.peak_flops, o.exps / a100.exp_throughput)
        assert o.math_time_s == pytest.approx(math)
        assert o.time_s == pytest.approx(max(math, o.bytes / a100.memory_bandwidth))
        assert o.bound == ("memory" if o.bytes / a100.memory_bandwidth > math else "compute")
    assert est.compute_time_s == pytest.approx(sum(o.time_s for o in est.ops))
    assert est.time_s == est.compute_time_s                       # tp = 1: no communication
    assert est.flops == pytest.approx(sum(o.flops for o in est.ops))
    assert est.bytes == pytest.approx(est.bytes_weights + est.bytes_kv + est.bytes_act)
    assert est.arithmetic_intensity == pytest.approx(est.flops / est.bytes)


def test_softmax_exps_run_on_the_special_function_units():
    # FlashAttention-3, section 3.1: 3.9 TFLOPS of exp on an H100 SXM. A 2,048-token
    # Llama-3-8B prefill takes 2048 x 2049 / 2 x 32 heads x 32 layers exps: about 0.55 ms.
    est = prefill("llama-3-8b", "h100-sxm", 1, 2048)
    softmax = est.op("softmax")
    assert softmax.time_s == pytest.approx(2048 * 2049 / 2 * 32 * 32 / 3.9e12, rel=0.01)
    assert 0.5e-3 < softmax.time_s < 0.6e-3
    # where the catalog holds no exp rate (MI300X), the exps are vector FLOPs
    mi = prefill("llama-3-8b", "mi300x", 1, 2048).op("softmax")
    assert mi.math_time_s == pytest.approx(mi.flops / hardware.get("mi300x").peak("fp32"))


def test_batch1_decode_llama2_7b_is_weight_reading():
    est = decode("llama-2-7b", "h100-sxm", batch=1, context=1)
    m = models.get("llama-2-7b")
    assert est.bound == "memory"
    assert all(o.bound == "memory" for o in est.ops if o.bytes > 0)
    assert est.bytes_weights == m.params_read * 2
    assert est.floor_s == pytest.approx(m.params_read * 2 / H100.memory_bandwidth, rel=0.001)
    assert 3.8e-3 < est.floor_s <= est.time_s < 4.2e-3


def test_large_batch_prefill_is_compute_bound():
    est = prefill("llama-2-7b", "h100-sxm", batch=8, prompt_len=2048)
    assert est.bound == "compute"
    for name in ("QKV projection", "output projection", "MLP up", "MLP down",
                 "attention scores QK^T"):
        assert est.op(name).bound == "compute"
    assert est.floor_s >= est.flops / H100.peak("bf16") * 0.99


def test_fused_attention_stays_compute_bound_and_unfused_turns_memory_bound():
    P = np.array([512, 32768])
    fused = prefill("llama-3-8b", "h100-sxm", batch=1, prompt_len=P)
    naive = prefill("llama-3-8b", "h100-sxm", batch=1, prompt_len=P, fused_attention=False)
    assert fused.bound.tolist() == ["compute", "compute"]
    assert naive.bound.tolist()[1] == "memory"
    assert np.all(naive.time_s > fused.time_s)
    scores = 32 * 32 * 32768 ** 2 * 2           # the P x P matrix per head, 32 layers, bf16
    assert naive.op("softmax").bytes_act[1] == pytest.approx(2 * scores)
    assert not naive.causal_skip and fused.causal_skip


# --- the two times --------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(models.names()),
       device=st.sampled_from(hardware.names()),
       batch=st.integers(1, 256), new=st.sampled_from([1, 7, 512, 4096]),
       cached=st.integers(0, 30_000), fused=st.booleans())
def test_the_floor_is_never_above_the_per_op_time(name, device, batch, new, cached, fused):
    est = forward(name, device, batch, new, cached, fused_attention=fused)
    assert 0 < est.floor_s <= est.time_s * (1 + 1e-12)
    assert est.compulsory_bytes <= est.bytes
    assert est.floor_s >= est.compulsory_bytes / est.memory_bandwidth * (1 - 1e-12)


def test_the_floor_is_the_busiest_resource():
    est = prefill("llama-3-8b", "h100-sxm", 1, 4096)
    tensor = sum(o.flops for o in est.ops if o.roof != "vector") / H100.peak("bf16")
    assert est.floor_s == pytest.approx(tensor, rel=1e-9)          # the tensor cores
    dec = decode("llama-3-8b", "h100-sxm", 1, 4096)
    m = models.get("llama-3-8b")
    # the weights once; the 4,096 cached entries read and the new one written, 128 KiB each
    must = m.params_read * 2 + 4097 * 131072
    assert dec.compulsory_bytes == must
    assert dec.floor_s == pytest.approx(must / H100.memory_bandwidth)
    # fusing would save the activations' round trips: the floor is below the per-op time
    assert dec.floor_s < dec.time_s


def test_a_device_without_published_peaks_answers_memory_only():
    est = decode("llama-2-7b", "m2-ultra", 1, 128, weight_dtype="fp16", kv_dtype="fp16")
    assert not est.peak_known and est.peak_flops is None
    assert est.math_time_s == 0 and est.bound == "memory"
    assert est.time_s == pytest.approx(est.bytes / 800e9)
    assert est.floor_s == pytest.approx(est.compulsory_bytes / 800e9)
    assert 15e-3 < est.time_s < 18e-3                   # about 13.3 GB at 800 GB/s
    assert all(o.bound == "memory" for o in est.ops)
    # and a precision the device has no tensor cores for
    fp8 = decode("llama-2-7b", "a100-sxm-80gb", 1, 1, compute_dtype="fp8")
    assert not fp8.peak_known
    with pytest.raises(ValueError, match="publishes no fp8 peak, so there is no MFU"):
        inference.mfu(fp8, 1e-3)
    assert inference.mbu(est, est.time_s) == pytest.approx(1.0)


# --- tensor parallelism ---------------------------------------------------------------------

def test_tensor_parallel_communication_is_latency_plus_bytes():
    one = decode("llama-2-70b", "h100-sxm", batch=8, context=1024)
    two = decode("llama-2-70b", "h100-sxm", batch=8, context=1024, tp=2)
    assert two.bytes_weights == pytest.approx(one.bytes_weights / 2, rel=0.01)
    assert one.comm_time_s == 0 and two.comm_time_s > 0
    assert two.time_s == pytest.approx(two.compute_time_s + two.comm_time_s)
    # 2 all-reduces per layer of 8 tokens x 8192 x 2 bytes; NCCL's ring: 6.6 us + 2 steps of
    # 0.6 us, plus 2 x (2 - 1) / 2 x 128 KiB over 450 GB/s
    n = 8 * 8192 * 2
    per = 6.6e-6 + 2 * 0.6e-6 + n / 450e9
    assert two.comm_time_s == pytest.approx(2 * 80 * per)
    assert two.comm_bytes == pytest.approx(2 * 80 * n)
    assert two.to_dict()["comm_s"] == two.comm_time_s
    assert two.tokens_per_s == pytest.approx(8 / two.time_s)
    # a PCIe card has a (slower) link in the catalog; another can be passed
    l4 = decode("llama-2-7b", "l4", 1, 1, tp=2)
    assert l4.comm_time_s == pytest.approx(64 * (6.6e-6 + 2 * 1.0e-6 + 8192 / 32e9))
    slow = decode("llama-2-7b", "l4", 1, 1, tp=2, link_bandwidth=16e9, link_latency=5e-6)
    assert slow.comm_time_s == pytest.approx(64 * (6.6e-6 + 2 * 5e-6 + 8192 / 16e9))
    with pytest.raises(ValueError, match="holds none for tpu-v5e; pass link_bandwidth"):
        decode("llama-2-7b", "tpu-v5e", 1, 1, tp=2)


# --- dtypes ---------------------------------------------------------------------------------

def test_compute_dtype_rule():
    assert inference.compute_dtype_for("bf16", "h100-sxm") == "bf16"
    assert inference.compute_dtype_for("fp32", "a100-sxm-80gb") == "fp32"
    assert inference.compute_dtype_for("fp8", "h100-sxm") == "fp8"
    assert inference.compute_dtype_for("fp8", "a100-sxm-80gb") == "bf16"
    assert inference.compute_dtype_for("int8", "h100-sxm") == "bf16"
    assert inference.compute_dtype_for("int4", H100) == "bf16"
    est = decode("llama-2-7b", "h100-sxm", batch=1, context=1, weight_dtype="fp8")
    assert est.compute_dtype == "fp8" and est.peak_flops == H100.peak("fp8")
    w8a8 = decode("llama-2-7b", "h100-sxm", batch=1, context=1, weight_dtype="int8",
                  compute_dtype="int8")
    assert w8a8.op("MLP up").peak_flops == H100.peak("int8")


def test_weight_and_kv_dtypes_scale_the_bytes():
    base = decode("llama-2-7b", "h100-sxm", batch=4, context=2048)
    q4 = decode("llama-2-7b", "h100-sxm", batch=4, context=2048, weight_dtype="int4")
    kv8 = decode("llama-2-7b", "h100-sxm", batch=4, context=2048, kv_dtype="fp8")
    kv4 = decode("llama-2-7b", "h100-sxm", batch=4, context=2048, kv_dtype="int4")
    assert q4.bytes_weights == pytest.approx(base.bytes_weights / 4)
    assert q4.flops == base.flops
    assert kv8.bytes_kv == pytest.approx(base.bytes_kv / 2)
    assert kv4.bytes_kv == pytest.approx(base.bytes_kv / 4)
    assert kv8.bytes_weights == base.bytes_weights


# --- phases ---------------------------------------------------------------------------------

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
    np.testing.assert_allclose(inference.mbu(d, [d.time_s, 2 * d.time_s]),
                               [d.memory_time_s / d.time_s, d.memory_time_s / d.time_s / 2])
    with pytest.raises(ValueError, match="measured_time_s=0 must be"):
        inference.mbu(d, 0)


def test_generation_time_is_prefill_plus_decode_steps():
    t = inference.generation_time("llama-2-7b", "h100-sxm", batch=2, prompt_len=100,
                                  output_len=4, kv_dtype="fp8")
    steps = sum(decode("llama-2-7b", H100, 2, c, kv_dtype="fp8").time_s for c in (100, 101, 102))
    first = prefill("llama-2-7b", H100, 2, 100, kv_dtype="fp8").time_s
    assert t == pytest.approx(first + steps)
    assert inference.request_phases("llama-2-7b", H100, 2, 100, 4, kv_dtype="fp8") == \
        pytest.approx((first, steps))
    assert inference.generation_time("gpt2", H100, 1, 10, 1) == prefill("gpt2", H100, 1, 10).time_s
    with pytest.raises(ValueError, match="single whole number"):
        inference.generation_time("gpt2", H100, [1, 2], 10, 5)
    with pytest.raises(ValueError, match="output_len=0"):
        inference.generation_time("gpt2", H100, 1, 10, 0)


@pytest.mark.parametrize("name", ["llama-2-7b", "llama-2-13b", "mistral-7b"])
@pytest.mark.parametrize("batch,context", [(1, 1), (1, 4096), (16, 2048), (64, 512)])
def test_tpot_approx_is_close_to_the_per_op_time_where_memory_bound(name, batch, context):
    approx = inference.tpot_approx(name, H100, batch, context)
    assert approx == pytest.approx(decode(name, H100, batch, context).time_s, rel=0.06)


def test_tpot_approx_terms():
    m = models.get("llama-3-8b")
    w = capacity.weight_bytes(m, "int8")
    kv = capacity.kv_cache_bytes(m, 1, 2048, "fp8")
    got = inference.tpot_approx(m, H100, 1, 2048, weight_dtype="int8", kv_dtype="fp8")
    assert got == pytest.approx((w + kv) / H100.memory_bandwidth)
    big = inference.tpot_approx(m, H100, 100_000, 0)
    assert big == pytest.approx(2 * 100_000 * m.params_active / H100.peak("bf16"))


def test_launch_floor_counts_kernels():
    m = models.get("llama-2-7b")
    fused = decode(m, H100, 1, 100)
    unfused = decode(m, H100, 1, 100, fused_attention=False)
    # per layer: 2 norms, QKV, RoPE and KV write, attention, output, 2 residual adds, MLP up,
    # activation, MLP down = 11 kernels; then the embedding, the final norm and the LM head
    assert round(inference.launch_floor(fused, 1e-6) / 1e-6) == 11 * 32 + 3
    assert round(inference.launch_floor(unfused, 1e-6) / 1e-6) == 13 * 32 + 3
    assert inference.launch_floor(fused, 4e-6, kernels=500) == pytest.approx(2e-3)
    with pytest.raises(ValueError, match="launch_latency_s=-1"):
        inference.launch_floor(fused, -1)


def test_time_split_adds_up_and_attention_share():
    est = decode("llama-3-8b", "h100-sxm", np.array([1, 64, 1024]), 128)
    split = inference.time_split(est)
    assert list(split) == list(inference.SPLIT)
    np.testing.assert_allclose(sum(split.values()), est.compute_time_s, rtol=1e-12)
    assert split["weights"][0] / est.time_s[0] > 0.95
    assert split["math"][2] / est.time_s[2] > 0.5
    pre = prefill("llama-3-8b", "h100-sxm", 1, [256, 4096])
    flops = inference.attention_share(pre, "flops")
    # 4 B T^2 h d / 2 over the total, by hand for 4096 tokens: about 13.3 TFLOP of 69.5
    by_hand = 32 * 4 * 4096 * 4097 / 2 * 32 * 128 / pre.flops[1]
    assert flops[1] == pytest.approx(by_hand, rel=0.01)
    with pytest.raises(ValueError, match="quantity='bytes' is not known"):
        inference.attention_share(pre, "bytes")


def test_roofline_point_is_on_the_memory_roof_for_decode():
    est = decode("llama-3-8b", "h100-sxm", [1, 16], 2048)
    x, y = inference.roofline_point(est)
    np.testing.assert_allclose(y, x * est.memory_bandwidth, rtol=0.01)


# --- structure, sweeps, output --------------------------------------------------------------

def test_vectorised_sweep_equals_one_call_per_point():
    B = np.array([1, 4, 64])[:, None]
    C = np.array([0, 100, 5000])[None, :]
    grid = decode("llama-3-8b", "h100-sxm", batch=B, context=C)
    assert np.shape(grid.time_s) == (3, 3) and np.shape(grid.floor_s) == (3, 3)
    for i, b in enumerate([1, 4, 64]):
        for j, c in enumerate([0, 100, 5000]):
            one = decode("llama-3-8b", "h100-sxm", batch=b, context=c)
            assert grid.time_s[i, j] == pytest.approx(one.time_s, rel=1e-12)
            assert grid.floor_s[i, j] == pytest.approx(one.floor_s, rel=1e-12)
            assert grid.bound[i, j] == one.bound


def test_to_dict_is_plain_json_with_the_cli_keys():
    for est in (decode("mixtral-8x7b", H100, 1, 100, tp=2), prefill("gpt2", H100, [1, 2], 64),
                decode("llama-2-7b", "m2-ultra", 1, 1)):
        d = est.to_dict()
        json.dumps(d, allow_nan=False)
        assert all(k in d for k in REQUIRED)
        assert isinstance(d["ops"], list) and "name" in d["ops"][0]
    soft = decode("gpt2", H100, 1, 10).op("softmax")
    assert soft.arithmetic_intensity == np.inf and soft.to_dict()["arithmetic_intensity"] is None


def test_ops_table():
    est = decode("mixtral-8x7b", "h100-sxm", batch=2, context=100, tp=2)
    text = str(inference.ops_table(est))
    for name in [o.name for o in est.ops] + ["total", "all-reduces (tp 2)", "floor"]:
        assert name in text
    lines = text.splitlines()
    assert len(lines[1]) == len(lines[2])                  # header and rule aligned
    narrow = str(inference.ops_table(est, ["FLOPs", "bound"])).splitlines()
    assert narrow[1].split() == ["op", "FLOPs", "bound"]
    assert "<table" in inference.ops_table(est)._repr_html_()
    with pytest.raises(ValueError, match="single configuration"):
        inference.ops_table(decode("gpt2", H100, [1, 2], 1))
    with pytest.raises(ValueError, match="columns='flops/s' is not known"):
        inference.ops_table(est, ["flops/s"])


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(models.names()), batch=st.integers(1, 64),
       c1=st.integers(0, 50_000), extra=st.integers(1, 50_000))
def test_decode_time_grows_with_context(name, batch, c1, extra):
    a = decode(name, H100, batch, c1)
    b = decode(name, H100, batch, c1 + extra)
    assert b.time_s >= a.time_s and b.floor_s >= a.floor_s
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
def test_prefill_time_grows_with_prompt(name, p1, extra):
    a = prefill(name, H100, 1, p1)
    b = prefill(name, H100, 1, p1 + extra)
    assert b.time_s > a.time_s and b.floor_s > a.floor_s


def test_prefill_intensity_grows_over_a_sweep():
    P = 2 ** np.arange(0, 15)
    assert np.all(np.diff(prefill("llama-2-7b", H100, 1, P).arithmetic_intensity) > 0)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 64), c=st.integers(0, 10_000))
def test_forward_chunk_costs_at_least_decode(n, c):
    one = forward("llama-3-8b", H100, 1, 1, c)
    chunk = forward("llama-3-8b", H100, 1, n, c, all_logits=True)
    assert chunk.time_s >= one.time_s * (1 - 1e-12)
    assert chunk.flops == pytest.approx(n * one.flops, rel=0.05 + 0.001 * n)


@pytest.mark.parametrize("call, match", [
    (lambda: decode("llama-2-7b", H100, 0, 10), "batch=0 must be a whole number > 0"),
    (lambda: decode("llama-2-7b", H100, 1.5, 10), "batch=1.5 must be a whole number"),
    (lambda: decode("llama-2-7b", H100, 1, -1), "context=-1 must be a whole number >= 0"),
    (lambda: decode("llama-2-7b", H100, [1, np.nan], 1), "batch"),
    (lambda: decode("llama-2-7b", H100, [1, 2, 3], [1, 2]), "do not broadcast"),
    (lambda: prefill("llama-2-7b", H100, 1, 0), "prompt_len=0 must be a whole number > 0"),
    (lambda: decode("llama-2-7b", H100, 1, 1, weight_dtype="tf32"), "weight_dtype='tf32'"),
    (lambda: decode("llama-2-7b", H100, 1, 1, kv_dtype="int2"), "kv_dtype='int2'"),
    (lambda: decode("llama-2-7b", H100, 1, 1, compute_dtype="bf61"), "compute_dtype='bf61'"),
    (lambda: decode("llama-2-7b", H100, 1, 1, fused_attention="no"), "fused_attention='no'"),
    (lambda: decode("llama-2-7b", H100, 1, 1, all_logits=True), "all_logits applies to"),
    (lambda: decode("llama-2-7", H100, 1, 1), "model='llama-2-7' is not known"),
    (lambda: decode("llama-2-7b", "h100", 1, 1), "device='h100' is not known"),
    (lambda: decode("llama-2-7b", H100, 1, 1, tp=0), "tp=0 must be"),
    (lambda: decode("llama-2-7b", H100, 1, 1, tp=[1, 2]), "single whole number"),
    (lambda: decode("gpt2", H100, 1, 1).op("router"), "op='router' is not known"),
])
def test_bad_input_raises_a_named_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_names_and_objects_are_interchangeable():
    a = decode("llama-3-8b", "h100-sxm", 2, 100)
    b = decode(models.get("llama-3-8b"), hardware.get("h100-sxm"), 2, 100)
    assert a.time_s == b.time_s and a.floor_s == b.floor_s
    assert comm.all_reduce(1e6, 2, H100).time_s == comm.all_reduce(1e6, 2, "h100-sxm").time_s
    assert transformer.forward_pass(models.get("gpt2"), 1, 1).model.name == "gpt2"
