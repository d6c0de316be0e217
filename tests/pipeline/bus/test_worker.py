"""Catalog workers in other processes register published runs in a Tiled server on
PostgreSQL (through its HTTP API, or by SQL into its database): exactly once, also when
killed mid-registration, also two at a time."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bluesky import plans as bp

from tests._servers import PG, free_port, postgres_databases, serving
from tests.bus_runs import publishing_pipeline, three_runs
from tests.conftest import Rig
from zarrscribe.callbacks import BusSettings
from zarrscribe.catalog import Catalog

ROOT = Path(__file__).parents[3]
API_KEY = secrets.token_hex(16)
DATABASES: dict[str, str] = {}
"""The catalog database of each Tiled server (by its URI); its tables: + ``_tables``."""


def _stock_config(database: str, base: Path) -> str:
    """A stock `tiled serve config`: runs are BlueskyRun nodes under a CatalogOfBlueskyRuns
    root, and documents() is served (DESIGN.md: "Measured since the backbone landed")."""
    return json.dumps(
        {
            "authentication": {"single_user_api_key": API_KEY},
            "trees": [
                {
                    "path": "/",
                    "tree": "catalog",
                    "args": {
                        "uri": f"{PG}/{database}",
                        "writable_storage": [str(base / ".tiled-data"), f"{PG}/{database}_tables"],
                        "readable_storage": [str(base)],
                        "init_if_not_exists": True,
                        "specs": [{"name": "CatalogOfBlueskyRuns", "version": "3.0"}],
                    },
                }
            ],
            "media_types": {
                "BlueskyRun": {
                    "application/json-seq": "bluesky_tiled_plugins.exporters:json_seq_exporter"
                }
            },
        }
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A Tiled server on PostgreSQL; FAILS (does not skip) when PostgreSQL is not there."""
    with postgres_databases("zsbus", "_tables") as name:
        base = tmp_path_factory.mktemp("tiled") / "data"
        base.mkdir()
        config = base.parent / "tiled.yml"
        config.write_text(_stock_config(name, base))
        port = free_port()
        tiled = str(Path(sys.executable).with_name("tiled"))
        uri = f"http://127.0.0.1:{port}/api"
        DATABASES[uri] = f"{PG}/{name}"
        with serving(
            [tiled, "serve", "config", str(config), "--port", str(port)],
            f"{uri}/v1/",
            log=base.parent / "tiled.log",
        ):
            yield uri, base


