"""Exercises of chapters/15_serving.ipynb: each answer is computed by lib (see lib.exercises)."""

from __future__ import annotations

from functools import lru_cache

from lib import serving
from lib.exercises import register

MODEL, DEVICE = "llama-3-8b", "h100-sxm"
#: The chapter's chat-like requests: lognormal lengths, mean 512 prompt and 256 output tokens.
CHAT = serving.CHAT
#: Exercise 1 (a), by hand: one static batch of four requests, alike but for their outputs.
STATIC_PROMPT, STATIC_OUTPUTS = 200, (100, 200, 300, 1000)
#: Exercise 1 (b), by hand: Little's law at this rate, chat requests, continuous batching.
LITTLE_RATE, LITTLE_N = 10.0, 1000
#: Exercise 2 (use lib): goodput of the chat requests under these objectives, 90% attainment.
GOODPUT = dict(ttft_s=1.0, tpot_s=0.02, attainment=0.9, n=500, workload_kw=CHAT)
GOODPUT_DEVICES = ("h100-sxm", "h200")
#: Exercise 3 (predict, then check with the explorer): chat requests at 20 per second,
#: continuous batching, batch limit 8 against 256.
WIDGET_LENGTHS, WIDGET_RATE, WIDGET_SCHEDULER = "chat: 512 in, 256 out", 20.0, "continuous"
WIDGET_BATCHES = (8, 256)
#: Exercise 4 (critique): identical requests all at once; and the chat requests at 10/s.
BURST_N, BURST_PROMPT, BURST_OUTPUT = 64, 500, 50


@lru_cache(maxsize=1)
def _chat_at_little_rate() -> serving.Workload:
    return serving.workload(LITTLE_N, rate=LITTLE_RATE, seed=0, model=MODEL, **CHAT)


@lru_cache(maxsize=1)
def _little() -> serving.Result:
    return serving.simulate(_chat_at_little_rate(), MODEL, DEVICE)


@lru_cache(maxsize=2)
def _goodput(device: str) -> float:
    return serving.max_rate(MODEL, device, **GOODPUT).rate


def _widget_ratio() -> float:
    from lib.widgets import serving as sw
    lo, hi = (sw.simulation(WIDGET_LENGTHS, WIDGET_RATE, b, WIDGET_SCHEDULER)
              for b in WIDGET_BATCHES)
    return lo.percentiles(lo.ttft_s)["p90"] / hi.percentiles(hi.ttft_s)["p90"]


def _burst_ratio() -> float:
    w = serving.workload(BURST_N, burst=True, prompt_len=BURST_PROMPT, output_len=BURST_OUTPUT)
    static = serving.simulate(w, MODEL, DEVICE, scheduler="static")
    cont = serving.simulate(w, MODEL, DEVICE, max_step_tokens=BURST_N * BURST_PROMPT)
    return static.duration_s / cont.duration_s


def _loaded_gain() -> float:
    static = serving.simulate(_chat_at_little_rate(), MODEL, DEVICE, scheduler="static")
    return _little().sustained_tokens_per_s / static.sustained_tokens_per_s


register("ch15.static-useful-share",
         "tokens generated / (batch × longest output): every slot runs until the longest ends.",
         lambda: serving.static_slot_share(STATIC_OUTPUTS), unit="", fmt=lambda x: f"{x:.3f}")
register("ch15.little-batch",
         "Little's law: requests decoding = λ × time each spends decoding, (n_out − 1) × TPOT.",
         lambda: _little().mean_decode_batch, rel_tol=0.1, unit="requests",
         fmt=lambda x: f"{x:.1f}")
register("ch15.goodput-h100",
         "serving.max_rate(...).rate with the exercise's objectives on the H100 SXM.",
         lambda: _goodput(GOODPUT_DEVICES[0]), unit="requests/s", fmt=lambda x: f"{x:.1f}")
register("ch15.goodput-h200",
         "the same on the H200: more bandwidth, more memory, the same compute.",
         lambda: _goodput(GOODPUT_DEVICES[1]), unit="requests/s", fmt=lambda x: f"{x:.1f}")
register("ch15.widget-ttft-ratio",
         "the explorer's p90 TTFT at batch limit 8 over that at 256.",
         _widget_ratio, unit="×", fmt=lambda x: f"{x:,.0f}×")
register("ch15.burst-static-over-continuous",
         "identical requests all at once: the same forward passes either way.",
         _burst_ratio, unit="×", fmt=lambda x: f"{x:.3f}×")
register("ch15.loaded-gain",
         "sustained tokens/s of continuous over static batching, chat requests at 10/s.",
         _loaded_gain, unit="×", fmt=lambda x: f"{x:.1f}×")
