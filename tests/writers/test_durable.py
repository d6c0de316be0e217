"""The background syncer: fsyncs in order, off the caller's thread, never silently failing.

Real files in tmp_path; ``os.fsync`` is wrapped (recorded, held, or made to fail
with EIO, which cannot be produced for real here), never replaced by a no-op.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.conftest import FsyncDouble
from zarrscribe.writers import BackgroundSyncs


def _written(path: Path, text: str = "x\n") -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_fsyncs_are_done_in_order_and_wait_returns_when_done(
    tmp_path: Path, fsyncs: FsyncDouble
) -> None:
    syncs = BackgroundSyncs()
    files = [_written(tmp_path / name) for name in ("a", "b", "c")]
    fsyncs.hold.clear()  # the syncer stops at the first fsync
    handles = [open(path, encoding="utf-8") for path in files]  # noqa: SIM115
    for path, handle in zip(files, handles, strict=True):
        syncs.fsync(handle, path, close=True)
    syncs.fsync_folder(tmp_path)
    assert fsyncs.held.wait(10)
    assert not syncs.wait(0.2)  # still held: not done
    assert fsyncs.synced == []
    fsyncs.hold.set()
    assert syncs.wait(10)
    assert fsyncs.synced == [*files, tmp_path]
    assert all(handle.closed for handle in handles)  # handed over: closed after the fsync
    assert syncs.failures == []


def test_a_file_kept_open_is_synced_through_a_duplicate(
    tmp_path: Path, fsyncs: FsyncDouble
) -> None:
    syncs = BackgroundSyncs()
    path = tmp_path / "log"
    with open(path, "w", encoding="utf-8") as f:
        f.write("first\n")
        f.flush()
        syncs.fsync(f, path)
        f.close()  # the caller may close it at once
        assert syncs.wait(10)
    assert fsyncs.synced == [path]
    assert path.read_text(encoding="utf-8") == "first\n"


def test_one_file_asked_several_times_in_a_batch_is_synced_once(
    tmp_path: Path, fsyncs: FsyncDouble
) -> None:
    syncs = BackgroundSyncs()
    first, log = _written(tmp_path / "first"), tmp_path / "log"
    fsyncs.hold.clear()
    syncs.fsync(open(first, encoding="utf-8"), first, close=True)  # noqa: SIM115
    assert fsyncs.held.wait(10)  # the syncer holds; what follows waits as one batch
    with open(log, "w", encoding="utf-8") as f:
        for line in ("start\n", "descriptor\n", "event\n"):
            f.write(line)
            f.flush()
            syncs.fsync(f, log)
    fsyncs.hold.set()
    assert syncs.wait(10)
    assert fsyncs.synced == [first, log]


def test_a_failed_fsync_is_logged_kept_and_told(
    tmp_path: Path, fsyncs: FsyncDouble, caplog: pytest.LogCaptureFixture
) -> None:
    syncs, told = BackgroundSyncs(), []
    bad, good = _written(tmp_path / "bad"), _written(tmp_path / "good")
    fsyncs.fail_when = lambda path: path == bad
    with caplog.at_level(logging.ERROR, logger="zarrscribe.writers._durable"):
        syncs.fsync(open(bad, encoding="utf-8"), bad, close=True, on_failure=told.append)  # noqa: SIM115
        syncs.fsync(open(good, encoding="utf-8"), good, close=True)  # noqa: SIM115
        assert not syncs.wait(10)  # done, but one failed
    message = f"fsync of {bad} failed (EIO: Input/output error)"
    assert told == ["EIO: Input/output error"]
    assert syncs.failures == [message]
    assert [r.getMessage() for r in caplog.records] == [
        f"{message}; what was written there may be lost if the machine loses power"
    ]
    assert fsyncs.synced == [good]  # the syncer went on
    other = BackgroundSyncs()  # failures belong to who asked
    other.fsync_folder(tmp_path)
    assert other.wait(10)
    assert not syncs.wait(10)  # and stay


def test_a_folder_that_cannot_be_opened_is_a_failure(tmp_path: Path) -> None:
    syncs = BackgroundSyncs()
    syncs.fsync_folder(tmp_path / "gone")
    assert not syncs.wait(10)
    assert syncs.failures == [
        f"fsync of {tmp_path / 'gone'} failed (ENOENT: No such file or directory)"
    ]


def test_fsyncs_asked_within_a_window_are_done_together_each_file_once(
    tmp_path: Path, fsyncs: FsyncDouble
) -> None:
    syncs = BackgroundSyncs(window=60.0)  # long: only a wait makes them due
    log, job = _written(tmp_path / "log"), _written(tmp_path / "job")
    with open(log, "a", encoding="utf-8") as f:
        for line in ("start\n", "descriptor\n"):
            f.write(line)
            f.flush()
            syncs.fsync(f, log)
        syncs.fsync(open(job, encoding="utf-8"), job, close=True)  # noqa: SIM115
        f.write("stop\n")
        f.flush()
        syncs.fsync(f, log)
    time.sleep(0.2)
    assert fsyncs.synced == []  # still inside the window
    started = time.monotonic()
    assert syncs.wait(30)  # a wait makes what is asked due at once
    assert time.monotonic() - started < 30
    assert fsyncs.synced == [log, job]  # the log once: its later requests joined the first


def test_a_window_that_is_not_a_number_of_seconds_is_refused() -> None:
    for bad in (-0.001, float("nan"), "5ms", True):
        with pytest.raises(ValueError, match=r"^fsync window .* is not a number of seconds >= 0"):
            BackgroundSyncs(window=bad)  # type: ignore[arg-type]


def test_a_failed_fsync_is_told_to_every_request_it_covered(
    tmp_path: Path, fsyncs: FsyncDouble
) -> None:
    first, second, told = BackgroundSyncs(window=60.0), BackgroundSyncs(window=60.0), []
    log = _written(tmp_path / "log")
    fsyncs.fail_when = lambda path: path == log
    handed = open(log, encoding="utf-8")  # noqa: SIM115
    with open(log, "a", encoding="utf-8") as f:
        first.fsync(f, log, on_failure=told.append)
        second.fsync(handed, log, close=True, on_failure=lambda e: told.append(f"second: {e}"))
    assert not second.wait(10)  # joined the first request: one fsync, failed for both
    assert not first.wait(10)
    assert told == ["EIO: Input/output error", "second: EIO: Input/output error"]
    message = f"fsync of {log} failed (EIO: Input/output error)"
    assert first.failures == second.failures == [message]
    assert handed.closed
    assert fsyncs.synced == []
