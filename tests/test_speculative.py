"""lib.speculative: known answers from the papers, Monte Carlo against the closed forms,
tree masks against hand counts, and the cost model's composition of lib.inference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import inference, models
from lib import speculative as sp

rates = st.floats(0.0, 0.99)
gammas = st.integers(1, 12)


# --- known answers: Leviathan et al. 2023 -------------------------------------------------

#: Their Table 1 (c = ĉ = 0): alpha, gamma, operations, speed, as printed.
TABLE_1 = [(0.6, 2, 1.53, 1.96), (0.7, 3, 1.58, 2.53), (0.8, 2, 1.23, 2.44),
           (0.8, 5, 1.63, 3.69), (0.9, 2, 1.11, 2.71), (0.9, 10, 1.60, 6.86)]


@pytest.mark.parametrize("alpha,gamma,ops,speed", TABLE_1)
def test_leviathan_table_1(alpha, gamma, ops, speed):
    assert round(sp.leviathan_speedup(alpha, gamma, 0.0), 2) == speed
    assert round(sp.expected_tokens(alpha, gamma), 2) == speed        # c = 0: E itself
    assert round(sp.leviathan_operations(alpha, gamma), 2) == ops


@pytest.mark.parametrize("row", sp.LEVIATHAN_T5, ids=lambda r: f"{r[0]}-{r[1]}-T{r[2]}")
def test_leviathan_table_4_expected_column(row):
    """Theorem 3.8 reproduces the printed 'Exp' once the rounding of what is printed is
    allowed for: alpha and c to two decimals (+-0.005), Exp to one (+-0.05)."""
    _, _, _, gamma, alpha, c, expected, measured = row
    a = alpha + np.array([-0.005, 0.005])[:, None]
    cost = np.maximum(c + np.array([-0.005, 0.005]), 0)[None, :]
    span = sp.leviathan_speedup(a, gamma, cost)
    assert span.min() - 0.05 <= expected <= span.max() + 0.05
    assert abs(sp.leviathan_speedup(alpha, gamma, c) - expected) < 0.07
    assert 1 < measured < 4


def test_leviathan_worked_numbers_in_the_text():
    # Section 3.6: a bigram draft, alpha about 0.2, c = 0, gamma = 3: "1.25X"
    assert round(sp.leviathan_speedup(0.2, 3, 0.0), 2) == 1.25
    # Corollary 3.9: gamma = 1 gives (1 + alpha) / (1 + c)
    assert sp.leviathan_speedup(0.7, 1, 0.1) == pytest.approx(1.7 / 1.1)
    # Section 3.5: an oracle gamma would give 1 / (1 - alpha); a long draft approaches it
    assert sp.expected_tokens(0.8, 200) == pytest.approx(1 / 0.2)


def test_best_gamma_by_hand():
    # alpha 0.8, c 0.1: gamma 5, 6, 7 give 2.459, 2.470, 2.448 (computed by hand)
    assert sp.best_gamma(0.8, 0.1) == 6
    # c = 0 never stops paying: the longest draft allowed wins
    assert sp.best_gamma(0.5, 0.0, max_gamma=9) == 9
    # alpha <= c: no draft pays; gamma = 1 is the least bad and still loses
    assert sp.best_gamma(0.1, 0.2) == 1 and sp.leviathan_speedup(0.1, 1, 0.2) < 1


# --- expected tokens: closed forms agree with each other and with Monte Carlo ----------------

@given(rates, gammas)
def test_closed_form_is_the_geometric_sum(alpha, gamma):
    by_sum = sum(alpha ** k for k in range(gamma + 1))
    assert sp.expected_tokens(alpha, gamma) == pytest.approx(by_sum, rel=1e-9)
    assert sp.expected_tokens_chain([alpha] * gamma) == pytest.approx(by_sum, rel=1e-9)
    assert 1 <= sp.expected_tokens(alpha, gamma) <= gamma + 1


@settings(max_examples=30)
@given(st.lists(rates, min_size=1, max_size=8))
def test_a_chain_is_a_tree(alphas):
    assert sp.expected_tokens_tree(sp.chain(len(alphas)), alphas) == pytest.approx(
        sp.expected_tokens_chain(alphas))


def test_expected_tokens_grows_with_alpha_and_gamma():
    e = sp.expected_tokens(np.array([[0.5], [0.7], [0.9]]), np.arange(1, 9))
    assert np.all(np.diff(e, axis=0) > 0) and np.all(np.diff(e, axis=1) > 0)


@pytest.mark.parametrize("alphas", [[0.8] * 4, [0.79, 0.74, 0.72, 0.73, 0.67], [0.3, 0.9]])
def test_monte_carlo_chain_agrees_with_the_closed_form(alphas):
    draws = sp.simulate_chain(alphas, steps=200_000, seed=7)
    stderr = draws.std() / np.sqrt(draws.size)
    assert abs(draws.mean() - sp.expected_tokens_chain(alphas)) < 4 * stderr
    assert draws.min() >= 1 and draws.max() <= len(alphas) + 1


def test_monte_carlo_tree_agrees_with_the_closed_form():
    acc = np.diff(np.asarray(sp.MEDUSA_VICUNA_7B_TOPK), prepend=0, axis=1)
    paths = [p for p in sp.MEDUSA_TREE_7B_63 if max(p) < 5]
    parents = sp.tree_from_paths(paths)
    probs = sp.tree_node_probs(paths, acc)
    draws = sp.simulate_tree(parents, probs, steps=200_000, seed=3)
    stderr = draws.std() / np.sqrt(draws.size)
    assert abs(draws.mean() - sp.expected_tokens_tree(parents, probs)) < 4 * stderr
    assert draws.max() <= sp.tree_depths(parents).max() + 1


def test_simulations_are_seeded():
    assert np.array_equal(sp.simulate_chain([0.5] * 3, 1000, seed=1),
                          sp.simulate_chain([0.5] * 3, 1000, seed=1))
    tree = ([-1, -1, 0], [0.5, 0.3, 0.6])
    assert np.array_equal(sp.simulate_tree(*tree, 1000, seed=4),
                          sp.simulate_tree(*tree, 1000, seed=4))


def test_tree_by_hand():
    # root -> a (0.6), b (0.2); a -> c (0.5), d (0.3); c -> e (0.9)
    parents, probs = [-1, -1, 0, 0, 2], [0.6, 0.2, 0.5, 0.3, 0.9]
    by_hand = 1 + 0.6 + 0.2 + 0.6 * 0.5 + 0.6 * 0.3 + 0.6 * 0.5 * 0.9
    assert sp.expected_tokens_tree(parents, probs) == pytest.approx(by_hand)
    assert sp.tree_depths(parents).tolist() == [1, 1, 2, 2, 3]


# --- published multi-token figures ----------------------------------------------------------

def test_eagle_rates_reproduce_the_measured_chain_within_four_percent():
    """EAGLE Table 2's per-position rates as an independent chain of five, against the
    chain's measured acceptance length (Table 5: 3.20). The model assumes independence."""
    tau = sp.expected_tokens_chain(sp.EAGLE_VICUNA_7B)
    assert round(tau, 2) == 3.31                     # 1 + .79 + .5846 + .4209 + .3073 + .2059
    assert tau == pytest.approx(sp.EAGLE_VICUNA_7B_TAU["chain"], rel=0.04)
    assert sp.EAGLE_VICUNA_7B_TAU["tree"] > tau      # the tree accepts more than any chain


