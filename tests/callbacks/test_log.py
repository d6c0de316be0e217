from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import event_model
import pytest

from tests.conftest import FsyncDouble, fill_disk, small_disk
from zarrscribe.callbacks import (
    CallbackError,
    DocumentLog,
    DocumentLogError,
    RunRefusedError,
    encode_record,
    iter_document_log,
    read_document_log,
)
from zarrscribe.writers import BackgroundSyncs


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


def _line(name: str, uid: str) -> str:
    return json.dumps({"name": name, "doc": {"uid": uid}}) + "\n"


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    _write(path, [_line("start", "u"), _line("stop", "s")])
    logged = read_document_log(path)
    assert logged.documents == [("start", {"uid": "u"}), ("stop", {"uid": "s"})]
    assert not logged.damaged


def test_truncated_last_line_is_left_out_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    _write(path, [_line("start", "u"), '{"name": "ev'])
    logged = read_document_log(path)
    assert [name for name, _ in logged.documents] == ["start"]
    assert logged.damage == [
        f"{path}:2: cut short (Unterminated string starting at: line 1 column 10 (char 9))"
    ]


def test_corrupt_line_names_file_and_line_and_later_lines_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    _write(path, [_line("start", "u"), "garbage\n", _line("stop", "s")])
    logged = read_document_log(path)
    assert [name for name, _ in logged.documents] == ["start", "stop"]
    assert len(logged.damage) == 1
    assert logged.damage[0].startswith(f"{path}:2: not a document record")


def test_invalid_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    path.write_bytes(
        _line("start", "u").encode() + b'{"name": "\xff\xfe"}\n' + _line("stop", "s").encode()
    )
    logged = read_document_log(path)
    assert [name for name, _ in logged.documents] == ["start", "stop"]
    assert logged.damage[0].startswith(f"{path}:2: not UTF-8 text")


def test_missing_log(tmp_path: Path) -> None:
    with pytest.raises(DocumentLogError, match="does not exist"):
        read_document_log(tmp_path / "none.jsonl")


def _run_documents() -> list[tuple[str, dict[str, Any]]]:
    bundle = event_model.compose_run(metadata={"plan_name": "count"})
    desc = bundle.compose_descriptor(
        name="primary",
        data_keys={"x": {"source": "sim", "shape": [], "dtype": "number"}},
    )
    event = desc.compose_event(data={"x": 1.0}, timestamps={"x": 0.0})
    return [
        ("start", dict(bundle.start_doc)),
        ("descriptor", dict(desc.descriptor_doc)),
        ("event", dict(event)),
        ("stop", dict(bundle.compose_stop())),
    ]


def test_the_log_is_fsynced_in_the_background_and_closed_after_the_stop(
    tmp_path: Path, fsyncs: FsyncDouble
) -> None:
    syncs = BackgroundSyncs()
    log = DocumentLog(tmp_path / "run", syncs=syncs)
    fsyncs.hold.clear()  # the disk is slow: the documents are not held back by it
    documents = _run_documents()
    for name, doc in documents:
        log(name, doc)
    assert read_document_log(log.path).documents == documents  # written before any fsync
    assert fsyncs.synced == []
    fsyncs.hold.set()
    assert syncs.wait(10)
    assert set(fsyncs.synced) == {log.path, log.path.parent}  # the log (up to its stop), its name
    log.close()  # nothing left to close


def test_a_failed_fsync_makes_the_next_document_raise_naming_the_log(
    tmp_path: Path, fsyncs: FsyncDouble
) -> None:
    syncs = BackgroundSyncs()
    log = DocumentLog(tmp_path / "run", syncs=syncs)
    failed: list[Path] = []

    def first_fsync_of_the_log(path: Path) -> bool:
        if path != log.path or failed:
            return False
        failed.append(path)
        return True

    fsyncs.fail_when = first_fsync_of_the_log
    (start, descriptor, event, stop) = _run_documents()
    log(*start)
    assert not syncs.wait(10)  # the start's fsync failed
    with pytest.raises(CallbackError) as raised:
        log(*descriptor)
    message = str(raised.value)
    assert str(log.path) in message
    assert "EIO: Input/output error" in message
    assert "\n" not in message
    log(*event)  # told once
    log(*stop)
    assert read_document_log(log.path).documents == [start, descriptor, event, stop]
    assert not syncs.wait(10)  # the later fsyncs worked; the failure stays
    assert fsyncs.synced[-1] == log.path
    assert syncs.failures == [f"fsync of {log.path} failed (EIO: Input/output error)"]


