"""The instructor guide's tables, generated from the chapters themselves.

Usage::

    python scripts/instructor_tables.py            # print the tables
    python scripts/instructor_tables.py --write    # rewrite them in pages/instructors.md

pages/instructors.md holds each table between ``<!-- begin NAME -->`` and
``<!-- end NAME -->``; tests/test_instructor_tables.py checks that every one is what this
script generates now, so an edited chapter cannot leave a stale exercise id, figure or
guessed reading time in the guide. The tables:

* ``exercises``: each chapter's exercises (label, title, kind) and the ids their numeric
  answers are checked with;
* ``reading``: each chapter's reading time, measured (below);
* ``figures``: per session, the figures, diagrams and explorer to project, by section.

The reading time is measured from what a student reads before class: the chapter without
its solutions (the student edition) and without the cells the website hides:

* prose: the words of the Markdown cells, at :data:`WORDS_PER_MINUTE` (careful reading of
  technical text with equations, slower than the 200-250 words a minute of ordinary prose);
* code: the lines of the code cells a reader sees, at :data:`CODE_LINES_PER_MINUTE`;
* figures: each figure a cell draws, :data:`MINUTES_PER_FIGURE`; each explorer (a live
  widget), :data:`MINUTES_PER_EXPLORER`, to move its controls.

The total is rounded up to the next 5 minutes.
"""

from __future__ import annotations

import ast
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from student_edition import CHECK_CALL, strip_solutions  # noqa: E402

WORDS_PER_MINUTE = 150
CODE_LINES_PER_MINUTE = 10
MINUTES_PER_FIGURE = 0.5
MINUTES_PER_EXPLORER = 3.0
HIDDEN = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
#: MyST markup that is not read: directive fences and options, targets, heading marks,
#: roles' names, HTML comments.
MARKUP = re.compile(r"^\s*(?:`{3,}|~{3,}|:{3,}).*$|^\s*:[\w-]+:.*$|^\(.*\)=\s*$|^#+\s|"
                    r"\{[\w:-]+\}", re.M)
COMMENT = re.compile(r"<!--.*?-->", re.S)


@dataclass(frozen=True)
class Reading:
    """What one chapter asks of a reader, and the minutes it takes."""

    words: int
    code_lines: int
    figures: int
    explorers: int

    @property
    def minutes(self) -> int:
        raw = (self.words / WORDS_PER_MINUTE + self.code_lines / CODE_LINES_PER_MINUTE
               + self.figures * MINUTES_PER_FIGURE + self.explorers * MINUTES_PER_EXPLORER)
        return 5 * math.ceil(raw / 5)


def measure(path: Path) -> Reading:
    """The reading of the notebook at ``path``, solutions and hidden cells left out."""
    nb, _ = strip_solutions(nbformat.read(path, as_version=4))
    words = code = figures = explorers = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if not cell.source.startswith("Your answer here"):
                words += len(MARKUP.sub(" ", COMMENT.sub(" ", cell.source)).split())
            continue
        if cell.cell_type != "code" or HIDDEN & set(cell.metadata.get("tags", [])):
            continue
        code += sum(1 for line in cell.source.split("\n")
                    if line.strip() and not line.strip().startswith("#"))
        if ".live()" in cell.source:
            explorers += 1
            continue
        figures += sum(1 for out in cell.get("outputs", [])
                       if {"image/png", "image/svg+xml"} & out.get("data", {}).keys())
    return Reading(words, code, figures, explorers)


# -- the tables ------------------------------------------------------------------------------


ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
#: The exercise directive, its title and label.
EXERCISE = re.compile(r"^(`{3,}|:{3,})\{exercise\}(?P<title>[^\n]*)\n:label: (?P<label>[\w-]+)\n"
                      r"(?P<body>.*?)^\1\s*$", re.M | re.S)
#: The kind of an exercise: the emphasised phrase that opens its statement.
KIND = re.compile(r"^\s*(?:\*\*(?P<bold>[^*]+?)\*\*|\*(?P<em>[^*]+?)\*)")
HEADING = re.compile(r"^(#{2,3}) (.+)$", re.M)


def drawing_call(source: str) -> str | None:
    """``module.function`` when a cell's last statement is a call that returns its figure."""
    try:
        last = ast.parse(source).body[-1]
    except (SyntaxError, IndexError):
        return None
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
        name = ast.unparse(last.value.func)
        return name if "." in name else None
    return None


def number(path: Path) -> int:
    return int(path.name[:2])


def link(path: Path) -> str:
    return f"[{number(path)}](../chapters/{path.name})"


