"""Reading the comparison of chapter 8: the helpers lib.runs and lib.efficiency add for it
(families, frameworks, error statistics, tables, a reader's own run, utilisation)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lib import efficiency, hardware, inference, runs
from lib.runs import Prediction

ROOT = Path(__file__).resolve().parents[1]
PREDICTIONS = runs.compare()


def test_every_device_has_a_family_and_the_runs_span_five():
    assert set(runs.FAMILIES) == set(efficiency.EFFICIENCIES)   # every catalog device
    assert {runs.family(r) for r in runs.RUNS.values()} == {
        "NVIDIA Ampere", "NVIDIA Hopper", "NVIDIA Ada", "AMD CDNA 3", "Apple M2"}


def test_framework_names_drop_versions_builds_and_notes():
    assert {runs.framework_name(r) for r in runs.RUNS.values()} == {
        "TensorRT-LLM", "gpt-fast", "torchao", "llama.cpp", "vLLM", "NVIDIA NIM", "MLC LLM",
        "ExLlamaV2"}


def _prediction(estimate_s, key="gpt-fast-l2-70b-bf16-tp8", **run_changes):
    run = replace(runs.get(key), **run_changes)
    return Prediction(run, 1.0, 0.4 * estimate_s, 0.5 * estimate_s, estimate_s)


def test_error_statistics_by_hand():
    # errors -0.5, -0.1, +0.2, and two rows that are not counted
    preds = [_prediction(0.5), _prediction(0.9), _prediction(1.2),
             _prediction(9.0, rejected="below the floor"),
             _prediction(9.0, key="lcpp4167-m2u76-l2-7b-q40-pp512")]     # not estimable
    s = runs.error_stats(preds)
    assert (s.count, s.median_abs, s.within, s.bias) == (3, pytest.approx(0.2),
                                                          pytest.approx(2 / 3),
                                                          pytest.approx(-0.1))
    assert runs.error_stats(preds, "floor_s").bias == pytest.approx(0.4 * 0.9 - 1)
    assert runs.error_stats(preds, tolerance=0.05).within == 0
    assert runs.error(preds[0], "time_s") == pytest.approx(-0.75)
    with pytest.raises(ValueError, match="no counted prediction"):
        runs.error_stats(preds[3:])
    with pytest.raises(ValueError, match="time='estimate' is not known"):
        runs.error_stats(preds, "estimate")


def test_the_tables_add_up():
    summary = runs.summary_table()
    total = summary.rows[-1]
    assert total[0] == "all" and int(total[-1]) == len(runs.RUNS)
    assert sum(int(c) for c in total[2:5]) == len(runs.RUNS)
    assert int(total[6]) == len(runs.keys("tuning")) and int(total[7]) == len(runs.keys("held-out"))
    assert sum(int(r[-1]) for r in summary.rows[:-1]) == len(runs.RUNS)
    errors = runs.error_table(PREDICTIONS)
    assert len(errors.rows) == 3 * len(runs.TIMES)
    held = runs.error_stats([p for p in PREDICTIONS if p.run.split == "held-out"])
    assert errors.rows[5][1:] == ("calibrated estimate", str(held.count),
                                  f"{held.median_abs:.0%}", f"{held.within:.0%}",
                                  f"{held.bias:+.0%}")
    with pytest.raises(ValueError, match="column='speed' is not known"):
        runs.comparison_table(PREDICTIONS[:1], ("speed",))


def test_every_published_run_re_entered_by_hand_is_recognised():
    for key, r in runs.RUNS.items():
        mine = runs.measurement(r.model, r.device, r.phase, r.batch, r.prompt_tokens,
                                r.output_tokens, r.metric, r.value, weight_dtype=r.weight_dtype,
                                kv_dtype=r.kv_dtype, devices=r.devices, cuda_graphs=r.cuda_graphs)
        assert key in runs.published_as(mine)
        assert mine.measured_s == pytest.approx(r.measured_s)
    other = runs.measurement("llama-2-7b", "h100-sxm", "decode", 1, 5, 200,
                             "tokens_per_s_per_seq", 123.0)
    assert runs.published_as(other) == []
    with pytest.raises(ValueError, match="metric='ttft_s' does not describe a decode"):
        runs.measurement("llama-2-7b", "h100-sxm", "decode", 1, 5, 200, "ttft_s", 0.01)


def test_utilisation_of_a_decode_run_is_its_mean_step():
    # gpt-fast's 104.9 tokens/s (chapter 6 found 68% MBU at about 100 tokens cached)
    mine = runs.measurement("llama-2-7b", "a100-sxm-80gb", "decode", 1, 5, 200,
                            "tokens_per_s_per_seq", 104.9)
    u = runs.utilisation(mine)
    step = inference.decode("llama-2-7b", "a100-sxm-80gb", 1, 5 + 99)
    assert u.measured_s == pytest.approx(1 / 104.9)
    assert u.mbu == pytest.approx(step.bytes * 104.9 / 2.039e12)
    assert u.mbu == pytest.approx(0.68, abs=0.01) and u.nearer == "memory"


def test_utilisation_of_a_prefill_and_of_a_request():
    u = runs.utilisation("trtllm090-l2-7b-h100-sxm-tp1-ttft-isl2048")
    first = inference.prefill("llama-2-7b", "h100-sxm", 1, 2048, weight_dtype="fp8",
                              kv_dtype="fp8")
    assert u.mfu == pytest.approx(first.flops / 0.0308 / hardware.get("h100-sxm").peak("fp8"))
    assert u.nearer == "compute"
    assert runs.utilisation("lcpp4167-m2u76-l2-7b-f16-pp512").mfu is None    # no peak
    with pytest.raises(ValueError, match="times a whole request"):
        runs.utilisation("rocmblog-mi300x-tp8-llama31-70b-fp8-bs1-128-2048")


def test_interleaved_prefills_explain_the_serving_benchmarks_tpot():
    keys = [f"nim180-l33-70b-fp8-h100-tp2-5000-500-c{c}-itl" for c in (1, 5, 25, 50)]
    share = [runs.interleaved_prefill_s(k) for k in keys]
    assert np.allclose(np.array(share) / share[0], [1, 5, 25, 50])        # batch / output
    first = inference.prefill("llama-3-70b", "h100-sxm", 1, 5000, weight_dtype="fp8", tp=2)
    assert share[0] == pytest.approx(first.estimate_s / 500)
    # chapter 8's claim: with them, every concurrency is within 20% (without: up to 48% off)
    for p, extra in zip(runs.compare(keys), share):
        assert abs((p.estimate_s + extra) / p.measured_s - 1) < 0.2
    assert min(runs.error(p) for p in runs.compare(keys)) < -0.4
    with pytest.raises(ValueError, match="is a prefill"):
        runs.interleaved_prefill_s("nim180-l33-70b-fp8-h100-tp2-5000-500-c1-ttft")


def test_the_factor_table_shows_every_device_and_cites_known_keys():
    bibkeys = set(re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,",
                             (ROOT / "references.bib").read_text(encoding="utf-8"), flags=re.M))
    t = efficiency.table()
    assert [r[0] for r in t.rows] == list(efficiency.EFFICIENCIES)
    cited = re.findall(r"\[(\d+)\] (\S+)", t.footer[0])
    assert {k for _, k in cited} <= bibkeys
    for row in t.rows:
        for cell in row[1:]:
            value, kind, ref = re.fullmatch(r"(.+) ([mde]) \[(\d+)\]", cell).groups()
            assert 1 <= int(ref) <= len(cited)
    l40s = dict(zip(t.header, t.rows[[r[0] for r in t.rows].index("l40s")]))
    assert l40s["η_β bandwidth"].endswith("e [1]")      # borrowed from the L40: estimated
    common = efficiency.common_table()
    assert [r[2] for r in common.rows] == ["estimated", "estimated", "derived", "derived",
                                           "estimated"]
    assert {r[3] for r in common.rows} <= bibkeys
