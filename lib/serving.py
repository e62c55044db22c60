"""Serving many users: a small discrete-event simulator of one serving instance.

Requests arrive (Poisson at a rate, all at once, or at the reader's own times), wait, are
admitted while the batch has room and the KV cache can hold them (the allocators of
:mod:`lib.paging`), are prefilled and then decoded one token per step until their output
is complete. Every step's time is the book's cost model for the step's actual mix of
sequences, so nothing here is fitted to a serving system: change the model, the device or
the precision and the simulation follows.

**Schedulers** (:data:`SCHEDULERS`):

* ``"static"`` -- a batch of up to ``max_batch`` waiting requests is formed when the
  server is idle, padded to its longest prompt, prefilled together and decoded until its
  longest output ends; finished requests keep their slot (and are still computed). Each slot
  reserves the padded length, longest prompt plus longest output (rounded to blocks when
  paged, the server's maximum under ``"max"``), which must fit the server's maximum length
  and, times the batch, the KV budget. Tokens stream, so each request's first and last tokens
  are timed as they are produced.
* ``"continuous"`` -- iteration-level scheduling (Orca; vLLM without chunked prefill):
  before every step, waiting requests are admitted first come, first served while slots,
  the step's token budget and the KV cache allow; a step is a prefill of the newly
  admitted prompts (the running requests wait for it) or a decode step of every running
  request.
* ``"chunked"`` -- chunked prefill mixed with decode (Sarathi-Serve; vLLM's chunked
  prefill): every step decodes one token for each running request and fills what is left
  of a ``chunk_tokens`` budget with prompt chunks, in admission order.
* ``"disaggregated"`` -- separate prefill and decode pools (DistServe, Splitwise): prefill
  instances run prompts first come, first served; each prompt's KV cache then crosses the
  device link to a decode instance (:func:`lib.comm.point_to_point`), which batches
  decode steps continuously.

**The KV cache** holds ``kv_memory`` bytes (default: what :func:`lib.paging.kv_budget_tokens`
leaves beside the weights). Allocators (:data:`ALLOCATORS`) reserve as
:func:`lib.paging.tokens_reserved` defines them: ``"max"`` the server's maximum length,
``"exact"`` the request's final length (an oracle), ``"paged"`` whole blocks as the
sequence grows. When a paged cache is full, the most recently admitted running request is
**preempted** (:data:`PREEMPTIONS`): its blocks are freed and it is recomputed later (a
prefill of its prompt and the tokens generated so far), or its cache is swapped to host
memory over the host link and back.

**Step times** (:data:`COSTS`): ``"estimate"`` (default) is the calibrated estimate
(:func:`lib.inference.calibrated_parts`, the rule behind ``Estimate.estimate_s``);
``"floor"`` is the floor (``Estimate.floor_s``). A step of mixed sequences is priced as one
forward: every op but attention runs over the step's tokens with the weights read once
(:func:`lib.inference.forward` with ``batch=1, new_tokens=tokens``), the LM head over one
row per sequence that samples a token, and attention as one kernel for the decoding
sequences and one for the prompt chunks, each summed over its sequences. A lone request's
times are exactly :func:`lib.inference.prefill` and :func:`lib.inference.decode`'s. Steps
in which only the context grows are priced together, so 10,000 requests simulate in
seconds (``make bench``).

What it does not model: the host's scheduling time between steps, sampling, detokenisation
and the network; prefix caching; speculative decoding; the cost of moving a cache between
pools beyond the link's bandwidth and latency.

Sources (``references.bib``): Orca's iteration-level scheduling (``yu2022orca``), vLLM's
paged attention and preemption (``kwon2023vllm``), Sarathi-Serve's chunked prefills and
stall-free batching (``agrawal2024sarathiserve``), DistServe's disaggregation and goodput
(``zhong2024distserve``), Splitwise (``patel2024splitwise``), Vidur's simulator
(``agrawal2024vidur``).

Introduced in chapters/15_serving.ipynb.

Examples
--------
>>> w = workload(200, rate=5.0, prompt_len=500, output_len=200, seed=0)
>>> r = simulate(w, "llama-3-8b", "h100-sxm")
>>> r.requests_completed, r.tokens_generated
(200, 40000)
>>> round(float(np.percentile(r.ttft_s, 50)) * 1e3, 1)      # ms
16.2
"""

from __future__ import annotations

import dataclasses
import functools
from collections import deque
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import capacity, comm, hardware, inference, memory, models, paging, transformer
from lib._validate import choice, flag, positive, scalar_or_array
from lib.hardware import Device
from lib.kernels import Kernel
from lib.models import ModelConfig
from lib.transformer import ATTENTION_OPS, Op

__all__ = ["SCHEDULERS", "ALLOCATORS", "COSTS", "PREEMPTIONS", "PERCENTILES",
           "DEFAULT_MAX_BATCH", "DEFAULT_CHUNK_TOKENS", "Workload", "workload", "Result",
           "simulate", "static_slot_share", "host_link_bandwidth", "sweep_rates",
           "sweep_batches", "Timeline",
           "timeline", "RateSearch", "max_rate", "OPT_13B_CONFIG", "opt_13b", "sharegpt",
           "kwon_fig13a", "CHAT"]

#: The schedulers :func:`simulate` runs.
SCHEDULERS = ("static", "continuous", "chunked", "disaggregated")
#: KV-cache allocators: :data:`lib.paging.POLICIES` a server can run (the power-of-two
#: reservation is the paper's baseline, not a server's).
ALLOCATORS = ("max", "exact", "paged")
#: How a step is priced: the calibrated estimate, or the floor.
COSTS = ("estimate", "floor")
#: What happens to a request preempted from a full paged cache.
PREEMPTIONS = ("recompute", "swap")
#: The latency percentiles every result reports.
PERCENTILES = (50, 90, 99)
#: vLLM's default ``max_num_seqs``: at most this many sequences in a step (references.bib:
#: vllm_engine_args, ``EngineArgs.max_num_seqs = 256``).
DEFAULT_MAX_BATCH = 256
#: Tokens per step under chunked prefill: vLLM's default ``max_num_batched_tokens`` with
#: chunked prefill enabled (vllm_engine_args; Sarathi-Serve's token budgets are 512-2,048).
DEFAULT_CHUNK_TOKENS = 2048
#: vLLM's smallest default token budget without chunked prefill (``max(max_model_len,
#: 2048)``, vllm_engine_args).
_MIN_STEP_TOKENS = 2048
#: Chapter 15's chat-like requests, as :func:`workload` keywords: lognormal lengths with means
#: of 512 prompt and 256 output tokens, coefficient of variation 1.
CHAT = MappingProxyType(dict(prompt_len=512, output_len=256, length_dist="lognormal", cv=1.0))

_NOT_ARRIVED, _WAITING, _PREFILL, _DECODE, _DONE, _SWAPPED = range(6)