def exercises(path: Path) -> list[tuple[str, str, str, list[str]]]:
    """(label, title, kind, check ids) of each exercise of a chapter, in order."""
    nb = nbformat.read(path, as_version=4)
    text = "\n\n".join(c.source for c in nb.cells)
    found = []
    for m in EXERCISE.finditer(text):
        kind = KIND.match(m.group("body").lstrip())
        kind = (kind.group("bold") or kind.group("em")).strip().rstrip(".") if kind else ""
        # The checks named in the statement and in its solution (up to the next exercise).
        rest = text[m.end():]
        following = EXERCISE.search(rest)
        scope = m.group("body") + rest[:following.start() if following else len(rest)]
        found.append((m.group("label"), m.group("title").strip(), kind,
                      list(dict.fromkeys(CHECK_CALL.findall(scope)))))
    return found


def exercises_table() -> str:
    rows = ["| Ch. | Exercise | `exercises.check` ids |", "|---|---|---|"]
    for path in CHAPTERS:
        for label, title, kind, ids in exercises(path):
            what = title or kind
            checks = ", ".join(f"`{i}`" for i in ids) or "—"
            rows.append(f"| {link(path)} | `{label}`{': ' + what if what else ''} | {checks} |")
    return "\n".join(rows)


def reading_table() -> str:
    rows = ["| Ch. | Words | Code lines | Figures | Explorers | Reading time |",
            "|---|---|---|---|---|---|"]
    for path in CHAPTERS:
        r = measure(path)
        rows.append(f"| {link(path)} | {r.words:,} | {r.code_lines} | {r.figures} | "
                    f"{r.explorers} | {r.minutes} min |")
    return "\n".join(rows)


def aliases(nb: nbformat.NotebookNode) -> dict[str, str]:
    """The names a notebook imports, to the dotted path they stand for."""
    found: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
            elif isinstance(node, ast.Import):
                found.update({a.asname or a.name: a.name for a in node.names})
    return found


def figures(path: Path) -> list[tuple[str, list[str], str | None]]:
    """Per section of a chapter: (section title, what its cells draw, its explorer)."""
    nb, _ = strip_solutions(nbformat.read(path, as_version=4))
    names = aliases(nb)
    sections: list[tuple[str, list[str], str | None]] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for m in HEADING.finditer(cell.source):
                sections.append((re.sub(r"\{[\w:-]+\}`([^`]*)`", r"\1", m.group(2)), [], None))
            continue
        if cell.cell_type != "code" or not sections:
            continue
        title, drawn, explorer = sections[-1]
        live = re.search(r"widgets\.get\(\"(\w+)\"\)", cell.source)
        if live and ".live()" in cell.source:
            sections[-1] = (title, drawn, live.group(1))
        elif any({"image/png", "image/svg+xml"} & o.get("data", {}).keys()
                 for o in cell.get("outputs", [])):
            call = drawing_call(cell.source)
            if call:
                head, _, rest = call.partition(".")
                call = f"{names.get(head, head)}.{rest}"
            what = f"`{call}`" if call else "a plot drawn in the cell"
            if what not in drawn:
                drawn.append(what)
    return [s for s in sections if s[1] or s[2]]


def figures_table() -> str:
    rows = ["| Session | Section | Figures and diagrams (the call that draws them) | Explorer |",
            "|---|---|---|---|"]
    for path in CHAPTERS:
        for title, drawn, explorer in figures(path):
            calls = ", ".join(drawn) or "—"
            rows.append(f"| {number(path)} | {title} | {calls} | "
                        f"{f'`{explorer}`' if explorer else '—'} |")
    return "\n".join(rows)


TABLES = {"exercises": exercises_table, "reading": reading_table, "figures": figures_table}
PAGE = ROOT / "pages" / "instructors.md"


def block(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- begin {name} -->)(.*?)(<!-- end {name} -->)", re.S)


def rewrite(text: str) -> str:
    """``text`` (the guide) with every generated table replaced by its current version."""
    for name, make in TABLES.items():
        if not block(name).search(text):
            raise ValueError(f"{PAGE.name} has no '<!-- begin {name} -->' block")
        table = make()
        text = block(name).sub(lambda m: f"{m.group(1)}\n{table}\n{m.group(3)}", text)
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--write"]:
        PAGE.write_text(rewrite(PAGE.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"rewrote the tables of {PAGE}")
        return 0
    if argv:
        print(__doc__.split("\n\n")[1])
        return 2
    for name, make in TABLES.items():
        print(f"<!-- begin {name} -->\n{make()}\n<!-- end {name} -->\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
