"""Shared helpers for the benchmarks (not part of the package)."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from zarrscribe.catalog import Catalog

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@contextmanager
def scratch(prefix: str, root: Path | None = None) -> Iterator[Path]:
    """A temporary folder (in ``root``, else on the same disk as the project), removed
    afterwards."""
    root = root or Path(os.environ.get("ZARRSCRIBE_BENCH_DIR", tempfile.gettempdir()))
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def compiled_like_an_install() -> None:
    """Write the package's bytecode, as ``pip install`` of the wheel does.

    Cold-process timings are a user's second start, not a checkout's first: an editable
    install compiles nothing, and a shell with ``PYTHONDONTWRITEBYTECODE=1`` (this
    machine's) would make every fresh process compile our ~60 modules again (~50 ms).
    """
    import compileall
    import importlib

    for room in ("writers", "callbacks", "catalog", "pipeline"):
        package = importlib.import_module(f"zarrscribe.{room}")
        compileall.compile_dir(str(Path(package.__file__ or ".").parent), quiet=1)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def progress(label: str, i: int, n: int) -> None:
    """``label: i/n`` on one line of stderr, rewritten about 20 times over ``n`` steps."""
    if i % max(1, n // 20) == 0 or i == n:
        print(f"\r  {label}: {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)


def newest10(results: Any) -> list[Any]:
    """Plain Tiled calls: the metadata of the 10 newest runs of a container or search."""
    return [node.metadata for _, node in results.sort(("start.time", -1)).items()[:10]]


def time_queries(
    ours: Catalog, raw: Any, uid_prefix: str, n_queries: int, *, device: str | None = None
) -> list[tuple[str, float, float]]:
    """Our catalog's searches against the same searches made with plain Tiled calls on
    ``raw`` (a Tiled client of a catalog holding the same runs): per search its label,
    the median seconds of the raw call and of ours, over ``n_queries`` interleaved rounds.
    With ``device``, the last search is ours by device (against the raw newest 10)."""
    from tiled.client.container import Container
    from tiled.queries import Eq, Like

    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            "plan_name, newest 10",
            lambda: ours.search(plan_name="scan", limit=10),
            lambda: newest10(Container.search(raw, Eq("start.plan_name", "scan"))),
        ),
        (
            "start key sample, newest 10",
            lambda: ours.search(sample="s3", limit=10),
            lambda: newest10(Container.search(raw, Eq("start.sample", "s3"))),
        ),
        (
            "uid prefix",
            lambda: ours.search(uid=uid_prefix),
            lambda: newest10(Container.search(raw, Like("start.uid", uid_prefix + "%"))),
        ),
        (
            "newest 10" if device is None else "device, newest 10",
            lambda: ours.search(device=device, limit=10),  # device None: no filter
            lambda: newest10(raw),
        ),
    ]
    medians = []
    for label, mine, theirs in cases:
        t_ours, t_raw = [], []
        for _ in range(n_queries):  # interleaved
            t_raw.append(timed(theirs))
            t_ours.append(timed(mine))
        medians.append((label, statistics.median(t_raw), statistics.median(t_ours)))
    return medians


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
