"""Checks on the instructors' reference solutions (instructors/) that nbval cannot make.

nbval compares each committed output with a fresh run. These tests read the .ipynb files
directly: the solutions are there and executed, only timing cells ignore their output, every
figure keeps its image, and the key numbers of assignments B and C are the ones lib computes
now, so that a catalog change cannot leave a stale reference solution behind.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from lib import capacity, hardware, inference, measurements, models, regimes
from lib.units import fmt_time

FOLDER = Path(__file__).resolve().parent.parent / "instructors"
NOTEBOOKS = ("assignment_a_solution.ipynb", "assignment_b_solution.ipynb",
             "assignment_c_solution.ipynb")
TIMING = ("perf_counter", "timeit")


def _read(name: str):
    return nbformat.read(FOLDER / name, as_version=4)


def _text(cell) -> str:
    """What a code cell printed or displayed as text."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        else:
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def _output_starting(name: str, first_line: str) -> str:
    found = [_text(c) for c in _read(name).cells
             if c.cell_type == "code" and _text(c).startswith(first_line)]
    assert len(found) == 1, \
        f"{name}: expected one output starting {first_line!r}, found {len(found)}"
    return found[0]


def test_readme_exists():
    assert (FOLDER / "README.md").is_file()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solution_exists_and_is_executed_without_errors(name):
    nb = _read(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code"
    assert all(c.execution_count for c in code), f"{name}: cells not executed; run " \
        "scripts/execute_notebooks.py"
    errors = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, f"{name}: error outputs in cells {errors}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_only_timing_cells_ignore_their_output(name):
    """`nbval-ignore-output` only on cells that time something (perf_counter or timeit)."""
    for cell in _read(name).cells:
        if "nbval-ignore-output" in cell.metadata.get("tags", []):
            assert any(t in cell.source for t in TIMING), \
                f"{name}: nbval-ignore-output on a cell that times nothing:\n{cell.source[:200]}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_timing_cells_with_output_are_tagged(name):
    """The converse: a cell that times and prints must not be compared (it varies)."""
    for cell in _read(name).cells:
        if cell.cell_type == "code" and any(t in cell.source for t in TIMING) and cell.outputs:
            assert "nbval-ignore-output" in cell.metadata.get("tags", []), \
                f"{name}: a timing cell with output is not tagged:\n{cell.source[:200]}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_figure_output_has_its_image(name):
    for i, cell in enumerate(_read(name).cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if str(data.get("text/plain", "")).startswith("<Figure size"):
                assert "image/png" in data, f"{name}: figure without a PNG in cell {i}"


# --- assignment B: the recommendation is what lib computes now ---------------------------

MODEL, DEVICE, GPUS = "llama-3-70b", "h100-sxm", 8
PROMPT, TPOT_TARGET, TTFT_TARGET, MEMORY_FRACTION = 2000, 0.050, 1.0, 0.9
DESIGNS = [("bf16", 4), ("bf16", 8), ("fp8", 4), ("fp8", 8)]


def _design(wd: str, tp: int, kv: str) -> dict:
    """One design of assignment B, recomputed from lib."""
    m = models.get(MODEL)
    kw = dict(weight_dtype=wd, kv_dtype=kv, tp=tp)
    B = min(regimes.largest_batch_within(m, DEVICE, TPOT_TARGET, m.max_context, **kw),
            capacity.max_batch(m, DEVICE, m.max_context, memory_fraction=MEMORY_FRACTION, **kw))
    dec = inference.decode(m, DEVICE, B, m.max_context, **kw)
    pre = inference.prefill(m, DEVICE, 1, PROMPT, **kw)
    replicas = GPUS // tp
    return dict(wd=wd, kv=kv, tp=tp, B=B, tpot=float(dec.time_s), ttft=float(pre.time_s),
                replicas=replicas, per_server=replicas * float(dec.tokens_per_s),
                ok=dec.time_s <= TPOT_TARGET and pre.time_s <= TTFT_TARGET)


def test_assignment_b_states_the_inputs_this_test_assumes():
    text = _output_starting("assignment_b_solution.ipynb", "Llama 3 70B")
    m = models.get(MODEL)
    assert f"C = {m.max_context:,} tokens, P = {PROMPT:,} tokens" in text
    assert f"TPOT ≤ {TPOT_TARGET * 1e3:.0f} ms, TTFT ≤ {TTFT_TARGET:.0f} s" in text
    assert f"reserve {1 - MEMORY_FRACTION:.0%} of each GPU, KV cache bf16" in text
    assert hardware.get(DEVICE).label in text


def test_assignment_b_design_table_matches_lib():
    text = _output_starting("assignment_b_solution.ipynb", "weights    KV")
    rows = {tuple(line.split()[:3]): line.split() for line in text.splitlines()[2:]}
    for kv in ("bf16", "fp8"):
        for wd, tp in DESIGNS:
            d = _design(wd, tp, kv)
            cells = rows[(wd, kv, str(tp))]
            assert cells[3:5] == [str(d["replicas"]), f"{d['B']:.0f}"], (wd, kv, tp, cells)
            assert " ".join(cells[5:9]) == f"{fmt_time(d['tpot'])} {fmt_time(d['ttft'])}"
            assert cells[10] == f"{d['per_server']:,.0f}"


def test_assignment_b_recommendation_matches_lib():
    text = _output_starting("assignment_b_solution.ipynb", "RECOMMENDATION")
    designs = [_design(wd, tp, "bf16") for wd, tp in DESIGNS]
    best = max((d for d in designs if d["ok"]), key=lambda d: d["per_server"])
    assert f"weights {best['wd']}, KV cache bf16, p = {best['tp']}," in text
    assert f"batch B = {best['B']:.0f} per replica (binding constraint: memory capacity)" in text
    assert f"TPOT = {best['tpot'] * 1e3:.1f} ms, TTFT = {best['ttft'] * 1e3:.1f} ms" in text
    assert f"decode throughput = {best['per_server']:,.0f} tokens/s per server" in text
    # the notebook names memory as the binding constraint: check that it is
    m = models.get(MODEL)
    kw = dict(weight_dtype=best["wd"], tp=best["tp"])
    assert best["B"] == capacity.max_batch(m, DEVICE, m.max_context,
                                           memory_fraction=MEMORY_FRACTION, **kw)
    assert best["tpot"] < TPOT_TARGET


# --- assignment C: the implied utilisations are what lib computes now --------------------

def test_assignment_c_implied_mbu_matches_lib():
    text = _output_starting("assignment_c_solution.ipynb", "weights  time per token")
    for key, wd in (("gpt-fast-llama2-7b-bf16", "bf16"), ("gpt-fast-llama2-7b-int8", "int8")):
        t = 1 / measurements.get(key).value
        mid = inference.decode("llama-2-7b", "a100-sxm-80gb", 1, 5 + 200 // 2, weight_dtype=wd)
        row = next(line for line in text.splitlines() if line.startswith(wd + " "))
        assert re.search(rf"\b{inference.mbu(mid, t):.1%}", row), (row, inference.mbu(mid, t))
        assert f"{inference.mfu(mid, t):.2%}" in row
