"""Talking between devices: the latency-bandwidth (alpha-beta) cost of a ring all-reduce.

Tensor parallelism splits every layer over ``p`` devices, and each layer's attention and
MLP end with an **all-reduce**: every device holds a partial sum of the layer's output
and needs the total. The usual algorithm, a *ring*, passes ``n / p``-byte chunks around
the ring in ``2 (p - 1)`` steps (a reduce-scatter, then an all-gather), so each device
sends ``2 (p - 1) / p x n`` bytes. Each step is one message with a fixed cost, and the
collective as a whole pays a start-up cost, as NCCL's own cost model has it::

    T = base_latency + 2 (p - 1) x step_latency + 2 (p - 1) / p x n / link_bandwidth

The step latency and the link bandwidth are catalog figures of the device
(:attr:`lib.hardware.Device.interconnect_latency`, ``interconnect_bandwidth``, per
direction); the base latency is a property of the library (:data:`NCCL_BASE_LATENCY_S`).
This is the memory chapter's ``T(n) = L + n / B`` (:func:`lib.memory.transfer_time`)
applied to a link: small messages (a decode step's few kilobytes) see only latency,
large ones (a long prefill's megabytes) the bandwidth. NCCL's tree and NVLS algorithms
change the latency term; they are not modelled.

Introduced in chapters/03_roofline.ipynb.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lib import hardware
from lib._validate import positive, scalar_or_array
from lib.hardware import Device, Source

__all__ = ["NCCL_BASE_LATENCY_S", "NCCL_BASE_LATENCY_SOURCE", "Collective", "ring_all_reduce",
           "all_reduce", "point_to_point", "all_to_all", "link_of"]

#: Start-up cost of one ring all-reduce in NCCL's cost model (LL protocol), seconds.
NCCL_BASE_LATENCY_S = 6.6e-6
NCCL_BASE_LATENCY_SOURCE = Source(
    "https://github.com/NVIDIA/nccl/blob/5067397c/src/graph/tuning.cc",
    "NCCL 2.30 src/graph/tuning.cc, baseLat for the ring algorithm, LL protocol: 6.6 us",
    "2026-11-30", "nccl_tuning")


@dataclass(frozen=True)
class Collective:
    """One collective operation's cost on each device: bytes sent, messages and time.

    Introduced in chapters/07_mental_model.ipynb.
    """

    bytes_sent: float | np.ndarray
    messages: float | np.ndarray
    time_s: float | np.ndarray


def ring_all_reduce(nbytes: ArrayLike, devices: ArrayLike, link_bandwidth: ArrayLike,
                    step_latency: ArrayLike, base_latency: ArrayLike = NCCL_BASE_LATENCY_S
                    ) -> Collective:
    """A ring all-reduce of ``nbytes`` over ``devices``: bytes each sends, messages, seconds.

    ``2 (p - 1)`` messages of ``nbytes / p`` each; the time is
    ``base_latency + messages x step_latency + bytes_sent / link_bandwidth``. With one
    device nothing is sent and the time is 0.

    Parameters
    ----------
    nbytes : array_like
        Bytes of the tensor being reduced (on each device).
    devices : array_like of int
        Devices in the ring, ``p``.
    link_bandwidth : array_like
        Bandwidth of each link, per direction, byte/s.
    step_latency : array_like
        Latency of one message, seconds.
    base_latency : array_like
        Start-up cost of the whole collective, seconds.

    Introduced in chapters/03_roofline.ipynb.

    Examples
    --------
    >>> c = ring_all_reduce(8192, 2, 450e9, 0.6e-6)     # a decode step's 8 kB over NVLink
    >>> c.bytes_sent, c.messages, round(c.time_s * 1e6, 2)   # µs: all latency
    (8192.0, 2.0, 7.82)
    >>> c = ring_all_reduce(64e6, 8, 450e9, 0.6e-6)      # 64 MB: the bandwidth matters
    >>> round(c.time_s * 1e6)
    264
    >>> ring_all_reduce(1e6, 1, 450e9, 0.6e-6).time_s
    0.0
    """
    n = positive("nbytes", nbytes, allow_zero=True)
    p = positive("devices", devices, integer=True)
    bw = positive("link_bandwidth", link_bandwidth)
    step = positive("step_latency", step_latency, allow_zero=True)
    base = positive("base_latency", base_latency, allow_zero=True)
    messages = 2 * (p - 1)
    sent = messages / p * n
    time = np.where(p > 1, base + messages * step + sent / bw, 0.0)
    return Collective(*(scalar_or_array(a) for a in np.broadcast_arrays(sent, messages, time)))


def all_reduce(nbytes: ArrayLike, devices: int, device: "str | Device",
               link_bandwidth: float | None = None,
               step_latency: float | None = None) -> Collective:
    """A ring all-reduce over ``devices`` copies of catalog ``device``, linked as the catalog says.

    ``link_bandwidth`` and ``step_latency`` override the device's
    ``interconnect_bandwidth`` and ``interconnect_latency`` (e.g. for GPUs on a PCIe
    switch, or a measured figure). A ``ValueError`` if the catalog holds no link for the
    device and none is given.

    Introduced in chapters/07_mental_model.ipynb.

    Examples
    --------
    >>> round(all_reduce(8192, 8, "h100-sxm").time_s * 1e6, 1)    # µs
    15.0
    >>> all_reduce(8192, 2, "tpu-v5e")
    Traceback (most recent call last):
    ...
    ValueError: devices=2: the catalog holds no device-to-device link for tpu-v5e; pass link_bandwidth (byte/s per direction) and step_latency (seconds per message).
    """
    bw, lat = _link(device, link_bandwidth, step_latency, f"devices={devices!r}")
    return ring_all_reduce(nbytes, devices, bw, lat)


def _link(device: "str | Device", link_bandwidth: float | None, step_latency: float | None,
          named: str) -> tuple[Any, Any]:
    """The catalog link of ``device`` with overrides; ``named`` opens the error's message."""
    dev = hardware.get(device)
    bw = dev.interconnect_bandwidth if link_bandwidth is None else link_bandwidth
    lat = dev.interconnect_latency if step_latency is None else step_latency
    if bw is None or lat is None:
        raise ValueError(f"{named}: the catalog holds no device-to-device link for "
                         f"{dev.name}; pass link_bandwidth (byte/s per direction) and "
                         "step_latency (seconds per message).")
    return bw, lat


