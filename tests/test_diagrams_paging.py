"""lib.diagrams.paging: a paged KV cache's block tables, with counts from lib.paging."""

from __future__ import annotations

import pytest

from lib.diagrams import overlapping_texts, texts
from lib.diagrams.paging import block_table_figure


@pytest.mark.parametrize("prompt,generated,block,shared,copies,used,without", [
    (40, (10, 22), 16, 2, 1, 6, 8),      # 40 = 2 full blocks + 8: the partial block is copied
    (32, (5, 20), 16, 2, 0, 5, 7),       # a prompt of whole blocks: nothing to copy
    (20, (3, 30), 8, 2, 1, 8, 10),       # 2 shared + 1 + 5 private blocks
])
def test_counts_by_hand_and_nothing_overlaps(prompt, generated, block, shared, copies, used,
                                             without):
    fig = block_table_figure(prompt, generated, block)
    text = " ".join(t.get_text() for t in texts(fig))
    assert (f"{shared} shared blocks (reference count 2), {copies} copied on write: "
            f"{used} physical blocks instead of {without} without sharing") in text
    assert sum("ref 2" in t.get_text() for t in texts(fig)) == shared
    assert ("copied on write" in text.replace("copied on write:", "")) == bool(copies)
    assert overlapping_texts(fig) == []


def test_too_many_blocks_is_an_error():
    with pytest.raises(ValueError, match=r"need 12 blocks; the diagram draws 10"):
        block_table_figure(40, (60, 60), 16)
    with pytest.raises(ValueError, match=r"two samples"):
        block_table_figure(40, (1, 2, 3), 16)
