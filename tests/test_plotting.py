"""lib.plotting: helpers return a Figure, leave no pyplot figure open and touch no rcParams."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from lib import hardware, kernels, plotting


@pytest.fixture
def no_new_pyplot_figures():
    before = set(plt.get_fignums())
    rc = dict(matplotlib.rcParams)
    yield
    assert set(plt.get_fignums()) == before, "a plot helper left a pyplot figure open"
    assert dict(matplotlib.rcParams) == rc, "a plot helper changed rcParams"


def test_roofline_plot_returns_a_figure(no_new_pyplot_figures):
    h100 = plotting.roof(hardware.get("h100-sxm"), "bf16")
    fig = plotting.roofline_plot([h100], [kernels.dot(4096, "bf16"), kernels.gemv(4096, 4096)])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "arithmetic intensity (FLOP/byte)"
    assert len(ax.texts) == 2  # one annotation per kernel


def test_kernel_legend_and_roofs(no_new_pyplot_figures):
    dev = hardware.get("h100-sxm")
    roofs = [plotting.roof(dev, "bf16"), plotting.roof(dev, "int8")]
    ks = [kernels.gemm(16, 4096, 4096, "bf16"), kernels.gemm(16, 4096, 4096, "int8")]
    fig = plotting.roofline_plot(roofs, ks, kernel_labels="legend", kernel_roofs=[0, 1],
                                 title="two roofs")
    ax = fig.axes[0]
    assert ax.get_title() == "two roofs"
    legends = [a for a in ax.get_children() if isinstance(a, matplotlib.legend.Legend)]
    assert len(legends) == 2
    labels = {t.get_text() for lg in legends for t in lg.get_texts()}
    assert any(lab.startswith("GEMM: ") for lab in labels)
    assert any("ridge 591 FLOP/B" in lab for lab in labels)
    # the int8 GEMM sits on the int8 roof: y = bandwidth x its intensity (memory-bound)
    ys = [line.get_ydata()[0] for line in ax.lines if line.get_marker() not in ("None", "")]
    assert ys[1] == pytest.approx(dev.memory_bandwidth * ks[1].intensity)


def test_roofline_plot_into_given_axes(no_new_pyplot_figures):
    fig, ax = plotting.new_figure()
    out = plotting.roofline_plot([plotting.roof(hardware.get("l4"))], ax=ax)
    assert out is fig


@pytest.mark.parametrize("kwargs,match", [
    ({"kernel_labels": "labels"}, r"kernel_labels='labels' is not known"),
    ({"kernel_roofs": [0, 0]}, r"kernel_roofs has 2 entries for 1 kernels"),
    ({"kernel_roofs": [3]}, r"kernel_roofs entry 3 must index roofs \(0 to 0\)"),
])
def test_roofline_plot_rejects_bad_options(kwargs, match, no_new_pyplot_figures):
    r = plotting.roof(hardware.get("h100-sxm"))
    with pytest.raises(ValueError, match=match):
        plotting.roofline_plot([r], [kernels.dot(16)], **kwargs)


def test_no_roofs_is_an_error():
    with pytest.raises(ValueError, match=r"roofs=\[\] must hold at least one Roof"):
        plotting.roofline_plot([])


def test_roof_of_a_device_without_a_peak_is_an_error():
    with pytest.raises(ValueError, match=r"Apple publishes no bf16 peak for m2-ultra"):
        plotting.roof(hardware.get("m2-ultra"))


def test_roof_and_roof_xy():
    r = plotting.roof(hardware.get("a100-sxm-80gb"), "bf16")
    assert r.label == "A100 SXM4 80GB, bf16"
    assert round(r.ridge) == 153
    x, y = plotting.roof_xy(r.peak_flops, r.memory_bandwidth, (0.1, 1e4))
    assert x.tolist() == pytest.approx([0.1, r.ridge, 1e4])
    assert y.tolist() == pytest.approx([0.1 * r.memory_bandwidth, r.peak_flops, r.peak_flops])
    # a ridge outside the range is clamped to it
    x, _ = plotting.roof_xy(1e15, 1e12, (1e4, 1e5))
    assert x[1] == 1e4


def test_new_figure_is_closed_in_pyplot(no_new_pyplot_figures):
    fig, ax = plotting.new_figure(5, 3)
    assert tuple(fig.get_size_inches()) == (5, 3)
    assert ax.figure is fig


def test_palette_and_markers():
    assert len(set(plotting.COLORS)) == len(plotting.COLORS) >= 7
    assert len(set(plotting.MARKERS)) == len(plotting.MARKERS)
    assert all(isinstance(c, str) and c.startswith("#") for c in plotting.COLORS)
    assert np.isfinite(plotting.roof(hardware.get("b200")).ridge)
