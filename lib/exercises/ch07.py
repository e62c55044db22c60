"""Exercises of chapters/07_mental_model.ipynb: each answer is computed by lib.

The scenario each exercise gives the reader is a named constant here, so the
question, the solution and the check agree.
"""

from __future__ import annotations

from lib import capacity, inference, measurements, regimes
from lib.exercises import register

MODEL = "llama-3-8b"

#: gpt-fast's published runs (lib.measurements): Llama-2-7B in BF16 at batch size 1 on
#: A100-80GB GPUs power-limited to 330 W, a 5-token prompt; tokens/s by the number of GPUs
#: it is split over (tensor parallelism).
GPT_FAST_TP_TOKENS_PER_S = {
    1: measurements.get("gpt-fast-llama2-7b-bf16").value,
    **{p: measurements.get(f"gpt-fast-llama2-7b-bf16-tp{p}").value for p in (2, 4, 8)}}
GPT_FAST_PROMPT_TOKENS = 5
#: The bandwidth the gpt-fast authors found these power-limited A100s reach (byte/s).
GPT_FAST_EMPIRICAL_BANDWIDTH = measurements.get("gpt-fast-a100-empirical-bandwidth").value

#: ch07-ex-e2e: one chat request served alone on an H100 SXM.
E2E_PROMPT, E2E_OUTPUT = 1000, 256

#: ch07-ex-exchange: the prompt over which the library's exchange rate (TPOT / (TTFT / P))
#: is measured, long enough for the prefill to be compute-bound.
EXCHANGE_PROMPT = 4096

#: ch07-ex-tp8: devices Llama 3 8B is split over, its decode context, and the batches the
#: solution compares.
TP_DEVICES, TP_CONTEXT = 8, 2048
TP_BATCHES = (1, 64, 256)

#: ch07-ex-explorer: the batch at which the reader switches the explorer's device.
EXPLORER_BATCH = 64
EXPLORER_CONTEXT = 2048

#: ch07-ex-optimise: the two decode situations the reader compares.
OPT_SMALL = dict(batch=1, context=512)
OPT_LARGE = dict(batch=64, context=4096)

#: ch07-ex-sla: a chat service's request shape and latency targets.
SLA_PROMPT, SLA_OUTPUT = 2048, 256
SLA_TTFT_S, SLA_TPOT_S = 0.5, 0.025


register("ch07.first-compute-bound-prompt",
         "sweep prompt_len with inference.prefill(..., batch=1, prompt_len=np.arange(...)) and "
         "find the first 'compute' in .bound; it lies above the ridge point because norms, "
         "activations and the LM head add bytes.",
         lambda: regimes.shortest_compute_bound_prompt(MODEL, "h100-sxm"), rel_tol=0.1,
         unit="tokens",
         fmt=lambda x: f"{x:.0f} tokens")
register("ch07.e2e-chat-s",
         "TTFT (about 2 x parameters x prompt tokens / peak) plus (output - 1) x TPOT (about "
         "weight bytes / bandwidth at batch 1).",
         lambda: inference.generation_time(MODEL, "h100-sxm", 1, E2E_PROMPT, E2E_OUTPUT),
         rel_tol=0.1, unit="s", fmt=lambda x: f"{x:.3g} s")


def _exchange(weight_dtype: str) -> float:
    """TPOT / (TTFT / P) at batch 1 on the H100 SXM: output tokens priced in prompt tokens."""
    p = EXCHANGE_PROMPT
    first = inference.ttft(MODEL, "h100-sxm", 1, p, weight_dtype=weight_dtype)
    return inference.tpot(MODEL, "h100-sxm", 1, p, weight_dtype=weight_dtype) / (first / p)


register("ch07.exchange-int8-h100",
         "TPOT / (TTFT / P) = (W / beta) / (2N / pi) = (b_w / 2) x the ridge point pi / beta; "
         "INT8 weights have b_w = 1 byte and the math stays at the BF16 peak.",
         lambda: _exchange("int8"), rel_tol=0.1, unit="prompt tokens",
         fmt=lambda x: f"{x:.0f} prompt tokens")
register("ch07.tp8-speedup",
         "one GPU's TPOT / (one GPU's TPOT / 8 + 2 x layers x one all-reduce); an all-reduce "
         "of one hidden vector (d x 2 bytes) over p = 8 GPUs takes "
         "alpha_0 + 2(p - 1) alpha + 2(p - 1)/p x bytes / beta_link.",
         lambda: (inference.tpot(MODEL, "h100-sxm", 1, TP_CONTEXT)
                  / inference.tpot(MODEL, "h100-sxm", 1, TP_CONTEXT, tp=TP_DEVICES)),
         rel_tol=0.1, unit="times", fmt=lambda x: f"{x:.2f} times")
register("ch07.mi300x-tpot-ratio",
         "both decode steps are memory-bound, so TPOT scales as 1 / bandwidth: divide the "
         "MI300X's bandwidth by the H100 SXM's.",
         lambda: (inference.tpot(MODEL, "h100-sxm", EXPLORER_BATCH, EXPLORER_CONTEXT)
                  / inference.tpot(MODEL, "mi300x", EXPLORER_BATCH, EXPLORER_CONTEXT)),
         rel_tol=0.03, unit="times", fmt=lambda x: f"{x:.3f} times")
register("ch07.tpot-fp8-kv-ms",
         "inference.tpot(..., batch=64, context=4096, kv_dtype='fp8') in milliseconds.",
         lambda: inference.tpot(MODEL, "h100-sxm", kv_dtype="fp8", **OPT_LARGE) * 1e3,
         rel_tol=0.05, unit="ms", fmt=lambda x: f"{x:.3g} ms")
register("ch07.l4-max-batch",
         "(24 GB - weight bytes) / KV bytes per sequence, with 2049 tokens in each "
         "sequence's cache after the first decode step; round down.",
         lambda: capacity.max_batch(MODEL, "l4", 2049), rel_tol=0.05, unit="sequences",
         fmt=lambda x: f"{x:.0f} sequences")
register("ch07.sla-batch-h100",
         "the largest batch whose decode step at context 2048 + 256 - 1 takes at most 25 ms "
         "AND whose KV cache fits beside the weights.",
         lambda: regimes.largest_batch_within(MODEL, "h100-sxm", SLA_TPOT_S,
                                              SLA_PROMPT + SLA_OUTPUT - 1),
         rel_tol=0.05, unit="sequences",
         fmt=lambda x: f"{x:.0f} sequences")
