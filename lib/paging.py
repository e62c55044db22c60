"""How a server allocates KV-cache memory: reservation policies, paging, and prefix sharing.

A request's KV cache grows by one token per decode step, to a final length nobody knows
when the request arrives. How the server sets memory aside for it decides how much of the
KV budget holds real tokens, and so how many requests fit at once. Four policies, as the
PagedAttention paper compares them {cite}`kwon2023vllm` (§6.1, its "Orca" baselines):

* ``"max"``: reserve the server's maximum sequence length for every request, at arrival;
* ``"pow2"``: reserve the prompt plus the output length rounded up to a power of two
  (the paper's example: an output of 25 tokens reserves 32), at most the maximum length;
* ``"exact"``: reserve exactly the final length at arrival (an oracle that knows it);
* ``"paged"``: allocate fixed-size blocks of ``block_size`` tokens as the sequence grows
  (vLLM's default is 16 tokens), so only the last block is partly empty.

:func:`tokens_reserved` is the one definition of what each policy holds for a request at
any moment: pure, vectorised over requests, with no state, so that a serving simulator can
call it at every step. Each reserved slot is one of four kinds (:data:`PARTS`):

* ``tokens``: holds a token's keys and values;
* ``internal``: an empty slot in the last, partly filled block (paged only);
* ``future``: reserved for a token the request will generate later;
* ``unused``: reserved for a token the request will never generate.

The paper's Figure 2 calls ``future`` "reservation" and ``unused`` "internal
fragmentation" (over-provisioning); its third kind, external fragmentation (holes the
allocator of variable-size chunks leaves between them), is not modelled here: the
reserving policies below are given a perfect contiguous allocator, which flatters them.

Two views of a workload (:func:`usage`):

* ``"lifetime"``: each request's slots summed over every decode step of its life, which
  by Little's law is what a server in steady state holds on average: the mean slots per
  request in flight is the sum over requests of slot-steps divided by the sum of steps;
* ``"snapshot"``: every request at the same fraction of its output, a single moment.

:func:`share_prefix` counts what copy-on-write block sharing saves when ``fan_out``
sequences share a prefix (parallel samples of one prompt, beams, a system prompt).

Length distributions (:class:`Lengths`) are sampled with a seeded numpy Generator; the
means of the ShareGPT and Alpaca presets are the PagedAttention paper's (Figure 11), their
exponential shape is this module's assumption (the paper prints only the means).

Introduced in chapters/10_paged_attention.ipynb.

Examples
--------
>>> int(tokens_reserved("paged", context=100, final_len=300, prompt_len=50, max_len=2048,
...                     block_size=16))
112
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import capacity
from lib._validate import broadcast, choice, positive, scalar_or_array

__all__ = [
    "POLICIES", "POLICY_LABELS", "PARTS", "VIEWS", "DEFAULT_BLOCK_SIZE",
    "Lengths", "SHAREGPT", "ALPACA", "Requests", "requests", "tokens_reserved",
    "Usage", "usage", "compare", "kv_budget_tokens", "concurrent", "Sharing", "share_prefix",
    "sampling_saving", "parallel_outputs", "KWON_FIG2_PERCENT", "KWON_FIG2_EXTERNAL_PERCENT",
    "KWON_KV_SLOTS_OPT13B", "KWON_BATCHED_SHAREGPT", "KWON_PARALLEL_SAVING_ALPACA",
    "KWON_BEAM_SAVING_ALPACA", "KWON_SAVING_SHAREGPT", "KWON_KERNEL_OVERHEAD",
    "VATTENTION_DECODE_SPEEDUP",
]

#: The allocation policies, from the most wasteful to paging.
POLICIES = ("max", "pow2", "exact", "paged")
#: Names for people, as the PagedAttention paper's baselines are called (Orca variants).
POLICY_LABELS = {"max": "reserve max length", "pow2": "reserve power of two",
                 "exact": "reserve exact length (oracle)", "paged": "paged blocks"}
#: The four kinds of reserved slot, in drawing order.
PARTS = ("tokens", "internal", "future", "unused")
#: The two views of a workload: summed over every request's life, or one moment.
VIEWS = ("lifetime", "snapshot")
#: vLLM's default block size, tokens (kwon2023vllm §7.2: "vLLM sets its default block size
#: as 16").
DEFAULT_BLOCK_SIZE = 16
LENGTH_KINDS = ("fixed", "exponential", "lognormal")

# --- what the PagedAttention paper measured (kwon2023vllm), the chapter's yardsticks ---------

#: Figure 2, "Average percentage of memory wastes in different LLM serving systems during the
#: experiment in §6.2", percent of KV memory by kind, in this module's names (the paper's
#: "Token states", "Reservation", "Internal frag."); the rest of each bar is its "External
#: frag. & Others", which this module does not model (:data:`KWON_FIG2_EXTERNAL_PERCENT`).
KWON_FIG2_PERCENT = {"max": {"tokens": 20.4, "future": 13.3, "unused": 57.3},
                     "pow2": {"tokens": 26.8, "future": 17.9, "unused": 13.6},
                     "exact": {"tokens": 38.2, "future": 25.2},
                     "paged": {"tokens": 96.3}}
#: Figure 2's "External frag. & Others", percent of KV memory, as printed (each bar's printed
#: parts sum to 99.9 or 100 after rounding). vLLM's bar prints only its 96.3% of token states.
KWON_FIG2_EXTERNAL_PERCENT = {"max": 8.9, "pow2": 41.6, "exact": 36.6}
#: Table 1: "Max. # KV cache slots" for OPT-13B on one A100 (40 GB; 12 GB for the KV cache).
KWON_KV_SLOTS_OPT13B = 15_700
#: Figure 13a: average number of batched requests serving OPT-13B on ShareGPT at 2 requests/s.
KWON_BATCHED_SHAREGPT = {"max": 7.00, "pow2": 9.81, "exact": 13.62, "paged": 30.42}
#: Figure 15: memory saving (%) from sharing KV blocks, OPT-13B on the Alpaca trace, by the
#: number of parallel samples (a) and by beam width (b).
KWON_PARALLEL_SAVING_ALPACA = {2: 6.09, 4: 8.53, 6: 9.79}
KWON_BEAM_SAVING_ALPACA = {2: 37.56, 4: 53.13, 6: 55.16}
#: §6.3, the same experiments with ShareGPT: "16.2% - 30.5% memory saving on parallel sampling
#: and 44.3% - 66.3% on beam search" (percent, lowest and highest).
KWON_SAVING_SHAREGPT = {"parallel": (16.2, 30.5), "beam": (44.3, 66.3)}
#: §7.1: PagedAttention's kernel has "20–26% higher attention kernel latency, compared to the
#: highly-optimized FasterTransformer implementation" (fractions).
KWON_KERNEL_OVERHEAD = (0.20, 0.26)
#: prabhu2025vattention §7.2, decode at 16K-token contexts: "FlashAttention's GPU kernel is up
#: to 2.85× faster than the best version of vLLM's kernel (Yi-6B, 16*16K)".
VATTENTION_DECODE_SPEEDUP = 2.85


# --- request lengths --------------------------------------------------------------------

@dataclass(frozen=True)
class Lengths:
    """A distribution of token counts: fixed, exponential, or lognormal with a mean and spread.

    Introduced in chapters/10_paged_attention.ipynb.

    Attributes
    ----------
    kind : str
        ``"fixed"`` (every request ``mean`` tokens), ``"exponential"`` (spread 1), or
        ``"lognormal"``.
    mean : float
        Mean tokens (before rounding to whole tokens, at least 1).
    cv : float
        Coefficient of variation, standard deviation / mean, of the lognormal; ignored
        otherwise (an exponential's is 1, a fixed length's 0).
    label : str
        Name for people.
    source : str
        Where the mean comes from (a bibkey and where in it), or ``""`` for the reader's own.

    Examples
    --------
    >>> x = Lengths("lognormal", 300, cv=2.0).sample(100_000, np.random.default_rng(0))
    >>> int(x.min()), round(float(x.mean()) / 300, 1)
    (1, 1.0)
    """

    kind: str
    mean: float
    cv: float = 1.0
    label: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", choice("kind", self.kind, LENGTH_KINDS))
        positive("mean", self.mean)
        positive("cv", self.cv)

    @property
    def spread(self) -> float:
        """The coefficient of variation the samples have: 0, 1 or ``cv``."""
        return {"fixed": 0.0, "exponential": 1.0, "lognormal": float(self.cv)}[self.kind]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` whole token counts, each at least 1, drawn with ``rng``.

        Introduced in chapters/10_paged_attention.ipynb.
        """
        n = int(positive("n", n, integer=True))
        if self.kind == "fixed":
            x = np.full(n, float(self.mean))
        elif self.kind == "exponential":
            x = rng.exponential(self.mean, n)
        else:   # lognormal with this mean and std/mean = cv
            s2 = np.log1p(self.cv ** 2)
            x = rng.lognormal(np.log(self.mean) - s2 / 2, np.sqrt(s2), n)
        return np.maximum(1, np.rint(x)).astype(np.int64)


