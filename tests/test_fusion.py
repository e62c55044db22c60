"""lib.fusion: kernels of a decode step at three fusion levels, with and without CUDA graphs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import fusion, inference
from lib.fusion import LEVELS, PARTS

MODELS = ("gpt2", "llama-2-7b", "llama-3-8b", "qwen2-7b", "mixtral-8x7b", "mistral-7b")


def test_kernel_counts_by_hand():
    # Llama: 2 norms, Q, K, V, RoPE + KV write, attention, O, 2 adds, gate, up, SiLU, down
    # = 14 per layer; merged QKV and gate/up: 11; adds into norms, RoPE into QKV, SiLU into
    # gate/up: 7. Plus the embedding, the final norm and the LM head.
    assert [fusion.kernel_count("llama-3-8b", lv) for lv in LEVELS] == [
        14 * 32 + 3, 11 * 32 + 3, 7 * 32 + 3]
    # GPT-2 has no gate: 13, 11, 7 per layer, 12 layers
    assert [fusion.kernel_count("gpt2", lv) for lv in LEVELS] == [159, 135, 87]


def test_merged_level_is_lib_inference_calibrated_estimate():
    for graphs in (True, False):
        s = fusion.step("llama-3-8b", "h100-sxm", [1, 64], [1024, 8192], "merged GEMMs",
                        cuda_graphs=graphs)
        e = inference.decode("llama-3-8b", "h100-sxm", [1, 64], [1024, 8192], cuda_graphs=graphs)
        assert s.time_s == pytest.approx(e.estimate_s, rel=1e-12)
        assert s.bytes == pytest.approx(e.bytes, rel=1e-12)
        assert s.n_kernels == inference.launch_floor(e, 1.0)
    s = fusion.step("llama-2-7b", "a100-sxm-80gb", 1, 100, weight_dtype="int4")
    e = inference.decode("llama-2-7b", "a100-sxm-80gb", 1, 100, weight_dtype="int4")
    assert s.time_s == pytest.approx(e.estimate_s, rel=1e-12)


def test_bytes_fusion_saves_by_hand():
    # Llama-3-8B, 64 tokens, BF16: per layer the residual read back twice (2 x 64 x 4096 x 2),
    # Q read and rewritten, K and V written and read (64 x (2 x 4096 + 4 x 1024) x 2), gate
    # and up written and read (2 x 64 x 2 x 14336 x 2)
    merged, fused = (fusion.step("llama-3-8b", "h100-sxm", 64, 1024, lv)
                     for lv in LEVELS[1:])
    per_layer = 2 * 64 * 4096 * 2 + 64 * (2 * 4096 + 4 * 1024) * 2 + 2 * 64 * 2 * 14336 * 2
    assert merged.bytes - fused.bytes == 32 * per_layer
    # splitting QKV reads the normed input three times, gate/up twice: 2 + 1 more reads
    unfused = fusion.step("llama-3-8b", "h100-sxm", 64, 1024, "unfused")
    assert unfused.bytes - merged.bytes == 32 * 3 * 64 * 4096 * 2


def test_parts_add_up_and_graphs_remove_only_the_host_wait():
    eager, graph = (fusion.step("gpt2", "h100-sxm", 1, 1024, "unfused", cuda_graphs=g)
                    for g in (False, True))
    for s in (eager, graph):
        assert sum(s.parts.values()) == pytest.approx(s.time_s)
        assert set(s.parts) == set(PARTS)
    assert graph.parts["host wait"] == 0 < eager.parts["host wait"]
    for part in ("memory", "math", "per-kernel"):
        assert graph.parts[part] == eager.parts[part]
    assert eager.launch_floor_s == pytest.approx(159 * 5e-6)


def test_fusion_matters_for_small_models_not_large_ones():
    def gain(model):
        t = [fusion.step(model, "h100-sxm", 1, 1024, lv, cuda_graphs=False).time_s
             for lv in (LEVELS[0], LEVELS[-1])]
        return t[0] / t[1]
    assert gain("gpt2") > 1.4 > 1.15 > gain("llama-2-13b") > 1.0


def test_bad_input():
    with pytest.raises(ValueError, match=r"level='fused' is not known; did you mean"):
        fusion.step("gpt2", "h100-sxm", 1, 1, "fused")
    with pytest.raises(ValueError, match=r"cuda_graphs='yes' must be True or False"):
        fusion.step("gpt2", "h100-sxm", 1, 1, cuda_graphs="yes")


def test_levels_table():
    t = fusion.levels_table("llama-3-8b", "h100-sxm", 1, 1024)
    assert [r[0] for r in t.rows] == list(LEVELS)
    assert [r[1] for r in t.rows] == ["451", "355", "227"]


@settings(max_examples=30, deadline=None, derandomize=True)
@given(model=st.sampled_from(MODELS), batch=st.integers(1, 256), context=st.integers(0, 16384),
       graphs=st.booleans())
def test_fewer_kernels_no_more_bytes_same_flops(model, batch, context, graphs):
    steps = [fusion.step(model, "h100-sxm", batch, context, lv, cuda_graphs=graphs)
             for lv in LEVELS]
    counts = [s.n_kernels for s in steps]
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == 3   # strictly fewer
    moved = [s.bytes for s in steps]
    assert moved[0] >= moved[1] >= moved[2] > 0
    assert np.allclose([s.flops for s in steps], steps[0].flops, rtol=1e-12)
    times = [s.time_s for s in steps]
    assert times[0] >= times[1] >= times[2]
