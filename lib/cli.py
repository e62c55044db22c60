"""The calculator: ``python -m lib``, a command line over the same functions the chapters call.

::

    python -m lib list {models,hardware} [--json]
    python -m lib show model NAME_OR_CONFIG_JSON [--kv-dtype D] [--json]
    python -m lib show hardware NAME [--json]
    python -m lib estimate --model NAME_OR_CONFIG_JSON --hardware NAME --phase {prefill,decode}
        --batch B (--prompt-len P | --context C) [--weight-dtype D] [--kv-dtype D] [--tp N]
        [--compute-dtype D] [--link-bandwidth BW] [--link-latency S] [--unfused-attention]
        [--eager] [--pp N] [--micro-batches M] [--json]
    python -m lib utilisation (the estimate's flags) (--time-s T | --tokens-per-s R) [--json]
    python -m lib speculate --model NAME --hardware NAME --alpha A[,A2,...] [--gamma G]
        (--draft-model NAME | --draft-cost C) [--batch B] [--context C] [--weight-dtype D]
        [--kv-dtype D] [--timing {estimate,floor,per-op}] [--eager] [--json]
    python -m lib simulate --model NAME --hardware NAME --requests N (--rate R | --burst)
        --prompt-len P --output-len O [--length-dist {fixed,exponential,lognormal}]
        [--scheduler {static,continuous,chunked,disaggregated}] [--max-batch B]
        [--chunk-tokens C] [--allocator {max,exact,paged}] [--block-size S]
        [--kv-memory BYTES] [--kv-dtype D] [--weight-dtype D] [--tp T] [--seed S]
        [--preemption {recompute,swap}] [--timing {estimate,floor}] [--eager] [--json]
    python -m lib measure [--quick] [--json]

Without ``--json`` the output is a :class:`lib.tables.Table` formatted with
:mod:`lib.units`; with ``--json`` it is one JSON object (or, for ``list``, one
array). Bad input prints one line on stderr naming the flag, the value and what is
accepted, and exits with status 2. A configuration that does not fit in memory is
still estimated, with a warning on stderr; so is one on a device that publishes no
peak for the precision it needs (the times are then memory-only, ``peak_known`` is
false, and stderr says so).

The estimate's JSON holds the per-op time ``time_s``, the floor ``floor_s`` (no
implementation is faster; never above ``time_s``), the calibrated estimate ``estimate_s``
(what a mature engine takes: :mod:`lib.efficiency`; ``--eager`` charges launches without
CUDA graphs), the communication time ``comm_s`` and ``peak_known``, with every op.

``--pp N`` splits the layers into ``N`` pipeline stages of ``--tp`` devices each, and
``--micro-batches M`` cuts the batch into ``M`` micro-batches (it must divide ``--batch``);
either flag prices the forward with :func:`lib.parallel.pipeline` and the JSON gains
``pp``, ``micro_batches``, ``devices``, ``bubble_s``, ``bubble_fraction``, ``pipeline_s``
(all micro-batches through all stages, at the calibrated estimate), ``latency_s`` (one
micro-batch through every stage), ``stage_s``, ``transfer_s``, ``flops_per_device``,
``bytes_per_device`` and ``memory_per_device``. A split that cannot run is an error:
heads not divisible by ``--tp``, more stages than layers, a micro-batch count that does
not divide the batch, or weights and cache that do not fit each device.

``utilisation`` takes the same workload and a measured time of that forward (``--time-s``,
or ``--tokens-per-s``: tokens the forward processes per second, all sequences together,
so ``batch / step time`` in decode and ``batch * prompt / time`` in prefill) and prints
its MBU, its MFU, the roof it sits nearer, and the measurement over the floor and over
the calibrated estimate (:func:`lib.inference.utilisation`).

``speculate`` prices speculative decoding (:func:`lib.speculative.speculate`): ``--alpha``
is the acceptance rate in [0, 1) with ``--gamma`` draft tokens, or comma-separated rates,
one per draft position (``--gamma`` then optional, and equal to their number); the draft
is a catalog model on the same device (``--draft-model``) or a cost ratio ``c >= 0``, draft
time per token over a target decode step (``--draft-cost``). ``--batch`` defaults to 1 and
``--context`` to 1024. Its JSON holds ``expected_tokens_per_step``, ``draft_time_s``,
``verify_time_s``, ``baseline_step_s``, ``time_per_token_s`` and ``speedup`` (baseline
time per token over speculative), priced at the calibrated estimate unless ``--timing``
says ``floor`` or ``per-op``.

``simulate`` serves ``--requests`` requests arriving at ``--rate`` per second (Poisson) or all
at once (``--burst``) with one instance of the model (:func:`lib.serving.simulate`): prompt
and output lengths of mean ``--prompt-len`` and ``--output-len`` drawn from
``--length-dist`` (default fixed) with ``--seed``, a scheduler, a batch limit, a KV-cache
allocator and budget (``--kv-memory`` bytes per device; default what the device holds
beside the weights). Its JSON holds ``requests_completed``, ``tokens_generated``,
``duration_s``, ``throughput_tokens_per_s``, ``ttft_s``, ``tpot_s``, ``e2e_s`` and
``queue_s`` (each ``{"p50", "p90", "p99"}``), ``mean_batch``, ``kv_utilisation_mean`` and
``preemptions``. Steps are priced at the calibrated estimate (``--timing floor`` for the
floor).

``measure`` times this machine with numpy (:func:`lib.measure.measure_machine`): the
bandwidth of ``np.add`` at working sets sized for each cache level and for main memory,
the best matrix-product FLOP/s in FP32 and FP64, and the ridge points between them, with
the CPU, numpy, BLAS and date it was measured on. ``--quick`` takes a few seconds; the
figures vary from run to run, more so on a busy machine. Its JSON also holds the raw sweeps.

The arithmetic lives in :mod:`lib.models` and :mod:`lib.inference`; this module
only parses, calls them and prints.

Introduced in chapters/04_transformer_arithmetic.ipynb.

Examples
--------
>>> main(["show", "model", "llama-2-7b", "--json"])  # doctest: +ELLIPSIS
{
  "name": "llama-2-7b",
  ...
0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

from lib import hardware, inference, models, parallel, roofline, speculative
from lib._validate import choice
from lib.dtypes import DTYPES
from lib.models import KV_DTYPES, WEIGHT_DTYPES
from lib.tables import Table
from lib.units import fmt_bandwidth, fmt_bytes, fmt_count, fmt_flop_rate, fmt_flops, \
    fmt_intensity, fmt_time

__all__ = ["main", "build_parser", "resolve_model"]

PROG = "python -m lib"


class CliError(Exception):
    """Bad input: the message is printed as one line and the exit status is 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{self.prog}: error: {message}")


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number (expected an integer >= {minimum})") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= {minimum}")
        return value
    return parse


