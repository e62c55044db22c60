"""Number formats and their sizes.

Introduced in chapters/07_mental_model.ipynb; the formats themselves, and how precision moves
both roofs, in chapters/02_compute_bound.ipynb.
"""

from __future__ import annotations

from types import MappingProxyType

from lib._validate import choice

__all__ = ["BYTES_PER_ELEMENT", "bytes_per_element", "DTYPES", "INTEGER_DTYPES", "is_integer"]

#: Storage size of one element, in bytes. ``int4`` packs two values per byte. ``q8_0`` and
#: ``q4_0`` are llama.cpp's (GGUF) block formats: each block of 32 weights stores one FP16
#: scale besides its codes, 34 and 18 bytes per 32 weights, so 8.5 and 4.5 bits per weight
#: (``block_q8_0``, ``block_q4_0`` in ggml/src/ggml-common.h, llama.cpp commit 01243c5).
BYTES_PER_ELEMENT = MappingProxyType({
    "fp32": 4.0,
    "tf32": 4.0,  # stored as fp32; the tensor cores read 19 of its bits
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    "q8_0": 34 / 32,
    "q4_0": 18 / 32,
})

#: Every dtype name :mod:`lib` accepts.
DTYPES = tuple(BYTES_PER_ELEMENT)

#: Integer formats: vendors quote their peaks in TOPS (tera-operations per second),
#: not TFLOPS, because the operations are not floating-point. One multiply-add
#: still counts as two operations.
INTEGER_DTYPES = ("int8", "int4")


def bytes_per_element(dtype: str) -> float:
    """Bytes needed to store one element of ``dtype``.

    Examples
    --------
    >>> bytes_per_element("bf16")
    2.0
    >>> bytes_per_element("int4")
    0.5
    >>> bytes_per_element("bfloat16")
    Traceback (most recent call last):
    ...
    ValueError: dtype='bfloat16' is not known; did you mean 'bf16', 'fp16'? Accepted: fp32, tf32, bf16, fp16, fp8, int8, int4, q8_0, q4_0.
    """
    return BYTES_PER_ELEMENT[choice("dtype", dtype, DTYPES)]


def is_integer(dtype: str) -> bool:
    """Whether ``dtype`` is an integer format (its peak is quoted in OP/s, not FLOP/s).

    Introduced in chapters/02_compute_bound.ipynb (integer peaks are OP/s, not FLOP/s).

    Examples
    --------
    >>> is_integer("int8"), is_integer("fp8")
    (True, False)
    """
    return choice("dtype", dtype, DTYPES) in INTEGER_DTYPES
