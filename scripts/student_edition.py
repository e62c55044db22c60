"""Write the student edition: the reader edition of the book without its solutions.

Usage::

    python scripts/student_edition.py BOOK DST      # e.g. . student   (make student)

A solution is everything from the ``{solution-start}`` directive to its
``{solution-end}`` directive, inclusive, whether they sit in cells of their own or share
a markdown cell with the exercise before or the text after; a markdown-only
``{solution}`` directive counts too. Each is replaced by one markdown cell, "Your answer
here — check a numeric answer with lib.exercises.check(...)" (naming the check the
removed solution used, if any), and one empty code cell. The removed cells' outputs go
with them; exercises, narrative, figures and explorers stay. The result is then written
as the reader edition (``scripts/reader_edition.py``): numbers, citations, equation and
exercise numbers as on the website, so that it reads right in JupyterLab, with the
pages (notation, glossary) beside the chapters. The book's sources are never written:
DST must be another folder.
"""

from __future__ import annotations

import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reader_edition  # noqa: E402  (one parser and one writer for both editions)
from reader_edition import OPENING, closing  # noqa: E402

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
                close = closing(lines, i, m.group("fence"))
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
                i = closing(lines, i, m.group("fence")) + 1
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


def main(argv: list[str] | None = None) -> int:
    parser, args = reader_edition.parse_args(__doc__, "student edition", argv)
    total = 0

    def without_solutions(path: Path, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        nonlocal total
        try:
            student, removed = strip_solutions(nb)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        print(f"{path.relative_to(args.book.resolve())}: {removed} solution(s) removed")
        total += removed
        return student

    try:
        written, kept = reader_edition.write(args.book, args.dst, transform=without_solutions)
    except ValueError as exc:
        parser.error(str(exc))
    reader_edition.report(args.dst, written, kept, f"student edition ({total} solutions removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
