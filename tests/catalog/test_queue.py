"""Registration never reports a failed run as done (issue 8.7): real locks, real processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from benchmarks._runs import small_run, write_log
from tests._sqlite import locked
from zarrscribe.callbacks import read_document_log
from zarrscribe.catalog import Catalog, CatalogError, RegistrationQueue

ROOT = Path(__file__).parents[2]


def _as_logged(log: Path) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """The run's documents as logged, with no metadata of ours."""
    return read_document_log(log).documents, {}


def test_two_processes_sharing_one_embedded_catalog_register_every_run(tmp_path: Path) -> None:
    n = 12
    start_at = time.time() + 25  # both have imported and opened the catalog by then
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.catalog._register_many",
                str(tmp_path),
                tag,
                str(n),
                str(start_at),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=280)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["ok"] for r in results), [r["failures"] for r in results]
    catalog = Catalog.embedded(tmp_path / "catalog", readable=[tmp_path])
    try:
        registered = [r.uid for r in catalog.search()]
        assert sorted(registered) == sorted(u for r in results for u in r["uids"])
        assert len(registered) == 2 * n  # each exactly once
    finally:
        catalog.close()


def test_a_locked_database_keeps_the_job_queued_until_it_is_registered(tmp_path: Path) -> None:
    catalog = Catalog.embedded(tmp_path / "catalog", readable=[tmp_path])
    queue = RegistrationQueue(
        catalog, tmp_path / "pending", _as_logged, retry_initial=0.05, retry_max=0.2
    )
    first = small_run(0, (tmp_path / "first.zarr").as_uri(), frames=2)
    catalog.register_run(first, {})  # the table storage exists
    docs = small_run(1, (tmp_path / "x.zarr").as_uri(), frames=2)
    log = tmp_path / "x.jsonl"
    write_log(log, docs)
    uid = docs[0][1]["uid"]
    # Another process holds a write transaction on the table storage: "database is
    # locked".
    with locked(tmp_path / "catalog" / "tables.sqlite"):
        queue.submit(uid, log)
        assert not queue.flush(3.0)
        assert queue.pending() == [uid]
        reason = queue.failures[uid]
        assert "locked" in reason
        assert "\n" not in reason
        assert "INSERT" not in reason.upper()
        assert "SELECT" not in reason.upper()
    try:
        assert queue.flush(60), queue.failures
        assert queue.pending() == []
        assert [r.uid for r in catalog.search()] == [uid, first[0][1]["uid"]]
    finally:
        queue.close()
        catalog.close()


@pytest.mark.parametrize("uri", ["postgresql://postgres@127.0.0.1:5432/x", "ftp://x", "x"])
def test_a_uri_that_is_not_a_tiled_server_is_refused_at_once(tmp_path: Path, uri: str) -> None:
    with pytest.raises(CatalogError, match="not a Tiled server URI"):
        Catalog.from_uri(uri)
    queue = RegistrationQueue(partial(Catalog.from_uri, uri), tmp_path / "pending", _as_logged)
    try:
        queue.submit("0123", tmp_path / "x.jsonl")
        start = time.monotonic()
        while "0123" not in queue.failures and time.monotonic() - start < 10:
            time.sleep(0.01)
        assert not queue.flush(30)
        assert time.monotonic() - start < 5  # not retried until the timeout
        assert "not a Tiled server URI" in queue.failures["0123"]
        assert queue.pending() == ["0123"]  # kept for a pipeline with the right URI
    finally:
        queue.close(0.1)


def test_close_returns_in_time_and_says_which_run_is_still_being_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """close(timeout) never closes the catalog under a registration in hand: it returns
    after about ``timeout`` seconds naming the run; the write goes on and lands."""
    connect = partial(Catalog.embedded, tmp_path / "catalog", readable=[tmp_path])
    queue = RegistrationQueue(connect, tmp_path / "pending", _as_logged)
    runs = []
    for i in range(2):
        docs = small_run(i, (tmp_path / f"r{i}.zarr").as_uri(), frames=2)
        write_log(tmp_path / f"r{i}.jsonl", docs)
        runs.append(str(docs[0][1]["uid"]))
    queue.submit(runs[0], tmp_path / "r0.jsonl")
    assert queue.flush(120), queue.failures  # the catalog exists and is open
    with locked(tmp_path / "catalog" / "catalog.db"):  # another process writes it
        queue.submit(runs[1], tmp_path / "r1.jsonl")
        deadline = time.monotonic() + 30
        while queue.writing != [runs[1]] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert queue.writing == [runs[1]]  # waiting for the lock, inside the write
        start = time.monotonic()
        queue.close(1.0)
        assert time.monotonic() - start < 3
        (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert runs[1] in warning
        assert "still being registered" in warning
    # the lock is gone: the write in hand goes on
    deadline = time.monotonic() + 60
    while queue.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue.pending() == []
    assert queue.writing == []
    catalog = connect()
    try:
        assert sorted(r.uid for r in catalog.search()) == sorted(runs)
    finally:
        catalog.close()
