"""The serving simulator (lib.serving): conservation, determinism, the cost model at low load,
queueing near capacity, the schedulers against each other, the KV cache's limits, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib import capacity, comm, inference, paging, serving

MODEL, DEVICE = "llama-3-8b", "h100-sxm"


def _lone(prompt: int, output: int, field: str = "estimate_s", **kw) -> tuple[float, float]:
    """TTFT and end-to-end time of one request alone, from lib.inference (no simulator)."""
    first = float(getattr(inference.prefill(MODEL, DEVICE, 1, prompt, **kw), field))
    steps = getattr(inference.decode(MODEL, DEVICE, 1, prompt + np.arange(output - 1), **kw),
                    field)
    return first, first + float(np.sum(steps))


# --- workloads ---------------------------------------------------------------------------

def test_workload_is_seeded_and_poisson():
    a = serving.workload(5000, rate=4.0, prompt_len=300, output_len=100,
                         length_dist="exponential", seed=3)
    b = serving.workload(5000, rate=4.0, prompt_len=300, output_len=100,
                         length_dist="exponential", seed=3)
    c = serving.workload(5000, rate=4.0, prompt_len=300, output_len=100,
                         length_dist="exponential", seed=4)
    assert np.array_equal(a.arrival_s, b.arrival_s) and np.array_equal(a.output_len, b.output_len)
    assert not np.array_equal(a.arrival_s, c.arrival_s)
    gaps = np.diff(a.arrival_s)
    assert a.arrival_s[0] == 0.0 and np.all(gaps >= 0)
    assert abs(gaps.mean() - 0.25) < 0.02                  # mean gap 1 / rate
    assert abs(gaps.std() / gaps.mean() - 1.0) < 0.05      # exponential gaps: cv 1
    assert abs(a.prompt_len.mean() / 300 - 1) < 0.05


def test_workload_burst_given_times_and_arrays():
    w = serving.workload(3, burst=True, prompt_len=[10, 20, 30], output_len=5)
    assert w.arrival_s.tolist() == [0, 0, 0] and w.prompt_len.tolist() == [10, 20, 30]
    w = serving.workload(0, arrivals=[2.0, 0.5, 1.0], prompt_len=10, output_len=5)
    assert w.arrival_s.tolist() == [0.5, 1.0, 2.0] and w.n == 3


def test_workload_lengths_cut_to_max_len():
    w = serving.workload(2, burst=True, prompt_len=[100, 9000], output_len=[50, 500],
                         max_len=8192)
    assert (w.prompt_len + w.output_len).max() <= 8192


@pytest.mark.parametrize("kw, match", [
    (dict(rate=1.0, burst=True), "exactly one"),
    (dict(), "exactly one"),
    (dict(rate=-1.0), "rate=-1"),
    (dict(rate=1.0, length_dist="normal"), "length_dist='normal' is not known"),
    (dict(arrivals=[0.0, 1.0], prompt_len=[1, 2, 3]), "per request"),
    (dict(rate=1.0, prompt_len=float("nan")), "prompt_len=nan"),
])
def test_workload_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        serving.workload(3, **kw)


# --- conservation and determinism --------------------------------------------------------

@pytest.mark.parametrize("scheduler", serving.SCHEDULERS)
def test_every_request_finishes_once_with_all_its_tokens(scheduler):
    w = serving.workload(300, rate=30.0, prompt_len=400, output_len=150,
                         length_dist="lognormal", cv=1.5, seed=1)
    r = serving.simulate(w, MODEL, DEVICE, scheduler=scheduler)
    assert r.requests_completed == w.n
    assert r.tokens_generated == int(w.output_len.sum())
    assert np.all(np.isfinite(r.finish_s)) and np.all(np.isfinite(r.first_token_s))
    assert np.all(r.arrival_s <= r.admitted_s + 1e-12)
    assert np.all(r.admitted_s <= r.first_token_s) and np.all(r.first_token_s <= r.finish_s)
    # every step starts after the one before it ends, per instance
    for j in np.unique(r.step_instance):
        s = r.step_instance == j
        assert np.all(r.step_start_s[s][1:] >= (r.step_start_s + r.step_s)[s][:-1] - 1e-9)
    assert np.all(r.step_batch <= serving.DEFAULT_MAX_BATCH)
    assert np.all(r.step_kv_tokens <= r.kv_budget_tokens + 1e-9)


@pytest.mark.parametrize("scheduler", serving.SCHEDULERS)
def test_same_seed_same_result(scheduler):
    kw = dict(rate=20.0, prompt_len=300, output_len=100, length_dist="exponential")
    a = serving.simulate(serving.workload(200, seed=7, **kw), MODEL, DEVICE, scheduler=scheduler)
    b = serving.simulate(serving.workload(200, seed=7, **kw), MODEL, DEVICE, scheduler=scheduler)
    assert a.summary() == b.summary() and np.array_equal(a.finish_s, b.finish_s)


def test_output_tokens_are_decode_steps_and_prefills():
    """Decode tokens in the log + one token per finished prefill = tokens generated."""
    w = serving.workload(200, rate=25.0, prompt_len=300, output_len=80,
                         length_dist="exponential", seed=2)
    r = serving.simulate(w, MODEL, DEVICE, scheduler="continuous")
    decode_tokens = int(np.sum(r.step_tokens - r.step_prefill_tokens))
    assert decode_tokens + w.n == r.tokens_generated


# --- a lone request is the cost model -----------------------------------------------------

@pytest.mark.parametrize("scheduler", ["static", "continuous", "chunked"])
@pytest.mark.parametrize("cost, field", [("estimate", "estimate_s"), ("floor", "floor_s")])
def test_lone_request_equals_the_cost_model(scheduler, cost, field):
    w = serving.workload(1, burst=True, prompt_len=1000, output_len=64)
    r = serving.simulate(w, MODEL, DEVICE, scheduler=scheduler, cost=cost)
    ttft, total = _lone(1000, 64, field)
    assert r.ttft_s[0] == pytest.approx(ttft, rel=1e-12)
    assert r.e2e_s[0] == pytest.approx(total, rel=1e-12)


def test_lone_request_chunked_in_pieces_pays_the_cache_rereads():
    """A 3,000-token prompt in 1,024-token chunks: each chunk is a forward after the ones
    before it, exactly as lib.inference.forward prices it."""
    w = serving.workload(1, burst=True, prompt_len=3000, output_len=2)
    r = serving.simulate(w, MODEL, DEVICE, scheduler="chunked", chunk_tokens=1024)
    parts = [inference.forward(MODEL, DEVICE, 1, n, c).estimate_s
             for n, c in ((1024, 0), (1024, 1024), (952, 2048))]
    # the two first chunks sample no token, so they skip the LM head
    head = inference.forward(MODEL, DEVICE, 1, 1024, 0).op("LM head")
    no_head = inference.calibrated_parts([((head,), 1)], DEVICE, "bf16", "bf16")
    head_s = sum(float(v) for v in no_head.values())
    expected = sum(parts) - 2 * head_s
    assert r.ttft_s[0] == pytest.approx(expected, rel=1e-9)
    assert r.ttft_s[0] > _lone(3000, 2)[0]


def test_lone_request_disaggregated_adds_the_cache_transfer():
    w = serving.workload(1, burst=True, prompt_len=1000, output_len=64)
    r = serving.simulate(w, MODEL, DEVICE, scheduler="disaggregated")
    ttft, total = _lone(1000, 64)
    kv = capacity.kv_cache_bytes(MODEL, 1, 1000)
    bw, lat = comm.link_of(DEVICE)
    transfer = lat + kv / bw
    assert r.ttft_s[0] == pytest.approx(ttft, rel=1e-12)
    assert r.e2e_s[0] == pytest.approx(total + transfer, rel=1e-12)
    assert r.devices == 2


def test_a_step_of_mixed_sequences_is_one_forward_when_they_are_alike():
    """Eight identical prompts admitted together: their prefill step is prefill(batch=8)."""
    w = serving.workload(8, burst=True, prompt_len=500, output_len=3)
    r = serving.simulate(w, MODEL, DEVICE, scheduler="continuous")
    assert r.step_s[0] == pytest.approx(inference.prefill(MODEL, DEVICE, 8, 500).estimate_s,
                                        rel=1e-12)
    assert r.step_s[1] == pytest.approx(inference.decode(MODEL, DEVICE, 8, 500).estimate_s,
                                        rel=1e-12)


# --- load ---------------------------------------------------------------------------------

def test_at_low_load_latency_is_the_unloaded_value():
    w = serving.workload(50, rate=0.05, prompt_len=500, output_len=100, seed=0)
    r = serving.simulate(w, MODEL, DEVICE, scheduler="continuous")
    ttft, total = _lone(500, 100)
    assert np.median(r.ttft_s) == pytest.approx(ttft, rel=1e-12)
    assert np.median(r.e2e_s) == pytest.approx(total, rel=1e-12)
    # a request arriving while another decodes waits at most for that step to end
    step = float(inference.decode(MODEL, DEVICE, 1, 600).estimate_s)
    assert np.all(r.queue_s <= step) and np.all(r.ttft_s <= ttft + step)
    assert np.mean(r.queue_s == 0) > 0.9


def test_near_capacity_queueing_grows_without_bound():
    """Above the service rate the queue of the last requests grows with their number."""
    kw = dict(rate=60.0, prompt_len=500, output_len=200, seed=0)
    waits = []
    for n in (500, 1000, 2000):
        r = serving.simulate(serving.workload(n, **kw), MODEL, DEVICE, max_batch=32)
        waits.append(float(np.median(r.queue_s[-n // 10:])))
    assert waits[0] < waits[1] < waits[2]
    assert waits[2] > 1.8 * waits[1]
    # below it, the queue stays short however many requests come
    low = [serving.simulate(serving.workload(n, rate=2.0, prompt_len=500, output_len=200,
                                             seed=0), MODEL, DEVICE, max_batch=32)
           for n in (200, 400)]
    assert all(float(np.percentile(x.queue_s, 99)) < 0.05 for x in low)


def test_throughput_saturates_and_latency_rises_with_rate():
    rs = serving.sweep_rates([2.0, 10.0, 80.0], 400, MODEL, DEVICE,
                             workload_kw=dict(prompt_len=500, output_len=200), max_batch=64)
    thr = [r.throughput_requests_per_s for r in rs]
    e2e = [float(np.median(r.e2e_s)) for r in rs]
    assert thr[0] < thr[1] < thr[2] and e2e[0] < e2e[1] < e2e[2]
    assert thr[2] < 80.0                                     # cannot keep up
    assert rs[0].mean_batch < rs[1].mean_batch <= 64


# --- schedulers against each other ---------------------------------------------------------

@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), rate=st.sampled_from([2.0, 10.0, 40.0]),
       prompt=st.sampled_from([50, 400, 1500]), output=st.sampled_from([20, 150, 400]),
       dist=st.sampled_from(["exponential", "lognormal"]))
def test_continuous_never_loses_to_static_when_outputs_differ(seed, rate, prompt, output, dist):
    w = serving.workload(120, rate=rate, prompt_len=prompt, output_len=output,
                         length_dist=dist, seed=seed)
    static = serving.simulate(w, MODEL, DEVICE, scheduler="static")
    cont = serving.simulate(w, MODEL, DEVICE, scheduler="continuous")
    assert cont.throughput_tokens_per_s >= static.throughput_tokens_per_s
    assert np.median(cont.e2e_s) <= np.median(static.e2e_s)


def test_identical_burst_is_static_batchings_best_case():
    """All alike, all at once: one prefill step for every prompt makes the two schedulers
    the same forward passes; a smaller step budget costs continuous batching extra weight
    reads (several prefill steps), which is all static batching can win."""
    w = serving.workload(64, burst=True, prompt_len=500, output_len=50)
    static = serving.simulate(w, MODEL, DEVICE, scheduler="static")
    same = serving.simulate(w, MODEL, DEVICE, max_step_tokens=64 * 500)
    split = serving.simulate(w, MODEL, DEVICE, max_step_tokens=8192)
    assert same.duration_s == pytest.approx(static.duration_s, rel=1e-9)
    assert static.duration_s < split.duration_s < 1.01 * static.duration_s


def test_chunked_prefill_keeps_decode_steps_short():
    """Long prompts arriving into a busy batch: without chunks a prefill step stalls every
    decoding request (a long worst TPOT); with chunks no step exceeds the budget's time."""
    w = serving.workload(150, rate=6.0, prompt_len=4000, output_len=200, seed=1)
    cont = serving.simulate(w, MODEL, DEVICE, scheduler="continuous")
    chunk = serving.simulate(w, MODEL, DEVICE, scheduler="chunked", chunk_tokens=512)
    assert chunk.step_s.max() < cont.step_s.max() / 3
    assert chunk.percentiles(chunk.tpot_s)["p99"] < cont.percentiles(cont.tpot_s)["p99"]
    assert np.all(chunk.step_tokens <= 512)


