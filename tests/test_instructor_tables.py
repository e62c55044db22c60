"""The instructor guide's tables are what scripts/instructor_tables.py generates from the
chapters now: no stale exercise id, no figure that moved, no guessed reading time."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
_spec = importlib.util.spec_from_file_location("instructor_tables",
                                               ROOT / "scripts" / "instructor_tables.py")
it = sys.modules.setdefault("instructor_tables", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(it)

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def test_the_guide_holds_the_current_tables():
    page = it.PAGE.read_text(encoding="utf-8")
    assert it.rewrite(page) == page, (
        "pages/instructors.md is out of date: run python scripts/instructor_tables.py --write")


def test_every_exercise_and_check_of_every_chapter_is_listed():
    from lib import exercises

    listed = it.exercises_table()
    for path in it.CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        text = "".join(c.source for c in nb.cells)
        for label in re.findall(r":label: (ch\d\d-ex-[\w-]+)", text):
            assert f"`{label}`" in listed
    ids = {i for path in it.CHAPTERS for *_, found in it.exercises(path) for i in found}
    assert ids <= set(exercises.ids())              # every listed check is registered
    assert set(exercises.ids()) <= ids, "a registered check no chapter uses"


def test_reading_time_counts_what_a_student_reads(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        md("# Title\n\n" + "word " * 298),                          # 300 words
        code("x = 1\n# a comment\n\ny = 2"),                        # 2 lines
        code("glue('x', 1)", metadata={"tags": ["remove-cell"]}),  # hidden: not read
        code("fig", outputs=[nbformat.v4.new_output(
            "display_data", {"image/png": "", "text/plain": "<Figure>"})]),
        code("widgets.get('memory').live()"),                      # an explorer
        md("```{exercise}\n:label: ex\n\nDo it.\n```\n\n```{solution-start} ex\n```"),
        code("SECRET = 1\n" * 50),                                  # a solution: not read
        md("```{solution-end}\n```"),
    ]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    r = it.measure(path)
    assert (r.words, r.figures, r.explorers) == (301, 1, 1)     # "Title", 298, "Do it."
    assert r.code_lines == 2 + 1 + 1                             # x, y; fig; the explorer
    assert r.minutes == 10            # 2.0 + 0.4 + 0.5 + 3 = 5.9 -> 10


@pytest.mark.parametrize("source,expected", [
    ("figures.fusion_figure(a100, n)", "figures.fusion_figure"),
    ("x = 1\nplotting.roofline_plot(\n    roofs,\n    title='t')", "plotting.roofline_plot"),
    ("fig, ax = plotting.new_figure()\nax.plot([1], [2])\nfig", None),
    ("print('no figure')", None),
])
def test_drawing_call(source, expected):
    assert it.drawing_call(source) == expected


NUMBER = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
#: A number with what it measures: a percentage, or a ratio written ×, x or "times" (not a
#: dimension such as "640 × 640").
RATIO = re.compile(r"(?<![\w.,])((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"
                   r"(%|(?:\s?[×x]|\s+times)(?!\w|\s?\d))")


def _ratios(text: str) -> set[tuple[str, str]]:
    return {(v, "%" if u == "%" else "×") for v, u in RATIO.findall(text)}


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    import reader_edition

    dst = tmp_path_factory.mktemp("reader")
    reader_edition.write(ROOT, dst)
    return dst


def test_every_number_in_the_misconceptions_is_one_its_chapter_prints(reader):
    """The notes quote the chapters' numbers; each must still be a number the chapter prints
    (its text with the glued values filled in, or a cell's output), so a re-run that moves a
    number cannot leave the guide quoting the old one. Numbers are compared whole ("24" is not
    found inside "241"), and a percentage or a ratio must be one the chapter prints as a
    percentage or a ratio ("24%" is not found in "24 GB")."""
    page = it.PAGE.read_text(encoding="utf-8")
    section = page[page.index("## Misconceptions students bring"):page.index("## Assignments")]
    parts = re.split(r"^### Chapter (\d+) ", section, flags=re.M)
    assert len(parts) == 2 * len(it.CHAPTERS) + 1
    for n, body in zip(parts[1::2], parts[2::2]):
        path = next((reader / "chapters").glob(f"{int(n):02d}_*.ipynb"))
        nb = nbformat.read(path, as_version=4)
        printed = " ".join(c.source for c in nb.cells) + " ".join(
            str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
            + str(o.get("data", {}).get("text/html", ""))
            for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        prose = re.sub(r"`[^`]*`", "", body)
        missing = sorted(set(NUMBER.findall(prose)) - set(NUMBER.findall(printed)))
        assert not missing, (f"Chapter {n}: the guide quotes {missing}, which the chapter no "
                             "longer prints")
        # "100%" is a bound the notes state ("above 100%"), not a measured share
        unmatched = sorted(_ratios(prose) - _ratios(printed) - {("100", "%")})
        assert not unmatched, (f"Chapter {n}: the guide quotes {unmatched}, which the chapter "
                               "does not print as a percentage or a ratio")
