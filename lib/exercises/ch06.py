"""Exercises of chapters/06_decode.ipynb: each answer is computed by lib (see lib.exercises)."""

from __future__ import annotations

from lib import capacity, hardware, inference, models, regimes
from lib.exercises import register
from lib.roofline import ridge_point

#: The chapter's MBU example, a published decode measurement (lib.measurements): gpt-fast's
#: Llama-2-7B in BF16 at batch 1 on one A100-80GB, its decode step compiled with
#: ``torch.compile(mode="reduce-overhead")`` (a CUDA graph); and the bandwidth its authors
#: found the same power-limited card sustains.
GPT_FAST_RUN, GPT_FAST_SUSTAINED = "gpt-fast-llama2-7b-bf16", "gpt-fast-a100-empirical-bandwidth"
GPT_FAST_MODEL, GPT_FAST_BATCH = "llama-2-7b", 1
#: gpt-fast's generate.py defaults: the prompt "Hello, my name is" and 200 new tokens, so
#: the cache grows from about 6 to about 205 tokens: about 100 on average. (MBU moves by
#: under one point anywhere between 0 and 200.)
GPT_FAST_CONTEXT = 100
#: The PyTorch team's blog post, section "Starting Point (25.5 tok/s)": the plain, eager
#: implementation of the same model on the same card (references.bib: pytorch_gpt_fast_blog).
GPT_FAST_EAGER_TOKENS_PER_S = 25.5

#: Exercise 3: the long context, the batch and the model it asks about.
FP8_CONTEXT, FP8_BATCH, FP8_MODEL = 32768, 8, "llama-3-8b"
#: Exercise 4: the explorer setting the reader predicts, then checks.
WIDGET_BATCH, WIDGET_CONTEXT, WIDGET_MODEL = 64, 4096, "llama-3-8b"
#: Exercise 5: the configuration whose launch break-even latency the reader finds.
LAUNCH_MODEL, LAUNCH_CONTEXT = "llama-3-8b", 1024
#: The decode ceiling and the context beyond which no batch is compute-bound.
CEILING_MODEL, CEILING_DEVICE, CEILING_CONTEXT = "llama-3-8b", "h100-sxm", 2048
#: The critique "softmax and norms are decode's hot spot": the case most favourable to it,
#: a large batch at a long context with an unfused attention (scores through memory).
HOTSPOT_MODEL, HOTSPOT_BATCH, HOTSPOT_CONTEXT = "llama-3-8b", 64, 8192
HOTSPOT_OPS = ("norms", "softmax", "final norm")
#: The critique "PagedAttention cuts the bytes a step reads": a server that reserves each
#: request's maximum length (Llama-3-8B's 8,192 tokens) against one that allocates pages
#: as the cache grows, both serving sequences of 2,048 tokens.
PAGED_MODEL, PAGED_RESERVED, PAGED_CONTEXT = "llama-3-8b", 8192, 2048
#: Predict, then check with the explorer: TPOT at batch 16 from 1,024 to 16,384 tokens.
PREDICT_MODEL, PREDICT_BATCH, PREDICT_CONTEXTS = "llama-3-8b", 16, (1024, 16384)


def _tpot_13b_a100_ms() -> float:
    return inference.tpot("llama-2-13b", "a100-sxm-80gb", 1, 0) * 1e3


def _naive_critical_batch(device: str, bytes_per_weight: float) -> float:
    """peak / bandwidth x bytes per weight / 2 FLOP per weight (weights-only traffic)."""
    d = hardware.get(device)
    return ridge_point(d.peak("bf16"), d.memory_bandwidth) * bytes_per_weight / 2


def _fp8_speedup() -> float:
    kw = dict(batch=FP8_BATCH, context=FP8_CONTEXT)
    return (inference.tpot(FP8_MODEL, "h100-sxm", **kw)
            / inference.tpot(FP8_MODEL, "h100-sxm", **kw, kv_dtype="fp8"))


def _kv_share() -> float:
    est = inference.decode(WIDGET_MODEL, "h100-sxm", WIDGET_BATCH, WIDGET_CONTEXT)
    split = inference.time_split(est)
    return split["KV cache"] / sum(split.values())


def _launch_breakeven_us() -> float:
    est = inference.decode(LAUNCH_MODEL, "h100-sxm", 1, LAUNCH_CONTEXT)
    kernels = inference.launch_floor(est, 1.0)   # the floor at 1 s per launch = the count
    return est.time_s / kernels * 1e6


def _no_compute_bound_context() -> float:
    """C at which the ceiling 2N / (C kappa) meets the ridge: 2 N beta / (pi kappa)."""
    m, d = models.get(CEILING_MODEL), hardware.get(CEILING_DEVICE)
    ridge = ridge_point(d.peak("bf16"), d.memory_bandwidth)
    return 2 * m.params_active / (m.kv_bytes_per_token("bf16") * ridge)


