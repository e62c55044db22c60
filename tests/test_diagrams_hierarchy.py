"""lib.diagrams.hierarchy: the memory hierarchy drawn from the catalog's figures."""

from __future__ import annotations

import pytest

from lib import hardware, memory
from lib import diagrams
from lib.diagrams import overlapping_texts
from lib.diagrams import hierarchy



def _texts(fig):
    return [t.get_text() for t in diagrams.texts(fig)]


@pytest.mark.parametrize("name", ["h100-pcie", "h100-sxm", "a100-sxm-80gb", "h200"])
def test_every_catalog_figure_is_drawn_and_nothing_else(name):
    device = hardware.get(name)
    texts = _texts(hierarchy.hierarchy_figure(name))
    for key in (*hierarchy.ON_CHIP, *hierarchy.LINKS):
        lv = memory.level(device, key)
        cap, bw, lat = hierarchy.level_lines(lv, device.sm_count)
        assert bw in texts and lat in texts
        if lv.capacity is not None:
            assert cap in texts
    unknown = sum(lv.bandwidth is None for lv in device.levels) + sum(
        lv.latency is None for lv in device.levels)
    assert texts.count(hierarchy.UNKNOWN) == unknown   # a dash for a missing figure, no guess


def test_known_figures_of_the_h100_pcie():
    # the catalog's sources: 114 SMs x 256 KiB; L2 6.9 TB/s measured (Ernst's gpu-benches);
    # HBM2e 2 TB/s (datasheet), 658.4 cycles at 1755 MHz
    d = hardware.get("h100-pcie")
    assert hierarchy.level_lines(memory.level(d, "registers"), 114)[0] == "256 KiB/SM, 29.9 MB"
    assert hierarchy.level_lines(memory.level(d, "l2")) == ("50 MB", "6.9 TB/s (measured)",
                                                            "151 ns (measured)")
    assert hierarchy.level_lines(memory.level(d, "main memory")) == (
        "80 GB", "2 TB/s (datasheet)", f"{658.4 / 1.755:.0f} ns (measured)")
    assert "inside\none SM\n(× 114)" in _texts(hierarchy.hierarchy_figure(d))


@pytest.mark.parametrize("name", ["h100-pcie", "h100-sxm"])
def test_no_text_overlaps(name):
    assert overlapping_texts(hierarchy.hierarchy_figure(name)) == []


def test_a_device_without_a_hierarchy_is_refused():
    with pytest.raises(ValueError, match="device='l4' has no memory hierarchy"):
        hierarchy.hierarchy_figure("l4")
