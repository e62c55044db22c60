"""Speed targets, measured (`make bench`): writes _build/bench.json and prints it.

* For each registered explorer, the median milliseconds of one control update
  (lib's model + redraw + PNG render on the Agg backend). Target: <= 100 ms on a
  2-core machine.
* The roofline over 10^6 (kernel, device) points: one vectorised call vs a
  pure-Python loop per point. Target: >= 50x faster.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from lib import hardware, roofline, widgets

TARGET_MS = 100.0
TARGET_SPEEDUP = 50.0


def bench_explorer(name: str, rounds: int = 3) -> dict:
    explorer = widgets.get(name)
    times = []
    for _ in range(rounds):
        for control in explorer.controls:
            for value in control.values:
                start = time.perf_counter()
                explorer.set(**{control.name: value})
                explorer.render_png()
                times.append((time.perf_counter() - start) * 1e3)
            explorer.set(**{control.name: control.values[control.default]})
    median = statistics.median(times)
    return {"median_ms": round(median, 2), "max_ms": round(max(times), 2), "updates": len(times),
            "target_ms": TARGET_MS, "meets_target": median <= TARGET_MS}


def bench_roofline(n: int = 1_000_000) -> dict:
    rng = np.random.default_rng(0)
    devices = [d for d in hardware.DEVICES.values() if "bf16" in d.peak_flops]
    idx = rng.integers(0, len(devices), n)
    peak = np.array([d.peak("bf16") for d in devices])[idx]
    bw = np.array([d.memory_bandwidth for d in devices])[idx]
    flops = 10 ** rng.uniform(6, 14, n)
    nbytes = 10 ** rng.uniform(6, 11, n)

    start = time.perf_counter()
    vec = roofline.kernel_time(flops, nbytes, peak, bw)
    t_vec = time.perf_counter() - start

    # The loop a reader writes without vectorising: lib's function once per point.
    start = time.perf_counter()
    loop = [roofline.kernel_time(f, b, p, w) for f, b, p, w in
            zip(flops.tolist(), nbytes.tolist(), peak.tolist(), bw.tolist())]
    t_loop = time.perf_counter() - start
    assert np.allclose(vec, loop)

    # For reference, the fastest loop Python allows: bare arithmetic, no validation.
    start = time.perf_counter()
    bare = [max(f / p, b / w) for f, b, p, w in
            zip(flops.tolist(), nbytes.tolist(), peak.tolist(), bw.tolist())]
    t_bare = time.perf_counter() - start
    assert np.allclose(vec, bare)
    speedup = t_loop / t_vec
    return {"points": n, "vectorised_s": round(t_vec, 4), "python_loop_s": round(t_loop, 4),
            "speedup": round(speedup, 1), "target_speedup": TARGET_SPEEDUP,
            "meets_target": speedup >= TARGET_SPEEDUP,
            "bare_arithmetic_loop_s": round(t_bare, 4),
            "speedup_vs_bare_loop": round(t_bare / t_vec, 1)}


def main() -> int:
    result = {
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "explorers": {name: bench_explorer(name) for name in widgets.REGISTRY},
        "roofline_1e6": bench_roofline(),
    }
    out = Path("_build/bench.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ok = all(e["meets_target"] for e in result["explorers"].values())
    ok = ok and result["roofline_1e6"]["meets_target"]
    print("all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
