"""Exercises of chapters/12_speculative_decoding.ipynb: each answer is computed by lib (see lib.exercises)."""

from __future__ import annotations

import numpy as np

from lib import speculative as sp
from lib.exercises import register

#: Exercise 1: Leviathan et al.'s best T5 run (Table 4: EnDe, T5-small draft, argmax).
T5_TASK, T5_DRAFT, T5_TEMP, T5_GAMMA, T5_ALPHA, T5_C, T5_EXP, T5_MEASURED = sp.LEVIATHAN_T5[0]
#: Exercise 2: the chapter's draft-model pair on one device.
PAIR_TARGET, PAIR_DRAFT, PAIR_DEVICE, PAIR_ALPHA, PAIR_CONTEXT = (
    "llama-3-70b", "llama-3-8b", "b200", 0.8, 1024)
#: Exercise 3: the explorer setting the reader predicts, then checks.
WIDGET_ALPHA, WIDGET_COST, WIDGET_BATCH = 0.8, 0.05, 64
#: Exercise 4 (the critique): a busy server.
BUSY_MODEL, BUSY_DEVICE, BUSY_ALPHA, BUSY_GAMMA, BUSY_COST, BUSY_BATCH, BUSY_CONTEXT = (
    "llama-3-8b", "h100-sxm", 0.7, 4, 0.05, 256, 128)
#: Exercise 5 (open-ended): Medusa's heads and tree on Vicuna-7B's shapes.
TREE_MODEL, TREE_DEVICE, TREE_BATCHES, TREE_CONTEXT = "llama-2-7b", "h100-sxm", (1, 16), 1024


def _pair_best() -> sp.Speculation:
    return sp.best_speculation(PAIR_TARGET, PAIR_DEVICE, PAIR_ALPHA, max_gamma=16,
                               draft_model=PAIR_DRAFT, context=PAIR_CONTEXT)


def _widget_best() -> float:
    from lib.widgets import speculative as sw
    s = sp.speculate(sw.TARGET, sw.DEVICE, WIDGET_ALPHA, sw.GAMMAS, draft_cost=WIDGET_COST,
                     batch=WIDGET_BATCH, context=sw.CONTEXTS[0])
    return float(np.max(s.speedup))


def _busy() -> float:
    return sp.speculate(BUSY_MODEL, BUSY_DEVICE, BUSY_ALPHA, BUSY_GAMMA, draft_cost=BUSY_COST,
                        batch=BUSY_BATCH, context=BUSY_CONTEXT).speedup


def _tree_verify_ratio() -> float:
    parents, probs = sp.medusa_tree_7b()
    c = sp.cost_ratio_from_bytes(TREE_MODEL, TREE_DEVICE, sp.medusa_heads_bytes(TREE_MODEL),
                                 batch=TREE_BATCHES[1], context=TREE_CONTEXT)
    return sp.speculate(TREE_MODEL, TREE_DEVICE, 0.0, tree=parents, tree_probs=probs,
                        draft_cost=c, draft_passes=1, batch=TREE_BATCHES[1],
                        context=TREE_CONTEXT).verify_ratio


register("ch12.t5-small-tokens",
         "1 + α + α² + ... + α^γ = (1 − α^(γ+1)) / (1 − α).",
         lambda: sp.expected_tokens(T5_ALPHA, T5_GAMMA), unit="tokens",
         fmt=lambda x: f"{x:.3f} tokens")
register("ch12.t5-small-speedup",
         "expected tokens ÷ (γ c + 1): γ draft runs at c each, one verification at 1.",
         lambda: sp.leviathan_speedup(T5_ALPHA, T5_GAMMA, T5_C), unit="×",
         fmt=lambda x: f"{x:.2f}×")
register("ch12.flops-factor",
         "the target runs on γ + 1 tokens per step but keeps only the expected tokens.",
         lambda: sp.leviathan_operations(BUSY_ALPHA, BUSY_GAMMA), unit="×",
         fmt=lambda x: f"{x:.2f}×")
register("ch12.pair-best-gamma",
         "speculate() over γ = 1 ... 16 and take the largest speed-up.",
         lambda: float(_pair_best().gamma), rel_tol=0.0, unit="draft tokens",
         fmt=lambda x: f"{x:.0f}")
register("ch12.pair-best-speedup",
         "plain step ÷ ((γ draft steps + one verification) ÷ expected tokens), at the best γ.",
         lambda: _pair_best().speedup, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch12.explorer-b64-speedup",
         "at batch 64 a verification of γ + 1 tokens per sequence costs more than one step.",
         _widget_best, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch12.busy-speedup",
         "plain step ÷ speculative time per token at batch 256: verification is compute-bound.",
         _busy, unit="×", fmt=lambda x: f"{x:.2f}×")
register("ch12.medusa-heads-gb",
         "5 heads × (d² + d weights of a residual block + d × V of a vocabulary projection) × "
         "2 bytes.",
         lambda: sp.medusa_heads_bytes(TREE_MODEL) / 1e9, unit="GB", fmt=lambda x: f"{x:.3f} GB")
register("ch12.tree-verify-ratio-b16",
         "forward() of the tree's nodes + 1 tokens per sequence ÷ one decode step, at batch 16.",
         _tree_verify_ratio, unit="×", fmt=lambda x: f"{x:.2f}×")
