"""The command line from a cold process: ``--help``, ``runs`` and ``show`` on a catalog of
1,000 runs, as ratios to ``python -c pass`` and to a fresh-process raw Tiled query of the
same catalog (interleaved rounds, median)."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from zarrscribe.pipeline import embedded_catalog

from _common import scratch, table
from _runs import small_run

RAW_QUERY = """
import sys
from tiled.catalog import from_uri
from tiled.client import from_context
from tiled.client.context import Context
from tiled.server.app import build_app
d = sys.argv[1]
adapter = from_uri(f"sqlite:///{d}/.zarrscribe/catalog/catalog.db", readable_storage=[d])
client = from_context(Context.from_app(build_app(adapter)))
for key, node in client.sort(("start.time", -1)).items()[:50]:
    node.metadata
"""


def _cold(argv: list[str]) -> float:
    import time

    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    exe = Path(sys.executable)
    zarrscribe = str(exe.parent / "zarrscribe")
    with scratch("zs-bench-cli-") as d:
        catalog = embedded_catalog(d)
        entries = [
            (docs, {})
            for docs in (small_run(i, (d / f"r{i}.zarr").as_uri()) for i in range(args.runs))
        ]
        uids = catalog.register_runs(entries)
        catalog.close()
        cases = {
            "python -c pass": [str(exe), "-c", "pass"],
            "zarrscribe --help": [zarrscribe, "--help"],
            "raw Tiled query, fresh process": [str(exe), "-c", RAW_QUERY, str(d)],
            "zarrscribe runs": [zarrscribe, "runs", "--base-dir", str(d)],
            "zarrscribe show UID": [zarrscribe, "show", uids[-1][:8], "--base-dir", str(d)],
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.rounds):
            for name, command in cases.items():
                times[name].append(_cold(command))
    median = {k: statistics.median(v) for k, v in times.items()}
    rows = [["what", "median", "vs python -c pass", "vs raw Tiled query"]]
    for name, t in median.items():
        rows.append(
            [
                name,
                f"{t * 1e3:.0f} ms",
                f"{t / median['python -c pass']:.1f}x",
                f"{t / median['raw Tiled query, fresh process']:.2f}x",
            ]
        )
    print(f"{args.runs}-run embedded catalog, {args.rounds} interleaved rounds")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
