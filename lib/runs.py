"""Published end-to-end inference runs, and what the cost model predicts for each.

:mod:`lib.measurements` holds what single kernels achieved (a matrix product's best
FLOP/s, a memory copy's bandwidth): the evidence the calibrated estimate is built from.
This module holds what whole inference runs measured, as their sources print them: a
model served on a device with some framework, at a stated batch, prompt and output
length, precision and tensor-parallel degree, and the time to first token, the time per
output token, tokens per second or a request's latency that came out. Each
:class:`Run` cites its source (URL, where on the page, the words quoted, the date read,
the bibliography key); the runs live in ``lib/data/runs.json``.

:func:`predict` turns a run's workload into the same quantity with the book's model, three
ways: the floor (no implementation is faster), the per-op time, and the calibrated
estimate (:mod:`lib.efficiency`). :func:`compare` does it for many runs at once and
reports each one's error; chapters/08_model_vs_reality.ipynb reads them.

How a run's metric becomes a time of the model. The ``phase`` says what was timed: a
``prefill`` of ``batch`` prompts; ``decode``, the ``output`` decode steps alone, the context
growing from ``prompt`` (0: an empty cache, as llama.cpp's ``tg`` tests run); a whole
``request``, the prefill and then ``output - 1`` decode steps. Then:

* ``ttft_s``, ``request_latency_s``: that time;
* ``tpot_s``: that time over the decode steps in it (the mean step);
* ``tokens_per_s_per_seq``: ``output`` over that time;
* ``tokens_per_s_total``: ``batch * output`` over that time (a static batch, as
  TensorRT-LLM's benchmark and llama.cpp's batched bench run it);
* ``prefill_tokens_per_s``: ``batch * prompt`` over the prefill's time.

Every run also says whether its framework replays decode steps as a CUDA graph (or an
equivalent: a compiled engine, a graph of the whole step), which sets the launch cost
the calibrated estimate charges.

Introduced in chapters/08_model_vs_reality.ipynb.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from lib import hardware, inference, models
from lib._validate import choice, positive
from lib.hardware import Source
from lib.tables import Table
from lib.units import fmt_time

__all__ = ["METRICS", "PHASES", "SPLITS", "TIMES", "Run", "RUNS", "keys", "get", "predict",
           "Prediction", "compare", "estimable", "median_abs_error",
           "TOLERANCE", "FAMILIES", "family", "framework_name", "error", "ErrorStats",
           "error_stats", "describe", "COLUMNS", "comparison_table", "summary_table",
           "error_table", "interleaved_prefill_s", "measurement", "published_as", "utilisation"]

#: What a run reports, and the unit of its ``value``.
METRICS = {"ttft_s": "s", "tpot_s": "s", "request_latency_s": "s",
           "tokens_per_s_per_seq": "token/s", "tokens_per_s_total": "token/s",
           "prefill_tokens_per_s": "token/s"}
PHASES = ("prefill", "decode", "request")
#: ``tuning``: runs looked at while the efficiency factors were chosen; ``held-out``: kept
#: aside until they were fixed (chapters/08_model_vs_reality.ipynb reports both).
SPLITS = ("tuning", "held-out")
#: The model's three times, by :class:`lib.inference.Estimate` attribute.
TIMES = ("floor_s", "time_s", "estimate_s")

DATA = Path(__file__).resolve().parent / "data" / "runs.json"


@dataclass(frozen=True)
class Run:
    """One published measurement of an inference run, with its workload and its source.

    Attributes
    ----------
    key : str
        Name in :data:`RUNS`.
    model, device : str
        Catalog names (:func:`lib.models.get`, :func:`lib.hardware.get`).
    devices : int
        Tensor-parallel degree: GPUs serving one copy of the model.
    weight_dtype, kv_dtype : str
        Precisions of the weights and the KV cache.
    phase : str
        ``"prefill"``, ``"decode"`` or ``"request"`` (both).
    batch, prompt_tokens, output_tokens : int
        Sequences served together; tokens of each prompt; tokens each generates.
    metric : str
        One of :data:`METRICS`; ``value`` is in its unit (seconds or tokens/s).
    value : float
        The measured value.
    printed : str
        The value as the source prints it.
    framework : str
        The software, with its version where the source gives it.
    cuda_graphs : bool
        Whether decode steps are replayed as one graph (few launches per step).
    conditions : str
        Everything else the source states, and how an unstated detail was settled.
    source : Source
        Where it was read (``source.where`` quotes the words).
    split : str
        One of :data:`SPLITS`.
    rejected : str
        Empty, or why the run cannot be what its source says (a time below the floor):
        shown, never counted in the error statistics.

    Introduced in chapters/08_model_vs_reality.ipynb.
    """

    key: str
    model: str
    device: str
    devices: int
    weight_dtype: str
    kv_dtype: str
    phase: str
    batch: int
    prompt_tokens: int
    output_tokens: int
    metric: str
    value: float
    printed: str
    framework: str
    cuda_graphs: bool
    conditions: str
    source: Source
    split: str
    rejected: str = ""
    quote: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", models.get(self.model).name)
        object.__setattr__(self, "device", hardware.get(self.device).name)
        object.__setattr__(self, "phase", choice("phase", self.phase, PHASES))
        object.__setattr__(self, "metric", choice("metric", self.metric, METRICS))
        object.__setattr__(self, "split", choice("split", self.split, SPLITS))
        for name in ("devices", "batch"):
            positive(name, getattr(self, name), integer=True)
        positive("prompt_tokens", self.prompt_tokens, allow_zero=self.phase == "decode",
                 integer=True)
        positive("output_tokens", self.output_tokens, allow_zero=self.phase == "prefill",
                 integer=True)
        positive("value", self.value)
        timed = {"prefill": ("ttft_s", "prefill_tokens_per_s"),
                 "decode": ("tpot_s", "tokens_per_s_per_seq", "tokens_per_s_total"),
                 "request": ("request_latency_s", "tokens_per_s_per_seq", "tokens_per_s_total",
                             "tpot_s", "ttft_s")}[self.phase]
        if self.metric not in timed:
            raise ValueError(f"run {self.key!r}: metric={self.metric!r} does not describe a "
                             f"{self.phase}; accepted: {', '.join(timed)}.")

    @property
    def bibkey(self) -> str:
        return self.source.bibkey

    @property
    def unit(self) -> str:
        return METRICS[self.metric]

    @property
    def measured_s(self) -> float:
        """The measurement as the time of what it timed (:func:`_work` says what)."""
        return _as_time(self, self.value)


def _load(path: Path = DATA) -> dict[str, Run]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, Run] = {}
    for row in rows:
        src = row.pop("source")
        run = Run(**row, source=Source(src["url"], src["where"], src["read"], src["bibkey"]),
                  quote=src.get("quote", ""))
        if run.key in out:
            raise ValueError(f"run key {run.key!r} appears twice in {path.name}")
        out[run.key] = run
    return out


#: Every published run, by key.
RUNS: Mapping[str, Run] = MappingProxyType(_load())


def keys(split: str | None = None) -> list[str]:
    """Run keys, in catalog order (those of one split if given).

    Examples
    --------
    >>> len(keys()) == len(keys("tuning")) + len(keys("held-out"))
    True
    """
    if split is not None:
        choice("split", split, SPLITS)
    return [k for k, r in RUNS.items() if split is None or r.split == split]


def get(key: "str | Run") -> Run:
    """Look a run up by key; a :class:`Run` is returned as is.

    Introduced in chapters/08_model_vs_reality.ipynb.
    """
    if isinstance(key, Run):
        return key
    return RUNS[choice("run", key, RUNS)]


# --- from a run's workload to the model's times ----------------------------------------------

def _tokens(run: Run) -> float:
    """Tokens in the numerator of a rate metric."""
    if run.metric == "tokens_per_s_per_seq":
        return float(run.output_tokens)
    if run.metric == "tokens_per_s_total":
        return float(run.batch * run.output_tokens)
    return float(run.batch * run.prompt_tokens)               # prefill_tokens_per_s


def _as_time(run: Run, value: float) -> float:
    """A metric's value as the time of the work it timed."""
    return value if METRICS[run.metric] == "s" else _tokens(run) / value