def test_medusa_figures_are_what_the_repository_publishes():
    topk = np.asarray(sp.MEDUSA_VICUNA_7B_TOPK)
    assert topk[0, 0] == 0.5604 and topk[4, 4] == 0.2998     # assets/medusa_acc.csv, run 7b
    assert np.all(np.diff(topk, axis=1) > 0)                 # cumulative top-k
    assert np.all(np.diff(topk[:, 0]) < 0)                   # later heads are worse
    assert len(sp.MEDUSA_TREE_7B_63) == 63 == len(set(sp.MEDUSA_TREE_7B_63))
    parents = sp.tree_from_paths(sp.MEDUSA_TREE_7B_63)
    assert sp.tree_depths(parents).max() == 4
    assert sum(1 for p in sp.MEDUSA_TREE_7B_63 if max(p) < 5) == 38


# --- tree attention ----------------------------------------------------------------------------

def test_tree_mask_and_pairs_by_hand():
    m = sp.tree_mask([-1, -1, 0, 2])
    assert m.sum(axis=1).tolist() == [1, 2, 2, 3, 4]       # self + ancestors incl. the root
    tree, causal = sp.tree_attention_pairs([-1, -1, 0, 2], 10)
    assert tree == 5 * 10 + 12 and causal == 5 * 10 + 15
    assert np.array_equal(sp.tree_mask(sp.chain(4)), np.tril(np.ones((5, 5), bool)))


