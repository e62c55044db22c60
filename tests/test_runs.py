"""lib.runs: the published runs are well formed and sourced, their metrics become the
right times, and the model's three times stand in the order they must."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lib import inference, runs

ROOT = Path(__file__).resolve().parents[1]
BIBKEYS = set(re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,",
                         (ROOT / "references.bib").read_text(encoding="utf-8"), flags=re.M))
PREDICTIONS = runs.compare()


def test_the_table_spans_what_the_comparison_needs():
    rs = list(runs.RUNS.values())
    assert len(rs) >= 150
    families = {r.device.split("-")[0] for r in rs}
    assert {"a100", "h100", "mi300x", "m2", "rtx"} <= families       # 3+ device families
    assert len({r.framework.split()[0] for r in rs}) >= 5             # several frameworks
    assert {r.phase for r in rs} == set(runs.PHASES)
    assert {r.weight_dtype for r in rs} >= {"bf16", "fp8", "int8", "int4", "q4_0"}
    assert max(r.devices for r in rs) == 8
    assert len({r.batch for r in rs if r.model == "llama-3-70b" and r.device == "mi300x"}) >= 5
    assert 0.25 < len(runs.keys("held-out")) / len(rs) < 0.75


@pytest.mark.parametrize("run", list(runs.RUNS.values()), ids=list(runs.RUNS))
def test_every_run_is_sourced(run):
    assert run.source.url.startswith("https://")
    assert run.source.bibkey in BIBKEYS, f"{run.key}: cite key {run.source.bibkey!r}"
    assert run.source.accessed == "2026-11-30" and run.quote and run.printed
    assert run.conditions


@pytest.mark.parametrize("key,value,seconds", [
    # printed "62.50 tokens/s" for 200 tokens: 3.2 s for the timed window
    ("gpt-fast-l2-70b-bf16-tp8", 62.5, 200 / 62.5),
    ("rocmblog-mi300x-tp8-llama31-70b-fp8-bs1-128-2048", 19.089, 19.089),   # "19089 ms"
    ("lcpp4167-m2u76-l2-7b-q40-tg128", 94.27, 128 / 94.27),                 # "94.27 t/s"
    ("trtllm090-l2-7b-h100-sxm-tp1-ttft-isl128", 0.0063, 0.0063),           # "6.3 ms"
])
def test_known_values_and_the_time_they_measure(key, value, seconds):
    r = runs.get(key)
    assert r.value == pytest.approx(value) and r.measured_s == pytest.approx(seconds)


def test_a_decode_run_times_its_steps_alone():
    r = runs.get("lcpp4167-m2u76-l2-7b-q40-tg128")        # 128 steps from an empty cache
    steps = inference.decode(r.model, r.device, 1, np.arange(128), weight_dtype="q4_0")
    assert runs.predict(r, "time_s") == pytest.approx(128 / float(np.sum(steps.time_s)))


def test_a_request_is_a_prefill_then_output_minus_one_steps():
    r = runs.get("rocmblog-mi300x-tp8-llama31-70b-fp8-bs1-128-2048")
    kw = dict(weight_dtype="fp8", kv_dtype=r.kv_dtype, tp=8)
    first = inference.prefill(r.model, r.device, 1, 128, **kw).time_s
    steps = inference.decode(r.model, r.device, 1, 128 + np.arange(2047), **kw).time_s
    assert runs.predict(r, "time_s") == pytest.approx(first + np.sum(steps))


@pytest.mark.parametrize("p", PREDICTIONS, ids=[p.run.key for p in PREDICTIONS])
def test_the_three_times_in_order_and_the_floor_below_every_counted_run(p):
    assert p.floor_s <= p.time_s * (1 + 1e-12)
    assert p.floor_s <= p.estimate_s * (1 + 1e-12)
    if p.counted:
        assert p.floor_ok, f"{p.run.key}: the floor {p.floor_s:.4g} s is above the " \
                           f"measured {p.measured_s:.4g} s: a wrong row, or a wrong floor"
    if p.run.rejected:
        assert not p.floor_ok                       # rejected for being below the floor


def test_without_a_compute_peak_a_prefill_is_not_estimable():
    assert not runs.estimable("lcpp4167-m2u76-l2-7b-q40-pp512")
    assert runs.estimable("lcpp4167-m2u76-l2-7b-q40-tg128")


def test_errors_and_their_median():
    counted = [p for p in PREDICTIONS if p.counted]
    assert runs.median_abs_error(PREDICTIONS) == pytest.approx(
        np.median([abs(p.estimate_s / p.measured_s - 1) for p in counted]))
    assert runs.median_abs_error(PREDICTIONS) < np.median(
        [abs(p.time_s / p.measured_s - 1) for p in counted])   # better than the per-op time
    with pytest.raises(ValueError, match="no counted prediction"):
        runs.median_abs_error([])


def test_bad_runs_are_refused():
    good = runs.get("gpt-fast-l2-70b-bf16-tp8")
    fields = {f: getattr(good, f) for f in good.__dataclass_fields__}
    with pytest.raises(ValueError, match="metric='ttft_s' does not describe a decode"):
        runs.Run(**{**fields, "phase": "decode", "metric": "ttft_s"})
    with pytest.raises(ValueError, match="model='llama-9b' is not known"):
        runs.Run(**{**fields, "model": "llama-9b"})
    with pytest.raises(ValueError, match="split='dev' is not known"):
        runs.Run(**{**fields, "split": "dev"})
    with pytest.raises(ValueError, match="run='gpt-fast' is not known; did you mean"):
        runs.get("gpt-fast")
