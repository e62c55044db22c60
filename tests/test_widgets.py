"""The explorer framework (lib.widgets) and the chapter 3 explorer built on it."""

from __future__ import annotations

import io
import json
import math
import re

import pytest
from PIL import Image

from lib import widgets
from lib.widgets import Control, Explorer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Frames per explorer: each is rendered at every build that changes lib.
MAX_STATIC_FRAMES = 200


def pixels(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def manifest_of(target):
    manifest = widgets.read_manifest(target / "manifest.js")
    assert manifest is not None, f"no readable manifest in {target}"
    return manifest


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


def test_a_static_frame_has_exactly_the_live_pixels(tiny):
    tiny.set(a=3, b="y")
    frame = tiny.render_frame()
    assert frame[:4] == b"RIFF" and frame[8:12] == b"WEBP"
    assert pixels(frame) == pixels(tiny.render_png())  # lossless: not one colour shifted


def test_render_static_writes_manifest_and_frames(tiny, tmp_path):
    n = widgets.render_static("tiny", tmp_path)
    assert n == 6
    target = tmp_path / "tiny"
    text = (target / "manifest.js").read_text()
    m = re.fullmatch(r"window\.libExplorer && window\.libExplorer\.register\((.*)\);\n", text,
                     flags=re.S)
    manifest = json.loads(m.group(1))
    assert manifest == manifest_of(target)
    assert manifest["name"] == "tiny" and manifest["title"] == "Tiny"
    assert (manifest["width"], manifest["height"]) == (240, 160)  # 3 x 2 inches at 80 dpi
    assert [c["name"] for c in manifest["controls"]] == ["a", "b"]
    assert manifest["controls"][0]["options"] == ["one", "two", "three"]
    assert manifest["fixed"] == [{"label": "c", "value": "lo"}]
    assert manifest["partial"] == []
    assert sorted(manifest["frames"]) == sorted(f"{i}_{j}" for i in range(3) for j in range(2))
    files = sorted(p.name for p in target.iterdir() if p.name != "manifest.js")
    assert files == sorted(set(manifest["frames"].values()))
    tiny.set(a=3, b="y")
    frame = (target / manifest["frames"]["2_1"]).read_bytes()
    assert frame == tiny.render_frame()
    assert manifest["frames"]["2_1"] == widgets.hashlib.sha256(frame).hexdigest()[:16] + ".webp"


class Flat(Tiny):
    """Draws the same picture whatever ``b`` is: identical frames are stored once."""

    name = "flat"

    def update(self, *, a, b, c, **_):
        self.line.set_data([0, a], [0, a])


def test_identical_frames_are_stored_once(monkeypatch, tmp_path):
    monkeypatch.setitem(widgets.REGISTRY, "flat", f"{__name__}:Flat")
    assert widgets.render_static("flat", tmp_path) == 6
    manifest = manifest_of(tmp_path / "flat")
    assert len(set(manifest["frames"].values())) == 3
    assert manifest["frames"]["1_0"] == manifest["frames"]["1_1"]


def test_a_rebuild_reuses_frames_and_drops_stale_ones(tiny, tmp_path, monkeypatch):
    widgets.render_static("tiny", tmp_path)
    target = tmp_path / "tiny"
    (target / "old.webp").write_bytes(b"stale")
    monkeypatch.setattr(widgets, "get", lambda name: pytest.fail("rendered again"))
    assert widgets.render_static("tiny", tmp_path) == 6  # same lib source: nothing rendered
    monkeypatch.undo()
    monkeypatch.setitem(widgets.REGISTRY, "tiny", f"{__name__}:Tiny")
    monkeypatch.setattr(widgets, "source_key", lambda name: "changed")
    assert widgets.render_static("tiny", tmp_path) == 6
    assert not (target / "old.webp").exists()
    assert manifest_of(target)["source"] == "changed"


class Some(Tiny):
    """Offers two of its three ``a`` options on the static site."""

    name = "some"
    controls = (
        Control("a", "a", (("one", 1), ("two", 2), ("three", 3)), default=1,
                static=("two", "three")),
        *Tiny.controls[1:],
    )


def test_a_control_can_offer_some_options_statically(monkeypatch, tmp_path):
    monkeypatch.setitem(widgets.REGISTRY, "some", f"{__name__}:Some")
    assert widgets.render_static("some", tmp_path) == 4
    manifest = manifest_of(tmp_path / "some")
    assert manifest["controls"][0]["options"] == ["two", "three"]
    assert manifest["controls"][0]["default"] == 0  # "two", the first offered
    assert manifest["partial"] == [{"label": "a", "shown": 2, "of": 3}]
    explorer = widgets.get("some")
    explorer.set(a=3, b="x")
    frame = (tmp_path / "some" / manifest["frames"]["1_0"]).read_bytes()
    assert pixels(frame) == pixels(explorer.render_png())


@pytest.mark.parametrize("static,match", [
    (("two", "four"), r"static option of control 'a'='four' is not known"),
    (("three",), r"static=\('three',\) for control 'a' must include its default, 'two'"),
])
def test_static_options_are_checked(static, match):
    with pytest.raises(ValueError, match=match):
        Control("a", "a", (("one", 1), ("two", 2), ("three", 3)), default=1, static=static)


def test_unknown_explorer_suggests():
    with pytest.raises(ValueError, match=r"explorer='rooflin' is not known; did you mean 'roofline'"):
        widgets.get("rooflin")


# -- every registered explorer ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(widgets.REGISTRY))
def test_registered_explorers_keep_the_static_site_small_and_exact(name, tmp_path):
    explorer = widgets.get(name)
    assert explorer.name == name and explorer.title
    assert explorer.render_png().startswith(PNG_MAGIC)
    static = [c for c in explorer.controls if c.static_indices]
    assert math.prod(len(c.static_indices) for c in static) <= MAX_STATIC_FRAMES
    widgets.render_static(name, tmp_path)
    target = tmp_path / name
    manifest = manifest_of(target)
    sent = sum(p.stat().st_size for p in target.iterdir())
    assert sent <= widgets.MAX_STATIC_BYTES, (
        f"{name}: every frame together weighs {sent:,} bytes > {widgets.MAX_STATIC_BYTES:,}")
    # The default frame is the live figure at its defaults, pixel for pixel and size for size.
    default = "_".join(str(c["default"]) for c in manifest["controls"])
    frame = Image.open(target / manifest["frames"][default])
    assert frame.size == (manifest["width"], manifest["height"])
    assert frame.convert("RGB").tobytes() == pixels(widgets.get(name).render_png())


# -- the chapter 1 explorer ---------------------------------------------------------------


def test_memory_explorer_sets_vector_kernels_on_the_fp32_units():
    e = widgets.get("memory")
    e.set(kernel="dot", device="h100-sxm", dtype="bf16")
    assert "π = 67 TFLOP/s (fp32, vector units)" in e.info.get_text()
    e.set(kernel="gemv")
    assert "π = 989 TFLOP/s (bf16, tensor cores)" in e.info.get_text()
    e.set(kernel="dot", dtype="fp32")           # twice the bytes, same FLOPs, same roof
    assert "Q = 134 MB" in e.info.get_text() and "memory-bound" in e.info.get_text()


# -- the chapter 2 explorer ---------------------------------------------------------------


def test_compute_explorer_precision_moves_the_point_or_the_roof():
    e = widgets.get("compute")
    e.set(m=256, precision="bf16", device="h100-sxm")
    assert "memory-bound" in e.info.get_text()
    e.set(precision="w8a16")                    # weights narrower, the roof unchanged
    assert "(dense bf16)" in e.info.get_text() and "compute-bound" in e.info.get_text()
    e.set(precision="int8")                     # both roofs move: the crossing stays
    assert "POP/s" in e.info.get_text() and "memory-bound" in e.info.get_text()
    e.set(device="m2-ultra", precision="bf16")
    assert "Apple publishes no bf16 peak" in e.info.get_text()


def test_weight_only_int8_keeps_the_bf16_roof():
    from lib.kernels import gemm_at

    k16, c16 = gemm_at(256, 4096, 4096, "bf16")
    k8, c8 = gemm_at(256, 4096, 4096, "w8a16")
    assert c16 == c8 == "bf16"
    assert k8.flops == k16.flops and k8.bytes_moved < k16.bytes_moved
    k88, c88 = gemm_at(256, 4096, 4096, "int8")
    assert c88 == "int8" and k88.bytes_moved < k8.bytes_moved


# -- the chapter 3 explorer ---------------------------------------------------------------


def test_roofline_explorer_names_the_level_that_binds():
    e = widgets.get("roofline")
    # 128 x 256 tiles: 4096 / (32 + 16 + 1) = 84 FLOP/B against L2, below the H100 PCIe's
    # L2 ridge (756 TFLOP/s / 6.9 TB/s = 110) and above the A100's (312 / 7.2 = 43)
    e.set(device="h100-pcie", m=4096, tile=(128, 256))
    assert "bound: L2 (no reuse between tiles)" in e.info.get_text()
    e.set(device="a100-sxm-80gb")
    assert "bound: the compute roof" in e.info.get_text()
    e.set(m=1)                                  # decode: one row, HBM binds
    assert "bound: HBM" in e.info.get_text()
    assert "16 tiles on 108 SMs: 1 wave, 15% of SM slots busy" in e.info.get_text()   # 4096/256


def test_level_roofs_skip_unpublished_bandwidths():
    from lib.widgets.roofline import level_roofs

    labels = [r.label for r in level_roofs("h100-sxm")]
    assert labels == ["shared memory, 30.9 TB/s", "HBM, 3.35 TB/s"]   # no L2 figure
    with pytest.raises(ValueError, match="no link for tpu-v5e"):
        level_roofs("tpu-v5e", keys=(), link=True)
