"""Number formats and their sizes, quantisation scales included.

Each name :mod:`lib` accepts as a dtype is a :class:`Format`: the bits of each element's
code, and, for a group-scaled format, how many elements share one scale (and zero point)
and how many bytes those take. Its :attr:`Format.bytes_per_element` counts the scales'
share, so every cost that reads or stores a tensor in that format (weights, KV cache)
pays for its scales without further bookkeeping.

* ``fp32``, ``tf32``, ``bf16``, ``fp16``: plain floating point, no scales.
* ``fp8``, ``int8``, ``int4``: the code bits alone. Their scales are **per tensor** (or per
  channel): one FP32 number for millions of elements, a negligible share. vLLM's and
  TensorRT-LLM's FP8 KV caches are of this kind (one ``k_scale`` and one ``v_scale`` per
  layer). ``int4`` is the idealised 4-bit format: real INT4 caches and weights group their
  scales and cost a little more (``q4_0``, ``q4_1``, ``int4_g32``).
* ``q8_0``, ``q4_0``, ``q4_1``: llama.cpp's GGUF blocks of 32 elements: one FP16 scale
  (and, for ``q4_1``, one FP16 minimum), 34, 18 and 20 bytes per 32 elements
  (``block_q8_0``, ``block_q4_0``, ``block_q4_1`` in ggml/src/ggml-common.h, llama.cpp
  commit 01243c5). llama.cpp stores weights in them and, with ``--cache-type-k/-v``, the
  KV cache too (``kv_cache_types`` in common/arg.cpp: f32, f16, bf16, q8_0, q4_0, q4_1,
  iq4_nl, q5_0, q5_1; quantised V requires flash attention).
* ``int4_g32``, ``int2_g32``: KIVI's asymmetric KV-cache quantisation (Liu et al., 2024):
  groups of 32 elements (keys grouped along the tokens of each channel, values along the
  channels of each token), each with an FP16 scale and an FP16 minimum (the zero point),
  as KIVI's code stores them (``group_size = 32`` in example.py; ``scale`` and ``mn`` in
  the cache's FP16, quant/new_pack.py at commit 150def8). KIVI also keeps the most recent
  32-128 tokens in FP16 (its residual), a constant per sequence that this per-element size
  leaves out.

Introduced in chapters/07_mental_model.ipynb; the formats themselves, and how precision moves
both roofs, in chapters/02_compute_bound.ipynb; the group-scaled formats and their scales'
overhead in chapters/09_quantisation.ipynb.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from lib._validate import choice

__all__ = ["Format", "FORMATS", "BYTES_PER_ELEMENT", "bytes_per_element", "DTYPES",
           "INTEGER_DTYPES", "is_integer", "get_format"]


@dataclass(frozen=True)
class Format:
    """A number format as memory sees it: code bits, and the scales shared by each group.

    Introduced in chapters/09_quantisation.ipynb.

    Attributes
    ----------
    name : str
        The dtype name :mod:`lib` accepts, e.g. ``"int4_g32"``.
    code_bits : float
        Bits of each element's code (4 for INT4; 19 read of TF32's 32 are still 32 stored).
    group_size : int or None
        Elements that share one scale (and zero point); ``None`` for a format without
        scales or with per-tensor (or per-channel) scales, whose share is negligible.
    scale_bytes, zero_bytes : float
        Bytes of each group's scale and of its zero point (or minimum); 0 where absent.
    source : str
        Bibliography key of where the layout is defined.
    label : str
        Name for people.

    Examples
    --------
    >>> f = get_format("int4_g32")
    >>> f.code_bits, f.overhead_bits, f.bits_per_element     # (4 x 32 + 16 + 16) / 32
    (4, 1.0, 5.0)
    >>> get_format("q8_0").bits_per_element                  # 34 bytes per 32 weights
    8.5
    """

    name: str
    code_bits: float
    group_size: int | None = None
    scale_bytes: float = 0.0
    zero_bytes: float = 0.0
    source: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        if not self.code_bits > 0:
            raise ValueError(f"code_bits={self.code_bits!r} must be > 0 (format {self.name!r}).")
        if self.group_size is None:
            if self.scale_bytes or self.zero_bytes:
                raise ValueError(f"format {self.name!r}: scale_bytes and zero_bytes need a "
                                 "group_size (elements sharing them).")
        elif (isinstance(self.group_size, bool) or not isinstance(self.group_size, int)
              or self.group_size < 1):
            raise ValueError(f"group_size={self.group_size!r} must be a whole number >= 1 or "
                             f"None (format {self.name!r}).")
        if self.scale_bytes < 0 or self.zero_bytes < 0:
            raise ValueError(f"format {self.name!r}: scale_bytes and zero_bytes must be >= 0.")

    @property
    def overhead_bits(self) -> float:
        """Bits per element spent on scales and zero points: ``8 (scale + zero) / group``."""
        if self.group_size is None:
            return 0.0
        return 8 * (self.scale_bytes + self.zero_bytes) / self.group_size

    @property
    def bits_per_element(self) -> float:
        """Bits stored per element, scales included: ``code_bits + overhead_bits``."""
        return self.code_bits + self.overhead_bits

    @property
    def bytes_per_element(self) -> float:
        """Bytes stored per element, scales included: ``bits_per_element / 8``."""
        return self.bits_per_element / 8


_GGML = "llamacpp_ggml_common"
_KIVI = "liu2024kivi"

#: Every format, by name, in the order error messages list them.
FORMATS = MappingProxyType({f.name: f for f in (
    Format("fp32", 32, label="FP32"),
    Format("tf32", 32, label="TF32 (stored as FP32; the tensor cores read 19 of its bits)"),
    Format("bf16", 16, label="BF16"),
    Format("fp16", 16, label="FP16"),
    Format("fp8", 8, label="FP8, per-tensor scale"),
    Format("int8", 8, label="INT8, per-tensor scale"),
    Format("int4", 4, label="INT4, per-tensor scale (idealised)"),
    Format("q8_0", 8, 32, scale_bytes=2, source=_GGML, label="GGUF Q8_0 (32 x INT8 + FP16 scale)"),
    Format("q4_0", 4, 32, scale_bytes=2, source=_GGML, label="GGUF Q4_0 (32 x INT4 + FP16 scale)"),
    Format("q4_1", 4, 32, scale_bytes=2, zero_bytes=2, source=_GGML,
           label="GGUF Q4_1 (32 x INT4 + FP16 scale and minimum)"),
    Format("int4_g32", 4, 32, scale_bytes=2, zero_bytes=2, source=_KIVI,
           label="KIVI INT4 (groups of 32, FP16 scale and zero)"),
    Format("int2_g32", 2, 32, scale_bytes=2, zero_bytes=2, source=_KIVI,
           label="KIVI INT2 (groups of 32, FP16 scale and zero)"),
)})

#: Storage size of one element, in bytes, scales included (:attr:`Format.bytes_per_element`).
BYTES_PER_ELEMENT = MappingProxyType({n: f.bytes_per_element for n, f in FORMATS.items()})

#: Every dtype name :mod:`lib` accepts.
DTYPES = tuple(BYTES_PER_ELEMENT)

#: Integer formats: vendors quote their peaks in TOPS (tera-operations per second),
#: not TFLOPS, because the operations are not floating-point. One multiply-add
#: still counts as two operations.
INTEGER_DTYPES = ("int8", "int4")


def get_format(dtype: str) -> Format:
    """The :class:`Format` called ``dtype``.

    Introduced in chapters/09_quantisation.ipynb.

    Examples
    --------
    >>> get_format("int2_g32").bits_per_element                # KIVI-2: (2 x 32 + 32) / 32
    3.0
    >>> get_format("fp8").group_size is None                   # per-tensor scale: negligible
    True
    """
    return FORMATS[choice("dtype", dtype, DTYPES)]


def bytes_per_element(dtype: str) -> float:
    """Bytes needed to store one element of ``dtype``, its scales' share included.

    Examples
    --------
    >>> bytes_per_element("bf16")
    2.0
    >>> bytes_per_element("int4")
    0.5
    >>> bytes_per_element("q4_1")                 # 20 bytes per block of 32
    0.625
    >>> bytes_per_element("bfloat16")
    Traceback (most recent call last):
    ...
    ValueError: dtype='bfloat16' is not known; did you mean 'bf16', 'fp16'? Accepted: fp32, tf32, bf16, fp16, fp8, int8, int4, q8_0, q4_0, q4_1, int4_g32, int2_g32.
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
