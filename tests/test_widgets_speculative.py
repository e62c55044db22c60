"""Chapter 12's explorer and figures (lib.widgets.speculative)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib import speculative as sp
from lib import widgets
from lib.widgets import speculative as sw


def test_explorer_is_registered_and_its_frames_are_few():
    e = widgets.get("speculative")
    offered = {c.name: [c.labels[i] for i in c.static_indices] for c in e.controls}
    assert offered["context"] == ["1,024"]
    assert math.prod(len(v) for v in offered.values() if v) == 80  # frame bytes: test_widgets


def test_explorer_draws_what_lib_computes():
    e = widgets.get("speculative")
    e.set(alpha=0.8, draft=1, batch=1, context=1024)
    s = sp.speculate(sw.TARGET, sw.DEVICE, 0.8, sw.GAMMAS, draft_cost=0.05)
    assert e.model_line.get_ydata() == pytest.approx(s.speedup)
    best = int(np.argmax(s.speedup)) + 1
    assert e.best.get_xdata()[0] == best and f"best γ = {best}" in e.info.get_text()
    # at batch 1 the verification is one step (plus < 1%): the paper's curve and the model's
    # coincide
    assert e.paper_line.get_ydata() == pytest.approx(e.model_line.get_ydata(), rel=0.01)
    heights = [v.get_height() + d.get_height() for v, d in zip(e.verify_bars, e.draft_bars)]
    assert heights == pytest.approx(1 / np.asarray(s.speedup))


def test_at_a_large_batch_it_stops_paying():
    e = widgets.get("speculative")
    e.set(alpha=0.6, draft=2, batch=256)
    assert "does not pay" in e.info.get_text()
    assert max(e.model_line.get_ydata()) < 1
    assert e.render_png().startswith(b"\x89PNG")


def test_draft_model_option_uses_the_catalog_draft():
    e = widgets.get("speculative")
    e.set(draft=3, alpha=0.8, batch=1)
    s = sp.speculate(sw.TARGET, sw.DEVICE, 0.8, sw.GAMMAS, draft_model=sw.DRAFT_MODEL)
    assert e.model_line.get_ydata() == pytest.approx(s.speedup)


def test_figures_draw():
    fig = sw.batch_figure("llama-3-8b", "h100-sxm", 0.8, 4, batches=(1, 64),
                          contexts=(128,), draft_cost=0.05)
    s = sp.speculate("llama-3-8b", "h100-sxm", 0.8, 4, draft_cost=0.05, batch=[1, 64],
                     context=128)
    assert fig.axes[0].lines[0].get_ydata() == pytest.approx(s.speedup)
    fig = sw.tree_figure([-1, -1, 0], [0.6, 0.2, 0.5], labels=["a", "b", "c"])
    assert fig.axes
