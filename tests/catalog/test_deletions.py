"""The deletion log: deletions and restores as durable events, robust to damage."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zarrscribe.catalog import CatalogError, DeletionLog, RunNotFoundError


def test_the_last_event_of_a_run_decides(tmp_path: Path) -> None:
    log = DeletionLog(tmp_path)
    assert log.read().runs == {}
    log.record_deletion("aaaa-1", with_data=False, reason="test shot")
    log.record_deletion("bbbb-2", with_data=True)
    log.record_restore("aaaa-1")
    log.record_deletion("aaab-3", with_data=False)
    deletions = DeletionLog(tmp_path).read()
    assert sorted(deletions.runs) == ["aaab-3", "bbbb-2"]
    assert deletions.damage == []
    assert deletions.runs["bbbb-2"].with_data
    assert "with its data" in deletions.runs["bbbb-2"].describe()
    assert deletions.find("bbbb") == deletions.runs["bbbb-2"]
    assert deletions.find("aaab") == deletions.runs["aaab-3"]
    assert deletions.find("zz") is None
    log.record_deletion("aaaa-1", with_data=False)
    with pytest.raises(RunNotFoundError, match="'aaa' matches 2 deleted runs"):
        DeletionLog(tmp_path).read().find("aaa")
    lines = log.path.read_text().splitlines()
    assert json.loads(lines[0]) == {
        "event": "deleted",
        "uid": "aaaa-1",
        "time": json.loads(lines[0])["time"],
        "with_data": False,
        "reason": "test shot",
    }


def test_a_damaged_line_is_named_and_the_others_still_count(tmp_path: Path) -> None:
    log = DeletionLog(tmp_path)
    log.record_deletion("run-1", with_data=False)
    with open(log.path, "ab") as f:
        f.write(b'{"event": "deleted", "uid"\n\xff\xfe not text\n{"event": "lost"}\n')
    log.record_deletion("run-2", with_data=False)
    deletions = log.read()
    assert sorted(deletions.runs) == ["run-1", "run-2"]
    assert [d.split(": ")[0] for d in deletions.damage] == [
        f"{log.path}:2",
        f"{log.path}:3",
        f"{log.path}:4",
    ]


def test_an_event_cut_short_by_a_crash_was_never_done_and_is_cut_off(tmp_path: Path) -> None:
    log = DeletionLog(tmp_path)
    log.record_deletion("run-1", with_data=False)
    with open(log.path, "ab") as f:
        f.write(b'{"event": "deleted", "uid": "run-2", "ti')  # killed mid-line
    assert sorted(log.read().runs) == ["run-1"]
    assert log.read().damage == []
    log.record_deletion("run-3", with_data=False)
    assert sorted(log.read().runs) == ["run-1", "run-3"]
    assert log.read().damage == []
    assert len(log.path.read_text().splitlines()) == 2


def test_a_deletion_survives_a_process_killed_right_after_recording_it(tmp_path: Path) -> None:
    code = f"""
        import os, signal
        from zarrscribe.catalog import DeletionLog
        DeletionLog({str(tmp_path)!r}).record_deletion("run-1", with_data=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], timeout=60)
    assert done.returncode == -9
    assert list(DeletionLog(tmp_path).read().runs) == ["run-1"]


def test_two_processes_appending_at_once_interleave_no_line(tmp_path: Path) -> None:
    code = """
        import sys
        from zarrscribe.catalog import DeletionLog
        log = DeletionLog(sys.argv[1])
        for i in range(100):
            log.record_deletion(f"{sys.argv[2]}-{i}", with_data=False, reason="x" * 5000)
    """
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(tmp_path), name])
        for name in ("a", "b")
    ]
    assert [p.wait(120) for p in procs] == [0, 0]
    deletions = DeletionLog(tmp_path).read()
    assert deletions.damage == []
    assert len(deletions.runs) == 200


def test_an_unwritable_log_is_a_one_line_error_and_records_nothing(tmp_path: Path) -> None:
    (tmp_path / ".zarrscribe").write_text("not a folder")
    with pytest.raises(CatalogError, match=r"run r1 is deleted in .*nothing was done"):
        DeletionLog(tmp_path).record_deletion("r1", with_data=False)