def test_disaggregation_removes_prefill_interference_from_tpot():
    w = serving.workload(200, rate=8.0, prompt_len=3000, output_len=150, seed=0)
    cont = serving.simulate(w, MODEL, DEVICE, scheduler="continuous")
    dis = serving.simulate(w, MODEL, DEVICE, scheduler="disaggregated")
    assert dis.devices == 2 * cont.devices
    assert dis.percentiles(dis.tpot_s)["p90"] < cont.percentiles(cont.tpot_s)["p90"]
    # decode instances never run a prompt (no preemption here)
    decode_steps = dis.step_instance == 1
    assert dis.preemptions == 0 and np.all(dis.step_prefill_tokens[decode_steps] == 0)


# --- the KV cache ---------------------------------------------------------------------------

def test_paging_holds_more_requests_than_reserving_max_length():
    w = serving.workload(400, rate=40.0, prompt_len=200, output_len=300,
                         length_dist="exponential", seed=0)
    kw = dict(kv_memory=4e9)
    paged = serving.simulate(w, MODEL, DEVICE, allocator="paged", **kw)
    exact = serving.simulate(w, MODEL, DEVICE, allocator="exact", **kw)
    worst = serving.simulate(w, MODEL, DEVICE, allocator="max", **kw)
    assert worst.mean_batch < exact.mean_batch < paged.mean_batch
    assert worst.throughput_tokens_per_s < paged.throughput_tokens_per_s
    budget = worst.kv_budget_tokens
    assert budget == np.floor(4e9 / capacity.kv_cache_bytes(MODEL, 1, 1))
    assert worst.step_batch.max() <= budget // w.max_len


