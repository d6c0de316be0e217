"""The RunEngine never waits for fsync, and a failed or missing fsync is never silent."""

from __future__ import annotations

from pathlib import Path

import pytest
from bluesky import RunEngine, plans as bp

from tests.conftest import FsyncDouble, Rig
from zarrscribe.callbacks import CallbackError, read_document_log
from zarrscribe.pipeline import Pipeline
from zarrscribe.writers.model import LOG_NAME, STATE_DIR


def test_a_failed_fsync_of_a_log_fails_the_run_and_the_flush(
    rig: Rig, RE: RunEngine, base_dir: Path, fsyncs: FsyncDouble
) -> None:
    failed: list[Path] = []

    def first_fsync_of_a_log(path: Path) -> bool:
        if path.name != LOG_NAME or failed:
            return False
        failed.append(path)
        return True

    fsyncs.fail_when = first_fsync_of_a_log
    with Pipeline([rig.light], base_dir=base_dir) as pipeline:
        pipeline.subscribe(RE)
        # The failure is seen by the next document the log writes after it.
        with pytest.raises(CallbackError, match="may not survive a power loss") as raised:
            RE(bp.count([rig.light], num=3, delay=0.3))
        (log,) = failed
        assert str(raised.value).startswith(
            f"the log {log} may not survive a power loss: its fsync failed (EIO: Input/output "
        )
        assert not pipeline.flush(60)  # registered, but one fsync failed
        assert pipeline.registrations.pending() == []
        assert pipeline.sync_failures == [f"fsync of {log} failed (EIO: Input/output error)"]
        (run,) = pipeline.connect_catalog().search()
        assert run.exit_status == "fail"
    assert [name for name, _ in read_document_log(log).documents][-1] == "stop"


def test_a_job_emptied_by_a_power_loss_is_registered_from_the_log(
    rig: Rig, RE: RunEngine, base_dir: Path
) -> None:
    with Pipeline([rig.light], base_dir=base_dir, catalog=None) as pipeline:
        pipeline.subscribe(RE)
        (uid,) = RE(bp.count([rig.light], num=2)).run_start_uids
    (link,) = (base_dir / STATE_DIR / "pending").iterdir()
    assert link.name.startswith(f"{uid}@")
    link.unlink()  # a job file (no link possible there) whose bytes never reached the disk
    job = link.with_name(f"{uid}.json")
    job.write_text("", encoding="utf-8")
    with Pipeline([rig.light], base_dir=base_dir) as pipeline:
        assert pipeline.flush(60), pipeline.registrations.failures
        (run,) = pipeline.connect_catalog().search()
        assert run.uid == uid
        assert not job.exists()


def test_a_bad_sync_window_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^fsync window -1 is not a number of seconds >= 0; "):
        Pipeline([], base_dir=tmp_path / "data", catalog=None, sync_window=-1)
    assert not (tmp_path / "data").exists()
