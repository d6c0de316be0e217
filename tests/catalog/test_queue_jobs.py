"""Jobs: made on the caller's thread (a link to the run's log, or a file where links cannot
be made), fsync'd in the background, and a damaged one (a file empty or cut short by a
power loss before its fsync) never stops the queue."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from benchmarks._runs import small_run, write_log
from tests.conftest import FsyncDouble, small_disk
from zarrscribe.callbacks import read_document_log
from zarrscribe.catalog import Catalog, RegistrationQueue
from zarrscribe.writers import BackgroundSyncs


def _as_logged(log: Path) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    return read_document_log(log).documents, {}


def test_a_job_is_on_disk_at_once_and_fsynced_in_the_background(
    tmp_path: Path, fsyncs: FsyncDouble
) -> None:
    pending, syncs = tmp_path / "pending", BackgroundSyncs()
    log = tmp_path / "run" / "documents.jsonl"
    write_log(log, small_run(0, (tmp_path / "run" / "cam.zarr").as_uri(), frames=1))
    queue = RegistrationQueue(None, pending, _as_logged, syncs=syncs)  # nothing registers
    try:
        fsyncs.hold.clear()  # a slow disk does not hold the caller
        queue.submit("0123", log)
        # Another name of the log, saying where it is: no file to write, none to fsync.
        (job,) = pending.iterdir()
        assert job.name == "0123@..%2Frun%2Fdocuments.jsonl.job"
        assert job.samefile(log)
        assert fsyncs.synced == []
        fsyncs.hold.set()
        assert syncs.wait(10)
        assert fsyncs.synced == [pending]  # the folder holding its name
        assert queue.pending() == ["0123"]
        queue.submit("0123", log)  # queued again: the same job
        assert list(pending.iterdir()) == [job]
    finally:
        queue.close(0.1)
    reopened = RegistrationQueue(None, pending, _as_logged)
    try:
        assert reopened.pending() == ["0123"]  # taken up again, with its log
        assert [job.log for job in reopened._jobs.take(10)] == [log]
    finally:
        reopened.close(0.1)


def test_where_no_link_can_be_made_a_job_is_a_file(tmp_path: Path, fsyncs: FsyncDouble) -> None:
    pending, syncs = tmp_path / "pending", BackgroundSyncs()
    queue = RegistrationQueue(None, pending, _as_logged, syncs=syncs)
    try:
        with small_disk(tmp_path / "other", 1) as other:  # the log on another file system
            log = other / "documents.jsonl"
            log.write_text("{}\n", encoding="utf-8")
            queue.submit("4567", log)
            assert list(pending.iterdir()) == [pending / "4567.json"]
        queue.submit("0123", tmp_path / "run" / "documents.jsonl")  # and a log not found
        job = pending / "0123.json"
        assert json.loads(job.read_text(encoding="utf-8")) == {
            "uid": "0123",
            "log": str(tmp_path / "run" / "documents.jsonl"),
        }
        assert sorted(pending.iterdir()) == [job, pending / "4567.json"]
        assert syncs.wait(10)
        # Each file, and the folder holding their names (once, when asked together).
        assert set(fsyncs.synced) == {pending / "4567.json", job, pending}
        assert queue.pending() == ["0123", "4567"]
    finally:
        queue.close(0.1)


def test_damaged_jobs_are_reported_and_their_runs_registered_from_their_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pending = tmp_path / "pending"
    pending.mkdir()
    logs: dict[str, Path] = {}
    for i, damage in enumerate(["", '{"uid": "x", "log": "/da', "[]", "\xff", None]):
        docs = small_run(i, (tmp_path / f"{i}.zarr").as_uri(), frames=2)
        uid = docs[0][1]["uid"]
        logs[uid] = tmp_path / f"run{i}" / "documents.jsonl"
        write_log(logs[uid], docs)
        job = pending / f"{uid}.json"
        if damage is None:
            job.write_text(json.dumps({"uid": uid, "log": str(logs[uid])}), encoding="utf-8")
        else:
            job.write_bytes(damage.encode("latin-1"))
    (pending / "lost.json").write_text("", encoding="utf-8")  # no log has this run
    catalog = Catalog.embedded(tmp_path / "catalog", readable=[tmp_path])
    with caplog.at_level(logging.ERROR, logger="zarrscribe.catalog._job_files"):
        queue = RegistrationQueue(catalog, pending, _as_logged, find_log=logs.get)
    try:
        assert queue.flush(60), queue.failures
        assert sorted(r.uid for r in catalog.search()) == sorted(logs)
        assert queue.pending() == ["lost"]  # left as it is
    finally:
        queue.close()
        catalog.close()
    reports = [r.getMessage() for r in caplog.records if r.name == "zarrscribe.catalog._job_files"]
    assert len(reports) == 5
    assert all("\n" not in report for report in reports)
    assert any("lost.json is damaged (empty) and the log of run lost" in r for r in reports)
    assert not list(pending.glob("*-*.json"))  # registered jobs are done
    for what in ("(empty)", "(not JSON:", "(not a job record: '[]')", "(not UTF-8 text:"):
        assert any(what in r and "is registered from its log" in r for r in reports), what


def test_a_damaged_job_without_a_way_to_find_its_log_is_left_in_place(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pending = tmp_path / "pending"
    pending.mkdir()
    (pending / "0123.json").write_text('{"uid": 3}', encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="zarrscribe.catalog._job_files"):
        queue = RegistrationQueue(None, pending, _as_logged)
    try:
        assert queue.pending() == ["0123"]
    finally:
        queue.close(0.1)
    (report,) = [
        r.getMessage() for r in caplog.records if r.name == "zarrscribe.catalog._job_files"
    ]
    assert report == (
        f"pending registration {pending / '0123.json'} is damaged (not a job record: "
        """'{"uid": 3}') and the log of run 0123 is not found; left in place"""
    )
