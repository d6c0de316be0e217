"""What publishing documents to NATS JetStream costs the RunEngine.

Run: ``.venv/bin/python benchmarks/bench_bus.py [--points 300] [--frames 500] [--rounds 7]
[--servers URL]`` (needs nats-server with JetStream; uses a stream of its own and deletes it).

Printed side by side from one run (median of interleaved rounds):

- the RunEngine's time with the pipeline of an acquisition host whose runs workers
  register (``catalog=None, bus=...``) without its publisher stage, with it, and
  with bluesky-nats's publisher subscribed instead (when it is installed),
  for a 300-point scan of scalars and a camera fly scan; target: ours <= 1.05x;
- anchors for the same documents sent from one asyncio task of nats-py: a
  synchronous ``js.publish`` per document (waits for each acknowledgement) and
  ``publish_async`` per document with one wait for all acknowledgements.

Each case has its RunEngine and pipeline made (and connected) before the rounds: a
session publishes many runs over one connection. After each run the process is let
settle (stores closed, files synced in background threads) before the next is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from _cameras import PoolCamera
from bluesky import RunEngine, plans as bp

from zarrscribe.callbacks import BusSettings
from zarrscribe.callbacks._bus import encode_document
from zarrscribe.pipeline import Pipeline, SimLight, SimMotor, fly_scan
from zarrscribe.writers import ZarrWriter

from _common import scratch, table

Documents = list[tuple[str, dict[str, Any]]]
CASES = ("without", "zarrscribe", "bluesky-nats")


class _Case:
    """One RunEngine with the pipeline and its own devices, and how it publishes."""

    def __init__(self, name: str, base: Path, bus: BusSettings, shape: tuple[int, int]):
        self.name = name
        rng = np.random.default_rng(0)
        pool = [rng.poisson(100.0, size=shape).astype(np.uint16) for _ in range(4)]
        self.light, self.motor = SimLight("light"), SimMotor("m1", velocity=1e9)
        self.cam = PoolCamera("cam", ZarrWriter("default"), shape=shape, exposure=0.0, pool=pool)
        self.pipeline = Pipeline(
            [self.light, self.motor, self.cam], base_dir=base, catalog=None, bus=bus
        )
        if name != "zarrscribe":  # the same pipeline (registered by workers), no publisher
            assert self.pipeline.publisher is not None
            self.pipeline.publisher.close()
            self.pipeline.publisher = None
        self.RE = RunEngine({}, call_returns_result=True)
        self.RE.subscribe(self.pipeline)
        self.docs: Documents = []
        self.RE.subscribe(lambda name, doc: self.docs.append((name, doc)))
        self.flush: Callable[[], None] = lambda: None
        self.thread = {"zarrscribe": "nats-publisher", "bluesky-nats": "bench-bluesky-nats"}.get(
            name
        )
        """Name of the thread that publishes (its CPU time is measured)."""
        if self.pipeline.publisher is not None:
            publisher = self.pipeline.publisher
            self.flush = lambda: None if publisher.flush(60) else _fail("publisher flush")

    def run(self, plan: Any) -> tuple[float, float, float, float, int]:
        """(RunEngine seconds, process CPU seconds meanwhile, seconds until all is
        acknowledged, CPU seconds of the publishing thread, documents)."""
        self.docs = []
        p0 = _thread_cpu(self.thread)
        t0, c0 = time.perf_counter(), time.process_time()
        self.RE(plan)
        t_re, cpu = time.perf_counter() - t0, time.process_time() - c0
        self.flush()
        t_all = time.perf_counter() - t0
        publishing = _thread_cpu(self.thread) - p0
        _settle()
        return t_re, cpu, t_all, publishing, len(self.docs)

    def close(self) -> None:
        self.pipeline.close(5)


def _thread_cpu(name: str | None) -> float:
    """CPU seconds of the live thread called ``name`` (Linux: its schedstat; else 0)."""
    thread = next((t for t in threading.enumerate() if t.name == name and t.is_alive()), None)
    if thread is None or thread.native_id is None:
        return 0.0
    try:
        with open(f"/proc/self/task/{thread.native_id}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        return 0.0


def _settle(limit: float = 3.0) -> None:
    """Wait until this process is quiet (the last run's stores closed, its files synced
    by background threads), so that work does not land in the next case's time."""
    end = time.perf_counter() + limit
    while time.perf_counter() < end:
        c0 = time.process_time()
        time.sleep(0.05)
        if time.process_time() - c0 < 0.0025:
            return


