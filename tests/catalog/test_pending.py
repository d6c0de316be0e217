"""Pending registrations: the in-memory index of job files, and a queue whose catalog is
away (none configured, or down) while runs pile up."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._runs import small_run, write_log
from zarrscribe.callbacks import read_document_log
from zarrscribe.catalog import Catalog, CatalogUnavailableError, RegistrationQueue
from zarrscribe.catalog._pending import Job, PendingJobs


def _job(uid: str, log: str = "log", not_before: float = 0.0) -> Job:
    return Job(Path(f"{uid}.json"), uid, Path(log), not_before=not_before)


def test_jobs_go_oldest_first_and_a_run_queued_again_goes_last() -> None:
    jobs = PendingJobs()
    for uid in "abcd":
        jobs.add(_job(uid))
    jobs.add(_job("b", "newer log"))
    assert len(jobs) == 4
    first = jobs.take(2)
    assert [j.uid for j in first] == ["a", "c"]
    rest = jobs.take(10)
    assert [(j.uid, str(j.log)) for j in rest] == [("d", "log"), ("b", "newer log")]
    assert len(jobs) == 0
    assert not jobs.ready()


def test_a_failed_job_waits_its_back_off_unless_its_run_was_queued_again() -> None:
    jobs = PendingJobs()
    jobs.add(_job("a"))
    jobs.add(_job("b"))
    a, b = jobs.take(2)
    a.not_before, b.not_before = 20.0, 10.0
    jobs.retry(a)
    jobs.retry(b)
    jobs.add(_job("a", "newer log"))  # queued again while backing off: the newer stands
    assert jobs.due(5.0) == 10.0
    assert [j.uid for j in jobs.take(5)] == ["a"]
    assert jobs.due(15.0) == 20.0  # b is due; a's old entry is not yet
    assert [j.uid for j in jobs.take(5)] == ["b"]
    assert jobs.due(25.0) is None  # a's old entry is skipped
    assert not jobs.ready()
    assert len(jobs) == 0


def test_jobs_not_tried_go_first_again() -> None:
    jobs = PendingJobs()
    for uid in "abc":
        jobs.add(_job(uid))
    taken = jobs.take(2)
    jobs.add(_job("d"))
    jobs.add(_job("b", "newer log"))  # queued again while being tried
    jobs.put_back(taken)
    assert [(j.uid, str(j.log)) for j in jobs.take(10)] == [
        ("a", "log"),
        ("c", "log"),
        ("d", "log"),
        ("b", "newer log"),
    ]


def _tagged(log: Path) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    return read_document_log(log).documents, {"zarrscribe": {"log": log.name}}


class Away:
    """A catalog that is down until ``back`` is set; counts the attempts to reach it."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog
        self.back = threading.Event()
        self.attempts = 0

    def __call__(self) -> Catalog:
        self.attempts += 1
        if not self.back.is_set() or self.catalog is None:
            raise CatalogUnavailableError("the catalog is down")
        return self.catalog


def test_a_catalog_that_is_down_is_tried_once_per_back_off_not_once_per_batch(
    tmp_path: Path,
) -> None:
    away = Away()
    queue = RegistrationQueue(away, tmp_path / "pending", _tagged, retry_initial=0.1)
    try:
        t0 = time.monotonic()
        for i in range(2000):  # ten batches' worth
            queue.submit(f"run-{i:05d}", tmp_path / "x.jsonl")
        time.sleep(1.0)
        took = time.monotonic() - t0  # the submits take a while on a busy machine
        # back-offs of 0.1, 0.2, 0.4 s...: the first try, one more per doubling (5 in a
        # second), not one per batch (10 per round)
        assert 1 <= away.attempts <= 2 + int(math.log2(took / 0.1 + 1)), (away.attempts, took)
        assert "the catalog is down" in queue.failures["run-00000"]
        queue.submit("late", tmp_path / "x.jsonl")  # told at once why it waits
        assert "the catalog is down" in queue.failures["late"]
    finally:
        queue.close(0.1)


def test_runs_queued_while_the_catalog_is_down_are_all_registered_once_it_is_back(
    tmp_path: Path,
) -> None:
    catalog = Catalog.embedded(tmp_path / "catalog", readable=[tmp_path])
    away = Away(catalog)
    queue = RegistrationQueue(
        away, tmp_path / "pending", _tagged, retry_initial=0.05, retry_max=0.2
    )
    try:
        uids = []
        for i in range(4):
            docs = small_run(i, (tmp_path / f"{i}.zarr").as_uri(), frames=2)
            write_log(tmp_path / f"first-{i}.jsonl", docs)
            uids.append(docs[0][1]["uid"])
            queue.submit(uids[-1], tmp_path / f"first-{i}.jsonl")
            if i == 1:
                write_log(tmp_path / "again-1.jsonl", docs)
        assert not queue.flush(0.5)
        assert away.attempts >= 1
        queue.submit(uids[1], tmp_path / "again-1.jsonl")  # queued again: the newer stands
        away.back.set()
        assert queue.flush(60), queue.failures
        assert queue.pending() == []
        assert sorted(r.uid for r in catalog.search()) == sorted(uids)  # each once
        assert catalog.metadata(uids[1])["zarrscribe"] == {"log": "again-1.jsonl"}
        assert catalog.metadata(uids[0])["zarrscribe"] == {"log": "first-0.jsonl"}
    finally:
        queue.close()
        catalog.close()
