"""Exercises of chapters/11_decode_kernels.ipynb: each answer is computed by lib (see lib.exercises)."""

from __future__ import annotations

import numpy as np

from lib import fusion, occupancy
from lib.exercises import register

#: Exercise 1 (by hand): the fewest KV heads in the catalog at batch 1, on an H100 SXM.
HAND_MODEL, HAND_DEVICE, HAND_CONTEXT = "qwen2-7b", "h100-sxm", 8192
#: Exercise 2 (lib): a long context at a small batch on the A100 80 GB.
LONG_MODEL, LONG_DEVICE, LONG_BATCH, LONG_CONTEXT = "llama-3-8b", "a100-sxm-80gb", 4, 32768
#: Exercise 3 (predict, then check with the explorer): a large batch at a moderate context,
#: one that fits the H100's 80 GB (50 GB of weights and cache; batch 64 would need 85 GB).
FULL_MODEL, FULL_DEVICE, FULL_BATCH, FULL_CONTEXT = "llama-3-8b", "h100-sxm", 32, 8192
#: Exercise 4 (by hand): launches saved by fusion, at chapter 6's 5 µs per eager launch.
LAUNCH_MODEL, LAUNCH_US = "llama-3-8b", 5.0
#: Exercise 5 (critique): "CUDA graphs make decode twice as fast", at batch 1.
GRAPH_MODELS, GRAPH_DEVICE, GRAPH_CONTEXT = ("gpt2", "llama-2-13b"), "h100-sxm", 1024
#: Exercise 6 (lib): the bytes fusion saves at a large batch.
BYTES_MODEL, BYTES_DEVICE, BYTES_BATCH, BYTES_CONTEXT = "llama-3-8b", "h100-sxm", 64, 1024


def _busy_unsplit() -> float:
    return float(occupancy.split_kv(HAND_MODEL, HAND_DEVICE, 1, HAND_CONTEXT).busy)


def _splits_one_full_wave() -> float:
    """The fewest splits whose blocks fill every SM: busy = 1."""
    s = np.arange(1, occupancy.MAX_SPLITS + 1)
    busy = np.asarray(occupancy.split_kv(HAND_MODEL, HAND_DEVICE, 1, HAND_CONTEXT, s).busy)
    return float(s[np.argmax(np.isclose(busy, 1.0))])


def _long_gain() -> float:
    best = occupancy.best_splits(LONG_MODEL, LONG_DEVICE, LONG_BATCH, LONG_CONTEXT)
    t = occupancy.split_kv(LONG_MODEL, LONG_DEVICE, LONG_BATCH, LONG_CONTEXT, [1, best]).time_s
    return float(t[0] / t[1])


def _full_gain() -> float:
    best = occupancy.best_splits(FULL_MODEL, FULL_DEVICE, FULL_BATCH, FULL_CONTEXT)
    t = occupancy.split_kv(FULL_MODEL, FULL_DEVICE, FULL_BATCH, FULL_CONTEXT, [1, best]).time_s
    return float(t[0] / t[1])


def _launch_saving_ms() -> float:
    n = [fusion.kernel_count(LAUNCH_MODEL, lv) for lv in ("unfused", "fused elementwise")]
    return (n[0] - n[1]) * LAUNCH_US * 1e-3


def _graph_gain(model: str) -> float:
    t = [fusion.step(model, GRAPH_DEVICE, 1, GRAPH_CONTEXT, "merged GEMMs", cuda_graphs=g).time_s
         for g in (False, True)]
    return float(t[0] / t[1])


def _bytes_saved_share() -> float:
    kw = dict(cuda_graphs=True)
    merged, fused = (fusion.step(BYTES_MODEL, BYTES_DEVICE, BYTES_BATCH, BYTES_CONTEXT, lv, **kw)
                     for lv in ("merged GEMMs", "fused elementwise"))
    return float((merged.bytes - fused.bytes) / merged.bytes)


register("ch11.busy-unsplit-qwen2",
         "one block per (sequence, KV head): batch × KV heads blocks, over the SM count.",
         _busy_unsplit, rel_tol=0.02, unit="", fmt=lambda x: f"{x:.3f} ({100 * x:.1f}%)")
register("ch11.splits-full-wave-qwen2",
         "the blocks fill every SM when batch × KV heads × splits = SMs: solve for the splits.",
         _splits_one_full_wave, rel_tol=0.001, unit="splits", fmt=lambda x: f"{x:.0f} splits")
register("ch11.splitkv-gain-b4-32k-a100",
         "occupancy.split_kv at 1 split and at occupancy.best_splits: the ratio of time_s.",
         _long_gain, rel_tol=0.05, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch11.splitkv-gain-b32-8k",
         "256 blocks on 132 SMs already keep nearly all of them busy: the gain is small.",
         _full_gain, rel_tol=0.03, unit="×", fmt=lambda x: f"{x:.3f}×")
register("ch11.launch-saving-ms",
         "(kernels unfused − kernels fused) × 5 µs; per layer 14 − 7 kernels, plus 3 once "
         "at both levels.",
         _launch_saving_ms, rel_tol=0.02, unit="ms", fmt=lambda x: f"{x:.2f} ms")
register("ch11.graph-gain-gpt2",
         "fusion.step at 'merged GEMMs', cuda_graphs=False over cuda_graphs=True.",
         lambda: _graph_gain(GRAPH_MODELS[0]), rel_tol=0.05, unit="×",
         fmt=lambda x: f"{x:.2f}×")
register("ch11.graph-gain-13b",
         "the same ratio for the larger model: its kernels outlast a launch.",
         lambda: _graph_gain(GRAPH_MODELS[1]), rel_tol=0.02, unit="×",
         fmt=lambda x: f"{x:.3f}×")
register("ch11.fusion-bytes-saved-share",
         "(bytes at 'merged GEMMs' − bytes at 'fused elementwise') ÷ bytes at 'merged GEMMs'.",
         _bytes_saved_share, rel_tol=0.1, unit="", fmt=lambda x: f"{x:.4f} ({100 * x:.2f}%)")
