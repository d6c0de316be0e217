"""The publisher stage: every document of every run on the stream, in order, exactly once,
whether NATS is up, down mid-run, or the publishing process is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from bluesky import plans as bp

from tests.bus_runs import Documents, as_json, logged, publishing_pipeline, three_runs
from tests.conftest import Rig
from tests.nats_server import NatsServer
from zarrscribe.callbacks import BusSettings, Publisher, read_document_log
from zarrscribe.pipeline import Pipeline
from zarrscribe.pipeline.bus import StreamReplay, replay_stream

ROOT = Path(__file__).parents[2]


def _stream_runs(
    bus: BusSettings, *, complete: bool = True
) -> tuple[dict[str, Documents], StreamReplay]:
    runs: dict[str, Documents] = {}

    def keep(docs: Documents, /, *, log: str | None = None) -> None:
        runs[str(docs[0][1]["uid"])] = docs

    report = replay_stream(keep, bus)
    assert not report.failed, report
    if complete:
        assert not report.unfinished, report
    return runs, report


def _outbox(base_dir: Path) -> list[Path]:
    return sorted((base_dir / ".zarrscribe" / "outbox").glob("*.json"))


def _assert_on_the_stream(bus: BusSettings, pipeline: Pipeline, uids: list[str]) -> None:
    """The stream holds the runs ``uids``, in order, each document as logged, none twice."""
    runs, report = _stream_runs(bus)
    assert list(runs) == uids
    for uid in uids:
        assert as_json(runs[uid]) == as_json(logged(pipeline, uid))
    assert report.messages == sum(len(d) for d in runs.values())  # nothing twice


def test_pipeline_runs_are_published_in_order(rig: Rig, base_dir: Path, bus: BusSettings) -> None:
    with publishing_pipeline(rig, base_dir, bus) as (RE, pipeline, publisher):
        uids = three_runs(RE, rig)
        assert publisher.flush(30)
        _assert_on_the_stream(bus, pipeline, uids)
        assert not _outbox(base_dir)  # every cursor done


def test_nats_stopped_mid_run_loses_and_doubles_nothing(
    rig: Rig, base_dir: Path, bus: BusSettings, nats_server: NatsServer
) -> None:
    with publishing_pipeline(rig, base_dir, bus) as (RE, pipeline, publisher):
        (first,) = RE(bp.count([rig.cam1], num=2)).run_start_uids
        assert publisher.flush(30)
        events = 0

        def stop_server_at_third_event(name: str, doc: dict[str, Any]) -> None:
            nonlocal events
            if name == "event":
                events += 1
                if events == 3:
                    nats_server.stop()  # the real server process goes away mid-run

        RE.subscribe(stop_server_at_third_event)
        t0 = time.monotonic()
        uids = three_runs(RE, rig)  # the runs go on: nothing raises, nothing waits
        assert time.monotonic() - t0 < 20
        assert nats_server.proc is None
        assert publisher.pending > 0
        assert len(_outbox(base_dir)) >= 1  # runs not fully sent keep their cursor
        nats_server.start()
        assert publisher.flush(60)
        _assert_on_the_stream(bus, pipeline, [first, *uids])
        assert not _outbox(base_dir)


@pytest.mark.parametrize("nats", ["down", "up"])
def test_killed_publisher_resumes_from_its_cursor_and_sends_the_recovered_stop(
    tmp_path: Path, bus: BusSettings, nats_server: NatsServer, nats: str
) -> None:
    """``down``: NATS goes away, then the publishing process is killed (its cursor was
    written when sending failed). ``up``: killed while sending, its cursor far behind
    what JetStream acknowledged: the documents sent again are dropped by JetStream."""
    base_dir = tmp_path / "data"
    cursor_every = "1" if nats == "down" else "300"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.callbacks._publishing_run",
            str(base_dir),
            bus.servers,
            bus.stream,
            bus.prefix,
            cursor_every,
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until some documents are on the stream
            logs = list(base_dir.glob("*/*/documents.jsonl"))
            if logs and len(read_document_log(logs[0]).documents) > 20:
                break
            assert child.poll() is None, child.stderr
            assert time.monotonic() < deadline
            time.sleep(0.05)
        if nats == "down":
            nats_server.stop()
            time.sleep(0.5)  # documents pile up in the log only
        else:
            time.sleep(0.3)  # a few linger windows: acknowledged, the cursor not moved
    finally:
        child.send_signal(signal.SIGKILL)
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    (log,) = logs
    docs = read_document_log(log).documents
    assert docs[-1][0] != "stop"
    (cursor,) = _outbox(base_dir)
    sent = json.loads(cursor.read_text())["sent"]
    if nats == "down":
        nats_server.start()
    else:
        on_stream = _stream_runs(bus, complete=False)[1].messages
        assert sent < 20 < on_stream  # sent again from the cursor: JetStream drops them

    run_uid = str(docs[0][1]["uid"])
    stop = {
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"zarrscribe-recovered-stop/{run_uid}")),
        "run_start": run_uid,
        "time": docs[-1][1].get("time", 0.0),
        "exit_status": "fail",
        "reason": "incomplete",
        "num_events": {},
    }
    with Publisher(base_dir / ".zarrscribe" / "outbox", bus) as publisher:
        publisher.publish_recovered(log, stop)
        publisher.publish_recovered(log, stop)  # twice: harmless
        assert publisher.flush(30)
    assert not cursor.exists()
    runs, report = _stream_runs(bus)
    assert list(runs) == [run_uid]
    assert as_json(runs[run_uid]) == as_json([*docs, ("stop", stop)])
    assert report.messages == len(docs) + 1


def test_documents_are_sent_in_batches_one_per_linger_window(
    rig: Rig, base_dir: Path, bus: BusSettings
) -> None:
    with publishing_pipeline(rig, base_dir, bus) as (RE, pipeline, publisher):
        assert publisher.flush(30)
        t0, woken = time.monotonic(), publisher.wakeups
        (uid,) = RE(bp.scan([rig.light], rig.motor, 0, 1, 100)).run_start_uids
        took, woken = time.monotonic() - t0, publisher.wakeups - woken
        assert publisher.flush(30)
        _assert_on_the_stream(bus, pipeline, [uid])
    documents = len(logged(pipeline, uid))
    # the RunEngine does not wake the publisher per document: one batch per window
    assert publisher.batches <= took / bus.linger + 2, (publisher.batches, took)
    assert publisher.batches < documents / 4, (publisher.batches, documents)
    # nor within the run at all: each wake-up hands the publisher the GIL mid-plan
    assert woken <= 1, woken


def test_a_full_queue_falls_back_to_the_log(rig: Rig, base_dir: Path, bus: BusSettings) -> None:
    with publishing_pipeline(rig, base_dir, bus) as (RE, pipeline, publisher):
        publisher._outbox.max_queued = 3  # most documents are read back from the log
        uids = three_runs(RE, rig)
        assert publisher.flush(30)
        _assert_on_the_stream(bus, pipeline, uids)