def test_default_budget_is_paging_kv_budget():
    w = serving.workload(2, burst=True, prompt_len=10, output_len=2)
    r = serving.simulate(w, MODEL, DEVICE)
    assert r.kv_budget_tokens == paging.kv_budget_tokens(MODEL, DEVICE)


@pytest.mark.parametrize("preemption", serving.PREEMPTIONS)
def test_a_full_paged_cache_preempts_and_everyone_still_finishes(preemption):
    w = serving.workload(60, burst=True, prompt_len=200, output_len=600, seed=0)
    r = serving.simulate(w, MODEL, DEVICE, kv_memory=1.2e9, preemption=preemption)
    assert r.preemptions > 0 and r.requests_completed == 60
    assert r.tokens_generated == 60 * 600
    assert np.all(r.step_kv_tokens <= r.kv_budget_tokens)
    calm = serving.simulate(w, MODEL, DEVICE, kv_memory=1.2e9, allocator="exact")
    assert calm.preemptions == 0


def test_recompute_costs_prefill_work_and_swap_costs_link_time():
    w = serving.workload(60, burst=True, prompt_len=200, output_len=600, seed=0)
    rec = serving.simulate(w, MODEL, DEVICE, kv_memory=1.2e9, preemption="recompute")
    swap = serving.simulate(w, MODEL, DEVICE, kv_memory=1.2e9, preemption="swap")
    # recomputation prefills more tokens than the prompts; swapping never does
    assert rec.step_prefill_tokens.sum() > w.prompt_len.sum()
    assert swap.step_prefill_tokens.sum() == w.prompt_len.sum()
    swap_steps = swap.step_tokens == 0                       # the copies to and from the host
    assert swap_steps.any() and np.all(swap.step_s[swap_steps] > 0)


