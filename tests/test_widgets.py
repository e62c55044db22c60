"""The explorer framework (lib.widgets) and the chapter 3 explorer built on it."""

from __future__ import annotations

import json
import math
import re

import pytest

from lib import widgets
from lib.widgets import Control, Explorer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_STATIC_FRAMES = 60


class Tiny(Explorer):
    """A two-control explorer that draws one line (fast, for the framework's tests)."""

    name = "tiny"
    title = "Tiny"
    controls = (
        Control("a", "a", (("one", 1), ("two", 2), ("three", 3))),
        Control("b", "b", (("x", "x"), ("y", "y")), kind="dropdown"),
        Control("c", "c", (("lo", 0.5), ("hi", 2.0)), static=False),
    )
    figsize = (3, 2)

    def setup(self, fig):
        ax = fig.add_subplot()
        ax.set_xlim(0, 4)
        ax.set_ylim(0, 8)
        self.line = self.dynamic(ax.plot([], [])[0])
        self.calls = 0

    def update(self, *, a, b, c, **_):
        self.calls = getattr(self, "calls", 0) + 1
        self.line.set_data([0, a], [0, a * c * (2 if b == "y" else 1)])


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(widgets.REGISTRY, "tiny", f"{__name__}:Tiny")
    return widgets.get("tiny")


# -- Control --------------------------------------------------------------------------------


def test_control_values_and_labels():
    c = Control("m", "M", (("1", 1), ("16", 16)), default=1)
    assert c.values == [1, 16] and c.labels == ["1", "16"]


@pytest.mark.parametrize("kwargs,match", [
    ({"options": ()}, r"options=\(\) for control 'm' must not be empty"),
    ({"default": 2}, r"default=2 for control 'm' must index its 2 options"),
    ({"default": -1}, r"default=-1 for control 'm' must index its 2 options"),
    ({"kind": "knob"}, r"kind='knob' is not known.*Accepted: slider, dropdown"),
])
def test_control_validation(kwargs, match):
    args = {"name": "m", "label": "M", "options": (("1", 1), ("16", 16)), **kwargs}
    with pytest.raises(ValueError, match=match):
        Control(**args)


# -- Explorer -------------------------------------------------------------------------------


def test_explorer_starts_at_defaults(tiny):
    assert tiny.values == {"a": 1, "b": "x", "c": 0.5}
    assert tiny.calls == 1


def test_set_updates_values(tiny):
    tiny.set(a=3, c=2.0)
    assert tiny.values == {"a": 3, "b": "x", "c": 2.0}
    assert tuple(tiny.line.get_ydata()) == (0, 6.0)


def test_set_rejects_unknown_control(tiny):
    with pytest.raises(ValueError, match=r"control='bb' is not known; did you mean 'b'"):
        tiny.set(bb="x")


def test_set_rejects_unknown_value(tiny):
    with pytest.raises(ValueError, match=r"a=4 is not an option; accepted: 1, 2, 3\."):
        tiny.set(a=4)
    assert tiny.values["a"] == 1  # nothing changed


def test_static_states_count_and_fixed_controls(tiny):
    states = list(tiny.static_states())
    assert len(states) == 3 * 2
    assert all(values["c"] == 0.5 for _, values in states)  # non-static at its default
    assert {idx for idx, _ in states} == {(i, j) for i in range(3) for j in range(2)}


def test_render_png_is_a_png_and_deterministic(tiny):
    first = tiny.render_png()
    assert first.startswith(PNG_MAGIC)
    tiny.set(a=3, b="y")
    other = tiny.render_png()
    assert other != first
    tiny.set(a=1, b="x")
    assert tiny.render_png() == first
    assert widgets.get("tiny").render_png() == first  # a fresh instance draws the same
    assert tiny.render_png(quantize=True).startswith(PNG_MAGIC)


def test_render_static_writes_manifest_and_frames(tiny, tmp_path):
    n = widgets.render_static("tiny", tmp_path)
    assert n == 6
    target = tmp_path / "tiny"
    frames = sorted(p.name for p in target.glob("*.png"))
    assert frames == sorted(f"f_{i}_{j}.png" for i in range(3) for j in range(2))
    assert all((target / f).read_bytes().startswith(PNG_MAGIC) for f in frames)
    text = (target / "manifest.js").read_text()
    m = re.fullmatch(r"window\.libExplorer && window\.libExplorer\.register\((.*)\);\n", text,
                     flags=re.S)
    manifest = json.loads(m.group(1))
    assert manifest["name"] == "tiny" and manifest["title"] == "Tiny"
    assert [c["name"] for c in manifest["controls"]] == ["a", "b"]
    assert manifest["controls"][0]["options"] == ["one", "two", "three"]
    assert manifest["fixed"] == [{"label": "c", "value": "lo"}]
    assert manifest["frames"]["2_1"] == "f_2_1.png"


def test_unknown_explorer_suggests():
    with pytest.raises(ValueError, match=r"explorer='rooflin' is not known; did you mean 'roofline'"):
        widgets.get("rooflin")


# -- every registered explorer ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(widgets.REGISTRY))
def test_registered_explorers_keep_the_static_site_small(name):
    explorer = widgets.get(name)
    static = [c for c in explorer.controls if c.static]
    assert math.prod(len(c.options) for c in static) <= MAX_STATIC_FRAMES
    assert explorer.name == name and explorer.title
    assert explorer.render_png().startswith(PNG_MAGIC)


# -- the chapter 3 explorer ---------------------------------------------------------------


def test_roofline_explorer_info_follows_the_controls():
    e = widgets.get("roofline")
    e.set(device="h100-sxm", precision="bf16", m=4096)
    assert "compute-bound" in e.info.get_text()
    e.set(m=1)
    assert "memory-bound" in e.info.get_text()
    e.set(precision="int8")
    assert "POP/s" in e.info.get_text()  # integer peaks in OP/s
    e.set(device="m2-ultra", precision="bf16")
    assert "Apple publishes no bf16 peak" in e.info.get_text()
    e.set(device="a100-sxm-80gb", precision="fp8")
    assert "NVIDIA publishes no fp8 peak" in e.info.get_text()


def test_roofline_explorer_weight_only_int8_keeps_the_bf16_roof():
    from lib.kernels import gemm_at

    k16, c16 = gemm_at(256, 4096, 4096, "bf16")
    k8, c8 = gemm_at(256, 4096, 4096, "w8a16")
    assert c16 == c8 == "bf16"
    assert k8.flops == k16.flops and k8.bytes_moved < k16.bytes_moved
    k88, c88 = gemm_at(256, 4096, 4096, "int8")
    assert c88 == "int8" and k88.bytes_moved < k8.bytes_moved
