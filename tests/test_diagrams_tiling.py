"""lib.diagrams.tiling: a tiled matrix product, its panels and its counts from lib.kernels."""

from __future__ import annotations

import pytest

from lib import kernels
from lib import diagrams
from lib.diagrams import overlapping_texts
from lib.diagrams import tiling



def _texts(fig):
    return [t.get_text() for t in diagrams.texts(fig)]


def test_counts_come_from_lib():
    fig = tiling.tiled_matmul_figure(1024, 1024, 1024, 128, 256, 64)
    text = "\n".join(_texts(fig))
    assert "8 × 4 = 32 output tiles" in text               # ceil(1024/128) x ceil(1024/256)
    assert "(16 steps)" in text                            # 1024 / 64 slices of K
    assert "176 KiB" in text                               # 128x256 FP32 + (128+256)x64 BF16
    assert kernels.gemm_tile_footprint(128, 256, 64) == 128 * 256 * 4 + (128 + 256) * 64 * 2
    # no reuse between tiles: A read N/256 times, B M/128 times, C written once
    by_hand = 2 * 1024**3 / (2 * (1024**2 * 4 + 1024**2 * 8 + 1024**2))
    assert f"{by_hand:.3g} FLOP/B" in text


def test_drawn_to_scale():
    fig = tiling.tiled_matmul_figure(512, 2048, 1024, 128, 128, 64)
    ax = fig.axes[0]
    rects = [p for p in ax.patches if type(p).__name__ == "Rectangle"]
    act, weights, out = rects[:3]
    assert act.get_width() / act.get_height() == pytest.approx(1024 / 512)
    assert weights.get_width() / weights.get_height() == pytest.approx(2048 / 1024)
    assert out.get_width() / out.get_height() == pytest.approx(2048 / 512)
    tile = rects[3]
    assert tile.get_width() / out.get_width() == pytest.approx(128 / 2048)


@pytest.mark.parametrize("shape", [(1024, 1024, 1024, 128, 256, 64), (512, 2048, 1024, 128, 128, 64)])
def test_no_text_overlaps(shape):
    assert overlapping_texts(tiling.tiled_matmul_figure(*shape)) == []


def test_the_tile_must_exist():
    with pytest.raises(ValueError, match=r"tile=\(9, 0\) must index the 8 x 4 output tiles"):
        tiling.tiled_matmul_figure(tile=(9, 0))