def test_a_run_that_never_stopped_is_closed_with_what_was_written(
    tmp_path: Path, fsyncs: FsyncDouble
) -> None:
    syncs = BackgroundSyncs()
    log = DocumentLog(tmp_path / "run", syncs=syncs)
    fsyncs.hold.clear()
    documents = _run_documents()[:3]
    for name, doc in documents:
        log(name, doc)
    log.close()  # while its fsyncs wait: they sync their own descriptor
    fsyncs.hold.set()
    assert syncs.wait(10)
    assert read_document_log(log.path).documents == documents
    with pytest.raises(CallbackError, match="arrived after the log"):
        log(*_run_documents()[3])


def _self_containing() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["again"] = loop
    return loop


@pytest.mark.parametrize(
    ("doc", "names"),
    [
        ({"uid": "u", "sample": {"raw": b"\x00"}}, "key 'sample.raw' holds bytes (b'\\x00')"),
        ({"uid": "u", "holders": [1, object()]}, "key 'holders[1]' holds object (<object"),
        ({"uid": "u", "grid": {(1, 2): "a"}}, "key 'grid' holds a key (1, 2) of type tuple"),
        ({"uid": "u", "loop": _self_containing()}, "key 'loop.again' holds itself"),
    ],
)
def test_a_value_json_cannot_hold_is_named_by_its_key_path(
    doc: dict[str, Any], names: str
) -> None:
    with pytest.raises(RunRefusedError) as raised:
        encode_record("start", doc)
    assert str(raised.value).startswith(f"start document {names}")
    assert "the run was not started" in str(raised.value)
    with pytest.raises(CallbackError) as raised:
        encode_record("event", doc)
    assert not isinstance(raised.value, RunRefusedError)


def test_a_start_the_disk_cannot_take_leaves_nothing(tmp_path: Path) -> None:
    start, *_ = _run_documents()
    syncs = BackgroundSyncs()
    with small_disk(tmp_path / "disk", 1) as disk:
        filler = fill_disk(disk, "filler")
        log = DocumentLog(disk / "run", syncs=syncs)
        with pytest.raises(RunRefusedError, match="No space left on device"):
            log(*start)
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]  # no log, no folder
        filler.unlink()
        log(*start)
        log.close()
        assert read_document_log(log.path).documents == [start]
        assert syncs.wait(30)


def test_a_line_the_disk_takes_in_part_is_cut_off_again(tmp_path: Path) -> None:
    start, descriptor, event, stop = _run_documents()
    syncs = BackgroundSyncs()
    with small_disk(tmp_path / "disk", 1) as disk:
        log = DocumentLog(disk / "run", syncs=syncs)
        log(*start)
        whole = log.path.read_bytes()
        filler = fill_disk(disk, "filler")  # what is left is the rest of the log's last page
        big = {**descriptor[1], "hints": {"note": "n" * 20_000}}
        with pytest.raises(CallbackError, match="No space left on device"):
            log("descriptor", big)
        assert log.path.read_bytes() == whole  # no half line
        filler.unlink()
        for name, doc in (descriptor, event, stop):
            log(name, doc)
        logged = read_document_log(log.path)
        assert logged.documents == [start, descriptor, event, stop]
        assert not logged.damaged
        assert syncs.wait(30)


def test_an_existing_log_is_never_appended_to(tmp_path: Path) -> None:
    start, *_ = _run_documents()
    other = tmp_path / "run" / "documents.jsonl"
    other.parent.mkdir()
    _write(other, [_line("start", "another run")])
    log = DocumentLog(tmp_path / "run")
    with pytest.raises(RunRefusedError, match="exists already"):
        log(*start)
    assert other.read_text() == _line("start", "another run")
    assert sorted(p.name for p in other.parent.iterdir()) == ["documents.jsonl"]


def test_a_log_is_read_as_it_grows_and_up_to_an_offset(tmp_path: Path) -> None:
    """The reader takes one line at a time: what is appended while it reads is read
    too (nothing was read ahead whole), and ``end`` reads the same part again."""
    path = tmp_path / "documents.jsonl"
    _write(path, [_line("start", "u"), _line("descriptor", "d")])
    records = iter_document_log(path)
    first = next(records)
    assert (first.line, first.name, first.doc) == (1, "start", {"uid": "u"})
    with open(path, "a", encoding="utf-8") as f:
        f.write(_line("event", "e1") + "garbage\n" + _line("stop", "s"))
    damage: list[str] = []
    rest = list(iter_document_log(path, damage))[1:]
    assert [(r.line, r.name) for r in [*records]] == [(r.line, r.name) for r in rest]
    assert [r.name for r in rest] == ["descriptor", "event", "stop"]
    assert [r.line for r in rest] == [2, 3, 5]
    assert damage == [
        f"{path}:4: not a document record (Expecting value: line 1 column 1 (char 0))"
    ]
    again = list(iter_document_log(path, end=rest[1].end))  # up to the event's line
    assert [r.name for r in again] == ["start", "descriptor", "event"]
    with pytest.raises(DocumentLogError, match="does not exist"):
        iter_document_log(tmp_path / "none.jsonl")  # at once, before any record