# --- results -------------------------------------------------------------------------------

def test_summary_has_the_calculator_keys():
    w = serving.workload(50, rate=5.0, prompt_len=200, output_len=50, seed=0)
    s = serving.simulate(w, MODEL, DEVICE).summary()
    for key in ("requests_completed", "tokens_generated", "duration_s",
                "throughput_tokens_per_s", "ttft_s", "tpot_s", "mean_batch",
                "kv_utilisation_mean", "preemptions"):
        assert key in s
    assert set(s["ttft_s"]) == {"p50", "p90", "p99"}
    assert s["ttft_s"]["p50"] <= s["ttft_s"]["p90"] <= s["ttft_s"]["p99"]
    assert 0 < s["kv_utilisation_mean"] < 1


def test_goodput_counts_requests_within_both_objectives():
    w = serving.workload(300, rate=30.0, prompt_len=1000, output_len=100, seed=0)
    r = serving.simulate(w, MODEL, DEVICE)
    loose, tight = r.goodput(10.0, 1.0), r.goodput(0.02, 0.009)
    assert loose == pytest.approx(r.throughput_requests_per_s)
    assert 0 <= tight < loose
    met = r.slo_met(0.02, 0.009)
    assert tight == pytest.approx(met.sum() / r.duration_s)


def test_single_token_outputs_have_no_tpot():
    w = serving.workload(5, burst=True, prompt_len=100, output_len=1)
    r = serving.simulate(w, MODEL, DEVICE)
    assert r.tpot_s.size == 0 and r.summary()["tpot_s"] is None
    assert np.array_equal(r.finish_s, r.first_token_s)


