"""Exercises of chapters/08_model_vs_reality.ipynb: each answer is computed by lib.

The microbenchmark readings an exercise starts from are named constants here, each with
the file it was read from (the same files :mod:`lib.efficiency` cites), so the question,
the solution and the check agree.
"""

from __future__ import annotations

from lib import efficiency, hardware, inference, runs
from lib.exercises import register

#: gpu-benches' gpu-stream on an A100 80 GB: the best triad bandwidth, byte/s (file
#: gpu-stream/a100_80.txt at commit a7dc559c, blockSize 1024; lib.efficiency's source).
STREAM_TRIAD_A100_80 = 1759e9
#: gpu-benches' gpu-small-kernels on an A100 80 GB replayed as a CUDA graph: each of the
#: 10,000 back-to-back SCALE kernels of the smallest size moves 4,096 doubles in and out
#: (65,536 bytes), and the file prints 49 GB/s (a100_80_graph.txt at commit 11f5daa3).
SMALL_KERNEL_BYTES = 2 * 4096 * 8
SMALL_KERNEL_GRAPH_BANDWIDTH = 49e9

#: ch08-ex-predict: the published run whose estimate the reader works out by hand.
PREDICT_RUN = "gpt-fast-l31-8b-bf16-tp1"
#: ch08-ex-floor: the row the floor rejects, and its device and model.
REJECTED_RUN = "trtllm090-mixtral-a100-sxm-80gb-tp2-bs32-2048-2048"
#: ch08-ex-bias: the short-prompt prefill whose weight reads the reader times.
SHORT_TTFT_RUN = "trtllm090-l2-7b-h100-sxm-tp1-ttft-isl128"
#: The chapter's "your measurement" cell starts from this published run.
YOUR_RUN = "nim180-l33-70b-fp8-h100-tp2-5000-500-c1-itl"


def _weights_s(key: str) -> float:
    """Seconds to read the weights a run's steps read once each, at the full bandwidth."""
    r = runs.get(key)
    step = inference.decode(r.model, r.device, r.batch, r.prompt_tokens,
                            weight_dtype=r.weight_dtype, kv_dtype=r.kv_dtype, tp=r.devices)
    steps = r.output_tokens - 1 if r.phase == "request" else r.output_tokens
    return steps * float(step.bytes_weights) / hardware.get(r.device).memory_bandwidth


def _ttft_weights_ms(key: str) -> float:
    """Milliseconds a prefill needs to read its weights at the sustained bandwidth."""
    r = runs.get(key)
    first = inference.prefill(r.model, r.device, r.batch, r.prompt_tokens,
                              weight_dtype=r.weight_dtype, kv_dtype=r.kv_dtype, tp=r.devices)
    dev = hardware.get(r.device)
    return float(first.bytes_weights) / (efficiency.get(dev).bandwidth.value
                                         * dev.memory_bandwidth) * 1e3


register("ch08.bandwidth-a100-80",
         "the triad's best bandwidth divided by the datasheet's 2,039 GB/s.",
         lambda: STREAM_TRIAD_A100_80 / hardware.get("a100-sxm-80gb").memory_bandwidth,
         rel_tol=0.01, unit="of the datasheet", fmt=lambda x: f"{x:.3f} of the datasheet")
register("ch08.graph-kernel-us",
         "bytes one kernel moves (4,096 doubles read and 4,096 written) divided by the "
         "printed GB/s: 10,000 kernels moving that much each took 10,000 x this time.",
         lambda: SMALL_KERNEL_BYTES / SMALL_KERNEL_GRAPH_BANDWIDTH * 1e6,
         rel_tol=0.05, unit="µs", fmt=lambda x: f"{x:.3g} µs")
register("ch08.predict-tokens-per-s",
         "1 / (bytes per step / (eta_beta x beta) + weight-reading matrix products x t_s + "
         "other kernels x t_k + attention calls x t_attn), with eta_beta = 0.863 on the A100 "
         "80 GB, t_s = 3.3 µs, t_k = 1.3 µs and t_attn = 15 µs.",
         lambda: runs.predict(PREDICT_RUN), rel_tol=0.03, unit="tokens/s",
         fmt=lambda x: f"{x:.1f} tokens/s")
register("ch08.rejected-weights-s",
         "2,047 decode steps, each reading every expert's FP16 weights once: half of "
         "2 bytes x 46.7 billion parameters per GPU, at 2,039 GB/s.",
         lambda: _weights_s(REJECTED_RUN), rel_tol=0.02, unit="s",
         fmt=lambda x: f"{x:.3g} s")
register("ch08.ttft128-weights-ms",
         "one byte per FP8 weight (all but 31,872 rows of the embedding table are skipped) "
         "over eta_beta x beta = 0.88 x 3.35 TB/s.",
         lambda: _ttft_weights_ms(SHORT_TTFT_RUN), rel_tol=0.03, unit="ms",
         fmt=lambda x: f"{x:.3g} ms")
