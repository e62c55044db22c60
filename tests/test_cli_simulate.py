"""The calculator's ``simulate`` subcommand: JSON against lib.serving, the table, errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib import serving
from lib.cli import main

ROOT = Path(__file__).parent.parent
SIM = ["simulate", "--model", "llama-3-8b", "--hardware", "h100-sxm"]
KEYS = ("requests_completed", "tokens_generated", "duration_s", "throughput_tokens_per_s",
        "ttft_s", "tpot_s", "mean_batch", "kv_utilisation_mean", "preemptions")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_subprocess_json_matches_lib():
    proc = subprocess.run([sys.executable, "-m", "lib", *SIM, "--requests", "200", "--rate", "8",
                           "--prompt-len", "400", "--output-len", "150", "--length-dist",
                           "exponential", "--seed", "3", "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    got = json.loads(proc.stdout)
    w = serving.workload(200, rate=8.0, prompt_len=400, output_len=150,
                         length_dist="exponential", model="llama-3-8b", seed=3)
    want = serving.simulate(w, "llama-3-8b", "h100-sxm").summary()
    for key in KEYS:
        assert key in got, key
        if isinstance(want[key], dict):
            assert set(got[key]) == {"p50", "p90", "p99"}
            for p in got[key]:
                assert got[key][p] == pytest.approx(want[key][p], rel=1e-12), (key, p)
        else:
            assert got[key] == pytest.approx(want[key], rel=1e-12), key
    assert got["requests_completed"] == 200


@pytest.mark.parametrize("flags", [
    ["--scheduler", "static", "--max-batch", "32"],
    ["--scheduler", "chunked", "--chunk-tokens", "512"],
    ["--scheduler", "disaggregated"],
    ["--allocator", "max", "--kv-memory", "20e9"],
    ["--allocator", "paged", "--block-size", "32", "--kv-memory", "3e9", "--preemption", "swap"],
    ["--timing", "floor", "--eager", "--kv-dtype", "fp8", "--weight-dtype", "fp8"],
])
def test_flags_reach_the_simulator(flags):
    code, out, err = run(*SIM, "--requests", "60", "--rate", "20", "--prompt-len", "300",
                         "--output-len", "100", *flags, "--json")
    assert code == 0, err
    got = json.loads(out)
    kw = {"--scheduler": "scheduler", "--max-batch": "max_batch", "--chunk-tokens": "chunk_tokens",
          "--allocator": "allocator", "--block-size": "block_size", "--kv-memory": "kv_memory",
          "--preemption": "preemption", "--timing": "cost", "--kv-dtype": "kv_dtype",
          "--weight-dtype": "weight_dtype"}
    args = {}
    it = iter(flags)
    for f in it:
        if f == "--eager":
            args["cuda_graphs"] = False
            continue
        v = next(it)
        args[kw[f]] = float(v) if f == "--kv-memory" else int(v) if v.isdigit() else v
    w = serving.workload(60, rate=20.0, prompt_len=300, output_len=100, model="llama-3-8b")
    want = serving.simulate(w, "llama-3-8b", "h100-sxm", **args).summary()
    assert got["throughput_tokens_per_s"] == pytest.approx(want["throughput_tokens_per_s"])
    assert got["scheduler"] == want["scheduler"] and got["allocator"] == want["allocator"]


def test_table_output():
    code, out, err = run(*SIM, "--requests", "20", "--burst", "--prompt-len", "200",
                         "--output-len", "20")
    assert code == 0 and err == ""
    assert "simulate: llama-3-8b on h100-sxm, 20 requests, a burst at t = 0" in out
    for label in ("throughput", "TTFT p50 / p90 / p99", "TPOT p50 / p90 / p99", "mean batch",
                  "preemptions"):
        assert label in out


@pytest.mark.parametrize("flags, message", [
    (["--requests", "5", "--burst", "--prompt-len", "10", "--output-len", "5",
      "--scheduler", "orca"], "--scheduler: invalid choice: 'orca'"),
    (["--requests", "5", "--rate", "-2", "--prompt-len", "10", "--output-len", "5"],
     "--rate"),
    (["--requests", "5", "--prompt-len", "10", "--output-len", "5"],
     "one of the arguments --rate --burst is required"),
    (["--requests", "0", "--burst", "--prompt-len", "10", "--output-len", "5"], "--requests"),
    (["--requests", "5", "--burst", "--prompt-len", "10", "--output-len", "5",
      "--kv-memory", "1e6"], "kv_memory holds"),
])
def test_bad_input_is_one_line_and_status_2(flags, message):
    code, out, err = run(*SIM, *flags)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1, err


def test_lengths_beyond_the_context_are_cut_with_a_warning():
    code, out, err = run(*SIM, "--requests", "3", "--burst", "--prompt-len", "9000",
                         "--output-len", "5", "--json")
    assert code == 0 and "exceeds llama-3-8b's context of 8192 tokens" in err
    assert json.loads(out)["tokens_generated"] == 3          # cut to 8,191 + 1