def test_tensor_parallel_instance_uses_its_devices():
    w = serving.workload(1, burst=True, prompt_len=500, output_len=10)
    r = serving.simulate(w, "llama-3-70b", DEVICE, tp=4)
    ttft = inference.prefill("llama-3-70b", DEVICE, 1, 500, tp=4).estimate_s
    assert r.devices == 4 and r.ttft_s[0] == pytest.approx(ttft, rel=1e-12)


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, match", [
    (dict(scheduler="orca"), "scheduler='orca' is not known"),
    (dict(allocator="pow3"), "allocator='pow3' is not known"),
    (dict(kv_memory=1e6), "kv_memory holds"),
    (dict(max_batch=0), "max_batch=0"),
    (dict(max_step_tokens=100), "max_step_tokens=100"),
    (dict(scheduler="chunked", chunk_tokens=1), "chunk_tokens=1"),
    (dict(preemption="drop"), "preemption='drop' is not known"),
    (dict(cost="time"), "cost='time' is not known"),
])
def test_simulate_errors(kw, match):
    w = serving.workload(2, burst=True, prompt_len=100, output_len=10, model=MODEL)
    with pytest.raises(ValueError, match=match):
        serving.simulate(w, MODEL, DEVICE, **kw)


def test_a_workload_longer_than_the_model_is_refused():
    w = serving.workload(2, burst=True, prompt_len=100, output_len=10, max_len=8192)
    with pytest.raises(ValueError, match="exceeds gpt2's context of 1024"):
        serving.simulate(w, "gpt2", DEVICE)


# --- the chapter's measures (added with chapters/15_serving.ipynb) -------------------------

@pytest.mark.parametrize("scheduler", serving.SCHEDULERS)
def test_every_output_token_is_emitted_by_exactly_one_step(scheduler):
    """The step log's emitted tokens add up to the outputs, preemptions included, and
    tokens_by counts them: none before the first step ends, all after the last."""
    w = serving.workload(120, rate=40.0, prompt_len=300, output_len=300,
                         length_dist="lognormal", cv=1.5, seed=3)
    r = serving.simulate(w, MODEL, DEVICE, scheduler=scheduler, kv_memory=2e9)
    assert r.step_emitted.sum() == r.tokens_generated
    assert r.tokens_by(0.0) == 0 and r.tokens_by(1e9) == r.tokens_generated
    t = np.linspace(0, r.finish_s.max(), 50)
    assert np.all(np.diff(r.tokens_by(t)) >= 0)
    # by each request's first token, at least every request that started has one token
    started = np.sum(r.first_token_s[None, :] <= r.first_token_s[:, None], axis=1)
    assert np.all(r.tokens_by(r.first_token_s) >= started)