def _from_time(run: Run, seconds: float) -> float:
    """The metric's value for a run whose timed work took ``seconds``."""
    return seconds if METRICS[run.metric] == "s" else _tokens(run) / seconds


@lru_cache(maxsize=None)
def _times(run: Run) -> dict[str, tuple[float, float, int]]:
    """For each of :data:`TIMES`: (prefill time, summed decode steps, number of steps) of
    what the run timed."""
    kw = dict(weight_dtype=run.weight_dtype, kv_dtype=run.kv_dtype, tp=run.devices,
              cuda_graphs=run.cuda_graphs)
    first = (inference.prefill(run.model, run.device, run.batch, run.prompt_tokens, **kw)
             if run.phase != "decode" else None)
    steps = {"prefill": 0, "decode": run.output_tokens,
             "request": max(run.output_tokens - 1, 0)}[run.phase]
    contexts = run.prompt_tokens + np.arange(steps)
    dec = inference.decode(run.model, run.device, run.batch, contexts, **kw) if steps else None
    return {t: (float(getattr(first, t)) if first is not None else 0.0,
                float(np.sum(getattr(dec, t))) if dec is not None else 0.0, steps)
            for t in TIMES}


def estimable(run: "str | Run") -> bool:
    """Whether the model can estimate the run: the device publishes the compute peak it
    needs, or the run times batch-1 decode steps alone (memory-bound on any device: the
    bandwidth suffices). Without a peak, a prefill or a batched decode cannot be priced.

    Introduced in chapters/08_model_vs_reality.ipynb.
    """
    r = get(run)
    return (r.phase == "decode" and r.batch == 1) or _peak_known(r)


