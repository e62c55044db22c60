"""Exercises of chapters/10_paged_attention.ipynb: each answer is computed by lib (see lib.exercises).

The settings each exercise asks about are named constants here, so the question, the
solution and the check agree.
"""

from __future__ import annotations

from lib import paging
from lib.exercises import register

#: The chapter's model and device, and the server's share of memory (vLLM's default
#: gpu_memory_utilization).
MODEL, DEVICE, MEMORY_FRACTION = "llama-3-8b", "h100-sxm", 0.9
#: Exercise 1: reserving Llama-3-8B's whole context, 8,192 tokens, for every request.
MAX_LEN = 8192
#: Exercise 2: one request of fixed length, paged in 16-token blocks.
SLACK_PROMPT, SLACK_OUTPUT, SLACK_BLOCK = 100, 300, 16
#: Exercise 3: Alpaca-like requests on a server whose maximum is the model's context.
ALPACA_N, ALPACA_SEED = 20_000, 0
#: Exercise 4 (explorer): the largest block the explorer offers, on Alpaca at 2,048 tokens.
WIDGET_BLOCK, WIDGET_MAX_LEN = 256, 2048
#: Exercise 5: a system prompt shared by a batch of requests.
SYSTEM_PROMPT, SYSTEM_PRIVATE, SYSTEM_FAN_OUT, SYSTEM_BLOCK = 1000, 200, 32, 16


def _budget() -> float:
    return paging.kv_budget_tokens(MODEL, DEVICE, memory_fraction=MEMORY_FRACTION)


def _max_batch() -> float:
    w = paging.requests([1], [1], MAX_LEN)        # any request: "max" holds MAX_LEN slots
    return paging.concurrent(paging.usage("max", w), _budget())


def _slack_per_step() -> float:
    w = paging.requests([SLACK_PROMPT], [SLACK_OUTPUT], max_len=SLACK_PROMPT + SLACK_OUTPUT)
    u = paging.usage("paged", w, SLACK_BLOCK)
    return float(u.internal) / u.weight


def alpaca_workload(max_len: int = MAX_LEN) -> paging.Requests:
    """The Alpaca-like workload exercises 3 and 4 ask about (seeded)."""
    prompt, output = paging.ALPACA
    return paging.requests(prompt, output, max_len, n=ALPACA_N, seed=ALPACA_SEED)


def _alpaca_gain() -> float:
    w, budget = alpaca_workload(), _budget()
    return (paging.concurrent(paging.usage("paged", w), budget)
            / paging.concurrent(paging.usage("max", w), budget))


def _alpaca_slack() -> float:
    u = paging.usage("paged", alpaca_workload(WIDGET_MAX_LEN), WIDGET_BLOCK)
    return float(u.shares()["internal"])


def _system_saving() -> float:
    return float(paging.share_prefix(SYSTEM_PROMPT, SYSTEM_PRIVATE, SYSTEM_FAN_OUT,
                                     SYSTEM_BLOCK).saving)


register("ch10.max-batch-h100",
         "KV budget in tokens (90% of the memory minus the weights, over κ) ÷ the 8,192 "
         "slots every request reserves, rounded down.",
         _max_batch, rel_tol=0.02, unit="requests", fmt=lambda x: f"{x:.0f} requests")
register("ch10.paged-slack-tokens",
         "the empty slots of the last block, averaged over the request's 300 decode steps: "
         "about (σ − 1) / 2.",
         _slack_per_step, rel_tol=0.05, unit="tokens", fmt=lambda x: f"{x:.2f} tokens")
register("ch10.alpaca-gain",
         "requests that fit with 16-token pages ÷ requests that fit when each reserves "
         "8,192 slots; pages follow the tokens a request really holds.",
         _alpaca_gain, rel_tol=0.05, unit="×", fmt=lambda x: f"{x:.1f}×")
register("ch10.alpaca-slack-256",
         "with 256-token blocks most Alpaca sequences (about 78 tokens) sit in one mostly "
         "empty block: slack slots ÷ reserved slots.",
         _alpaca_slack, rel_tol=0.05, unit="", fmt=lambda x: f"{x:.2f} ({100 * x:.0f}%)")
register("ch10.system-prompt-saving",
         "without sharing 32 × ceil(1200/16) blocks; with sharing the prompt's full blocks "
         "(floor(1000/16)) once and each request's other blocks its own: 1 − with ÷ without.",
         _system_saving, rel_tol=0.02, unit="", fmt=lambda x: f"{x:.3f} ({100 * x:.0f}%)")
