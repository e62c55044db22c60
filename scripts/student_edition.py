"""Write the student edition: every chapter notebook with its solutions removed.

Usage::

    python scripts/student_edition.py SRC DST      # e.g. chapters student  (make student)

A solution is everything from the ``{solution-start}`` directive to its
``{solution-end}`` directive, inclusive, whether they sit in cells of their own or share
a markdown cell with the exercise before or the text after; a markdown-only
``{solution}`` directive counts too. Each is replaced by one markdown cell, "Your answer
here — check a numeric answer with lib.exercises.check(...)" (naming the check the
removed solution used, if any), and one empty code cell. The removed cells' outputs go
with them; exercises, narrative, figures and explorers stay. The master notebooks in SRC
are never written: DST must be another folder. Other files in SRC (images, data) are
copied alongside, so relative links keep working.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

#: An opening directive fence: ```{name} / ~~~{name} / :::{name}, possibly indented.
OPENING = re.compile(r"^(?P<indent>\s{0,3})(?P<fence>`{3,}|~{3,}|:{3,})\{(?P<name>[\w:-]+)\}")
#: The directives this script acts on.
START, END, WHOLE = "solution-start", "solution-end", "solution"
#: Exercise checks named in a removed solution, e.g. exercises.check("ch03.ridge-h100", x).
CHECK_CALL = re.compile(r"check\(\s*[\"']([\w.:-]+)[\"']")

PLACEHOLDER = "Your answer here — check a numeric answer with {call}."


@dataclass
class _Answer:
    """A removed solution, and the check ids it used (filled in as it is removed)."""

    ids: list[str] = field(default_factory=list)

    def text(self) -> str:
        if self.ids:
            calls = " or ".join(f'`lib.exercises.check("{i}", your_answer)`'
                                for i in dict.fromkeys(self.ids))
        else:
            calls = "`lib.exercises.check(...)`"
        return PLACEHOLDER.format(call=calls)


def _closing(lines: list[str], start: int, fence: str) -> int:
    """Index of the line that closes the directive opened at ``lines[start]``."""
    char, n = fence[0], len(fence)
    close = re.compile(rf"^\s*{re.escape(char)}{{{n},}}\s*$")
    for j in range(start + 1, len(lines)):
        if close.match(lines[j]):
            return j
    raise ValueError(f"the directive {lines[start].strip()!r} is never closed")


def strip_solutions(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of ``nb`` without its solutions, and how many solutions were removed.

    Raises ``ValueError`` for a ``{solution-start}`` without its ``{solution-end}``
    (or the reverse), naming the cell.
    """
    nb = copy.deepcopy(nb)  # the master stays as it was, in memory too
    out = nbformat.v4.new_notebook()
    out.metadata = nb.metadata
    out.nbformat, out.nbformat_minor = nb.nbformat, nb.nbformat_minor
    has_ids = any("id" in c for c in nb.cells)
    items: list[tuple[str, object, object]] = []   # (kind, payload, source cell)
    inside: _Answer | None = None
    started_in = -1
    removed = 0

    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            if inside is None:
                items.append(("cell", cell, cell))
            elif cell.cell_type == "code":
                inside.ids += CHECK_CALL.findall(cell.source)
            continue
        lines = cell.source.split("\n")
        if inside is None and not any(
                (m := OPENING.match(line)) and m.group("name") in (START, END, WHOLE)
                for line in lines):
            items.append(("cell", cell, cell))   # untouched, attachments and all
            continue
        kept: list[str] = []
        i = 0
        while i < len(lines):
            m = OPENING.match(lines[i])
            name = m.group("name") if m else None
            if inside is None and name in (START, WHOLE):
                close = _closing(lines, i, m.group("fence"))
                items.append(("text", "\n".join(kept), cell))
                kept = []
                answer = _Answer()
                items.append(("answer", answer, cell))
                removed += 1
                if name == START:
                    inside, started_in = answer, index
                else:
                    answer.ids += CHECK_CALL.findall("\n".join(lines[i:close + 1]))
                i = close + 1
                continue
            if name == END:
                if inside is None:
                    raise ValueError(f"cell {index}: {{{END}}} without a {{{START}}} before it")
                i = _closing(lines, i, m.group("fence")) + 1
                inside = None
                continue
            if inside is None:
                kept.append(lines[i])
            else:
                inside.ids += CHECK_CALL.findall(lines[i])
            i += 1
        items.append(("text", "\n".join(kept), cell))

    if inside is not None:
        raise ValueError(f"cell {started_in}: {{{START}}} has no {{{END}}} after it")

    # Cells keep their own ids (the first piece of a split cell too); new cells get
    # readable, deterministic ones, so the student edition is the same on every run.
    placed: list[tuple[nbformat.NotebookNode, str | None]] = []
    first_piece: set[int] = set()
    for kind, payload, source in items:
        if kind == "cell":
            placed.append((payload, payload.get("id")))
        elif kind == "text" and payload.strip():
            keep = None if id(source) in first_piece else source.get("id")
            first_piece.add(id(source))
            piece = nbformat.v4.new_markdown_cell(payload.strip("\n"), metadata=source.metadata)
            if source.get("attachments"):
                piece["attachments"] = source["attachments"]
            placed.append((piece, keep))
        elif kind == "answer":
            placed.append((nbformat.v4.new_markdown_cell(payload.text()), None))
            placed.append((nbformat.v4.new_code_cell(""), None))
    used = {own for _, own in placed if own}

    def fresh(base: str) -> str:
        candidate, k = base, 1
        while candidate in used:
            candidate, k = f"{base}-{k}", k + 1
        used.add(candidate)
        return candidate

    answers = 0
    for cell, own in placed:
        if not has_ids:
            cell.pop("id", None)
        elif own:
            cell["id"] = own
        elif cell.cell_type == "markdown" and cell.source.startswith("Your answer here"):
            answers += 1
            cell["id"] = fresh(f"answer-{answers}")
        elif cell.cell_type == "code":
            cell["id"] = fresh(f"answer-{answers}-code")
        else:
            cell["id"] = fresh("text")
        out.cells.append(cell)
    nbformat.validate(out)
    return out, removed


def convert(src: Path, dst: Path) -> int:
    """Write the student version of notebook ``src`` to ``dst``; return solutions removed."""
    nb = nbformat.read(src, as_version=4)
    try:
        student, removed = strip_solutions(nb)
    except ValueError as exc:
        raise ValueError(f"{src}: {exc}") from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student, dst)
    return removed


def _skip(path: Path) -> bool:
    return any(part in (".ipynb_checkpoints", "__pycache__") for part in path.parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="folder of master notebooks (or one notebook)")
    parser.add_argument("dst", type=Path, help="folder to write the student edition into")
    args = parser.parse_args(argv)
    src, dst = args.src.resolve(), args.dst.resolve()
    if not src.exists():
        parser.error(f"src={str(args.src)!r} does not exist")
    root = src if src.is_dir() else src.parent
    if dst == root or root in dst.parents:
        parser.error(f"dst={str(args.dst)!r} must not be (inside) the folder of the master "
                     "notebooks, which are never written")
    files = sorted(p for p in (src.rglob("*") if src.is_dir() else [src])
                   if p.is_file() and not _skip(p.relative_to(root)))
    total = 0
    for path in files:
        target = dst / path.relative_to(root)
        if path.suffix == ".ipynb":
            removed = convert(path, target)
            total += removed
            print(f"{path.relative_to(root)}: {removed} solution(s) removed -> {target}")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    print(f"student edition in {dst}: {total} solution(s) removed in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