# --- the workload -------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """Requests to serve: when each arrives, its prompt and output tokens.

    Introduced in chapters/15_serving.ipynb.

    Attributes
    ----------
    arrival_s : ndarray
        Arrival times, seconds from the start, in order.
    prompt_len, output_len : ndarray of int
        Each request's prompt tokens and the tokens it generates (at least 1).
    max_len : int
        The server's maximum sequence length (prompt + output never exceeds it).
    label : str
        How it was made, for people.
    """

    arrival_s: np.ndarray
    prompt_len: np.ndarray
    output_len: np.ndarray
    max_len: int
    label: str = ""

    @property
    def n(self) -> int:
        """Number of requests."""
        return int(self.arrival_s.size)


def _lengths(name: str, value: Any, dist: str, cv: float) -> "paging.Lengths | np.ndarray":
    if isinstance(value, paging.Lengths):
        return value
    arr = positive(name, value)
    if arr.ndim == 0:
        return paging.Lengths(dist, float(arr), cv=cv)
    return positive(name, value, integer=True)


def workload(n: int, *, rate: float | None = None, burst: bool = False,
             arrivals: ArrayLike | None = None, prompt_len: Any = 512, output_len: Any = 200,
             length_dist: str = "fixed", cv: float = 1.0, max_len: int | None = None,
             model: "str | ModelConfig | None" = None, seed: int = 0) -> Workload:
    """``n`` requests arriving at ``rate`` per second (Poisson), all at once, or at given times.

    Lengths are a mean drawn from ``length_dist`` (``"fixed"``, ``"exponential"`` or
    ``"lognormal"`` with coefficient of variation ``cv``: :class:`lib.paging.Lengths`), a
    :class:`lib.paging.Lengths`, or one length per request. Requests longer than
    ``max_len`` are cut as :func:`lib.paging.requests` cuts them. Poisson arrivals start at
    0 and are spaced by exponential gaps of mean ``1 / rate``. Seeded: one seed gives the same
    workload.

    Introduced in chapters/15_serving.ipynb.

    Parameters
    ----------
    n : int
        Requests (ignored when ``arrivals`` or length arrays give the number).
    rate : float, optional
        Mean arrivals per second (Poisson).
    burst : bool
        Every request arrives at time 0.
    arrivals : array_like, optional
        The reader's own arrival times, seconds (sorted on the way in).
    prompt_len, output_len : float, Lengths or array_like of int
        Mean tokens, a distribution, or one length per request.
    length_dist : str
        Distribution for a mean length.
    cv : float
        Lognormal's standard deviation / mean.
    max_len : int, optional
        The server's maximum sequence length; default the model's context (``model``), else
        8,192.
    model : str or ModelConfig, optional
        Only for the default ``max_len``.
    seed : int
        Seed of the numpy Generator.

    Examples
    --------
    >>> w = workload(4, rate=2.0, prompt_len=100, output_len=[1, 2, 3, 4], seed=1)
    >>> w.n, w.prompt_len.tolist(), w.output_len.tolist(), float(w.arrival_s[0])
    (4, [100, 100, 100, 100], [1, 2, 3, 4], 0.0)
    >>> workload(3, rate=1.0, burst=True)
    Traceback (most recent call last):
    ...
    ValueError: give exactly one of rate=, burst=True or arrivals= (got rate=1.0, burst=True, arrivals=None).
    """
    given = [rate is not None, bool(flag("burst", burst)), arrivals is not None]
    if sum(given) != 1:
        raise ValueError(f"give exactly one of rate=, burst=True or arrivals= (got rate={rate!r}, "
                         f"burst={burst!r}, arrivals={'None' if arrivals is None else '...'}).")
    dist = choice("length_dist", length_dist, paging.LENGTH_KINDS)
    p = _lengths("prompt_len", prompt_len, dist, cv)
    o = _lengths("output_len", output_len, dist, cv)
    if arrivals is not None:
        t = np.sort(positive("arrivals", arrivals, allow_zero=True).ravel())
        n = t.size
    else:
        sizes = [x.size for x in (p, o) if isinstance(x, np.ndarray)]
        n = sizes[0] if sizes else int(positive("n", n, integer=True))
    if max_len is None:
        max_len = models.get(model).max_context if model is not None else 8192
    seq = np.random.SeedSequence(int(positive("seed", seed, allow_zero=True, integer=True)))
    lengths_seed, arrival_seed = seq.spawn(2)
    req = paging.requests(p, o, int(positive("max_len", max_len, integer=True)), n=n,
                          seed=int(lengths_seed.generate_state(1)[0]))
    if req.n != n:
        raise ValueError(f"arrivals ({n} times) and lengths ({req.n} requests) must have one "
                         "entry per request.")
    if rate is not None:
        r = float(positive("rate", rate))
        gaps = np.random.default_rng(arrival_seed).exponential(1.0 / r, n)
        t = np.concatenate([[0.0], np.cumsum(gaps[:-1])])
        how = f"Poisson, {r:g} requests/s"
    elif arrivals is None:
        t = np.zeros(n)
        how = "a burst at t = 0"
    else:
        how = "given arrival times"
    return Workload(np.asarray(t, float), req.prompt_len, req.output_len, req.max_len,
                    f"{n} requests, {how}")


def static_slot_share(output_len: ArrayLike) -> Any:
    """The share of a static batch's slots that produce a wanted token: equation (15.3),
    ``sum(n_out) / (B max(n_out))`` over the last axis (one batch per row).

    Every slot of a static batch runs until the longest output ends; a request that finished
    earlier keeps its slot, computed and discarded.

    Introduced in chapters/15_serving.ipynb.

    Examples
    --------
    >>> float(static_slot_share([100, 200, 300, 1000]))
    0.4
    """
    n = positive("output_len", output_len, integer=True)
    if n.ndim == 0:
        raise ValueError(f"output_len={output_len!r} must hold a batch's output lengths "
                         "(one per request), not one number.")
    return scalar_or_array(n.sum(axis=-1) / (n.shape[-1] * n.max(axis=-1)))


# --- pricing a step of mixed sequences ----------------------------------------------------

_FIELDS = ("flops", "bytes_moved", "bytes_weights", "bytes_kv", "exps")


def _fields(op: Op) -> np.ndarray:
    return np.stack(np.broadcast_arrays(*(np.asarray(getattr(op.kernel, f), float)
                                          for f in _FIELDS)), axis=-1)


class _Pricer:
    """Step times of one instance: ops over tokens tabulated once, attention per step.

    Attention's FLOPs and bytes for one sequence are affine in the tokens it has cached
    (no sliding window: :func:`simulate` removes it), so a step's attention is the sum
    over its sequences of two tabulated terms, with no forward pass built per step.
    """

    def __init__(self, model: ModelConfig, dev: Device, *, weight_dtype: str, kv_dtype: str,
                 tp: int, cost: str, cuda_graphs: bool, max_tokens: int, max_rows: int) -> None:
        self.m, self.dev, self.cost = model, dev, cost
        self.kw = dict(weight_dtype=weight_dtype, kv_dtype=kv_dtype, tp=tp)
        self.graphs = cuda_graphs
        p1 = transformer.forward_pass(model, 1, 1, 0, **self.kw)
        self.wd, self.ad = p1.weight_dtype, p1.act_dtype
        self.cd = inference.compute_dtype_for(self.wd, dev)
        self.L = model.n_layers
        self.att_ops = [(o.name, o.roof, o.calls) for o in transformer.ops(p1)
                        if o.name in ATTENTION_OPS]
        self.kv_token = float(capacity.kv_cache_bytes(model, 1, 1, kv_dtype, tp))
        self._tokens: dict[int, tuple[float, dict[str, float], float, float, float]] = {}
        self._rows: dict[int, tuple[float, dict[str, float], float]] = {}
        self._table_tokens(np.arange(1, max_tokens + 1))
        self._table_rows(np.arange(1, max_rows + 1))
        # Attention of L new tokens after c cached = a[L] + c * b[L], for L = 1 .. max_tokens
        L = np.arange(1, max_tokens + 1)
        f0, f1, f9 = (self._att_fields(L, c) for c in (0, 1, 1000))
        self.a = np.concatenate([np.zeros((1, *f0.shape[1:])), f0])     # row L (row 0 unused)
        self.b = np.concatenate([np.zeros((1, *f0.shape[1:])), f1 - f0])
        if not np.allclose(f9, f0 + 1000 * (f1 - f0), rtol=1e-9, atol=0):
            raise RuntimeError(f"attention of {model.name} is not affine in the cached tokens")

    def _att_fields(self, new: np.ndarray, cached: int) -> np.ndarray:
        p = transformer.forward_pass(self.m, 1, new, cached, **self.kw)
        return np.stack([_fields(o) for o in transformer.attention(p)], axis=-2)

    # Everything but attention over T tokens (the LM head apart, over R rows), tabulated.
    def _table_tokens(self, T: np.ndarray) -> None:
        e = inference.forward(self.m, self.dev, 1, T, 0, cuda_graphs=self.graphs, **self.kw)
        p = transformer.forward_pass(self.m, 1, T, 0, **self.kw)
        ops = tuple(o for o in transformer.ops(p)
                    if o.name not in ATTENTION_OPS and o.name != "LM head")
        one = np.ones(T.shape)
        est = self._price([((o,), o.calls) for o in ops], False) * one
        busy = {u: np.asarray(v, float) * one for u, v in
                inference.busy_times(ops, self.dev, self.cd, self.ad).items()}
        # these ops' weights and the new tokens' KV (no cache is read from an empty one)
        must = one * np.asarray(transformer.compulsory_bytes(p, ops), float)
        comm_s = np.asarray(e.comm_time_s, float) * one
        link = np.asarray(e.comm_bytes, float) * one / (self.dev.interconnect_bandwidth or np.inf)
        for i, t in enumerate(T.tolist()):
            self._tokens[t] = (float(est[i]), {u: float(v[i]) for u, v in busy.items()},
                               float(must[i]), float(comm_s[i]), float(link[i]))

    def _table_rows(self, R: np.ndarray) -> None:
        head = [transformer.lm_head(transformer.forward_pass(self.m, R, 1, 0, **self.kw))]
        one = np.ones(R.shape)
        est = self._price([((head[0],), head[0].calls)], False) * one
        busy = {u: np.asarray(v, float) * one for u, v in
                inference.busy_times(head, self.dev, self.cd, self.ad).items()}
        w = np.asarray(head[0].bytes_weights, float) * one
        for i, r in enumerate(R.tolist()):
            self._rows[r] = (float(est[i]), {u: float(v[i]) for u, v in busy.items()},
                             float(w[i]))

    def _price(self, kernels: Any, reads: Any) -> np.ndarray:
        parts = inference.calibrated_parts(kernels, self.dev, self.wd, self.ad,
                                           compute_dtype=self.cd, cuda_graphs=self.graphs,
                                           reads_cache=reads)
        return np.asarray(sum(np.asarray(v, float) for v in parts.values()), float)

    def _tok(self, t: int) -> tuple[float, dict[str, float], float, float, float]:
        if t not in self._tokens:
            self._table_tokens(np.array([t]))
        return self._tokens[t]

    def _row(self, r: int) -> tuple[float, dict[str, float], float]:
        if r not in self._rows:
            self._table_rows(np.array([r]))
        return self._rows[r]

    def _ops(self, f: np.ndarray) -> tuple[Op, ...]:
        """One attention kernel's ops (FlashAttention: one launch per layer) from summed fields."""
        return tuple(Op(name, Kernel(name, *(f[..., j, i] for i in range(len(_FIELDS)))), roof,
                        self.L if j == 0 else 0)
                     for j, (name, roof, _) in enumerate(self.att_ops))

    def _total(self, tokens: int, rows: int, atts: "list[tuple[np.ndarray, bool]]",
               kv_read: Any) -> Any:
        est_t, busy_t, must_t, comm_t, link_t = self._tok(tokens)
        est_r, busy_r, must_r = self._row(rows) if rows else (0.0, {}, 0.0)
        kernels = [(self._ops(f), r) for f, r in atts]
        if self.cost == "estimate":
            t = est_t + est_r + comm_t
            flags = {r for _, r in kernels}
            if len(flags) == 1:                    # one call prices both attention kernels
                return t + self._price([(k, self.L) for k, _ in kernels], flags.pop())
            return t + sum(self._price([(k, self.L)], r) for k, r in kernels)
        busy = {u: busy_t.get(u, 0.0) + busy_r.get(u, 0.0) for u in set(busy_t) | set(busy_r)}
        for ops, _ in kernels:
            for u, v in inference.busy_times(ops, self.dev, self.cd, self.ad).items():
                busy[u] = busy.get(u, 0.0) + np.asarray(v)
        must = (must_t + must_r + np.asarray(kv_read, float)) / self.dev.memory_bandwidth
        return np.maximum.reduce([np.asarray(v, float) for v in busy.values()]
                                 + [must, np.full(np.shape(must), link_t)])

    def step(self, decode_cached: np.ndarray, chunks: np.ndarray, chunk_cached: np.ndarray,
             chunk_rows: int) -> float:
        """One step: sequences decoding with ``decode_cached`` tokens cached, and prompt
        chunks of ``chunks`` tokens after ``chunk_cached``; ``chunk_rows`` of them sample."""
        atts, cached = [], 0.0
        if decode_cached.size:
            s = float(decode_cached.sum())
            atts.append((decode_cached.size * self.a[1] + s * self.b[1], True))
            cached += s
        if chunks.size:
            atts.append((self.a[chunks].sum(axis=0)
                         + (chunk_cached[:, None, None] * self.b[chunks]).sum(axis=0),
                         bool(np.any(chunk_cached > 0))))
            cached += float(chunk_cached.sum())
        tokens = int(decode_cached.size + chunks.sum())
        return float(self._total(tokens, int(decode_cached.size + chunk_rows), atts,
                                 cached * self.kv_token))

    def decode_block(self, cached: np.ndarray, steps: int) -> np.ndarray:
        """Times of ``steps`` decode steps of the same sequences, each step one token longer."""
        n = cached.size
        s = float(cached.sum()) + n * np.arange(steps)
        f = n * self.a[1] + s[:, None, None] * self.b[1]
        return np.asarray(self._total(n, n, [(f, True)], s * self.kv_token), float) * np.ones(steps)


