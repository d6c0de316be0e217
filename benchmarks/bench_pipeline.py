"""Cost of the pipeline: callbacks per event and per run, catalog registration and queries.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--events 2000] [--runs 1000]``.
Every number is a ratio to a baseline measured in the same run: the bare
RunEngine for the callbacks, raw Tiled client calls for the catalog.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bluesky import RunEngine, plans as bp

from zarrscribe.catalog import Catalog
from zarrscribe.pipeline import Pipeline, SimCamera, SimLight, SimMotor
from zarrscribe.writers import SYNC_WINDOW, ZarrWriter
from zarrscribe.writers.model import RunProjection, RunRecord

from _common import progress, scratch, table, time_queries, timed
from _runs import small_run


class _BareWriterHandling:
    """The least any system must do for a camera: a URI per run, close at stop."""

    def __init__(self, writer: ZarrWriter, root: Path) -> None:
        self._writer, self._root = writer, root

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        if name == "start":
            self._writer.set_uri(str(self._root / f"{doc['uid']}.zarr"))
        elif name == "stop":
            self._writer.close()
            self._writer.clear_sources()


def bench_callbacks(n_events: int, n_runs: int) -> list[list[str]]:
    rows = []
    light, motor = SimLight("light"), SimMotor("m1")
    with scratch("zs-bench-cb-") as d:
        # --- per event: a long count of a light and a motor position
        bare = RunEngine({})
        t_bare = timed(lambda: bare(bp.scan([light], motor, 0, 1, n_events)))
        RE = RunEngine({})
        pipeline = Pipeline([light, motor], base_dir=d / "events", catalog=None)
        pipeline.subscribe(RE)
        t_pipe = timed(lambda: RE(bp.scan([light], motor, 0, 1, n_events)))
        pipeline.close(0.1)
        rows.append(
            [
                f"per event ({n_events} events, light + motor)",
                f"{t_bare / n_events * 1e6:.0f} µs",
                f"{t_pipe / n_events * 1e6:.0f} µs",
                f"+{(t_pipe - t_bare) / n_events * 1e6:.0f} µs",
                f"{t_pipe / t_bare:.2f}x",
            ]
        )

        def many(engine: RunEngine) -> float:
            start = time.perf_counter()
            for i in range(n_runs):
                engine(bp.count([light], num=1))
                progress("short runs", i + 1, n_runs)
            return time.perf_counter() - start

        # --- per run with a camera: against the minimum writer handling
        writer = ZarrWriter()
        cam = SimCamera("cam", writer, shape=(64, 64), exposure=0.0)
        bare = RunEngine({})
        bare.subscribe(_BareWriterHandling(writer, d / "bare"))
        t_bare = many(_with_camera(bare, cam))
        RE = RunEngine({})
        pipeline = Pipeline([cam], base_dir=d / "cam", catalog=None)
        pipeline.subscribe(RE)
        t_pipe = many(_with_camera(RE, cam))
        pipeline.close(0.1)
        rows.append(
            [
                f"per run ({n_runs} runs, one camera, 1 frame)",
                f"{t_bare / n_runs * 1e3:.2f} ms",
                f"{t_pipe / n_runs * 1e3:.2f} ms",
                f"+{(t_pipe - t_bare) / n_runs * 1e3:.2f} ms",
                f"{t_pipe / t_bare:.2f}x",
            ]
        )
    return rows


def _in_loop(engine: RunEngine, fn: Callable[[], Any]) -> Any:
    """``fn()`` called on the RunEngine's own thread (its event loop)."""

    async def call() -> Any:
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), engine.loop).result()


