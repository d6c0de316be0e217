"""The command line from a cold process: ``--help``, ``runs`` and ``show`` on catalogs of
1,000 and 100,000 runs (synthetic, cached: ``_catalogs.py``), as ratios to ``python -c
pass`` and to a fresh-process raw Tiled query of the same catalog (interleaved rounds,
median); and the first ``runs`` on a catalog an older zarrscribe left (it builds the
search indexes). Target: ``runs`` and ``show`` <= 0.3 s at 100,000 runs. The package's
bytecode is written first, as installing the wheel does."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from _catalogs import catalog_database, drop_search_indexes, synthetic_catalog
from _common import compiled_like_an_install, table

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


def _a_uid(base: Path) -> str:
    import sqlite3

    with sqlite3.connect(catalog_database(base)) as db:
        (uid,) = db.execute("SELECT key FROM nodes WHERE parent = 0 ORDER BY id DESC").fetchone()
    db.close()
    return str(uid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    compiled_like_an_install()
    exe = Path(sys.executable)
    zarrscribe = str(exe.parent / "zarrscribe")
    for n in args.runs:
        base = synthetic_catalog(n)
        drop_search_indexes(catalog_database(base))  # as an older zarrscribe left it
        first = _cold([zarrscribe, "runs", "--base-dir", str(base)])  # builds them
        uid = _a_uid(base)
        cases = {
            "python -c pass": [str(exe), "-c", "pass"],
            "zarrscribe --help": [zarrscribe, "--help"],
            "raw Tiled query, fresh process": [str(exe), "-c", RAW_QUERY, str(base)],
            "zarrscribe runs": [zarrscribe, "runs", "--base-dir", str(base)],
            "zarrscribe show UID": [zarrscribe, "show", uid[:8], "--base-dir", str(base)],
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
        rows.append(
            ["first runs after an upgrade (builds indexes)", f"{first * 1e3:.0f} ms", "", ""]
        )
        print(f"{n:,}-run embedded catalog, {args.rounds} interleaved rounds")
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
