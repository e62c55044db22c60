"""Speculative and multi-token decoding: more tokens per read of the weights.

A decode step at a small batch reads every weight to produce one token per sequence and
leaves the arithmetic units almost idle (chapter 6). Speculative decoding spends that idle
arithmetic: a cheap *draft* proposes ``gamma`` tokens, the *target* model checks all of
them in one forward of ``gamma + 1`` tokens (the *verification*), and keeps the longest
prefix it agrees with plus one token of its own. With speculative sampling the output has
exactly the target's distribution (Leviathan et al. 2023, Theorem 3.5 and Appendix A.1;
Chen et al. 2023).

What this module computes, each from the one before:

* **How many tokens a verification yields**: :func:`expected_tokens` (the closed form for
  one acceptance rate, Leviathan et al.'s Equation 1), :func:`expected_tokens_chain`
  (a rate per draft position) and :func:`expected_tokens_tree` (a token tree, Medusa and
  EAGLE); :func:`simulate_chain` and :func:`simulate_tree` draw the same quantities by
  seeded Monte Carlo.
* **What a verification costs**: :func:`speculate` prices the draft (a catalog model's
  decode steps from :func:`lib.inference.decode`, or a cost ratio ``c`` of the target's
  step), the verification (:func:`lib.inference.forward` with ``new_tokens = gamma + 1``
  and ``all_logits=True``) and the plain decode step it replaces, and returns the speed-up.
  :func:`leviathan_speedup` is the paper's Theorem 3.8, which prices the verification as
  one target step; :func:`best_gamma` maximises it over whole draft lengths.
* **What a tree mask changes**: :func:`tree_attention_pairs` and :func:`tree_attention_flops`
  count the (query, key) scores of a tree verification, where each token sees the cache
  and its own ancestors, against the dense causal block :mod:`lib.transformer` counts.

Every time is per device. ``timing="estimate"`` (the default) uses the calibrated estimate
:attr:`lib.inference.Estimate.estimate_s`, what a mature engine takes; ``"floor"`` and
``"per_op"`` use the floor and the per-op time.

Introduced in chapters/12_speculative_decoding.ipynb.

Examples
--------
>>> round(expected_tokens(0.8, 4), 4)          # 1 + 0.8 + 0.64 + 0.512 + 0.4096
3.3616
>>> s = speculate("llama-3-70b", "b200", alpha=0.8, gamma=4, draft_model="llama-3-8b")
>>> round(s.speedup, 2)
2.12
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import hardware, inference, kernels, models
from lib._validate import broadcast, choice, positive, scalar_or_array
from lib.hardware import Device
from lib.models import ModelConfig

__all__ = [
    "TIMINGS", "acceptance_rate", "expected_tokens", "expected_tokens_chain",
    "leviathan_speedup", "leviathan_operations", "best_gamma", "simulate_chain",
    "tree_from_paths", "tree_depths",
    "tree_node_probs", "expected_tokens_tree", "path_probs", "best_subtree", "simulate_tree",
    "tree_mask",
    "tree_attention_pairs", "tree_attention_flops", "chain", "Speculation", "speculate",
    "best_speculation", "medusa_tree_7b", "TreeSizes", "tree_sizes",
    "LEVIATHAN_T5", "EAGLE_VICUNA_7B", "EAGLE_VICUNA_7B_TAU", "MEDUSA_VICUNA_7B_TOPK",
    "MEDUSA_TREE_7B_63", "EAGLE_DRAFT_PARAMS", "MEDUSA_HEADS_7B", "medusa_heads_bytes",
    "cost_ratio_from_bytes",
]

#: Which of :class:`lib.inference.Estimate`'s times prices a step: the calibrated estimate
#: (what a mature engine takes), the floor (no implementation is faster) or the per-op time.
TIMINGS = {"estimate": "estimate_s", "floor": "floor_s", "per_op": "time_s"}

# --- published figures -------------------------------------------------------------------

#: Leviathan et al. (2023), Table 4 (Appendix A.3), T5-XXL 11B target on one TPU-v4 at
#: batch 1: (task, draft, temperature, gamma, alpha, c, expected speed-up by Theorem 3.8 as
#: printed, measured speed-up). ``c`` was estimated by the authors from profiler traces.
#: references.bib: leviathan2023speculative.
LEVIATHAN_T5 = (
    ("EnDe", "T5-small", 0, 7, 0.75, 0.02, 3.2, 3.4),
    ("EnDe", "T5-base", 0, 7, 0.80, 0.04, 3.3, 2.8),
    ("EnDe", "T5-large", 0, 7, 0.82, 0.11, 2.5, 1.7),
    ("EnDe", "T5-small", 1, 7, 0.62, 0.02, 2.3, 2.6),
    ("EnDe", "T5-base", 1, 5, 0.68, 0.04, 2.4, 2.4),
    ("EnDe", "T5-large", 1, 3, 0.71, 0.11, 2.0, 1.4),
    ("CNNDM", "T5-small", 0, 5, 0.65, 0.02, 2.4, 3.1),
    ("CNNDM", "T5-base", 0, 5, 0.73, 0.04, 2.6, 3.0),
    ("CNNDM", "T5-large", 0, 3, 0.74, 0.11, 2.0, 2.2),
    ("CNNDM", "T5-small", 1, 5, 0.53, 0.02, 1.9, 2.3),
    ("CNNDM", "T5-base", 1, 3, 0.55, 0.04, 1.8, 2.2),
    ("CNNDM", "T5-large", 1, 3, 0.56, 0.11, 1.6, 1.7),
)

#: EAGLE's acceptance rates for Vicuna 7B on MT-bench at temperature 0 (Li et al. 2024,
#: Table 2): "n-α" is the rate when the draft's input holds n features it predicted itself,
#: which in a chain draft is the rate at position n + 1. Measured with chain drafts.
#: references.bib: li2024eagle.
EAGLE_VICUNA_7B = (0.79, 0.74, 0.72, 0.73, 0.67)
#: EAGLE's measured average acceptance length for Vicuna 7B, MT-bench, temperature 0
#: (Li et al. 2024, Table 5): with a chain draft, and with its tree draft.
EAGLE_VICUNA_7B_TAU = {"chain": 3.20, "tree": 3.94}

#: EAGLE's draft ("auto-regression head": an FC layer and one decoder layer) for 7B, 13B,
#: 33B and 70B targets, trainable parameters (Li et al. 2024, Section 4, "Training"). Each
#: draft pass also reads the target's own LM head, which EAGLE reuses.
EAGLE_DRAFT_PARAMS = {"7B": 0.24e9, "13B": 0.37e9, "33B": 0.56e9, "70B": 0.99e9}

#: Medusa-1 heads on Vicuna-7B v1.3: each head's cumulative top-1 ... top-5 accuracy (head
#: k predicts the token k + 1 places after the next), from the training run the Medusa
#: repository publishes (FasterDecoding/Medusa, assets/medusa_acc.csv at 5d374e9, run "7b",
#: columns train/medusa{k}_top{i}; rounded to 4 digits). references.bib: cai2024medusa.
MEDUSA_VICUNA_7B_TOPK = (
    (0.5604, 0.6717, 0.7271, 0.7599, 0.7799),
    (0.3164, 0.4236, 0.4851, 0.5282, 0.5625),
    (0.2010, 0.2879, 0.3475, 0.3834, 0.4169),
    (0.1474, 0.2250, 0.2737, 0.3109, 0.3397),
    (0.1175, 0.1866, 0.2346, 0.2721, 0.2998),
)

#: Heads in that run (its name: test_medusa_mlp_vicuna-7b-v1.3_medusa_5_lr_0.001_layers_1).
MEDUSA_HEADS_7B = 5

#: Medusa's sparse tree for Vicuna-7B, ``mc_sim_7b_63`` (FasterDecoding/Medusa,
#: medusa/model/medusa_choices.py at 11af0aa): 63 nodes, each the ranks of the heads'
#: predictions along its path ([0, 1] is head 1's top-1 then head 2's top-2).
MEDUSA_TREE_7B_63 = (
    (0,), (0, 0), (1,), (0, 1), (2,), (0, 0, 0), (1, 0), (0, 2), (3,), (0, 3), (4,), (0, 4),
    (2, 0), (0, 5), (0, 0, 1), (5,), (0, 6), (6,), (0, 7), (0, 1, 0), (1, 1), (7,), (0, 8),
    (0, 0, 2), (3, 0), (0, 9), (8,), (9,), (1, 0, 0), (0, 2, 0), (1, 2), (0, 0, 3), (4, 0),
    (2, 1), (0, 0, 4), (0, 0, 5), (0, 0, 0, 0), (0, 1, 1), (0, 0, 6), (0, 3, 0), (5, 0),
    (1, 3), (0, 0, 7), (0, 0, 8), (0, 0, 9), (6, 0), (0, 4, 0), (1, 4), (7, 0), (0, 1, 2),
    (2, 0, 0), (3, 1), (2, 2), (8, 0), (0, 5, 0), (1, 5), (1, 0, 1), (0, 2, 1), (9, 0),
    (0, 6, 0), (0, 0, 0, 1), (1, 6), (0, 7, 0),
)


# --- how many tokens a verification yields ----------------------------------------------

def acceptance_rate(name: str, value: ArrayLike) -> np.ndarray:
    """Check acceptance rates: every element a number in [0, 1); return them as floats.

    A rate of 1 would accept every draft forever, and the closed form divides by
    ``1 - alpha``; give 0.999 for "almost always".

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> acceptance_rate("alpha", [0.6, 0.8]).tolist()
    [0.6, 0.8]
    >>> acceptance_rate("alpha", 1.2)
    Traceback (most recent call last):
    ...
    ValueError: alpha=1.2 must be an acceptance rate in [0, 1).
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number or an array of numbers.") from None
    bad = ~np.isfinite(arr) | (arr < 0) | (arr >= 1)
    if np.any(bad):
        shown = value if arr.ndim == 0 else arr[bad].ravel()[0].item()
        where = "" if arr.ndim == 0 else " (element)"
        raise ValueError(f"{name}{where}={shown!r} must be an acceptance rate in [0, 1).")
    return arr


