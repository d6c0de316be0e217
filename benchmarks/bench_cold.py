"""A cold start: ``zarrscribe replay --all`` in a fresh process into an EMPTY catalog.

Run: ``.venv/bin/python benchmarks/bench_cold.py [--runs 1 200 2000] [--rounds 3]
[--old /path/to/other/.venv/bin/zarrscribe]``.

Makes the runs once (a document log and a real Zarr store each, as ``bench_replay``),
then for each size times, in interleaved rounds (median), a fresh process replaying
every run into a catalog that does not exist yet. The fixed cost before the first run
is fitted from the two largest sizes (total = fixed + per run x runs), as issue 20
measured it; the 1-run replay measures it directly. With ``--old``, the same replays
by another checkout's ``zarrscribe`` (e.g. the main branch's, before this change) are
timed in the same rounds and printed side by side. Fresh processes that only import
(the CLI; and what registering the first run imports) show how much of the fixed cost
is imports. Target: fixed cost <= 1 s (issue 20).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from zarrscribe.callbacks import LOG_NAME

from _common import compiled_like_an_install, progress, scratch, table
from _runs import small_run, write_log, write_store


def make_runs(base: Path, n: int) -> None:
    """``n`` small runs under ``base`` (as ``bench_replay`` makes them)."""
    for i in range(n):
        run_dir = base / "bench" / f"count_{i:05d}"
        run_dir.mkdir(parents=True)
        write_store(run_dir / "default.zarr")
        write_log(run_dir / LOG_NAME, small_run(i, (run_dir / "default.zarr").as_uri()))
        progress(f"making {n} runs", i + 1, n)


def _cold_replay(zarrscribe: str, runs: Path, work: Path) -> float:
    """Seconds a fresh ``zarrscribe replay --all`` takes on a copy of ``runs`` (no catalog)."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(runs, work)
    start = time.perf_counter()
    subprocess.run(
        [zarrscribe, "replay", "--all", "--base-dir", str(work)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


IMPORTS = {
    "importing the CLI (any command)": "import zarrscribe.pipeline.cli",
    "  + what registering the first run imports": (
        "import zarrscribe.pipeline.cli, zarrscribe.catalog._plan, zarrscribe.catalog._sql, "
        "zarrscribe.catalog._consolidator, bluesky_tiled_plugins.writing.tiled_writer, "
        "tiled.catalog.orm, tiled.adapters.sql"
    ),
}
"""Fresh processes that only import: the part of the fixed cost that is imports
(bluesky-tiled-plugins pulls tiled.client, dask and xarray; tiled.catalog its adapter)."""


def _imports(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def _fit(sizes: list[int], times: list[float]) -> tuple[float, float]:
    """Fixed seconds and seconds per run through the two largest sizes."""
    (n1, t1), (n2, t2) = sorted(zip(sizes, times, strict=True))[-2:]
    per_run = (t2 - t1) / (n2 - n1)
    return t1 - per_run * n1, per_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 200, 2000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old", help="another checkout's zarrscribe executable, for comparison")
    args = parser.parse_args(argv)
    compiled_like_an_install()
    sizes = sorted(set(args.runs))
    ours = str(Path(sys.executable).parent / "zarrscribe")
    commands = {"this checkout": ours} | ({"old": args.old} if args.old else {})
    with scratch("zs-bench-cold-") as d:
        folders = {}
        for n in sizes:
            folders[n] = d / f"runs{n}"
            make_runs(folders[n], n)
        times: dict[tuple[str, int], list[float]] = {(c, n): [] for c in commands for n in sizes}
        imports: dict[str, list[float]] = {label: [] for label in IMPORTS}
        for _ in range(args.rounds):
            for n in sizes:
                for name, exe in commands.items():
                    times[(name, n)].append(_cold_replay(exe, folders[n], d / "work"))
            for label, code in IMPORTS.items():
                imports[label].append(_imports(code))
    median = {key: statistics.median(v) for key, v in times.items()}
    header = ["cold replay --all into an empty catalog", *commands]
    if args.old:
        header.append("this / old")
    rows = [header]

    def row(label: str, values: list[float], unit: str = "s") -> list[str]:
        cells = [label] + [f"{v:.2f} {unit}" for v in values]
        if args.old:
            cells.append(f"{values[0] / values[1]:.2f}x")
        return cells

    for n in sizes:
        rows.append(row(f"{n:,} runs, total", [median[(c, n)] for c in commands]))
    if len(sizes) >= 2:
        fits = [_fit(sizes, [median[(c, n)] for n in sizes]) for c in commands]
        rows.append(row("fixed cost before the first run (fit)", [f[0] for f in fits]))
        rows.append(row("per run (fit)", [f[1] * 1e3 for f in fits], "ms"))
    for label, values in imports.items():  # this checkout's imports only
        rows.append([label, f"{statistics.median(values):.2f} s", *([""] * (len(header) - 2))])
    print(f"{args.rounds} interleaved rounds, median; target: fixed cost <= 1 s")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