class WorkerProcess:
    def __init__(
        self, bus: BusSettings, uri: str, journal: Path, hold_after: float = 0, way: str = "http"
    ) -> None:
        """A worker registering into the Tiled server at ``uri``: through its HTTP API
        (``way="http"``) or by SQL into its database (``"sql"``)."""
        self.journal = journal
        uri = DATABASES[uri] if way == "sql" else uri
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.pipeline.bus._worker_proc",
                bus.servers,
                bus.stream,
                bus.prefix,
                uri,
                API_KEY,
                str(journal),
                str(hold_after),
            ],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def lines(self) -> list[str]:
        return self.journal.read_text().splitlines() if self.journal.exists() else []

    def done(self) -> list[str]:
        return [line.split()[1] for line in self.lines() if line.startswith("done ")]

    def wait_for(self, check: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited: {self.proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"timed out; journal: {self.lines()}"
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def _entries(uri: str, uids: list[str]) -> Counter[str]:
    """How many catalog entries each run has (searching by start.uid, not by key)."""
    from tiled.queries import Eq

    catalog = Catalog.from_uri(uri, api_key=API_KEY)
    try:
        return Counter({uid: len(catalog.client.search(Eq("start.uid", uid))) for uid in uids})
    finally:
        catalog.close()


def test_worker_in_another_process_registers_runs_for_stock_clients(
    server: tuple[str, Path], rig: Rig, bus: BusSettings, tmp_path: Path
) -> None:
    uri, base = server
    worker = WorkerProcess(bus, uri, tmp_path / "journal")
    try:
        with publishing_pipeline(rig, base / "stock", bus) as (RE, _, publisher):
            uids = three_runs(RE, rig)
            assert publisher.flush(30)
        worker.wait_for(lambda: sorted(worker.done()) == sorted(uids))
    finally:
        worker.stop()
    assert _entries(uri, uids) == Counter(dict.fromkeys(uids, 1))

    from tiled.client import from_uri

    client = from_uri(uri, api_key=API_KEY)
    try:
        assert type(client).__name__ == "CatalogOfBlueskyRuns"
        run = client[uids[2]]
        assert type(run).__name__.startswith("BlueskyRun")
        assert run.metadata["stop"]["exit_status"] == "success"
        frames = np.asarray(run["primary"]["cam3"].read())
        np.testing.assert_array_equal(frames, np.stack(rig.cam3.pushed))
        assert [doc["uid"] for name, doc in run.documents() if name == "start"] == [uids[2]]
    finally:
        client.context.close()


@pytest.mark.parametrize("way", ["http", "sql"])
@pytest.mark.parametrize("when", ["during", "after"])
def test_worker_killed_mid_registration_registers_the_run_exactly_once(
    server: tuple[str, Path], rig: Rig, bus: BusSettings, tmp_path: Path, when: str, way: str
) -> None:
    uri, base = server
    hold = 60.0 if when == "after" else 0.0  # "after": registered, killed before the ack
    first = WorkerProcess(bus, uri, tmp_path / "first", hold_after=hold, way=way)
    with publishing_pipeline(rig, base / f"killed-{when}-{way}", bus) as (RE, _, publisher):
        (uid,) = RE(bp.count([rig.cam1, rig.cam2], num=2)).run_start_uids
        assert publisher.flush(30)
    try:
        if when == "during":
            first.wait_for(lambda: f"begin {uid}" in first.lines())
            time.sleep(0.1)  # inside TiledWriter's requests
        else:
            first.wait_for(lambda: f"done {uid}" in first.lines())
        first.kill()
    finally:
        first.stop()
    killed_done = first.done()
    second = WorkerProcess(bus, uri, tmp_path / "second", way=way)
    try:
        second.wait_for(lambda: uid in second.done())  # redelivered after ack_wait
        time.sleep(3)  # longer than ack_wait: nothing is delivered again
        assert second.done() == [uid]
    finally:
        second.stop()
    assert killed_done == ([uid] if when == "after" else [])
    assert _entries(uri, [uid]) == Counter({uid: 1})
    catalog = Catalog.from_uri(uri, api_key=API_KEY)
    try:
        md = catalog.run(uid).metadata
        assert md["stop"]["num_events"] == {"primary": 2}
        assert catalog.read_array(uid, "cam2").shape == (2, 24, 24)
    finally:
        catalog.close()


@pytest.mark.parametrize("way", ["http", "sql"])
def test_two_workers_register_every_run_once(
    server: tuple[str, Path], rig: Rig, bus: BusSettings, tmp_path: Path, way: str
) -> None:
    uri, base = server
    workers = [WorkerProcess(bus, uri, tmp_path / f"w{i}", way=way) for i in range(2)]
    try:
        for w in workers:
            w.wait_for(lambda w=w: "ready" in w.lines())
        with publishing_pipeline(rig, base / f"two-{way}", bus) as (RE, _, publisher):
            uids = [u for _ in range(6) for u in RE(bp.count([rig.cam1], num=1)).run_start_uids]
            assert publisher.flush(30)
        workers[0].wait_for(lambda: sum(len(w.done()) for w in workers) >= len(uids))
        time.sleep(3)  # longer than ack_wait: no run comes back
        done = [uid for w in workers for uid in w.done()]
    finally:
        for w in workers:
            w.stop()
    assert sorted(done) == sorted(uids)  # every run once, by one of the two
    if way == "http":  # run by run: a stop each
        assert all(w.done() for w in workers), "both workers took a share"
    # By SQL a worker takes every stop that is waiting (a batch, one transaction), so a
    # burst of 6 runs may all go to one; bench_workers measures two sharing a stream.
    assert _entries(uri, uids) == Counter(dict.fromkeys(uids, 1))


def test_a_batch_with_a_failing_run_registers_the_others_once_and_retries_it(
    server: tuple[str, Path], rig: Rig, bus: BusSettings
) -> None:
    """The stops that are there are registered together, by SQL in one transaction;
    when PostgreSQL refuses one run of the batch, the others are still registered (each
    once) and acknowledged, and the failing one is handed back and registered when it
    comes again."""
    import threading

    from zarrscribe.callbacks import register_batch
    from zarrscribe.pipeline.bus import Worker, WorkerSettings

    uri, base = server
    with publishing_pipeline(rig, base / "batch", bus) as (RE, _, publisher):
        uids = [u for _ in range(4) for u in RE(bp.count([rig.cam1], num=1)).run_start_uids]
        assert publisher.flush(30)
    bad = uids[1]
    catalog = Catalog.from_database(DATABASES[uri], tables=f"{DATABASES[uri]}_tables")
    batches: list[list[str]] = []
    outcomes: list[list[Exception | None]] = []

    def register_many(runs: list[tuple[list[Any], str | None]]) -> list[Exception | None]:
        batches.append([str(docs[0][1]["uid"]) for docs, _ in runs])
        if len(batches) == 1:  # the first time, a NUL in its start: PostgreSQL's JSONB refuses it
            runs = [
                (_with_nul(docs) if docs[0][1]["uid"] == bad else docs, log) for docs, log in runs
            ]
        outcomes.append(register_batch(catalog, runs))
        return outcomes[-1]

    def refuse(documents: Any, /, *, log: str | None = None) -> None:
        raise AssertionError("one by one: register_many is given")

    worker = Worker(
        refuse, bus, WorkerSettings(ack_wait=5.0, retry_delay=0.2), register_many=register_many
    )
    thread = threading.Thread(target=worker.run, kwargs={"max_runs": len(uids)})
    thread.start()
    thread.join(60)
    if thread.is_alive():
        worker.stop()
        thread.join(30)
    try:
        assert sorted(batches[0]) == sorted(uids), batches  # all four stops at once
        assert [o is None for o in outcomes[0]] == [u != bad for u in batches[0]]
        assert "unsupported Unicode escape" in str(outcomes[0][batches[0].index(bad)])
        assert batches[1:] == [[bad]]  # handed back once
        assert outcomes[1:] == [[None]]  # and registered then
        assert sorted(worker.registered) == sorted(uids)  # each acknowledged once
        assert _entries(uri, uids) == Counter(dict.fromkeys(uids, 1))
        assert "sample" not in catalog.metadata(bad)["start"]  # as the bus has it
    finally:
        catalog.close()


def _with_nul(documents: list[Any]) -> list[Any]:
    name, start = documents[0]
    return [(name, {**start, "sample": "Si\x00"}), *documents[1:]]
