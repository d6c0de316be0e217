"""Runs that fail, are aborted, or finish while the catalog is down lose nothing."""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from bluesky import RunEngine, plan_stubs as bps, plans as bp
from bluesky.utils import FailedStatus, Msg, RunEngineInterrupted

from tests.conftest import Rig
from zarrscribe.callbacks import CallbackError, read_document_log
from zarrscribe.pipeline import Pipeline
from zarrscribe.pipeline.cli import main as cli
from zarrscribe.writers import read_store_attributes
from zarrscribe.writers.model import ATTRIBUTES_KEY, STATE_DIR


def _store(base_dir: Path, plan: str, group: str = "default") -> Path:
    (store,) = base_dir.glob(f"*/{plan}_*/{group}.zarr")
    return store


def _failing_count(rig: Rig, fail_after: int) -> Generator[Msg, Any, None]:
    def per_shot(detectors: Any) -> Generator[Msg, Any, None]:
        if len(rig.cam1.pushed) >= fail_after:
            raise RuntimeError("sample holder jammed")
        yield from bps.trigger_and_read(detectors)

    yield from bp.count([rig.cam1, rig.cam2], num=10, per_shot=per_shot)


def test_failed_run_leaves_readable_store_log_and_catalog_entry(
    rig: Rig, RE: RunEngine, base_dir: Path
) -> None:
    with Pipeline(rig.devices, base_dir=base_dir) as pipeline:
        pipeline.subscribe(RE)
        with pytest.raises(RuntimeError, match="sample holder jammed"):
            RE(_failing_count(rig, fail_after=4))
        assert pipeline.flush(120), pipeline.registrations.failures
        catalog = pipeline.connect_catalog()
        (run,) = catalog.search(exit_status="fail")
        store = _store(base_dir, "count")
        np.testing.assert_array_equal(
            zarr.open_group(store, mode="r")["cam1/0"][:], np.stack(rig.cam1.pushed)
        )
        np.testing.assert_array_equal(
            catalog.read_array(run.uid, "cam1"), np.stack(rig.cam1.pushed)
        )
        attrs = read_store_attributes(store)[ATTRIBUTES_KEY]
        assert attrs["run"]["exit_status"] == "fail"
        assert "sample holder jammed" in attrs["run"]["reason"]
        names = [n for n, _ in read_document_log(store.parent / "documents.jsonl").documents]
        assert names[0] == "start"
        assert names[-1] == "stop"
        assert not rig.default.is_open  # closed by the pipeline, ready for the next run
        (replayed,) = pipeline.replay(run.uid, check=True)  # live == replay
        assert not replayed.changed, replayed.differences


def test_aborted_run(rig: Rig, RE: RunEngine, base_dir: Path) -> None:
    def pausing() -> Generator[Msg, Any, None]:
        yield from bp.count([rig.cam1], num=2)

    def plan() -> Generator[Msg, Any, None]:
        yield from bps.open_run(md={"plan_name": "pausing"})
        yield from bps.stage(rig.cam1)
        for _ in range(3):
            yield from bps.trigger_and_read([rig.cam1])
        yield Msg("pause")
        yield from bps.trigger_and_read([rig.cam1])
        yield from bps.unstage(rig.cam1)
        yield from bps.close_run()

    with Pipeline(rig.devices, base_dir=base_dir) as pipeline:
        pipeline.subscribe(RE)
        with pytest.raises(RunEngineInterrupted):
            RE(plan())
        RE.abort(reason="operator stopped it")
        assert pipeline.flush(120)
        (run,) = pipeline.connect_catalog().search(exit_status="abort")
        assert run.plan_name == "pausing"
        frames = zarr.open_group(_store(base_dir, "pausing"), mode="r")["cam1/0"][:]
        np.testing.assert_array_equal(frames, np.stack(rig.cam1.pushed))
        assert len(frames) == 3
        (replayed,) = pipeline.replay(run.uid, check=True)  # live == replay
        assert not replayed.changed, replayed.differences


def test_catalog_down_loses_nothing(rig: Rig, RE: RunEngine, base_dir: Path) -> None:
    down = Pipeline(rig.devices, base_dir=base_dir, catalog="http://127.0.0.1:9/api/v1/")
    down.subscribe(RE)
    (uid,) = RE(bp.count([rig.cam1, rig.cam2], num=2)).run_start_uids  # the run succeeds
    assert not down.flush(1.0)
    assert down.registrations.pending() == [uid]
    deadline = time.monotonic() + 60
    while uid not in down.registrations.failures and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "127.0.0.1:9" in down.registrations.failures[uid]
    down.close(timeout=0.1)
    (job,) = (base_dir / ".zarrscribe" / "pending").iterdir()  # another name of the log
    assert job.name.startswith(f"{uid}@")
    assert job.samefile(down.log_path(uid))

    # Later, with the catalog back: the pending registration is done, nothing lost.
    with Pipeline(rig.devices, base_dir=base_dir) as back:
        assert back.flush(120), back.registrations.failures
        assert back.registrations.pending() == []
        catalog = back.connect_catalog()
        assert [r.uid for r in catalog.search()] == [uid]
        np.testing.assert_array_equal(catalog.read_array(uid, "cam2"), np.stack(rig.cam2.pushed))


