"""Searches of the embedded catalog at facility size: 1,000 to 1,000,000 runs.

Run: ``.venv/bin/python benchmarks/bench_search.py [--sizes 1000 10000 100000 [1000000]]``.
The catalogs are synthetic (``_catalogs.py``: built once, cached; the million-run one
takes about an hour and 5 GB, so it is asked for by name). For each size: the time to
build our search indexes on first open (a catalog of an older zarrscribe), every
documented search with them (median), the same searches without them (what an older
zarrscribe, or a read-only catalog, does), and four of them as raw Tiled searches of
the same catalog. Targets: every search at 100,000 runs <= 2x its time at 1,000, and
<= 5 ms.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zarrscribe.catalog import Catalog, embedded_catalog

from _catalogs import (
    RARE_DEVICE,
    SPACING,
    T0,
    catalog_database,
    drop_search_indexes,
    synthetic_catalog,
)
from _common import table, time_queries, timed

Search = Callable[[Catalog], object]


def searches(n: int, uid: str) -> dict[str, Search]:
    """Every documented search (``Catalog.search`` filters, ``metadata``, ``readings``),
    on a catalog of ``n`` synthetic runs; ``uid`` is one run's (in the middle)."""
    newest = T0 + (n - 4) * SPACING  # the synthetic runs start every SPACING seconds
    return {
        "newest 50 (zarrscribe runs)": lambda c: c.search(limit=50),
        "plan_name, newest 10": lambda c: c.search(plan_name="scan", limit=10),
        "scan_id": lambda c: c.search(scan_id=n // 2),
        "status abort, newest 10": lambda c: c.search(exit_status="abort", limit=10),
        "since the last hour, newest 50": lambda c: c.search(since=newest - 3600, limit=50),
        "until the middle, newest 10": lambda c: c.search(
            until=newest - n * SPACING / 2, limit=10
        ),
        "a day in the middle, newest 10": lambda c: c.search(
            since=newest - n * SPACING / 2 - 86400, until=newest - n * SPACING / 2, limit=10
        ),
        "uid prefix (8 characters)": lambda c: c.search(uid=uid[:8]),
        "metadata(uid prefix)": lambda c: c.metadata(uid[:8]),
        "readings(uid)": lambda c: c.readings(uid),
        "device in 1 run of 10, newest 10": lambda c: c.search(device="det2", limit=10),
        "key sample=s3, newest 10": lambda c: c.search(sample="s3", limit=10),
        "device in 1 run of 10,000, newest 10": lambda c: c.search(device=RARE_DEVICE, limit=10),
    }


NOT_INDEXED = 2
"""The last searches of ``searches``: filters no index serves (checked run by run)."""


def _median(fn: Callable[[], object], rounds: int) -> float:
    return statistics.median(timed(fn) for _ in range(rounds))


def _index_bytes(database: Path) -> int:
    with sqlite3.connect(database) as db:
        (size,) = db.execute(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'zarrscribe%'"
        ).fetchone()
    db.close()
    return int(size)


def measure(n: int, rounds: int, before_rounds: int) -> dict[str, Any]:
    base = synthetic_catalog(n)
    database = catalog_database(base)
    drop_search_indexes(database)  # as an older zarrscribe left it
    started = time.perf_counter()
    catalog = embedded_catalog(base)  # builds them
    build = time.perf_counter() - started
    out: dict[str, Any] = {"build": build, "index MiB": _index_bytes(database) / 2**20}
    try:
        assert catalog._local is not None
        assert catalog._local.indexed
        uid = catalog.search(scan_id=n // 2 + 1)[0].uid
        cases = searches(n, uid)
        out["ours"] = {k: _median(lambda f=f: f(catalog), rounds) for k, f in cases.items()}
        if before_rounds:
            out["raw"] = {  # the same catalog through Tiled's client, interleaved
                label: (raw, mine)
                for label, raw, mine in time_queries(
                    catalog, catalog.client, uid[:8], before_rounds
                )
            }
            drop_search_indexes(database)
            catalog._local.indexed = False
            out["before"] = {
                k: _median(lambda f=f: f(catalog), before_rounds) for k, f in cases.items()
            }
    finally:
        catalog.close()
        drop_search_indexes(database)
    print(f"  {n:,} runs measured", file=sys.stderr, flush=True)
    return out


def _ms(t: float) -> str:
    return f"{t * 1e3:,.1f} ms" if t < 10 else f"{t * 1e3:,.0f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--before-up-to",
        type=int,
        default=100_000,
        help="also time searches without our indexes, and raw Tiled, up to this size",
    )
    args = parser.parse_args(argv)
    sizes = sorted(args.sizes)
    results = {
        n: measure(n, args.rounds, (5 if n <= 10_000 else 3) if n <= args.before_up_to else 0)
        for n in sizes
    }
    first, last = sizes[0], sizes[-1]
    mid = 100_000 if 100_000 in results else last
    head = ["search (median)", *(f"{n:,} runs" for n in sizes), f"{mid:,} / {first:,}"]
    rows = [head]
    for k, name in enumerate(results[first]["ours"]):
        times = [results[n]["ours"][name] for n in sizes]
        ratio = results[mid]["ours"][name] / results[first]["ours"][name]
        note = " (no index)" if k >= len(results[first]["ours"]) - NOT_INDEXED else ""
        rows.append([name + note, *map(_ms, times), f"{ratio:.2f}x"])
    rows.append(
        ["build the indexes, first open", *(f"{results[n]['build']:.1f} s" for n in sizes), ""]
    )
    rows.append(["  their size", *(f"{results[n]['index MiB']:.1f} MiB" for n in sizes), ""])
    print(table(rows))
    measured = [n for n in sizes if "before" in results[n]]
    if measured:
        rows = [["without our indexes (as before)", *(f"{n:,} runs" for n in measured), "x ours"]]
        for name in results[first]["before"]:
            times = [results[n]["before"][name] for n in measured]
            n = measured[-1]
            rows.append([name, *map(_ms, times), f"{times[-1] / results[n]['ours'][name]:.0f}x"])
        print()
        print(table(rows))
        rows = [["raw Tiled search vs ours", *(f"{n:,} runs" for n in measured)]]
        for label in results[first]["raw"]:
            cells = []
            for n in measured:
                raw, mine = results[n]["raw"][label]
                cells.append(f"{_ms(raw)} vs {_ms(mine)} ({mine / raw:.3f}x)")
            rows.append([label, *cells])
        print()
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