def _positive_float(unit: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number ({unit})") from None
        if not (value > 0 and value < float("inf")):
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
        return value
    return parse


def _dtype(param: str, options: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            return choice(param, text, options)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lib`` (errors raise :class:`CliError`).

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> build_parser().parse_args(["list", "models"]).what
    'models'
    """
    p = _Parser(prog=PROG, description="Roofline calculator for LLM inference: models, "
                "hardware, and what a prefill or a decode step costs.")
    sub = p.add_subparsers(dest="command",
                           metavar="{list,show,estimate,utilisation,speculate,simulate,measure}",
                           required=True)

    ls = sub.add_parser("list", help="list the catalog's models or hardware")
    ls.add_argument("what", choices=("models", "hardware"))
    ls.add_argument("--json", action="store_true", help="print a JSON array")

    sh = sub.add_parser("show", help="one model or device in detail")
    sh.add_argument("what", choices=("model", "hardware"))
    sh.add_argument("name", help="catalog name (or, for a model, a config.json path)")
    sh.add_argument("--kv-dtype", type=_dtype("kv_dtype", KV_DTYPES), default=None,
                    help="KV-cache precision for kv_bytes_per_token (model only; default bf16)")
    sh.add_argument("--json", action="store_true", help="print one JSON object")

    es = sub.add_parser("estimate", help="roofline estimate of a prefill or one decode step")
    _workload_flags(es)
    es.add_argument("--pp", type=_whole(1), default=None,
                    help="pipeline stages of --tp devices each (>= 1; at most the layers)")
    es.add_argument("--micro-batches", type=_whole(1), default=None,
                    help="micro-batches the batch is cut into for the pipeline (divides "
                    "--batch; default 1)")
    ut = sub.add_parser("utilisation", help="MBU, MFU and the nearer roof of a measured time")
    _workload_flags(ut)
    given = ut.add_mutually_exclusive_group(required=True)
    given.add_argument("--time-s", type=_positive_float("seconds, e.g. 0.0095"), default=None,
                       help="measured time of the forward (one decode step, or the prefill)")
    given.add_argument("--tokens-per-s", type=_positive_float("tokens/s, e.g. 104.9"),
                       default=None, help="measured tokens/s of the forward, all sequences "
                       "together (decode: batch / step time)")
    _speculate_flags(sub.add_parser(
        "speculate", help="speculative decoding: tokens per verification, times, speed-up"))
    _simulate_flags(sub.add_parser(
        "simulate", help="serve many requests: throughput, TTFT and TPOT percentiles"))
    me = sub.add_parser("measure", help="measure this machine: bandwidth per memory level, "
                        "peak FLOP/s per dtype, ridge points")
    me.add_argument("--quick", action="store_true",
                    help="fewer sizes and repeats: a few seconds instead of under a minute")
    me.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _acceptance(text: str) -> "float | tuple[float, ...]":
    """``--alpha``: one rate, or comma-separated rates (one per draft position)."""
    parts = [t.strip() for t in text.split(",")]
    try:
        values = [float(t) for t in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number or a comma-separated list of numbers (acceptance "
            f"rates in [0, 1), e.g. 0.8 or 0.8,0.7,0.6)") from None
    try:
        speculative.acceptance_rate("alpha", values)
    except ValueError:
        bad = next(v for v in values if not 0 <= v < 1)
        raise argparse.ArgumentTypeError(
            f"{text!r}: {bad!r} is not an acceptance rate in [0, 1)") from None
    return values[0] if len(values) == 1 else tuple(values)


def _non_negative_float(unit: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number ({unit})") from None
        if not (value >= 0 and value < float("inf")):
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
        return value
    return parse


def _speculate_flags(sp: argparse.ArgumentParser) -> None:
    """The flags of ``speculate``."""
    sp.add_argument("--model", required=True,
                    help="target: catalog name, or a Hugging Face config.json")
    sp.add_argument("--hardware", required=True, help="catalog device name")
    sp.add_argument("--alpha", required=True, type=_acceptance,
                    help="acceptance rate in [0, 1), or comma-separated rates, one per "
                    "draft position")
    sp.add_argument("--gamma", type=_whole(1), default=None,
                    help="draft tokens per verification (>= 1); implied by a list of rates")
    draft = sp.add_mutually_exclusive_group(required=True)
    draft.add_argument("--draft-model", default=None,
                       help="a catalog draft model on the same device")
    draft.add_argument("--draft-cost", type=_non_negative_float("c, e.g. 0.05"),
                       default=None, help="c: draft time per token / target decode step")
    sp.add_argument("--batch", type=_whole(1), default=1, help="sequences (>= 1; default 1)")
    sp.add_argument("--context", type=_whole(0), default=1024,
                    help="tokens already cached per sequence (>= 0; default 1024)")
    sp.add_argument("--weight-dtype", type=_dtype("weight_dtype", WEIGHT_DTYPES),
                    default="bf16", help="one of " + ", ".join(WEIGHT_DTYPES))
    sp.add_argument("--kv-dtype", type=_dtype("kv_dtype", KV_DTYPES),
                    default="bf16", help="one of " + ", ".join(KV_DTYPES))
    sp.add_argument("--timing", choices=("estimate", "floor", "per-op"), default="estimate",
                    help="price each forward at the calibrated estimate (default), the "
                    "floor, or the per-op time")
    sp.add_argument("--eager", action="store_true",
                    help="calibrated estimate with eager launches (default: CUDA graphs)")
    sp.add_argument("--json", action="store_true", help="print one JSON object")


def _simulate_flags(sp: argparse.ArgumentParser) -> None:
    """The flags of ``simulate``."""
    from lib import paging, serving
    sp.add_argument("--model", required=True,
                    help="catalog name, or a Hugging Face config.json (file or folder)")
    sp.add_argument("--hardware", required=True, help="catalog device name")
    sp.add_argument("--requests", required=True, type=_whole(1), help="requests (>= 1)")
    when = sp.add_mutually_exclusive_group(required=True)
    when.add_argument("--rate", type=_positive_float("requests/s, e.g. 5"), default=None,
                      help="mean arrivals per second (Poisson)")
    when.add_argument("--burst", action="store_true", help="every request arrives at once")
    sp.add_argument("--prompt-len", required=True, type=_whole(1),
                    help="mean prompt tokens (>= 1)")
    sp.add_argument("--output-len", required=True, type=_whole(1),
                    help="mean output tokens (>= 1)")
    sp.add_argument("--length-dist", choices=paging.LENGTH_KINDS, default="fixed",
                    help="distribution of both lengths (default fixed)")
    sp.add_argument("--scheduler", choices=serving.SCHEDULERS, default="continuous",
                    help="default continuous")
    sp.add_argument("--max-batch", type=_whole(1), default=serving.DEFAULT_MAX_BATCH,
                    help=f"most sequences per step (default {serving.DEFAULT_MAX_BATCH})")
    sp.add_argument("--chunk-tokens", type=_whole(2), default=serving.DEFAULT_CHUNK_TOKENS,
                    help="token budget of a chunked-prefill step (default "
                    f"{serving.DEFAULT_CHUNK_TOKENS})")
    sp.add_argument("--allocator", choices=serving.ALLOCATORS, default="paged",
                    help="KV-cache allocator (default paged)")
    sp.add_argument("--block-size", type=_whole(1), default=paging.DEFAULT_BLOCK_SIZE,
                    help=f"tokens per block (default {paging.DEFAULT_BLOCK_SIZE})")
    sp.add_argument("--kv-memory", type=_positive_float("bytes, e.g. 20e9"), default=None,
                    help="KV-cache bytes per device (default: what the device holds beside "
                    "the weights)")
    sp.add_argument("--weight-dtype", type=_dtype("weight_dtype", WEIGHT_DTYPES),
                    default="bf16", help="one of " + ", ".join(WEIGHT_DTYPES))
    sp.add_argument("--kv-dtype", type=_dtype("kv_dtype", KV_DTYPES),
                    default="bf16", help="one of " + ", ".join(KV_DTYPES))
    sp.add_argument("--tp", type=_whole(1), default=1, help="tensor-parallel devices (>= 1)")
    sp.add_argument("--seed", type=_whole(0), default=0, help="seed of the workload")
    sp.add_argument("--preemption", choices=serving.PREEMPTIONS, default="recompute",
                    help="when a paged cache is full (default recompute)")
    sp.add_argument("--timing", choices=serving.COSTS, default="estimate",
                    help="price steps at the calibrated estimate (default) or the floor")
    sp.add_argument("--eager", action="store_true",
                    help="calibrated estimate with eager launches (default: CUDA graphs)")
    sp.add_argument("--json", action="store_true", help="print one JSON object")


def _simulate(args: argparse.Namespace, out: Any, err: Any) -> None:
    from lib import serving
    where = f"{PROG} simulate: error:"
    m = _flagged("simulate", "model", args.model, resolve_model)
    d = _flagged("simulate", "hardware", args.hardware, hardware.get)
    try:
        w = serving.workload(args.requests, rate=args.rate, burst=args.burst,
                             prompt_len=args.prompt_len, output_len=args.output_len,
                             length_dist=args.length_dist, model=m, seed=args.seed)
        r = serving.simulate(w, m, d.name, scheduler=args.scheduler,
                             max_batch=args.max_batch, chunk_tokens=args.chunk_tokens,
                             allocator=args.allocator, block_size=args.block_size,
                             kv_memory=args.kv_memory, kv_dtype=args.kv_dtype,
                             weight_dtype=args.weight_dtype, tp=args.tp, cost=args.timing,
                             cuda_graphs=not args.eager, preemption=args.preemption)
    except ValueError as exc:
        raise CliError(f"{where} {exc}") from None
    if args.prompt_len + args.output_len > m.max_context:
        print(f"warning: --prompt-len {args.prompt_len} + --output-len {args.output_len} "
              f"exceeds {m.name}'s context of {m.max_context} tokens; requests are cut to "
              "fit, as a server cuts them.", file=err)
    s = r.summary()
    if args.json:
        print(_json({**s, "workload": w.label, "prompt_len_mean": float(w.prompt_len.mean()),
                     "output_len_mean": float(w.output_len.mean())}), file=out)
        return

    def pct(key: str) -> str:
        return "-" if s[key] is None else " / ".join(fmt_time(s[key][p])
                                                     for p in ("p50", "p90", "p99"))
    rows = [("requests completed", fmt_count(s["requests_completed"])),
            ("tokens generated", fmt_count(s["tokens_generated"])),
            ("duration", fmt_time(s["duration_s"])),
            ("throughput", f"{s['throughput_tokens_per_s']:,.0f} tokens/s, "
                           f"{s['throughput_requests_per_s']:.2f} requests/s"),
            ("TTFT p50 / p90 / p99", pct("ttft_s")), ("TPOT p50 / p90 / p99", pct("tpot_s")),
            ("end to end p50 / p90 / p99", pct("e2e_s")),
            ("queueing p50 / p90 / p99", pct("queue_s")),
            ("mean batch", f"{s['mean_batch']:.1f}"),
            ("KV cache used (mean)", f"{s['kv_utilisation_mean']:.1%} of "
                                     f"{fmt_count(s['kv_budget_tokens'])} tokens"),
            ("preemptions", fmt_count(s["preemptions"])), ("devices", str(s["devices"]))]
    title = (f"simulate: {r.model} on {r.device}, {w.label}, {args.scheduler} batching, "
             f"{args.allocator} KV ({args.timing} times)")
    print(Table(("", "value"), rows, title=title), file=out)


def _workload_flags(es: argparse.ArgumentParser) -> None:
    """The flags that describe one forward: shared by ``estimate`` and ``utilisation``."""
    es.add_argument("--model", required=True,
                    help="catalog name, or a Hugging Face config.json (file or folder)")
    es.add_argument("--hardware", required=True, help="catalog device name")
    es.add_argument("--phase", required=True, choices=("prefill", "decode"))
    es.add_argument("--batch", required=True, type=_whole(1), help="sequences (>= 1)")
    es.add_argument("--prompt-len", type=_whole(1), default=None,
                    help="prefill: prompt tokens per sequence (>= 1)")
    es.add_argument("--context", type=_whole(0), default=None,
                    help="decode: tokens already cached per sequence (>= 0)")
    es.add_argument("--weight-dtype", type=_dtype("weight_dtype", WEIGHT_DTYPES),
                    default="bf16", help="one of " + ", ".join(WEIGHT_DTYPES))
    es.add_argument("--kv-dtype", type=_dtype("kv_dtype", KV_DTYPES),
                    default="bf16", help="one of " + ", ".join(KV_DTYPES))
    es.add_argument("--compute-dtype", type=_dtype("compute_dtype", DTYPES),
                    default=None, help="override the matmul precision (default: by the "
                    "weight dtype and the device)")
    es.add_argument("--tp", type=_whole(1), default=1, help="tensor-parallel devices (>= 1)")
    es.add_argument("--link-bandwidth", type=_positive_float("byte/s, e.g. 450e9"),
                    default=None, help="device-to-device bandwidth per direction, byte/s, "
                    "for --tp > 1 (default: the device's link in the catalog)")
    es.add_argument("--link-latency", type=_positive_float("seconds, e.g. 1e-6"),
                    default=None, help="latency of one message over that link, seconds "
                    "(default: the device's)")
    es.add_argument("--unfused-attention", action="store_true",
                    help="score matrix through main memory (no FlashAttention)")
    es.add_argument("--eager", action="store_true",
                    help="calibrated estimate with eager launches (default: CUDA graphs)")
    es.add_argument("--json", action="store_true", help="print one JSON object")


def resolve_model(text: str) -> models.ModelConfig:
    """A catalog model by name, or a model read from a ``config.json`` path (file or folder).

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> resolve_model("gpt2").n_layers
    12
    """
    looks_like_path = text.endswith(".json") or "/" in text or "\\" in text or Path(text).exists()
    if looks_like_path:
        return models.from_hf_config(text)
    try:
        return models.get(text)
    except ValueError as exc:
        raise ValueError(f"{exc} Or give the path of a Hugging Face config.json.") from None


# --- output helpers -----------------------------------------------------------------------

def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, allow_nan=False)


def _peak_text(d: hardware.Device, dtype: str) -> str:
    return fmt_flop_rate(d.peak_flops[dtype]) if dtype in d.peak_flops else "not published"


# --- commands -----------------------------------------------------------------------------

def _list(args: argparse.Namespace, out: Any) -> None:
    if args.what == "models":
        ms = [models.get(n) for n in models.names()]
        if args.json:
            print(_json([m.to_dict() for m in ms]), file=out)
            return
        rows = [(m.name, m.label, fmt_count(m.params_total, 4), fmt_count(m.params_active, 4),
                 fmt_bytes(m.kv_bytes_per_token("bf16"), binary=True), str(m.n_layers),
                 str(m.d_model), f"{m.n_heads}/{m.n_kv_heads}", str(m.head_dim), str(m.d_ff),
                 str(m.vocab_size), f"{m.n_experts}/{m.top_k}" if m.is_moe else "dense",
                 str(m.max_context)) for m in ms]
        print(Table(("model", "label", "params", "active", "KV/token (bf16)", "layers",
                     "d_model", "heads/kv", "head_dim", "d_ff", "vocab", "experts",
                     "context"), rows, ("<", "<", *(">",) * 11)), file=out)
    else:
        ds = [hardware.get(n) for n in hardware.names()]
        if args.json:
            print(_json([d.to_dict() for d in ds]), file=out)
            return
        rows = []
        for d in ds:
            ridge = (fmt_intensity(roofline.ridge_point(d.peak("bf16"), d.memory_bandwidth))
                     if "bf16" in d.peak_flops else "-")
            rows.append((d.name, d.label, _peak_text(d, "bf16"), _peak_text(d, "fp8"),
                         fmt_bandwidth(d.memory_bandwidth), fmt_bytes(d.memory_capacity),
                         ridge))
        print(Table(("device", "label", "bf16 dense", "fp8 dense", "bandwidth", "memory",
                     "ridge (bf16)"), rows, ("<", "<", *(">",) * 5)), file=out)


def _show(args: argparse.Namespace, out: Any) -> None:
    if args.what == "hardware":
        if args.kv_dtype is not None:
            raise CliError(f"{PROG} show: error: --kv-dtype applies to 'show model' only.")
        d = _flagged("show", "hardware", args.name, hardware.get)
        if args.json:
            print(_json(d.to_dict()), file=out)
            return
        rows = [(dt, fmt_flop_rate(v)) for dt, v in d.peak_flops.items()]
        link = ("none in the catalog" if d.interconnect_bandwidth is None else
                f"{d.interconnect}, {fmt_bandwidth(d.interconnect_bandwidth)} per direction, "
                f"{fmt_time(d.interconnect_latency)} per message")
        units = ([f"compute units: {d.sm_count}"
                  + (f" at {d.boost_clock_hz / 1e6:.0f} MHz" if d.boost_clock_hz else "")]
                 if d.sm_count else [])
        exps = ([f"special functions (exp): {fmt_count(d.exp_throughput)} per second"]
                if d.exp_throughput else [])
        lines = [f"{d.name}: {d.label} ({d.vendor})",
                 f"memory: {fmt_bytes(d.memory_capacity)} {d.memory_type} at "
                 f"{fmt_bandwidth(d.memory_bandwidth)}", *units, *exps,
                 f"interconnect: {link}",
                 "", str(Table(("dtype", "dense peak"), rows)) if rows else
                 "dense peaks: none published", "",
                 f"source: {d.source.url} ({d.source.where}; read {d.source.accessed})"]
        if d.notes:
            lines.append(f"notes: {d.notes}")
        print("\n".join(lines), file=out)
        return
    kv = args.kv_dtype or "bf16"
    m = _flagged("show", "model", args.name, resolve_model)
    if args.json:
        print(_json(m.to_dict(kv)), file=out)
        return
    br = m.params_breakdown()
    rows = [(k, fmt_count(v, 4), f"{100 * v / m.params_total:.1f}%") for k, v in br.items()]
    lines = [
        f"{m.name}: {m.label}",
        f"parameters: {fmt_count(m.params_total, 4)} total, {fmt_count(m.params_active, 4)} "
        f"active per token",
        f"KV cache: {fmt_bytes(m.kv_bytes_per_token(kv), binary=True)} per token at {kv} "
        f"(2 x {m.n_layers} layers x {m.n_kv_heads} KV heads x {m.head_dim} head_dim)",
        f"shape: {m.n_layers} layers, d_model {m.d_model}, {m.n_heads} heads "
        f"({m.n_kv_heads} KV), head_dim {m.head_dim}, d_ff {m.d_ff} "
        f"({'gated' if m.gated_mlp else 'plain'} MLP), vocab {m.vocab_size}"
        + (f", {m.n_experts} experts top-{m.top_k}" if m.is_moe else ""),
        f"context: {m.max_context} tokens"
        + (f", sliding window {m.sliding_window}" if m.sliding_window else ""),
        "", str(Table(("component", "params", "share"), rows)), "",
        f"source: {m.source.url}" if m.source else "source: -",
    ]
    print("\n".join(lines), file=out)


def _flagged(command: str, what: str, value: str, fn: Callable[[str], Any]) -> Any:
    """``fn(value)``, turning a ValueError into a one-line error that names the argument."""
    try:
        return fn(value)
    except ValueError as exc:
        arg = what if command == "show" else "--" + what
        raise CliError(f"{PROG} {command}: error: {arg} {value!r}: {exc}") from None


def _estimate(args: argparse.Namespace, out: Any, err: Any) -> None:
    if args.pp is not None or args.micro_batches is not None:
        _estimate_split(args, out, err)
        return
    est = _forward(args, err, "estimate")
    if args.json:
        print(_json(est.to_dict()), file=out)
    else:
        print(inference.ops_table(est), file=out)


def _estimate_split(args: argparse.Namespace, out: Any, err: Any) -> None:
    """``estimate`` with ``--pp`` or ``--micro-batches``: the pipeline's times and memory."""
    where = f"{PROG} estimate: error:"
    pp, mb = args.pp or 1, args.micro_batches or 1
    m = _flagged("estimate", "model", args.model, resolve_model)
    if pp > m.n_layers:
        raise CliError(f"{where} --pp {pp}: more stages than the {m.n_layers} layers of "
                       f"{m.name} (each stage holds at least one whole layer).")
    if args.batch % mb:
        raise CliError(f"{where} --micro-batches {mb} must divide --batch {args.batch} (each "
                       f"micro-batch holds whole sequences).")
    est = _forward(args, err, "estimate", quiet_fit=True)
    new, cached = ((args.prompt_len, 0) if args.phase == "prefill" else (1, args.context))
    try:
        p = parallel.pipeline(m, est.device, args.batch, new, cached, tp=args.tp, pp=pp,
                              micro_batches=mb, weight_dtype=args.weight_dtype,
                              kv_dtype=args.kv_dtype, compute_dtype=args.compute_dtype,
                              fused_attention=not args.unfused_attention,
                              link_bandwidth=args.link_bandwidth,
                              link_latency=args.link_latency, cuda_graphs=not args.eager)
    except ValueError as exc:
        raise CliError(f"{where} {exc}") from None
    if not p.fits:
        raise CliError(f"{where} --tp {args.tp} --pp {pp}: {m.name} needs "
                       f"{fmt_bytes(p.memory_per_device)} per device (weights and KV cache of "
                       f"the largest stage) but {est.device} has "
                       f"{fmt_bytes(p.memory_capacity)}; use more devices.")
    extra = {"pp": p.pp, "micro_batches": p.micro_batches, "devices": p.devices,
             "bubble_s": p.bubble_s, "bubble_fraction": p.bubble_fraction,
             "pipeline_s": p.time_s, "latency_s": p.latency_s, "stage_s": p.stage_time_s,
             "transfer_s": p.transfer_s, "transfer_bytes": p.transfer_bytes,
             "flops_per_device": p.flops_per_device, "bytes_per_device": p.bytes_per_device,
             "memory_per_device": p.memory_per_device,
             "pipeline_tokens_per_s": p.tokens_per_s}
    if args.json:
        print(_json({**est.to_dict(), **{k: inference._plain(v) for k, v in extra.items()}}),
              file=out)
        return
    rows = [("stages x tensor-parallel", f"{p.pp} x {p.tp} = {p.devices} devices"),
            ("layers per stage", ", ".join(str(s.layers) for s in p.stages)),
            ("micro-batches", f"{p.micro_batches} of {args.batch // p.micro_batches}"),
            ("slowest stage, per micro-batch", fmt_time(p.stage_time_s)),
            ("activations between stages", f"{fmt_bytes(p.transfer_bytes)} in "
                                            f"{fmt_time(p.transfer_s)}"),
            ("one micro-batch through all stages", fmt_time(p.latency_s)),
            ("all micro-batches (GPipe)", fmt_time(p.time_s)),
            ("bubble", f"{fmt_time(p.bubble_s)} ({p.bubble_fraction:.1%})"),
            ("tokens/s (all devices)", fmt_count(p.tokens_per_s)),
            ("FLOPs per device", fmt_flops(p.flops_per_device)),
            ("bytes per device", fmt_bytes(p.bytes_per_device)),
            ("memory per device", f"{fmt_bytes(p.memory_per_device)} of "
                                  f"{fmt_bytes(p.memory_capacity)}")]
    title = (f"{args.phase}: {m.name} on {p.devices} x {est.device}, batch {args.batch}, "
             f"tp {p.tp}, pp {p.pp} (calibrated estimate)")
    print(Table(("", "value"), rows, title=title), file=out)


def _utilisation(args: argparse.Namespace, out: Any, err: Any) -> None:
    est = _forward(args, err, "utilisation")
    seconds = (args.time_s if args.time_s is not None
               else float(est.tokens) / args.tokens_per_s)
    u = inference.utilisation(est, seconds)
    if args.json:
        print(_json({**u.to_dict(), "floor_s": est.floor_s, "time_s": est.time_s,
                     "estimate_s": est.estimate_s}), file=out)
        return
    rows = [("measured", fmt_time(seconds)), ("floor", fmt_time(est.floor_s)),
            ("per-op time", fmt_time(est.time_s)),
            ("calibrated estimate", fmt_time(est.estimate_s)),
            ("MBU", f"{u.mbu:.1%}"), ("MFU", "no published peak" if u.mfu is None
                                      else f"{u.mfu:.1%}"),
            ("nearer roof", u.nearer), ("measured / floor", f"{u.vs_floor:.2f}"),
            ("measured / estimate", f"{u.vs_estimate:.2f}")]
    title = (f"{est.phase}: {est.model} on {est.device}, batch {int(est.batch)}, "
             f"{int(est.cached)} cached, {int(est.new_tokens)} new each, tp {est.tp}")
    print(Table(("", "value"), rows, title=title), file=out)


def _speculate(args: argparse.Namespace, out: Any, err: Any) -> None:
    where = f"{PROG} speculate: error:"
    if isinstance(args.alpha, tuple):
        if args.gamma is not None and args.gamma != len(args.alpha):
            raise CliError(f"{where} --alpha gives {len(args.alpha)} per-position rates but "
                           f"--gamma is {args.gamma}: give one rate per draft token, or leave "
                           f"--gamma out.")
    elif args.gamma is None:
        raise CliError(f"{where} --gamma G is needed with a single --alpha (draft tokens per "
                       f"verification, >= 1), or give one rate per draft position "
                       f"(e.g. --alpha 0.8,0.7,0.6).")
    m = _flagged("speculate", "model", args.model, resolve_model)
    d = _flagged("speculate", "hardware", args.hardware, hardware.get)
    draft = (None if args.draft_model is None
             else _flagged("speculate", "draft-model", args.draft_model, resolve_model))
    try:
        s = speculative.speculate(
            m, d, list(args.alpha) if isinstance(args.alpha, tuple) else args.alpha,
            args.gamma, draft_model=draft, draft_cost=args.draft_cost, batch=args.batch,
            context=args.context, weight_dtype=args.weight_dtype, kv_dtype=args.kv_dtype,
            timing=args.timing.replace("-", "_"), cuda_graphs=not args.eager)
    except ValueError as exc:
        raise CliError(f"{where} {exc}") from None
    if not s.fits:
        print(f"warning: {m.name}{'' if draft is None else ' with its draft ' + draft.name} "
              f"at batch {args.batch} and {args.context} tokens does not fit {d.name}'s "
              f"{fmt_bytes(d.memory_capacity)}; estimating anyway.", file=err)
    if args.json:
        print(_json(s.to_dict()), file=out)
        return
    alpha = (", ".join(f"{a:g}" for a in s.alpha) if isinstance(s.alpha, tuple)
             else f"{s.alpha:g}")
    rows = [("expected tokens per verification", f"{s.expected_tokens_per_step:.3f}"),
            (f"draft ({s.draft})", fmt_time(s.draft_time_s)),
            (f"verification ({int(s.gamma) + 1} tokens)", fmt_time(s.verify_time_s)),
            ("  over one decode step", f"{s.verify_ratio:.3f}"),
            ("one speculative step", fmt_time(s.step_time_s)),
            ("time per token, speculative", fmt_time(s.time_per_token_s)),
            ("time per token, plain decode", fmt_time(s.baseline_step_s)),
            ("speed-up", f"{s.speedup:.2f}x")]
    title = (f"speculate: {s.model} on {s.device}, alpha {alpha}, gamma {int(s.gamma)}, "
             f"batch {args.batch}, context {args.context} ({args.timing} times)")
    print(Table(("", "value"), rows, title=title), file=out)


def _forward(args: argparse.Namespace, err: Any, command: str,
             quiet_fit: bool = False) -> inference.Estimate:
    """The estimate the workload flags describe, with the warnings it deserves on ``err``."""
    where = f"{PROG} {command}: error:"
    if args.phase == "prefill":
        if args.context is not None:
            raise CliError(f"{where} --context applies to --phase decode; prefill takes "
                           f"--prompt-len P (prompt tokens per sequence).")
        if args.prompt_len is None:
            raise CliError(f"{where} --phase prefill needs --prompt-len P (prompt tokens per "
                           f"sequence, >= 1).")
    else:
        if args.prompt_len is not None:
            raise CliError(f"{where} --prompt-len applies to --phase prefill; decode takes "
                           f"--context C (tokens already cached per sequence, >= 0).")
        if args.context is None:
            raise CliError(f"{where} --phase decode needs --context C (tokens already cached "
                           f"per sequence, >= 0).")
    m = _flagged(command, "model", args.model, resolve_model)
    d = _flagged(command, "hardware", args.hardware, hardware.get)
    try:
        m.kv_heads_per_device(args.tp)
    except ValueError as exc:
        raise CliError(f"{where} --tp {args.tp}: {exc}") from None
    if args.tp > 1 and args.link_bandwidth is None and d.interconnect_bandwidth is None:
        raise CliError(f"{where} --tp {args.tp}: the catalog holds no device-to-device link "
                       f"for {d.name}; give --link-bandwidth (byte/s per direction, e.g. "
                       f"32e9 for PCIe Gen4 x16) and --link-latency (seconds per message).")
    if args.tp > 1 and args.link_latency is None and d.interconnect_latency is None:
        raise CliError(f"{where} --tp {args.tp}: the catalog holds no link latency for "
                       f"{d.name}; give --link-latency (seconds per message, e.g. 1e-6).")
    kw = dict(weight_dtype=args.weight_dtype, kv_dtype=args.kv_dtype, tp=args.tp,
              compute_dtype=args.compute_dtype, fused_attention=not args.unfused_attention,
              link_bandwidth=args.link_bandwidth, link_latency=args.link_latency,
              cuda_graphs=not args.eager)
    try:
        if args.phase == "prefill":
            est = inference.prefill(m, d, args.batch, args.prompt_len, **kw)
        else:
            est = inference.decode(m, d, args.batch, args.context, **kw)
    except ValueError as exc:
        raise CliError(f"{where} {exc}") from None

    tokens = int(est.cached + est.new_tokens)
    if tokens > m.max_context:
        print(f"warning: {tokens} tokens per sequence exceeds {m.name}'s max context of "
              f"{m.max_context}; estimating anyway.", file=err)
    if not est.fits and not quiet_fit:
        print(f"warning: {m.name} with batch {args.batch} at {tokens} tokens needs "
              f"{fmt_bytes(est.memory_required)} per device (weights {args.weight_dtype}, "
              f"KV {args.kv_dtype}, tp {args.tp}) but {d.name} has "
              f"{fmt_bytes(d.memory_capacity)}; estimating anyway.", file=err)
    if not est.peak_known:
        needed = sorted({est.compute_dtype, est.activation_dtype}
                        - set(d.peak_flops))
        print(f"note: {d.vendor} publishes no {', '.join(needed)} peak for {d.name} "
              f"(published: {', '.join(d.peak_flops) or 'none'}); the times count the bytes "
              f"alone (memory-only).", file=err)
    return est


def _measure(args: argparse.Namespace, out: Any, err: Any) -> None:
    """Time this machine (:func:`lib.measure.measure_machine`) and print its roofs."""
    from lib import measure     # imported here: the calculator's other commands never time

    config = measure.QUICK if args.quick else measure.FULL
    try:
        m = measure.measure_machine(config)
    except (ValueError, MemoryError) as exc:
        raise CliError(f"{PROG} measure: error: {str(exc) or 'out of memory'} (try --quick, on "
                       "a machine with more free memory)") from None
    if args.json:
        print(_json({**m.to_dict(), "quick": bool(args.quick)}), file=out)
        return
    bands = measure.level_bands(m.caches)
    rows = []
    for level, bw in m.bandwidth.items():
        lo, hi = bands[level]
        span = (f">= {fmt_bytes(lo, binary=True)}" if hi == float("inf")
                else f"{fmt_bytes(lo, binary=True)} to {fmt_bytes(hi, binary=True)}" if lo
                else f"<= {fmt_bytes(hi, binary=True)}")
        rows.append((f"bandwidth, {level}", f"working sets {span}", fmt_bandwidth(bw)))
    for dtype, peak in m.peak.items():
        rows.append((f"peak, {dtype}", "best matrix product", fmt_flop_rate(peak)))
    for dtype in m.peak:
        rows.append((f"ridge, {dtype}", f"against {m.main_level}",
                     fmt_intensity(m.ridge(dtype))))
    p = m.provenance
    footer = (f"{p.cpu}, {p.cores} cores; numpy {p.numpy}, BLAS {p.blas}, threads "
              f"{p.blas_threads}; {p.date}, load {p.load}; measured in {m.seconds:.1f} s"
              f"{' (--quick)' if args.quick else ''}. Bandwidth: np.add(a, b, out=c), "
              f"3 arrays counted (write-allocate not); peaks: a @ b.")
    slow = measure.overhead_bound(m.bandwidth)
    notes = (footer,) + ((f"{', '.join(slow)}: slower than the level beyond, so timed through "
                          "numpy's fixed cost per call, not the cache: a floor on its bandwidth "
                          "(chapter 16, 'Call overhead').",) if slow else ())
    print(Table(("", "how", "measured"), rows, title="measure: this machine's roofline",
                footer=notes), file=out)


def main(argv: Sequence[str] | None = None, *, stdout: Any = None, stderr: Any = None) -> int:
    """Run the calculator with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    0 on success, 2 on bad input (one line on stderr, no traceback).

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> main(["estimate", "--model", "gpt2", "--hardware", "h100", "--phase", "decode",
    ...       "--batch", "1", "--context", "0"], stderr=sys.stdout)
    python -m lib estimate: error: --hardware 'h100': device='h100' is not known; did you mean 'h100-sxm', 'h100-pcie', 'h200'? Accepted: a100-sxm-40gb, a100-sxm-80gb, h100-sxm, h100-pcie, h200, b200, l4, l40s, rtx-4090, mi300x, tpu-v5e, tpu-v5p, m2-ultra.
    2
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        if args.command == "list":
            _list(args, out)
        elif args.command == "show":
            _show(args, out)
        elif args.command == "estimate":
            _estimate(args, out, err)
        elif args.command == "speculate":
            _speculate(args, out, err)
        elif args.command == "simulate":
            _simulate(args, out, err)
        elif args.command == "measure":
            _measure(args, out, err)
        else:
            _utilisation(args, out, err)
    except CliError as exc:
        print(" ".join(str(exc).split()), file=err)
        return 2
    except SystemExit as exc:      # --help
        return int(exc.code or 0)
    except BrokenPipeError:        # e.g. `python -m lib list models | head -3`
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0
