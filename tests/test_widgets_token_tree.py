"""Chapter 12's token-tree explorer (lib.widgets.token_tree)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib import speculative as sp
from lib import widgets
from lib.widgets import token_tree as tw


def test_explorer_is_registered_and_its_frames_are_few():
    e = widgets.get("token_tree")
    offered = {c.name: [c.labels[i] for i in c.static_indices] for c in e.controls}
    assert offered["size"] == ["1", "4", "16", "38"]
    assert math.prod(len(v) for v in offered.values() if v) == 64  # frame bytes: test_widgets


def test_explorer_draws_what_lib_computes():
    e = widgets.get("token_tree")
    e.set(size=16, batch=16, context=1024, device="h100-sxm")
    parents, probs = sp.medusa_tree_7b()
    t = sp.tree_sizes(tw.MODEL, "h100-sxm", parents, probs, sp.medusa_heads_bytes(tw.MODEL),
                      batch=16, context=1024)
    assert e.tau_line.get_ydata() == pytest.approx(t.expected_tokens_per_step)
    assert e.speed_line.get_ydata() == pytest.approx(t.speedup)
    assert e.best.get_xdata()[0] == t.best_size and f"best size {t.best_size}" in e.info.get_text()
    assert e.chosen.get_ydata()[0] == pytest.approx(t.speedup[15])
    assert "16 nodes" in e.info.get_text()


def test_at_batch_1_the_whole_tree_pays_and_at_64_it_does_not():
    e = widgets.get("token_tree")
    e.set(size=38, batch=1, device="h100-sxm")
    assert e.best.get_xdata()[0] == 38 and "(pays)" in e.info.get_text()
    e.set(batch=64)
    assert e.best.get_xdata()[0] < 8 and "slower than plain decode" in e.info.get_text()
    assert max(e.cost_line.get_ydata()) <= tw.TOKENS_MAX
    assert e.render_png().startswith(b"\x89PNG")


def test_a_lower_ridge_shrinks_the_best_tree():
    # an A100's matrix products turn compute-bound at a smaller batch than an H100's
    h100 = tw.sweep("h100-sxm", 16, 1024).best_size
    a100 = tw.sweep("a100-sxm-80gb", 16, 1024).best_size
    assert a100 < h100


def test_long_contexts_that_do_not_fit_are_flagged():
    e = widgets.get("token_tree")
    e.set(size=38, batch=16, context=8192, device="h100-sxm")
    assert "does NOT fit" in e.info.get_text()
    assert np.all(~tw.sweep("h100-sxm", 16, 8192).fits)
