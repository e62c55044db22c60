"""scripts/reader_edition.py: the chapters as the website reads them, for JupyterLab."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
_spec = importlib.util.spec_from_file_location("reader_edition",
                                               ROOT / "scripts" / "reader_edition.py")
re_ = sys.modules.setdefault("reader_edition", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(re_)

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell

#: What must never reach a reader's screen: a MyST role, a directive fence or option, a
#: target, an equation label, the website's explorer placeholder.
RAW_MYST = re.compile(r"\{[\w:-]+\}`|^\s*(?:`{3,}|~{3,}|:{3,})\{|^\s*:(?:label|class|filter):|"
                      r"^\([\w:.-]+\)=\s*$|\$\$\s*\([\w-]+\)|lib-explorer", re.M)


def glued(name: str, text: str) -> dict:
    return nbformat.v4.new_output(
        "display_data", {re_.GLUE_MIME + "text/plain": text},
        metadata={"scrapbook": {"name": name, "mime_prefix": re_.GLUE_MIME}})


def mini_book(root: Path) -> Path:
    """A two-chapter book with every construct the reader edition converts."""
    (root / "chapters").mkdir(parents=True)
    (root / "pages").mkdir()
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n"
        "  - caption: Front\n    chapters:\n      - file: pages/glossary\n"
        "  - caption: Part I\n    numbered: true\n    chapters:\n"
        "      - file: chapters/01_one\n      - file: chapters/02_two\n")
    (root / "references.bib").write_text(
        "@article{williams2009roofline,\n  author = {Samuel Williams and Andrew Waterman and "
        "David Patterson},\n  title = {Roofline},\n  journal = {CACM},\n  year = {2009}\n}\n"
        "@misc{chen2022,\n  author = {Carol Chen},\n  title = {Transformer inference arithmetic},"
        "\n  year = {2022},\n  url = {https://kipp.ly/}\n}\n"
        "@misc{nvidia,\n  author = {{NVIDIA}},\n  title = {H100 datasheet},\n  year = {2023}\n}\n")
    (root / "pages" / "glossary.md").write_text(
        "# Glossary\n\n```{glossary}\n:sorted:\n\nroofline\n屋顶线\n  A plot of attainable "
        "FLOP/s against intensity. Taught in [Chapter 1](../chapters/01_one.ipynb).\n\n"
        "memory-bound\n访存受限\n  Work whose time is set by the bytes it moves.\n```\n")
    (root / "pages" / "notes.md").write_text(
        "# Notes\n\nSee the [glossary](glossary.md) and {cite}`nvidia`.\n\n"
        "```{bibliography}\n:all:\n:list: bullet\n```\n")
    one = nbformat.v4.new_notebook()
    one.cells = [
        md("# The first chapter\n\nThe H100 moves {glue:text}`bw:.2f` TB/s, a "
           "{term}`memory-bound <Memory-bound>` fact {cite}`williams2009roofline,chen2022`. "
           "Code stays: `{glue:text}` and ``{cite}`x` ``.\n\n(sec-time)=\n## Time\n\n"
           "$$\nT = Q / \\beta\n$$ (eq-time)\n\nBy {eq}`eq-time`, see {ref}`sec-time`, "
           "{ref}`this <sec-time>` and {ref}`ex-one`. Unlabelled:\n\n$$x$$\n\n"
           "```python\n{glue:text}`bw` in a code block\n```"),
        code("glue('bw', 3.35)", outputs=[glued("bw", "3.35")], execution_count=1),
        code("glue('n', 7)", outputs=[glued("n", "7")], execution_count=2,
             metadata={"tags": ["remove-cell"]}),
        code("explorer.live()", metadata={"tags": ["remove-output"]}),
        md('<div class="lib-explorer" data-explorer="roofline"></div>\n\n### Sub\n\n'
           "```{admonition} Takeaway\n:class: tip\n**Seven** is {glue:text}`n:.0f`.\n```\n\n"
           "```{warning} Dense, not sparse.\n```"),
        md("## Exercises\n\n```{exercise} By hand\n:label: ex-one\n\nCompute "
           "{glue:text}`n:.1f`.\n```\n\n```{solution-start} ex-one\n:class: dropdown\n```"),
        code("exercises.check('ch01.x', 7)", outputs=[], execution_count=3),
        md("The SOLUTION prose.\n\n```{solution-end}\n```\n\n```{exercise}\n:label: ex-two\n\n"
           "Again, with {eq}`eq-two`.\n```\n\n## References\n\n```{bibliography}\n"
           ":filter: docname in docnames\n```"),
    ]
    nbformat.write(one, root / "chapters" / "01_one.ipynb")
    two = nbformat.v4.new_notebook()
    two.cells = [md("# The second chapter\n\n$$\na = b\n$$ (eq-two)\n\nBack to {eq}`eq-time` "
                    "and {ref}`ex-two`; the [notes](../pages/notes.md).")]
    nbformat.write(two, root / "chapters" / "02_two.ipynb")
    return root


@pytest.fixture
def edition(tmp_path):
    book = mini_book(tmp_path / "book")
    written, kept = re_.write(book, tmp_path / "reader")
    assert kept == []
    return tmp_path / "reader", written


def markdown_of(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_writes_every_chapter_and_page_as_a_notebook(edition):
    dst, written = edition
    assert sorted(p.relative_to(dst).as_posix() for p in written) == [
        "chapters/01_one.ipynb", "chapters/02_two.ipynb", "pages/glossary.ipynb",
        "pages/notes.ipynb"]


def test_chapter_reads_as_on_the_website(edition):
    dst, _ = edition
    nb = nbformat.read(dst / "chapters" / "01_one.ipynb", as_version=4)
    text = markdown_of(nb)
    assert not RAW_MYST.search(text.replace("`{glue:text}`", "").replace("``{cite}`x` ``", "")
                               .split("```python")[0])
    assert text.startswith("# 1. The first chapter")
    assert "## 1.1. Time" in text and "### 1.1.1. Sub" in text and "## 1.2. Exercises" in text
    assert "moves 3.35 TB/s" in text and "**Seven** is 7." in text and "Compute 7.0." in text
    assert "[Williams *et al\\.*, 2009, Chen, 2022]" in text
    assert "T = Q / \\beta \\tag{1.1}" in text and "By (1.1)" in text
    assert "see Time, this and Exercise 1.1" in text
    assert "$$x$$" in text                                   # unlabelled: no number
    assert "Code stays: `{glue:text}` and ``{cite}`x` ``" in text   # code spans untouched
    assert "```python\n{glue:text}`bw` in a code block\n```" in text
    assert "> **Takeaway**\n>\n> **Seven**" in text
    assert "> **Warning**\n>\n> Dense, not sparse." in text
    assert "> **Exercise 1.1** (By hand)\n>\n> Compute" in text
    assert "> **Exercise 1.2**\n>\n> Again, with [(2.1)](02_two.ipynb)." in text
    assert "**Solution to Exercise 1.1** (By hand)" in text
    # The glossary link's tooltip is the definition.
    assert ('[memory-bound](../pages/glossary.ipynb "memory-bound: Work whose time is set by '
            'the bytes it moves.")') in text
    # The chapter's reference list: what it cites, alpha labels as on the website.
    refs = text.split("## 1.3. References")[1]
    assert "\\[Che22\\] Carol Chen" in refs and "\\[WWP09\\] Samuel Williams" in refs
    assert "NVIDIA" not in refs


def test_cells_the_website_hides_are_folded_and_solutions_folded_apart(edition):
    dst, _ = edition
    nb = nbformat.read(dst / "chapters" / "01_one.ipynb", as_version=4)

    def folded(cell) -> bool:
        return cell.metadata.get("jupyter", {}).get("source_hidden", False)

    by_source = {c.source.split("\n")[0]: c for c in nb.cells}
    assert folded(by_source["glue('n', 7)"])                          # remove-cell
    assert by_source["glue('n', 7)"].metadata["jupyter"]["outputs_hidden"]
    assert not folded(by_source["glue('bw', 3.35)"])
    assert not folded(by_source["explorer.live()"])                   # the live explorer
    assert folded(by_source["exercises.check('ch01.x', 7)"])          # a solution's code
    assert folded(by_source["The SOLUTION prose."])                   # and its prose, alone
    after = nb.cells[[c.source for c in nb.cells].index("The SOLUTION prose.") + 1]
    assert after.source.startswith("> **Exercise 1.2**") and not folded(after)
    assert len({c["id"] for c in nb.cells}) == len(nb.cells)
    # Glue records are for the website only; other outputs stay.
    assert all(not o.get("data", {}).keys() & {re_.GLUE_MIME + "text/plain"}
               for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    nbformat.validate(nb)


def test_pages_become_rendered_notebooks_and_links_follow(edition):
    dst, _ = edition
    two = markdown_of(nbformat.read(dst / "chapters" / "02_two.ipynb", as_version=4))
    assert "a = b \\tag{2.1}" in two and "[(1.1)](01_one.ipynb)" in two
    assert "[Exercise 1.2](01_one.ipynb)" in two and "[notes](../pages/notes.ipynb)" in two
    glossary = markdown_of(nbformat.read(dst / "pages" / "glossary.ipynb", as_version=4))
    assert glossary.index("**memory-bound · 访存受限**") < glossary.index("**roofline · 屋顶线**")
    assert "[Chapter 1](../chapters/01_one.ipynb)" in glossary
    notes = markdown_of(nbformat.read(dst / "pages" / "notes.ipynb", as_version=4))
    assert "[glossary](glossary.ipynb)" in notes and "[NVIDIA, 2023]" in notes
    assert notes.count("- \\[") == 3                                  # :all: lists every entry


@pytest.mark.parametrize("source,match", [
    ("{numref}`fig-x`", r"cell 1 \(id .*\): the MyST role \{numref\}`fig-x` is not known"),
    ("```{figure} x.png\n```", r"the MyST directive \{figure\} is not known"),
    ("{glue:text}`nope:.1f`", r"the notebook glues no 'nope'"),
    ("{cite}`nobody2020`", r"'nobody2020' is not in references.bib"),
    ("{eq}`eq-none`", r"no equation has this label"),
    ("{ref}`sec-none`", r"no section or exercise has the label 'sec-none'"),
    ("{term}`latency`", r"'latency' is not a term of pages/glossary.md"),
])
def test_unknown_myst_is_an_error_naming_the_cell(tmp_path, source, match):
    book = mini_book(tmp_path / "book")
    nb = nbformat.read(book / "chapters" / "02_two.ipynb", as_version=4)
    nb.cells.append(md(source))
    nbformat.write(nb, book / "chapters" / "02_two.ipynb")
    with pytest.raises(ValueError, match=r"chapters/02_two.ipynb.*" + match):
        re_.write(book, tmp_path / "reader")


def test_refuses_to_write_over_the_sources(tmp_path):
    book = mini_book(tmp_path / "book")
    for dst in (book, book / "chapters", book / "pages" / "x"):
        with pytest.raises(ValueError, match="must not hold the book's sources"):
            re_.write(book, dst)


def test_a_readers_edits_are_kept_and_the_rest_updated(tmp_path, capsys):
    book = mini_book(tmp_path / "book")
    dst = tmp_path / "reader"
    re_.write(book, dst)
    mine = dst / "chapters" / "01_one.ipynb"
    mine.write_text(mine.read_text().replace("The first chapter", "My notes"))
    nb = nbformat.read(book / "chapters" / "02_two.ipynb", as_version=4)
    nb.cells[0].source += "\n\nA new sentence."
    nbformat.write(nb, book / "chapters" / "02_two.ipynb")
    written, kept = re_.write(book, dst)
    assert kept == [mine] and "My notes" in mine.read_text()
    assert "A new sentence." in (dst / "chapters" / "02_two.ipynb").read_text()
    assert dst / "chapters" / "02_two.ipynb" in written
    re_.report(dst, written, kept, "reader edition")
    assert f"kept {mine}" in capsys.readouterr().out
    mine.unlink()
    assert re_.write(book, dst)[1] == []                         # deleted: written anew
    assert "My notes" not in mine.read_text()


def test_command_line(tmp_path, capsys):
    book = mini_book(tmp_path / "book")
    assert re_.main([str(book), str(tmp_path / "out")]) == 0
    assert "4 notebook(s) written" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        re_.main([str(tmp_path), str(tmp_path / "out2")])   # no _toc.yml there


# -- the real book ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    dst = tmp_path_factory.mktemp("reader")
    assert re_.write(ROOT, dst)[1] == []
    return dst


DOCS = re_.documents(ROOT)


@pytest.mark.parametrize("path", DOCS, ids=[p.stem for p in DOCS])
def test_the_book_has_no_raw_myst_left(real, path):
    """Every chapter and page converts (an unknown role is an error), and no role,
    directive, target or label is left in the text a reader sees."""
    rel = path.relative_to(ROOT).with_suffix(".ipynb")
    nb = nbformat.read(real / rel, as_version=4)
    text = markdown_of(nb)
    prose = re.sub(r"(`+)(?:(?!\1).)+\1", "", re.sub(r"```.*?```", "", text, flags=re.S))
    found = RAW_MYST.findall(prose)
    assert not found, f"{rel}: raw MyST left: {found[:5]}"
    if path.suffix == ".ipynb":
        source = nbformat.read(path, as_version=4)
        n = sum(c.source.count("{exercise}") for c in source.cells if c.cell_type == "markdown")
        assert len(re.findall(r"^> \*\*Exercise \d+\.\d+\*\*", text, flags=re.M)) == n
        assert text.count("**Solution to Exercise") == sum(
            c.source.count("{solution-start}") for c in source.cells)
