"""Explorers: one figure, a few controls, a callback that calls :mod:`lib`.

An :class:`Explorer` builds its matplotlib figure and artists once. Moving a
control calls :meth:`Explorer.update`, which asks :mod:`lib` for the new numbers
and updates the existing artists; the figure is then rendered to PNG (Agg).
Axes, ticks and labels do not change between updates, so they are drawn once
and kept as a background; only the artists a subclass marks with
:meth:`Explorer.dynamic` are redrawn (blitting). Keep axis limits fixed, or call
:meth:`Explorer.invalidate` after changing anything that is not dynamic.
The same object serves two audiences:

* in JupyterLab, :meth:`Explorer.live` returns ipywidgets controls and an
  image that the callback refreshes;
* on the static website, where no Python runs, :func:`render_static` renders the
  figure for every combination of the controls' static options at build time,
  as lossless WebP (the colours are exactly the live figure's), and
  ``_static/explorer.js`` shows those frames at their size behind the same controls.

Each chapter's explorer lives in its own module below this package and is
registered, by import path, in :data:`REGISTRY`.

Introduced in chapters/01_memory_bound.ipynb.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import itertools
import json
import math
from importlib import metadata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from lib._validate import choice

__all__ = ["Control", "Explorer", "REGISTRY", "MAX_STATIC_BYTES", "get", "nice_ceiling",
           "read_manifest", "render_static", "source_key"]

#: Explorer name -> "module:Class". One line per chapter's explorer.
REGISTRY: dict[str, str] = {
    "roofline": "lib.widgets.roofline:RooflineExplorer",
    "memory": "lib.widgets.memory:MemoryExplorer",
    "compute": "lib.widgets.compute:ComputeExplorer",
    "transformer": "lib.widgets.transformer:TransformerExplorer",
    "prefill": "lib.widgets.prefill:PrefillExplorer",
    "decode": "lib.widgets.decode:DecodeExplorer",
    "mental_model": "lib.widgets.mental_model:MentalModelExplorer",
    "quantisation": "lib.widgets.quantisation:QuantisationExplorer",
    "paging": "lib.widgets.paging:PagingExplorer",
    "decode_kernels": "lib.widgets.decode_kernels:DecodeKernelsExplorer",
    "speculative": "lib.widgets.speculative:SpeculativeExplorer",
    "token_tree": "lib.widgets.token_tree:TokenTreeExplorer",
    "parallel": "lib.widgets.parallel:ParallelExplorer",
    "prefill_kernels": "lib.widgets.prefill_kernels:PrefillKernelsExplorer",
    "serving": "lib.widgets.serving:ServingExplorer",
}

DPI = 80

#: Every frame of one explorer, together, as a host sends them: what a reader who moves
#: every control loads. The page-weight budget of the site (tests/site) is 2 MB.
MAX_STATIC_BYTES = 2_000_000


@dataclass(frozen=True)
class Control:
    """A control with a fixed list of options.

    Parameters
    ----------
    name : str
        Keyword passed to :meth:`Explorer.update`.
    label : str
        What the reader sees beside the control.
    options : sequence of (label, value)
        Discrete choices; a slider steps through them in order.
    default : int
        Index of the default option.
    kind : {"slider", "dropdown"}
    static : bool or tuple of str
        Which options the static website pre-renders: ``True`` all of them,
        ``False`` none (the control stays at its default there), or the labels of
        a few (which must include the default's), e.g. three devices of thirteen.
        Keep the product of static option counts small: each combination is one
        image, and all of an explorer's frames stay under :data:`MAX_STATIC_BYTES`.
    """

    name: str
    label: str
    options: tuple[tuple[str, Any], ...]
    default: int = 0
    kind: str = "slider"
    static: bool | tuple[str, ...] = True

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError(f"options=() for control {self.name!r} must not be empty.")
        if not 0 <= self.default < len(self.options):
            raise ValueError(
                f"default={self.default} for control {self.name!r} must index its "
                f"{len(self.options)} options.")
        choice("kind", self.kind, ["slider", "dropdown"])
        if not isinstance(self.static, bool):
            for label in self.static:
                choice(f"static option of control {self.name!r}", label, self.labels)
            if self.labels[self.default] not in self.static:
                raise ValueError(f"static={self.static!r} for control {self.name!r} must include "
                                 f"its default, {self.labels[self.default]!r}.")

    @property
    def values(self) -> list[Any]:
        return [v for _, v in self.options]

    @property
    def labels(self) -> list[str]:
        return [lab for lab, _ in self.options]

    @property
    def static_indices(self) -> tuple[int, ...]:
        """Indices of the options the static website offers, in option order."""
        if self.static is True:
            return tuple(range(len(self.options)))
        if self.static is False:
            return ()
        return tuple(i for i, lab in enumerate(self.labels) if lab in self.static)


class Explorer:
    """Base class: subclasses set ``name``, ``title``, ``controls`` and implement
    :meth:`setup` and :meth:`update`."""

    name: str = ""
    title: str = ""
    controls: Sequence[Control] = ()
    figsize: tuple[float, float] = (7.5, 4.4)

    def __init__(self) -> None:
        self.fig = Figure(figsize=self.figsize, dpi=DPI, layout="constrained")
        FigureCanvasAgg(self.fig)
        self._dynamic: list[Artist] = []
        self._background = None
        self.values: dict[str, Any] = {c.name: c.values[c.default] for c in self.controls}
        self.setup(self.fig)
        self.update(**self.values)

    def dynamic(self, *artists: Artist) -> Artist:
        """Mark artists that :meth:`update` changes; they are redrawn on every render.

        Returns the first artist, so ``self.line = self.dynamic(ax.plot(...)[0])`` reads well.
        """
        for a in artists:
            a.set_animated(True)
            self._dynamic.append(a)
        return artists[0]

    def invalidate(self) -> None:
        """Redraw the static background on the next render (after changing limits, titles...)."""
        self._background = None

    def set_limits(self, ax: Any, *, xlim: Sequence[float] | None = None,
                   ylim: Sequence[float] | None = None) -> None:
        """Set ``ax``'s limits, redrawing the static background only if they changed.

        Round limits that follow the data (:func:`nice_ceiling`) so that most updates keep
        them and only the dynamic artists are redrawn.
        """
        changed = False
        for want, get, put in ((xlim, ax.get_xlim, ax.set_xlim), (ylim, ax.get_ylim, ax.set_ylim)):
            if want is not None and tuple(map(float, get())) != tuple(map(float, want)):
                put(*want)
                changed = True
        if changed:
            self.invalidate()

    # -- to implement -------------------------------------------------------------
    def setup(self, fig: Figure) -> None:  # pragma: no cover - abstract
        """Create axes and artists once."""
        raise NotImplementedError

    def update(self, **values: Any) -> None:  # pragma: no cover - abstract
        """Recompute with :mod:`lib` for ``values`` and update the artists in place."""
        raise NotImplementedError

    # -- shared machinery ---------------------------------------------------------
    def set(self, **changes: Any) -> None:
        """Change some controls' values and update the figure.

        Raises ``ValueError`` for an unknown control or a value not among its options.
        """
        by_name = {c.name: c for c in self.controls}
        for key, value in changes.items():
            control = by_name.get(key)
            if control is None:
                choice("control", key, list(by_name))
            elif value not in control.values:
                raise ValueError(f"{key}={value!r} is not an option; accepted: "
                                 f"{', '.join(map(repr, control.values))}.")
        self.values.update(changes)
        self.update(**self.values)

    def render_png(self) -> bytes:
        """The figure as PNG bytes (fast compression, for the live view)."""
        out = io.BytesIO()
        self._image().save(out, format="PNG", compress_level=1)
        return out.getvalue()

    def render_frame(self) -> bytes:
        """The figure as a static website's frame: lossless WebP.

        Pixel for pixel the image :meth:`render_png` encodes (a palette would shift
        colours: 64 colours once turned the compute explorer's orange brown), and
        about the size a 64-colour PNG was.
        """
        out = io.BytesIO()
        self._image().save(out, format="WEBP", lossless=True, quality=100, method=2, exact=True)
        return out.getvalue()

    def _image(self) -> Image.Image:
        canvas = self.fig.canvas
        if self._background is None:
            canvas.draw()  # lays the figure out once, without the dynamic artists
            self.fig.set_layout_engine("none")
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._background)
        for artist in self._dynamic:
            self.fig.draw_artist(artist)
        width, height = canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        return image.convert("RGB")

    def live(self):
        """Controls and the figure as ipywidgets, for JupyterLab."""
        import ipywidgets as w

        image = w.Image(value=self.render_png(), format="png")
        widgets = []
        for c in self.controls:
            cls = w.SelectionSlider if c.kind == "slider" else w.Dropdown
            widget = cls(options=list(zip(c.labels, range(len(c.options)))), value=c.default,
                         description=c.label, style={"description_width": "initial"},
                         layout=w.Layout(width="460px"),
                         **({"continuous_update": False} if c.kind == "slider" else {}))

            def on_change(change, control=c):
                self.set(**{control.name: control.values[change["new"]]})
                image.value = self.render_png()

            widget.observe(on_change, names="value")
            widgets.append(widget)
        return w.VBox([*widgets, image])

    def static_states(self) -> Iterator[tuple[tuple[int, ...], dict[str, Any]]]:
        """Every combination of the static options (other controls at their default).

        Yields ``(positions, values)``: ``positions`` index each static control's
        *static* options (what the static page's controls count), ``values`` are the
        keyword values for :meth:`set`.
        """
        static = [c for c in self.controls if c.static_indices]
        for idx in itertools.product(*(range(len(c.static_indices)) for c in static)):
            values = {c.name: c.values[c.default] for c in self.controls}
            values.update({c.name: c.values[c.static_indices[i]] for c, i in zip(static, idx)})
            yield idx, values


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``x`` (> 0): an axis
    limit that stays put while the data move a little.

    Introduced in chapters/11_decode_kernels.ipynb.

    Examples
    --------
    >>> nice_ceiling(7.3), nice_ceiling(0.0021), nice_ceiling(250.0)
    (10.0, 0.0025, 250.0)
    """
    exp = math.floor(math.log10(x))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * 10.0 ** exp >= x * (1 - 1e-12):
            return float(f"{m * 10.0 ** exp:.12g}")
    raise AssertionError("unreachable")  # pragma: no cover


def get(name: str) -> Explorer:
    """Instantiate the registered explorer ``name``.

    Examples
    --------
    >>> get("roofline").name
    'roofline'
    """
    module, cls = REGISTRY[choice("explorer", name, REGISTRY)].split(":")
    return getattr(importlib.import_module(module), cls)()


def source_key(name: str) -> str:
    """What a static explorer's frames depend on: :mod:`lib`'s source and the renderers.

    A digest of every ``.py`` file of the ``lib`` package (the explorer, the cost model
    and the catalog it draws) and of the versions of matplotlib, numpy and Pillow.
    """
    digest = hashlib.sha256(name.encode())
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    for package in ("matplotlib", "numpy", "pillow"):
        digest.update(f"{package}=={metadata.version(package)}".encode())
    return digest.hexdigest()[:20]


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest a ``manifest.js`` registers, or None if there is none to read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
    start, end = text.find("register("), text.rfind(");")
    try:
        return json.loads(text[start + len("register("):end])
    except ValueError:
        return None


def render_static(name: str, outdir: Path) -> int:
    """Write ``name``'s pre-rendered frames and ``manifest.js`` under ``outdir/name``.

    The manifest lists the static controls with their static options' labels, the
    frames' size in pixels, and the file of each combination keyed by option
    positions (``"2_0"``). Frames are named by their content, so identical frames are
    stored once and a browser's cache keeps those that did not change. A build whose
    :func:`source_key` matches the manifest already there reuses its frames without
    rendering; files no manifest names are removed. Returns the number of frames.
    """
    target = Path(outdir) / name
    key = source_key(name)
    old = read_manifest(target / "manifest.js")
    if old and old.get("source") == key and all(
            (target / f).is_file() for f in old["frames"].values()):
        return len(old["frames"])

    explorer = get(name)
    target.mkdir(parents=True, exist_ok=True)
    frames = {}
    for idx, values in explorer.static_states():
        explorer.set(**values)
        data = explorer.render_frame()
        fname = hashlib.sha256(data).hexdigest()[:16] + ".webp"
        if not (target / fname).is_file():
            (target / fname).write_bytes(data)
        frames["_".join(map(str, idx))] = fname
    for stale in target.iterdir():
        if stale.name != "manifest.js" and stale.name not in frames.values():
            stale.unlink()
    width, height = explorer.fig.canvas.get_width_height()
    static = [c for c in explorer.controls if c.static_indices]
    manifest = {
        "name": name,
        "title": explorer.title,
        "source": key,
        "width": width,
        "height": height,
        "controls": [{"name": c.name, "label": c.label, "kind": c.kind,
                      "options": [c.labels[i] for i in c.static_indices],
                      "default": c.static_indices.index(c.default)} for c in static],
        "fixed": [{"label": c.label, "value": c.labels[c.default]}
                  for c in explorer.controls if not c.static_indices],
        "partial": [{"label": c.label, "shown": len(c.static_indices), "of": len(c.options)}
                    for c in static if len(c.static_indices) < len(c.options)],
        "frames": frames,
    }
    (target / "manifest.js").write_text(
        "window.libExplorer && window.libExplorer.register(" + json.dumps(manifest) + ");\n")
    return len(frames)
