"""Run every benchmark in turn: ``make bench`` (each prints ratios measured side by side)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = [
    "bench_writers.py",
    "bench_memory.py",
    "bench_shards.py",
    "bench_logs.py",
    "bench_pipeline.py",
    "bench_live.py",
    "bench_replay.py",
    "bench_catalog.py",
    "bench_search.py",
    "bench_queue.py",
    "bench_cli.py",
    "bench_cold.py",
    "bench_bus.py",
    "bench_workers.py",
    "bench_ophyd_async.py",
    "bench_derived.py",
    "bench_serve.py",
]


def main() -> int:
    status = 0
    for name in BENCHMARKS:
        if not (HERE / name).exists():
            continue
        print(f"\n=== {name} ===", flush=True)
        status |= subprocess.call([sys.executable, str(HERE / name)])
    return status


if __name__ == "__main__":
    sys.exit(main())
