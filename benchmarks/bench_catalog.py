"""The catalog alone: registration per run, and bulk registration (searches of big
catalogs: ``bench_search.py``).

Run: ``.venv/bin/python benchmarks/bench_catalog.py [--runs 1000]``.
Every figure is a ratio to raw Tiled calls measured in the same process:

- one run registered (``Catalog.register_run``, direct SQL) against one raw
  ``create_container`` of the same start metadata through the in-process app
  (target <= 3x), and against ``TiledWriter`` through HTTP (what it replaced);
- ``register_runs`` of ``--runs`` prepared runs into an empty embedded catalog
  (target >= 400 runs/s warm, issue 20, every document schema-checked once),
  against raw ``create_container`` per run, and per run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from zarrscribe.catalog import Catalog

from _common import progress, scratch, table, timed
from _runs import Documents, small_run

TARGET = 400
"""Runs per second ``register_runs`` of small runs should reach (issue 20)."""


def _metadata(docs: Documents) -> dict[str, Any]:
    """Run metadata the size of the pipeline's (``catalog_metadata``)."""
    start = docs[0][1]
    return {
        "zarrscribe": {
            "exit_status": "success",
            "devices": ["cam", "m1"],
            "device_set": {"cam": True, "m1": True},
            "stores": [f"run{start['scan_id']}.zarr"],
            "arrays": {"cam": {"shape": [3, 8, 8], "dtype": "uint16", "uri": "file:///x"}},
            "log": f"/data/run{start['scan_id']}/documents.jsonl",
        }
    }


def _runs(d: Path, n: int, offset: int = 0) -> list[tuple[Documents, dict[str, Any]]]:
    out = []
    for i in range(offset, offset + n):
        docs = small_run(i, (d / f"run{i}.zarr").as_uri())
        out.append((docs, _metadata(docs)))
    return out


def _tiled_writer(catalog: Catalog, docs: Documents, metadata: dict[str, Any]) -> None:
    from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter

    writer = TiledWriter(catalog.client)
    for name, doc in docs:
        writer(name, doc)
    catalog.client[docs[0][1]["uid"]].update_metadata(metadata=metadata, drop_revision=True)


def bench_registration(d: Path, n_single: int, n_bulk: int) -> list[list[str]]:
    from zarrscribe.catalog import install_zarr_consolidator

    install_zarr_consolidator()
    rows = []
    ours = Catalog.embedded(d / "single", readable=[d])
    raw = Catalog.embedded(d / "raw", readable=[d])
    via_http = Catalog.embedded(d / "http", readable=[d])
    single = _runs(d, n_single)
    t_ours, t_raw, t_http = [], [], []
    for i, (docs, metadata) in enumerate(single):  # interleaved rounds
        start = docs[0][1]
        t_raw.append(
            timed(lambda s=start: raw.client.create_container(key=s["uid"], metadata={"start": s}))
        )
        t_ours.append(timed(lambda r=(docs, metadata): ours.register_run(*r)))
        if i < max(5, n_single // 10):
            t_http.append(timed(lambda r=(docs, metadata): _tiled_writer(via_http, *r)))
        progress("one run at a time", i + 1, n_single)
    raw_ms = statistics.median(t_raw) * 1e3
    ours_ms = statistics.median(t_ours) * 1e3
    http_ms = statistics.median(t_http) * 1e3
    rows.append(
        [
            f"register one run ({n_single} runs, median)",
            f"{raw_ms:.1f} ms",
            f"{ours_ms:.1f} ms",
            f"{ours_ms / raw_ms:.2f}x (target <= 3x)",
        ]
    )
    rows.append(
        [
            f"  TiledWriter via HTTP ({len(t_http)} runs, median)",
            f"{raw_ms:.1f} ms",
            f"{http_ms:.1f} ms",
            f"{http_ms / raw_ms:.1f}x",
        ]
    )
    for c in (ours, raw, via_http):
        c.close()

    bulk = _runs(d, n_bulk, offset=n_single)
    ours = Catalog.embedded(d / "bulk", readable=[d])
    raw = Catalog.embedded(d / "bulk-raw", readable=[d])
    t_bulk = timed(lambda: ours.register_runs(bulk))
    assert len(ours) == n_bulk
    start_docs = [docs[0][1] for docs, _ in bulk]
    t_raw_bulk = timed(
        lambda: [
            raw.client.create_container(key=s["uid"], metadata={"start": s}) for s in start_docs
        ]
    )
    rows.append(
        [
            f"register_runs, {n_bulk} runs into an empty catalog",
            f"{n_bulk / t_raw_bulk:,.0f} runs/s",
            f"{n_bulk / t_bulk:,.0f} runs/s",
            f"{t_bulk / t_raw_bulk:.2f}x time (target >= {TARGET} runs/s)",
        ]
    )
    rows.append(
        [
            "  per run; against the target (issue 20)",
            f"{t_raw_bulk / n_bulk * 1e3:.2f} ms",
            f"{t_bulk / n_bulk * 1e3:.2f} ms",
            f"{n_bulk / t_bulk / TARGET:.2f}x of {TARGET} runs/s",
        ]
    )
    ours.close()
    raw.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single", type=int, default=100, help="runs registered one by one")
    parser.add_argument("--runs", type=int, default=1000, help="runs registered in bulk")
    args = parser.parse_args(argv)
    with scratch("zs-bench-catalog-") as d:
        rows = bench_registration(d, args.single, args.runs)
    print(table([["catalog", "raw Tiled", "zarrscribe", "ratio"], *rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