def test_static_steps_emit_only_for_unfinished_requests():
    w = serving.workload(4, burst=True, prompt_len=200, output_len=[100, 200, 300, 1000])
    r = serving.simulate(w, MODEL, DEVICE, scheduler="static")
    # one prefill row each, then 99 steps of 4, 100 of 3, 100 of 2 and 700 of 1
    assert r.step_emitted.tolist() == [4] + [4] * 99 + [3] * 100 + [2] * 100 + [1] * 700
    assert r.step_batch[1:].tolist() == [4] * 999                    # all slots computed


def test_sustained_throughput_is_the_arrival_rate_below_capacity():
    """Below capacity a server keeps up: tokens made while requests arrive ~ rate x output."""
    w = serving.workload(1000, rate=10.0, prompt_len=500, output_len=200, seed=0)
    r = serving.simulate(w, MODEL, DEVICE)
    assert r.sustained_tokens_per_s == pytest.approx(10.0 * 200, rel=0.03)
    # above it, the sustained rate is what the server manages, not what was asked
    hot = serving.simulate(serving.workload(600, rate=200.0, prompt_len=500, output_len=200,
                                            seed=0), MODEL, DEVICE, max_batch=16)
    assert hot.sustained_tokens_per_s < 0.25 * 200.0 * 200
    burst = serving.simulate(serving.workload(8, burst=True, prompt_len=100, output_len=20),
                             MODEL, DEVICE)
    assert burst.sustained_tokens_per_s == burst.throughput_tokens_per_s


@pytest.mark.parametrize("rate", [5.0, 20.0])
def test_littles_law_holds_for_the_decode_batch(rate):
    """L = lambda W (little1961proof): requests decoding = rate x time each spends decoding,
    within a few per cent: prefill steps (decoders wait, no decode step) and the finite run."""
    w = serving.workload(1500, rate=rate, prompt_len=512, output_len=256, seed=0)
    r = serving.simulate(w, MODEL, DEVICE)
    little = rate * float(np.mean(r.finish_s - r.first_token_s))
    assert r.mean_decode_batch == pytest.approx(little, rel=0.05)


def test_timeline_averages_the_step_log_over_time():
    w = serving.workload(200, rate=20.0, prompt_len=300, output_len=100, seed=0)
    r = serving.simulate(w, MODEL, DEVICE)
    tl = serving.timeline(r, bins=50)
    width = tl.t_s[1] - tl.t_s[0]
    # the integral of the batch over time is the step log's sum of batch x duration
    assert np.sum(tl.batch) * width == pytest.approx(np.sum(r.step_batch * r.step_s), rel=1e-9)
    assert np.sum(tl.running) * width == pytest.approx(np.sum(r.finish_s - r.admitted_s),
                                                       rel=1e-9)
    assert np.sum(tl.waiting) * width == pytest.approx(np.sum(r.queue_s), rel=1e-9, abs=1e-12)
    assert np.all(tl.kv_fraction <= 1.0) and np.all(tl.batch <= serving.DEFAULT_MAX_BATCH)


def test_disaggregated_timeline_sums_the_instances():
    w = serving.workload(50, rate=10.0, prompt_len=1000, output_len=50, seed=0)
    r = serving.simulate(w, MODEL, DEVICE, scheduler="disaggregated")
    tl = serving.timeline(r, bins=40)
    width = tl.t_s[1] - tl.t_s[0]
    assert np.sum(tl.batch) * width == pytest.approx(np.sum(r.step_batch * r.step_s), rel=1e-9)


def test_attainment_and_goodput_agree():
    w = serving.workload(300, rate=30.0, prompt_len=1000, output_len=100, seed=0)
    r = serving.simulate(w, MODEL, DEVICE)
    for a, b in ((10.0, 1.0), (0.05, 0.012), (0.02, 0.009)):
        assert r.goodput(a, b) == pytest.approx(r.attainment(a, b) * w.n / r.duration_s)


def test_max_rate_brackets_the_goal():
    kw = dict(ttft_s=1.0, tpot_s=0.015, n=300, workload_kw=dict(prompt_len=500, output_len=100))
    g = serving.max_rate(MODEL, DEVICE, **kw)
    assert g.result is not None and g.result.attainment(1.0, 0.015) >= 0.9
    above = g.rates[g.rates > g.rate]
    assert above.size and above.min() <= g.rate * 1.02 * 1.0001
    assert np.all(g.attainment[g.rates > g.rate] < 0.9)
    assert g.per_device == g.rate
    # a tighter objective cannot be met at a higher rate; twice the devices halve per-device
    tight = serving.max_rate(MODEL, DEVICE, **{**kw, "tpot_s": 0.010})
    assert tight.rate < g.rate
    dis = serving.max_rate(MODEL, DEVICE, scheduler="disaggregated", **kw)
    assert dis.devices == 2 and dis.per_device == pytest.approx(dis.rate / 2)


