"""How fast catalog workers register runs from NATS JetStream into Tiled on PostgreSQL.

Run: ``.venv/bin/python benchmarks/bench_workers.py [--runs 300] [--http-runs 40]
[--servers URL] [--profile]`` (needs nats-server with JetStream and PostgreSQL on
127.0.0.1:5432, trust, user postgres; uses streams and databases of its own and
removes them).

Printed side by side from one run: runs registered per second by ``zarrscribe worker``
processes (small step-scan runs: 4 nodes, 3 event rows, one external array each)

- by SQL into the PostgreSQL database the Tiled server serves
  (``--catalog postgresql://...``), with 1 and with 2 workers sharing the consumer;
  targets: >= 100 runs/s with one, 2 workers >= 1.5x one where cores allow;
- through the Tiled server's HTTP API (``--catalog http://...``), the anchor;
- ``zarrscribe worker --replay`` rebuilding from the stream by SQL (target >= 100 runs/s).

Each case has its own stream of fresh runs, published before its workers start, and
is timed from the tenth of its runs in the server's database to the last (a worker's
first registration imports seconds of modules; replay: from its first run to its
last). ``--profile`` runs one worker in this process under cProfile instead and prints
where it spends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from zarrscribe.callbacks import BusSettings
from zarrscribe.callbacks._bus import encode_document

from _common import scratch, table
from _runs import small_run

PG = "postgresql://postgres@127.0.0.1:5432"
ZARRSCRIBE = str(Path(sys.executable).with_name("zarrscribe"))


def _psql(sql: str, database: str = "postgres") -> str:
    done = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-At", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@contextmanager
def _databases(name: str) -> Iterator[None]:
    for each in (name, f"{name}_tables"):
        _psql(f"CREATE DATABASE {each}")
    try:
        yield
    finally:
        for each in (name, f"{name}_tables"):
            _psql(f"DROP DATABASE IF EXISTS {each} WITH (FORCE)")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(database: str, base: Path, key: str) -> Iterator[str]:
    """``zarrscribe serve`` on the database (which it initialises); its API URI."""
    import httpx

    port = _free_port()
    log = open(base.parent / "serve.log", "wb")  # noqa: SIM115  closed below
    proc = subprocess.Popen(
        [
            *(ZARRSCRIBE, "serve", "--catalog", f"{PG}/{database}"),
            *("--tables", f"{PG}/{database}_tables", "--base-dir", str(base)),
            *("--port", str(port), "--api-key", key),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    uri = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{uri}/v1/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"zarrscribe serve did not start: see {log.name}")
            time.sleep(0.2)
        yield uri
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _bus(servers: str, tag: str, case: str) -> BusSettings:
    return BusSettings(servers=servers, stream=f"BW{tag}{case}", prefix=f"bw{tag}{case}")


async def _publish(bus: BusSettings, runs: list[list[tuple[str, dict[str, Any]]]]) -> None:
    """Every document of ``runs`` as our publisher sends them (subjects, headers)."""
    import nats

    nc = await nats.connect(bus.server_list)
    js = nc.jetstream()
    await bus.ensure_stream(js)
    futures = []
    for docs in runs:
        run = docs[0][1]["uid"]
        for seq, (name, doc) in enumerate(docs):
            headers = {"Nats-Msg-Id": f"{run}/{seq}", "run_id": run, "Zarrscribe-Seq": str(seq)}
            subject, payload = bus.subject(run, name), encode_document(doc)
            futures.append(await js.publish_async(subject, payload, headers=headers))
    await asyncio.gather(*futures)
    await nc.close()


async def _drop_streams(servers: str, names: list[str]) -> None:
    import nats

    nc = await nats.connect(servers)
    js = nc.jetstream()
    for name in names:
        with contextlib.suppress(Exception):  # never made (a case that failed before)
            await js.delete_stream(name)
    await nc.close()


def _runs(n: int, case: str, base: Path) -> list[list[tuple[str, dict[str, Any]]]]:
    out = []
    for i in range(n):
        docs = small_run(i, (base / case / f"{i}.zarr").as_uri())
        docs[0][1]["bench"] = case  # counted by this key in the catalog
        out.append(docs)
    return out


def _count(database: str, case: str) -> int:
    return int(
        _psql(
            "SELECT count(*) FROM nodes WHERE parent = 0 AND "
            f"""metadata @> '{{"start": {{"bench": "{case}"}}}}'""",
            database,
        )
    )


class _Proc:
    """A zarrscribe process whose stderr lines are stamped as they come."""

    def __init__(self, argv: list[str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append((time.perf_counter(), line.rstrip("\n")))

    def said(self, text: str) -> float | None:
        return next((t for t, line in self.lines if text in line), None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(30)
        self._reader.join(5)


def _busy() -> tuple[float, float]:
    """CPU ticks of the machine: (busy, total), from /proc/stat (0, 0 elsewhere)."""
    try:
        ticks = [float(t) for t in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # idle and iowait are not busy


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 if unknown)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (float(fields[11]) + float(fields[12])) / os.sysconf("SC_CLK_TCK")


LOAD: dict[str, str] = {}
"""Per case: the cores busy (whole machine) and the workers' CPU per run while timed."""


