"""A run read back from a long log: its documents are read as they are used, never held."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from event_model import compose_run

from zarrscribe.callbacks import (
    LogDocuments,
    catalog_entry,
    encode_record,
    load_run,
    read_document_log,
)
from zarrscribe.writers.model import RunProjection

EVENTS = 5_000


def _long_log(base: Path, events: int, *, stop: bool = True) -> Path:
    """A run of ``events`` scalar events, written as the pipeline writes its log."""
    log = base / "s" / "scan_00000" / "documents.jsonl"
    log.parent.mkdir(parents=True)
    bundle = compose_run(metadata={"plan_name": "scan"})
    keys = {"x": {"source": "sim", "dtype": "number", "shape": []}}
    desc = bundle.compose_descriptor(name="primary", data_keys=keys)  # type: ignore[arg-type]
    t = time.time()
    desc.compose_event(data={"x": 0.0}, timestamps={"x": t}, seq_num=1, time=t)
    with open(log, "wb") as f:
        f.write(encode_record("start", bundle.start_doc))
        f.write(encode_record("descriptor", desc.descriptor_doc))
        for i in range(events):
            event = desc.compose_event(
                data={"x": i * 0.5},
                timestamps={"x": t + i},
                seq_num=i + 1,
                time=t + i,
                validate=False,  # (1 ms each; the first is checked below)
            )
            f.write(encode_record("event", event))
        if stop:
            f.write(encode_record("stop", bundle.compose_stop(time=t + events)))
    return log


def _peak(work: Callable[[], object]) -> int:
    """Peak bytes Python allocated while ``work`` ran (what it kept or held at once)."""
    gc.collect()
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _consume(log: Path, base: Path) -> None:
    run = load_run(log, base)
    assert run.record.events == {"primary": EVENTS}
    docs, _ = catalog_entry(log, base_dir=base)
    assert sum(1 for _ in docs) == EVENTS + 3  # read again, one at a time


def test_a_long_log_is_never_held_whole(tmp_path: Path) -> None:
    """Replay, check and registration read a run's log twice (its record, then its
    documents as they are registered), holding one document at a time: a log of
    5,000 events costs them a small fraction of what the whole log in memory does."""
    log = _long_log(tmp_path, EVENTS)
    whole = _peak(lambda: read_document_log(log))
    streamed = _peak(lambda: _consume(log, tmp_path))
    assert streamed < whole / 20, (streamed, whole)  # (about 1/100)


def test_the_documents_read_again_are_the_logs(tmp_path: Path) -> None:
    log = _long_log(tmp_path, 50, stop=False)  # a run that never stopped
    with open(log, "ab") as f:
        f.write(b'{"name": "event", "doc": {"uid"')  # cut short by a crash
    run = load_run(log, tmp_path)
    assert isinstance(run.documents, LogDocuments)
    logged = read_document_log(log)
    assert list(run.documents) == logged.documents
    assert run.documents[0] == logged.documents[0]
    assert run.damage == logged.damage
    assert len(run.damage) == 1
    assert run.last_line == logged.lines[-1] == 52
    projection = RunProjection(run.record, {}, base_dir=tmp_path)
    listed = list(projection.catalog_documents(logged.documents))
    with open(log, "ab") as f:  # appended after the run was read: not its documents
        f.write(b"\n" + encode_record("stop", {"uid": "later", "run_start": run.record.uid}))
    assert list(run.documents) == logged.documents
    assert list(projection.catalog_documents(run.documents)) == listed
    assert listed[-1] == ("stop", projection.catalog_stop())  # the recovered stop