def test_max_rate_zero_when_nothing_meets_and_errors():
    g = serving.max_rate(MODEL, DEVICE, ttft_s=1e-4, tpot_s=1e-4, n=20,
                         workload_kw=dict(prompt_len=500, output_len=10))
    assert g.rate == 0.0 and g.result is None and g.per_device == 0.0
    with pytest.raises(ValueError, match="attainment=1.5"):
        serving.max_rate(MODEL, DEVICE, ttft_s=1.0, tpot_s=0.05, attainment=1.5)
    with pytest.raises(ValueError, match="arriving all at once still meet"):
        serving.max_rate(MODEL, DEVICE, ttft_s=100.0, tpot_s=1.0, n=5,
                         workload_kw=dict(prompt_len=100, output_len=10))


def test_sweep_batches_trades_tpot_for_queueing():
    w = serving.workload(400, rate=40.0, prompt_len=500, output_len=200, seed=0)
    small, large = serving.sweep_batches([8, 256], w, MODEL, DEVICE)
    assert small.step_batch.max() <= 8
    assert small.percentiles(small.tpot_s)["p50"] < large.percentiles(large.tpot_s)["p50"]
    assert small.percentiles(small.ttft_s)["p50"] > 10 * large.percentiles(large.ttft_s)["p50"]


# --- the PagedAttention paper's Figure 13a -----------------------------------------------------

def test_opt_13b_has_the_published_sizes():
    """facebook/opt-13b: 40 layers of width 5120, 40 heads, FFN 20480, vocabulary 50272:
    about 12.9 B parameters (zhang2022opt's Table 1 lists 13B), 2 x 40 x 5120 x 2 bytes of KV
    cache per token, and the PagedAttention paper's 15.7K slots in 12 GiB of KV memory."""
    m = serving.opt_13b()
    assert (m.n_layers, m.d_model, m.n_heads, m.n_kv_heads, m.d_ff) == (40, 5120, 40, 40, 20480)
    assert m.kv_bytes_per_token() == 2 * 40 * 5120 * 2
    assert round(12 * 2 ** 30 / m.kv_bytes_per_token(), -2) == paging.KWON_KV_SLOTS_OPT13B
    layer = 4 * 5120 ** 2 + 2 * 5120 * 20480
    assert m.params_total == pytest.approx(40 * layer + 50272 * 5120 + 2048 * 5120, rel=0.01)


def test_sharegpt_workload_has_the_papers_means():
    w = serving.sharegpt(20_000, 2.0, seed=1)
    assert w.max_len == 2048 and (w.prompt_len + w.output_len).max() <= 2048
    assert w.prompt_len.mean() == pytest.approx(161.31, rel=0.03)
    assert w.output_len.mean() == pytest.approx(337.99, rel=0.03)
    assert np.mean(np.diff(w.arrival_s)) == pytest.approx(0.5, rel=0.03)


def test_fig13a_reservation_is_memory_bound_like_the_paper():
    """Reserving 2,048 slots per request, 15.7K slots hold 7 requests: the paper's Orca (Max)
    batches 7.00 on average; the simulation cannot exceed 7 and stays close to it."""
    r = serving.kwon_fig13a(400, allocators=("max",))["max"]
    assert r.step_batch.max() == 15_700 // 2048 == 7
    assert r.mean_decode_batch == pytest.approx(paging.KWON_BATCHED_SHAREGPT["max"], rel=0.03)


def test_mean_decode_batch_is_never_nan():
    one = serving.simulate(serving.workload(5, burst=True, prompt_len=100, output_len=1),
                           MODEL, DEVICE)
    assert one.mean_decode_batch == 0.0
    # long prompts arriving faster than they can be prefilled: no decode step while they come
    w = serving.workload(60, rate=500.0, prompt_len=3000, output_len=20, seed=0)
    r = serving.simulate(w, MODEL, DEVICE)
    assert np.isfinite(r.mean_decode_batch) and r.mean_decode_batch > 0


