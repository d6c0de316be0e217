"""When frames become readable: acquire-zarr's shards against write speed (issue 22 item 5).

acquire-zarr 0.10 has no flush: a shard's index, and the array's ``zarr.json`` shape,
are written only when the shard is complete, so a frame becomes readable (to
zarr-python, to Tiled, to ``frames_on_disk``) only with the last frame of its shard.
For the default layout and smaller shards along the frame axis, this prints:

- write speed of raw acquire-zarr, free-running, against the default layout
  (interleaved rounds, best kept);
- the delay from appending a frame to it being readable on disk (``frames_on_disk``
  polled every 5 ms) at a paced frame rate: median and maximum.

Run: ``.venv/bin/python benchmarks/bench_shards.py [--quick]``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import threading
import time
from typing import TYPE_CHECKING

import acquire_zarr as az
import numpy as np
from bench_writers import frames_for, raw_acquire_zarr, stream_settings

from zarrscribe.writers import ZarrLayout, default_layout, frames_on_disk

from _common import scratch, table

if TYPE_CHECKING:
    from pathlib import Path

POLL = 0.005
"""Seconds between two looks at the store."""


def _layouts(shape: tuple[int, int]) -> dict[str, ZarrLayout]:
    default = default_layout(shape, np.dtype(np.uint16))
    out = {f"default (t={default.frames_per_shard})": default}
    for t in (16, 8, 4, 2, 1):
        if t < default.frames_per_shard:
            out[f"t={t}"] = ZarrLayout(default.chunk_shape, default.chunks_per_shard, t)
    return out


def _stream(path: Path, layout: ZarrLayout, shape: tuple[int, int]) -> az.ZarrStream:
    return az.ZarrStream(stream_settings(path, layout, shape))


def delays(
    path: Path, frames: list[np.ndarray], layout: ZarrLayout, rate: float, n: int
) -> list[float]:
    """Seconds from each append to the frame being readable, at ``rate`` frames/s."""
    appended: list[float] = []
    readable: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:
        seen = 0
        while not done.is_set() or seen < len(appended):
            now = frames_on_disk(path).get("cam", 0)
            stamp = time.perf_counter()
            for i in range(seen, now):
                readable[i] = stamp
            seen = max(seen, now)
            if done.is_set() and seen >= len(appended):
                break
            time.sleep(POLL)

    stream = _stream(path, layout, frames[0].shape)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    for i in range(n):
        target = start + i / rate
        pause = target - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        stream.append(frames[i % len(frames)], key="cam")
        appended.append(time.perf_counter())
    # the frames of the last, partial shard become readable only at close
    full = n - n % layout.frames_per_shard
    deadline = time.perf_counter() + 30
    while len(readable) < full and time.perf_counter() < deadline:
        time.sleep(POLL)
    stream.close()
    done.set()
    watcher.join(30)
    return [readable[i] - appended[i] for i in range(full) if i in readable]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer frames and rounds")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else 4
    gib = 0.06 if args.quick else 0.25
    seconds = 3.0 if args.quick else 8.0
    rates = {(512, 512): (100.0, 10.0), (2048, 2048): (20.0, 2.0)}
    rows = [["frame", "layout", "shard MiB", "write MB/s", "vs default", "rate", "delay med/max"]]
    rng = random.Random(0)
    with scratch("zs-shards-") as d:
        for shape, shape_rates in rates.items():
            frames = frames_for(shape, 4)
            layouts = _layouts(shape)
            n = max(16, int(gib * 2**30 / frames[0].nbytes))
            speed = {name: float("inf") for name in layouts}
            for r in range(repeats):
                order = list(layouts)
                rng.shuffle(order)
                for i, name in enumerate(order):
                    target = d / f"w{r}-{i}.zarr"
                    speed[name] = min(
                        speed[name], raw_acquire_zarr(target, frames, n, layouts[name])
                    )
                    shutil.rmtree(target, ignore_errors=True)
            default = next(iter(layouts))
            for name, layout in layouts.items():
                for rate in shape_rates:
                    count = max(2 * layout.frames_per_shard, int(rate * seconds))
                    target = d / f"d-{name}-{rate}.zarr"
                    lag = delays(target, frames, layout, rate, count)
                    shutil.rmtree(target, ignore_errors=True)
                    mib = layout.frames_per_shard * frames[0].nbytes / 2**20
                    rows.append(
                        [
                            f"{shape[0]}x{shape[1]} u16",
                            name,
                            f"{mib:g}",
                            f"{n * frames[0].nbytes / speed[name] / 1e6:,.0f}",
                            f"{speed[default] / speed[name]:.2f}x",
                            f"{rate:g}/s",
                            f"{statistics.median(lag):.2f} / {max(lag):.2f} s"
                            if lag
                            else "none readable",
                        ]
                    )
            print(f"{shape}: {n} frames per write case, best of {repeats}", file=sys.stderr)
    print(table(rows))
    print("(acquire-zarr 0.10 has no flush: a frame is readable with the last frame of its shard)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