@lru_cache(maxsize=None)
def _peak_known(run: Run) -> bool:
    """Whether the run's device publishes the peaks its forward needs (asked once per run)."""
    return bool(inference.prefill(run.model, run.device, 1, 1, weight_dtype=run.weight_dtype,
                                  kv_dtype=run.kv_dtype).peak_known)


def _model_time(run: Run, time: str) -> float:
    first, steps_s, steps = _times(run)[choice("time", time, TIMES)]
    if run.metric in ("ttft_s", "prefill_tokens_per_s"):
        return first
    if run.metric == "tpot_s":
        return steps_s / steps
    return first + steps_s


def predict(run: "str | Run", time: str = "estimate_s") -> float:
    """What the model predicts for the run's metric, in its unit.

    ``time`` picks the model: ``"floor_s"`` (the floor), ``"time_s"`` (the per-op time)
    or ``"estimate_s"`` (the calibrated estimate).

    Introduced in chapters/08_model_vs_reality.ipynb.
    """
    r = get(run)
    return _from_time(r, _model_time(r, time))


@dataclass(frozen=True)
class Prediction:
    """One run beside the model: measured and predicted times of the same work.

    ``error`` is ``predicted / measured - 1`` of the times (negative: the model is too
    fast); ``floor_ok`` whether the floor is at most the measurement (it must be).
    """

    run: Run
    measured_s: float
    floor_s: float
    time_s: float
    estimate_s: float

    @property
    def error(self) -> float:
        """The calibrated estimate's error (:func:`error`)."""
        return error(self)

    @property
    def estimable(self) -> bool:
        """See :func:`estimable`: without a compute peak a prefill cannot be estimated."""
        return estimable(self.run)

    @property
    def counted(self) -> bool:
        """Whether the error statistics count it: estimable and not rejected."""
        return self.estimable and not self.run.rejected

    @property
    def floor_ok(self) -> bool:
        return self.floor_s <= self.measured_s * (1 + 1e-9)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.run.key, "split": self.run.split, "measured_s": self.measured_s,
                "floor_s": self.floor_s, "time_s": self.time_s, "estimate_s": self.estimate_s,
                "error": self.error, "floor_ok": self.floor_ok, "estimable": self.estimable}