@pytest.mark.parametrize("allocator", serving.ALLOCATORS)
def test_a_static_batch_reserves_its_padded_length(allocator):
    """Bug fixed with chapter 15: a static batch pads every prompt to the longest and runs
    every slot to the longest output, so each slot holds max P + max O tokens. A long prompt
    with a short answer and a short prompt with a long answer each need 1,010 slots, but
    batched together each slot needs 2,000: with room for 3,000 they must not share a batch
    (the simulator used to batch them, reporting 2,020 slots while pricing 4,000)."""
    w = serving.workload(2, burst=True, prompt_len=[1000, 10], output_len=[10, 1000],
                         max_len=4096 if allocator != "max" else 2000)
    kv = 3000 * capacity.kv_cache_bytes(MODEL, 1, 1)       # one padded slot fits, not two
    r = serving.simulate(w, MODEL, DEVICE, scheduler="static", allocator=allocator,
                         kv_memory=kv)
    assert r.step_batch.max() == 1
    assert np.all(r.step_kv_tokens <= r.kv_budget_tokens)
    # with room for both padded slots they share one batch, priced at the padded shape
    r2 = serving.simulate(w, MODEL, DEVICE, scheduler="static", allocator=allocator,
                          kv_memory=4096 * 2 * capacity.kv_cache_bytes(MODEL, 1, 1))
    assert r2.step_batch.max() == 2
    assert r2.step_s[0] == pytest.approx(inference.prefill(MODEL, DEVICE, 2, 1000).estimate_s)


def test_a_static_batch_stays_within_the_servers_length():
    """Padded to 1,000 + 1,000 tokens, the two requests would exceed a 1,500-token server."""
    w = serving.workload(2, burst=True, prompt_len=[1000, 10], output_len=[10, 1000],
                         max_len=1500)
    r = serving.simulate(w, MODEL, DEVICE, scheduler="static")
    assert r.step_batch.max() == 1 and r.requests_completed == 2


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), scheduler=st.sampled_from(serving.SCHEDULERS),
       rate=st.sampled_from([2.0, 20.0, 200.0]), kv=st.sampled_from([None, 1.5e9]))
def test_step_log_accounts_for_every_token_and_every_second(seed, scheduler, rate, kv):
    """Whatever the scheduler, load and cache: the steps emit every output token once, and the
    timeline's integrals are the step log's and the requests' own."""
    w = serving.workload(80, rate=rate, prompt_len=300, output_len=120,
                         length_dist="lognormal", cv=1.5, seed=seed)
    r = serving.simulate(w, MODEL, DEVICE, scheduler=scheduler, kv_memory=kv)
    assert r.step_emitted.sum() == r.tokens_generated == int(w.output_len.sum())
    assert r.tokens_by(r.finish_s.max()) == r.tokens_generated
    tl = serving.timeline(r, bins=17)
    width = tl.t_s[1] - tl.t_s[0]
    assert np.sum(tl.batch) * width == pytest.approx(np.sum(r.step_batch * r.step_s), rel=1e-9)
    assert np.sum(tl.running) * width == pytest.approx(np.sum(r.finish_s - r.admitted_s),
                                                       rel=1e-9)
    assert 0 < r.sustained_tokens_per_s and np.isfinite(r.mean_decode_batch)


def test_a_static_batch_uses_the_share_of_its_slots_equation_15_3_gives():
    """Output tokens over every slot the simulator computes (prefill rows and decode slots)."""
    outputs = [100, 200, 300, 1000]
    w = serving.workload(len(outputs), burst=True, prompt_len=200, output_len=outputs)
    r = serving.simulate(w, MODEL, DEVICE, scheduler="static")
    assert r.tokens_generated / r.step_batch.sum() == pytest.approx(
        serving.static_slot_share(outputs), rel=1e-12)
    assert serving.static_slot_share(outputs) == 1600 / (4 * 1000)
    assert serving.static_slot_share([[5, 5], [1, 3]]).tolist() == [1.0, 4 / 6]
    with pytest.raises(ValueError, match="one per request"):
        serving.static_slot_share(7)
