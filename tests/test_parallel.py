"""lib.parallel: tensor, pipeline, expert and sequence parallelism, and published scaling data."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib import comm, inference, models, parallel


# --- the formulas the papers give -----------------------------------------------------------

@given(p=st.integers(1, 64), m=st.integers(1, 512))
def test_bubble_fraction_is_gpipes(p, m):
    # Huang et al. 2019: idle time (p - 1) / (m + p - 1) of the schedule
    assert parallel.bubble_fraction(p, m) == pytest.approx((p - 1) / (m + p - 1))


def test_bubble_fraction_known_answers():
    assert parallel.bubble_fraction(4, 4) == pytest.approx(3 / 7)
    assert parallel.bubble_fraction(8, 1) == pytest.approx(7 / 8)
    with pytest.raises(ValueError, match="micro_batches=0"):
        parallel.bubble_fraction(4, 0)


@given(n=st.integers(1, 200), p=st.integers(1, 200))
def test_stage_layers_cover_the_model_evenly(n, p):
    if p > n:
        with pytest.raises(ValueError, match="must be <= n_layers"):
            parallel.stage_layers(n, p)
        return
    layers = parallel.stage_layers(n, p)
    assert sum(layers) == n and len(layers) == p and max(layers) - min(layers) <= 1


def test_point_to_point_and_all_to_all_by_hand():
    c = comm.point_to_point(1e6, 1e11, 1e-6)
    assert c.time_s == pytest.approx(1e-6 + 1e-5) and c.messages == 1
    assert comm.point_to_point(0, 1e11, 1e-6).time_s == 0
    a = comm.all_to_all(8e6, 4, 1e11, 1e-6)
    assert a.bytes_sent == pytest.approx(6e6) and a.messages == 3
    assert a.time_s == pytest.approx(3e-6 + 6e6 / 1e11)
    with pytest.raises(ValueError, match="no device-to-device link for m2-ultra"):
        comm.link_of("m2-ultra")


# --- tensor parallelism ---------------------------------------------------------------------

def test_tensor_parallel_is_inference_forward_per_degree():
    s = parallel.tensor_parallel("llama-3-70b", "h100-sxm", 4, 1, 2048, tps=[2, 4, 8])
    for i, p in enumerate((2, 4, 8)):
        e = inference.decode("llama-3-70b", "h100-sxm", 4, 2048, tp=p)
        assert s.time_s[i] == pytest.approx(e.estimate_s)
        assert s.comm_s[i] == pytest.approx(e.comm_time_s)
        assert s.flops[i] == pytest.approx(e.flops)
    # 8 KV heads: one per device at tp 8, so the cache splits 8 ways; weights too
    assert s.kv_heads.tolist() == [4, 2, 1]
    assert s.bytes_weights[0] / s.bytes_weights[2] == pytest.approx(4, rel=0.01)


def test_kv_heads_fewer_than_devices_are_replicated():
    s = parallel.tensor_parallel("llama-3-8b", "h100-sxm", 1, 1, 4096, tps=[8, 16],
                                 timing="per-op")
    assert s.kv_heads.tolist() == [1, 1]
    # the cache per device stops shrinking past 8 devices
    assert s.bytes_kv[1] == pytest.approx(s.bytes_kv[0], rel=0.01)


def test_overlap_bounds_by_max_and_never_helps_past_it():
    kw = dict(tps=[1, 2, 4, 8], timing="per-op")
    plain = parallel.tensor_parallel("llama-3-70b", "l40s", 1, 1, 1024, **kw)
    hidden = parallel.tensor_parallel("llama-3-70b", "l40s", 1, 1, 1024, overlap=True, **kw)
    assert np.all(hidden.time_s <= plain.time_s)
    assert np.allclose(hidden.time_s, np.maximum(plain.compute_s, plain.comm_s))
    assert hidden.time_s[0] == plain.time_s[0]           # nothing to hide on one device


def test_pcie_stops_scaling_sooner_than_nvlink():
    kw = dict(tps=[1, 2, 4, 8], timing="per-op")
    nv = parallel.tensor_parallel("llama-3-8b", "h100-sxm", 1, 1, 1024, **kw)
    slow = parallel.tensor_parallel("llama-3-8b", "h100-sxm", 1, 1, 1024,
                                    link_bandwidth=32e9, link_latency=1e-6, **kw)
    assert np.all(slow.comm_s[1:] > nv.comm_s[1:])
    assert slow.speedup[-1] < nv.speedup[-1]


def test_floor_timing_never_exceeds_the_estimate():
    kw = dict(tps=[1, 2, 4, 8])
    f = parallel.tensor_parallel("llama-2-70b", "a100-sxm-80gb", [1, 64], 1, 512, timing="floor",
                                 **kw)
    e = parallel.tensor_parallel("llama-2-70b", "a100-sxm-80gb", [1, 64], 1, 512, **kw)
    assert np.all(f.time_s <= e.time_s)


# --- pipeline parallelism -------------------------------------------------------------------

@pytest.mark.parametrize("timing", ["estimate", "per-op"])
@pytest.mark.parametrize("pp", [1, 2, 3, 8])
def test_stages_add_up_to_the_whole_model(timing, pp):
    # every layer is priced once, the embedding once, the head once: the stages' compute
    # over one micro-batch is the whole forward's
    p = parallel.pipeline("llama-3-8b", "h100-sxm", 4, 1, 512, pp=pp, timing=timing)
    whole = inference.decode("llama-3-8b", "h100-sxm", 4, 512)
    want = whole.estimate_s if timing == "estimate" else whole.compute_time_s
    assert sum(s.compute_s for s in p.stages) == pytest.approx(want, rel=1e-9)
    assert sum(s.flops for s in p.stages) == pytest.approx(whole.flops, rel=1e-12)
    m = models.get("llama-3-8b")
    assert sum(s.weight_bytes for s in p.stages) == pytest.approx(m.weight_bytes("bf16"))
    assert "embedding" in p.stages[0].ops and "LM head" in p.stages[-1].ops
    if pp > 1:
        assert "LM head" not in p.stages[0].ops and "embedding" not in p.stages[-1].ops


def test_tied_embeddings_are_stored_on_the_first_and_the_last_stage():
    p = parallel.pipeline("gpt2", "h100-sxm", 1, 1, 10, pp=2)
    m = models.get("gpt2")
    extra = m.vocab_size * m.d_model * 2
    assert sum(s.weight_bytes for s in p.stages) == pytest.approx(m.weight_bytes("bf16") + extra)


def test_equal_stages_and_free_links_give_gpipes_bubble():
    # a model whose embedding and head are negligible: the stages are equal
    tiny = dataclasses.replace(models.get("llama-2-7b"), vocab_size=2, name="no-vocab")
    for pp, mb in ((2, 1), (4, 4), (4, 16), (8, 8)):
        p = parallel.pipeline(tiny, "h100-sxm", 16, 128, 0, pp=pp, micro_batches=mb,
                              timing="per-op", link_bandwidth=1e30, link_latency=0.0)
        assert p.bubble_fraction == pytest.approx((pp - 1) / (mb + pp - 1), rel=0.01)


def test_pipeline_latency_is_never_below_one_device():
    one = inference.decode("llama-3-8b", "h100-sxm", 1, 1024).estimate_s
    for pp in (2, 4, 8):
        p = parallel.pipeline("llama-3-8b", "h100-sxm", 1, 1, 1024, pp=pp)
        assert p.latency_s >= one * (1 - 1e-9)


def test_transfer_is_micro_batch_tokens_times_width():
    p = parallel.pipeline("llama-3-70b", "h100-sxm", 8, 512, 0, pp=2, micro_batches=4)
    assert p.transfer_bytes == 2 * 512 * 8192 * 2          # B/m x tokens x d x 2 bytes
    assert p.transfer_s == pytest.approx(0.6e-6 + p.transfer_bytes / 450e9)


def test_pipeline_memory_and_errors():
    p = parallel.pipeline("llama-3-70b", "h100-sxm", 1, 1, 1024, pp=2)
    assert p.fits and not parallel.pipeline("llama-3-70b", "h100-sxm", 1, 1, 1024).fits
    with pytest.raises(ValueError, match="pp=81 must be <= n_layers=80"):
        parallel.pipeline("llama-3-70b", "h100-sxm", 1, 1, 0, pp=81)
    with pytest.raises(ValueError, match="tp=3 must divide n_heads=64"):
        parallel.pipeline("llama-3-70b", "h100-sxm", 1, 1, 0, tp=3, pp=2)
    with pytest.raises(ValueError, match="timing='floor'"):
        parallel.pipeline("llama-3-70b", "h100-sxm", 1, 1, 0, pp=2, timing="floor")
    d = p.to_dict()
    json.dumps(d)
    assert d["devices"] == 2 and len(d["stages"]) == 2


# --- expert and sequence parallelism --------------------------------------------------------

def test_expert_parallel_volume_by_hand():
    # Mixtral: d 4096, top-2, 32 layers; 4096 tokens over 8 devices, bf16
    e = parallel.expert_parallel("mixtral-8x7b", "h100-sxm", 4096, 8)
    held = 4096 / 8 * 2 * 4096 * 2
    assert e.dispatch_bytes == pytest.approx(held * 7 / 8)
    assert e.bytes_s == pytest.approx(32 * 2 * held * 7 / 8)
    assert e.time_per_layer_s == pytest.approx(2 * (7 * 0.6e-6 + held * 7 / 8 / 450e9))
    one = parallel.expert_parallel("mixtral-8x7b", "h100-sxm", 4096, 1)
    assert one.time_s == 0 and one.bytes_s == 0
    with pytest.raises(ValueError, match="dense"):
        parallel.expert_parallel("llama-3-8b", "h100-sxm", 16, 2)


def test_ring_attention_by_hand():
    # Llama-3-8B: 8 KV heads x 128 x 2 (K, V) x 2 bytes = 4 KiB per token per layer
    r = parallel.ring_attention("llama-3-8b", "h100-sxm", 131072, 8)
    assert r.block_bytes == 16384 * 8 * 128 * 2 * 2
    assert r.block_flops == pytest.approx(4 * 16384 * 16384 * 32 * 128)
    assert r.transfer_s == pytest.approx(0.6e-6 + r.block_bytes / 450e9)
    assert r.steps == 7 and r.exposed_s == 0
    short = parallel.ring_attention("llama-3-8b", "l40s", 4096, 8)
    assert not short.hidden and short.exposed_s > 0


# --- the sharding table ---------------------------------------------------------------------

def test_sharding_options_cover_valid_splits_only():
    rows = parallel.sharding_options("llama-3-70b", "h100-sxm", 8, batch=16)
    splits = {(r.tp, r.pp) for r in rows}
    assert splits == {(1, 1), (2, 1), (1, 2), (4, 1), (2, 2), (1, 4), (8, 1), (4, 2), (2, 4),
                      (1, 8)}
    by = {(r.tp, r.pp): r for r in rows}
    assert not by[1, 1].fits and by[2, 1].fits        # 141 GB of weights
    # more pipeline stages never cut one prompt's TTFT; more tensor parallelism does
    assert by[1, 8].ttft_s >= by[1, 1].ttft_s * 0.999 > by[8, 1].ttft_s
    for r in rows:
        assert r.meets == (r.fits and r.ttft_s <= 1.0 and r.tpot_s <= 0.03)
    assert "*" in str(parallel.sharding_table("llama-3-70b", "h100-sxm", 8, batch=16))


# --- published measurements -----------------------------------------------------------------

def test_scaling_data_has_sources_and_the_required_rows():
    runs = parallel.measurements()
    for r in runs:
        assert r.source["quote"] and r.source["url"].startswith("https://")
        assert r.source["bibkey"] and r.conditions
    decode = {(r.model, r.devices) for r in runs if r.metric == "tokens_per_s_per_seq"}
    assert {("llama-3-8b", p) for p in (1, 2, 4, 8)} <= decode
    assert {("llama-3-70b", p) for p in (2, 4, 8)} <= decode
    assert any(r.metric == "ttft_s" and r.devices == 4 and "70b" in r.model for r in runs)
    rows = json.loads(parallel.DATA.read_text())["runs"]
    keys = {row["also_in_runs_json"] for row in rows if row.get("sweep", "tensor") == "tensor"}
    assert len(keys) == sum(r.sweep == "tensor" for r in runs)
    from lib import runs as published
    assert keys <= set(published.keys())
    for r in runs:                      # the existing rows keep their split: all tensor-parallel
        assert r.tp * r.pp == r.devices
        if r.sweep == "tensor":
            assert (r.tp, r.pp, r.ubatch) == (r.devices, 1, 0)


def test_the_floor_never_exceeds_a_measurement():
    checks = parallel.compare()
    assert checks and all(c.floor_s <= c.measured_s for c in checks)


def test_report_the_calibrated_estimates_error(capsys):
    # not a tolerance the model was tuned to: a record of how far it is
    errors = [c.error for c in parallel.compare()]
    with capsys.disabled():
        print(f"\nscaling runs: median |error| {np.median(np.abs(errors)):.1%}, "
              f"worst {max(errors, key=abs):+.1%}")
    assert np.median(np.abs(errors)) < 0.5


def test_steady_decode_has_no_bubble_once_the_micro_batches_cover_the_stages():
    tiny = dataclasses.replace(models.get("llama-2-7b"), vocab_size=2, name="no-vocab")
    kw = dict(timing="per-op", link_bandwidth=1e30, link_latency=0.0, schedule="steady")
    full = parallel.pipeline(tiny, "h100-sxm", 8, 1, 512, pp=4, micro_batches=4, **kw)
    assert full.bubble_fraction == pytest.approx(0, abs=0.01)
    assert full.time_s >= full.latency_s * (1 - 1e-12)
    half = parallel.pipeline(tiny, "h100-sxm", 8, 1, 512, pp=4, micro_batches=2, **kw)
    assert half.time_s == pytest.approx(half.latency_s)      # waits for its own token
    gpipe = parallel.pipeline(tiny, "h100-sxm", 8, 1, 512, pp=4, micro_batches=4,
                              **{**kw, "schedule": "gpipe"})
    assert gpipe.time_s > full.time_s
    with pytest.raises(ValueError, match="schedule='1f1b'"):
        parallel.pipeline(tiny, "h100-sxm", 8, 1, 512, pp=4, schedule="1f1b")


# --- the pipeline-parallel measurements and the pipeline's floor -----------------------------

# llama.cpp pull request #6017, ggerganov's comment of 2024-03-12: CodeLlama-7B F16 prompt
# processing (llama-bench 'pp N', t/s) on one and on eight A100 80GB PCIe, read by hand.
LLAMACPP_PP = {(1, 512): 8668.24, (1, 1024): 8251.25, (1, 2048): 7592.36,
               (8, 512): 8381.22, (8, 1024): 13312.63, (8, 2048): 14723.17}


def test_llamacpp_pipeline_rows_read_as_published():
    by = {r.key: r for r in parallel.measurements()}
    for (gpus, n), value in LLAMACPP_PP.items():
        r = by[f"scaling-llamacpp-cl7b-f16-pp{gpus}-p{n}"]
        assert r.value == value and r.metric == "prompt_tokens_per_s"
        assert f"{value:.2f} ±" in r.source["quote"] and f"pp {n} " in r.source["quote"]
        assert r.source["url"] == "https://github.com/ggml-org/llama.cpp/pull/6017"
        assert r.source["bibkey"] == "llamacpp_pr6017"
        assert (r.model, r.device, r.devices, r.tp, r.pp) == ("llama-2-7b", "a100-sxm-80gb",
                                                              gpus, 1, gpus)
        assert (r.batch, r.prompt_tokens, r.ubatch, r.weight_dtype) == (1, n, 512, "fp16")
        assert r.sweep == "pipeline" and not r.fused_attention
        for said in ("A100 80GB PCIe", "n_ubatch", "CodeLlama-7B", "1,935 GB/s", "-b 8192"):
            assert said in r.conditions
        assert r.measured_s == pytest.approx(n / value)          # seconds for the prompt
    # the speed-ups the chapter quotes, by hand from the table
    assert LLAMACPP_PP[8, 2048] / LLAMACPP_PP[1, 2048] == pytest.approx(1.939, abs=1e-3)
    assert LLAMACPP_PP[8, 512] / LLAMACPP_PP[1, 512] == pytest.approx(0.9669, abs=1e-4)


def test_a_split_that_does_not_multiply_to_the_devices_is_refused():
    r = parallel.measurements()[-1]
    with pytest.raises(ValueError, match="tp=2 x pp=8 must equal devices=8"):
        dataclasses.replace(r, tp=2)
    with pytest.raises(ValueError, match="metric='tokens_per_s'"):
        dataclasses.replace(r, metric="tokens_per_s")


@given(p=st.integers(1, 6), m=st.integers(1, 12), beat=st.floats(1e-3, 1.0),
       xfer=st.floats(0.0, 1.0))
def test_the_schedule_of_equal_stages_is_gpipes(p, m, beat, xfer):
    # Equal micro-batches: latency + (m - 1) x max(beat, transfer), as pipeline() prices it
    done = parallel._finish_times(np.full((p, m), beat), np.full(m, xfer if p > 1 else 0.0))
    latency = p * beat + (p - 1) * (xfer if p > 1 else 0.0)
    want = latency + (m - 1) * max(beat, xfer if p > 1 else 0.0)
    assert done[-1, -1] == pytest.approx(want)


def test_the_schedule_waits_for_the_slowest_stage_and_the_earlier_chunk():
    times = np.array([[1.0, 1.0, 1.0], [3.0, 1.0, 1.0]])       # stage 1 is slow on chunk 0
    done = parallel._finish_times(times, np.zeros(3))
    assert done.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def _work(model, new, cached):
    """Per resource: tensor, vector and exp seconds and compulsory bytes of forwards (summed)."""
    from lib import transformer
    p = transformer.forward_pass(model, 1, new, cached)
    ops = transformer.ops(p)
    busy = inference.busy_times(ops, "a100-sxm-80gb", "bf16", p.act_dtype)
    out = {k: float(np.sum(v)) for k, v in busy.items()}
    out["bytes"] = float(np.sum(transformer.compulsory_bytes(p, ops)))
    return out


@pytest.mark.parametrize("model", ["llama-2-7b", "llama-3-8b", "mistral-7b"])
@pytest.mark.parametrize("n,c", [(2048, 512), (1000, 256), (4096, 1024)])
def test_chunks_do_at_least_the_work_of_the_whole_prompt(model, n, c):
    # the premise of the work bound: sum_j R_r(chunk j) >= R_r(prefill) on every resource
    k = -(-n // c)
    new = np.array([c] * (k - 1) + [n - c * (k - 1)])
    whole, chunks = _work(model, n, 0), _work(model, new, c * np.arange(k))
    for r in whole:
        assert chunks[r] >= whole[r] * (1 - 1e-12), r


def test_the_pipeline_floor_by_hand():
    kw = dict(weight_dtype="fp16", kv_dtype="fp16")
    whole = float(inference.prefill("llama-2-7b", "a100-sxm-80gb", 1, 8192, **kw).floor_s)
    last = float(inference.forward("llama-2-7b", "a100-sxm-80gb", 1, 512, 7680, **kw).floor_s)
    c = parallel.chunked_prefill("llama-2-7b", "a100-sxm-80gb", 8192, 512, pp=8, **kw)
    assert (c.floor_work_s, c.floor_path_s) == (pytest.approx(whole / 8), pytest.approx(last))
    assert c.floor_s == max(c.floor_work_s, c.floor_path_s)
    one = parallel.chunked_prefill("llama-2-7b", "a100-sxm-80gb", 8192, 512, pp=1, **kw)
    assert one.floor_s == pytest.approx(whole)                  # one device: the prefill's floor
    # one chunk over eight stages: no overlap, so the bound is the whole prefill's floor
    single = parallel.chunked_prefill("llama-2-7b", "a100-sxm-80gb", 512, 512, pp=8, **kw)
    assert single.floor_s == pytest.approx(float(inference.prefill(
        "llama-2-7b", "a100-sxm-80gb", 1, 512, **kw).floor_s))
    # the floor leaves the engine's attention out: unfused is the same bound
    unfused = parallel.chunked_prefill("llama-2-7b", "a100-sxm-80gb", 8192, 512, pp=8,
                                       fused_attention=False, **kw)
    assert unfused.floor_s == c.floor_s and unfused.time_s > c.time_s


@given(n=st.integers(1, 4096), c=st.sampled_from([64, 256, 512, 1024]),
       pp=st.sampled_from([1, 2, 4, 8, 32]), tp=st.sampled_from([1, 2]))
def test_no_schedule_of_the_chunks_beats_the_floor(n, c, pp, tp):
    # the per-op schedule is one implementation: never faster than the floor
    per_op = parallel.chunked_prefill("llama-3-8b", "h100-sxm", n, c, tp=tp, pp=pp,
                                      timing="per-op", link_bandwidth=1e30, link_latency=0.0)
    assert per_op.floor_s <= per_op.time_s * (1 + 1e-9)
    assert per_op.chunks == -(-n // c) and per_op.stage_times_s.shape == (per_op.pp, per_op.chunks)
    assert per_op.bubble_s >= -1e-12 and per_op.latency_s <= per_op.time_s * (1 + 1e-12)


def test_pipelining_a_prompt_raises_throughput_not_one_chunks_latency():
    kw = dict(weight_dtype="fp16", kv_dtype="fp16")
    one = parallel.chunked_prefill("llama-2-7b", "a100-sxm-80gb", 2048, 512, **kw)
    eight = parallel.chunked_prefill("llama-2-7b", "a100-sxm-80gb", 2048, 512, pp=8, **kw)
    assert eight.tokens_per_s > one.tokens_per_s
    # GPipe's bound: at most p m / (m + p - 1) = 8 x 4 / 11 faster with equal, free stages
    assert one.time_s / eight.time_s < 8 * 4 / 11
    lone = parallel.chunked_prefill("llama-2-7b", "a100-sxm-80gb", 512, 512, pp=8, **kw)
    alone = parallel.chunked_prefill("llama-2-7b", "a100-sxm-80gb", 512, 512, **kw)
    assert lone.time_s >= alone.time_s                     # one chunk: stages take turns
    with pytest.raises(ValueError, match="chunk=0"):
        parallel.chunked_prefill("llama-2-7b", "a100-sxm-80gb", 512, 0)


def test_every_pipeline_row_is_priced_and_bounded():
    checks = [c for c in parallel.compare() if c.run.sweep == "pipeline"]
    assert len(checks) == len(LLAMACPP_PP)
    assert all(c.floor_s <= c.measured_s for c in checks)
    assert all(c.floor_s <= c.estimate_s for c in checks)
