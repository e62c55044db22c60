"""Exercises of chapters/07_mental_model.ipynb: each answer is computed by lib.

The scenario each exercise gives the reader is a named constant here, so the
question, the solution and the check agree.
"""

from __future__ import annotations

from lib import capacity, inference, regimes
from lib.exercises import register

MODEL = "llama-3-8b"

#: gpt-fast README, "Benchmarks" and "Tensor Parallelism" tables: Llama-2-7B in BF16 at
#: batch size 1 on A100-80GB GPUs power-limited to 330 W, a 5-token prompt; tokens/s by
#: the number of GPUs it is split over (tensor parallelism). 1 GPU: 104.9 tokens/s.
GPT_FAST_TP_TOKENS_PER_S = {1: 104.9, 2: 168.84, 4: 254.02, 8: 328.43}
GPT_FAST_PROMPT_TOKENS = 5
#: gpt-fast README, "Speculative Sampling" note: on these power-limited A100s, "empirically,
#: seems like peak bandwidth is about 1700 GB/s" (byte/s).
GPT_FAST_EMPIRICAL_BANDWIDTH = 1700e9

#: ch07-ex-e2e: one chat request served alone on an H100 SXM.
E2E_PROMPT, E2E_OUTPUT = 1000, 256

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
