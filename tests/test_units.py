"""Units and their display (lib.units) and number formats (lib.dtypes)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import dtypes, units

# -- constants --------------------------------------------------------------------------


def test_decimal_and_binary_prefixes_are_distinct():
    assert (units.KB, units.MB, units.GB, units.TB) == (1e3, 1e6, 1e9, 1e12)
    assert (units.KIB, units.MIB, units.GIB, units.TIB) == (2**10, 2**20, 2**30, 2**40)
    assert units.GIB / units.GB == pytest.approx(1.073741824)
    assert (units.NS, units.US, units.MS) == (1e-9, 1e-6, 1e-3)


# -- bytes: GB vs GiB -------------------------------------------------------------------


@pytest.mark.parametrize("n,binary,text", [
    (80e9, False, "80 GB"),
    (80e9, True, "74.5 GiB"),
    (2**30, True, "1 GiB"),
    (2**30, False, "1.07 GB"),
    (141e9, False, "141 GB"),
    (131072, True, "128 KiB"),
    (1.44e12, False, "1.44 TB"),
    (512, False, "512 B"),
    (0, False, "0 B"),
])
def test_fmt_bytes(n, binary, text):
    assert units.fmt_bytes(n, binary=binary) == text


@settings(max_examples=200, deadline=None)
@given(st.floats(1024, 1e18))
def test_binary_units_always_carry_the_i(n):
    assert "i" in units.fmt_bytes(n, binary=True)
    assert "i" not in units.fmt_bytes(n)


# -- rates ------------------------------------------------------------------------------


@pytest.mark.parametrize("fn,value,kw,text", [
    (units.fmt_bandwidth, 3.35e12, {}, "3.35 TB/s"),
    (units.fmt_bandwidth, 2.039e12, {"digits": 4}, "2.039 TB/s"),
    (units.fmt_bandwidth, 819e9, {}, "819 GB/s"),
    (units.fmt_flop_rate, 989.4e12, {}, "989 TFLOP/s"),
    (units.fmt_flop_rate, 1.9789e15, {"digits": 4}, "1.979 PFLOP/s"),
    (units.fmt_flop_rate, 19.5e12, {}, "19.5 TFLOP/s"),
    (units.fmt_op_rate, 624e12, {}, "624 TOP/s"),
    (units.fmt_op_rate, 1978.9e12, {"digits": 4}, "1.979 POP/s"),
    (units.fmt_flops, 14e9, {}, "14 GFLOP"),
    (units.fmt_intensity, 295.22, {}, "295 FLOP/B"),
    (units.fmt_intensity, 0.25, {}, "0.25 FLOP/B"),
    (units.fmt_count, 6.738e9, {"digits": 4}, "6.738 B"),
    (units.fmt_count, 124_439_808, {}, "124 M"),
    (units.fmt_count, 999, {}, "999"),
])
def test_fmt_rates_and_counts(fn, value, kw, text):
    assert fn(value, **kw) == text


# -- time -------------------------------------------------------------------------------


@pytest.mark.parametrize("s,text", [
    (3.0, "3 s"), (1.2e-3, "1.2 ms"), (4.5e-6, "4.5 µs"), (3e-9, "3 ns"),
    (0.99996e-3, "1 ms"),       # rounds up into the next unit, not "1000 µs"
    (9.533e-3, "9.53 ms"), (0.0, "0 ns"),
])
def test_fmt_time(s, text):
    assert units.fmt_time(s) == text


def test_rounding_never_prints_a_thousand_of_a_unit():
    assert units.fmt_bytes(999.96e9) == "1 TB"
    assert units.fmt_time(999.9e-6) == "1 ms"


@pytest.mark.parametrize("fn", [units.fmt_bytes, units.fmt_bandwidth, units.fmt_flop_rate,
                                units.fmt_op_rate, units.fmt_flops, units.fmt_time,
                                units.fmt_count, units.fmt_intensity])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), [1.0, 2.0], "fast"])
def test_formatters_reject_what_they_cannot_show(fn, bad):
    with pytest.raises(ValueError, match=r"must be (finite|a single number)"):
        fn(bad)


def test_formatters_accept_numpy_scalars():
    import numpy as np

    assert units.fmt_bandwidth(np.float64(3.35e12)) == "3.35 TB/s"
    assert units.fmt_time(np.array(1.2e-3)) == "1.2 ms"


# -- dtypes -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype,size", [("fp32", 4), ("tf32", 4), ("bf16", 2), ("fp16", 2),
                                        ("fp8", 1), ("int8", 1), ("int4", 0.5)])
def test_bytes_per_element(dtype, size):
    assert dtypes.bytes_per_element(dtype) == size
    assert dtypes.bytes_per_element(dtype.upper()) == size


def test_every_dtype_has_a_size_and_the_table_is_read_only():
    assert set(dtypes.DTYPES) == set(dtypes.BYTES_PER_ELEMENT)
    with pytest.raises(TypeError):
        dtypes.BYTES_PER_ELEMENT["fp64"] = 8.0  # type: ignore[index]


def test_unknown_dtype_suggests():
    with pytest.raises(ValueError, match=r"dtype='bfloat16' is not known; did you mean 'bf16'"):
        dtypes.bytes_per_element("bfloat16")
    with pytest.raises(ValueError, match=r"Accepted: fp32, tf32, bf16, fp16, fp8, int8, int4"):
        dtypes.bytes_per_element("fp64")


def test_integer_formats():
    assert [d for d in dtypes.DTYPES if dtypes.is_integer(d)] == ["int8", "int4"]
    with pytest.raises(ValueError, match=r"dtype='int3' is not known"):
        dtypes.is_integer("int3")