def _fail(what: str) -> None:
    raise RuntimeError(f"{what} timed out")


@contextmanager
def _bluesky_nats(case: _Case, bus: BusSettings) -> Iterator[bool]:
    """bluesky-nats's publisher (CRITICAL delivery, as its README's strict mode)
    subscribed after the pipeline of ``case``; yields whether it is installed."""
    try:
        import nats
        from bluesky_nats.nats_publisher import NATSPublisher
        from bluesky_nats.nats_runtime import NatsRuntime
        from bluesky_nats.outbox import Delivery, Outbox
    except ImportError:
        yield False
        return
    runtime = NatsRuntime("bench-bluesky-nats")
    try:
        nc = runtime.connect(nats.connect(bus.server_list))
        outbox = Outbox(runtime, nc, delivery=Delivery.CRITICAL)
        publisher = NATSPublisher(outbox, nc.jetstream(), subject_factory=f"{bus.prefix}.bsn")
        case.RE.subscribe(publisher)
        case.flush = lambda: None if publisher.flush(60) else _fail("bluesky-nats flush")
        yield True
    finally:
        runtime.close()


async def _anchors(bus: BusSettings, docs: Documents) -> tuple[float, float]:
    """Seconds to send ``docs`` with nats-py: sync publish each, publish_async each."""
    import nats

    nc = await nats.connect(bus.server_list)
    js = nc.jetstream()
    took = []
    for mode in ("sync", "async"):
        run = uuid.uuid4().hex
        t0 = time.perf_counter()
        futures = []
        for i, (name, doc) in enumerate(docs):
            subject, payload = bus.subject(run, name), encode_document(doc)
            headers = {"Nats-Msg-Id": f"{run}/{i}", "run_id": run, "Zarrscribe-Seq": str(i)}
            if mode == "sync":
                await js.publish(subject, payload, headers=headers)
            else:
                futures.append(await js.publish_async(subject, payload, headers=headers))
        await asyncio.gather(*futures)
        took.append(time.perf_counter() - t0)
    await nc.close()
    return took[0], took[1]