# --- chapter 14: the other patterns of scaling out ----------------------------------------------

def link_of(device: "str | Device", link_bandwidth: float | None = None,
            step_latency: float | None = None) -> tuple[float, float]:
    """The link of catalog ``device`` as ``(bandwidth byte/s per direction, latency s per message)``.

    ``link_bandwidth`` and ``step_latency`` override the catalog's figures; a ``ValueError``
    names the device when the catalog holds none and none is given.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> link_of("h100-sxm"), link_of("l40s")
    ((450000000000.0, 6e-07), (32000000000.0, 1e-06))
    """
    bw, lat = _link(device, link_bandwidth, step_latency, f"device={hardware.get(device).name!r}")
    return float(bw), float(lat)


def point_to_point(nbytes: ArrayLike, link_bandwidth: ArrayLike, step_latency: ArrayLike
                   ) -> Collective:
    """One device sends ``nbytes`` to one other: a single message, ``latency + nbytes / bandwidth``.

    What a pipeline stage sends the next (its activations), and what each device of a
    ring attention passes its neighbour at each step (a block of K and V). No start-up
    cost beyond the message's own latency is charged: NCCL's ``baseLat`` is a figure of
    its ring all-reduce, not of a send. With ``nbytes = 0`` nothing is sent and the time
    is 0.

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> c = point_to_point(64e6, 450e9, 0.6e-6)     # 64 MB of activations over NVLink
    >>> c.messages, round(c.time_s * 1e6, 1)
    (1.0, 142.8)
    """
    n = positive("nbytes", nbytes, allow_zero=True)
    bw = positive("link_bandwidth", link_bandwidth)
    lat = positive("step_latency", step_latency, allow_zero=True)
    messages = np.where(n > 0, 1.0, 0.0)
    time = np.where(n > 0, lat + n / bw, 0.0)
    return Collective(*(scalar_or_array(a) for a in np.broadcast_arrays(n, messages, time)))


def all_to_all(nbytes: ArrayLike, devices: ArrayLike, link_bandwidth: ArrayLike,
               step_latency: ArrayLike) -> Collective:
    """An all-to-all: each of ``devices`` holds ``nbytes`` split evenly among all of them.

    Each keeps its own ``1 / p`` share and sends the other ``p - 1`` shares, one message
    to each peer: ``(p - 1) / p x nbytes`` sent, ``p - 1`` messages, and the time
    ``(p - 1) x step_latency + sent / link_bandwidth`` (each device's link carries its own
    sends; the messages go out one after the other). This is expert parallelism's
    dispatch (tokens to the devices holding their experts) and combine (the results back).
    No start-up cost is charged (NCCL's ``baseLat`` is its ring all-reduce's).

    Introduced in chapters/14_parallelism.ipynb.

    Examples
    --------
    >>> c = all_to_all(8e6, 8, 450e9, 0.6e-6)
    >>> c.bytes_sent, c.messages, round(c.time_s * 1e6, 2)
    (7000000.0, 7.0, 19.76)
    >>> all_to_all(8e6, 1, 450e9, 0.6e-6).time_s
    0.0
    """
    n = positive("nbytes", nbytes, allow_zero=True)
    p = positive("devices", devices, integer=True)
    bw = positive("link_bandwidth", link_bandwidth)
    lat = positive("step_latency", step_latency, allow_zero=True)
    messages = p - 1.0
    sent = messages / p * n
    time = np.where(p > 1, messages * lat + sent / bw, 0.0)
    return Collective(*(scalar_or_array(a) for a in np.broadcast_arrays(sent, messages, time)))
