"""The notebooks' one link to the prose: glue a computed number, rounded to what it means.

A chapter's prose quotes numbers with ``{glue:text}`name:.0f``` roles; each is stored by a
code cell with :func:`glue`, and nbval compares the stored value on every test run. A raw
float carries 17 significant digits, so a catalog edit or a numpy patch release would
ripple through dozens of committed outputs for a change no reader can see. :func:`glue`
stores a whole number exactly (a parameter count is a fact to the last digit), any other
number to six significant figures (:func:`lib.units.round_sig`), enough for every format
the prose uses, and everything else as it is.

Introduced in chapters/01_memory_bound.ipynb.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lib.units import round_sig

__all__ = ["glue"]


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the prose (myst-nb's glue).

    Whole numbers are stored exactly, other numbers to 6 significant figures.

    Introduced in chapters/01_memory_bound.ipynb.
    """
    from myst_nb import glue as _glue      # only where a notebook is being executed

    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        x = float(value)
        value = int(x) if x.is_integer() and abs(x) < 2**53 else round_sig(x)
    _glue(name, value, display=display)