@functools.lru_cache(maxsize=16)
def _cached_pricer(m: ModelConfig, device: str, weight_dtype: str, kv_dtype: str, tp: int,
                   cost: str, graphs: bool, tokens: int, rows: int) -> _Pricer:
    """A catalog device's pricer, kept for the next simulation with the same settings (an
    explorer, a sweep); it holds no state of a simulation."""
    return _Pricer(m, hardware.get(device), weight_dtype=weight_dtype, kv_dtype=kv_dtype, tp=tp,
                   cost=cost, cuda_graphs=graphs, max_tokens=tokens, max_rows=rows)


def host_link_bandwidth(device: "str | Device") -> float:
    """Bandwidth of the device's link to host memory, byte/s per direction (for swapping).

    The catalog's PCIe level (:func:`lib.memory.level`, "... (to the host)"); a
    ``ValueError`` names the device when the catalog holds none.

    Introduced in chapters/15_serving.ipynb.

    Examples
    --------
    >>> host_link_bandwidth("h100-sxm") / 1e9                   # PCIe Gen5 x16
    64.0
    """
    dev = hardware.get(device)
    try:
        bw = memory.level(dev, "pcie").bandwidth
    except ValueError:
        bw = None
    if not bw:
        raise ValueError(f"device={dev.name!r} has no host link in the catalog; pass "
                         "swap_bandwidth (byte/s) or use preemption='recompute'.")
    return float(bw)


