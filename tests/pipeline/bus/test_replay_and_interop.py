"""The catalog rebuilt from the stream equals the one built from the logs; documents in
bluesky-nats's wire format (``<prefix>.<name>``, msgpack, ``run_id`` header) are registered."""

from __future__ import annotations

import asyncio
import threading
from functools import partial
from pathlib import Path
from typing import Any

import msgpack
from bluesky import RunEngine, plans as bp

from tests.bus_runs import Documents, as_json, publishing_pipeline
from tests.conftest import DocumentCollector, Rig
from tests.nats_server import NatsServer
from zarrscribe.callbacks import BusSettings, register_documents
from zarrscribe.catalog import Catalog
from zarrscribe.pipeline import Pipeline, fly_scan
from zarrscribe.pipeline.bus import Worker, WorkerSettings, replay_stream
from zarrscribe.writers.model import ATTRIBUTES_KEY, without_written_at


def _entry(catalog: Catalog, uid: str) -> Any:
    md = dict(catalog.run(uid).metadata)
    ours = without_written_at({ATTRIBUTES_KEY: md[ATTRIBUTES_KEY]})
    return as_json([md["start"], md["stop"], ours, catalog.documents(uid)])


def _published(
    rig: Rig, base_dir: Path, bus: BusSettings, *plans: Any
) -> tuple[list[str], list[Path]]:
    """Run ``plans`` through a pipeline that publishes; their uids and logs, all sent."""
    with publishing_pipeline(rig, base_dir, bus) as (RE, pipeline, publisher):
        uids = [uid for plan in plans for uid in RE(plan).run_start_uids]
        assert publisher.flush(30)
        return uids, [pipeline.log_path(uid) for uid in uids]


def test_catalog_rebuilt_from_the_stream_equals_the_one_from_the_logs(
    rig: Rig, base_dir: Path, bus: BusSettings, tmp_path: Path
) -> None:
    uids, logs = _published(
        rig,
        base_dir,
        bus,
        bp.count([rig.cam1, rig.light], num=2),
        fly_scan(rig.cameras, 3, collect_every=0.01),
    )
    assert all(log.exists() for log in logs)
    from_logs = Catalog.embedded(tmp_path / "from-logs", readable=[base_dir])
    from_stream = Catalog.embedded(tmp_path / "from-stream", readable=[base_dir])
    try:
        # `zarrscribe replay --all` from the logs, and a worker replaying the stream
        with Pipeline([], base_dir=base_dir, catalog=from_logs) as replaying:
            assert all(r.catalog == "registered" for r in replaying.replay())
        register = partial(register_documents, from_stream, base_dir=base_dir)
        report = replay_stream(register, bus)
        assert report.registered == uids
        for query in ({}, {"plan_name": "fly_scan"}, {"device": "light"}):
            assert from_stream.search(**query) == from_logs.search(**query)
        for uid in uids:
            assert _entry(from_stream, uid) == _entry(from_logs, uid)
    finally:
        from_logs.close()
        from_stream.close()


async def _publish_like_bluesky_nats(
    bus: BusSettings, runs: list[Documents], subject: str | None = None
) -> None:
    """What bluesky-nats sends: subject <subject>.<name> (its default subject is
    ``events.volatile``), msgpack payload, header run_id; the stream is bound to
    ``<prefix>.>``."""
    import nats

    nc = await nats.connect(bus.servers)
    try:
        js = nc.jetstream()
        await js.add_stream(name=bus.stream, subjects=[f"{bus.prefix}.>"])
        for docs in runs:
            run_id = str(docs[0][1]["uid"])
            for name, doc in docs:
                payload = msgpack.packb(as_json(doc), use_bin_type=True)
                subject_ = f"{subject or bus.prefix}.{name}"
                await js.publish(subject_, payload, headers={"run_id": run_id})
    finally:
        await nc.close()


def _runs_without_bus(rig: Rig, base_dir: Path) -> tuple[list[str], dict[str, Documents]]:
    """A count and a scan through the pipeline (no bus): uids and each run's documents."""
    RE = RunEngine({}, call_returns_result=True)
    collector = DocumentCollector()
    with Pipeline(rig.devices, base_dir=base_dir, catalog=None) as pipeline:
        RE.subscribe(pipeline)
        RE.subscribe(collector)
        uids = [
            *RE(bp.count([rig.cam1, rig.light], num=2)).run_start_uids,
            *RE(bp.scan([rig.cam2], rig.motor, 0, 1, 3)).run_start_uids,
        ]
    return uids, collector.by_run