def _thread_usage() -> tuple[float, int]:
    """CPU seconds and context switches of the calling thread so far."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return time.thread_time(), usage.ru_nvcsw + usage.ru_nivcsw


def bench_per_run(rounds: int, runs: int, windows: list[float]) -> list[list[str]]:
    """Short runs without a camera (log, fsyncs, folders, registration job): the bare
    RunEngine and a pipeline per fsync window, ``runs`` runs each per round, in a new
    order every round; the ratio is the median of the rounds' ratios (robust to a
    machine busy with other work), the CPU and context switches are the RunEngine
    thread's."""
    light = SimLight("light")
    rows = []
    with scratch("zs-bench-run-") as d:
        engines: dict[str, tuple[RunEngine, Pipeline | None]] = {"bare": (RunEngine({}), None)}
        for window in windows:
            engine = RunEngine({})
            pipeline = Pipeline(
                [light], base_dir=d / str(window), catalog=None, sync_window=window
            )
            pipeline.subscribe(engine)
            engines[f"{window * 1e3:g} ms"] = (engine, pipeline)
        wall: dict[str, list[float]] = {name: [] for name in engines}
        ratio: dict[str, list[float]] = {name: [] for name in engines}
        cpu: dict[str, list[float]] = {name: [] for name in engines}
        switches: dict[str, list[float]] = {name: [] for name in engines}
        try:
            for engine, _ in engines.values():  # warm up
                for _ in range(3):
                    engine(bp.count([light], num=1))
            for r in range(rounds):
                order = list(engines)
                random.shuffle(order)
                this: dict[str, float] = {}
                for name in order:
                    engine, pipeline = engines[name]
                    cpu0, cs0 = _in_loop(engine, _thread_usage)
                    start = time.perf_counter()
                    for _ in range(runs):
                        engine(bp.count([light], num=1))
                    this[name] = (time.perf_counter() - start) / runs
                    cpu1, cs1 = _in_loop(engine, _thread_usage)
                    if pipeline is not None:  # its fsyncs done before the next one runs
                        pipeline.flush(30)
                    wall[name].append(this[name])
                    cpu[name].append((cpu1 - cpu0) / runs)
                    switches[name].append((cs1 - cs0) / runs)
                for name in engines:
                    ratio[name].append(this[name] / this["bare"])
                progress("rounds of short runs", r + 1, rounds)
        finally:
            for _, pipeline in engines.values():
                if pipeline is not None:
                    pipeline.close(10)
    median = statistics.median
    bare = median(wall["bare"])
    for name in engines:
        if name == "bare":
            continue
        rows.append(
            [
                f"per run, no camera, sync_window {name}"
                + (" (default)" if name == f"{SYNC_WINDOW * 1e3:g} ms" else ""),
                f"{bare * 1e3:.2f} ms",
                f"{median(wall[name]) * 1e3:.2f} ms",
                f"{(median(wall[name]) - bare) * 1e3:+.2f} ms",
                f"{median(ratio[name]):.2f}x",
                f"{median(cpu['bare']) * 1e3:.2f} → {median(cpu[name]) * 1e3:.2f} ms",
                f"{median(switches['bare']):.1f} → {median(switches[name]):.1f}",
            ]
        )
    return rows


class _with_camera:
    """A RunEngine stand-in whose call runs ``count([cam], num=1)``."""

    def __init__(self, engine: RunEngine, cam: SimCamera) -> None:
        self._engine, self._cam = engine, cam

    def __call__(self, _plan: Any) -> Any:
        _plan.close()
        return self._engine(bp.count([self._cam], num=1))


def bench_catalog(n_runs: int, n_queries: int) -> list[list[str]]:
    rows = []
    with scratch("zs-bench-cat-") as d:
        ours = Catalog.embedded(d / "ours", readable=[d])
        raw = Catalog.embedded(d / "raw", readable=[d]).client
        reg, raw_reg = [], []
        uids: list[str] = []
        for i in range(n_runs):
            docs = small_run(i, (d / f"run{i}.zarr").as_uri())
            record = RunRecord.from_documents(docs)
            metadata = RunProjection(record).catalog_metadata(d / f"run{i}.jsonl")
            reg.append(timed(lambda docs=docs, md=metadata: ours.register_run(docs, md)))
            start = docs[0][1]
            raw_reg.append(
                timed(lambda s=start: raw.create_container(key=s["uid"], metadata={"start": s}))
            )
            uids.append(start["uid"])
            progress("registering", i + 1, n_runs)
        rows.append(
            [
                f"registration, {n_runs} runs (median)",
                f"{statistics.median(raw_reg) * 1e3:.1f} ms",
                f"{statistics.median(reg) * 1e3:.1f} ms",
                f"{statistics.median(reg) / statistics.median(raw_reg):.1f}x",
            ]
        )

        uid_prefix = uids[n_runs // 2][:8]
        for label, t_raw, t_ours in time_queries(ours, raw, uid_prefix, n_queries, device="cam"):
            rows.append(
                [
                    f"query {label} ({n_runs} runs)",
                    f"{t_raw * 1e3:.1f} ms",
                    f"{t_ours * 1e3:.1f} ms",
                    f"{t_ours / t_raw:.2f}x",
                ]
            )
        assert np.isfinite(len(ours))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--short-runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=15, help="rounds of short runs")
    parser.add_argument("--round-runs", type=int, default=20, help="short runs per round")
    parser.add_argument(
        "--windows", type=float, nargs="+", default=[0.0, SYNC_WINDOW, 0.05], help="seconds"
    )
    parser.add_argument("--runs", type=int, default=1000, help="runs in the catalog")
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args(argv)
    per_run = bench_per_run(args.rounds, args.round_runs, args.windows)
    header = ["short runs", "bare RunEngine", "with Pipeline", "added", "ratio"]
    print(table([[*header, "RunEngine thread CPU", "its context switches"], *per_run]))
    print()
    cb = bench_callbacks(args.events, args.short_runs)
    print(table([["callbacks", "bare RunEngine", "with Pipeline", "added", "ratio"], *cb]))
    print()
    cat = bench_catalog(args.runs, args.queries)
    print(table([["catalog", "raw Tiled", "zarrscribe", "ratio"], *cat]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