def compare(runs: "list[str | Run] | None" = None) -> list[Prediction]:
    """Every run (or those given) beside the floor, the per-op time and the estimate.

    Introduced in chapters/08_model_vs_reality.ipynb.
    """
    chosen = [get(r) for r in (runs if runs is not None else RUNS)]
    return [Prediction(r, r.measured_s, *(_model_time(r, t) for t in TIMES)) for r in chosen]


def median_abs_error(predictions: list[Prediction]) -> float:
    """The median of ``|estimate / measured - 1|`` over the ``predictions`` it counts
    (:attr:`Prediction.counted`).

    Introduced in chapters/08_model_vs_reality.ipynb.
    """
    errors = [abs(p.error) for p in predictions if p.counted]
    if not errors:
        raise ValueError("no counted prediction: nothing to take the median of.")
    return float(np.median(errors))


# --- reading the comparison (chapters/08_model_vs_reality.ipynb) ------------------------------

#: How far a prediction may be from a measurement and still count as close: within 35%
#: of it, either way (the target of the book's issue 9).
TOLERANCE = 0.35

#: Device families by catalog name: the GPUs of one architecture run the same kernels.
FAMILIES: Mapping[str, str] = MappingProxyType({
    "a100-sxm-40gb": "NVIDIA Ampere", "a100-sxm-80gb": "NVIDIA Ampere",
    "h100-sxm": "NVIDIA Hopper", "h100-pcie": "NVIDIA Hopper", "h200": "NVIDIA Hopper",
    "b200": "NVIDIA Blackwell", "l4": "NVIDIA Ada", "l40s": "NVIDIA Ada",
    "rtx-4090": "NVIDIA Ada", "mi300x": "AMD CDNA 3", "tpu-v5e": "Google TPU",
    "tpu-v5p": "Google TPU", "m2-ultra": "Apple M2"})


def family(run: "str | Run") -> str:
    """The device family of a run's device (:data:`FAMILIES`).

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> family("gpt-fast-l2-70b-bf16-tp8"), family("rocmblog-mi300x-tp8-llama31-70b-fp8-bs1-128-2048")
    ('NVIDIA Ampere', 'AMD CDNA 3')
    """
    return FAMILIES[get(run).device]


def framework_name(run: "str | Run") -> str:
    """The framework a run used, without its version, build or notes.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> framework_name("trtllm090-l2-7b-h100-sxm-tp1-ttft-isl128")
    'TensorRT-LLM'
    >>> framework_name("lcpp4167-m2u76-l2-7b-f16-pp512")      # "llama.cpp build 8e672ef (Metal)"
    'llama.cpp'
    """
    words = []
    for word in get(run).framework.split(" (")[0].split():
        if word == "build" or word[0].isdigit() or (word[0] == "v" and word[1:2].isdigit()):
            break
        words.append(word)
    return " ".join(words)


def error(prediction: Prediction, time: str = "estimate_s") -> float:
    """``predicted / measured - 1`` for one of the model's :data:`TIMES` (negative: too fast).

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> p = compare(["gpt-fast-l31-8b-bf16-tp1"])[0]
    >>> error(p) == p.error, round(error(p, "floor_s"), 2)
    (True, -0.31)
    """
    return getattr(prediction, choice("time", time, TIMES)) / prediction.measured_s - 1.0


@dataclass(frozen=True)
class ErrorStats:
    """How well one of the model's times predicts the runs it counts.

    ``median_abs``: the median of ``|error|``; ``within``: the share with ``|error|`` at most
    ``tolerance``; ``bias``: the median signed error (negative: the model is too fast).

    Introduced in chapters/08_model_vs_reality.ipynb.
    """

    time: str
    count: int
    median_abs: float
    within: float
    bias: float
    tolerance: float


