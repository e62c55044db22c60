"""Chapter 15's explorer and figures (lib.widgets.serving)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib import serving, widgets
from lib.widgets import serving as sw


def test_static_options_stay_few():
    e = widgets.get("serving")
    offered = {c.name: [c.labels[i] for i in c.static_indices] for c in e.controls}
    assert offered["rate"] == ["2", "10", "40"] and offered["max_batch"] == ["8", "256"]
    assert offered["scheduler"] == list(serving.SCHEDULERS)
    assert math.prod(len(v) for v in offered.values() if v) == 48


def test_explorer_draws_what_lib_simulates():
    e = widgets.get("serving")
    e.set(lengths="chat: 512 in, 256 out", rate=10.0, max_batch=256, scheduler="continuous")
    w = serving.workload(sw.N_REQUESTS, rate=10.0, seed=sw.SEED, model=sw.MODEL,
                         **sw.LENGTHS["chat: 512 in, 256 out"])
    r = serving.simulate(w, sw.MODEL, sw.DEVICE)
    assert np.array_equal(sw.simulation("chat: 512 in, 256 out", 10.0, 256, "continuous").finish_s,
                          r.finish_s)
    # the chosen point: this rate's throughput and p90 latencies, on the 0-1 axis
    x_top = float(e.ticks[e.px][-1].get_text().replace(",", ""))
    assert e.tpot_pt.get_ydata()[0] == pytest.approx(r.percentiles(r.tpot_s)["p90"])
    assert e.ttft_pt.get_xdata()[0] * x_top == pytest.approx(r.throughput_tokens_per_s)
    assert f"{r.sustained_tokens_per_s:,.0f} tokens/s while requests arrive" in e.info.get_text()
    # the running line integrates to the time requests spend admitted
    tl = serving.timeline(r, bins=150)
    assert np.array_equal(e.run_line.get_ydata(), tl.running)
    e.set(scheduler="disaggregated")
    assert e.info.get_text().startswith("2 GPUs")
    e.set(max_batch=8, scheduler="static")
    assert "0 preemptions" in e.info.get_text()
    assert e.render_png().startswith(b"\x89PNG")


def test_no_control_redraws_the_background():
    """Limits are fixed and the axes' numbers are dynamic text: every update is cheap."""
    e = widgets.get("serving")
    e.render_png()
    for c in e.controls:
        for v in c.values[:2]:
            e.set(**{c.name: v})
            assert e._background is not None
        e.set(**{c.name: c.values[c.default]})


def test_curve_is_the_rates_simulations():
    thr, ttft, tpot = sw.curve("long prompts: 3,000 in, 250 out", 256, "chunked")
    rs = [sw.simulation("long prompts: 3,000 in, 250 out", x, 256, "chunked") for x in sw.RATES]
    assert thr.tolist() == [r.throughput_tokens_per_s for r in rs]
    assert np.all(np.diff(ttft[1:]) >= 0)                       # queueing grows with the rate


def test_figures_draw():
    w = serving.workload(60, rate=5.0, prompt_len=200, output_len=80, seed=0)
    rs = {s: serving.simulate(w, sw.MODEL, sw.DEVICE, scheduler=s)
          for s in ("static", "continuous", "chunked")}
    fig = sw.timeline_figure(rs, bins=30, t_end=20.0)
    assert len(fig.axes[0].lines) == 6 and len(fig.axes[1].lines) == 3
    assert fig.axes[0].lines[0].get_xdata().max() < 20.0
    sweep = serving.sweep_rates([1.0, 4.0, 8.0], 60, sw.MODEL, sw.DEVICE,
                                workload_kw=dict(prompt_len=200, output_len=80))
    fig = sw.curve_figure([1.0, 4.0, 8.0], {"continuous": sweep}, ttft_s=1.0, tpot_s=0.02)
    a, b, c = fig.axes
    assert list(a.lines[0].get_ydata()) == [r.sustained_tokens_per_s for r in sweep]
    assert len(b.lines) == 3 and len(c.lines) == 3              # p50, p99, the objective
