"""Each "Introduced in chapters/NN_name.ipynb" in lib's docstrings names the first chapter
whose code uses the function, class or module, so a reader who looks a function up finds
the chapter that teaches it (and a chapter moved in a new edition cannot leave it stale)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
INTRODUCED = re.compile(r"Introduced in (chapters/\d\d_\w+\.ipynb)")
CODE = {f"chapters/{p.name}": "\n".join(c.source for c in nbformat.read(p, as_version=4).cells
                                        if c.cell_type == "code") for p in CHAPTERS}


def first_use(patterns: list[str]) -> str | None:
    return next((name for name, code in CODE.items()
                 if any(re.search(p, code) for p in patterns)), None)


def documented():
    """(file, what, the chapter named, the patterns that find a use of it in code)."""
    for path in sorted((ROOT / "lib").rglob("*.py")):
        rel = path.relative_to(ROOT)
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        if module == "lib":
            continue
        short, parent = module.rsplit(".", 1)[1], module.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        m = INTRODUCED.search(ast.get_docstring(tree) or "")
        if m:
            yield (str(rel), module, m.group(1),
                   [rf"from {re.escape(parent)} import[^\n]*\b{short}\b",
                    rf"import {re.escape(module)}\b", rf"from {re.escape(module)} import"])
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name.startswith("_"):
                continue
            m = INTRODUCED.search(ast.get_docstring(node) or "")
            if m:
                dotted = module.removeprefix("lib.")
                yield (str(rel), f"{module}.{node.name}", m.group(1),
                       [rf"\b{re.escape(dotted)}\.{node.name}\b",
                        rf"\b{short}\.{node.name}\b",
                        rf"from {re.escape(module)} import[^\n]*\b{node.name}\b"])


CASES = list(documented())


def test_there_is_something_to_check():
    assert len(CASES) > 50


@pytest.mark.parametrize("rel,what,named,patterns", CASES, ids=[c[1] for c in CASES])
def test_introduced_in_names_the_first_chapter_that_uses_it(rel, what, named, patterns):
    assert (ROOT / named).is_file(), f"{rel}: {what} names {named}, which does not exist"
    first = first_use(patterns)
    if first is not None:      # used only inside lib (or by the explorers): nothing to compare
        assert first == named, f"{rel}: {what} says 'Introduced in {named}', first used in {first}"