def error_stats(predictions: list[Prediction], time: str = "estimate_s",
                tolerance: float = TOLERANCE) -> ErrorStats:
    """Error statistics of ``time`` over the predictions counted (:attr:`Prediction.counted`).

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> s = error_stats(compare(keys("tuning")))
    >>> s.median_abs == median_abs_error(compare(keys("tuning"))), s.bias < 0 < s.within <= 1
    (True, True)
    """
    errors = np.array([error(p, time) for p in predictions if p.counted])
    if not errors.size:
        raise ValueError("no counted prediction: nothing to take statistics of.")
    tol = float(positive("tolerance", tolerance))
    return ErrorStats(time, int(errors.size), float(np.median(np.abs(errors))),
                      float(np.mean(np.abs(errors) <= tol)), float(np.median(errors)), tol)


def _t(x: float) -> str:
    return fmt_time(x) if np.isfinite(x) else "-"


def describe(run: "str | Run") -> str:
    """One line for a run's workload: model, device, precision, phase and sizes.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> describe("trtllm090-l2-7b-h100-sxm-tp1-ttft-isl128")
    'llama-2-7b on h100-sxm, fp8, prefill B=1 P=128: ttft_s'
    >>> describe("gpt-fast-l2-70b-bf16-tp8")
    'llama-2-70b on 8 a100-sxm-80gb, bf16, decode B=1 P=5 out=200: tokens_per_s_per_seq'
    """
    r = get(run)
    on = f"{r.devices} {r.device}" if r.devices > 1 else r.device
    sizes = f"B={r.batch} P={r.prompt_tokens}" + (f" out={r.output_tokens}"
                                                   if r.phase != "prefill" else "")
    return f"{r.model} on {on}, {r.weight_dtype}, {r.phase} {sizes}: {r.metric}"


#: Columns :func:`comparison_table` can show, and what each holds.
COLUMNS = {
    "run": "the workload (:func:`describe`)", "key": "the run's key",
    "family": "device family", "framework": "framework, without version",
    "printed": "the measurement as the source prints it", "source": "bibliography key",
    "split": "tuning or held-out", "measured": "the measured time of what was timed",
    "floor": "the floor's time", "per-op": "the per-op time", "estimate": "the calibrated estimate",
    "error": "estimate / measured - 1"}


def comparison_table(predictions: list[Prediction],
                     columns: "tuple[str, ...] | list[str]" = (
                         "run", "framework", "measured", "floor", "per-op", "estimate", "error"),
                     title: str = "") -> Table:
    """Runs beside the model's three times, one row each (columns from :data:`COLUMNS`).

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> t = comparison_table(compare(["gpt-fast-l31-8b-bf16-tp1"]), ("key", "measured", "error"))
    >>> print(t)
    key                       measured  error
    ------------------------  --------  -----
    gpt-fast-l31-8b-bf16-tp1    2.13 s    -9%
    """
    cols = [choice("column", c, COLUMNS) for c in columns]

    def cell(c: str, p: Prediction) -> str:
        r = p.run
        return {"run": describe, "key": lambda r: r.key, "family": family,
                "framework": framework_name, "printed": lambda r: r.printed,
                "source": lambda r: r.bibkey, "split": lambda r: r.split}[c](r) \
            if c in ("run", "key", "family", "framework", "printed", "source", "split") else {
                "measured": lambda: _t(p.measured_s), "floor": lambda: _t(p.floor_s),
                "per-op": lambda: _t(p.time_s), "estimate": lambda: _t(p.estimate_s),
                "error": lambda: f"{p.error:+.0%}".replace("+-", "-")}[c]()

    rows = [[cell(c, p) for c in cols] for p in predictions]
    align = ["<" if c in ("run", "key", "family", "framework", "printed", "source", "split")
             else ">" for c in cols]
    return Table(cols, rows, align=align, title=title)