# --- the result ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Result:
    """What a simulation measured: per request, per step, and summaries.

    Introduced in chapters/15_serving.ipynb.

    Attributes
    ----------
    scheduler, allocator, cost, model, device : str
        The settings.
    devices : int
        Devices used: ``tp`` per instance, times the instances (two pools when
        disaggregated).
    arrival_s, admitted_s, first_token_s, finish_s : ndarray
        Per request: arrival, start of its first prefill (or of its first decode step in a
        decode pool), its first output token, its last one.
    prompt_len, output_len : ndarray of int
        Per request.
    preemptions_per_request : ndarray of int
        Times each request was preempted.
    step_start_s, step_s : ndarray
        Every step's start and duration (all instances, in start order).
    step_batch, step_tokens, step_prefill_tokens : ndarray of int
        Sequences in each step, tokens it processes, and how many of them are prompt tokens.
    step_kv_tokens : ndarray
        KV slots held after each step (tokens), out of ``kv_budget_tokens``.
    step_instance : ndarray of int
        Which instance ran the step (0 for one instance; decode pools after prefill ones).
    kv_budget_tokens : float
        KV slots of one instance.
    step_emitted : ndarray of int
        Output tokens each step produced (a static batch's finished slots and the prompt
        chunks that do not end a prompt produce none).
    """

    scheduler: str
    allocator: str
    cost: str
    model: str
    device: str
    devices: int
    arrival_s: np.ndarray
    admitted_s: np.ndarray
    first_token_s: np.ndarray
    finish_s: np.ndarray
    prompt_len: np.ndarray
    output_len: np.ndarray
    preemptions_per_request: np.ndarray
    step_start_s: np.ndarray
    step_s: np.ndarray
    step_batch: np.ndarray
    step_tokens: np.ndarray
    step_prefill_tokens: np.ndarray
    step_kv_tokens: np.ndarray
    step_instance: np.ndarray
    kv_budget_tokens: float
    step_emitted: np.ndarray

    @property
    def requests_completed(self) -> int:
        """Requests that finished (all of them: the simulation runs until the last ends)."""
        return int(np.sum(np.isfinite(self.finish_s)))

    @property
    def tokens_generated(self) -> int:
        """Output tokens produced, all requests."""
        return int(self.output_len.sum())

    @property
    def duration_s(self) -> float:
        """From the first arrival to the last token, seconds."""
        return float(self.finish_s.max() - self.arrival_s.min())

    @property
    def throughput_tokens_per_s(self) -> float:
        """Output tokens per second over :attr:`duration_s`."""
        return self.tokens_generated / self.duration_s

    @property
    def throughput_requests_per_s(self) -> float:
        """Requests per second over :attr:`duration_s`."""
        return self.requests_completed / self.duration_s

    def tokens_by(self, t: ArrayLike) -> Any:
        """Output tokens produced by time ``t`` (seconds, broadcasts): those of every step
        that ends by ``t``.

        Introduced in chapters/15_serving.ipynb.

        Examples
        --------
        >>> w = workload(1, burst=True, prompt_len=100, output_len=101)
        >>> r = simulate(w, "llama-3-8b", "h100-sxm")
        >>> mid = r.step_start_s[51]                       # 1 prefill + 50 decode steps done
        >>> float(r.tokens_by(mid)), float(r.tokens_by(1e9))
        (51.0, 101.0)
        """
        t = np.asarray(t, float)
        end = self.step_start_s + self.step_s
        order = np.argsort(end, kind="stable")
        cum = np.concatenate([[0.0], np.cumsum(self.step_emitted[order])])
        return cum[np.searchsorted(end[order], t * (1 + 1e-12), side="right")]

    @property
    def sustained_tokens_per_s(self) -> float:
        """Output tokens per second produced from the first arrival to the last: what the
        server keeps up while requests still come. :attr:`throughput_tokens_per_s` also
        counts the drain after the last arrival, when the longest outputs finish at a small
        batch; with few requests and long-tailed outputs that drain can halve it. Equal to
        it when all requests arrive at once.

        Introduced in chapters/15_serving.ipynb.
        """
        t0, t1 = float(self.arrival_s.min()), float(self.arrival_s.max())
        if t1 <= t0:
            return self.throughput_tokens_per_s
        return float(self.tokens_by(t1)) / (t1 - t0)

    @property
    def mean_decode_batch(self) -> float:
        """Sequences per decode step (steps without prompt tokens), weighted by duration, over
        the steps that start between the first arrival and the last: the batch while requests
        keep coming, as Little's law sees it (:attr:`mean_batch` also counts prefill steps'
        prompts and the drain after the last arrival). All decode steps when the requests
        arrive at once or none decodes while they arrive (a server busy with prompts); 0 when
        no request has a second token.

        Introduced in chapters/15_serving.ipynb.

        Examples
        --------
        >>> w = workload(2000, rate=10.0, prompt_len=512, output_len=256, seed=0)
        >>> r = simulate(w, "llama-3-8b", "h100-sxm")
        >>> little = 10.0 * 255 * float(np.mean(r.tpot_s))       # lambda (n_out - 1) TPOT
        >>> bool(abs(r.mean_decode_batch / little - 1) < 0.05)
        True
        """
        d = (self.step_prefill_tokens == 0) & (self.step_batch > 0)
        t0, t1 = float(self.arrival_s.min()), float(self.arrival_s.max())
        window = d & (self.step_start_s >= t0) & (self.step_start_s <= t1)
        if t1 > t0 and np.any(window):
            d = window
        if not np.any(d):                     # no decode step at all (one-token outputs)
            return 0.0
        return float(np.sum(self.step_batch[d] * self.step_s[d]) / np.sum(self.step_s[d]))

    @property
    def ttft_s(self) -> np.ndarray:
        """Time to first token of each request: first token - arrival (queueing included)."""
        return self.first_token_s - self.arrival_s

    @property
    def tpot_s(self) -> np.ndarray:
        """Time per output token after the first, of each request with at least two:
        ``(finish - first token) / (output tokens - 1)``."""
        many = self.output_len > 1
        return (self.finish_s - self.first_token_s)[many] / (self.output_len[many] - 1)

    @property
    def e2e_s(self) -> np.ndarray:
        """End-to-end latency of each request: last token - arrival."""
        return self.finish_s - self.arrival_s

    @property
    def queue_s(self) -> np.ndarray:
        """Queueing delay of each request: admission - arrival."""
        return self.admitted_s - self.arrival_s

    @property
    def preemptions(self) -> int:
        """Preemptions, all requests."""
        return int(self.preemptions_per_request.sum())

    @property
    def mean_batch(self) -> float:
        """Sequences per step, weighted by the step's duration."""
        return float(np.sum(self.step_batch * self.step_s) / np.sum(self.step_s))

    @property
    def kv_utilisation_mean(self) -> float:
        """KV slots held over the budget, weighted by the step's duration (all instances)."""
        return float(np.sum(self.step_kv_tokens * self.step_s)
                     / (np.sum(self.step_s) * self.kv_budget_tokens))

    def percentiles(self, values: ArrayLike) -> dict[str, float]:
        """``{"p50": ..., "p90": ..., "p99": ...}`` of ``values`` (:data:`PERCENTILES`).

        Introduced in chapters/15_serving.ipynb.
        """
        v = np.asarray(values, float)
        if v.size == 0:
            raise ValueError("no values: every request generated a single token, so no "
                             "time per output token is defined.")
        return {f"p{q}": float(np.percentile(v, q)) for q in PERCENTILES}

    def slo_met(self, ttft_s: float, tpot_s: float) -> np.ndarray:
        """Per request: whether both its TTFT <= ``ttft_s`` and its TPOT <= ``tpot_s``
        (a request with one output token has no TPOT and meets that part).

        Introduced in chapters/15_serving.ipynb.
        """
        a, b = float(positive("ttft_s", ttft_s)), float(positive("tpot_s", tpot_s))
        tpot = np.zeros(self.output_len.shape)
        many = self.output_len > 1
        tpot[many] = self.tpot_s
        return (self.ttft_s <= a) & (tpot <= b)

    def attainment(self, ttft_s: float, tpot_s: float) -> float:
        """Share of requests that met both objectives (DistServe's "SLO attainment").

        Introduced in chapters/15_serving.ipynb.

        Examples
        --------
        >>> w = workload(50, rate=2.0, prompt_len=200, output_len=50, seed=0)
        >>> r = simulate(w, "llama-3-8b", "h100-sxm")
        >>> r.attainment(1.0, 0.05), r.attainment(1.0, 0.001)
        (1.0, 0.0)
        """
        return float(np.mean(self.slo_met(ttft_s, tpot_s)))

    def goodput(self, ttft_s: float, tpot_s: float) -> float:
        """Requests per second that met both objectives (DistServe's goodput counts the
        highest rate at which enough do; :func:`sweep_rates` finds it).

        Introduced in chapters/15_serving.ipynb.

        Examples
        --------
        >>> w = workload(50, rate=2.0, prompt_len=200, output_len=50, seed=0)
        >>> r = simulate(w, "llama-3-8b", "h100-sxm")
        >>> r.goodput(1.0, 0.05) == r.throughput_requests_per_s
        True
        """
        return float(np.sum(self.slo_met(ttft_s, tpot_s))) / self.duration_s

    def summary(self) -> dict[str, Any]:
        """The calculator's JSON: counts, throughput and latency percentiles.

        Introduced in chapters/15_serving.ipynb.
        """
        tp = self.tpot_s
        return {
            "scheduler": self.scheduler, "allocator": self.allocator, "cost": self.cost,
            "model": self.model, "hardware": self.device, "devices": self.devices,
            "requests_completed": self.requests_completed,
            "tokens_generated": self.tokens_generated, "duration_s": self.duration_s,
            "throughput_tokens_per_s": self.throughput_tokens_per_s,
            "throughput_requests_per_s": self.throughput_requests_per_s,
            "ttft_s": self.percentiles(self.ttft_s),
            "tpot_s": self.percentiles(tp) if tp.size else None,
            "e2e_s": self.percentiles(self.e2e_s), "queue_s": self.percentiles(self.queue_s),
            "mean_batch": self.mean_batch, "kv_utilisation_mean": self.kv_utilisation_mean,
            "kv_budget_tokens": self.kv_budget_tokens, "preemptions": self.preemptions,
            "steps": int(self.step_s.size),
        }


# --- one instance -------------------------------------------------------------------------

@dataclass
class _Log:
    """Steps as they run: a single step is a row of 7 floats, a block of steps an (n, 7) array
    (start, duration, batch, tokens, prompt tokens, KV slots held, tokens emitted)."""

    parts: list = dataclasses.field(default_factory=list)

    def add(self, start: Any, dur: Any, batch: Any, tokens: Any, prefill: Any, kv: Any,
            emitted: Any) -> None:
        vals = (start, dur, batch, tokens, prefill, kv, emitted)
        if np.ndim(dur) == 0:
            self.parts.append([float(v) for v in vals])
            return
        block = np.empty((np.size(dur), 7))
        for k, v in enumerate(vals):
            block[:, k] = v
        self.parts.append(block)

    def arrays(self) -> list[np.ndarray]:
        chunks: list[np.ndarray] = []
        run: list[list[float]] = []
        for part in self.parts:
            if isinstance(part, list):
                run.append(part)
                continue
            if run:
                chunks.append(np.array(run, float))
                run = []
            chunks.append(part)
        if run:
            chunks.append(np.array(run, float))
        table = np.concatenate(chunks) if chunks else np.zeros((0, 7))
        return [table[:, k].copy() for k in range(7)]


@dataclass
class _Cfg:
    scheduler: str
    allocator: str
    max_batch: int
    step_tokens: int
    block_size: int
    budget: float
    max_len: int
    preemption: str
    swap_s_per_token: float


