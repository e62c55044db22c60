"""``python -m lib estimate --pp N --micro-batches M``: the pipeline in the calculator."""

from __future__ import annotations

import io
import json

import pytest

from lib import parallel
from lib.cli import main

EST = ["estimate", "--model", "llama-3-70b", "--hardware", "h100-sxm"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_json_adds_the_pipeline_and_matches_lib():
    code, out, err = run(*EST, "--phase", "decode", "--batch", "8", "--context", "1024",
                         "--tp", "2", "--pp", "2", "--micro-batches", "4", "--json")
    assert code == 0 and err == ""
    got = json.loads(out)
    p = parallel.pipeline("llama-3-70b", "h100-sxm", 8, 1, 1024, tp=2, pp=2, micro_batches=4)
    assert got["pp"] == 2 and got["micro_batches"] == 4 and got["devices"] == 4
    assert got["bubble_s"] == pytest.approx(p.bubble_s)
    assert got["pipeline_s"] == pytest.approx(p.time_s)
    assert got["flops_per_device"] == pytest.approx(p.flops_per_device)
    assert got["bytes_per_device"] == pytest.approx(p.bytes_per_device)
    assert got["memory_per_device"] == pytest.approx(p.memory_per_device)
    assert got["tp"] == 2 and "ops" in got            # the whole forward's estimate stays


def test_prefill_one_micro_batch_bubble_is_p_minus_one_over_p():
    code, out, _ = run(*EST, "--phase", "prefill", "--batch", "1", "--prompt-len", "2048",
                       "--tp", "4", "--pp", "2", "--json")
    got = json.loads(out)
    assert code == 0
    assert 0.45 < got["bubble_fraction"] < 0.5          # (2 - 1) / (1 + 2 - 1), less the link
    assert got["latency_s"] == pytest.approx(got["pipeline_s"])


def test_table_names_the_split():
    code, out, _ = run(*EST, "--phase", "decode", "--batch", "8", "--context", "1024",
                       "--pp", "2", "--micro-batches", "2")
    assert code == 0
    for word in ("2 x 1 = 2 devices", "40, 40", "bubble", "memory per device", "GPipe"):
        assert word in out


@pytest.mark.parametrize("extra, words", [
    (["--tp", "3", "--pp", "2"], ["--tp 3", "n_heads=64"]),
    (["--pp", "81"], ["--pp 81", "80 layers"]),
    (["--pp", "1", "--micro-batches", "3"], ["--micro-batches 3", "--batch 8"]),
    (["--pp", "1"], ["--pp 1", "per device", "80 GB"]),              # 141 GB on one GPU
    (["--pp", "0"], ["--pp", ">= 1"]),
])
def test_invalid_splits_are_one_line_errors(extra, words):
    code, out, err = run(*EST, "--phase", "decode", "--batch", "8", "--context", "1024", *extra)
    assert code == 2 and out == "" and err.count("\n") == 1
    for w in words:
        assert w in err, (w, err)


def test_without_the_flags_nothing_changes():
    argv = (*EST, "--phase", "decode", "--batch", "8", "--context", "1024", "--tp", "4",
            "--json")
    code, out, _ = run(*argv)
    assert code == 0 and "bubble_s" not in json.loads(out)