def summary_table(runs: "list[str | Run] | None" = None) -> Table:
    """How many runs there are, by device family and framework: per phase, the metrics
    used, and per split.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> print(summary_table(["gpt-fast-l2-70b-bf16-tp8", "gpt-fast-l2-70b-int4-tp8"]))
    family         framework  prefill  decode  request  metrics               tuning  held-out  total
    -------------  ---------  -------  ------  -------  --------------------  ------  --------  -----
    NVIDIA Ampere  gpt-fast         0       2        0  tokens_per_s_per_seq       2         0      2
    -------------  ---------  -------  ------  -------  --------------------  ------  --------  -----
    all                             0       2        0                             2         0      2
    """
    chosen = [get(r) for r in (runs if runs is not None else RUNS)]
    groups: dict[tuple[str, str], list[Run]] = {}
    for r in chosen:
        groups.setdefault((family(r), framework_name(r)), []).append(r)

    def counts(rs: list[Run]) -> list[str]:
        return [str(sum(r.phase == ph for r in rs)) for ph in PHASES]

    def splits(rs: list[Run]) -> list[str]:
        return [str(sum(r.split == s for r in rs)) for s in SPLITS] + [str(len(rs))]

    rows = []
    for (fam, fw), rs in sorted(groups.items()):
        metrics = ", ".join(m for m in METRICS if any(r.metric == m for r in rs))
        rows.append([fam, fw, *counts(rs), metrics, *splits(rs)])
    rows.append(["all", "", *counts(chosen), "", *splits(chosen)])
    header = ["family", "framework", *PHASES, "metrics", *SPLITS, "total"]
    return Table(header, rows, align=["<", "<", ">", ">", ">", "<", ">", ">", ">"], totals=1)


def error_table(predictions: list[Prediction], tolerance: float = TOLERANCE) -> Table:
    """Each of the model's times against the runs of each split: median ``|error|``, the
    share within ``tolerance`` and the median signed error (:func:`error_stats`).

    Introduced in chapters/08_model_vs_reality.ipynb.
    """
    names = {"floor_s": "floor", "time_s": "per-op time", "estimate_s": "calibrated estimate"}
    rows = []
    for split in (*SPLITS, "all"):
        chosen = [p for p in predictions if split == "all" or p.run.split == split]
        for time in TIMES:
            s = error_stats(chosen, time, tolerance)
            rows.append([split if time == TIMES[0] else "", names[time], str(s.count),
                         f"{s.median_abs:.0%}", f"{s.within:.0%}", f"{s.bias:+.0%}"])
    return Table(["split", "time", "runs", "median |error|", f"within {tolerance:.0%}",
                  "median error"], rows, align=["<", "<", ">", ">", ">", ">"])


def interleaved_prefill_s(run: "str | Run", time: str = "estimate_s") -> float:
    """The prefill time a server at fixed concurrency spreads over each decode step, seconds.

    A benchmark that keeps ``batch`` requests in flight, each generating
    ``output_tokens``, starts ``batch / output_tokens`` new requests per decode step on
    average; a serving engine runs each new prompt's prefill between (or inside) the decode
    steps, so the mean time between two tokens a client sees includes that share of
    prefill work. This is the model's prefill of one ``prompt_tokens`` prompt (``time``,
    one of :data:`TIMES`) times ``batch / output_tokens``.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> key = "nim180-l33-70b-fp8-h100-tp2-5000-500-c50-itl"   # 50 users, 5000-token prompts
    >>> round(interleaved_prefill_s(key) * 1e3, 1)               # ms per decode step
    38.6
    """
    r = get(run)
    if r.phase == "prefill":
        raise ValueError(f"run {r.key!r} is a prefill: it has no decode steps to spread "
                         "prefills over.")
    first = inference.prefill(r.model, r.device, 1, r.prompt_tokens,
                              weight_dtype=r.weight_dtype, kv_dtype=r.kv_dtype, tp=r.devices,
                              cuda_graphs=r.cuda_graphs)
    return float(getattr(first, choice("time", time, TIMES))) * r.batch / r.output_tokens


