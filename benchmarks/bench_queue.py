"""The registration queue's cost per run while runs wait: no catalog, or one that is down.

Run: ``.venv/bin/python benchmarks/bench_queue.py [--pending 100 1000 10000] [--runs 300]``.
With ``--pending`` jobs already queued, ``--runs`` more runs are submitted one by one
(what the pipeline does on the RunEngine thread at each run's end) and timed; the
figure is the time per submit, as a ratio to writing the same job file by hand (its
floor) and to the time per submit with the fewest jobs pending (target: flat).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from zarrscribe.catalog import Catalog, CatalogUnavailableError, RegistrationQueue

from _common import scratch, table, timed


def _never(log: Path) -> Any:
    raise AssertionError("no run is registered while the catalog is away")


def _down() -> Catalog:
    raise CatalogUnavailableError("the catalog is down (refused at once)")


def _job_file(folder: Path, uid: str, log: Path) -> None:
    """The floor: one job file written and renamed into place (its fsync is left to the
    background, as the queue does)."""
    path = folder / f"{uid}.json"
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps({"uid": uid, "log": str(log)}))
    os.replace(tmp, path)


def per_submit(d: Path, pending: int, runs: int) -> dict[str, tuple[float, float]]:
    """Median and mean seconds of one ``submit`` with ``pending`` jobs already queued, with
    no catalog and with one that is down, and of one job file written by hand;
    interleaved (the mean too: a submit held up by the worker is paid by a run)."""
    log = d / "documents.jsonl"
    (d / "by hand").mkdir()
    queues = {
        name: RegistrationQueue(catalog, d / name, _never, retry_initial=0.5, retry_max=30)
        for name, catalog in (("none", None), ("down", _down))
    }
    times: dict[str, list[float]] = {"by hand": [], **{name: [] for name in queues}}
    try:
        for queue in queues.values():
            for i in range(pending):
                queue.submit(f"pending-{i:07d}", log)
        for i in range(runs):
            uid = f"timed-{i:07d}"
            times["by hand"].append(timed(lambda u=uid: _job_file(d / "by hand", u, log)))
            for name, queue in queues.items():
                times[name].append(timed(lambda q=queue, u=uid: q.submit(u, log)))
    finally:
        for queue in queues.values():
            queue.close(0.1)
    return {name: (statistics.median(t), statistics.mean(t)) for name, t in times.items()}


def _cell(times: tuple[float, float], floor: float) -> str:
    median, mean = times
    return f"{median * 1e6:.0f} µs ({median / floor:.1f}x; mean {mean * 1e6:.0f} µs)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pending", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--runs", type=int, default=300, help="submits timed at each size")
    parser.add_argument(
        "--dir", type=Path, default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    )
    args = parser.parse_args(argv)
    rows = [["jobs pending", "job file by hand", "no catalog", "catalog down", "vs fewest"]]
    first: dict[str, float] = {}
    for pending in args.pending:
        with scratch("zs-bench-queue-", args.dir) as d:
            cost = per_submit(d, pending, args.runs)
        for name, (median, _) in cost.items():
            first.setdefault(name, median)
        floor = cost["by hand"][0]

        rows.append(
            [
                f"{pending:,}",
                f"{floor * 1e6:.0f} µs",
                _cell(cost["none"], floor),
                _cell(cost["down"], floor),
                f"{cost['none'][0] / first['none']:.2f}x / "
                f"{cost['down'][0] / first['down']:.2f}x (target: flat)",
            ]
        )
        print(f"  {pending:,} pending done", file=sys.stderr, flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
