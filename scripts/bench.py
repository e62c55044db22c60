"""Speed targets, measured (`make bench`): writes _build/bench.json and prints it.

* For each registered explorer, the median milliseconds of one control update
  (lib's model + redraw + PNG render on the Agg backend). Target: <= 100 ms on a
  2-core machine.
* The roofline over 10^6 (kernel, device) points: one vectorised call vs a
  pure-Python loop per point. Target: >= 50x faster.
* The calibrated estimate against every published run (lib.runs): its median absolute
  error and the share within 35%, on the tuning and the held-out runs, beside the per-op
  time's; and how many counted runs the floor exceeds. Targets: median within 20% and most
  (over half) within 35% on each split; the floor never above a counted measurement.
* The serving simulator (lib.serving): 10,000 requests of a 7B model on one H100 SXM (mean
  200 output tokens, 500 prompt tokens, exponential lengths, Poisson arrivals near the
  server's capacity), per scheduler: wall seconds, simulated requests and steps per second.
  Target: <= 10 s each on a 2-core machine.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from lib import hardware, roofline, runs, serving, widgets

TARGET_MS = 100.0
TARGET_SPEEDUP = 50.0
TARGET_MEDIAN_ERROR = 0.20
TARGET_WITHIN = 0.35
TARGET_SIMULATION_S = 10.0


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


def bench_calibration() -> dict:
    preds = runs.compare()
    out = {"runs": len(preds), "counted": sum(p.counted for p in preds),
           "floor_above_a_counted_measurement": sum(p.counted and not p.floor_ok
                                                    for p in preds)}
    for split in runs.SPLITS:
        ps = [p for p in preds if p.run.split == split and p.counted]
        est = np.array([p.error for p in ps])
        per_op = np.array([p.time_s / p.measured_s - 1 for p in ps])
        median = float(np.median(np.abs(est)))
        within = float(np.mean(np.abs(est) < TARGET_WITHIN))
        out[split] = {"runs": len(ps), "median_abs_error": round(median, 3),
                      "within_35pct": round(within, 3),
                      "median_signed_error": round(float(np.median(est)), 3),
                      "per_op_median_abs_error": round(float(np.median(np.abs(per_op))), 3),
                      "meets_target": median <= TARGET_MEDIAN_ERROR and within > 0.5}
    return out


def bench_simulator(n: int = 10_000) -> dict:
    w = serving.workload(n, rate=15.0, prompt_len=500, output_len=200,
                         length_dist="exponential", model="llama-2-7b", seed=0)
    out = {"requests": n, "model": "llama-2-7b", "device": "h100-sxm", "rate_per_s": 15.0,
           "target_s": TARGET_SIMULATION_S}
    for scheduler in serving.SCHEDULERS:
        start = time.perf_counter()
        r = serving.simulate(w, "llama-2-7b", "h100-sxm", scheduler=scheduler)
        wall = time.perf_counter() - start
        out[scheduler] = {"wall_s": round(wall, 2), "requests_per_s": round(n / wall),
                          "steps": int(r.step_s.size),
                          "steps_per_s": round(r.step_s.size / wall),
                          "meets_target": wall <= TARGET_SIMULATION_S}
    return out


def main() -> int:
    result = {
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "explorers": {name: bench_explorer(name) for name in widgets.REGISTRY},
        "roofline_1e6": bench_roofline(),
        "calibrated_estimate": bench_calibration(),
        "simulator_1e4": bench_simulator(),
    }
    out = Path("_build/bench.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ok = all(e["meets_target"] for e in result["explorers"].values())
    ok = ok and result["roofline_1e6"]["meets_target"]
    sim = result["simulator_1e4"]
    print("serving simulator, 10,000 requests: " + ", ".join(
        f"{s} {sim[s]['wall_s']:.1f} s ({sim[s]['steps_per_s']:,} steps/s)"
        for s in serving.SCHEDULERS))
    ok = ok and all(sim[s]["meets_target"] for s in serving.SCHEDULERS)
    cal = result["calibrated_estimate"]
    print(f"calibrated estimate, median |error|: tuning {cal['tuning']['median_abs_error']:.1%}, "
          f"held-out {cal['held-out']['median_abs_error']:.1%} "
          f"(per-op time {cal['held-out']['per_op_median_abs_error']:.1%}); floor above a "
          f"counted measurement: {cal['floor_above_a_counted_measurement']}")
    ok = ok and all(cal[s]["meets_target"] for s in runs.SPLITS)
    ok = ok and cal["floor_above_a_counted_measurement"] == 0
    print("all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