@settings(max_examples=40)
@given(st.lists(st.integers(0, 100), min_size=1, max_size=30), st.integers(0, 5000))
def test_a_tree_never_needs_more_scores_than_the_causal_block(raw, context):
    parents = [-1] + [r % (i + 1) - 1 for i, r in enumerate(raw[1:], start=1)]
    tree, causal = sp.tree_attention_pairs(parents, context)
    assert tree <= causal
    assert tree == (len(parents) + 1) * context + sp.tree_mask(parents).sum()


def test_causal_pairs_are_what_lib_transformer_counts():
    """The causal count here is the one lib.transformer gives a forward of n + 1 tokens."""
    from lib import transformer
    parents = sp.tree_from_paths(sp.MEDUSA_TREE_7B_63)
    _, causal = sp.tree_attention_pairs(parents, 1000)
    p = transformer.forward_pass("llama-2-7b", 1, 64, 1000, all_logits=True)
    assert causal == pytest.approx(float(p.pairs))


def test_tree_attention_flops_by_hand():
    m = models.get("llama-2-7b")
    tree, causal = sp.tree_attention_flops(m, [-1, -1, 0, 2], 10)
    per_pair = 2 * 2 * m.n_layers * m.n_heads * m.head_dim   # two matmuls, 2 FLOP per MAC
    assert tree == per_pair * 62 and causal == per_pair * 65


# --- the cost model ------------------------------------------------------------------------------

def test_at_batch_1_verification_is_one_step_and_leviathan_holds():
    s = sp.speculate("llama-3-8b", "h100-sxm", 0.8, np.arange(1, 9), draft_cost=0.05)
    # memory-bound: verifying g + 1 tokens costs one step plus its extra activations (< 1%)
    assert np.all((s.verify_ratio > 1.0) & (s.verify_ratio < 1.01))
    assert s.speedup == pytest.approx(sp.leviathan_speedup(0.8, np.arange(1, 9), 0.05),
                                      rel=0.01)


def test_the_gain_fades_as_the_batch_grows():
    b = np.array([1, 4, 16, 64, 256])
    s = sp.speculate("llama-3-8b", "h100-sxm", 0.8, 4, draft_cost=0.05, batch=b)
    assert np.all(np.diff(s.speedup) <= 1e-12) and s.speedup[0] > 2.5 and s.speedup[-1] < 1.6
    assert np.all(np.diff(s.verify_ratio) >= -1e-12) and s.verify_ratio[-1] > 1.5


def test_times_compose_lib_inference():
    kw = dict(batch=2, context=512)
    s = sp.speculate("llama-3-70b", "b200", 0.7, 3, draft_model="llama-3-8b", **kw)
    base = inference.decode("llama-3-70b", "b200", 2, 512).estimate_s
    verify = inference.forward("llama-3-70b", "b200", 2, 4, 512, all_logits=True).estimate_s
    draft = sum(inference.decode("llama-3-8b", "b200", 2, 512 + k).estimate_s for k in range(3))
    assert s.baseline_step_s == pytest.approx(base)
    assert s.verify_time_s == pytest.approx(max(verify, base))
    assert s.draft_time_s == pytest.approx(draft)
    assert s.time_per_token_s == pytest.approx((draft + max(verify, base))
                                               / sp.expected_tokens(0.7, 3))
    assert s.speedup == pytest.approx(base / s.time_per_token_s)
    assert s.fits is True and s.draft == "llama-3-8b"


def test_timing_choices_and_floor_below_estimate():
    kw = dict(alpha=0.8, gamma=4, draft_cost=0.05, batch=64, context=2048)
    floor = sp.speculate("llama-3-8b", "h100-sxm", timing="floor", **kw)
    per_op = sp.speculate("llama-3-8b", "h100-sxm", timing="per_op", **kw)
    est = sp.speculate("llama-3-8b", "h100-sxm", **kw)
    assert floor.baseline_step_s <= per_op.baseline_step_s <= est.baseline_step_s
    assert floor.verify_time_s <= est.verify_time_s


def test_gamma_sweep_with_a_draft_model_matches_one_at_a_time():
    sweep = sp.speculate("llama-3-70b", "b200", 0.8, [1, 3, 5], draft_model="llama-3-8b")
    one = sp.speculate("llama-3-70b", "b200", 0.8, 3, draft_model="llama-3-8b")
    assert sweep.speedup[1] == pytest.approx(one.speedup)
    assert sweep.draft_time_s[2] > sweep.draft_time_s[1] > sweep.draft_time_s[0]