def measurement(model: str, device: str, phase: str, batch: int, prompt_tokens: int,
                output_tokens: int, metric: str, value: float, *, weight_dtype: str = "bf16",
                kv_dtype: str = "bf16", devices: int = 1, cuda_graphs: bool = True,
                framework: str = "", key: str = "yours") -> Run:
    """A run of your own, to set beside the model as the published runs are.

    The arguments mean what :class:`Run`'s attributes mean; ``value`` is in the unit of
    ``metric`` (:data:`METRICS`). It is not added to :data:`RUNS`.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> mine = measurement("llama-2-7b", "a100-sxm-80gb", "decode", 1, 5, 200,
    ...                    "tokens_per_s_per_seq", 104.9)
    >>> round(mine.measured_s, 3), round(compare([mine])[0].error, 2)
    (1.907, -0.09)
    """
    return Run(key, model, device, devices, weight_dtype, kv_dtype, phase, batch,
               prompt_tokens, output_tokens, metric, value, f"{value:g}", framework,
               bool(cuda_graphs), "your measurement", Source("", "your measurement", "", ""),
               "held-out")


def published_as(run: "str | Run") -> list[str]:
    """Keys of the published runs with ``run``'s workload, metric and value.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> published_as(measurement("llama-2-70b", "a100-sxm-80gb", "decode", 1, 5, 200,
    ...                          "tokens_per_s_per_seq", 62.5, devices=8))
    ['gpt-fast-l2-70b-bf16-tp8']
    """
    r = get(run)
    same = ("model", "device", "devices", "weight_dtype", "kv_dtype", "phase", "batch",
            "prompt_tokens", "output_tokens", "metric")
    return [k for k, p in RUNS.items()
            if all(getattr(p, f) == getattr(r, f) for f in same)
            and np.isclose(p.value, r.value, rtol=1e-9)]


def utilisation(run: "str | Run") -> inference.Utilisation:
    """MBU, MFU and the nearer roof of a run (:func:`lib.inference.utilisation`).

    A prefill (``ttft_s``, ``prefill_tokens_per_s``) is one forward. Decode steps (``tpot_s``,
    or the steps a decode run timed) are judged as their mean step: the step at the mean
    context, against the measured time per step. A whole request mixes a prefill with decode
    steps, which sit on different roofs: it has no single MBU or MFU.

    Introduced in chapters/08_model_vs_reality.ipynb.

    Examples
    --------
    >>> u = utilisation("gpt-fast-l31-8b-bf16-tp1")
    >>> u.nearer, round(u.mbu, 2), round(u.vs_estimate, 2)
    ('memory', 0.69, 1.1)
    """
    r = get(run)
    kw = dict(weight_dtype=r.weight_dtype, kv_dtype=r.kv_dtype, tp=r.devices,
              cuda_graphs=r.cuda_graphs)
    if r.metric in ("ttft_s", "prefill_tokens_per_s"):
        forward = inference.prefill(r.model, r.device, r.batch, r.prompt_tokens, **kw)
        return inference.utilisation(forward, r.measured_s)
    if r.phase == "request" and r.metric != "tpot_s":
        raise ValueError(f"run {r.key!r} times a whole request (a prefill and decode steps "
                         "on different roofs): it has no single MBU or MFU; give a TTFT or a "
                         "time per output token.")
    steps = r.output_tokens if r.phase == "decode" else max(r.output_tokens - 1, 1)
    per_step = r.measured_s if r.metric == "tpot_s" else r.measured_s / steps
    forward = inference.decode(r.model, r.device, r.batch, r.prompt_tokens + (steps - 1) // 2,
                               **kw)
    return inference.utilisation(forward, per_step)