async def _make_stream(bus: BusSettings, drop: bool = False) -> None:
    import nats

    nc = await nats.connect(bus.server_list)
    js = nc.jetstream()
    if drop:
        await js.delete_stream(bus.stream)
    else:
        await bus.ensure_stream(js)
    await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=300, help="points of the scalar scan")
    parser.add_argument("--frames", type=int, default=500, help="frames of the fly scan")
    parser.add_argument("--shape", type=int, default=256, help="frame side (pixels)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--servers", default="nats://127.0.0.1:4222")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    bus = BusSettings(servers=args.servers, stream=f"BENCH{tag}", prefix=f"bench{tag}")
    shape = (args.shape, args.shape)
    asyncio.run(_make_stream(bus))
    plans: dict[str, Callable[[_Case], Any]] = {
        f"scan of {args.points} scalars": lambda c: bp.scan([c.light], c.motor, 0, 1, args.points),
        f"fly scan, {args.frames} frames {shape[0]}x{shape[1]}": lambda c: fly_scan(
            [c.cam], args.frames, collect_every=0.01
        ),
    }
    times: dict[tuple[str, str], list[float]] = {}
    acked: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    threads: dict[tuple[str, str], list[float]] = {}
    ndocs: dict[str, int] = {}
    docs: dict[str, Documents] = {}
    try:
        with scratch("zs-bench-bus-") as root, ExitStack() as stack:
            cases = {
                "without": _Case("without", root / "a", bus, shape),
                "zarrscribe": _Case("zarrscribe", root / "b", bus, shape),
                "bluesky-nats": _Case("bluesky-nats", root / "c", bus, shape),
            }
            for case in cases.values():
                stack.callback(case.close)
            if not stack.enter_context(_bluesky_nats(cases["bluesky-nats"], bus)):
                del cases["bluesky-nats"]
            for case in cases.values():  # warm up: imports, connections, first run
                for make in plans.values():
                    case.run(make(case))
            for i in range(args.rounds):  # interleaved rounds, the order turning
                order = (
                    list(cases.values())[i % len(cases) :] + list(cases.values())[: i % len(cases)]
                )
                for label, make in plans.items():
                    for case in order:
                        t_re, cpu, t_all, publishing, n = case.run(make(case))
                        threads.setdefault((label, case.name), []).append(publishing)
                        times.setdefault((label, case.name), []).append(t_re)
                        cpus.setdefault((label, case.name), []).append(cpu)
                        acked.setdefault((label, case.name), []).append(t_all)
                        ndocs[label] = n
                        docs[label] = case.docs
        anchors = {
            label: [asyncio.run(_anchors(bus, d)) for _ in range(3)] for label, d in docs.items()
        }
    finally:
        asyncio.run(_make_stream(bus, drop=True))

    rows = [["plan (documents)", "RE without", "with zarrscribe", "with bluesky-nats"]]
    rows[0] += ["raw publish", "raw publish_async"]
    for label in plans:
        n = ndocs[label]
        base = statistics.median(times[(label, "without")])
        row = [f"{label} ({n})", f"{base * 1e3:.0f} ms"]
        for name in CASES[1:]:
            if (label, name) not in times:
                row.append("not installed")
                continue
            t = statistics.median(times[(label, name)])
            pairs = zip(times[(label, name)], times[(label, "without")], strict=True)
            paired = [a / b for a, b in pairs]
            q1, mid, q3 = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
            row.append(f"{mid:.3f}x [{q1:.2f}-{q3:.2f}] ({(t - base) / n * 1e6:+.0f} us/doc)")
        cpu0 = statistics.median(cpus[(label, "without")])
        for name in CASES[1:]:
            if (label, name) in cpus:
                cpu = statistics.median(cpus[(label, name)])
                row[CASES.index(name) + 1] += f", CPU {(cpu - cpu0) / n * 1e6:+.0f} us/doc"
        sync = statistics.median(a[0] for a in anchors[label]) / n * 1e6
        async_ = statistics.median(a[1] for a in anchors[label]) / n * 1e6
        row += [f"{sync:.0f} us/doc", f"{async_:.0f} us/doc"]
        rows.append(row)
    print(table(rows))
    for label in plans:
        per_doc = {
            name: statistics.median(threads[(label, name)]) / ndocs[label] * 1e6
            for name in CASES[1:]
            if (label, name) in threads
        }
        print(
            f"{label}: CPU of the publishing thread per document (run start to all "
            "acknowledged): " + ", ".join(f"{k} {v:.0f} us" for k, v in per_doc.items())
        )
    ours = [statistics.median(acked[(label, "zarrscribe")]) for label in plans]
    print(
        f"{args.rounds} interleaved rounds: median [quartiles] of each round's ratio to "
        "'without'; 'us/doc': median RunEngine time added per "
        "document (CPU: the process's CPU time added meanwhile, all threads); "
        "zarrscribe: linger 50 ms, all acknowledged "
        + ", ".join(f"{t * 1e3:.0f} ms" for t in ours)
        + " after each run's start"
    )


if __name__ == "__main__":
    main()