#: ShareGPT conversations, input and output tokens: means from kwon2023vllm Figure 11
#: ("Input (mean: 161.31)", "Output (mean: 337.99)"); exponential shape assumed.
SHAREGPT = (Lengths("exponential", 161.31, label="ShareGPT prompt",
                    source="kwon2023vllm, Figure 11(a)"),
            Lengths("exponential", 337.99, label="ShareGPT output",
                    source="kwon2023vllm, Figure 11(a)"))
#: Alpaca instructions, input and output tokens: means from kwon2023vllm Figure 11
#: ("Input (mean: 19.31)", "Output (mean: 58.45)"); exponential shape assumed.
ALPACA = (Lengths("exponential", 19.31, label="Alpaca prompt",
                  source="kwon2023vllm, Figure 11(b)"),
          Lengths("exponential", 58.45, label="Alpaca output",
                  source="kwon2023vllm, Figure 11(b)"))


@dataclass(frozen=True)
class Requests:
    """A workload: each request's prompt and output tokens, within a maximum length.

    Introduced in chapters/10_paged_attention.ipynb.

    Attributes
    ----------
    prompt_len, output_len : ndarray of int
        Tokens of each request's prompt, and tokens it generates (at least 1).
    max_len : int
        The server's maximum sequence length: ``prompt_len + output_len <= max_len``.
    truncated : float
        Fraction of requests cut to fit ``max_len`` when the workload was built.
    """

    prompt_len: np.ndarray
    output_len: np.ndarray
    max_len: int
    truncated: float = 0.0

    @property
    def final_len(self) -> np.ndarray:
        """Tokens each request holds when it finishes: prompt plus output."""
        return self.prompt_len + self.output_len

    @property
    def n(self) -> int:
        """Number of requests."""
        return int(self.prompt_len.size)


