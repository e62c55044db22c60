"""lib._validate: bad input raises ValueError naming the parameter, the value and what is accepted."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib._validate import broadcast, choice, flag, positive, scalar_or_array, suggest

# -- positive -----------------------------------------------------------------------------


def test_positive_returns_float_arrays():
    out = positive("n", [1, 2, 3])
    assert out.dtype == float and out.tolist() == [1.0, 2.0, 3.0]
    assert positive("n", 2.5).ndim == 0


@pytest.mark.parametrize("bad,shown", [(-3, "-3"), (0, "0"), (float("nan"), "nan"),
                                       (float("inf"), "inf"), (-float("inf"), "-inf"),
                                       (-0.5, "-0.5"), (np.float64(-2.0), "-2")])
def test_positive_rejects_and_names_the_value(bad, shown):
    with pytest.raises(ValueError, match=rf"^n={shown} must be a finite number > 0\.$"):
        positive("n", bad)


def test_allow_zero():
    assert positive("k", 0, allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=r"^k=-1 must be a finite number >= 0\.$"):
        positive("k", -1, allow_zero=True)
    with pytest.raises(ValueError, match=r"^k=nan must be a finite number >= 0\.$"):
        positive("k", float("nan"), allow_zero=True)


def test_integer():
    assert positive("m", 4096, integer=True) == 4096
    with pytest.raises(ValueError, match=r"^m=2.5 must be a whole number > 0\.$"):
        positive("m", 2.5, integer=True)


def test_array_reports_the_first_bad_element():
    with pytest.raises(ValueError, match=r"^n \(element\)=-1 must be a finite number > 0\.$"):
        positive("n", [1.0, -1.0, -2.0])
    with pytest.raises(ValueError, match=r"^n \(element\)=nan"):
        positive("n", np.array([[1.0, np.nan]]))


@pytest.mark.parametrize("bad", ["many", None, [1, "x"], {"a": 1}])
def test_non_numbers(bad):
    with pytest.raises(ValueError, match=r"^x=.* must be"):
        positive("x", bad)


@given(st.floats(min_value=1e-300, max_value=1e300))
def test_every_finite_positive_float_passes(x):
    assert positive("x", x) == x


@given(st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf"))))
def test_every_non_positive_or_non_finite_float_fails(x):
    with pytest.raises(ValueError, match=r"^x="):
        positive("x", x)


# -- choice and suggest -------------------------------------------------------------------


def test_choice_is_case_insensitive_and_normalises():
    assert choice("dtype", " BF16 ", ["fp32", "bf16"]) == "bf16"


def test_choice_suggests_and_lists_accepted():
    with pytest.raises(ValueError) as info:
        choice("device", "h100", ["h100-sxm", "h100-pcie", "a100-sxm-80gb"])
    msg = str(info.value)
    assert msg.startswith("device='h100' is not known; did you mean 'h100-sxm', 'h100-pcie'?")
    assert msg.endswith("Accepted: h100-sxm, h100-pcie, a100-sxm-80gb.")


def test_choice_without_a_close_name():
    with pytest.raises(ValueError, match=r"^x='zzzz' is not known\. Accepted: a, b\.$"):
        choice("x", "zzzz", ["a", "b"])


def test_choice_with_a_non_string():
    with pytest.raises(ValueError, match=r"^x=3 is not known"):
        choice("x", 3, ["a", "b"])


def test_suggest():
    assert suggest("h100", ["h100-sxm", "h100-pcie", "a100-sxm-80gb"]) == ["h100-sxm", "h100-pcie"]
    assert suggest("mi300", ["mi300x", "l4"]) == ["mi300x"]
    assert suggest("", ["a", "b"]) == []
    assert len(suggest("a", [f"a{i}" for i in range(10)], n=3)) == 3


# -- scalar_or_array ----------------------------------------------------------------------


def test_scalar_or_array():
    assert scalar_or_array(np.asarray(2.0)) == 2.0
    assert isinstance(scalar_or_array(np.asarray(2.0)), float)
    assert isinstance(scalar_or_array(np.asarray("memory")), str)
    arr = scalar_or_array(np.array([1.0, 2.0]))
    assert isinstance(arr, np.ndarray) and arr.tolist() == [1.0, 2.0]


def test_choice_matches_options_with_capitals_and_returns_the_option_as_given():
    assert choice("column", "flops", ["FLOPs", "time"]) == "FLOPs"
    assert choice("column", "FLOPs", ["FLOPs", "time"]) == "FLOPs"
    assert choice("n", 5, [5, 6]) == 5


# -- flag and broadcast -------------------------------------------------------------------


@pytest.mark.parametrize("good", [True, False, np.bool_(True)])
def test_flag_accepts_booleans(good):
    assert flag("fused", good) is bool(good)


@pytest.mark.parametrize("bad", ["no", "False", 0, 1, None, [True]])
def test_flag_refuses_anything_else(bad):
    with pytest.raises(ValueError, match=r"^fused=.* must be True or False\.$"):
        flag("fused", bad)


def test_broadcast_names_the_shapes_that_do_not_fit():
    a, b = broadcast(x=np.ones((3, 1)), y=np.ones(4))
    assert a.shape == b.shape == (3, 4)
    with pytest.raises(ValueError, match=r"^x \(shape \(3,\)\) and y \(shape \(4,\)\) do not "
                                         r"broadcast together"):
        broadcast(x=np.ones(3), y=np.ones(4))


# -- the matrix: every public entry point, bad input, a named ValueError -------------------

from lib import capacity, comm, hardware, inference, kernels, memory, models, regimes  # noqa: E402
from lib import transformer  # noqa: E402


@pytest.mark.parametrize("call, match", [
    (lambda: models.get("llama-2-7b").kv_tokens(-5), r"context=-5 must be a whole number >= 0"),
    (lambda: models.get("llama-2-7b").kv_tokens(np.nan), r"context=nan"),
    (lambda: models.get("llama-2-7b").kv_bytes_per_token("int2"), r"kv_dtype='int2'"),
    (lambda: models.get("llama-2-7b").weight_bytes("fp4"), r"weight_dtype='fp4'"),
    (lambda: inference.decode("gpt2", "h100-sxm", 1, 1, fused_attention="no"),
     r"fused_attention='no' must be True or False"),
    (lambda: inference.decode("gpt2", "h100-sxm", [1, 2], [1, 2, 3]), r"do not broadcast"),
    (lambda: transformer.forward_pass("gpt2", 1, 1, causal_skip="yes"), r"causal_skip='yes'"),
    (lambda: kernels.attention(1, 1, 1, -1, 8, 8, 64), r"pairs=-1 must be"),
    (lambda: kernels.gemm(4, 4, 4, groups=-1), r"groups=-1 must be"),
    (lambda: kernels.gemm(4, 4, 4, bias="no"), r"bias='no' must be True or False"),
    (lambda: comm.ring_all_reduce(1e6, 2, 0, 1e-6), r"link_bandwidth=0 must be"),
    (lambda: memory.kernel_cost(kernels.dot(8), "h10"), r"device='h10' is not known"),
    (lambda: hardware.get("h100-sxm").provenance_of("colour"), r"figure='colour' is not known"),
    (lambda: capacity.kv_cache_bytes("gpt2", -1, 5), r"batch=-1 must be"),
    (lambda: regimes.critical_batch("gpt2", "h100-sxm", -1), r"context=-1 must be"),
    (lambda: inference.ops_table(inference.decode("gpt2", "h100-sxm", 1, 1), ["x"]),
     r"columns='x' is not known"),
])
def test_bad_input_everywhere_is_a_named_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
