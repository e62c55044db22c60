"""Write the reader edition: every chapter as it reads on the website, for JupyterLab.

Usage::

    python scripts/reader_edition.py BOOK DST      # e.g. . reader   (make lab)

The chapters are written in MyST, which Jupyter Book turns into the website. JupyterLab,
Colab, VS Code and Binder render a notebook's Markdown as CommonMark with ``$`` math and
know nothing of MyST: opened there, a chapter shows ``{glue:text}`h100_bw:.2f``` where the
website shows 3.35, and ten exercise statements lose their numbers. This script writes a
copy of the book that reads there as it reads on the website, from the same sources:

* ``{glue:text}`name:fmt``` becomes the value the chapter's own code glued (the output
  stored in the notebook, which nbval checks), formatted by myst-nb's own function;
* ``{cite}`` becomes the website's author-year label, ``{bibliography}`` the chapter's
  reference list, formatted from ``references.bib`` by the same pybtex styles;
* ``$$ ... $$ (label)`` gets the website's number as a ``\\tag``, ``{eq}`` that number,
  ``{ref}`` the section's title or "Exercise 3.1", ``{term}`` a link to the glossary whose
  tooltip is the term's definition;
* exercise, admonition and note/warning/tip directives become titled quotations
  ("Exercise 3.1 (Ridge points by hand)", numbered as on the website), headings get the
  website's section numbers, and each solution gets its "Solution to Exercise 3.1" title
  with its cells folded (a click on the bar beside them opens them), as the website's
  dropdown is closed;
* cells the website hides (tags ``remove-cell``, ``remove-input``, ``hide-input``,
  ``hide-cell``) are folded; glue records, which only the website reads, are dropped from
  the outputs; the ``<div class="lib-explorer">`` placeholders of the website's
  pre-rendered explorers are dropped (the live explorer is the cell above them);
* the pages under ``pages/`` become one-cell notebooks, so that links to the notation
  table and the glossary open rendered in JupyterLab.

A MyST role or directive this script does not know is an error that names the file and
the cell, never raw text on a reader's screen. Code cells are kept as they are: running a
reader-edition notebook runs the chapter. The sources are never written: DST must be
another folder. The student edition (``scripts/student_edition.py``) is this edition
without the solutions.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import posixpath
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat
import yaml

#: An opening directive fence: ```{name} arg / ~~~{name} / :::{name}, possibly indented.
OPENING = re.compile(r"^(?P<indent>\s{0,3})(?P<fence>`{3,}|~{3,}|:{3,})\{(?P<name>[\w:-]+)\}"
                     r"(?P<arg>.*)$")
#: A plain code fence (```python), inside which nothing is converted.
CODE_FENCE = re.compile(r"^\s{0,3}(?P<fence>`{3,}|~{3,})(?!\{)")
#: A role, or a code span (whose text stays as it is).
ROLE_OR_CODE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<body>[^`]*)`|(?P<ticks>`+)")
#: A MyST target line, ``(label)=``.
TARGET = re.compile(r"^\((?P<label>[\w:.-]+)\)=\s*$")
#: A labelled display equation, ``$$ ... $$ (label)``.
LABELLED_MATH = re.compile(r"\$\$(?P<body>.+?)\$\$[ \t]*\((?P<label>[\w:.-]+)\)", re.S)
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*#*\s*$")
#: The website's pre-rendered explorer placeholder (_static/explorer.js).
EXPLORER_DIV = re.compile(r'^\s*<div class="lib-explorer" data-explorer="[^"]*"></div>\s*$')
#: Cell tags with which the website hides a cell or its code.
FOLDED_TAGS = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
GLUE_MIME = "application/papermill.record/"
#: Admonition directives titled by their own name (Sphinx's titles).
NAMED_ADMONITIONS = {"note": "Note", "tip": "Tip", "hint": "Hint", "important": "Important",
                     "warning": "Warning", "caution": "Caution", "attention": "Attention",
                     "danger": "Danger", "error": "Error", "seealso": "See also"}
SOLVED = "Solution to"
#: Where a cell is cut: a solution starts or ends there (a line of its own, never in text).
SPLIT = "\x00solution\x00"


def closing(lines: list[str], start: int, fence: str) -> int:
    """Index of the line that closes the fence opened at ``lines[start]``."""
    char, n = fence[0], len(fence)
    close = re.compile(rf"^\s*{re.escape(char)}{{{n},}}\s*$")
    for j in range(start + 1, len(lines)):
        if close.match(lines[j]):
            return j
    raise ValueError(f"the fence {lines[start].strip()!r} is never closed")


def _options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """A directive's ``:key: value`` options and the rest of its body."""
    options: dict[str, str] = {}
    i = 0
    while i < len(body):
        m = re.match(r"^\s*:(?P<key>[\w-]+):(?:\s+(?P<value>.*))?$", body[i])
        if not m:
            break
        options[m.group("key")] = (m.group("value") or "").strip()
        i += 1
    rest = body[i:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return options, rest


def _quote(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return [("> " + line).rstrip() for line in lines]


def _plain(markdown: str) -> str:
    """Markdown reduced to one line of plain text (for a tooltip)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"\{[\w:-]+\}`(?:[^`<]*<)?([^`>]*)>?`", r"\1", text)
    text = text.replace("`", "").replace("*", "")
    return " ".join(text.split())


# -- what the whole book knows: numbers, labels, glossary, bibliography ---------------------


@dataclass
class Doc:
    """One source document (a chapter notebook or a page), as the book numbers it."""

    path: PurePosixPath             # relative to the book's root, e.g. chapters/03_roofline.ipynb
    number: str | None = None       # "3" for a numbered chapter
    glue: dict[str, str] = field(default_factory=dict)
    cites: list[str] = field(default_factory=list)
    #: What was read from disk, once: the notebook, or the page's text.
    content: Any = field(default=None, repr=False)

    @property
    def markdown(self) -> list[str]:
        """Its Markdown: each markdown cell of a notebook, or a page's whole text."""
        if isinstance(self.content, str):
            return [self.content]
        return [c.source for c in self.content.cells if c.cell_type == "markdown"]

    @property
    def target(self) -> PurePosixPath:
        """Where the reader edition writes it: every document becomes a notebook."""
        return self.path.with_suffix(".ipynb")


@dataclass
class Book:
    """Everything one document needs to know about the others."""

    root: Path
    docs: dict[PurePosixPath, Doc] = field(default_factory=dict)
    equations: dict[str, tuple[PurePosixPath, str]] = field(default_factory=dict)
    exercises: dict[str, tuple[PurePosixPath, str, str]] = field(default_factory=dict)
    sections: dict[str, tuple[PurePosixPath, str]] = field(default_factory=dict)
    glossary: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (term, definition)
    bib: object = None

    # -- references to other documents ------------------------------------------------------
    def link(self, here: PurePosixPath, there: PurePosixPath, text: str, title: str = "") -> str:
        rel = _relative(here, self.docs[there].target if there in self.docs else there)
        title = ' "' + title.replace("\\", "\\\\").replace('"', '\\"') + '"' if title else ""
        return f"[{text}]({rel}{title})"

    def eq(self, here: PurePosixPath, label: str) -> str:
        if label not in self.equations:
            raise ValueError(f"{{eq}}`{label}`: no equation has this label")
        where, number = self.equations[label]
        return f"({number})" if where == here else self.link(here, where, f"({number})")

    def ref(self, here: PurePosixPath, body: str) -> str:
        m = re.fullmatch(r"(?P<text>.*?)\s*<(?P<label>[^>]+)>", body, flags=re.S)
        text, label = (m.group("text"), m.group("label")) if m else (None, body.strip())
        if label in self.exercises:
            where, number, _ = self.exercises[label]
            default = f"Exercise {number}"
        elif label in self.sections:
            where, default = self.sections[label]
        else:
            raise ValueError(f"{{ref}}`{body}`: no section or exercise has the label {label!r}")
        text = text if text is not None else default
        return text if where == here else self.link(here, where, text)

    def term(self, here: PurePosixPath, body: str) -> str:
        m = re.fullmatch(r"(?P<text>.*?)\s*<(?P<key>[^>]+)>", body, flags=re.S)
        text, key = (m.group("text"), m.group("key")) if m else (body, body)
        found = self.glossary.get(" ".join(key.lower().split()))
        if found is None:
            raise ValueError(f"{{term}}`{body}`: {key!r} is not a term of pages/glossary.md")
        glossary = PurePosixPath("pages/glossary.md")
        return self.link(here, glossary, text, title=f"{found[0]}: {found[1]}")

    # -- citations ----------------------------------------------------------------------------
    def cite(self, doc: Doc, body: str) -> str:
        labels = []
        for key in (k.strip() for k in body.split(",")):
            if key not in self.bib.entries:
                raise ValueError(f"{{cite}}`{body}`: {key!r} is not in references.bib")
            if key not in doc.cites:
                doc.cites.append(key)
            labels.append(_author_year(self.bib.entries[key]))
        return "[" + ", ".join(labels) + "]"

    def bibliography(self, keys: list[str]) -> list[str]:
        import pybtex.plugin

        style = pybtex.plugin.find_plugin("pybtex.style.formatting", "alpha")()
        backend = pybtex.plugin.find_plugin("pybtex.backends", "markdown")()
        entries = sorted(style.format_entries([self.bib.entries[k] for k in keys]),
                         key=lambda e: e.label)
        return [f"- \\[{e.label}\\] " + " ".join(e.text.render(backend).split())
                for e in entries]


def _relative(here: PurePosixPath, there: PurePosixPath) -> str:
    return posixpath.relpath(there.as_posix(), here.parent.as_posix())


def _author_year(entry) -> str:
    """The website's author-year label (sphinxcontrib-bibtex's own template), in Markdown."""
    import pybtex.plugin
    from sphinxcontrib.bibtex.style.referencing.basic_author_year import (
        BasicAuthorYearParentheticalReferenceStyle)
    from sphinxcontrib.bibtex.style.template import join, year

    style = BasicAuthorYearParentheticalReferenceStyle()
    node = join(sep=style.author_year_sep)[style.person.author_or_editor_or_title(full=False), year]
    backend = pybtex.plugin.find_plugin("pybtex.backends", "markdown")()
    return node.format_data({"entry": entry, "style": style}).render(backend)


def _numbered_chapters(root: Path) -> dict[PurePosixPath, str]:
    """Chapter numbers as the website gives them: numbered parts of _toc.yml, in order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    numbers, n = {}, 0
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            if part.get("numbered"):
                n += 1
                numbers[PurePosixPath(chapter["file"])] = str(n)
    return numbers


def _outside_code(lines: list[str]) -> list[str]:
    """The lines that are not inside a plain code fence (directives' bodies included)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = OPENING.match(lines[i]) or CODE_FENCE.match(lines[i])
        if m:
            close = closing(lines, i, m.group("fence"))
            if "name" in m.groupdict():
                out += [lines[i]] + _outside_code(lines[i + 1:close])
            i = close + 1
            continue
        out.append(lines[i])
        i += 1
    return out


def load_book(root: Path, documents: list[Path]) -> Book:
    """Scan ``documents`` (notebooks and pages under ``root``) for what they number."""
    from pybtex.database import parse_file

    book = Book(root=root)
    book.bib = parse_file(str(root / "references.bib"))
    chapters = _numbered_chapters(root)
    for path in documents:
        rel = PurePosixPath(path.relative_to(root).as_posix())
        doc = book.docs[rel] = Doc(rel, number=chapters.get(rel.with_suffix("")))
        if path.suffix == ".ipynb":
            doc.content = nbformat.read(path, as_version=4)
            for cell in doc.content.cells:
                for out in cell.get("outputs", []):
                    name = out.get("metadata", {}).get("scrapbook", {}).get("name")
                    text = out.get("data", {}).get(GLUE_MIME + "text/plain")
                    if name and text is not None:
                        doc.glue[name] = text
        else:
            doc.content = path.read_text(encoding="utf-8")
        sources = doc.markdown
        try:
            _number(book, doc, sources)
        except ValueError as exc:
            raise ValueError(f"{rel}: {exc}") from None
        if rel.as_posix() == "pages/glossary.md":
            book.glossary = _glossary_terms(sources[0])
    return book


def _number(book: Book, doc: Doc, sources: list[str]) -> None:
    """Record the equations, exercises and section labels of one document."""
    equations = exercises = 0
    pending: list[str] = []              # (label)= targets waiting for their heading
    for source in sources:
        for m in LABELLED_MATH.finditer(source):
            equations += 1
            book.equations[m.group("label")] = (doc.path, _numbered(doc, equations))
        lines = _outside_code(source.split("\n"))
        for i, line in enumerate(lines):
            if m := TARGET.match(line):
                pending.append(m.group("label"))
                continue
            if m := HEADING.match(line):
                book.sections.update({label: (doc.path, m.group("title")) for label in pending})
                pending = []
                continue
            if line.strip():
                pending = []
            if (m := OPENING.match(line)) and m.group("name") == "exercise":
                exercises += 1
                options, _ = _options(lines[i + 1:])
                if "label" in options:
                    book.exercises[options["label"]] = (doc.path, _numbered(doc, exercises),
                                                        m.group("arg").strip())


def _numbered(doc: Doc, k: int) -> str:
    """The k-th equation or exercise of ``doc``, numbered as the website numbers it."""
    return f"{doc.number}.{k}" if doc.number else str(k)


def _glossary_terms(text: str) -> dict[str, tuple[str, str]]:
    """Each term of the glossary directive (and its Chinese rendering) -> (term, definition)."""
    lines = text.split("\n")
    found: dict[str, tuple[str, str]] = {}
    for i, line in enumerate(lines):
        m = OPENING.match(line)
        if not (m and m.group("name") == "glossary"):
            continue
        _, body = _options(lines[i + 1:closing(lines, i, m.group("fence"))])
        for terms, definition in _glossary_entries(body):
            for term in terms:
                found[" ".join(term.lower().split())] = (terms[0], _plain(definition))
    return found


def _glossary_entries(body: list[str]) -> list[tuple[list[str], str]]:
    """(terms, definition) pairs of a glossary directive's body."""
    entries: list[tuple[list[str], list[str]]] = []
    for line in body:
        if not line.strip():
            continue
        if line[0].isspace():
            entries[-1][1].append(line.strip())
        elif entries and not entries[-1][1]:
            entries[-1][0].append(line.strip())
        else:
            entries.append(([line.strip()], []))
    return [(terms, " ".join(definition)) for terms, definition in entries]


# -- converting one document ----------------------------------------------------------------


@dataclass
class _State:
    """Where the conversion is: numbering and whether a solution is open."""

    doc: Doc
    counters: list[int] = field(default_factory=lambda: [0] * 6)
    exercises: int = 0
    in_solution: bool = False


class Converter:
    """MyST Markdown of one document -> CommonMark with ``$`` math, as the website reads."""

    def __init__(self, book: Book, doc: Doc) -> None:
        self.book, self.state = book, _State(doc)

    @property
    def here(self) -> PurePosixPath:
        return self.state.doc.path

    def markdown(self, text: str) -> str:
        """The whole of ``text`` converted (pages, and cells without solutions)."""
        return "\n\n".join(piece for piece, _ in self.pieces(text) if piece)

    def pieces(self, text: str) -> list[tuple[str, bool]]:
        """``text`` converted, cut where a solution starts or ends: (Markdown, inside a
        solution) pairs, so that a solution's prose can be folded apart from the text
        around it."""
        inside = self.state.in_solution
        text = LABELLED_MATH.sub(self._tag, text)
        out = []
        for piece in "\n".join(self._lines(text.split("\n"))).split(SPLIT):
            out.append((piece.strip("\n"), inside))
            inside = not inside
        return out

    # -- block level ----------------------------------------------------------------------
    def _lines(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            m = OPENING.match(line)
            if m:
                close = closing(lines, i, m.group("fence"))
                out += self._directive(m.group("name"), m.group("arg").strip(), lines[i + 1:close])
                i = close + 1
                continue
            m = CODE_FENCE.match(line)
            if m:
                close = closing(lines, i, m.group("fence"))
                out += lines[i:close + 1]
                i = close + 1
                continue
            if TARGET.match(line) or EXPLORER_DIV.match(line):
                i += 1
                continue
            m = HEADING.match(line)
            if m:
                out.append(self._heading(len(m.group("hashes")), m.group("title")))
            else:
                out.append(self._inline(self._links(line)))
            i += 1
        return out

    def _heading(self, level: int, title: str) -> str:
        counters = self.state.counters
        counters[level - 1] += 1
        counters[level:] = [0] * (6 - level)
        title = self._inline(title)
        number = self.state.doc.number
        if number:
            parts = [number] + [str(c) for c in counters[1:level]]
            title = ".".join(parts) + ". " + title
        return "#" * level + " " + title

    def _directive(self, name: str, arg: str, body: list[str]) -> list[str]:
        options, body = _options(body)
        if name == "exercise":
            self.state.exercises += 1
            title = f"**Exercise {_numbered(self.state.doc, self.state.exercises)}**"
            title += f" ({self._inline(arg)})" if arg else ""
            return _quote([title, ""] + self._lines(body))
        if name in ("solution-start", "solution"):
            label = arg.split()[0] if arg else ""
            if label not in self.book.exercises:
                raise ValueError(f"{{{name}}} {arg!r}: no exercise has the label {label!r}")
            _, number, ex_title = self.book.exercises[label]
            title = f"**{SOLVED} Exercise {number}**" + (f" ({self._inline(ex_title)})"
                                                         if ex_title else "")
            if name == "solution":
                return _quote([title, ""] + self._lines(body))
            self.state.in_solution = True
            return [title + " — folded below: click a folded cell's ··· to open it.", SPLIT]
        if name == "solution-end":
            self.state.in_solution = False
            return [SPLIT]
        if name == "admonition":
            return _quote([f"**{self._inline(arg)}**", ""] + self._lines(body))
        if name in NAMED_ADMONITIONS:
            first = [arg, ""] if arg else []
            return _quote([f"**{NAMED_ADMONITIONS[name]}**", ""] + self._lines(first + body))
        if name == "bibliography":
            keys = list(self.book.bib.entries) if "all" in options else list(self.state.doc.cites)
            return self.book.bibliography(keys)
        if name == "glossary":
            entries = _glossary_entries(body)
            if "sorted" in options:
                entries.sort(key=lambda e: e[0][0].lower())
            out = []
            for terms, definition in entries:
                names = " · ".join(terms)
                out += [f"**{names}**", f": {self._inline(self._links(definition))}", ""]
            return [line if not line.startswith(": ") else "  " + line[2:] for line in out]
        raise ValueError(f"the MyST directive {{{name}}} is not known to the reader edition")

    def _tag(self, m: re.Match) -> str:
        _, number = self.book.equations[m.group("label")]
        body = m.group("body").rstrip()
        end = "\n$$" if "\n" in body else "$$"
        return f"$${body} \\tag{{{number}}}{end}"

    # -- inline ---------------------------------------------------------------------------
    def _links(self, line: str) -> str:
        """Links to the book's pages (.md) point at their reader-edition notebooks."""
        def repl(m: re.Match) -> str:
            url = m.group("url")
            if re.match(r"^[a-z]+:", url) or not url.split("#")[0].endswith(".md"):
                return m.group(0)
            return f"]({url.split('#')[0][:-3]}.ipynb{m.group('title') or ''})"
        return re.sub(r"\]\((?P<url>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)", repl, line)

    def _inline(self, text: str) -> str:
        out, pos = [], 0
        for m in ROLE_OR_CODE.finditer(text):
            if m.start() < pos:
                continue
            out.append(text[pos:m.start()])
            if m.group("ticks"):
                end = text.find(m.group("ticks"), m.end())
                end = len(text) if end < 0 else end + len(m.group("ticks"))
                out.append(text[m.start():end])
                pos = end
                continue
            out.append(self._role(m.group("role"), m.group("body")))
            pos = m.end()
        out.append(text[pos:])
        return "".join(out)

    def _role(self, role: str, body: str) -> str:
        doc = self.state.doc
        if role == "glue:text" or role == "glue":
            from myst_nb.core.variables import format_plain_text

            key, _, fmt = body.partition(":")
            if key not in doc.glue:
                raise ValueError(f"{{glue:text}}`{body}`: the notebook glues no {key!r} "
                                 "(re-run it with make execute?)")
            return format_plain_text(doc.glue[key], fmt)
        if role == "cite":
            return self.book.cite(doc, body)
        if role == "eq":
            return self.book.eq(self.here, body.strip())
        if role == "ref":
            return self.book.ref(self.here, body)
        if role == "term":
            return self.book.term(self.here, body)
        raise ValueError(f"the MyST role {{{role}}}`{body}` is not known to the reader edition")


# -- notebooks ----------------------------------------------------------------------------------


def _fold(cell) -> None:
    cell.metadata.setdefault("jupyter", {})
    cell.metadata["jupyter"]["source_hidden"] = True
    if cell.cell_type == "code":
        cell.metadata["jupyter"]["outputs_hidden"] = True


def render_notebook(nb: nbformat.NotebookNode, book: Book, doc: Doc) -> nbformat.NotebookNode:
    """The reader edition of one notebook (``nb`` is not changed)."""
    nb = copy.deepcopy(nb)
    converter = Converter(book, doc)
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            try:
                pieces = [(text, folded) for text, folded in converter.pieces(cell.source)
                          if text.strip()]
            except ValueError as exc:
                raise ValueError(f"{doc.path}, cell {index} (id {cell.get('id')}): {exc}") from None
            for k, (text, folded) in enumerate(pieces):
                piece = copy.deepcopy(cell) if k == 0 else nbformat.v4.new_markdown_cell(
                    metadata=copy.deepcopy(cell.metadata))
                piece.source = text
                if k and "id" in cell:
                    piece["id"] = f"{cell['id']}-{k}"
                elif k:
                    piece.pop("id", None)
                if folded:
                    _fold(piece)
                cells.append(piece)
            continue
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not (
                o.get("data") and all(k.startswith(GLUE_MIME) for k in o["data"]))]
            if converter.state.in_solution or FOLDED_TAGS & set(cell.metadata.get("tags", [])):
                _fold(cell)
        cells.append(cell)
    nb.cells = cells
    nbformat.validate(nb)
    return nb


def render_page(book: Book, doc: Doc) -> nbformat.NotebookNode:
    """A Markdown page as a one-cell notebook, so that JupyterLab opens it rendered."""
    try:
        source = Converter(book, doc).markdown(doc.content)
    except ValueError as exc:
        raise ValueError(f"{doc.path}: {exc}") from None
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(source.strip("\n"))]
    nb.cells[0]["id"] = "page"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def documents(root: Path) -> list[Path]:
    """The chapters and pages of the book under ``root``."""
    found = sorted((root / "chapters").glob("*.ipynb")) + sorted((root / "pages").glob("*.md"))
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


#: In DST: the digest of every notebook this script wrote, to recognise a reader's edits.
RECORD = ".edition.json"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(root: Path, dst: Path, transform=None) -> tuple[list[Path], list[Path]]:
    """Write the reader edition of the book at ``root`` into ``dst``.

    ``transform(path, nb) -> nb`` (e.g. removing solutions) is applied to each chapter
    first; numbers (exercises, equations) stay those of the full book. A notebook in
    ``dst`` that changed since this script wrote it (a reader ran and saved it, or took
    notes in it) is kept as it is, never overwritten. Returns the notebooks written and
    those kept.
    """
    root, dst = root.resolve(), dst.resolve()
    if dst == root or dst in root.parents or any(
            dst == root / sub or (root / sub) in dst.parents for sub in ("chapters", "pages")):
        raise ValueError(f"dst={str(dst)!r} must not hold the book's sources, which are "
                         "never written")
    docs = documents(root)
    book = load_book(root, docs)
    record_path = dst / RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    written, kept = [], []
    for path in docs:
        doc = book.docs[PurePosixPath(path.relative_to(root).as_posix())]
        target = dst / doc.target
        if path.suffix == ".ipynb":
            nb = doc.content
            if transform is not None:
                nb = transform(path, nb)
            nb = render_notebook(nb, book, doc)
        else:
            nb = render_page(book, doc)
        data = nbformat.writes(nb).encode("utf-8") + b"\n"
        key = doc.target.as_posix()
        if target.is_file():
            old = _digest(target.read_bytes())
            if old not in (record.get(key), _digest(data)):
                kept.append(target)
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        record[key] = _digest(data)
        written.append(target)
    for folder in ("chapters", "pages"):   # images or data beside the sources
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and path.suffix not in (".ipynb", ".md") and not any(
                    part in (".ipynb_checkpoints", "__pycache__") for part in rel.parts):
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dst / rel)
    dst.mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return written, kept


def report(dst: Path, written: list[Path], kept: list[Path], what: str) -> None:
    """Say what was written and which edited notebooks were kept."""
    print(f"{what} in {dst}: {len(written)} notebook(s) written")
    for path in kept:
        print(f"  kept {path}: you changed it since it was written; delete it (or move it "
              "away) to get the current edition")


def parse_args(doc: str, edition: str,
               argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """``BOOK DST`` of an edition's command line (a script's ``doc`` describes it); exits
    with a message when BOOK holds no ``_toc.yml``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("book", type=Path, help="the book's root (holds _toc.yml, chapters/)")
    parser.add_argument("dst", type=Path, help=f"folder to write the {edition} into")
    args = parser.parse_args(argv)
    if not (args.book / "_toc.yml").is_file():
        parser.error(f"book={str(args.book)!r} holds no _toc.yml")
    return parser, args


def main(argv: list[str] | None = None) -> int:
    parser, args = parse_args(__doc__, "reader edition", argv)
    try:
        written, kept = write(args.book, args.dst)
    except ValueError as exc:
        parser.error(str(exc))
    report(args.dst, written, kept, "reader edition")
    return 0


if __name__ == "__main__":
    sys.exit(main())