def _gamma(gamma: ArrayLike) -> np.ndarray:
    return positive("gamma", gamma, integer=True)


def expected_tokens(alpha: ArrayLike, gamma: ArrayLike) -> Any:
    """Tokens one verification yields on average: ``(1 - alpha^(gamma+1)) / (1 - alpha)``.

    Each of the ``gamma`` draft tokens is accepted with probability ``alpha``, independently,
    until the first rejection; the target then adds one token of its own (the correction
    after a rejection, or a bonus token after ``gamma`` acceptances). The expectation is
    ``1 + alpha + ... + alpha^gamma`` (Leviathan et al. 2023, Equation 1). Broadcasts.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> round(expected_tokens(0.6, 2), 4)       # Leviathan et al., Table 1: 1.96X at c = 0
    1.96
    >>> expected_tokens(0.0, 5), expected_tokens([0.5, 0.9], 1).tolist()
    (1.0, [1.5, 1.9])
    """
    a = acceptance_rate("alpha", alpha)
    g = _gamma(gamma)
    a, g = broadcast(alpha=a, gamma=g)
    return scalar_or_array((1 - a ** (g + 1)) / (1 - a))


def expected_tokens_chain(alphas: ArrayLike) -> Any:
    """Tokens one verification yields with a rate per position: ``1 + sum_k prod_{i<=k} alpha_i``.

    ``alphas[..., k]`` is the probability that draft token ``k + 1`` is accepted given that
    the ones before it were (EAGLE's "n-α", say, falls with n). The last axis is the draft
    length ``gamma``. Equal rates give :func:`expected_tokens`.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> round(expected_tokens_chain([0.8, 0.5]), 4)        # 1 + 0.8 + 0.8 * 0.5
    2.2
    >>> round(expected_tokens_chain(EAGLE_VICUNA_7B), 2)   # EAGLE's rates, a chain of 5
    3.31
    """
    a = acceptance_rate("alphas", alphas)
    if a.ndim == 0 or a.shape[-1] == 0:
        raise ValueError(f"alphas={alphas!r} must hold one rate per draft position "
                         "(a list of gamma >= 1 rates).")
    return scalar_or_array(1 + np.cumprod(a, axis=-1).sum(axis=-1))


