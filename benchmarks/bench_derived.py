"""What a running median of a camera costs: the RunEngine's time for a fly scan and a
count with the median producer (``with_derived``) as a ratio to the same run without
it, and the camera's own throughput (frames/s from its first to its last frame written)
with and without it (the target is at least 0.95x: the producer must not slow it).

Run: ``.venv/bin/python benchmarks/bench_derived.py [--rounds 5] [--frames 200]``.
Rounds interleave the two cases so that disk noise hits both alike. The camera pushes
pre-made 512x512 uint16 frames, free-running (as fast as the writer takes them: the
producer competes with it for the CPU, and drops what it cannot take) and at a 5 ms
exposure (a camera's own pace).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _cameras import PoolCamera
from bluesky import RunEngine, plans as bp

from zarrscribe.pipeline import Pipeline, fly_scan
from zarrscribe.pipeline.derived import RunningMedian, with_derived
from zarrscribe.writers import ZarrWriter

from _common import scratch, table

SHAPE = (512, 512)


class _Clock:
    """Times of the camera's first and last frame written (a listener in both cases)."""

    def __init__(self) -> None:
        self.first = self.last = 0.0
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, name: str, index: int, frame: np.ndarray) -> None:
        now = time.perf_counter()
        with self._lock:
            if self.count == 0:
                self.first = now
            self.last, self.count = now, self.count + 1

    def rate(self) -> float:
        return (self.count - 1) / (self.last - self.first) if self.count > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pool = [rng.poisson(100.0, size=SHAPE).astype(np.uint16) for _ in range(4)]
    writer = ZarrWriter("default")
    cam = PoolCamera("cam", writer, shape=SHAPE, exposure=0.0, pool=pool)
    median = RunningMedian("cam", writer, shape=SHAPE, dtype="uint16", window=8, every=8)
    n = args.frames
    cases: dict[str, tuple[float, Callable[[], Any]]] = {
        "fly_scan, free-running": (0.0, lambda: fly_scan([cam], n)),
        "fly_scan, 5 ms exposure": (0.005, lambda: fly_scan([cam], n)),
        "count, 5 ms exposure": (0.005, lambda: bp.count([cam], num=n)),
    }
    rows = [["plan", "frames", "RE s without", "RE s with", "RE ratio", "camera f/s ratio"]]
    rows[0] += ["medians", "dropped"]
    RE = RunEngine({})
    with scratch("zs-bench-derived-") as d, Pipeline([cam, median], base_dir=d, catalog=None) as p:
        p.subscribe(RE)
        for label, (exposure, make) in cases.items():
            cam.configure(exposure=exposure)
            times: dict[str, list[float]] = {"without": [], "with": []}
            rates: dict[str, list[float]] = {"without": [], "with": []}
            for _ in range(args.rounds):
                for case in ("without", "with"):
                    clock = _Clock()
                    writer.add_frame_listener("cam", clock)
                    plan = make() if case == "without" else with_derived(make(), [median])
                    start = time.perf_counter()
                    RE(plan)
                    times[case].append(time.perf_counter() - start)
                    writer.remove_frame_listener("cam", clock)
                    rates[case].append(clock.rate())
            t0, t1 = statistics.median(times["without"]), statistics.median(times["with"])
            r0, r1 = statistics.median(rates["without"]), statistics.median(rates["with"])
            rows.append([label, str(n), f"{t0:.3f}", f"{t1:.3f}", f"{t1 / t0:.2f}x"])
            rows[-1] += [f"{r1 / r0:.2f}x", str(median.get_index()), str(median.dropped)]
            print(rows[-1], flush=True)
    print(
        f"\nmedian of {args.rounds} interleaved rounds; RunningMedian window=8 every=8, "
        f"{SHAPE[0]}x{SHAPE[1]} uint16; medians/dropped: the last 'with' run"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
