"""lib.comm: the ring all-reduce's alpha-beta cost, against NCCL's own cost model."""

from __future__ import annotations

import numpy as np
import pytest

from lib import comm, hardware


def test_ring_all_reduce_known_answers():
    # NCCL tuning.cc: ring LL on NVLink, baseLat 6.6 us + 2 (p - 1) x 0.6 us per step
    for p, us in ((2, 7.8), (4, 10.2), (8, 15.0)):
        assert comm.ring_all_reduce(0, p, 450e9, 0.6e-6).time_s == pytest.approx(us * 1e-6)
    c = comm.ring_all_reduce(64e6, 8, 450e9, 0.6e-6)
    assert c.bytes_sent == pytest.approx(2 * 7 / 8 * 64e6) and c.messages == 14
    assert c.time_s == pytest.approx(15.0e-6 + 2 * 7 / 8 * 64e6 / 450e9)
    one = comm.ring_all_reduce([1e3, 1e9], 1, 450e9, 0.6e-6)
    assert one.time_s.tolist() == [0.0, 0.0] and one.bytes_sent.tolist() == [0.0, 0.0]


def test_all_reduce_uses_the_catalog_link_or_the_one_given():
    nv = comm.all_reduce(8192, 2, "h100-sxm")
    pcie = comm.all_reduce(8192, 2, "l4")
    assert pcie.time_s > nv.time_s
    assert comm.all_reduce(8192, 2, "l4", 64e9, 0.6e-6).time_s == pytest.approx(
        comm.ring_all_reduce(8192, 2, 64e9, 0.6e-6).time_s)
    with pytest.raises(ValueError, match="no device-to-device link for m2-ultra"):
        comm.all_reduce(8192, 2, "m2-ultra")
    with pytest.raises(ValueError, match="devices=0 must be a whole number > 0"):
        comm.ring_all_reduce(8192, 0, 450e9, 0.6e-6)


def test_every_catalog_link_has_bandwidth_latency_and_their_provenance():
    for d in hardware.DEVICES.values():
        assert (d.interconnect_bandwidth is None) == (d.interconnect_latency is None)
        if d.interconnect_bandwidth is not None:
            # NCCL's per-step latency (estimated), or one derived from a measured all-reduce
            assert d.interconnect and d.provenance_of("interconnect_latency").kind in (
                "estimated", "derived")
            assert np.isfinite(comm.all_reduce(1e6, 2, d).time_s)