def leviathan_speedup(alpha: ArrayLike, gamma: ArrayLike, c: ArrayLike) -> Any:
    """Leviathan et al.'s expected walltime speed-up: ``E / (gamma c + 1)`` (Theorem 3.8).

    ``E`` is :func:`expected_tokens`; ``c`` is the draft's time per token over the target's
    time per step. The verification of ``gamma + 1`` tokens is priced as one target step,
    which holds while the step is memory-bound; :func:`speculate` prices it on the roofline
    instead.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> round(leviathan_speedup(0.75, 7, 0.02), 2)    # their Table 4 prints 3.2
    3.16
    >>> round(leviathan_speedup(0.2, 3, 0.0), 2)      # a bigram draft: "1.25X with γ=3"
    1.25
    """
    cost = positive("c", c, allow_zero=True)
    g = _gamma(gamma)
    return scalar_or_array(np.asarray(expected_tokens(alpha, g)) / (g * cost + 1))


def leviathan_operations(alpha: ArrayLike, gamma: ArrayLike, c_hat: ArrayLike = 0.0) -> Any:
    """Leviathan et al.'s growth in arithmetic, ``(gamma c_hat + gamma + 1) / E`` (Theorem 3.11).

    Each step runs the target on ``gamma + 1`` tokens and the draft on ``gamma`` (``c_hat``:
    the draft's FLOPs per token over the target's) but yields only :func:`expected_tokens`
    ``E`` of them: rejected drafts are arithmetic thrown away. Speculation trades FLOPs,
    which decode at a small batch has to spare, for fewer reads of the weights.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> round(leviathan_operations(0.6, 2), 2)        # their Table 1: 1.53X
    1.53
    """
    ch = positive("c_hat", c_hat, allow_zero=True)
    g = _gamma(gamma)
    return scalar_or_array((g * ch + g + 1) / np.asarray(expected_tokens(alpha, g)))


def best_gamma(alpha: ArrayLike, c: ArrayLike, max_gamma: int = 32) -> Any:
    """The whole draft length ``1 <= gamma <= max_gamma`` that maximises :func:`leviathan_speedup`.

    Leviathan et al. (2023, Section 3.5, Figure 3) find it numerically; so does this. Ties
    go to the shorter draft. Broadcasts over ``alpha`` and ``c``.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> int(best_gamma(0.8, 0.05)), best_gamma([0.6, 0.9], 0.0, max_gamma=8).tolist()
    (8, [8, 8])
    >>> best_gamma([0.5, 0.8, 0.9], 0.1).tolist()
    [2, 6, 10]
    """
    top = int(positive("max_gamma", max_gamma, integer=True))
    a = acceptance_rate("alpha", alpha)
    cost = positive("c", c, allow_zero=True)
    a, cost = broadcast(alpha=a, c=cost)
    g = np.arange(1, top + 1).reshape((top,) + (1,) * a.ndim)
    s = leviathan_speedup(a[None], g, cost[None])
    return scalar_or_array(np.argmax(np.asarray(s), axis=0) + 1)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(int(positive("seed", seed, allow_zero=True, integer=True)))


def simulate_chain(alphas: ArrayLike, steps: int = 100_000, seed: int = 0) -> np.ndarray:
    """Monte Carlo: tokens each of ``steps`` verifications yields with per-position rates.

    Draft token ``k`` is accepted when a uniform draw falls below ``alphas[k]`` and every
    earlier one was; the target adds one token. Seeded, so the draws repeat. The mean
    tends to :func:`expected_tokens_chain`.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> t = simulate_chain([0.8] * 4, steps=200_000, seed=1)
    >>> round(float(t.mean()), 2), int(t.min()), int(t.max())
    (3.36, 1, 5)
    """
    a = acceptance_rate("alphas", alphas)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"alphas={alphas!r} must be a list of gamma >= 1 rates.")
    n = int(positive("steps", steps, integer=True))
    ok = _rng(seed).random((n, a.size)) < a
    return 1 + np.cumprod(ok, axis=1).sum(axis=1)


# --- token trees ---------------------------------------------------------------------------

def tree_from_paths(paths: Any) -> np.ndarray:
    """Parent indices of a token tree given as paths of ranks (Medusa's ``medusa_choices``).

    Each path, such as ``(0, 1)``, names a node by the ranks chosen at each depth from the
    root (the last token the target has committed, not itself a node). Returns ``parents``:
    ``parents[i]`` is the index of node ``i``'s parent, ``-1`` for a child of the root.
    Nodes keep the order given; every prefix of a path must be a path too.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> tree_from_paths([(0,), (1,), (0, 0), (0, 1)]).tolist()
    [-1, -1, 0, 0]
    """
    keys = [tuple(int(r) for r in p) for p in paths]
    index = {k: i for i, k in enumerate(keys)}
    if len(index) != len(keys) or not keys:
        raise ValueError("paths must be a non-empty list of distinct paths of ranks.")
    parents = []
    for k in keys:
        if not k or min(k) < 0:
            raise ValueError(f"path {k!r} must be a non-empty tuple of ranks >= 0.")
        if len(k) > 1 and k[:-1] not in index:
            raise ValueError(f"path {k!r}: its parent {k[:-1]!r} is not in the tree; every "
                             f"prefix of a path must be a path too.")
        parents.append(index[k[:-1]] if len(k) > 1 else -1)
    return np.asarray(parents, dtype=int)


