"""lib._validate: bad input raises ValueError naming the parameter, the value and what is accepted."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib._validate import choice, positive, scalar_or_array, suggest

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
