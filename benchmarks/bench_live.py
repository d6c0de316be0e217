"""Cost of live catalog entries, and how soon a frame on disk is readable through the catalog.

Run: ``.venv/bin/python benchmarks/bench_live.py [--rounds 5] [--points 300] [--frames 256]``
(``--quick``: 2 rounds, fewer points and frames).

1. RunEngine time of a 300-point scalar scan (light + motor) and of a camera fly scan
   (512² uint16, the default layout: 64 frames a shard), with live entries
   (``Pipeline(live_interval=2.0)``, the default) against without (``live_interval=None``),
   each in its own data folder and embedded catalog, in interleaved rounds; each run's
   registration is waited for outside the timing, so only what happens during the run
   counts. Target: at most 1.05x.
2. Delay from a frame readable on disk (its shard complete: ``frames_on_disk``) to the
   same frame readable through the catalog (the live entry's array shape), polled every
   10 ms by another thread (live entries every 2 s, the default), for the default layout
   and for ``shard_frames=16``: median and maximum over the shards of a fly scan.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from bluesky import RunEngine, plans as bp

from zarrscribe.catalog import Catalog, CatalogError
from zarrscribe.pipeline import Pipeline, SimCamera, SimLight, SimMotor, fly_scan
from zarrscribe.pipeline._live import LIVE_INTERVAL
from zarrscribe.writers import ZarrWriter, frames_on_disk
from zarrscribe.writers.model import ATTRIBUTES_KEY

from _common import scratch, table, timed

FRAME = (512, 512)


def _rig(base: Path, live: float | None, shard_frames: int | None = None) -> dict[str, Any]:
    writer = ZarrWriter("default", shard_frames=shard_frames)
    cam = SimCamera("cam1", writer, shape=FRAME, exposure=0.01, seed=1)
    light, motor = SimLight("light"), SimMotor("m1", velocity=1000.0)
    pipeline = Pipeline([cam, light, motor], base_dir=base, live_interval=live)
    RE = RunEngine({})
    pipeline.subscribe(RE)
    return {"RE": RE, "pipeline": pipeline, "cam": cam, "light": light, "motor": motor}


def bench_cost(
    root: Path, rounds: int, points: int, frames: int, interval: float
) -> list[list[str]]:
    rigs = {"off": _rig(root / "off", None), "live": _rig(root / "live", interval)}
    plans = {
        f"scalar scan, {points} points": lambda r: bp.scan([r["light"]], r["motor"], 0, 1, points),
        f"camera fly scan, {frames} frames 512²": lambda r: fly_scan(
            [r["cam"]], frames, collect_every=0.05
        ),
    }
    times: dict[tuple[str, str], list[float]] = {}
    for rig in rigs.values():  # warm up: the catalog made, Tiled imported and opened
        rig["RE"](bp.count([rig["light"]], num=1))
        assert rig["pipeline"].flush(300)
    for i in range(rounds):
        for what, plan in plans.items():
            order = ["off", "live"] if i % 2 == 0 else ["live", "off"]
            for mode in order:
                rig = rigs[mode]
                run = rig["RE"]
                made = plan(rig)
                times.setdefault((what, mode), []).append(timed(lambda: run(made)))  # noqa: B023
                assert rig["pipeline"].flush(300)
        print(f"  round {i + 1}/{rounds}", flush=True)
    rows = [["RunEngine time per run (median)", "without", "with live entries", "ratio"]]
    for what in plans:
        off = statistics.median(times[(what, "off")])
        live = statistics.median(times[(what, "live")])
        rows.append([what, f"{off:.3f} s", f"{live:.3f} s", f"{live / off:.3f}x"])
    written = rigs["live"]["pipeline"].live.written
    rows.append([f"live entries written (every {interval:g} s)", "", str(written), ""])
    for rig in rigs.values():
        rig["pipeline"].close()
    return rows


def bench_delay(root: Path, frames: int, shard_frames: int | None) -> list[str]:
    base = root / f"delay-{shard_frames or 'default'}"
    rig = _rig(base, LIVE_INTERVAL, shard_frames)
    rig["RE"](bp.count([rig["light"]], num=1))  # the catalog made
    assert rig["pipeline"].flush(300)
    on_disk: dict[int, float] = {}
    in_catalog: dict[int, float] = {}
    stop = threading.Event()

    def watch() -> None:
        catalog: Catalog | None = None
        while not stop.is_set():
            now = time.monotonic()
            for store in base.glob("default/fly_scan_*/default.zarr"):
                n = frames_on_disk(store).get("cam1/0", 0)
                on_disk.setdefault(n, now)
            try:
                catalog = catalog or Catalog.from_folder(base)
                found = catalog.search(plan_name="fly_scan", limit=1)
                if found:
                    ours = catalog.metadata(found[0].uid)[ATTRIBUTES_KEY]
                    array = ours["arrays"].get("cam1")
                    if array and ours["exit_status"] == "running":
                        in_catalog.setdefault(int(array["shape"][0]), now)
            except CatalogError:
                pass
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    rig["RE"](fly_scan([rig["cam"]], frames, collect_every=0.05))
    stop.set()
    watcher.join()
    rig["pipeline"].close()
    delays = []
    for n, seen in sorted(on_disk.items()):
        if n == 0 or n == frames:  # (the last shard is complete only at close)
            continue
        later = [t for m, t in in_catalog.items() if m >= n]
        if later:
            delays.append(min(later) - seen)
    layout = f"shard_frames={shard_frames}" if shard_frames else "default layout (64 a shard)"
    if not delays:
        return [f"512² fly scan, {layout}", "-", "-", "0 shards seen before the stop"]
    return [
        f"512² fly scan, {layout}",
        f"{statistics.median(delays):.2f} s",
        f"{max(delays):.2f} s",
        f"{len(delays)} shards",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument(
        "--interval",
        type=float,
        default=LIVE_INTERVAL,
        help="live_interval of the cost rounds (default: the pipeline's; a 300-point scan "
        "lasts about 1 s, so give 0.2 to see it updated)",
    )
    parser.add_argument("--quick", action="store_true", help="2 rounds, fewer frames")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.frames = 2, 192
    with scratch("zs-bench-live-") as root:
        print(table(bench_cost(root, args.rounds, args.points, args.frames, args.interval)))
        print()
        rows = [["frame on disk -> through the catalog", "median", "max", "over"]]
        rows.append(bench_delay(root, args.frames, None))
        rows.append(bench_delay(root, args.frames, 16))
        print(table(rows))


if __name__ == "__main__":
    main()
