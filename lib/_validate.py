"""Input validation shared by every module of :mod:`lib`.

Bad input raises :class:`ValueError` naming the parameter, the value and what
is accepted; an unknown name suggests the closest known ones. Nothing here
returns NaN silently.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["positive", "choice", "flag", "broadcast", "scalar_or_array", "suggest"]


def suggest(value: str, options: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` names from ``options`` closest to ``value``.

    Examples
    --------
    >>> suggest("h100", ["h100-sxm", "h100-pcie", "a100-sxm-80gb"])
    ['h100-sxm', 'h100-pcie']
    """
    options = list(options)
    key = str(value).strip().lower()
    contains = [o for o in options if key and key in o.lower()]
    close = difflib.get_close_matches(key, options, n=n, cutoff=0.4)
    return list(dict.fromkeys(contains + close))[:n]


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    """Check that ``value`` is one of ``options`` (case-insensitive) and return that option.

    Examples
    --------
    >>> choice("dtype", "BF16", ["fp32", "bf16"])
    'bf16'
    >>> choice("column", "flops", ["FLOPs", "time"])
    'FLOPs'
    >>> choice("dtype", "bf61", ["fp32", "bf16"])
    Traceback (most recent call last):
    ...
    ValueError: dtype='bf61' is not known; did you mean 'bf16'? Accepted: fp32, bf16.
    """
    options = list(options)
    canonical = {str(o).lower(): o for o in options}
    key = str(value).strip().lower()
    if key in canonical:
        return canonical[key]
    close = suggest(str(value), options)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "."
    raise ValueError(f"{name}={value!r} is not known{hint} Accepted: {', '.join(options)}.")


def positive(name: str, value: Any, *, allow_zero: bool = False, integer: bool = False) -> np.ndarray:
    """Return ``value`` as a float array after checking every element is finite and > 0.

    Parameters
    ----------
    name : str
        The parameter's name, used in the error message.
    value : array_like
        A number or an array of numbers.
    allow_zero : bool
        Accept 0 as well (for counts such as "tokens already cached").
    integer : bool
        Require whole numbers (sizes, counts).

    Examples
    --------
    >>> positive("n", [1, 2])
    array([1., 2.])
    >>> positive("n", -3)
    Traceback (most recent call last):
    ...
    ValueError: n=-3 must be a finite number > 0.
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number or an array of numbers.") from None
    if arr.ndim == 0:                      # the common case, checked without temporaries
        v = float(arr)
        if v == v and abs(v) != float("inf") and (v > 0 or (allow_zero and v == 0)) and (
                not integer or v == round(v)):
            return arr
    what = "a whole number" if integer else "a finite number"
    bound = ">= 0" if allow_zero else "> 0"
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if integer:
        bad |= np.isfinite(arr) & (arr != np.round(arr))
    if np.any(bad):
        shown = value if arr.ndim == 0 else arr[bad].ravel()[0]
        where = "" if arr.ndim == 0 else " (element)"
        raise ValueError(f"{name}{where}={_show(shown)} must be {what} {bound}.")
    return arr


def flag(name: str, value: Any) -> bool:
    """Return ``value`` if it is a boolean (Python or numpy); anything else is an error.

    A string such as ``"no"`` is truthy in Python, so accepting it would silently mean
    the opposite of what was written.

    Examples
    --------
    >>> flag("fused_attention", False)
    False
    >>> flag("fused_attention", "no")
    Traceback (most recent call last):
    ...
    ValueError: fused_attention='no' must be True or False.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name}={value!r} must be True or False.")


def broadcast(**arrays: np.ndarray) -> list[np.ndarray]:
    """Broadcast the named arrays together, or say which shapes do not fit.

    Examples
    --------
    >>> [a.shape for a in broadcast(batch=np.ones(3), context=np.ones((2, 1)))]
    [(2, 3), (2, 3)]
    >>> broadcast(batch=np.ones(3), context=np.ones(2))
    Traceback (most recent call last):
    ...
    ValueError: batch (shape (3,)) and context (shape (2,)) do not broadcast together: give arrays of one shape, or shapes numpy can broadcast (e.g. a column and a row).
    """
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError:
        shapes = " and ".join(f"{k} (shape {np.shape(v)})" for k, v in arrays.items())
        raise ValueError(f"{shapes} do not broadcast together: give arrays of one shape, or "
                         "shapes numpy can broadcast (e.g. a column and a row).") from None


def _show(x: Any) -> str:
    if isinstance(x, (np.floating, float)) and float(x).is_integer():
        return str(int(x))
    if isinstance(x, np.generic):
        return repr(x.item())
    return repr(x)


def scalar_or_array(x: Any) -> Any:
    """Return a Python ``float`` for 0-d results, the array otherwise.

    Examples
    --------
    >>> scalar_or_array(np.asarray(2.0))
    2.0
    >>> scalar_or_array(np.asarray([1.0, 2.0]))
    array([1., 2.])
    """
    arr = np.asarray(x)
    if arr.ndim == 0:
        return arr.item()
    return arr