def _workers(
    n_workers: int, bus: BusSettings, catalog: list[str], database: str, case: str, n: int
) -> float:
    """Runs/s of ``n_workers`` worker processes registering the ``n`` runs of ``bus``."""
    procs = [
        _Proc(
            [
                *(ZARRSCRIBE, "worker", "--nats", bus.servers, "--stream", bus.stream),
                *("--prefix", bus.prefix, "--durable", f"d{case}", *catalog),
            ]
        )
        for _ in range(n_workers)
    ]
    try:
        deadline = time.monotonic() + 120
        while any(p.said("-> Catalog(") is None for p in procs):
            if time.monotonic() > deadline or any(p.proc.poll() is not None for p in procs):
                raise RuntimeError(f"{case}: a worker did not start: {procs[0].lines[-5:]}")
            time.sleep(0.02)
        # timed from the tenth run on: each worker has registered one by then (its first
        # imports planning and Tiled's modules: seconds, once per process)
        first = max(n // 10, n_workers)
        started = None
        while (done := _count(database, case)) < n:
            if started is None and done >= first:
                started, first = time.perf_counter(), done
                busy0, cpu0 = _busy(), sum(_cpu_seconds(p.proc.pid) for p in procs)
            if time.monotonic() > deadline + 600:
                raise RuntimeError(f"{case}: {done} of {n} runs registered")
            time.sleep(0.05)
        took = time.perf_counter() - (started or 0.0)
        if started is not None:
            (b0, t0), (b1, t1) = busy0, _busy()
            cpu = sum(_cpu_seconds(p.proc.pid) for p in procs) - cpu0
            cores = (b1 - b0) / max(t1 - t0, 1.0) * (os.cpu_count() or 1)
            per_run = cpu / (n - first) * 1e3
            LOAD[case] = f"{cores:.2f} cores busy, workers {per_run:.1f} ms CPU/run"
    finally:
        for p in procs:
            p.stop()
    errors = [line for p in procs for _, line in p.lines if "Traceback" in line]
    if errors:
        raise RuntimeError(f"{case}: a worker failed: {errors[:3]}")
    return (n - first) / took


def _replay(bus: BusSettings, catalog: list[str], n: int) -> float:
    proc = _Proc(
        [
            *(ZARRSCRIBE, "worker", "--replay", "--nats", bus.servers),
            *("--stream", bus.stream, "--prefix", bus.prefix, *catalog),
        ]
    )
    proc.proc.wait(900)
    proc.stop()
    stamps = [t for t, line in proc.lines if re.fullmatch(r"worker: [0-9a-f-]{36}", line)]
    if proc.proc.returncode != 0 or len(stamps) < n:
        raise RuntimeError(f"replay failed: {proc.lines[-5:]}")
    return (n - 1) / (stamps[-1] - stamps[0])


def _profile(bus: BusSettings, database: str, n: int) -> None:
    """One worker in this process, under cProfile: where a registration goes."""
    import cProfile
    import pstats

    from zarrscribe.callbacks import register_batch, register_documents
    from zarrscribe.catalog import Catalog
    from zarrscribe.pipeline.bus import Worker, WorkerSettings

    catalog = Catalog.from_database(f"{PG}/{database}", tables=f"{PG}/{database}_tables")
    in_thread = cProfile.Profile()  # the registrations run off the event loop
    spent = [0.0]

    def register(documents: Any, /, *, log: str | None = None) -> None:
        t0 = time.perf_counter()
        in_thread.runcall(register_documents, catalog, documents, log=log)
        spent[0] += time.perf_counter() - t0

    def register_many(runs: Any, /) -> Any:  # what `zarrscribe worker` gives the worker
        t0 = time.perf_counter()
        try:
            return in_thread.runcall(register_batch, catalog, runs)
        finally:
            spent[0] += time.perf_counter() - t0

    worker = Worker(register, bus, WorkerSettings(durable="prof"), register_many=register_many)
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    profile.enable()
    worker.run(max_runs=n)
    profile.disable()
    took = time.perf_counter() - t0
    catalog.close()
    print(
        f"profiled worker: {n / took:.1f} runs/s (under cProfile); "
        f"registering {spent[0] / n * 1e3:.1f} ms/run of {took / n * 1e3:.1f}"
    )
    print("--- the event loop (NATS) ---")
    pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    print("--- the registrations ---")
    pstats.Stats(in_thread).sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="runs per SQL case")
    parser.add_argument("--http-runs", type=int, default=40, help="runs of the HTTP case")
    parser.add_argument("--servers", default="nats://127.0.0.1:4222")
    parser.add_argument("--profile", action="store_true", help="profile one worker instead")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    database = f"zsbenchw_{tag}"
    key = secrets.token_hex(16)
    cases = ("sql1", "sql2", "http", "replay", "prof")
    buses = {case: _bus(args.servers, tag, case) for case in cases}
    sql = ["--catalog", f"{PG}/{database}", "--tables", f"{PG}/{database}_tables"]
    rates: dict[str, float] = {}
    try:
        with scratch("zs-bench-workers-") as root, ExitStack() as stack:
            base = root / "data"
            base.mkdir()
            stack.enter_context(_databases(database))
            uri = stack.enter_context(_server(database, base, key))
            sizes = {"sql1": args.runs, "sql2": args.runs, "http": args.http_runs}
            sizes |= {"replay": args.runs, "prof": args.runs}
            for case in cases if args.profile else cases[:-1]:
                asyncio.run(_publish(buses[case], _runs(sizes[case], case, base)))
            if args.profile:
                _profile(buses["prof"], database, args.runs)
                return
            http = ["--catalog", uri, "--api-key", key]
            rates["sql1"] = _workers(1, buses["sql1"], sql, database, "sql1", args.runs)
            rates["sql2"] = _workers(2, buses["sql2"], sql, database, "sql2", args.runs)
            rates["http"] = _workers(1, buses["http"], http, database, "http", args.http_runs)
            rates["replay"] = _replay(buses["replay"], sql, args.runs)
    finally:
        asyncio.run(_drop_streams(args.servers, [bus.stream for bus in buses.values()]))

    rows = [["case", "runs", "runs/s", "vs HTTP", "target"]]
    targets = {"sql1": ">= 100", "sql2": ">= 1.5x one worker", "http": "-", "replay": ">= 100"}
    labels = {
        "sql1": "1 worker, by SQL",
        "sql2": "2 workers, by SQL",
        "http": "1 worker, through Tiled's HTTP API",
        "replay": "worker --replay, by SQL",
    }
    for case, label in labels.items():
        n = args.http_runs if case == "http" else args.runs
        row = [label, str(n), f"{rates[case]:.1f}", f"{rates[case] / rates['http']:.1f}x"]
        rows.append([*row, targets[case]])
    print(table(rows))
    for case, load in LOAD.items():
        print(f"{labels[case]}: {load} (while timed)")
    print(
        f"2 workers / 1: {rates['sql2'] / rates['sql1']:.2f}x on {os.cpu_count()} cores "
        "(workers, PostgreSQL, NATS and the Tiled server share them); "
        "timed from a tenth of the runs registered to all"
    )


if __name__ == "__main__":
    main()
