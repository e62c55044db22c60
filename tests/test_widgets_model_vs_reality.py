"""Chapter 8's figures (lib.widgets.model_vs_reality): they draw what lib.runs computes."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PathCollection, PolyCollection

from lib import runs
from lib.plotting import new_figure
from lib.widgets import model_vs_reality as mvr

PREDICTIONS = runs.compare()
COUNTED = [p for p in PREDICTIONS if p.counted]
NIM = [f"nim180-l33-70b-fp8-h100-tp2-5000-500-c{c}-itl" for c in (1, 5, 25, 50)]


def _points(ax):
    """Every scattered point of an axes, as (x, y) rows."""
    offsets = [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]
    return np.concatenate(offsets) if offsets else np.empty((0, 2))


def test_every_counted_run_is_one_point_per_panel_and_the_rejected_row_a_cross():
    fig = mvr.predicted_vs_measured(PREDICTIONS)
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == ["floor", "per-op time",
                                                       "calibrated estimate"]
    rejected = [p for p in PREDICTIONS if p.run.rejected]
    for ax, time in zip(fig.axes[:3], runs.TIMES):
        xy = _points(ax)
        assert len(xy) == len(COUNTED) + len(rejected)
        expected = sorted((p.measured_s, getattr(p, time)) for p in COUNTED + rejected)
        assert np.allclose(sorted(map(tuple, xy)), expected)
    # the lower row: the same runs as predicted / measured
    est = _points(fig.axes[5])
    assert np.allclose(sorted(est[:, 1]), sorted(p.estimate_s / p.measured_s
                                                  for p in COUNTED + rejected))


def test_the_band_is_the_tolerance_around_the_diagonal():
    fig, ax = new_figure()
    mvr.draw_predictions(ax, PREDICTIONS[:5], "estimate_s", tolerance=0.35, stats=False)
    band = [c for c in ax.collections if isinstance(c, PolyCollection)][0]
    verts = band.get_paths()[0].vertices
    assert set(np.round(verts[:, 1] / verts[:, 0], 9)) == {0.65, 1.35}
    diagonal = ax.lines[0].get_xydata()
    assert np.allclose(diagonal[:, 0], diagonal[:, 1])


def test_panel_text_states_each_splits_median_error():
    fig = mvr.predicted_vs_measured(PREDICTIONS, times=("estimate_s",))
    text = fig.axes[0].texts[0].get_text()
    for split in runs.SPLITS:
        s = runs.error_stats([p for p in PREDICTIONS if p.run.split == split])
        assert f"{split}: {s.median_abs:.0%} median |error|" in text


def test_your_run_is_a_star_in_every_panel():
    mine = runs.compare([runs.measurement("llama-2-7b", "a100-sxm-80gb", "decode", 1, 5, 200,
                                          "tokens_per_s_per_seq", 104.9)])[0]
    fig = mvr.predicted_vs_measured(PREDICTIONS, mine=mine)
    for ax, time in zip(fig.axes[:3], runs.TIMES):
        stars = [c for c in ax.collections if isinstance(c, PathCollection)][-1]
        assert np.allclose(stars.get_offsets(), [[mine.measured_s, getattr(mine, time)]])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "yours" in labels and "rejected (below the floor)" in labels


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"times=\(\) must name at least one"):
        mvr.predicted_vs_measured(PREDICTIONS, times=())
    with pytest.raises(ValueError, match="time='eta' is not known"):
        mvr.predicted_vs_measured(PREDICTIONS, times=("eta",))
    with pytest.raises(ValueError, match=r"sweeps=\[\] must hold at least one sweep"):
        mvr.sweep_figure([])


def test_a_sweep_draws_the_measurements_and_the_models_times_by_batch():
    fig, ax = new_figure()
    out = mvr.draw_sweep(ax, {"NIM": NIM}, interleaved=True)
    preds = runs.compare(NIM)
    assert out["batch"].tolist() == [1, 5, 25, 50]
    measured = ax.lines[0].get_xydata()
    assert np.allclose(measured, [[p.run.batch, p.measured_s] for p in preds])
    for time in runs.TIMES:
        assert np.allclose(out[time], [getattr(p, time) for p in preds])
    assert np.allclose(out["interleaved"] - out["estimate_s"],
                       [runs.interleaved_prefill_s(k) for k in NIM])
    assert len(ax.lines) == 1 + 3 + 1


def test_a_sweep_with_two_sources_draws_the_model_once_per_batch():
    blog = [f"rocmblog-mi300x-tp8-llama31-70b-fp8-bs{b}-128-2048" for b in (1, 2, 4, 8)]
    amd = [f"amdperf-vllm085-mi300x-tp8-llama31-70b-fp8-bs{b}-128-2048" for b in (1, 2, 4)]
    fig = mvr.sweep_figure([{"blog": blog, "AMD": amd}], titles=["MI300X"])
    ax = fig.axes[0]
    assert ax.get_title() == "MI300X"
    assert [len(line.get_xdata()) for line in ax.lines] == [4, 3, 4, 4, 4]
