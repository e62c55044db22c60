"""Exercises of chapters/14_parallelism.ipynb: each answer is computed by lib (see lib.exercises)."""

from __future__ import annotations

import numpy as np

from lib import inference, parallel
from lib.exercises import register

#: Exercise 1 (by hand): a GPipe schedule, a decode step's all-reduces, an all-to-all.
BUBBLE_STAGES, BUBBLE_MICRO = 4, 4
AR_MODEL, AR_DEVICE, AR_TP = "llama-3-70b", "h100-sxm", 8
A2A_MODEL, A2A_DEVICE, A2A_TOKENS, A2A_EP = "mixtral-8x7b", "h100-sxm", 4096, 8
#: Exercise 2 (use lib): the sharding table of Llama-3-70B on up to 8 H100s.
SHARD = dict(model="llama-3-70b", device="h100-sxm", devices=8, batch=16, prompt_len=1024,
             output_len=256, ttft_target_s=1.0, tpot_target_s=0.03)
#: Exercise 3 (predict, then check with the explorer): Llama-3-8B decode on L40S (PCIe).
WIDGET_MODEL, WIDGET_DEVICE, WIDGET_BATCH = "llama-3-8b", "l40s", 4
#: Exercise 4 (critique): four pipeline stages for one user's tokens.
PP_MODEL, PP_DEVICE, PP_STAGES, PP_CONTEXT = "llama-3-8b", "h100-sxm", 4, 1024
#: Exercise 5 (open-ended): ring attention over 8 L40S on PCIe.
RING_MODEL, RING_DEVICE, RING_CP = "llama-3-8b", "l40s", 8


def _allreduces_ms() -> float:
    e = inference.decode(AR_MODEL, AR_DEVICE, 1, 1024, tp=AR_TP)
    return float(e.comm_time_s) * 1e3


def _fewest() -> parallel.ShardingRow:
    rows = [r for r in parallel.sharding_options(**SHARD) if r.meets]
    return min(rows, key=lambda r: (r.devices, r.pp))


def _widget_ratio() -> float:
    from lib.widgets import parallel as pw
    runs = [parallel.pipeline(WIDGET_MODEL, WIDGET_DEVICE, WIDGET_BATCH, 1, pw.CONTEXT, tp=p)
            for p in (4, 8)]
    return float(runs[0].time_s / runs[1].time_s)


def _pp_ratio() -> float:
    p = parallel.pipeline(PP_MODEL, PP_DEVICE, 1, 1, PP_CONTEXT, pp=PP_STAGES)
    return float(p.latency_s / inference.decode(PP_MODEL, PP_DEVICE, 1, PP_CONTEXT).estimate_s)


def _ring_block() -> float:
    blocks = np.arange(1, 20_001)
    r = parallel.ring_attention(RING_MODEL, RING_DEVICE, RING_CP * blocks, RING_CP)
    return float(blocks[np.argmax(np.asarray(r.hidden))])


register("ch14.bubble-4x4",
         "GPipe: (p − 1) / (m + p − 1) of the schedule is idle.",
         lambda: parallel.bubble_fraction(BUBBLE_STAGES, BUBBLE_MICRO), unit="",
         fmt=lambda x: f"{x:.3f}")
register("ch14.tp8-allreduces-ms",
         "2 all-reduces per layer × 80 layers, each 6.6 µs + 14 × 0.6 µs + 2 (7/8) × 16 kB "
         "/ 450 GB/s.",
         _allreduces_ms, unit="ms", fmt=lambda x: f"{x:.2f} ms")
register("ch14.mixtral-dispatch-mb",
         "tokens / 8 × top_k 2 × d 4096 × 2 bytes, of which 7/8 leave the device.",
         lambda: parallel.expert_parallel(A2A_MODEL, A2A_DEVICE, A2A_TOKENS,
                                          A2A_EP).dispatch_bytes / 1e6,
         unit="MB", fmt=lambda x: f"{x:.2f} MB")
register("ch14.fewest-gpus",
         "sharding_options(): the fewest devices whose split fits and meets both targets.",
         lambda: float(_fewest().devices), rel_tol=0.0, unit="GPUs", fmt=lambda x: f"{x:.0f}")
register("ch14.fewest-gpus-tpot-ms",
         "the TPOT of that split, from sharding_options().",
         lambda: _fewest().tpot_s * 1e3, unit="ms", fmt=lambda x: f"{x:.1f} ms")
register("ch14.l40s-tp4-over-tp8",
         "a decode step's time at tp 4 over tp 8 on PCIe: below 2 when the all-reduces grow.",
         _widget_ratio, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch14.pp4-latency-ratio",
         "one token through 4 stages over one device: the same layers, one after another, "
         "plus the transfers.",
         _pp_ratio, unit="×", fmt=lambda x: f"{x:.3f}×")
register("ch14.ring-min-block-l40s",
         "the smallest block n with 4 n² h_q d_h / π ≥ α + n × 4 kB / β_link.",
         _ring_block, rel_tol=0.01, unit="tokens", fmt=lambda x: f"{x:,.0f} tokens")
