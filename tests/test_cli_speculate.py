"""The calculator's ``speculate`` subcommand: JSON against lib.speculative, the table, errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib import speculative
from lib.cli import main

ROOT = Path(__file__).parent.parent


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


SPEC = ["speculate", "--model", "llama-3-8b", "--hardware", "h100-sxm"]
KEYS = ("expected_tokens_per_step", "draft_time_s", "verify_time_s", "baseline_step_s",
        "time_per_token_s", "speedup")


def test_subprocess_json_matches_lib():
    proc = subprocess.run([sys.executable, "-m", "lib", *SPEC, "--alpha", "0.8", "--gamma", "4",
                           "--draft-cost", "0.05", "--json"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    got = json.loads(proc.stdout)
    s = speculative.speculate("llama-3-8b", "h100-sxm", 0.8, 4, draft_cost=0.05)
    for key in KEYS:
        assert got[key] == pytest.approx(getattr(s, key), rel=1e-12), key
    # at batch 1 the calculator agrees with Leviathan et al.'s Theorem 3.8 (the verification
    # costs one step plus its extra activations, well under 1%)
    assert got["speedup"] == pytest.approx((1 - 0.8 ** 5) / (0.2 * 1.2), rel=0.01)


def test_draft_model_batch_context_and_timing():
    code, out, err = run("speculate", "--model", "llama-3-70b", "--hardware", "b200",
                         "--alpha", "0.7", "--gamma", "3", "--draft-model", "llama-3-8b",
                         "--batch", "8", "--context", "2048", "--timing", "floor", "--json")
    assert code == 0 and err == ""
    got = json.loads(out)
    s = speculative.speculate("llama-3-70b", "b200", 0.7, 3, draft_model="llama-3-8b",
                              batch=8, context=2048, timing="floor")
    for key in KEYS:
        assert got[key] == pytest.approx(getattr(s, key)), key
    assert got["draft"] == "llama-3-8b" and got["timing"] == "floor" and got["batch"] == 8


def test_per_position_rates_imply_gamma():
    code, out, _ = run(*SPEC, "--alpha", "0.9,0.8,0.7", "--draft-cost", "0", "--json")
    got = json.loads(out)
    assert code == 0 and got["gamma"] == 3 and got["alpha"] == [0.9, 0.8, 0.7]
    assert got["expected_tokens_per_step"] == pytest.approx(1 + 0.9 + 0.72 + 0.504)
    code, same, _ = run(*SPEC, "--alpha", "0.9,0.8,0.7", "--gamma", "3", "--draft-cost", "0",
                        "--json")
    assert json.loads(same) == got


def test_table():
    code, out, err = run(*SPEC, "--alpha", "0.8", "--gamma", "4", "--draft-cost", "0.05")
    assert code == 0 and err == ""
    for words in ("speed-up", "2.79x", "verification (5 tokens)", "estimate times"):
        assert words in out, words


def test_a_pair_that_does_not_fit_warns():
    code, out, err = run("speculate", "--model", "llama-3-70b", "--hardware", "h100-sxm",
                         "--alpha", "0.8", "--gamma", "4", "--draft-model", "llama-3-8b",
                         "--json")
    assert code == 0 and json.loads(out)["fits"] is False
    assert err.startswith("warning:") and err.count("\n") == 1 and "llama-3-8b" in err


@pytest.mark.parametrize("argv, must", [
    (SPEC + ["--alpha", "1.0", "--gamma", "3", "--draft-cost", "0.1"], ["--alpha", "[0, 1)"]),
    (SPEC + ["--alpha", "-0.2", "--gamma", "3", "--draft-cost", "0.1"], ["--alpha", "[0, 1)"]),
    (SPEC + ["--alpha", "0.8,1.2", "--draft-cost", "0.1"], ["--alpha", "1.2"]),
    (SPEC + ["--alpha", "high", "--gamma", "3", "--draft-cost", "0.1"], ["--alpha", "number"]),
    (SPEC + ["--alpha", "0.8", "--gamma", "0", "--draft-cost", "0.1"], ["--gamma", ">= 1"]),
    (SPEC + ["--alpha", "0.8", "--draft-cost", "0.1"], ["--gamma G is needed"]),
    (SPEC + ["--alpha", "0.8,0.7", "--gamma", "3", "--draft-cost", "0.1"],
     ["2 per-position rates", "--gamma is 3"]),
    (SPEC + ["--alpha", "0.8", "--gamma", "3", "--draft-cost", "-0.1"],
     ["--draft-cost", ">= 0"]),
    (SPEC + ["--alpha", "0.8", "--gamma", "3"], ["--draft-model", "--draft-cost", "required"]),
    (SPEC + ["--alpha", "0.8", "--gamma", "3", "--draft-cost", "0.1", "--draft-model", "gpt2"],
     ["not allowed with"]),
    (SPEC + ["--alpha", "0.8", "--gamma", "3", "--draft-model", "llama3"],
     ["--draft-model", "llama-3-8b"]),
    (["speculate", "--model", "llama-3", "--hardware", "h100-sxm", "--alpha", "0.8",
      "--gamma", "3", "--draft-cost", "0.1"], ["--model", "llama-3-8b"]),
    (["speculate", "--model", "llama-3-8b", "--hardware", "h100", "--alpha", "0.8",
      "--gamma", "3", "--draft-cost", "0.1"], ["--hardware", "h100-sxm"]),
    (SPEC + ["--alpha", "0.8", "--gamma", "3", "--draft-cost", "0.1", "--batch", "0"],
     ["--batch"]),
    (SPEC + ["--alpha", "0.8", "--gamma", "3", "--draft-cost", "0.1", "--timing", "wall"],
     ["--timing", "invalid choice"]),
])
def test_bad_input_is_one_line_exit_2_no_traceback(argv, must):
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in must:
        assert word in err, (word, err)
