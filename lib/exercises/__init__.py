"""Immediate feedback on a numeric answer to one of the book's exercises.

Each chapter registers its exercises in its own module (``lib.exercises.ch03`` ...);
an answer is *computed by lib*, never typed in, so the check stays true when the
catalog changes. In a notebook::

    from lib import exercises
    exercises.check("ch03.ridge-h100", 300)

Introduced in chapters/01_memory_bound.ipynb.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

from lib._validate import choice, positive

__all__ = ["Exercise", "Feedback", "register", "check", "answer", "ids"]

#: Chapter modules whose exercises are registered on first use.
CHAPTER_MODULES = ("ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch08", "ch09",
                   "ch10", "ch11", "ch12", "ch13", "ch14", "ch15", "ch16")

_REGISTRY: dict[str, "Exercise"] = {}
_LOADED = False


@dataclass(frozen=True)
class Exercise:
    """One numeric answer: a hint, how lib computes it, how close counts, its unit."""

    id: str
    hint: str
    compute: Callable[[], float]
    rel_tol: float
    unit: str
    fmt: Callable[[float], str]


@dataclass(frozen=True)
class Feedback:
    """The verdict on an answer; shows as one line in a notebook."""

    correct: bool
    message: str

    def __repr__(self) -> str:
        return self.message

    def __bool__(self) -> bool:
        return self.correct


def register(id: str, hint: str, compute: Callable[[], float], rel_tol: float = 0.05,
             unit: str = "", fmt: Callable[[float], str] | None = None) -> None:
    """Add an exercise to the registry (called by the chapter modules at import)."""
    if id in _REGISTRY:
        raise ValueError(f"id={id!r} is registered twice.")
    _REGISTRY[id] = Exercise(id, hint, compute, rel_tol, unit,
                             fmt or (lambda x: f"{x:.4g}{' ' + unit if unit else ''}"))


def _load() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for mod in CHAPTER_MODULES:
            importlib.import_module(f"lib.exercises.{mod}")


def ids() -> list[str]:
    """Every registered exercise id."""
    _load()
    return sorted(_REGISTRY)


def _get(id: str) -> Exercise:
    _load()
    return _REGISTRY[choice("exercise", id, sorted(_REGISTRY))]


def answer(id: str) -> float:
    """The answer lib computes for exercise ``id``: the instructors' route to the answers.

    :func:`check` never prints it, so that a student cannot read it off a wrong guess;
    pages/instructors.md documents this function.

    Examples
    --------
    >>> round(answer("ch03.ridge-h100"), 1)
    295.3
    """
    return float(_get(id).compute())


def check(id: str, value: float) -> Feedback:
    """Tell a student whether ``value`` is within the exercise's tolerance of lib's answer.

    A wrong answer is told how far off it is and which way, with the exercise's hint;
    the expected value itself is never printed (instructors: :func:`answer`).

    Examples
    --------
    >>> check("ch03.ridge-h100", 300)
    ✓ 300 FLOP/byte is within 5% of the answer.
    >>> check("ch03.ridge-h100", 590)
    ✗ 590 FLOP/byte is 100% too high (within 5% passes). Hint: dense BF16 peak ÷ HBM bandwidth.
    """
    ex = _get(id)
    v = float(positive("value", value, allow_zero=True))
    expected = float(ex.compute())
    shown = f"{v:.4g}" + (f" {ex.unit}" if ex.unit else "")
    if math.isclose(v, expected, rel_tol=ex.rel_tol):
        return Feedback(True, f"✓ {shown} is within {ex.rel_tol:.0%} of the answer.")
    ratio = v / expected
    direction = "too high" if ratio > 1 else "too low"
    if 0.1 <= ratio <= 10:
        size = f"{abs(ratio - 1):.0%}"
    elif ratio > 10:
        size = f"{ratio:.3g} times"
    else:
        size = f"{1 / ratio:.3g} times" if v > 0 else "far"
    hint = f" Hint: {ex.hint}" if ex.hint else ""
    return Feedback(False, f"✗ {shown} is {size} {direction} (within {ex.rel_tol:.0%} passes)."
                           f"{hint}")
