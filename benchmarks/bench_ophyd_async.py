"""Frames/s through an ophyd-async detector (zarrscribe.pipeline.detectors.SoftCamera)
as a ratio to our own SimCamera, both pushing the same pre-made frames into the
same kind of shared writer through the same Pipeline (no catalog).

Run: ``.venv/bin/python benchmarks/bench_ophyd_async.py [--rounds 3]``. Rounds
interleave the two paths so that disk noise hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _cameras import PoolCamera
from bluesky import RunEngine, plans as bp
from bluesky.run_engine import call_in_bluesky_event_loop

from zarrscribe.pipeline import Pipeline, fly_scan
from zarrscribe.pipeline.detectors import SoftCamera
from zarrscribe.writers import ZarrWriter

from _common import scratch, table


def _pool(shape: tuple[int, int]) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.poisson(100.0, size=shape).astype(np.uint16) for _ in range(4)]


def _rate(RE: RunEngine, plan: Callable[[], Any], frames: int) -> float:
    start = time.perf_counter()
    RE(plan())
    return frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases = [((512, 512), 200, 50), ((2048, 2048), 40, 10)]  # shape, fly frames, count frames
    rows = [["frame", "plan", "frames", "SimCamera frames/s", "ophyd-async frames/s", "ratio"]]
    RE = RunEngine({})
    for shape, n_fly, n_count in cases:
        pool = _pool(shape)
        ours_writer, oa_writer = ZarrWriter("ours"), ZarrWriter("oa")
        ours = PoolCamera("ours", ours_writer, shape=shape, exposure=0.0, pool=pool)
        oa = SoftCamera(
            "oa", oa_writer, shape=shape, exposure=0.0, frames=lambda i, p=pool: p[i % len(p)]
        )
        call_in_bluesky_event_loop(oa.connect())
        with scratch("zs-bench-oa-") as d, Pipeline([ours, oa], base_dir=d, catalog=None) as pl:
            token = pl.subscribe(RE)
            plans: dict[str, tuple[int, Callable[[Any], Callable[[], Any]]]] = {
                "fly_scan": (n_fly, lambda det, n=n_fly: lambda: fly_scan([det], n)),
                "count": (n_count, lambda det, n=n_count: lambda: bp.count([det], num=n)),
            }
            for plan_name, (n, make) in plans.items():
                rates: dict[str, list[float]] = {"ours": [], "oa": []}
                for _ in range(args.rounds):
                    for key, det in (("ours", ours), ("oa", oa)):
                        rates[key].append(_rate(RE, make(det), n))
                a, b = statistics.median(rates["ours"]), statistics.median(rates["oa"])
                rows.append(
                    [
                        f"{shape[0]}x{shape[1]} u16",
                        plan_name,
                        str(n),
                        f"{a:,.0f}",
                        f"{b:,.0f}",
                        f"{b / a:.2f}x",
                    ]
                )
                print(rows[-1], flush=True)
            RE.unsubscribe(token)
    print(f"\nmedian of {args.rounds} interleaved rounds; ratio = ophyd-async / SimCamera")
    print(table(rows))


if __name__ == "__main__":
    main()