def test_bad_frame_stops_the_run_and_keeps_the_good_ones(
    rig: Rig, RE: RunEngine, base_dir: Path
) -> None:
    good = rig.cam1.make_frame

    def sometimes_bad() -> np.ndarray:
        frame = good()
        return frame[:, :-1] if len(rig.cam1.pushed) == 3 else frame

    rig.cam1.make_frame = sometimes_bad  # type: ignore[method-assign]
    with Pipeline(rig.devices, base_dir=base_dir, catalog=None) as pipeline:
        pipeline.subscribe(RE)
        with pytest.raises(FailedStatus):
            RE(bp.count([rig.cam1], num=5))
    frames = zarr.open_group(_store(base_dir, "count"), mode="r")["cam1/0"][:]
    np.testing.assert_array_equal(frames, np.stack(rig.cam1.pushed[:2]))
    attrs = read_store_attributes(_store(base_dir, "count"))[ATTRIBUTES_KEY]
    assert attrs["run"]["exit_status"] == "fail"
    assert "has shape (32, 39); registered (32, 40)" in attrs["run"]["reason"]


def test_writer_left_open_is_an_error_the_run_sees(
    rig: Rig, RE: RunEngine, base_dir: Path, tmp_path: Path
) -> None:
    rig.default.set_uri(str(tmp_path / "elsewhere.zarr"))
    rig.default.register("cam1", np.uint16, (32, 40))
    rig.default.open("cam1")
    with Pipeline(rig.devices, base_dir=base_dir, catalog=None) as pipeline:
        pipeline.subscribe(RE)
        with pytest.raises(CallbackError, match=r"writer\(s\) 'default' .* still open"):
            RE(bp.count([rig.cam3], num=1))
    rig.default.close()
    assert (tmp_path / "elsewhere.zarr").is_dir()  # the other acquisition is untouched


def test_a_plan_name_without_letters_is_still_logged_and_registered(
    rig: Rig, RE: RunEngine, base_dir: Path
) -> None:
    with Pipeline(rig.devices, base_dir=base_dir) as pipeline:
        pipeline.subscribe(RE)
        (uid,) = RE(bp.count([rig.light], num=2, md={"plan_name": "///"})).run_start_uids
        assert pipeline.flush(120), pipeline.registrations.failures
        (log,) = base_dir.glob("*/run_*/documents.jsonl")
        names = [n for n, _ in read_document_log(log).documents]
        assert names[0] == "start"
        assert names[-1] == "stop"
        (run,) = pipeline.connect_catalog().search()
        assert run.uid == uid
        assert run.exit_status == "success"


class _Holder:
    """An arbitrary object, as a user might put in a run's metadata."""


@pytest.mark.parametrize(
    ("md", "where", "kind"),
    [
        ({"sample": {"raw": b"\x00\x01"}}, "sample.raw", "bytes"),
        ({"sample": {"holders": ["a", _Holder()]}}, "sample.holders[1]", "_Holder"),
    ],
)
def test_an_unserialisable_start_document_is_refused_and_leaves_nothing(
    rig: Rig, RE: RunEngine, base_dir: Path, md: dict[str, Any], where: str, kind: str
) -> None:
    with Pipeline(rig.devices, base_dir=base_dir) as pipeline:
        pipeline.subscribe(RE)
        with pytest.raises(CallbackError) as raised:
            RE(bp.count([rig.cam1], num=2, md=md))
        message = str(raised.value)
        assert f"'{where}'" in message
        assert kind in message
        assert "\n" not in message
        assert not list(base_dir.glob("[!.]*/*"))  # no run folder, no log, no store
        assert pipeline.registrations.pending() == []  # no job waiting for ever
        assert not rig.default.is_open
        # The next run is as usual, and the refused one is nowhere.
        (uid,) = RE(bp.count([rig.cam1], num=2)).run_start_uids
        assert pipeline.flush(120), pipeline.registrations.failures
        assert pipeline.registrations.pending() == []
        assert [r.uid for r in pipeline.connect_catalog().search()] == [uid]
        (log,) = base_dir.glob("*/*/documents.jsonl")
        names = [n for n, _ in read_document_log(log).documents]
        assert (names[0], names[-1]) == ("start", "stop")
    assert cli(["replay", "--all", "--base-dir", str(base_dir)]) == 0


def test_the_first_failure_of_a_run_is_the_one_raised(
    rig: Rig, RE: RunEngine, base_dir: Path
) -> None:
    """A failure at the stop document of a run that already failed (here: its catalog
    registration cannot be queued) is logged, and does not hide why the run failed."""
    with Pipeline(rig.devices, base_dir=base_dir) as pipeline:
        pipeline.subscribe(RE)
        pending = base_dir / STATE_DIR / "pending"
        if pending.exists():  # made when the first job is queued
            pending.rmdir()
        pending.parent.mkdir(parents=True, exist_ok=True)
        pending.write_text("not a folder")
        with pytest.raises(RuntimeError, match="sample holder jammed"):
            RE(_failing_count(rig, fail_after=2))
        pending.unlink()
        pending.mkdir()
    assert cli(["replay", "--all", "--base-dir", str(base_dir)]) == 0