def test_bluesky_nats_format_is_registered(
    rig: Rig, base_dir: Path, bus: BusSettings, tmp_path: Path
) -> None:
    uids, documents = _runs_without_bus(rig, base_dir)
    asyncio.run(_publish_like_bluesky_nats(bus, [documents[uid] for uid in uids]))

    catalog = Catalog.embedded(tmp_path / "catalog", readable=[base_dir])
    registered: list[Documents] = []

    def register(docs: Documents, /, *, log: str | None = None) -> None:
        assert log is None  # bluesky-nats does not say where the run was logged
        catalog.register_run(docs, {})
        registered.append(docs)

    worker = Worker(
        register, bus, WorkerSettings(durable="interop", wire="bluesky-nats", ack_wait=5)
    )
    thread = threading.Thread(target=worker.run, kwargs={"max_runs": 2})
    thread.start()
    thread.join(60)
    try:
        assert not thread.is_alive()
        assert worker.registered == uids
        assert [as_json(d) for d in registered] == [as_json(documents[u]) for u in uids]
        assert [r.uid for r in catalog.search()] == uids[::-1]
        assert catalog.run(uids[1]).metadata["stop"]["num_events"] == {"primary": 3}
    finally:
        worker.stop()
        catalog.close()


def test_the_worker_command_replays_the_stream_into_the_base_dirs_catalog(
    rig: Rig, base_dir: Path, bus: BusSettings, capsys: Any
) -> None:
    from zarrscribe.pipeline.cli import main as cli

    with publishing_pipeline(rig, base_dir, bus) as (RE, _, publisher):
        uids = RE(bp.count([rig.cam1], num=2)).run_start_uids
        assert publisher.flush(30)
    args = ["--nats", bus.servers, "--stream", bus.stream, "--prefix", bus.prefix]
    assert cli(["worker", "--replay", *args, "--base-dir", str(base_dir), "--shared-storage"]) == 0
    assert "1 run registered" in capsys.readouterr().out
    with Pipeline([], base_dir=base_dir) as pipeline:
        assert [r.uid for r in pipeline.connect_catalog().search()] == list(uids)
        (report,) = pipeline.replay(check=True)  # the worker's entry equals the logs' own
        assert not report.changed, report.differences


def test_the_worker_command_defaults_to_bluesky_nats_own_stream_and_subjects(
    rig: Rig, base_dir: Path, nats_server: NatsServer, capsys: Any
) -> None:
    from zarrscribe.pipeline.cli import main as cli

    uids, documents = _runs_without_bus(rig, base_dir)
    theirs = BusSettings(servers=nats_server.url, stream="bluesky", prefix="events")
    runs = [documents[uid] for uid in uids]
    asyncio.run(_publish_like_bluesky_nats(theirs, runs, subject="events.volatile"))
    args = ["worker", "--replay", "--wire", "bluesky-nats", "--nats", nats_server.url]
    assert cli([*args, "--base-dir", str(base_dir)]) == 0  # no --stream, no --prefix
    assert "2 runs registered" in capsys.readouterr().out
    with Pipeline([], base_dir=base_dir) as pipeline:
        assert sorted(r.uid for r in pipeline.connect_catalog().search()) == sorted(uids)


def test_the_worker_records_the_log_of_every_run_also_without_stores(
    rig: Rig, base_dir: Path, bus: BusSettings, tmp_path: Path
) -> None:
    from zarrscribe.pipeline.cli import main as cli

    no_stores = bp.count([rig.light], num=2)
    uids, logs = _published(rig, base_dir, bus, no_stores, bp.count([rig.cam1], num=1))
    args = ["--nats", bus.servers, "--stream", bus.stream, "--prefix", bus.prefix]
    assert cli(["worker", "--replay", *args, "--base-dir", str(base_dir), "--shared-storage"]) == 0
    with Pipeline([], base_dir=base_dir) as pipeline:
        catalog = pipeline.connect_catalog()
        for uid, log in zip(uids, logs, strict=True):
            recorded = catalog.metadata(uid)[ATTRIBUTES_KEY]["log"]
            assert recorded == log.relative_to(base_dir).as_posix()
        reports = pipeline.replay(check=True)  # the worker's entries equal the logs' own
        assert [r.changed for r in reports] == [False, False], [r.differences for r in reports]

    # a worker that does not see the storage (no --shared-storage)
    elsewhere = Catalog.embedded(tmp_path / "elsewhere", readable=[base_dir])
    try:
        assert replay_stream(partial(register_documents, elsewhere), bus).registered == uids
        for uid, log in zip(uids, logs, strict=True):  # as the acquisition host named it
            assert elsewhere.metadata(uid)[ATTRIBUTES_KEY]["log"] == log.as_posix()
    finally:
        elsewhere.close()
