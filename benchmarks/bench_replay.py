"""Replay throughput for many small runs (runs per second), against reading the logs alone.

Run: ``.venv/bin/python benchmarks/bench_replay.py [--runs 1000] [--catalog-runs 1000]``
(a quick look: ``--runs 200 --catalog-runs 200``).
Makes ``--runs`` small runs on disk (a document log and a real Zarr store each),
then times, in one process: reading every log (the floor), ``--check``,
regenerating every store's attributes, and rebuilding a lost catalog (against
one raw Tiled ``create_container`` per run), its cost per run and its rate against
the target of issue 20 (>= 400 runs/s warm, every document schema-checked once).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from zarrscribe.callbacks import LOG_NAME, read_document_log
from zarrscribe.catalog import Catalog
from zarrscribe.pipeline.replay import find_logs, replay_runs

from _common import progress, scratch, table
from _runs import small_run, write_log, write_store

TARGET = 400
"""Runs per second a warm replay of small runs into an empty catalog should reach."""


def make_runs(base: Path, n: int) -> list[Path]:
    logs = []
    for i in range(n):
        run_dir = base / "bench" / f"count_{i:05d}"
        run_dir.mkdir(parents=True)
        store = run_dir / "default.zarr"
        write_store(store)
        write_log(run_dir / LOG_NAME, small_run(i, store.as_uri(), array_key="cam/0"))
        logs.append(run_dir / LOG_NAME)
        progress("making runs", i + 1, n)
    return logs


def _rate(label: str, n: int, seconds: float, floor: float) -> list[str]:
    return [label, str(n), f"{seconds:.2f} s", f"{n / seconds:,.0f}", f"{seconds / floor:.1f}x"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--catalog-runs", type=int, default=1000)
    args = parser.parse_args(argv)
    rows = [["what", "runs", "time", "runs/s", "vs reading the logs"]]
    with scratch("zs-bench-replay-") as d:
        logs = make_runs(d, args.runs)

        start = time.perf_counter()
        for log in logs:
            read_document_log(log)
        floor = time.perf_counter() - start
        rows.append(_rate("read every log (floor)", len(logs), floor, floor))

        def replay(
            label: str, targets: list[Path], catalog: Catalog | None, check: bool = False
        ) -> float:
            start = time.perf_counter()
            for i, report in enumerate(
                replay_runs(targets, base_dir=d, catalog=catalog, check=check), start=1
            ):
                assert report.ok, report.error
                progress(label, i, len(targets))
            return time.perf_counter() - start

        targets: list[Path] = find_logs(d)
        t = replay("attributes", targets, None)
        rows.append(_rate("replay: write every store's attributes", len(targets), t, floor))
        t = replay("idempotent", targets, None)
        rows.append(_rate("replay again (nothing to write)", len(targets), t, floor))
        t = replay("check", targets, None, check=True)
        rows.append(_rate("replay --check", len(targets), t, floor))

        subset = targets[: args.catalog_runs]
        # Warm: a few runs into another catalog first (imports, compiled schemas), so
        # the rate is that of a process already replaying, as issue 20's target is.
        warm = Catalog.embedded(d / "warm", readable=[d])
        replay("warming up", targets[:10], warm)
        warm.close()
        catalog = Catalog.embedded(d / "catalog", readable=[d])
        catalog.client  # noqa: B018  created (and Tiled started) before timing, as for raw
        t_cat = replay("catalog rebuild", subset, catalog)
        raw = Catalog.embedded(d / "raw", readable=[d]).client
        start = time.perf_counter()
        for log in subset:
            first = read_document_log(log).documents[0][1]
            raw.create_container(key=first["uid"], metadata={"start": first})
        t_raw = time.perf_counter() - start
        rows.append(_rate("replay into an empty catalog", len(subset), t_cat, floor))
        rate = len(subset) / t_cat
        rows.append(
            [
                "  per run; against the target (issue 20)",
                "",
                f"{t_cat / len(subset) * 1e3:.2f} ms",
                f"{rate:,.0f}",
                f"{rate / TARGET:.2f}x of >= {TARGET} runs/s",
            ]
        )
        rows.append(
            [
                "  raw Tiled create_container per run",
                str(len(subset)),
                f"{t_raw:.2f} s",
                f"{len(subset) / t_raw:,.0f}",
                f"catalog rebuild = {t_cat / t_raw:.1f}x raw",
            ]
        )
        catalog.close()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