def requests(prompt: "Lengths | ArrayLike", output: "Lengths | ArrayLike", max_len: int,
             n: int = 10_000, seed: int = 0) -> Requests:
    """A workload of requests from two length distributions, or from the reader's own arrays.

    Requests longer than ``max_len`` are cut as a server does: the prompt to at most
    ``max_len - 1`` tokens, the output to what is left (the PagedAttention paper's chatbot
    workload cuts prompts to 1,024 tokens and outputs to 1,024, §6.5).

    Introduced in chapters/10_paged_attention.ipynb.

    Parameters
    ----------
    prompt, output : Lengths or array_like of int
        Distributions to sample ``n`` requests from, or the lengths themselves.
    max_len : int
        The server's maximum sequence length (e.g. the model's ``max_context``).
    n : int
        Requests to draw from a distribution (ignored for arrays).
    seed : int
        Seed of the numpy Generator (prompts, then outputs).

    Examples
    --------
    >>> w = requests([100, 3000], [50, 500], max_len=2048)
    >>> w.prompt_len.tolist(), w.output_len.tolist(), w.truncated
    ([100, 2047], [50, 1], 0.5)
    """
    top = int(positive("max_len", max_len, integer=True))
    if top < 2:
        raise ValueError(f"max_len={max_len!r} must be at least 2 (a prompt token and an "
                         "output token).")
    rng = np.random.default_rng(int(positive("seed", seed, allow_zero=True, integer=True)))

    def draw(name: str, what: Any) -> np.ndarray:
        if isinstance(what, Lengths):
            return what.sample(n, rng)
        arr = positive(name, what, integer=True)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a Lengths or a 1-D array of token counts, "
                             f"got shape {arr.shape}.")
        return arr.astype(np.int64)

    p, o = draw("prompt", prompt), draw("output", output)
    if p.shape != o.shape:
        raise ValueError(f"prompt ({p.size} requests) and output ({o.size} requests) must "
                         "have one length per request.")
    cut = (p + o) > top
    p2 = np.minimum(p, top - 1)
    o2 = np.minimum(o, top - p2)
    return Requests(p2, o2, top, float(cut.mean()) if cut.size else 0.0)