def test_best_speculation_is_the_argmax():
    best = sp.best_speculation("llama-3-70b", "b200", 0.8, max_gamma=10, draft_model="llama-3-8b")
    sweep = sp.speculate("llama-3-70b", "b200", 0.8, np.arange(1, 11), draft_model="llama-3-8b")
    assert best.speedup == pytest.approx(sweep.speedup.max())


def test_a_tree_priced_with_one_draft_pass():
    acc = np.diff(np.asarray(sp.MEDUSA_VICUNA_7B_TOPK), prepend=0, axis=1)
    paths = [p for p in sp.MEDUSA_TREE_7B_63 if max(p) < 5]
    parents, probs = sp.tree_from_paths(paths), sp.tree_node_probs(paths, acc)
    s = sp.speculate("llama-2-7b", "h100-sxm", 0.0, tree=parents, tree_probs=probs,
                     draft_cost=0.1, draft_passes=1, batch=[1, 64])
    assert s.gamma.tolist() == [38, 38]
    assert s.draft_time_s == pytest.approx(0.1 * s.baseline_step_s)
    assert s.speedup[0] > 1.8 and s.speedup[1] < 1          # free at batch 1, a loss at 64


def test_per_position_rates_and_to_dict():
    s = sp.speculate("llama-3-8b", "h100-sxm", [0.9, 0.8, 0.7], draft_cost=0.0)
    assert s.gamma == 3 and s.expected_tokens_per_step == pytest.approx(1 + .9 + .72 + .504)
    d = s.to_dict()
    for key in ("expected_tokens_per_step", "draft_time_s", "verify_time_s",
                "baseline_step_s", "time_per_token_s", "speedup"):
        assert isinstance(d[key], float), key
    assert d["alpha"] == [0.9, 0.8, 0.7] and d["gamma"] == 3


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("call, words", [
    (lambda: sp.expected_tokens(1.0, 3), ["alpha=1.0", "[0, 1)"]),
    (lambda: sp.expected_tokens(-0.1, 3), ["alpha=-0.1"]),
    (lambda: sp.expected_tokens([0.5, 1.5], 3), ["alpha (element)=1.5"]),
    (lambda: sp.expected_tokens(0.5, 0), ["gamma=0", "whole number"]),
    (lambda: sp.expected_tokens(0.5, 2.5), ["gamma=2.5"]),
    (lambda: sp.leviathan_speedup(0.5, 2, -0.1), ["c=-0.1"]),
    (lambda: sp.expected_tokens_chain([]), ["one rate per draft position"]),
    (lambda: sp.speculate("llama-3-8b", "h100-sxm", 0.5, 3), ["exactly one"]),
    (lambda: sp.speculate("llama-3-8b", "h100-sxm", 0.5, 3, draft_cost=0.1,
                          draft_model="gpt2"), ["exactly one"]),
    (lambda: sp.speculate("llama-3-8b", "h100-sxm", 0.5, draft_cost=0.1), ["gamma is needed"]),
    (lambda: sp.speculate("llama-3-8b", "h100-sxm", [0.5, 0.6], 3, draft_cost=0.1),
     ["2 per-position rates", "gamma=3"]),
    (lambda: sp.speculate("llama-3-8b", "h100-sxm", 0.5, 3, draft_cost=-1), ["draft_cost=-1"]),
    (lambda: sp.speculate("llama-3-8b", "h100-sxm", 0.5, 3, draft_model="llama3"),
     ["llama-3-8b"]),
    (lambda: sp.speculate("llama-3-8b", "h100-sxm", 0.5, 3, draft_cost=0.1, timing="wall"),
     ["timing='wall'", "estimate"]),
    (lambda: sp.tree_from_paths([(0,), (1, 0)]), ["(1,)", "prefix"]),
    (lambda: sp.tree_mask([-1, 1]), ["parents[1]=1", "earlier node"]),
    (lambda: sp.expected_tokens_tree([-1, -1], [0.7, 0.5]), ["children of the root", "1.2"]),
    (lambda: sp.expected_tokens_tree([-1, 0], [0.7]), ["1 values for 2 nodes"]),
    (lambda: sp.tree_node_probs([(0,)], [[0.6, 0.7]]), ["cumulative"]),
    (lambda: sp.tree_node_probs([(0, 3)], [[0.6, 0.1], [0.3, 0.1]]), ["depth 2 rank 4"]),
])
def test_bad_input_names_the_parameter(call, words):
    with pytest.raises(ValueError) as exc:
        call()
    for w in words:
        assert w in str(exc.value), (w, str(exc.value))