class _Instance:
    """One server's event loop over its requests (indices into the workload arrays)."""

    def __init__(self, pricer: _Pricer, cfg: _Cfg, arrival: np.ndarray, prompt: np.ndarray,
                 output: np.ndarray, ready: np.ndarray) -> None:
        self.pr, self.cfg = pricer, cfg
        self.arr = arrival
        self.P, self.O = prompt.astype(np.int64), output.astype(np.int64)
        n = arrival.size
        self.ready = ready.copy()                # arrives with its prompt's cache (decode pool)
        self.ctx = np.where(ready, self.P, 0).astype(np.int64)
        self.gen = np.where(ready, 1, 0).astype(np.int64)
        self.target = self.P.copy()              # prompt tokens the next prefill needs
        self.done_pf = np.zeros(n, np.int64)     # of them, prefilled so far (chunked)
        self.held = np.zeros(n)                  # KV slots each request holds
        self.state = np.full(n, _NOT_ARRIVED)
        self.admitted = np.full(n, np.nan)
        self.first = np.full(n, np.nan)
        self.finish = np.full(n, np.nan)
        self.preempted = np.zeros(n, np.int64)
        self.log = _Log()
        self.t, self.nxt, self.n_done = 0.0, 0, 0
        self.waiting: deque[int] = deque()
        self.swapped: deque[int] = deque()
        self.running: list[int] = []             # in admission order

    @property
    def used(self) -> float:
        return float(self.held.sum())

    def _slots(self, i: Any, ctx: Any) -> np.ndarray:
        """KV slots requests ``i`` hold with ``ctx`` tokens cached (:func:`paging.tokens_reserved`'s rules)."""
        a = self.cfg.allocator
        if a == "max":
            return np.full(np.shape(ctx), float(self.cfg.max_len))
        if a == "exact":
            return np.asarray(self.P[i] + self.O[i], float) * np.ones(np.shape(ctx))
        bs = self.cfg.block_size
        return bs * np.ceil(np.asarray(ctx, float) / bs)

    def _decoding(self) -> np.ndarray:
        r = np.array(self.running, np.int64)
        return r[self.state[r] == _DECODE] if r.size else r

    def _growth(self) -> float:
        """Slots the decoding requests need beyond what they hold to write one more token."""
        d = self._decoding()
        return float((self._slots(d, self.ctx[d] + 1) - self.held[d]).sum()) if d.size else 0.0

    def _arrive(self) -> None:
        while self.nxt < self.arr.size and self.arr[self.nxt] <= self.t:
            self.waiting.append(self.nxt)
            self.state[self.nxt] = _WAITING
            self.nxt += 1

    def _emit(self, idx: np.ndarray, t: float) -> None:
        """Requests ``idx`` sampled a token at time ``t``; those now complete finish."""
        self.gen[idx] += 1
        self.first[idx] = np.where(np.isnan(self.first[idx]), t, self.first[idx])
        for i in idx[self.gen[idx] >= self.O[idx]].tolist():
            self.finish[i] = t
            self.state[i] = _DONE
            self.held[i] = 0.0
            self.running.remove(i)
            self.n_done += 1

    def _preempt_for_next_step(self) -> None:
        """Free a paged cache until every decoding request can write its next token."""
        if self.cfg.allocator != "paged":
            return
        while self.used + self._growth() > self.cfg.budget and len(self.running) > 1:
            v = self.running.pop()                    # the latest admitted (vLLM's choice)
            self.preempted[v] += 1
            if self.cfg.preemption == "swap" and self.state[v] == _DECODE:
                dt = self.ctx[v] * self.cfg.swap_s_per_token
                self.log.add(self.t, dt, 0, 0, 0, self.used, 0)
                self.t += dt
                self.state[v] = _SWAPPED
                self.swapped.appendleft(v)
            else:                                     # recompute: prompt + tokens so far
                self.state[v] = _WAITING
                self.target[v] = self.P[v] + self.gen[v]
                self.done_pf[v] = 0
                self.ctx[v] = 0
                self.ready[v] = False
                self.waiting.appendleft(v)
            self.held[v] = 0.0

    def _swap_in(self) -> None:
        while self.swapped and len(self.running) < self.cfg.max_batch:
            i = self.swapped[0]
            if (self.used + self._growth() + float(self._slots(i, self.ctx[i] + 1))
                    > self.cfg.budget):
                return
            self.swapped.popleft()
            dt = self.ctx[i] * self.cfg.swap_s_per_token
            self.log.add(self.t, dt, 0, 0, 0, self.used, 0)
            self.t += dt
            self.state[i] = _DECODE
            self.running.append(i)
            self.held[i] = float(self._slots(i, self.ctx[i]))

    def _fits(self, i: int, slots: float, reserve: float) -> bool:
        return (len(self.running) < self.cfg.max_batch
                and self.used + reserve + slots <= self.cfg.budget)

    def _admit(self, i: int, state: int) -> None:
        self.waiting.popleft()
        self.running.append(i)
        self.state[i] = state
        if np.isnan(self.admitted[i]):
            self.admitted[i] = self.t

    def run(self) -> "_Instance":
        step = {"static": self._static_batch, "chunked": self._chunked_step}.get(
            self.cfg.scheduler, self._continuous_step)
        while self.n_done < self.arr.size:
            self._arrive()
            if not (self.running or self.waiting or self.swapped):
                self.t = max(self.t, float(self.arr[self.nxt]))
                continue
            step()
        return self

    # --- static batching: uniform, padded batches priced by lib.inference directly ------
    def _static_batch(self) -> None:
        cfg, pr = self.cfg, self.pr
        batch: list[int] = []
        p_top = o_top = 0
        per = 0.0
        # every slot is padded to the longest prompt and runs to the longest output, so a
        # slot holds p_top + o_top tokens of cache, which must fit the server's length
        while self.waiting and len(batch) < cfg.max_batch:
            i = self.waiting[0]
            p_new, o_new = max(p_top, int(self.P[i])), max(o_top, int(self.O[i]))
            padded = p_new + o_new
            if batch and padded > cfg.max_len:
                break
            slot = (cfg.max_len if cfg.allocator == "max" else
                    padded if cfg.allocator == "exact" else
                    cfg.block_size * -(-padded // cfg.block_size))
            if batch and (len(batch) + 1) * slot > cfg.budget:
                break
            p_top, o_top, per = p_new, o_new, float(slot)
            batch.append(self.waiting.popleft())
        b = np.array(batch)
        P, O, n = p_top, o_top, b.size
        kv = n * per
        self.admitted[b] = self.t
        kw = dict(cuda_graphs=pr.graphs, **pr.kw)
        field = "estimate_s" if pr.cost == "estimate" else "floor_s"
        dt = float(getattr(inference.prefill(pr.m, pr.dev, n, P, **kw), field))
        self.log.add(self.t, dt, n, n * P, n * P, kv, n)
        self.t += dt
        self.first[b] = self.t
        self.finish[b] = self.t
        if O > 1:
            d = np.asarray(getattr(inference.decode(pr.m, pr.dev, n, P + np.arange(O - 1),
                                                   **kw), field), float) * np.ones(O - 1)
            ends = self.t + np.cumsum(d)
            # step j makes token j + 2 of every request that has that many
            out = np.sort(self.O[b])
            alive = out.size - np.searchsorted(out, np.arange(2, O + 1), side="left")
            self.log.add(ends - d, d, n, n, 0, kv, alive)
            many = b[self.O[b] > 1]
            self.finish[many] = ends[self.O[many] - 2]
            self.t = float(ends[-1])
        self.gen[b] = self.O[b]
        self.state[b] = _DONE
        self.n_done += n

    # --- continuous batching: a prefill step when prompts are admitted, else decode -----
    def _continuous_step(self) -> None:
        self._preempt_for_next_step()
        self._swap_in()
        admitted, tokens = [], 0
        reserve = self._growth()
        while self.waiting and not self.swapped:
            i = self.waiting[0]
            if self.ready[i]:                     # a decode pool: the cache came with it
                if not self._fits(i, float(self._slots(i, self.ctx[i] + 1)), reserve):
                    break
                self._admit(i, _DECODE)
                self.held[i] = float(self._slots(i, self.ctx[i]))
                continue
            need = int(self.target[i])
            if admitted and tokens + need > self.cfg.step_tokens:
                break
            # room for the prompt, and for the running requests' next tokens after it, so
            # that admitting it does not force a preemption at the next step
            if not self._fits(i, float(self._slots(i, need)), reserve):
                break
            self._admit(i, _PREFILL)
            self.held[i] = float(self._slots(i, need))
            admitted.append(i)
            tokens += need
        if admitted:
            a = np.array(admitted)
            dt = self.pr.step(np.zeros(0, np.int64), self.target[a], np.zeros(a.size, np.int64),
                              a.size)
            self.ctx[a] = self.target[a]
            self.log.add(self.t, dt, a.size, tokens, tokens, self.used, a.size)
            self.t += dt
            self.state[a] = _DECODE
            self._emit(a, self.t)
            return
        self._decode_block()

    # --- chunked prefill: decodes first, then prompt chunks up to the token budget -------
    def _chunked_step(self) -> None:
        self._preempt_for_next_step()
        self._swap_in()
        dec = self._decoding()
        room = self.cfg.step_tokens - dec.size
        reserve = self._growth()
        chunk_of: dict[int, int] = {}
        for i in self.running:                            # prompts already started
            if self.state[i] == _PREFILL and room > 0:
                c = min(int(self.target[i] - self.done_pf[i]), room)
                extra = float(self._slots(i, self.done_pf[i] + c)) - self.held[i]
                if self.used + reserve + extra > self.cfg.budget:
                    break
                chunk_of[i] = c
                reserve += extra
                room -= c
        while room > 0 and self.waiting and not self.swapped:
            i = self.waiting[0]
            if self.ready[i]:
                s = float(self._slots(i, self.ctx[i] + 1))
                if not self._fits(i, s, reserve):
                    break
                self._admit(i, _DECODE)
                self.held[i] = float(self._slots(i, self.ctx[i]))
                reserve += s - self.held[i]
                continue
            c = min(int(self.target[i]), room)
            s = float(self._slots(i, c))
            if not self._fits(i, s, reserve):
                break
            self._admit(i, _PREFILL)
            chunk_of[i] = c
            reserve += s
            room -= c
        if not chunk_of:
            self._decode_block()
            return
        dec = self._decoding()
        ids = np.array(list(chunk_of), np.int64)
        sizes = np.array([chunk_of[i] for i in ids.tolist()], np.int64)
        last = (self.done_pf[ids] + sizes) == self.target[ids]
        dt = self.pr.step(self.ctx[dec], sizes, self.done_pf[ids], int(last.sum()))
        self.done_pf[ids] += sizes
        self.ctx[ids] = self.done_pf[ids]
        self.ctx[dec] += 1
        both = np.concatenate([dec, ids])
        self.held[both] = self._slots(both, self.ctx[both])
        self.log.add(self.t, dt, both.size, dec.size + int(sizes.sum()), int(sizes.sum()),
                     self.used, dec.size + int(last.sum()))
        self.t += dt
        self.state[ids[last]] = _DECODE
        self._emit(np.concatenate([dec, ids[last]]), self.t)

    # --- decode steps of a fixed set of sequences, priced together -----------------------
    def _decode_block(self) -> None:
        dec = self._decoding()
        if dec.size == 0:                     # nothing can run: wait for the next arrival
            if self.nxt >= self.arr.size:
                raise RuntimeError("no request can be admitted")   # simulate() guards this
            self.t = max(self.t, float(self.arr[self.nxt]))
            return
        ctx0 = self.ctx[dec]
        K = int((self.O[dec] - self.gen[dec]).min())
        other = self.used - float(self.held[dec].sum())
        k = np.arange(1, K + 1)
        if self.cfg.allocator == "paged":     # stop before the cache would overflow
            kv = other + self._slots(dec[None, :], ctx0[None, :] + k[:, None]).sum(axis=1)
            over = np.flatnonzero(kv > self.cfg.budget)
            if over.size:
                K = max(int(over[0]), 1)
        else:
            kv = np.full(K, self.used)
        d = self.pr.decode_block(ctx0, K)
        ends = self.t + np.cumsum(d)
        if (not self.waiting and not self.swapped and self.nxt < self.arr.size
                and len(self.running) < self.cfg.max_batch):   # an arrival may join
            K = min(K, int(np.searchsorted(ends, self.arr[self.nxt])) + 1)
        d, ends = d[:K], ends[:K]
        self.log.add(ends - d, d, dec.size, dec.size, 0, kv[:K], dec.size)
        self.t = float(ends[-1])
        self.ctx[dec] += K
        self.held[dec] = self._slots(dec, self.ctx[dec])
        self.gen[dec] += K - 1
        self._emit(dec, self.t)


# --- the simulation -----------------------------------------------------------------------

def simulate(w: Workload, model: "str | ModelConfig", device: "str | Device", *,
             scheduler: str = "continuous", max_batch: int = DEFAULT_MAX_BATCH,
             chunk_tokens: int = DEFAULT_CHUNK_TOKENS, max_step_tokens: int | None = None,
             allocator: str = "paged", block_size: int = paging.DEFAULT_BLOCK_SIZE,
             kv_memory: float | None = None, kv_dtype: str = "bf16",
             weight_dtype: str = "bf16", tp: int = 1, cost: str = "estimate",
             cuda_graphs: bool = True, preemption: str = "recompute",
             swap_bandwidth: float | None = None, pools: tuple[int, int] = (1, 1)) -> Result:
    """Serve workload ``w`` with one instance of ``model`` on ``tp`` devices ``device``.

    See the module docstring for what each scheduler, allocator and preemption does and how
    a step is priced. Deterministic: the same inputs give the same result.

    Introduced in chapters/15_serving.ipynb.

    Parameters
    ----------
    w : Workload
        The requests (:func:`workload`).
    model, device : str, ModelConfig or Device
        Catalog names or objects.
    scheduler : str
        One of :data:`SCHEDULERS`.
    max_batch : int
        Most sequences in a step (vLLM's ``max_num_seqs``).
    chunk_tokens : int
        Token budget of a chunked-prefill step (decode tokens included).
    max_step_tokens : int, optional
        Most prompt tokens in a continuous-batching prefill step, or a prefill pool's step;
        default ``max(w.max_len, 2048)`` as vLLM's; at least ``w.max_len``.
    allocator : str
        One of :data:`ALLOCATORS`.
    block_size : int
        Tokens per block of the paged allocator.
    kv_memory : float, optional
        Bytes of KV cache per device; default what the device holds beside the weights
        (:func:`lib.paging.kv_budget_tokens`).
    kv_dtype, weight_dtype : str
        Precisions.
    tp : int
        Tensor-parallel degree of an instance.
    cost : str
        One of :data:`COSTS`.
    cuda_graphs : bool
        Steps replayed as CUDA graphs (the estimate's launch cost).
    preemption : str
        One of :data:`PREEMPTIONS`.
    swap_bandwidth : float, optional
        Host link for swapping, byte/s; default :func:`host_link_bandwidth`.
    pools : (int, int)
        Prefill and decode instances when disaggregated; requests are dealt to them in turn.

    Returns
    -------
    Result

    Examples
    --------
    >>> w = workload(1, burst=True, prompt_len=1000, output_len=256)
    >>> r = simulate(w, "llama-3-8b", "h100-sxm")
    >>> from lib import inference
    >>> t1 = inference.prefill("llama-3-8b", "h100-sxm", 1, 1000).estimate_s
    >>> bool(np.isclose(r.ttft_s[0], t1))
    True
    """
    m, dev = models.get(model), hardware.get(device)
    sch = choice("scheduler", scheduler, SCHEDULERS)
    alloc = choice("allocator", allocator, ALLOCATORS)
    cst = choice("cost", cost, COSTS)
    pre = choice("preemption", preemption, PREEMPTIONS)
    mb = int(positive("max_batch", max_batch, integer=True))
    bs = int(positive("block_size", block_size, integer=True))
    ct = int(positive("chunk_tokens", chunk_tokens, integer=True))
    tp = int(positive("tp", tp, integer=True))
    graphs = flag("cuda_graphs", cuda_graphs)
    if not isinstance(w, Workload):
        raise ValueError(f"w={type(w).__name__} must be a Workload (see workload()).")
    st = (max(w.max_len, _MIN_STEP_TOKENS) if max_step_tokens is None
          else int(positive("max_step_tokens", max_step_tokens, integer=True)))
    if st < w.max_len:
        raise ValueError(f"max_step_tokens={st} must be at least the workload's max_len="
                         f"{w.max_len}, so that the longest prompt fits in one step.")
    if sch == "chunked" and ct <= 1:
        raise ValueError(f"chunk_tokens={ct} must be at least 2 (a decode token and a prompt "
                         "token).")
    if w.max_len > m.max_context:
        raise ValueError(f"the workload's max_len={w.max_len} exceeds {m.name}'s context of "
                         f"{m.max_context} tokens.")
    if m.sliding_window is not None:
        m = m.without_sliding_window()
    kappa = float(capacity.kv_cache_bytes(m, 1, 1, kv_dtype, tp))   # bytes per token, per device
    if kv_memory is None:
        budget = paging.kv_budget_tokens(m, dev, kv_dtype=kv_dtype, weight_dtype=weight_dtype,
                                         tp=tp)
    else:
        budget = float(np.floor(float(positive("kv_memory", kv_memory)) / kappa))
    final = w.prompt_len + w.output_len
    need = w.max_len if alloc == "max" else int(final.max())
    if alloc == "paged":
        need = bs * -(-need // bs)
    if budget < need:
        raise ValueError(f"kv_memory holds {budget:.0f} tokens of {m.name}'s KV cache, fewer "
                         f"than one request needs ({need} under allocator={alloc!r}); give "
                         "more kv_memory, a smaller workload max_len or another allocator.")
    swap = 0.0
    if pre == "swap":
        bw = (host_link_bandwidth(dev) if swap_bandwidth is None
              else float(positive("swap_bandwidth", swap_bandwidth)))
        swap = kappa / bw
    pools = tuple(int(positive("pools", x, integer=True)) for x in pools)
    if len(pools) != 2:
        raise ValueError(f"pools={pools!r} must be two counts: prefill and decode instances.")
    # Token budgets: the largest step any instance prices, so that the table covers it
    tok = {"chunked": ct, "static": mb}.get(sch, max(st, mb))
    key = (m, dev.name, weight_dtype, kv_dtype, tp, cst, graphs, tok, mb)
    pricer = (_cached_pricer(*key) if isinstance(device, str) else
              _Pricer(m, dev, weight_dtype=weight_dtype, kv_dtype=kv_dtype, tp=tp, cost=cst,
                      cuda_graphs=graphs, max_tokens=tok, max_rows=mb))
    cfg = _Cfg(sch, alloc, mb, ct if sch == "chunked" else st, bs, budget, w.max_len, pre, swap)
    n = w.n
    admitted, first, finish = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    preempted = np.zeros(n, np.int64)
    logs: list[tuple[int, list[np.ndarray]]] = []
    no = np.zeros(n, bool)
    if sch != "disaggregated":
        inst = _Instance(pricer, cfg, w.arrival_s, w.prompt_len, w.output_len, no).run()
        admitted, first, finish, preempted = inst.admitted, inst.first, inst.finish, inst.preempted
        logs.append((0, inst.log.arrays()))
        devices = tp
    else:
        n_p, n_d = pools
        pcfg = dataclasses.replace(cfg, scheduler="continuous", allocator="exact",
                                   budget=float("inf"))
        ready_at = np.zeros(n)
        for j in range(n_p):                        # prefill pool: each prompt, then its cache
            idx = np.arange(j, n, n_p)
            one = np.ones(idx.size, np.int64)
            inst = _Instance(pricer, pcfg, w.arrival_s[idx], w.prompt_len[idx], one,
                             np.zeros(idx.size, bool)).run()
            admitted[idx], first[idx] = inst.admitted, inst.first
            logs.append((j, inst.log.arrays()))
            kv = np.asarray(capacity.kv_cache_bytes(m, 1, w.prompt_len[idx], kv_dtype, tp))
            bw, lat = comm.link_of(dev)
            ready_at[idx] = first[idx] + np.asarray(comm.point_to_point(kv, bw, lat).time_s)
        single = w.output_len == 1
        finish[single] = first[single]
        rest = np.flatnonzero(~single)
        order = rest[np.argsort(ready_at[rest], kind="stable")]
        for j in range(n_d):                        # decode pool: decode steps only
            idx = order[j::n_d]
            if idx.size == 0:
                continue
            inst = _Instance(pricer, cfg, ready_at[idx], w.prompt_len[idx], w.output_len[idx],
                             np.ones(idx.size, bool)).run()
            finish[idx], preempted[idx] = inst.finish, inst.preempted
            logs.append((n_p + j, inst.log.arrays()))
        devices = tp * (n_p + n_d)
    cols = [np.concatenate([a[k] for _, a in logs]) for k in range(7)]
    inst_col = np.concatenate([np.full(a[0].size, j) for j, a in logs])
    order = np.argsort(cols[0], kind="stable")
    start, dur, batch, tokens, prefill_tok, kv, emitted = (c[order] for c in cols)
    return Result(sch, alloc, cst, m.name, dev.name, devices, w.arrival_s.copy(), admitted,
                  first, finish, w.prompt_len.copy(), w.output_len.copy(), preempted, start,
                  dur, batch.astype(np.int64), tokens.astype(np.int64),
                  prefill_tok.astype(np.int64), kv, inst_col[order].astype(np.int64), budget,
                  emitted.astype(np.int64))


def sweep_rates(rates: ArrayLike, n: int, model: "str | ModelConfig", device: "str | Device",
                *, seed: int = 0, workload_kw: dict[str, Any] | None = None,
                **kwargs: Any) -> list[Result]:
    """:func:`simulate` at each arrival rate, the same lengths and seed: the points of a
    throughput-latency curve.

    Introduced in chapters/15_serving.ipynb.

    Examples
    --------
    >>> rs = sweep_rates([1.0, 4.0], 100, "llama-3-8b", "h100-sxm",
    ...                  workload_kw=dict(prompt_len=500, output_len=100))
    >>> [round(r.throughput_requests_per_s, 1) for r in rs]
    [0.9, 3.7]
    """
    wk = dict(workload_kw or {})
    return [simulate(workload(n, rate=float(r), seed=seed, model=model, **wk), model, device,
                     **kwargs) for r in np.atleast_1d(positive("rates", rates))]


def sweep_batches(batches: ArrayLike, w: Workload, model: "str | ModelConfig",
                  device: "str | Device", **kwargs: Any) -> list[Result]:
    """:func:`simulate` of one workload at each batch limit ``max_batch``.

    Introduced in chapters/15_serving.ipynb.

    Examples
    --------
    >>> w = workload(100, burst=True, prompt_len=200, output_len=100)
    >>> rs = sweep_batches([1, 100], w, "llama-3-8b", "h100-sxm")
    >>> rs[1].throughput_tokens_per_s / rs[0].throughput_tokens_per_s > 20
    True
    """
    return [simulate(w, model, device, max_batch=int(b), **kwargs)
            for b in np.atleast_1d(positive("batches", batches, integer=True))]


# --- the figures' time series --------------------------------------------------------------

@dataclass(frozen=True)
class Timeline:
    """Batch size and KV use over time, averaged over equal bins of time.

    Introduced in chapters/15_serving.ipynb.

    Attributes
    ----------
    t_s : ndarray
        Middle of each bin, seconds from the first arrival.
    batch : ndarray
        Sequences in a step, averaged over the bin's time (idle time counts 0), summed over
        instances. A static batch counts its finished requests too: they keep their slot.
    running : ndarray
        Requests admitted and not yet finished (from the per-request times), averaged.
    waiting : ndarray
        Requests arrived and not yet admitted, averaged.
    kv_tokens : ndarray
        KV slots held, averaged the same way, summed over instances.
    kv_fraction : ndarray
        ``kv_tokens`` over one instance's budget.
    """

    t_s: np.ndarray
    batch: np.ndarray
    running: np.ndarray
    waiting: np.ndarray
    kv_tokens: np.ndarray
    kv_fraction: np.ndarray


def timeline(r: Result, bins: int = 200, *, t_end: float | None = None) -> Timeline:
    """The step log of ``r`` as ``bins`` time-weighted averages from 0 to ``t_end``.

    Each step holds its batch and KV slots for its duration, so a bin's value is the
    integral over the bin divided by its width: thousands of steps become a line a figure
    can draw.

    Introduced in chapters/15_serving.ipynb.

    Parameters
    ----------
    r : Result
        A simulation.
    bins : int
        Equal bins of time.
    t_end : float, optional
        End of the last bin, seconds; default the last step's end.

    Examples
    --------
    >>> w = workload(4, burst=True, prompt_len=100, output_len=50)
    >>> tl = timeline(simulate(w, "llama-3-8b", "h100-sxm"), bins=4)
    >>> tl.batch.round(2).tolist(), tl.waiting.round(2).tolist()   # four requests all along
    ([4.0, 4.0, 4.0, 4.0], [0.0, 0.0, 0.0, 0.0])
    """
    nb = int(positive("bins", bins, integer=True))
    end_all = r.step_start_s + r.step_s
    t1 = float(end_all.max()) if t_end is None else float(positive("t_end", t_end))
    t0 = float(r.arrival_s.min())
    edges = np.linspace(t0, t1, nb + 1)
    out = np.zeros((2, nb))
    for j in np.unique(r.step_instance):
        s = r.step_instance == j
        start, dur = r.step_start_s[s], r.step_s[s]
        x = np.column_stack([start, start + dur]).ravel()
        for k, v in enumerate((r.step_batch[s], r.step_kv_tokens[s])):
            c = np.cumsum(v * dur)
            y = np.column_stack([c - v * dur, c]).ravel()
            out[k] += np.diff(np.interp(edges, x, y, left=0.0, right=float(c[-1])))
    width = np.diff(edges)
    batch, kv = out / width

    def _count(a: np.ndarray, b: np.ndarray) -> np.ndarray:      # mean of #{a <= t < b} per bin
        inside = np.clip(edges[:, None] - a[None, :], 0.0, (b - a)[None, :]).sum(axis=1)
        return np.diff(inside) / width

    running = _count(r.admitted_s, r.finish_s)
    waiting = _count(r.arrival_s, r.admitted_s)
    return Timeline((edges[:-1] + edges[1:]) / 2 - t0, batch, running, waiting, kv,
                    kv / r.kv_budget_tokens)


# --- goodput: the highest rate that meets the objectives -----------------------------------

@dataclass(frozen=True)
class RateSearch:
    """The highest arrival rate at which enough requests meet both latency objectives.

    Introduced in chapters/15_serving.ipynb.

    Attributes
    ----------
    rate : float
        Requests per second: the goodput in DistServe's sense (0 when no rate tried meets
        the goal).
    per_device : float
        ``rate`` over the devices the server uses (DistServe's per-GPU goodput).
    devices : int
        Devices of the server.
    rates, attainment : ndarray
        Every rate tried, in increasing order, and the share of requests meeting both
        objectives at it.
    result : Result or None
        The simulation at ``rate``.
    """

    rate: float
    per_device: float
    devices: int
    rates: np.ndarray
    attainment: np.ndarray
    result: "Result | None"


def max_rate(model: "str | ModelConfig", device: "str | Device", *, ttft_s: float,
             tpot_s: float, attainment: float = 0.9, n: int = 400, seed: int = 0,
             workload_kw: dict[str, Any] | None = None, start: float = 1.0,
             rel_tol: float = 0.02, **kwargs: Any) -> RateSearch:
    """Goodput: the highest Poisson rate at which ``attainment`` of ``n`` requests meet
    TTFT <= ``ttft_s`` and TPOT <= ``tpot_s``.

    DistServe (references.bib: zhong2024distserve, section 1) defines per-GPU goodput as "the
    maximum request rate that can be served adhering to the SLO attainment goal (say, 90%) for
    each GPU provisioned"; the result gives the rate and the rate per device. The search doubles (or halves) the rate
    from ``start`` until the goal flips, then bisects to ``rel_tol``; one seed gives every
    rate the same requests, their gaps scaled by the rate, which makes attainment fall with
    the rate in practice (the search assumes it). ``n`` requests bound a run: an overloaded
    server's queue grows only for their duration, so a longer run can only lower the rate.

    Introduced in chapters/15_serving.ipynb.

    Parameters
    ----------
    model, device : str, ModelConfig or Device
        What serves.
    ttft_s, tpot_s : float
        The latency objectives, seconds.
    attainment : float
        Share of requests that must meet both, in (0, 1].
    n, seed, workload_kw :
        The requests (:func:`workload`'s keywords besides the rate).
    start : float
        First rate tried, requests per second.
    rel_tol : float
        Stop when the failing rate is within this fraction of the passing one.
    **kwargs :
        :func:`simulate`'s keywords (scheduler, max_batch, ...).

    Examples
    --------
    >>> g = max_rate("llama-3-8b", "h100-sxm", ttft_s=1.0, tpot_s=0.05, n=300,
    ...              workload_kw=dict(prompt_len=500, output_len=100))
    >>> g.rate > 10, bool(np.all(g.attainment[g.rates <= g.rate] >= 0.9))
    (True, True)
    """
    goal = float(positive("attainment", attainment))
    if goal > 1:
        raise ValueError(f"attainment={attainment!r} must be a share of requests, in (0, 1].")
    a, b = float(positive("ttft_s", ttft_s)), float(positive("tpot_s", tpot_s))
    tol = float(positive("rel_tol", rel_tol))
    wk = dict(workload_kw or {})
    tried: dict[float, tuple[float, Result]] = {}

    def run(rate: float) -> bool:
        if rate not in tried:
            r = simulate(workload(n, rate=rate, seed=seed, model=model, **wk), model, device,
                         **kwargs)
            tried[rate] = (r.attainment(a, b), r)
        return tried[rate][0] >= goal

    lo, hi = None, float(positive("start", start))
    if run(hi):
        lo = hi
        while run(hi := hi * 2):
            lo = hi
            if hi > 1e6:
                raise ValueError(f"n={n} requests arriving all at once still meet the "
                                 "objectives: give more requests (n=) so that a high rate "
                                 "overloads the server.")
    else:
        while lo is None and hi > 1e-4:
            hi /= 2
            if run(hi):
                lo = hi
                hi *= 2
    if lo is not None:
        while hi / lo > 1 + tol:
            mid = float(np.sqrt(lo * hi))
            lo, hi = (mid, hi) if run(mid) else (lo, mid)
    rates = np.array(sorted(tried))
    best = tried[lo][1] if lo is not None else None
    devices = best.devices if best is not None else tried[rates[0]][1].devices
    rate = float(lo) if lo is not None else 0.0
    return RateSearch(rate, rate / devices, devices, rates,
                      np.array([tried[x][0] for x in rates]), best)


# --- a published workload: the PagedAttention paper's Figure 13a ---------------------------

#: OPT-13B (references.bib: zhang2022opt) in the field names :func:`lib.models.from_hf_config`
#: understands. The sizes are facebook/opt-13b's config.json (hf_opt13b_config):
#: ``num_hidden_layers`` 40, ``hidden_size`` 5120, ``num_attention_heads`` 40, ``ffn_dim``
#: 20480, ``vocab_size`` 50272, ``max_position_embeddings`` 2048, tied embeddings. OPT's
#: ``model_type`` "opt" is not one :func:`~lib.models.from_hf_config` reads; its
#: architecture is GPT-2's (learned positions, LayerNorm, a non-gated two-matrix MLP, biases,
#: tied LM head) but for ReLU instead of GELU and a position table offset by 2, which change
#: no weight matrix and no KV byte, so the sizes are given as a GPT-2 config.
OPT_13B_CONFIG = {"model_type": "gpt2", "n_layer": 40, "n_embd": 5120, "n_head": 40,
                  "n_inner": 20480, "vocab_size": 50272, "n_positions": 2048,
                  "tie_word_embeddings": True}


def opt_13b() -> ModelConfig:
    """OPT-13B, the model of the PagedAttention paper's Figure 13a (:data:`OPT_13B_CONFIG`).

    Introduced in chapters/15_serving.ipynb.

    Examples
    --------
    >>> m = opt_13b()
    >>> round(m.params_total / 1e9, 1), m.kv_bytes_per_token() / 1e3     # B params, kB/token
    (12.9, 819.2)
    """
    return models.from_hf_config(OPT_13B_CONFIG, name="opt-13b")


def sharegpt(n: int, rate: float, *, max_len: int = 2048, seed: int = 0) -> Workload:
    """``n`` ShareGPT-like requests at ``rate`` per second: :data:`lib.paging.SHAREGPT`'s
    exponential lengths (the PagedAttention paper's means, 161.31 prompt and 337.99 output
    tokens), cut to ``max_len`` as the paper's 2,048-token OPT context cuts them.

    Introduced in chapters/15_serving.ipynb.

    Examples
    --------
    >>> w = sharegpt(20_000, 2.0)
    >>> round(float(w.output_len.mean())), int((w.prompt_len + w.output_len).max()) <= 2048
    (336, True)
    """
    p, o = paging.SHAREGPT
    return workload(n, rate=rate, prompt_len=p, output_len=o, max_len=max_len, seed=seed)


def kwon_fig13a(n: int = 1000, *, seed: int = 0,
                allocators: tuple[str, ...] = ALLOCATORS) -> dict[str, Result]:
    """The setting of kwon2023vllm's Figure 13a, one simulation per allocator.

    OPT-13B (:func:`opt_13b`) on one A100-40GB, a KV cache of the paper's 15.7K slots
    (:data:`lib.paging.KWON_KV_SLOTS_OPT13B`, Table 1), ShareGPT requests at 2 per second
    (:func:`sharegpt`), continuous batching. Compare each result's ``mean_decode_batch`` with
    :data:`lib.paging.KWON_BATCHED_SHAREGPT` (the paper's "average number of batched
    requests"; its "Orca (Max)" reserves the maximum length, "Orca (Oracle)" the exact one).

    Introduced in chapters/15_serving.ipynb.

    Examples
    --------
    >>> rs = kwon_fig13a(400, allocators=("max",))
    >>> round(rs["max"].mean_decode_batch, 1), paging.KWON_BATCHED_SHAREGPT["max"]
    (6.9, 7.0)
    """
    m = opt_13b()
    kv = paging.KWON_KV_SLOTS_OPT13B * float(capacity.kv_cache_bytes(m, 1, 1))
    w = sharegpt(n, 2.0, max_len=m.max_context, seed=seed)
    return {a: simulate(w, m, "a100-sxm-40gb", allocator=choice("allocators", a, ALLOCATORS),
                        kv_memory=kv) for a in allocators}
