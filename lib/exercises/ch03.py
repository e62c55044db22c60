"""Exercises of chapters/03_roofline.ipynb."""

from lib import hardware
from lib.exercises import register
from lib.roofline import ridge_point


def _ridge(name: str, dtype: str = "bf16") -> float:
    d = hardware.get(name)
    return ridge_point(d.peak(dtype), d.memory_bandwidth)


register("ch03.ridge-h100", "dense BF16 peak ÷ HBM bandwidth.", lambda: _ridge("h100-sxm"),
         unit="FLOP/byte", fmt=lambda x: f"{x:.1f} FLOP/byte")