def _parents(parents: ArrayLike) -> np.ndarray:
    p = np.asarray(parents)
    if p.ndim != 1 or p.size == 0 or p.dtype.kind not in "iu":
        raise ValueError(f"parents={parents!r} must be a non-empty list of whole numbers.")
    bad = (p < -1) | (p >= np.arange(p.size))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"parents[{i}]={int(p[i])} must be -1 (a child of the root) or the "
                         f"index of an earlier node (0 to {i - 1}).")
    return p.astype(int)


def tree_depths(parents: ArrayLike) -> np.ndarray:
    """Depth of each node of a tree given by parent indices (a child of the root is at 1).

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> tree_depths([-1, 0, 1, -1]).tolist()
    [1, 2, 3, 1]
    """
    p = _parents(parents)
    depth = np.zeros(p.size, dtype=int)
    for i, parent in enumerate(p):
        depth[i] = 1 if parent < 0 else depth[parent] + 1
    return depth


def chain(gamma: int) -> np.ndarray:
    """The parents of a chain of ``gamma`` draft tokens: ``[-1, 0, 1, ..., gamma - 2]``.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> chain(4).tolist()
    [-1, 0, 1, 2]
    """
    g = int(positive("gamma", gamma, integer=True))
    return np.arange(g) - 1


def tree_node_probs(paths: Any, accuracy: ArrayLike) -> np.ndarray:
    """Each node's probability of being right given its parent was, from per-rank accuracies.

    ``accuracy[d, r]`` is the probability that the rank-``r`` prediction at depth ``d + 1``
    (Medusa's head ``d``) is the target's token. Medusa builds its trees on the same model,
    treating the heads as independent: a node's chance is its rank's accuracy at its depth
    (``get_node_expectation`` in medusa/eval/gen_results.py). Per-rank accuracies are the
    differences of cumulative top-k accuracies (``np.diff(topk, prepend=0)``).

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> tree_node_probs([(0,), (1,), (0, 0)], [[0.6, 0.1], [0.3, 0.1]]).tolist()
    [0.6, 0.1, 0.3]
    """
    acc = np.asarray(accuracy, dtype=float)
    if acc.ndim != 2:
        raise ValueError("accuracy must be a table: one row per depth, one column per rank.")
    acceptance_rate("accuracy", acc)
    if np.any(acc.sum(axis=1) > 1 + 1e-12):
        raise ValueError("accuracy: a row's per-rank accuracies are exclusive events and "
                         "must sum to at most 1 (give per-rank, not cumulative top-k, values).")
    out = []
    for p in paths:
        d, r = len(p) - 1, int(p[-1])
        if d >= acc.shape[0] or r >= acc.shape[1]:
            raise ValueError(f"path {tuple(p)!r} needs depth {d + 1} rank {r + 1}, but the "
                             f"accuracy table has {acc.shape[0]} depths of {acc.shape[1]} ranks.")
        out.append(acc[d, r])
    return np.asarray(out)


