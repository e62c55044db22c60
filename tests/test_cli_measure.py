"""`python -m lib measure`: parsing, the output's shape and the error path, on a tiny
configuration (the real sweeps are lib.measure's and take seconds; these tests take
milliseconds and assert no timing)."""

from __future__ import annotations

import dataclasses
import io
import json
import math

import pytest

from lib import measure
from lib.cli import build_parser, main
from lib.measure import KiB

TINY = measure.Config(16 * KiB, 64 * KiB, 1, (32,), 2, 1e-4)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(measure, "QUICK", TINY)
    monkeypatch.setattr(measure, "FULL", TINY)
    monkeypatch.setattr(measure, "cache_sizes", lambda: {"L1": 48 * KiB, "L2": 1 * 2**20})


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_parser_knows_measure_and_its_flags():
    args = build_parser().parse_args(["measure", "--quick", "--json"])
    assert (args.command, args.quick, args.json) == ("measure", True, True)
    args = build_parser().parse_args(["measure"])
    assert (args.quick, args.json) == (False, False)
    assert "measure" in build_parser().format_help()


def test_json_is_one_object_with_the_roofs(tiny):
    code, out, err = _run("measure", "--quick", "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["quick"] is True
    assert set(d["peak_flops"]) == {"fp32", "fp64"} and set(d["ridge"]) == {"fp32", "fp64"}
    assert "L1" in d["bandwidth"]          # 16 KiB fits 48 KiB of L1; nothing else measured
    assert all(math.isfinite(v) and v > 0 for v in d["bandwidth"].values())
    assert d["staircase"]["working_set_bytes"] == [16 * KiB, 32 * KiB, 64 * KiB]
    for key in ("cpu", "cores", "numpy", "blas", "date"):
        assert key in d["provenance"]


def test_table_names_each_level_dtype_and_the_provenance(tiny):
    code, out, err = _run("measure")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "measure: this machine's roofline"
    assert any(line.startswith("bandwidth, L1") for line in lines)
    assert any(line.startswith("peak, fp64") for line in lines)
    assert any(line.startswith("ridge, fp32") for line in lines)
    assert "numpy" in lines[-1] and "write-allocate" in lines[-1]


@pytest.mark.parametrize("argv,match", [(["measure", "--quik"], "unrecognized arguments"),
                                        (["measure", "extra"], "unrecognized arguments")])
def test_bad_flags_exit_2_with_one_line(argv, match):
    code, out, err = _run(*argv)
    assert code == 2 and out == "" and match in err and err.count("\n") == 1


def test_a_failed_measurement_is_one_line_not_a_traceback(monkeypatch):
    def fail(config):
        raise MemoryError()
    monkeypatch.setattr(measure, "measure_machine", fail)
    code, out, err = _run("measure", "--quick")
    assert code == 2 and out == ""
    assert err.startswith("python -m lib measure: error: out of memory") and err.count("\n") == 1


def test_a_level_slower_than_the_next_is_flagged_as_overhead_bound(tiny, monkeypatch):
    real = measure.measure_machine

    def slow_l1(config, caches=None):
        m = real(config, caches)
        # the smallest sets, dominated by numpy's per-call cost, stream slower than L2
        return dataclasses.replace(m, bandwidth={"L1": 1e9, "L2": 5e9, "memory": 2e9})
    monkeypatch.setattr(measure, "measure_machine", slow_l1)
    code, out, _ = _run("measure", "--quick")
    assert code == 0 and "L1: slower than the level beyond" in out
