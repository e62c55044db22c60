"""scripts/student_edition.py: solutions out, exercises in, masters untouched."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

from test_reader_edition import mini_book

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
_spec = importlib.util.spec_from_file_location("student_edition",
                                               ROOT / "scripts" / "student_edition.py")
se = sys.modules.setdefault("student_edition", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(se)

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
MARKERS = ("{solution-start}", "{solution-end}", "{solution}")


def _out(text: str):
    return nbformat.v4.new_output("execute_result", {"text/plain": text}, execution_count=1)


def master() -> nbformat.NotebookNode:
    """A chapter in miniature, with every way the book writes a solution."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        md("# A chapter\n\nThe narrative."),
        code("x = 2 + 2", outputs=[_out("4")], execution_count=1),
        # 1. exercise and solution-start in one cell, solution-end shares a cell with text
        md("## Exercises\n\n```{exercise}\n:label: ex-one\n\nWhat is the ridge point?\n```\n\n"
           "```{solution-start} ex-one\n:class: dropdown\n```"),
        code("exercises.check('ch03.ridge-h100', 295)", outputs=[_out("SECRET-OUTPUT-1")],
             execution_count=2),
        md("The SECRET explanation of the answer."),
        md("```{solution-end}\n```\n\n## After the first exercise"),
        # 2. every directive in a cell of its own, colon fences
        md(":::{exercise}\n:label: ex-two\n\nEstimate by hand.\n:::"),
        md(":::{solution-start} ex-two\n:class: dropdown\n:::"),
        code("answer = 3 * 7\nanswer", outputs=[_out("SECRET-OUTPUT-2")], execution_count=3),
        md(":::{solution-end}\n:::"),
        # 3. a markdown-only solution, nested code fence inside a longer fence
        md("```{exercise}\n:label: ex-three\n\nExplain.\n```\n\n"
           "````{solution} ex-three\n:class: dropdown\n\nSECRET prose with code:\n\n```python\n"
           "exercises.check(\"ch01.some-id\", 1)\n```\n````\n\nText after it stays."),
        md("## Summary\n\nThe end."),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def everything(nb) -> str:
    return "\n".join(c.source + "".join(str(o) for o in c.get("outputs", [])) for c in nb.cells)


def test_solutions_are_replaced_by_answer_cells():
    nb = master()
    before = nbformat.writes(nb)
    student, removed = se.strip_solutions(nb)
    assert removed == 3
    assert nbformat.writes(nb) == before, "the master notebook object was changed"
    text = everything(student)
    assert not any(m in text for m in MARKERS)
    assert "SECRET" not in text                      # solution code, prose and outputs gone
    for kept in ("# A chapter", "x = 2 + 2", "## After the first exercise", "Estimate by hand.",
                 "What is the ridge point?", "Explain.", "Text after it stays.", "## Summary"):
        assert kept in text, kept
    assert text.count("{exercise}") == 3
    answers = [i for i, c in enumerate(student.cells) if c.source.startswith("Your answer here")]
    assert len(answers) == 3
    for i in answers:
        cell, after = student.cells[i], student.cells[i + 1]
        assert cell.cell_type == "markdown" and "lib.exercises.check(" in cell.source
        assert after.cell_type == "code" and after.source == "" and after.outputs == []
    # The placeholder names the check the removed solution used.
    assert '"ch03.ridge-h100"' in student.cells[answers[0]].source
    assert '"ch01.some-id"' in student.cells[answers[2]].source
    assert "check(...)" in student.cells[answers[1]].source
    # Outputs of kept cells stay; the result is a valid notebook with unique cell ids.
    assert student.cells[1].outputs[0]["data"]["text/plain"] == "4"
    nbformat.validate(student)
    ids = [c["id"] for c in student.cells]
    assert len(ids) == len(set(ids))


def test_student_edition_is_deterministic():
    nb = master()
    assert nbformat.writes(se.strip_solutions(nb)[0]) == nbformat.writes(se.strip_solutions(nb)[0])


def test_unterminated_solution_is_an_error():
    nb = master()
    nb.cells = [c for c in nb.cells if "{solution-end}" not in c.source]
    with pytest.raises(ValueError, match="solution-end"):
        se.strip_solutions(nb)
    nb = master()
    nb.cells.insert(1, md("```{solution-end}\n```"))
    with pytest.raises(ValueError, match="without a"):
        se.strip_solutions(nb)