def _tree_inputs(parents: ArrayLike, probs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = _parents(parents)
    q = acceptance_rate("probs", probs)
    if q.shape != p.shape:
        raise ValueError(f"probs has {q.size} values for {p.size} nodes: give one per node.")
    sums = np.zeros(p.size + 1)
    np.add.at(sums, p + 1, q)                       # children of each parent (root first)
    if np.any(sums > 1 + 1e-12):
        i = int(np.argmax(sums > 1 + 1e-12)) - 1
        who = "the root" if i < 0 else f"node {i}"
        raise ValueError(f"probs: the children of {who} sum to {sums[i + 1]:.3g}; siblings "
                         f"are different tokens, at most one of them right, so their "
                         f"probabilities must sum to at most 1.")
    return p, q


def expected_tokens_tree(parents: ArrayLike, probs: ArrayLike) -> float:
    """Tokens one tree verification yields on average: ``1 + sum over nodes of P(path accepted)``.

    ``probs[i]`` is the probability that node ``i`` is the target's token given that its
    parent was (:func:`tree_node_probs`); siblings are different tokens, so at most one is
    right. The accepted tokens are the right path from the root, and the expected length of
    that path is the sum over nodes of the product of ``probs`` along each node's path; the
    target adds one token of its own. A chain (:func:`chain`) gives
    :func:`expected_tokens_chain`.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> round(expected_tokens_tree([-1, 0], [0.8, 0.5]), 4)          # a chain: 1 + 0.8 + 0.4
    2.2
    >>> round(expected_tokens_tree([-1, -1, 0], [0.6, 0.2, 0.5]), 4)  # 1 + 0.6 + 0.2 + 0.3
    2.1
    """
    return float(1 + path_probs(parents, probs).sum())


def simulate_tree(parents: ArrayLike, probs: ArrayLike, steps: int = 100_000,
                  seed: int = 0) -> np.ndarray:
    """Monte Carlo: tokens each of ``steps`` tree verifications yields.

    Walks from the root: among an accepted node's children, child ``j`` is the target's
    token with probability ``probs[j]`` (at most one is), and the walk stops where none is.
    The count is the accepted depth plus the target's own token. Seeded. The mean tends to
    :func:`expected_tokens_tree`.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> t = simulate_tree([-1, -1, 0], [0.6, 0.2, 0.5], steps=200_000, seed=2)
    >>> round(float(t.mean()), 2)
    2.1
    """
    p, q = _tree_inputs(parents, probs)
    n = int(positive("steps", steps, integer=True))
    rng = _rng(seed)
    children = [np.flatnonzero(p == i) for i in range(-1, p.size)]
    node = np.full(n, -1)                             # current accepted node (-1: the root)
    count = np.ones(n, dtype=int)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        u = rng.random(n)
        nxt = np.full(n, -2)                          # -2: no child is right
        for parent in np.unique(node[alive]):
            kids = children[parent + 1]
            rows = alive & (node == parent)
            if kids.size == 0:
                continue
            edges = np.cumsum(q[kids])
            pick = np.searchsorted(edges, u[rows], side="right")
            nxt[rows] = np.where(pick < kids.size, kids[np.minimum(pick, kids.size - 1)], -2)
        alive &= nxt >= 0
        node = np.where(alive, nxt, node)
        count += alive
    return count


def path_probs(parents: ArrayLike, probs: ArrayLike) -> np.ndarray:
    """Each node's probability that the whole path to it is accepted (product along the path).

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> path_probs([-1, -1, 0], [0.6, 0.2, 0.5]).tolist()
    [0.6, 0.2, 0.3]
    """
    p, q = _tree_inputs(parents, probs)
    path = np.empty(p.size)
    for i, parent in enumerate(p):
        path[i] = q[i] * (1.0 if parent < 0 else path[parent])
    return path


def best_subtree(parents: ArrayLike, probs: ArrayLike, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``size`` nodes with the most likely paths, as a tree of their own (parents, probs).

    A child's path is never more likely than its parent's, so the most likely nodes (ties to
    the shallower) always include their ancestors: the result is a tree, and it has the
    largest :func:`expected_tokens_tree` of any subtree of that size. This is the greedy
    choice Medusa makes node by node (``explore_graph`` in medusa/eval/gen_results.py).

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> best_subtree([-1, -1, 0, 2], [0.6, 0.2, 0.5, 0.9], 3)[0].tolist()
    [-1, 0, 1]
    """
    p, q = _tree_inputs(parents, probs)
    n = int(positive("size", size, integer=True))
    if n > p.size:
        raise ValueError(f"size={size!r} must be at most the tree's {p.size} nodes.")
    order = np.lexsort((tree_depths(p), -path_probs(p, q)))[:n]
    keep = np.sort(order)
    new = {-1: -1, **{int(old): i for i, old in enumerate(keep)}}
    return np.asarray([new[int(p[i])] for i in keep]), q[keep]


def tree_mask(parents: ArrayLike) -> np.ndarray:
    """The tree attention mask over a verification's ``n + 1`` new tokens (root first).

    Row ``i`` says which new tokens token ``i`` may attend to: itself and its ancestors
    (the root, the last committed token, is everyone's ancestor). Every token also attends
    to the whole KV cache, which the mask leaves out. A chain's mask is the causal one.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> tree_mask([-1, -1, 0]).astype(int).tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 1]]
    """
    p = _parents(parents)
    m = np.eye(p.size + 1, dtype=bool)
    m[:, 0] = True
    for i, parent in enumerate(p):
        if parent >= 0:
            m[i + 1] |= m[parent + 1]
    return m


def tree_attention_pairs(parents: ArrayLike, context: ArrayLike) -> tuple[Any, Any]:
    """(query, key) scores per sequence and head of a tree verification, and of a causal one.

    The verification feeds ``n + 1`` tokens (the root and ``n`` nodes) over ``context``
    cached tokens. Under the tree mask token ``i`` scores ``context + depth_i + 1`` keys (the
    cache, its ancestors, itself; the root has depth 0). :mod:`lib.transformer` counts the
    dense causal block instead, ``(n+1) context + (n+1)(n+2)/2``
    (:attr:`lib.transformer.ForwardPass.pairs` with ``causal_skip``). A tree never needs more,
    since a node at depth ``d`` sits at position ``>= d``; a chain needs exactly as many.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> tree_attention_pairs([-1, -1, 0], 100)      # root 101, two nodes 102, one 103
    (408.0, 410.0)
    >>> tree_attention_pairs(chain(3), 100)
    (410.0, 410.0)
    """
    m = tree_mask(parents)
    c = positive("context", context, allow_zero=True, integer=True)
    n1 = m.shape[0]
    tree = n1 * c + m.sum()
    causal = n1 * c + n1 * (n1 + 1) / 2
    return scalar_or_array(tree), scalar_or_array(causal)


def tree_attention_flops(model: "str | ModelConfig", parents: ArrayLike, context: ArrayLike,
                         batch: ArrayLike = 1) -> tuple[Any, Any]:
    """Attention-matmul FLOPs of a tree verification, under the tree mask and the causal one.

    Both of :func:`lib.kernels.attention`'s matmuls (``Q K^T`` and ``P V``), every layer,
    every query head, for :func:`tree_attention_pairs`' two counts. The difference is what
    a kernel that skips the masked-out blocks saves; the KV bytes are the same (the cache
    is read once either way), and so is everything outside attention.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> tree, causal = tree_attention_flops("llama-2-7b", tree_from_paths(MEDUSA_TREE_7B_63), 1024)
    >>> round(tree / 1e9, 2), round(causal / 1e9, 2)
    (34.47, 35.45)
    """
    m = models.get(model)
    p = _parents(parents)
    tree, causal = tree_attention_pairs(p, context)
    keys = np.asarray(m.kv_tokens(context), float) + p.size + 1
    out = []
    for pairs in (tree, causal):
        qk, _, pv = kernels.attention(batch, p.size + 1, keys, pairs, m.n_heads, m.n_kv_heads,
                                      m.head_dim)
        out.append(scalar_or_array(m.n_layers * (np.asarray(qk.flops) + np.asarray(pv.flops))))
    return out[0], out[1]


# --- what it costs -------------------------------------------------------------------------

def medusa_heads_bytes(model: "str | ModelConfig", heads: int = MEDUSA_HEADS_7B,
                       layers: int = 1, dtype: str = "bf16") -> float:
    """Weight bytes one pass of Medusa's heads reads: per head, ``layers`` residual blocks
    (a ``d x d`` linear with bias) and its own ``d x V`` vocabulary projection.

    The heads' structure is Medusa's (``medusa_head`` in medusa/model/medusa_model.py: a
    ``ResBlock(hidden_size)`` repeated ``medusa_num_layers`` times, then
    ``nn.Linear(hidden_size, vocab_size, bias=False)``); the bytes are
    :func:`lib.kernels.gemm`'s weights for those matrices.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> round(medusa_heads_bytes("llama-2-7b") / 1e9, 3)   # 5 x (4096^2 + 4096 + 4096 x 32000) x 2
    1.479
    """
    m = models.get(model)
    h = int(positive("heads", heads, integer=True))
    n = int(positive("layers", layers, integer=True))
    block = kernels.gemm(1, m.d_model, m.d_model, dtype, bias=True).bytes_weights
    vocab = kernels.gemm(1, m.vocab_size, m.d_model, dtype).bytes_weights
    return float(h * (n * np.asarray(block) + np.asarray(vocab)))


def cost_ratio_from_bytes(model: "str | ModelConfig", device: "str | Device",
                          draft_bytes: ArrayLike,
                          batch: ArrayLike = 1, context: ArrayLike = 1024,
                          **kwargs: Any) -> Any:
    """A draft pass's cost ratio ``c`` estimated from the bytes it reads: ``draft / step bytes``.

    Both the draft pass and the target's decode step (:func:`lib.inference.decode`) are
    memory-bound at a small batch, so their times are about in the ratio of their bytes. At
    a large batch this undercounts the draft. Keywords as in :func:`lib.inference.decode`.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> round(cost_ratio_from_bytes("llama-2-7b", "h100-sxm", medusa_heads_bytes("llama-2-7b")), 3)
    0.107
    """
    d = positive("draft_bytes", draft_bytes, allow_zero=True)
    step = inference.decode(model, device, batch, context, **kwargs)
    return scalar_or_array(d / np.asarray(step.bytes))

@dataclass(frozen=True)
class Speculation:
    """One speculative configuration on a device: tokens per verification, times, speed-up.

    All times are seconds per verification step (per device) at the chosen ``timing``;
    arrays where the inputs were arrays.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Attributes
    ----------
    model, device, draft : str
        Target, device, and the draft (a catalog model, or ``"cost ratio c=..."``).
    timing : str
        One of :data:`TIMINGS`.
    alpha : float, tuple or ndarray
        The acceptance rate, or the per-position rates of a chain.
    gamma, batch, context : float or ndarray
        Draft tokens per step (for a tree: its nodes), sequences, tokens cached.
    expected_tokens_per_step : float or ndarray
        Tokens each sequence gains per verification (:func:`expected_tokens`).
    draft_time_s, verify_time_s, baseline_step_s : float or ndarray
        The draft's time, the verification's (``gamma + 1`` tokens through the target), and
        one plain decode step of the target.
    step_time_s, time_per_token_s : float or ndarray
        ``draft + verify``; and that over the expected tokens.
    speedup : float or ndarray
        ``baseline_step_s / time_per_token_s``: plain time per token over speculative.
    verify_ratio : float or ndarray
        ``verify_time_s / baseline_step_s``: what Leviathan et al. take to be 1.
    fits : bool or ndarray
        Whether the target's weights and cache (and a draft model's) fit the device.
    """

    model: str
    device: str
    draft: str
    timing: str
    alpha: Any
    gamma: Any
    batch: Any
    context: Any
    expected_tokens_per_step: Any
    draft_time_s: Any
    verify_time_s: Any
    baseline_step_s: Any
    step_time_s: Any
    time_per_token_s: Any
    speedup: Any
    verify_ratio: Any
    fits: Any

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the calculator's ``--json``).

        Introduced in chapters/12_speculative_decoding.ipynb.

        Examples
        --------
        >>> d = speculate("llama-3-8b", "h100-sxm", 0.7, 3, draft_cost=0.05).to_dict()
        >>> sorted(d)[:4], d["gamma"]
        (['alpha', 'baseline_step_s', 'batch', 'context'], 3)
        """
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, (np.generic,)):
                v = v.item()
            if f.name in ("gamma", "batch", "context") and isinstance(v, float) and v.is_integer():
                v = int(v)
            out[f.name] = v
        return out


def _times(est: inference.Estimate, timing: str) -> np.ndarray:
    return np.asarray(getattr(est, TIMINGS[timing]), float)


def speculate(model: "str | ModelConfig", device: "str | Device", alpha: ArrayLike,
              gamma: ArrayLike | None = None, *, draft_model: "str | ModelConfig | None" = None,
              draft_cost: ArrayLike | None = None, batch: ArrayLike = 1,
              context: ArrayLike = 1024, weight_dtype: str = "bf16", kv_dtype: str = "bf16",
              timing: str = "estimate", tree: ArrayLike | None = None,
              tree_probs: ArrayLike | None = None, draft_passes: ArrayLike | None = None,
              **kwargs: Any) -> Speculation:
    """Speculative decoding priced on the device: draft, verification, speed-up.

    One step: the draft proposes ``gamma`` tokens per sequence, the target verifies them in
    one forward of ``gamma + 1`` tokens over ``context`` cached ones
    (:func:`lib.inference.forward` with ``all_logits=True``), and each sequence gains
    :func:`expected_tokens` tokens. The speed-up is the plain decode step
    (:func:`lib.inference.decode`) over the time per token,
    ``(draft + verify) / expected tokens``.

    The draft is either a catalog model on the same device (``draft_model``: ``gamma`` of its
    decode steps at contexts ``context ... context + gamma - 1``), or a cost ratio
    (``draft_cost`` ``c``: each draft token costs ``c`` plain target steps, Leviathan et al.'s
    Definition 3.7). The calibrated estimate charges decode attention's fixed per-call cost
    to every forward that reads a KV cache (:mod:`lib.efficiency`), so a verification never
    costs less than the plain step it contains.

    Parameters
    ----------
    model, device : str, ModelConfig or Device
        The target and the device (catalog names or objects).
    alpha : float, array_like
        Acceptance rate in [0, 1) (broadcasts); or, as a list with ``gamma`` omitted or
        equal to its length, one rate per draft position (:func:`expected_tokens_chain`).
        With ``tree`` it is not used (pass 0): the tree's probabilities say it all.
    gamma : int or array_like of int >= 1
        Draft tokens per step. Broadcasts with ``alpha`` (scalar), ``batch``, ``context``.
    draft_model, draft_cost : optional
        Exactly one: a catalog draft model (same device, same precisions), or ``c >= 0``.
    batch, context : array_like of int
        Sequences (>= 1) and tokens already cached in each (>= 0).
    weight_dtype, kv_dtype : str
        Precisions of the target (and of a draft model).
    timing : {"estimate", "floor", "per_op"}
        Which time prices each forward (:data:`TIMINGS`); the calibrated estimate by default.
    tree, tree_probs : array_like, optional
        Verify a token tree instead of a chain: parent indices and each node's conditional
        probability (:func:`expected_tokens_tree`). ``gamma`` is then its node count.
    draft_passes : int, optional
        With ``draft_cost``: how many draft passes a step takes (default ``gamma``, one per
        draft token; Medusa's heads propose a whole tree in 1; EAGLE drafts a tree in as many
        passes as it is deep).
    **kwargs
        Passed to :func:`lib.inference.forward` (``tp``, ``cuda_graphs``, ...).

    Returns
    -------
    Speculation

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> s = speculate("llama-3-8b", "h100-sxm", alpha=0.8, gamma=[2, 4, 8], draft_cost=0.05)
    >>> s.speedup.round(2), s.verify_ratio.round(3)
    (array([2.22, 2.79, 3.08]), array([1.001, 1.003, 1.006]))
    >>> big = speculate("llama-3-8b", "h100-sxm", alpha=0.8, gamma=4, draft_cost=0.05,
    ...                 batch=[1, 256])
    >>> big.speedup.round(2)                   # verification is no longer free at batch 256
    array([2.79, 1.32])
    """
    t = choice("timing", timing, TIMINGS)
    if (draft_model is None) == (draft_cost is None):
        raise ValueError("give exactly one of draft_model (a catalog draft model) or "
                         "draft_cost (c = draft time per token / target decode step, >= 0).")
    rates = acceptance_rate("alpha", alpha)
    if tree is not None:
        if tree_probs is None:
            raise ValueError("tree needs tree_probs: each node's probability given its parent.")
        parents = _parents(tree)
        tau = np.asarray(expected_tokens_tree(parents, tree_probs))
        g = positive("gamma", parents.size if gamma is None else gamma, integer=True)
        if np.any(g != parents.size):
            raise ValueError(f"gamma={gamma!r}: a tree of {parents.size} nodes verifies "
                             f"{parents.size} draft tokens; leave gamma out.")
        label_alpha: Any = "tree"
    elif rates.ndim == 1 and (gamma is None or (np.ndim(gamma) == 0
                                                 and int(gamma) == rates.size)):
        if gamma is not None:
            _gamma(gamma)
        g = np.asarray(float(rates.size))
        tau = np.asarray(expected_tokens_chain(rates))
        label_alpha = tuple(float(a) for a in rates)
    else:
        if gamma is None:
            raise ValueError("gamma is needed with a single acceptance rate (or give one rate "
                             "per draft position as a list).")
        if rates.ndim == 1 and np.ndim(gamma) == 0:
            raise ValueError(f"alpha has {rates.size} per-position rates but gamma={gamma!r}: "
                             f"give gamma={rates.size}, or leave it out.")
        g = _gamma(gamma)
        tau = np.asarray(expected_tokens(rates, g))
        label_alpha = scalar_or_array(rates)
    b = positive("batch", batch, integer=True)
    c = positive("context", context, allow_zero=True, integer=True)
    b, c, g, tau = broadcast(batch=b, context=c, gamma=g, alpha=tau)
    kw = dict(weight_dtype=weight_dtype, kv_dtype=kv_dtype, **kwargs)
    base = inference.decode(model, device, b, c, **kw)
    verify = inference.forward(model, device, b, g + 1, c, all_logits=True, phase="verify", **kw)
    base_t = _times(base, t)
    verify_t = _times(verify, t)
    fits = np.asarray(verify.fits)
    if draft_model is not None:
        if draft_passes is not None:
            raise ValueError("draft_passes applies to draft_cost; a draft model takes one "
                             "decode step per draft token.")
        if tree is not None:
            raise ValueError("a draft model drafts a chain; price a tree with draft_cost.")
        top = int(g.max())
        steps = inference.decode(draft_model, device, b[..., None],
                                 c[..., None] + np.arange(top), **kw)
        cum = np.cumsum(_times(steps, t), axis=-1)
        draft_t = np.take_along_axis(cum, (g.astype(int) - 1)[..., None], axis=-1)[..., 0]
        dm = models.get(draft_model)
        draft_label = dm.name
        fits = (np.asarray(verify.memory_required)
                + np.asarray(steps.memory_required)[..., -1]
                <= hardware.get(device).memory_capacity)
    else:
        cost = positive("draft_cost", draft_cost, allow_zero=True)
        passes = g if draft_passes is None else positive("draft_passes", draft_passes,
                                                         integer=True)
        draft_t = passes * cost * base_t
        draft_label = f"cost ratio c={float(cost) if cost.ndim == 0 else cost.tolist()}"
    step = draft_t + verify_t
    per_token = step / tau
    s = scalar_or_array
    return Speculation(
        model=models.get(model).name, device=base.device, draft=draft_label, timing=t,
        alpha=label_alpha, gamma=s(g), batch=s(b), context=s(c),
        expected_tokens_per_step=s(tau), draft_time_s=s(draft_t), verify_time_s=s(verify_t),
        baseline_step_s=s(base_t), step_time_s=s(step), time_per_token_s=s(per_token),
        speedup=s(base_t / per_token), verify_ratio=s(verify_t / base_t),
        fits=bool(fits) if np.ndim(fits) == 0 else fits)


def best_speculation(model: "str | ModelConfig", device: "str | Device", alpha: ArrayLike,
                     max_gamma: int = 16, **kwargs: Any) -> Speculation:
    """:func:`speculate` at the whole draft length ``1..max_gamma`` with the largest speed-up.

    One ``alpha`` and one configuration (scalars); keywords as in :func:`speculate`. Ties go
    to the shorter draft.

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> best = best_speculation("llama-3-8b", "h100-sxm", 0.8, draft_cost=0.05)
    >>> int(best.gamma), round(best.speedup, 2)
    (8, 3.08)
    """
    top = int(positive("max_gamma", max_gamma, integer=True))
    sweep = speculate(model, device, alpha, np.arange(1, top + 1), **kwargs)
    speed = np.asarray(sweep.speedup)
    if speed.ndim != 1:
        raise ValueError("best_speculation takes one alpha, batch and context (scalars).")
    return speculate(model, device, alpha, int(np.argmax(speed)) + 1, **kwargs)


# --- how big a tree --------------------------------------------------------------------------

def medusa_tree_7b() -> tuple[np.ndarray, np.ndarray]:
    """Medusa's Vicuna-7B tree cut to the nodes the published accuracies cover: (parents, probs).

    :data:`MEDUSA_TREE_7B_63` keeps the paths whose every rank is within the top 5 that
    :data:`MEDUSA_VICUNA_7B_TOPK` covers (38 of 63 nodes); each node's probability is its
    rank's accuracy at its depth (:func:`tree_node_probs`, per-rank accuracies being the
    differences of the cumulative top-k ones).

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> parents, probs = medusa_tree_7b()
    >>> tau = expected_tokens_tree(parents, probs)
    >>> parents.size, int(tree_depths(parents).max()), round(tau, 3)
    (38, 4, 2.34)
    """
    paths = [p for p in MEDUSA_TREE_7B_63 if max(p) < len(MEDUSA_VICUNA_7B_TOPK[0])]
    acc = np.diff(np.asarray(MEDUSA_VICUNA_7B_TOPK), prepend=0, axis=1)
    return tree_from_paths(paths), tree_node_probs(paths, acc)


@dataclass(frozen=True)
class TreeSizes:
    """Speculation with the best token tree of each size (:func:`tree_sizes`).

    Introduced in chapters/12_speculative_decoding.ipynb.

    Attributes
    ----------
    sizes : ndarray of int
        Nodes in each tree (draft tokens verified per step).
    expected_tokens_per_step, verify_ratio, speedup : ndarray
        For each size: tokens a verification yields (:func:`expected_tokens_tree`), the
        verification's time in plain decode steps, and the speed-up (:func:`speculate`).
    draft_cost : float
        The draft's cost ratio ``c``: one pass, paid once per step whatever the size.
    fits : ndarray of bool
        Whether the target's weights and cache fit the device.
    best_size : int
        The size with the largest speed-up (ties to the smaller tree).
    best_speedup : float
        That speed-up.
    """

    sizes: np.ndarray
    expected_tokens_per_step: np.ndarray
    verify_ratio: np.ndarray
    speedup: np.ndarray
    draft_cost: float
    fits: np.ndarray
    best_size: int
    best_speedup: float


def tree_sizes(model: "str | ModelConfig", device: "str | Device", parents: ArrayLike,
               probs: ArrayLike, draft_bytes: float, sizes: ArrayLike | None = None, *,
               batch: int = 1, context: int = 1024, **kwargs: Any) -> TreeSizes:
    """:func:`speculate` with the best subtree of each size, drafted in one pass.

    For each size ``n`` the tree is :func:`best_subtree` of ``(parents, probs)``, the ``n``
    nodes with the most likely paths. The draft is one pass that proposes the whole tree
    (Medusa's heads) reading ``draft_bytes``; its cost ratio is
    :func:`cost_ratio_from_bytes` at this batch and context, so the pass costs its bytes
    whatever the batch. One batch and one context (scalars); keywords as in
    :func:`speculate` (``timing``, ``weight_dtype``, ``kv_dtype``, ...).

    Introduced in chapters/12_speculative_decoding.ipynb.

    Examples
    --------
    >>> parents, probs = medusa_tree_7b()
    >>> heads = medusa_heads_bytes("llama-2-7b")
    >>> t = tree_sizes("llama-2-7b", "h100-sxm", parents, probs, heads, [1, 8, 38])
    >>> t.expected_tokens_per_step.round(2), t.speedup.round(2), t.best_size
    (array([1.56, 2.07, 2.34]), array([1.41, 1.86, 2.06]), 38)
    """
    p, q = _tree_inputs(parents, probs)
    n = (np.arange(1, p.size + 1) if sizes is None
         else positive("sizes", sizes, integer=True).astype(int).ravel())
    if n.size == 0 or n.max() > p.size:
        raise ValueError(f"sizes={sizes!r} must be whole numbers from 1 to the tree's "
                         f"{p.size} nodes.")
    if np.ndim(batch) or np.ndim(context):
        raise ValueError("tree_sizes takes one batch and one context (scalars).")
    step_kw = {k: v for k, v in kwargs.items() if k != "timing"}
    c = float(cost_ratio_from_bytes(model, device, draft_bytes, batch, context, **step_kw))
    runs = [speculate(model, device, 0.0, tree=t, tree_probs=tq, draft_cost=c, draft_passes=1,
                      batch=batch, context=context, **kwargs)
            for t, tq in (best_subtree(p, q, int(k)) for k in n)]
    speed = np.array([float(r.speedup) for r in runs])
    i = int(np.argmax(speed))
    return TreeSizes(
        sizes=n, expected_tokens_per_step=np.array([float(r.expected_tokens_per_step)
                                                    for r in runs]),
        verify_ratio=np.array([float(r.verify_ratio) for r in runs]), speedup=speed,
        draft_cost=c, fits=np.array([bool(r.fits) for r in runs]), best_size=int(n[i]),
        best_speedup=float(speed[i]))