def test_best_subtree_is_a_tree_and_the_best_of_its_size():
    parents, probs = [-1, -1, 0, 0, 2], [0.6, 0.2, 0.5, 0.3, 0.9]
    sub_p, sub_q = sp.best_subtree(parents, probs, 3)
    # path probabilities 0.6, 0.2, 0.3, 0.18, 0.27: keep nodes 0, 2, 4 (a chain)
    assert sub_p.tolist() == [-1, 0, 1] and sub_q.tolist() == [0.6, 0.5, 0.9]
    assert sp.expected_tokens_tree(sub_p, sub_q) == pytest.approx(1 + 0.6 + 0.3 + 0.27)
    acc = np.diff(np.asarray(sp.MEDUSA_VICUNA_7B_TOPK), prepend=0, axis=1)
    paths = [p for p in sp.MEDUSA_TREE_7B_63 if max(p) < 5]
    full_p, full_q = sp.tree_from_paths(paths), sp.tree_node_probs(paths, acc)
    taus = [sp.expected_tokens_tree(*sp.best_subtree(full_p, full_q, n)) for n in range(1, 39)]
    assert np.all(np.diff(taus) > 0)                       # more nodes, more tokens
    assert np.all(np.diff(taus, 2) <= 1e-12)               # each one adds less
    assert taus[-1] == pytest.approx(sp.expected_tokens_tree(full_p, full_q))


# --- how big a tree ---------------------------------------------------------------------------

def test_medusa_tree_7b_known_nodes():
    parents, probs = sp.medusa_tree_7b()
    assert parents.size == 38
    # node (0,): head 1's top-1, 0.5604; node (0, 0): head 2's top-1, 0.3164; node (1,):
    # head 1's second guess, 0.6717 - 0.5604 (medusa_acc.csv, rounded to 4 digits)
    assert probs[:3].tolist() == pytest.approx([0.5604, 0.3164, 0.6717 - 0.5604])
    assert parents[:3].tolist() == [-1, 0, -1]


def test_tree_sizes_known_answers_and_identities():
    parents, probs = sp.medusa_tree_7b()
    heads = sp.medusa_heads_bytes("llama-2-7b")
    t = sp.tree_sizes("llama-2-7b", "h100-sxm", parents, probs, heads, [1, 2, 38])
    # size 1 keeps head 1's top-1 (0.5604); size 2 adds (0, 0), 0.5604 x 0.3164 = 0.1773,
    # which beats head 1's second guess (0.1113); by hand
    assert t.expected_tokens_per_step[:2] == pytest.approx([1.5604, 1.5604 + 0.5604 * 0.3164])
    # c: 5 heads' 1.479 GB over a step's ~13.5 GB of weights and 0.54 GB of cache (2 x 32
    # layers x 4096 x 2 bytes x 1,024 tokens), by hand
    assert t.draft_cost == pytest.approx(1.479e9 / (13.48e9 + 0.537e9), rel=0.02)
    # the speed-up is tau over (verification + one pass of the heads), all in plain steps
    assert t.speedup == pytest.approx(t.expected_tokens_per_step / (t.verify_ratio + t.draft_cost))
    assert t.best_size == t.sizes[np.argmax(t.speedup)]


def test_tree_sizes_the_best_tree_shrinks_with_the_batch():
    parents, probs = sp.medusa_tree_7b()
    heads = sp.medusa_heads_bytes("llama-2-7b")
    best = [sp.tree_sizes("llama-2-7b", "h100-sxm", parents, probs, heads, batch=b).best_size
            for b in (1, 16, 64)]
    assert best[0] == 38 and best[0] > best[1] > best[2]
    full = sp.tree_sizes("llama-2-7b", "h100-sxm", parents, probs, heads, [38], batch=64)
    assert full.speedup[0] < 1 and full.verify_ratio[0] > 3


@pytest.mark.parametrize("kwargs,words", [
    (dict(sizes=[0, 4]), ["sizes"]),
    (dict(sizes=[39]), ["sizes=[39]", "38 nodes"]),
    (dict(batch=[1, 2]), ["one batch"]),
])
def test_tree_sizes_bad_input(kwargs, words):
    parents, probs = sp.medusa_tree_7b()
    with pytest.raises(ValueError) as exc:
        sp.tree_sizes("llama-2-7b", "h100-sxm", parents, probs, 1e9, **kwargs)
    for w in words:
        assert w in str(exc.value)