def test_command_line_writes_the_reader_edition_without_solutions(tmp_path, capsys):
    book, dst = mini_book(tmp_path / "book"), tmp_path / "student"
    nb = nbformat.read(book / "chapters" / "01_one.ipynb", as_version=4)
    nb.cells[-2].source = "SECRET_CODE = 1\nexercises.check('ch01.x', 7)"
    nbformat.write(nb, book / "chapters" / "01_one.ipynb")
    before = {p: p.read_bytes() for p in book.rglob("*") if p.is_file()}
    assert se.main([str(book), str(dst)]) == 0
    assert {p: p.read_bytes() for p in book.rglob("*") if p.is_file()} == before
    student = nbformat.read(dst / "chapters" / "01_one.ipynb", as_version=4)
    text = everything(student)
    assert "SECRET" not in text and "Solution to" not in text
    # It reads as the reader edition: numbers, exercise titles, the pages beside it.
    assert "> **Exercise 1.1** (By hand)" in text and "Compute 7.0." in text
    assert "moves 3.35 TB/s" in text
    assert (dst / "pages" / "glossary.ipynb").is_file()
    answers = [c for c in student.cells if c.source.startswith("Your answer here")]
    assert len(answers) == 1 and '`lib.exercises.check("ch01.x", your_answer)`' in answers[0].source
    out = capsys.readouterr().out
    assert "chapters/01_one.ipynb: 1 solution(s) removed" in out and "1 solutions removed" in out


@pytest.mark.parametrize("dst", [".", "chapters", "chapters/inner"])
def test_refuses_to_write_into_the_sources(tmp_path, dst):
    book = mini_book(tmp_path / "book")
    with pytest.raises(SystemExit):
        se.main([str(book), str(book / dst)])


def _names(source: str, ctx) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics
        return set()
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}
    if ctx is ast.Store:
        names |= {n.name for n in ast.walk(tree)
                  if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        names |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
        names |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                  if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    return names


CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_real_chapters_convert(path):
    """Every chapter converts; no solution is left; every exercise is kept; and the kept
    code does not use a name that only a removed solution defined (the student notebook
    still runs from top to bottom)."""
    nb = nbformat.read(path, as_version=4)
    student, removed = se.strip_solutions(nb)
    text = everything(student)
    assert not any(m in text for m in MARKERS)
    assert removed == everything(nb).count("{solution-start}") + everything(nb).count("{solution}")
    assert text.count("{exercise}") == everything(nb).count("{exercise}")
    kept_code = [c.source for c in student.cells if c.cell_type == "code"]
    kept_ids = {c.get("id") for c in student.cells}
    removed_code = [c.source for c in nb.cells
                    if c.cell_type == "code" and c.get("id") not in kept_ids]
    defined_kept = set().union(*(_names(s, ast.Store) for s in kept_code))
    defined_removed = set().union(*(_names(s, ast.Store) for s in removed_code)) - defined_kept
    used_kept = set().union(*(_names(s, ast.Load) for s in kept_code))
    assert not (defined_removed & used_kept), (
        f"{path.name}: kept cells use {sorted(defined_removed & used_kept)}, defined only "
        "in solutions; define them outside the solution")


@pytest.fixture(scope="module")
def student_edition(tmp_path_factory):
    dst = tmp_path_factory.mktemp("student")
    assert se.main([str(ROOT), str(dst)]) == 0
    return dst


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_student_notebook_runs_top_to_bottom(student_edition, path):
    """What a student is handed runs, from the first cell to the last, in a fresh kernel;
    every answer placeholder names the check its exercise uses."""
    from nbclient import NotebookClient

    target = student_edition / "chapters" / path.name
    nb = nbformat.read(target, as_version=4)
    master = nbformat.read(path, as_version=4)
    student_text = "".join(c.source for c in nb.cells)
    lost = {i for i in se.CHECK_CALL.findall(everything(master)) if f'"{i}"' not in student_text}
    assert not lost, f"check ids no longer named in the student edition: {sorted(lost)}"
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(target.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