# --- what a policy reserves ---------------------------------------------------------------

def _ceil_to(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    return s * np.ceil(x / s)


def tokens_reserved(policy: str, context: ArrayLike, final_len: ArrayLike,
                    prompt_len: ArrayLike = 0, *, max_len: ArrayLike,
                    block_size: ArrayLike = DEFAULT_BLOCK_SIZE) -> Any:
    """KV slots (in tokens) a request holds under ``policy`` when ``context`` tokens are cached.

    Equation (10.1) of chapter 10, and the one definition of each policy in the book:

    * ``"max"``: ``max_len``, from arrival to the end;
    * ``"pow2"``: ``prompt_len + 2**ceil(log2(final_len - prompt_len))``, at most ``max_len``;
    * ``"exact"``: ``final_len``;
    * ``"paged"``: ``block_size * ceil(context / block_size)`` (σ in the chapter).

    For reuse, e.g. by a serving simulator: the function is pure and keeps no state, so
    call it at every step with the arrays of the requests in the batch (all arguments
    broadcast) and sum the result; multiply by the model's KV bytes per token (κ,
    :meth:`lib.models.ModelConfig.kv_bytes_per_token`) for bytes. ``context`` is what the
    cache holds after the step's write (``prompt_len + t`` after decode step ``t``). The
    reserving policies hold the same slots from arrival to the end, so they ignore
    ``context``; they need ``final_len``, which a real server does not know (``"exact"``
    is an oracle; ``"pow2"`` rounds the true output length). Only ``"paged"`` can be
    computed from what the server knows at the step. Fragmentation between requests is
    not counted (a perfect allocator), nor are blocks shared between sequences
    (:func:`share_prefix`).

    Introduced in chapters/10_paged_attention.ipynb.

    Parameters
    ----------
    policy : str
        One of :data:`POLICIES`.
    context : array_like of int
        Tokens cached now (``0 <= context <= final_len``).
    final_len : array_like of int
        Tokens the request will hold when it finishes (``<= max_len``).
    prompt_len : array_like of int
        Tokens of its prompt (``< final_len``; only ``"pow2"`` uses it).
    max_len : array_like of int
        The server's maximum sequence length.
    block_size : array_like of int
        Tokens per block (only ``"paged"`` uses it).

    Returns
    -------
    float or ndarray
        Slots held, in tokens, of the broadcast shape of the arguments.

    Examples
    --------
    >>> [int(tokens_reserved(p, 40, 45, 20, max_len=2048, block_size=16)) for p in POLICIES]
    [2048, 52, 45, 48]

    One step of a batch of three requests, paged in 16-token blocks, and its bytes for a
    model whose κ is 128 KiB:

    >>> slots = tokens_reserved("paged", [17, 100, 33], [40, 300, 33], [10, 90, 20],
    ...                         max_len=2048)
    >>> slots.tolist(), float(slots.sum()) * 131_072 / 1e6
    ([32.0, 112.0, 48.0], 25.165824)
    """
    pol = choice("policy", policy, POLICIES)
    c = positive("context", context, allow_zero=True, integer=True)
    f = positive("final_len", final_len, integer=True)
    p = positive("prompt_len", prompt_len, allow_zero=True, integer=True)
    m = positive("max_len", max_len, integer=True)
    s = positive("block_size", block_size, integer=True)
    c, f, p, m, s = broadcast(context=c, final_len=f, prompt_len=p, max_len=m, block_size=s)
    for bad, msg in ((c > f, "context must be <= final_len"),
                     (f > m, "final_len must be <= max_len"),
                     (p >= f, "prompt_len must be < final_len (at least one output token)")):
        if np.any(bad):
            i = np.flatnonzero(np.ravel(bad))[0]
            raise ValueError(f"{msg}: context={np.ravel(c)[i]:.0f}, final_len="
                             f"{np.ravel(f)[i]:.0f}, prompt_len={np.ravel(p)[i]:.0f}, "
                             f"max_len={np.ravel(m)[i]:.0f}.")
    if pol == "max":
        out = m
    elif pol == "pow2":
        out = np.minimum(p + 2.0 ** np.ceil(np.log2(f - p)), m)
    elif pol == "exact":
        out = f
    else:
        out = _ceil_to(c, s)
    return scalar_or_array(np.asarray(out, float))


def _block_sum(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """sum over c = 1..x of s * ceil(c / s): the slot-steps of a paged sequence grown to x."""
    q = np.floor(x / s)
    r = x - q * s
    return s * (s * q * (q + 1) / 2 + r * (q + 1))


@dataclass(frozen=True)
class Usage:
    """How a policy's reserved KV slots split, summed over a workload.

    Every count is in token slots (lifetime view: slot-steps, one per slot per decode
    step); arrays where ``block_size`` was an array. Introduced in
    chapters/10_paged_attention.ipynb.

    Attributes
    ----------
    policy, view : str
        One of :data:`POLICIES`; ``"lifetime"`` or ``"snapshot"``.
    block_size : float or ndarray
        Tokens per block (the paged policy's; the others ignore it).
    requests : int
        Requests in the workload.
    weight : float
        What a per-request mean divides by: the requests (snapshot) or the decode steps of
        all of them (lifetime: the time they spend in the batch).
    tokens, internal, future, unused : float or ndarray
        Slots holding tokens; empty slots of last blocks; slots reserved for tokens still
        to come; slots reserved for tokens that never come (:data:`PARTS`).
    """

    policy: str
    view: str
    block_size: Any
    requests: int
    weight: float
    tokens: Any
    internal: Any
    future: Any
    unused: Any

    @property
    def reserved(self) -> Any:
        """All slots the policy holds: the four parts together."""
        return self.tokens + self.internal + self.future + self.unused

    @property
    def utilisation(self) -> Any:
        """Fraction of the reserved slots that hold tokens."""
        return self.tokens / self.reserved

    @property
    def slots_per_request(self) -> Any:
        """Mean slots one request in flight holds: ``reserved / weight``."""
        return self.reserved / self.weight

    @property
    def tokens_per_request(self) -> Any:
        """Mean tokens one request in flight has cached: ``tokens / weight``."""
        return self.tokens / self.weight

    def shares(self) -> dict[str, Any]:
        """Each part of :data:`PARTS` as a fraction of the reserved slots.

        Introduced in chapters/10_paged_attention.ipynb.
        """
        total = self.reserved
        return {k: getattr(self, k) / total for k in PARTS}


def usage(policy: str, workload: Requests, block_size: ArrayLike = DEFAULT_BLOCK_SIZE,
          view: str = "lifetime", fraction: float = 0.5) -> Usage:
    """How ``policy`` uses KV memory for ``workload``: tokens, internal, future, unused slots.

    ``view="lifetime"`` sums each request's slots over its decode steps: at step
    ``t = 1 ... output_len`` it holds ``prompt_len + t`` tokens (the cache after the
    step's write). ``view="snapshot"`` takes one moment at which every request has
    generated ``round(fraction * output_len)`` tokens. ``block_size`` may be an array:
    the result's counts are then arrays of its shape.

    Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> w = requests([8], [24], max_len=64)           # one request: 8 + 24 tokens
    >>> u = usage("paged", w, block_size=16)
    >>> u.tokens, u.internal, u.weight                # sum_t (8 + t); its blocks' slack
    (492.0, 148.0, 24.0)
    >>> usage("max", w).unused / 24, usage("exact", w).future   # 64 - 32; sum_t (24 - t)
    (32.0, 276.0)
    """
    pol = choice("policy", policy, POLICIES)
    v = choice("view", view, VIEWS)
    s = positive("block_size", block_size, integer=True)
    s_col = s[..., None]
    p = workload.prompt_len.astype(float)
    n = workload.output_len.astype(float)
    f = p + n
    m = float(workload.max_len)
    zero = np.zeros(np.shape(s))
    if v == "lifetime":
        steps = n
        tokens = n * p + n * (n + 1) / 2
        if pol == "paged":
            held = _block_sum(f, s_col) - _block_sum(p, s_col)
        else:
            held = n * tokens_reserved(pol, f, f, p, max_len=m) * np.ones_like(s_col)
        future_all = n * (n - 1) / 2
    else:
        frac = float(positive("fraction", fraction, allow_zero=True))
        if frac > 1:
            raise ValueError(f"fraction={fraction!r} must be in [0, 1].")
        steps = np.ones_like(n)
        c = p + np.rint(frac * n)
        tokens = c
        held = tokens_reserved(pol, c, f, p, max_len=m, block_size=s_col) * np.ones_like(s_col)
        future_all = f - c
    held = np.asarray(held, float)
    tok = float(np.sum(tokens))
    if pol == "paged":
        internal = np.sum(held, axis=-1) - tok
        future = unused = zero
    else:
        internal = zero
        future = zero + float(np.sum(future_all))
        unused = np.sum(held, axis=-1) - tok - future
    return Usage(pol, v, scalar_or_array(s), workload.n, float(np.sum(steps)),
                 scalar_or_array(zero + tok), scalar_or_array(internal),
                 scalar_or_array(future), scalar_or_array(unused))


def compare(workload: Requests, block_size: ArrayLike = DEFAULT_BLOCK_SIZE,
            view: str = "lifetime", fraction: float = 0.5) -> dict[str, Usage]:
    """:func:`usage` of every policy in :data:`POLICIES` for one workload.

    Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> w = requests([8], [24], max_len=64)
    >>> {k: round(float(u.utilisation), 3) for k, u in compare(w).items()}
    {'max': 0.32, 'pow2': 0.512, 'exact': 0.641, 'paged': 0.769}
    """
    return {p: usage(p, workload, block_size, view, fraction) for p in POLICIES}


# --- how many requests fit -------------------------------------------------------------

def kv_budget_tokens(model: Any, device: Any, *, kv_dtype: str = "bf16",
                     weight_dtype: str = "bf16", tp: int = 1,
                     memory_fraction: float = 0.9) -> float:
    """Tokens of KV cache a device holds beside the weights: the slots a policy shares out.

    ``floor((memory_fraction x capacity - weight bytes) / KV bytes per token)``, from
    :func:`lib.capacity.max_context` at batch 1. The default ``memory_fraction`` of 0.9
    is vLLM's default ``gpu_memory_utilization`` (``EngineArgs`` in vllm/engine/arg_utils.py,
    references.bib: vllm_engine_args); the rest is left for activations and workspace. A
    model whose sliding window caps its cache (``inf``) is an error here: allocate for its
    window instead (:meth:`lib.models.ModelConfig.without_sliding_window`).

    Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> kv_budget_tokens("llama-3-8b", "h100-sxm")
    426784.0
    """
    budget = capacity.max_context(model, device, 1, kv_dtype=kv_dtype,
                                  weight_dtype=weight_dtype, tp=tp,
                                  memory_fraction=memory_fraction)
    if not np.isfinite(budget):
        raise ValueError(f"model={getattr(model, 'name', model)!r} keeps a sliding window: "
                         "its cache per sequence is capped, so a token budget is not "
                         "defined; pass model.without_sliding_window().")
    return float(budget)


def concurrent(use: Usage, budget_tokens: ArrayLike) -> Any:
    """Requests a KV budget holds at once under a policy: ``floor(budget / slots per request)``.

    In the lifetime view this is the mean number a full server keeps in flight in steady
    state; in the snapshot view, the number that fit at that moment. 0 when the weights
    leave no room. Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> w = requests([1000], [1000], max_len=2048)
    >>> concurrent(usage("max", w), 15_700)          # the paper's 15.7K slots, 2,048 each
    7.0
    """
    b = positive("budget_tokens", budget_tokens, allow_zero=True)
    return scalar_or_array(np.floor(b / use.slots_per_request))


# --- prefix sharing -----------------------------------------------------------------------

@dataclass(frozen=True)
class Sharing:
    """Blocks ``fan_out`` sequences with a common prefix hold, with and without sharing.

    Introduced in chapters/10_paged_attention.ipynb.

    Attributes
    ----------
    blocks_without : float or ndarray
        Every sequence with its own copy of every block.
    blocks_with : float or ndarray
        The prefix's full blocks once (reference count ``fan_out``), each sequence's
        other blocks its own.
    shared_blocks : float or ndarray
        Blocks held once with reference count ``fan_out``.
    copies : float or ndarray
        Blocks copied on write: the prefix's partly filled last block, once for every
        sequence but the last to write into it (0 when the prefix fills whole blocks).
    saving : float or ndarray
        ``1 - blocks_with / blocks_without``: the PagedAttention paper's measure
        ("the number of blocks we saved by sharing divided by the number of total blocks
        without sharing", §6.3).
    """

    blocks_without: Any
    blocks_with: Any
    shared_blocks: Any
    copies: Any
    saving: Any


def share_prefix(prefix_len: ArrayLike, private_len: ArrayLike, fan_out: ArrayLike,
                 block_size: ArrayLike = DEFAULT_BLOCK_SIZE) -> Sharing:
    """Blocks saved when ``fan_out`` sequences share a ``prefix_len``-token prefix (one moment).

    Each sequence has ``prefix_len + private_len`` tokens. The prefix's full blocks are
    shared; its last, partly filled block is shared until a sequence writes into it, then
    copied (copy-on-write), so once the sequences have private tokens each holds its own
    copy. Parallel sampling: the prompt is the prefix, each sample's output private. Beam
    search: the prompt and the beams' common ancestor. A system prompt: shared by
    ``fan_out`` requests. All arguments broadcast.

    Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> s = share_prefix(prefix_len=40, private_len=10, fan_out=4, block_size=16)
    >>> s.blocks_without, s.blocks_with, s.shared_blocks, s.copies, s.saving
    (16.0, 10.0, 2.0, 3.0, 0.375)
    """
    pre = positive("prefix_len", prefix_len, allow_zero=True, integer=True)
    pri = positive("private_len", private_len, allow_zero=True, integer=True)
    k = positive("fan_out", fan_out, integer=True)
    s = positive("block_size", block_size, integer=True)
    pre, pri, k, s = broadcast(prefix_len=pre, private_len=pri, fan_out=k, block_size=s)
    if np.any(pre + pri == 0):
        raise ValueError("prefix_len + private_len must be > 0: a sequence with no tokens "
                         "holds no blocks.")
    per_seq = np.ceil((pre + pri) / s)
    shared = np.where(pri > 0, np.floor(pre / s), np.ceil(pre / s))
    without = k * per_seq
    with_ = shared + k * (per_seq - shared)
    copies = np.where((pri > 0) & (pre % s != 0), k - 1, 0.0)
    return Sharing(scalar_or_array(without), scalar_or_array(with_),
                   scalar_or_array(shared), scalar_or_array(copies),
                   scalar_or_array(1 - with_ / without))


def sampling_saving(prompt_len: ArrayLike, output_len: ArrayLike,
                    block_size: ArrayLike = DEFAULT_BLOCK_SIZE) -> Any:
    """Lifetime saving of block sharing in parallel sampling: blocks saved / blocks without.

    ``prompt_len`` has one entry per request; ``output_len`` one row per request and one
    column per sample (each sample stops on its own). Without sharing every sample holds
    its own copy of the prompt's blocks for its whole life; with sharing the prompt's full
    blocks are held once, until the request's last sample finishes (copy-on-write gives
    each sample its own copy of the prompt's partly filled block). Both are summed over
    every decode step of every request, so the ratio is what a server saves on average.
    ``block_size`` may be an array: one saving per block size.

    Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> round(float(sampling_saving([32], [[16, 16]], block_size=16)), 3)  # 1 - (2 + 2) / 6
    0.333
    """
    p = positive("prompt_len", prompt_len, allow_zero=True, integer=True)
    o = positive("output_len", output_len, integer=True)
    s = positive("block_size", block_size, integer=True)
    if p.ndim != 1 or o.ndim != 2 or o.shape[0] != p.shape[0]:
        raise ValueError(f"prompt_len (shape {p.shape}) must be 1-D and output_len (shape "
                         f"{o.shape}) 2-D with one row per request and one column per "
                         "sample.")
    s_b = s[..., None, None]
    pp = p[:, None]
    # blocks summed over each sample's steps t = 1..o: sum of ceil((p + t) / sigma)
    blocks = (_block_sum(pp + o, s_b) - _block_sum(pp + 0.0 * o, s_b)) / s_b
    without = np.sum(blocks, axis=(-2, -1))
    full = np.floor(p / s[..., None])                              # shared prefix blocks
    private = blocks - full[..., None] * o
    with_ = np.sum(private, axis=(-2, -1)) + np.sum(full * o.max(axis=1), axis=-1)
    return scalar_or_array(1 - with_ / without)


def parallel_outputs(workload: Requests, output: Lengths, n_samples: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Output lengths of ``n_samples`` parallel samples of each request (:func:`sampling_saving`).

    Each sample's length is drawn on its own from ``output`` (row by row: one row per
    request of ``workload``, one column per sample) and cut so that the request's prompt
    and that sample fit ``workload.max_len``.

    Introduced in chapters/10_paged_attention.ipynb.

    Examples
    --------
    >>> w = requests([100, 2000], [10, 40], max_len=2048)
    >>> parallel_outputs(w, Lengths("fixed", 64), 3, np.random.default_rng(0)).tolist()
    [[64, 64, 64], [48, 48, 48]]
    """
    if not isinstance(output, Lengths):
        raise ValueError(f"output={output!r} must be a Lengths distribution.")
    k = int(positive("n_samples", n_samples, integer=True))
    outs = output.sample(workload.n * k, rng).reshape(workload.n, k)
    return np.minimum(outs, workload.max_len - workload.prompt_len[:, None])
