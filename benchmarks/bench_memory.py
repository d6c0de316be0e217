"""Push-back under a burst faster than the disk: peak memory and throughput, with and without.

Run: ``.venv/bin/python benchmarks/bench_memory.py [--frames 1000] [--limit-mib 600]``.
Each case runs in a fresh process (so its peak is its own), the cases interleaved
round by round; the ratios compare cases of the same run on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import scratch, table

MB = 1e6
MiB = 2**20


def child(path: Path, frames: int, limit: int | None, compressed: bool) -> None:
    """One burst in this process; print seconds, peak anonymous memory and waits as JSON."""
    import numpy as np

    from zarrscribe.writers import Compression, ZarrWriter
    from zarrscribe.writers._memory import anonymous_memory

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:2048, :2048]
    base = (1000 + 500 * np.sin(xx / 37.0) * np.cos(yy / 23.0)).astype(np.float32)
    data = [(base + rng.poisson(100, size=base.shape)).astype(np.uint16) for _ in range(4)]
    del yy, xx, base
    before = anonymous_memory() or 0
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], anonymous_memory() or 0)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    writer = ZarrWriter(
        "bench", max_memory=limit, compression=Compression() if compressed else None
    )
    writer.set_uri(str(path))
    writer.register("cam", np.uint16, (2048, 2048))
    writer.open("cam")
    start = time.perf_counter()
    for i in range(frames):
        writer.write_frame("cam", data[i % len(data)])
    writer.close()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak": peak[0],
                "before": before,
                "waited": writer.throttled_seconds,
            }
        )
    )


def run_case(
    target: Path, frames: int, limit: int | None, compressed: bool, env: dict[str, str]
) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            str(target),
            "--frames",
            str(frames),
            "--limit",
            str(limit or 0),
            *(["--compressed"] if compressed else []),
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--frames", type=int, default=1000, help="2048x2048 uint16 frames per burst"
    )
    parser.add_argument(
        "--limit-mib", type=int, default=600, help="max_memory of the bounded cases"
    )
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds; best kept")
    parser.add_argument("--compressed", action="store_true", help="blosc lz4 instead of raw")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.frames, args.limit or None, args.compressed)
        return 0
    limit = args.limit_mib * MiB
    cases: dict[str, tuple[int | None, dict[str, str]]] = {
        "max_memory=None (no push-back)": (None, {}),
        f"max_memory={args.limit_mib} MiB": (limit, {}),
        f"max_memory={args.limit_mib} MiB, MALLOC_ARENA_MAX=2": (limit, {"MALLOC_ARENA_MAX": "2"}),
    }
    best: dict[str, dict[str, float]] = {}
    with scratch("zs-bench-mem-") as d:
        for r in range(args.repeats):
            for i, (name, (case_limit, env)) in enumerate(cases.items()):
                result = run_case(
                    d / f"{r}-{i}.zarr", args.frames, case_limit, args.compressed, env
                )
                old = best.get(name)
                if old is None or result["seconds"] < old["seconds"]:
                    best[name] = {**result, "peak": max(result["peak"], (old or result)["peak"])}
                subprocess.run(["rm", "-rf", str(d / f"{r}-{i}.zarr")], check=True)
    base = best["max_memory=None (no push-back)"]
    nbytes = args.frames * 2048 * 2048 * 2
    rows = [
        [
            "burst of 2048x2048 u16" + (" blosc" if args.compressed else ""),
            "frames",
            "MB/s incl. close",
            "peak anon MiB",
            "peak / limit",
            "speed vs none",
            "waited s",
        ]
    ]
    for name, res in best.items():
        case_limit = cases[name][0]
        rows.append(
            [
                name,
                str(args.frames),
                f"{nbytes / res['seconds'] / MB:,.0f}",
                f"{res['peak'] / MiB:,.0f}",
                f"{res['peak'] / case_limit:.2f}x" if case_limit else "-",
                f"{base['seconds'] / res['seconds']:.2f}x",
                f"{res['waited']:.1f}",
            ]
        )
    print(table(rows))
    print(f"(anonymous memory before the burst: {base['before'] / MiB:,.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
