"""lib.tables: the one table, as text and as HTML."""

from __future__ import annotations

import pytest

from lib.tables import Table


def test_text_and_html():
    t = Table(("op", "time"), (("QKV", "1 ms"), ("total", "10 ms")), totals=1, title="decode",
              footer=("floor 9 ms",))
    lines = str(t).splitlines()
    assert lines == ["decode", "op      time", "-----  -----", "QKV     1 ms",
                     "-----  -----", "total  10 ms", "floor 9 ms"]
    html = t._repr_html_()
    assert html.count("<tr>") == 3 and "<caption>decode</caption>" in html
    assert "&lt;" in Table(("a",), (("<b>",),))._repr_html_()


def test_bad_rows_and_alignment():
    with pytest.raises(ValueError, match="has 1 cells for 2 columns"):
        Table(("a", "b"), (("x",),))
    with pytest.raises(ValueError, match="align="):
        Table(("a", "b"), (("x", "y"),), align=("<", "^"))