def _hotspot_share() -> float:
    est = inference.decode(HOTSPOT_MODEL, "h100-sxm", HOTSPOT_BATCH, HOTSPOT_CONTEXT,
                           fused_attention=False)
    return sum(est.op(n).time_s for n in HOTSPOT_OPS) / est.time_s


def _paged_throughput_gain() -> float:
    reserved = capacity.max_batch(PAGED_MODEL, "h100-sxm", PAGED_RESERVED)
    paged = capacity.max_batch(PAGED_MODEL, "h100-sxm", PAGED_CONTEXT)
    rate = inference.decode(PAGED_MODEL, "h100-sxm", [reserved, paged],
                            PAGED_CONTEXT).tokens_per_s
    return rate[1] / rate[0]


def _tpot_ratio() -> float:
    t = inference.tpot(PREDICT_MODEL, "h100-sxm", PREDICT_BATCH, list(PREDICT_CONTEXTS))
    return t[1] / t[0]


register("ch06.tpot-13b-a100-ms",
         "at batch 1 every weight is read once per token: weight bytes ÷ bandwidth.",
         _tpot_13b_a100_ms, unit="ms", fmt=lambda x: f"{x:.2f} ms")
register("ch06.critical-batch-a100",
         "the weights' bytes are shared by the batch: dense BF16 peak ÷ bandwidth × "
         "(bytes per weight ÷ 2 FLOP per weight).",
         lambda: _naive_critical_batch("a100-sxm-80gb", 2.0), unit="sequences",
         fmt=lambda x: f"{x:.0f} sequences")
register("ch06.critical-batch-a100-int8",
         "int8 weights computed in BF16: one byte per weight, same peak.",
         lambda: _naive_critical_batch("a100-sxm-80gb", 1.0), unit="sequences",
         fmt=lambda x: f"{x:.0f} sequences")
register("ch06.critical-batch-llama3-a100",
         "lib.regimes.critical_batch at context 0: activations add bytes per token.",
         lambda: regimes.critical_batch("llama-3-8b", "a100-sxm-80gb", 0),
         unit="sequences", fmt=lambda x: f"{x:.0f} sequences")
register("ch06.fp8kv-speedup-32k",
         "TPOT with a bf16 KV cache ÷ TPOT with an fp8 one; the weights' share does not shrink.",
         _fp8_speedup, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch06.fp8kv-max-batch-32k",
         "(capacity − weight bytes) ÷ KV bytes of one 32,768-token sequence at 1 byte per "
         "element, rounded down.",
         lambda: capacity.max_batch(FP8_MODEL, "h100-sxm", FP8_CONTEXT, kv_dtype="fp8"),
         rel_tol=0.02, unit="sequences", fmt=lambda x: f"{x:.0f} sequences")
register("ch06.kv-share-b64-4k",
         "KV bytes per step ÷ all bytes per step (the step is memory-bound).",
         _kv_share, rel_tol=0.1, unit="", fmt=lambda x: f"{x:.2f} ({100 * x:.0f}% of TPOT)")
register("ch06.launch-breakeven-us",
         "roofline TPOT ÷ kernels per step.",
         _launch_breakeven_us, rel_tol=0.1, unit="µs", fmt=lambda x: f"{x:.1f} µs")
register("ch06.decode-ceiling-2k",
         "as the batch grows each added sequence brings 2N FLOP and its own C·κ bytes of "
         "KV cache, and no weight bytes: the intensity tends to 2N ÷ (C·κ).",
         lambda: regimes.decode_ceiling(CEILING_MODEL, CEILING_DEVICE, CEILING_CONTEXT),
         rel_tol=0.06, unit="FLOP/byte", fmt=lambda x: f"{x:.1f} FLOP/byte")
register("ch06.no-compute-bound-context",
         "set the ceiling 2N ÷ (C·κ) equal to the ridge π ÷ β and solve for C.",
         _no_compute_bound_context, unit="tokens", fmt=lambda x: f"{x:.0f} tokens")
register("ch06.hotspot-share",
         "the norms' and the softmax's per-op time ÷ the step's per-op time "
         "(decode(..., fused_attention=False) and est.op(name).time_s).",
         _hotspot_share, rel_tol=0.1, unit="", fmt=lambda x: f"{x:.3f} ({100 * x:.1f}%)")
register("ch06.paged-throughput-gain",
         "tokens/s at the batch that fits when pages follow the 2,048 tokens really cached ÷ "
         "tokens/s at the batch that fits when 8,192 are reserved; both steps read 2,048 "
         "tokens of cache per sequence.",
         _paged_throughput_gain, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch06.tpot-ratio-16k-1k",
         "the boxed TPOT formula at both contexts: the weights' term stays, the KV term "
         "grows 16-fold.",
         _tpot_ratio, unit="×", fmt=lambda x: f"{x:.2f}×")
