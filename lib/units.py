"""Units and their display.

Everything inside :mod:`lib` is in SI base units: FLOP, byte, second, FLOP/s,
byte/s. This module holds the multipliers and the functions that turn those
numbers into readable text. Decimal prefixes (kB, MB, GB, TB = 10^3 ... 10^12)
are what vendors print on datasheets; binary prefixes (KiB, MiB, GiB = 2^10 ...
2^30) appear only where a capacity is meant in binary units, and always with
the ``i``.

Introduced in chapters/01_memory_bound.ipynb; the conventions box is in
chapters/03_roofline.ipynb.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "KB", "MB", "GB", "TB", "KIB", "MIB", "GIB", "TIB",
    "KILO", "MEGA", "GIGA", "TERA", "PETA", "NS", "US", "MS",
    "fmt_bytes", "fmt_bandwidth", "fmt_flops", "fmt_flop_rate", "fmt_op_rate", "fmt_time",
    "fmt_count", "fmt_intensity", "round_sig",
]

KILO, MEGA, GIGA, TERA, PETA = 1e3, 1e6, 1e9, 1e12, 1e15
KB, MB, GB, TB = KILO, MEGA, GIGA, TERA
KIB, MIB, GIB, TIB = 2.0**10, 2.0**20, 2.0**30, 2.0**40
NS, US, MS = 1e-9, 1e-6, 1e-3

_DECIMAL = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]
_BINARY = [(2.0**50, "Pi"), (2.0**40, "Ti"), (2.0**30, "Gi"), (2.0**20, "Mi"), (2.0**10, "Ki"), (1.0, "")]


def _number(x: float, digits: int) -> str:
    """Format with ``digits`` significant figures, no scientific notation, no trailing zeros."""
    if x == 0:
        return "0"
    decimals = max(digits - 1 - int(math.floor(math.log10(abs(x)))), 0)
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _scalar(x: float, name: str, what: str) -> float:
    """``x`` as a finite Python float, or a ValueError naming ``name`` and ``what``."""
    try:
        value = float(np.asarray(x, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"{name}={x!r} must be a single number to format as {what}.") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be finite to format as {what}.")
    return value


def _scaled(x: float, unit: str, table, digits: int) -> str:
    x = _scalar(x, "value", unit)
    for factor, prefix in table:
        if abs(x) >= factor * 0.9995:
            return f"{_number(x / factor, digits)} {prefix}{unit}"
    return f"{_number(x, digits)} {unit}"


def fmt_bytes(n: float, binary: bool = False, digits: int = 3) -> str:
    """Format a byte count with decimal (GB) or binary (GiB) prefixes.

    Examples
    --------
    >>> fmt_bytes(80e9)
    '80 GB'
    >>> fmt_bytes(80e9, binary=True)
    '74.5 GiB'
    >>> fmt_bytes(131072, binary=True)
    '128 KiB'
    """
    return _scaled(n, "B", _BINARY if binary else _DECIMAL, digits)


def fmt_bandwidth(bytes_per_s: float, digits: int = 3) -> str:
    """Format a bandwidth in decimal units, as datasheets print it.

    Examples
    --------
    >>> fmt_bandwidth(3.35e12)
    '3.35 TB/s'
    >>> fmt_bandwidth(2.039e12, digits=4)
    '2.039 TB/s'
    """
    return _scaled(bytes_per_s, "B/s", _DECIMAL, digits)


def fmt_flop_rate(flops_per_s: float, digits: int = 3) -> str:
    """Format a compute rate in FLOP/s.

    Examples
    --------
    >>> fmt_flop_rate(989e12)
    '989 TFLOP/s'
    >>> fmt_flop_rate(1.979e15, digits=4)
    '1.979 PFLOP/s'
    """
    return _scaled(flops_per_s, "FLOP/s", _DECIMAL, digits)


def fmt_op_rate(ops_per_s: float, digits: int = 3) -> str:
    """Format an integer-operation rate in OP/s (vendors write "TOPS" for 10^12 OP/s).

    Introduced in chapters/02_compute_bound.ipynb.

    Examples
    --------
    >>> fmt_op_rate(1978.9e12, digits=4)
    '1.979 POP/s'
    >>> fmt_op_rate(624e12)
    '624 TOP/s'
    """
    return _scaled(ops_per_s, "OP/s", _DECIMAL, digits)


def fmt_flops(flops: float, digits: int = 3) -> str:
    """Format an amount of work in FLOP.

    Examples
    --------
    >>> fmt_flops(2 * 7e9)
    '14 GFLOP'
    """
    return _scaled(flops, "FLOP", _DECIMAL, digits)


def fmt_time(seconds: float, digits: int = 3) -> str:
    """Format a duration: s, ms, µs or ns.

    Examples
    --------
    >>> fmt_time(1.2e-3)
    '1.2 ms'
    >>> fmt_time(4.5e-6)
    '4.5 µs'
    >>> fmt_time(3.0)
    '3 s'
    """
    s = _scalar(seconds, "seconds", "a time")
    for factor, unit in [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")]:
        if abs(s) >= factor * 0.9995:
            return f"{_number(s / factor, digits)} {unit}"
    return f"{_number(s / 1e-9, digits)} ns"


def round_sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant figures (a float; 0, inf and nan unchanged).

    What the book stores for its prose: a number no reader sees beyond its sixth digit,
    so that a change in the seventeenth does not show up as a changed output.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> round_sig(295.34328358208955)
    295.343
    >>> round_sig(0.0041051016788059705, 3)
    0.00411
    """
    value = float(x)
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def fmt_count(n: float, digits: int = 3) -> str:
    """Format a plain count with k/M/B(illion)/T(rillion) suffixes, as model sizes are quoted.

    Examples
    --------
    >>> fmt_count(6.738e9, digits=4)
    '6.738 B'
    >>> fmt_count(124_439_808)
    '124 M'
    """
    table = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"), (1.0, "")]
    return _scaled(n, "", table, digits).rstrip()


def fmt_intensity(flop_per_byte: float, digits: int = 3) -> str:
    """Format an arithmetic intensity.

    Examples
    --------
    >>> fmt_intensity(295.22)
    '295 FLOP/B'
    >>> fmt_intensity(0.25)
    '0.25 FLOP/B'
    """
    x = _scalar(flop_per_byte, "flop_per_byte", "an intensity")
    return f"{_number(x, digits)} FLOP/B"
