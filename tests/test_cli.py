"""Tests of the calculator ``python -m lib``: output against lib, the table, every error path."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib import hardware, inference, models
from lib.cli import main

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


def run(*argv: str) -> tuple[int, str, str]:
    """In-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def run_subprocess(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib", *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


# --- through a real interpreter ---------------------------------------------------------------

def test_subprocess_estimate_json_matches_lib():
    proc = run_subprocess("estimate", "--model", "llama-2-7b", "--hardware", "h100-sxm",
                          "--phase", "decode", "--batch", "1", "--context", "1024", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    got = json.loads(proc.stdout)
    est = inference.decode("llama-2-7b", "h100-sxm", 1, 1024)
    for key in ("flops", "bytes", "arithmetic_intensity", "time_s", "tokens_per_s"):
        assert got[key] == pytest.approx(getattr(est, key), rel=1e-12), key
    assert got["bound"] == est.bound == "memory"
    assert [o["name"] for o in got["ops"]] == [o.name for o in est.ops]


def test_subprocess_list_models_and_bad_input():
    proc = run_subprocess("list", "models")
    assert proc.returncode == 0
    for name in models.names():
        assert name in proc.stdout
    bad = run_subprocess("estimate", "--model", "llama-2-7b", "--hardware", "h100-sxm",
                         "--phase", "decode", "--batch", "0", "--context", "5")
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "--batch" in bad.stderr and "Traceback" not in bad.stderr


def test_subprocess_help():
    proc = run_subprocess("--help")
    assert proc.returncode == 0 and "estimate" in proc.stdout


# --- in process: JSON against lib --------------------------------------------------------------

def test_list_json():
    code, out, _ = run("list", "hardware", "--json")
    assert code == 0
    assert [d["name"] for d in json.loads(out)] == hardware.names()
    code, out, _ = run("list", "models", "--json")
    assert [m["name"] for m in json.loads(out)] == models.names()


@pytest.mark.parametrize("name", models.names())
def test_show_model_json_matches_lib(name):
    code, out, err = run("show", "model", name, "--json", "--kv-dtype", "fp8")
    assert code == 0 and err == ""
    got = json.loads(out)
    m = models.get(name)
    assert got["params_total"] == m.params_total
    assert got["params_active"] == m.params_active
    assert got["kv_bytes_per_token"] == m.kv_bytes_per_token("fp8")
    for key in ("n_layers", "d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff", "vocab_size"):
        assert got[key] == getattr(m, key), key


def test_show_model_default_kv_dtype_is_bf16_and_accepts_a_config_json():
    code, out, _ = run("show", "model", "qwen2-7b", "--json")
    assert json.loads(out)["kv_bytes_per_token"] == 56 * 1024
    code, out, _ = run("show", "model", str(DATA / "mixtral_like_config.json"), "--json")
    assert code == 0 and json.loads(out)["params_active"] == models.get("mixtral-8x7b").params_active


@pytest.mark.parametrize("name", hardware.names())
def test_show_hardware_json_matches_lib(name):
    code, out, _ = run("show", "hardware", name, "--json")
    assert code == 0
    got = json.loads(out)
    d = hardware.get(name)
    assert got["peak_flops"] == dict(d.peak_flops)
    assert got["memory_bandwidth"] == d.memory_bandwidth
    assert got["memory_capacity"] == d.memory_capacity
    assert got["source"]["url"] == d.source.url


@pytest.mark.parametrize("argv, lib_call", [
    (["--phase", "prefill", "--batch", "4", "--prompt-len", "512", "--weight-dtype", "int4",
      "--kv-dtype", "fp8"],
     lambda m, d: inference.prefill(m, d, 4, 512, weight_dtype="int4", kv_dtype="fp8")),
    (["--phase", "decode", "--batch", "16", "--context", "0", "--tp", "2"],
     lambda m, d: inference.decode(m, d, 16, 0, tp=2)),
    (["--phase", "prefill", "--batch", "1", "--prompt-len", "8192", "--unfused-attention"],
     lambda m, d: inference.prefill(m, d, 1, 8192, fused_attention=False)),
    (["--phase", "decode", "--batch", "2", "--context", "7", "--weight-dtype", "int8",
      "--compute-dtype", "int8"],
     lambda m, d: inference.decode(m, d, 2, 7, weight_dtype="int8", compute_dtype="int8")),
])
def test_estimate_json_matches_lib(argv, lib_call):
    code, out, err = run("estimate", "--model", "llama-3-8b", "--hardware", "h100-sxm", *argv,
                         "--json")
    assert code == 0 and err == ""
    got = json.loads(out)
    want = lib_call("llama-3-8b", "h100-sxm").to_dict()
    assert got == json.loads(json.dumps(want))
    for key in ("flops", "bytes", "arithmetic_intensity", "time_s", "bound", "tokens_per_s",
                "ops"):
        assert key in got


def test_estimate_from_a_config_json_path():
    code, out, _ = run("estimate", "--model", str(DATA / "gpt2_like_config.json"), "--hardware",
                       "a100-sxm-80gb", "--phase", "decode", "--batch", "1", "--context", "0",
                       "--json")
    assert code == 0
    got = json.loads(out)
    want = inference.decode("gpt2", "a100-sxm-80gb", 1, 0)
    assert got["flops"] == want.flops and got["bytes"] == want.bytes


# --- tables --------------------------------------------------------------------------------------

def test_estimate_table_is_aligned_and_complete():
    code, out, err = run("estimate", "--model", "mixtral-8x7b", "--hardware", "h100-sxm",
                         "--phase", "decode", "--batch", "8", "--context", "2048", "--tp", "2")
    assert code == 0 and err == ""
    est = inference.decode("mixtral-8x7b", "h100-sxm", 8, 2048, tp=2)
    assert out.strip() == str(inference.ops_table(est))
    for word in [o.name for o in est.ops] + ["FLOPs", "FLOP/B", "bound", "total",
                                             "all-reduces", "tokens/s", "per-op time",
                                             "floor"]:
        assert word in out
    header, rule = out.splitlines()[1:3]
    assert len(header) == len(rule.rstrip())


def test_the_issue_example_a_device_without_peaks_answers_memory_only():
    argv = ["estimate", "--model", "llama-2-7b", "--hardware", "m2-ultra", "--phase", "decode",
            "--batch", "1", "--context", "128", "--weight-dtype", "fp16", "--kv-dtype", "fp16"]
    code, out, err = run(*argv, "--json")
    assert code == 0 and "memory-only" in err and "Apple publishes no fp16 peak" in err
    got = json.loads(out)
    assert got["peak_known"] is False and got["comm_s"] == 0
    assert 0 < got["floor_s"] <= got["time_s"]
    assert got["time_s"] == pytest.approx(got["bytes"] / 800e9)
    code, out, _ = run(*argv)
    assert code == 0 and "memory-only" in out and "floor" in out


def test_new_keys_floor_comm_and_peak_known():
    code, out, _ = run("estimate", "--model", "llama-2-70b", "--hardware", "h100-sxm",
                       "--phase", "decode", "--batch", "8", "--context", "1024", "--tp", "4",
                       "--json")
    got = json.loads(out)
    assert got["peak_known"] is True and got["comm_s"] == got["comm_time_s"] > 0
    assert got["floor_s"] <= got["time_s"]
    code, out, _ = run("estimate", "--model", "llama-2-7b", "--hardware", "tpu-v5e", "--phase",
                       "decode", "--batch", "1", "--context", "1", "--tp", "2",
                       "--link-bandwidth", "50e9", "--link-latency", "2e-6", "--json")
    assert code == 0 and json.loads(out)["comm_s"] == pytest.approx(
        inference.decode("llama-2-7b", "tpu-v5e", 1, 1, tp=2, link_bandwidth=50e9,
                         link_latency=2e-6).comm_time_s)


@pytest.mark.parametrize("argv, words", [
    (["list", "models"], ["llama-3-70b", "8.03 B", "128 KiB", "12.88 B"]),
    (["list", "hardware"], ["h100-sxm", "989 TFLOP/s", "3.35 TB/s", "295 FLOP/B"]),
    (["show", "model", "gpt2"], ["124.4 M", "36 KiB", "lm_head", "config.json"]),
    (["show", "hardware", "h100-sxm"], ["989 TFLOP/s", "450 GB/s per direction", "600 ns",
                                        "132 at 1830 MHz", "exp", "source:"]),
])
def test_readable_tables(argv, words):
    code, out, _ = run(*argv)
    assert code == 0
    for w in words:
        assert w in out, w


# --- warnings and errors -------------------------------------------------------------------------

def test_a_model_that_does_not_fit_still_estimates_with_a_warning():
    code, out, err = run("estimate", "--model", "llama-2-70b", "--hardware", "h100-sxm",
                         "--phase", "decode", "--batch", "1", "--context", "100", "--json")
    assert code == 0
    assert json.loads(out)["fits"] is False
    assert err.count("\n") == 1 and err.startswith("warning:") and "80 GB" in err


def test_context_past_the_models_window_warns():
    code, _, err = run("estimate", "--model", "gpt2", "--hardware", "h100-sxm", "--phase",
                       "prefill", "--batch", "1", "--prompt-len", "2048")
    assert code == 0 and "max context of 1024" in err


EST = ["estimate", "--model", "llama-2-7b", "--hardware", "h100-sxm"]


@pytest.mark.parametrize("argv, must", [
    (EST + ["--phase", "decode", "--batch", "0", "--context", "5"], ["--batch", ">= 1"]),
    (EST + ["--phase", "decode", "--batch", "two", "--context", "5"], ["--batch", "whole"]),
    (EST + ["--phase", "decode", "--batch", "1", "--context", "-3"], ["--context", ">= 0"]),
    (EST + ["--phase", "decode", "--batch", "1", "--prompt-len", "5"],
     ["--prompt-len", "prefill", "--context"]),
    (EST + ["--phase", "prefill", "--batch", "1", "--context", "5"],
     ["--context", "decode", "--prompt-len"]),
    (EST + ["--phase", "decode", "--batch", "1"], ["--context"]),
    (EST + ["--phase", "prefill", "--batch", "1"], ["--prompt-len"]),
    (EST + ["--phase", "verify", "--batch", "1", "--context", "1"], ["--phase", "prefill"]),
    (EST + ["--phase", "decode", "--batch", "1", "--context", "1", "--tp", "3"],
     ["--tp 3", "n_heads=32", "1, 2, 4, 8, 16, 32"]),
    (EST + ["--phase", "decode", "--batch", "1", "--context", "1", "--tp", "0"], ["--tp"]),
    (EST + ["--phase", "decode", "--batch", "1", "--context", "1", "--weight-dtype", "bf61"],
     ["--weight-dtype", "bf16", "int4"]),
    (EST + ["--phase", "decode", "--batch", "1", "--context", "1", "--kv-dtype", "int2"],
     ["--kv-dtype", "Accepted"]),
    (["estimate", "--model", "llama-2", "--hardware", "h100-sxm", "--phase", "decode",
      "--batch", "1", "--context", "1"], ["--model", "llama-2-7b", "config.json"]),
    (["estimate", "--model", "llama-2-7b", "--hardware", "h100", "--phase", "decode",
      "--batch", "1", "--context", "1"], ["--hardware", "h100-sxm"]),
    (["estimate", "--model", "/no/such/config.json", "--hardware", "h100-sxm", "--phase",
      "decode", "--batch", "1", "--context", "1"], ["--model", "no such file"]),
    (["estimate", "--model", str(DATA / "broken_config.json"), "--hardware", "h100-sxm",
      "--phase", "decode", "--batch", "1", "--context", "1"], ["not valid JSON", "line 5"]),
    (["estimate", "--model", str(DATA / "mla_config.json"), "--hardware", "h100-sxm",
      "--phase", "decode", "--batch", "1", "--context", "1"], ["kv_lora_rank"]),
    (["estimate", "--model", "gpt2", "--hardware", "tpu-v5e", "--phase", "decode", "--batch",
      "1", "--context", "1", "--tp", "2"], ["--tp 2", "--link-bandwidth", "--link-latency"]),
    (["estimate", "--model", "gpt2", "--hardware", "tpu-v5e", "--phase", "decode", "--batch",
      "1", "--context", "1", "--tp", "2", "--link-bandwidth", "1e9"], ["--link-latency"]),
    (EST + ["--phase", "decode", "--batch", "1", "--context", "1", "--link-latency", "-1"],
     ["--link-latency", "> 0"]),
    (["estimate", "--hardware", "h100-sxm"], ["required", "--model"]),
    (["show", "hardware", "h100-sxm", "--kv-dtype", "fp8"], ["--kv-dtype", "show model"]),
    (["show", "hardware", "a100"], ["a100-sxm-80gb"]),
    (["show", "model", str(DATA / "missing_field_config.json")], ["intermediate_size"]),
    (["show", "gpu", "h100-sxm"], ["model", "hardware"]),
    (["list", "devices"], ["models", "hardware"]),
    ([], ["required"]),
    (["frobnicate"], ["invalid choice"]),
])
def test_bad_input_is_one_line_exit_2_no_traceback(argv, must):
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and "nan" not in err.lower().split()
    for word in must:
        assert word in err, (word, err)


# --- the calibrated estimate and utilisation ---------------------------------------------------

DECODE_7B = ("--model", "llama-2-7b", "--hardware", "a100-sxm-80gb", "--phase", "decode",
             "--batch", "1", "--context", "100")


def test_estimate_carries_the_calibrated_time_and_eager_changes_only_it():
    code, out, _ = run("estimate", *DECODE_7B, "--json")
    graph = json.loads(out)
    code2, out2, _ = run("estimate", *DECODE_7B, "--json", "--eager")
    eager = json.loads(out2)
    est = inference.decode("llama-2-7b", "a100-sxm-80gb", 1, 100)
    assert code == code2 == 0
    assert graph["estimate_s"] == pytest.approx(est.estimate_s) and graph["cuda_graphs"] is True
    assert eager["cuda_graphs"] is False and eager["estimate_s"] >= graph["estimate_s"]
    assert eager["time_s"] == graph["time_s"] and eager["floor_s"] == graph["floor_s"]
    code, table, _ = run("estimate", *DECODE_7B)
    assert "calibrated estimate 8.71 ms" in table


def test_utilisation_of_a_published_run():
    """gpt-fast's 104.9 tokens/s for Llama-2-7B on an A100: MBU 68%, memory-bound."""
    code, out, err = run("utilisation", *DECODE_7B, "--tokens-per-s", "104.9", "--json")
    assert code == 0 and err == ""
    got = json.loads(out)
    u = inference.utilisation(inference.decode("llama-2-7b", "a100-sxm-80gb", 1, 100),
                              1 / 104.9)
    assert got["mbu"] == pytest.approx(u.mbu) and round(got["mbu"], 2) == 0.68
    assert got["nearer"] == "memory" and got["vs_floor"] > 1
    code, same, _ = run("utilisation", *DECODE_7B, "--time-s", str(1 / 104.9), "--json")
    assert json.loads(same)["mbu"] == pytest.approx(got["mbu"])
    code, table, _ = run("utilisation", *DECODE_7B, "--time-s", "0.00953")
    assert "MBU" in table and "68.3%" in table and "nearer roof" in table


def test_utilisation_of_a_prefill_counts_every_prompt_token():
    argv = ("--model", "llama-3-8b", "--hardware", "h100-sxm", "--phase", "prefill",
            "--batch", "2", "--prompt-len", "1000")
    code, out, _ = run("utilisation", *argv, "--tokens-per-s", "40000", "--json")
    assert code == 0 and json.loads(out)["measured_s"] == pytest.approx(2000 / 40000)
    assert json.loads(out)["nearer"] == "compute"


@pytest.mark.parametrize("argv,must", [
    (("utilisation", *DECODE_7B), "one of the arguments --time-s --tokens-per-s is required"),
    (("utilisation", *DECODE_7B, "--time-s", "-1"), "--time-s"),
    (("utilisation", *DECODE_7B, "--time-s", "1", "--tokens-per-s", "2"), "not allowed with"),
])
def test_utilisation_bad_input(argv, must):
    code, out, err = run(*argv)
    assert code == 2 and out == "" and must in err and "Traceback" not in err
