"""Live catalog entries: a run is in the catalog from its start (``running``), grows while
it acquires, becomes exactly its stop's registration (equal to replay), and a run whose
process was killed is recovered ``incomplete`` by the next pipeline on its folder."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bluesky import RunEngine, plan_stubs as bps, plans as bp

from tests._servers import free_port
from tests.conftest import RecordingCamera
from tests.pipeline.faults.test_faults import check_the_rule
from zarrscribe.catalog import Catalog, CatalogError
from zarrscribe.pipeline import Pipeline, SimLight
from zarrscribe.pipeline.cli import main as cli
from zarrscribe.writers import ZarrWriter, frames_on_disk
from zarrscribe.writers.model import ATTRIBUTES_KEY, INCOMPLETE, RUNNING

ROOT = Path(__file__).parents[2]


def _entry(catalog: Catalog, uid: str) -> dict[str, Any]:
    return dict(catalog.metadata(uid)[ATTRIBUTES_KEY])


def _frames(ours: dict[str, Any], key: str = "cam1") -> int:
    array = (ours.get("arrays") or {}).get(key)
    return int(array["shape"][0]) if array else 0


def _folder_catalog(base: Path, deadline: float) -> Catalog:
    """The data folder's catalog, once there is one (another reader, as a user's own)."""
    while True:
        try:
            return Catalog.from_folder(base)
        except CatalogError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def plan_thread() -> Iterator[Callable[[RunEngine, Any], threading.Thread]]:
    """Runs a plan on a RunEngine in a thread of its own (the test watches)."""
    threads: list[threading.Thread] = []

    def start(RE: RunEngine, plan: Any) -> threading.Thread:
        thread = threading.Thread(target=RE, args=(plan,), daemon=True)
        thread.start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.join(60)


def test_a_run_is_in_the_catalog_from_its_start_and_grows(
    base_dir: Path, plan_thread: Callable[[RunEngine, Any], threading.Thread], capsys: Any
) -> None:
    writer = ZarrWriter("default", shard_frames=4)
    cam = RecordingCamera("cam1", writer, shape=(16, 16), exposure=0.0, seed=1)
    light = SimLight("light")
    pipeline = Pipeline([cam, light], base_dir=base_dir, live_interval=0.1)
    RE = RunEngine({}, context_managers=[])
    pipeline.subscribe(RE)
    # a first run makes the folder's catalog (seconds: Tiled's first start), as in a session
    plan_thread(RE, bp.count([light], num=1)).join(60)
    assert pipeline.flush(120)
    thread = plan_thread(RE, bp.count([cam, light], num=100, delay=0.1))
    deadline = time.monotonic() + 120
    catalog = _folder_catalog(base_dir, deadline)
    seen: list[tuple[int, int]] = []  # (events, readable frames) of each running entry seen
    uid, checked = "", False
    while thread.is_alive() and time.monotonic() < deadline:
        running = catalog.search(exit_status=RUNNING)
        if not running:
            time.sleep(0.05)
            continue
        (run,) = running  # (the first run is registered, not running)
        uid, ours = run.uid, _entry(catalog, run.uid)
        events, frames = run.num_events.get("primary", 0), _frames(ours)
        if not seen or seen[-1] != (events, frames):
            seen.append((events, frames))
        assert ours["exit_status"] == RUNNING
        assert not ours["recovered"]
        assert frames <= ours["arrays"]["cam1"]["announced"] if frames else True
        if frames and not checked:  # what readers get of a running run
            checked = True
            readings = catalog.readings(uid)["primary"]
            assert len(readings["light-intensity"]) >= events  # (read a moment later)
            capsys.readouterr()
            assert cli(["runs", "--status", "running", "--json", "--base-dir", str(base_dir)]) == 0
            assert [r["uid"] for r in json.loads(capsys.readouterr().out)] == [uid]
            assert cli(["show", uid[:8], "--json", "--base-dir", str(base_dir)]) == 0
            shown = json.loads(capsys.readouterr().out)
            assert shown["exit_status"] == RUNNING
            assert shown["arrays"]["cam1"]["shape"][0] >= frames
            # replay leaves a run being acquired alone (nothing to change: exit 0)
            assert cli(["replay", "--all", "--check", "--base-dir", str(base_dir)]) == 0
            assert f"{uid[:8]}  running" in capsys.readouterr().out
            # (last: opening Tiled to read arrays takes seconds on a busy machine)
            np.testing.assert_array_equal(
                catalog.read_array(uid, "cam1")[:frames], np.stack(cam.pushed[:frames])
            )
        time.sleep(0.05)
    thread.join(60)
    assert not thread.is_alive()
    # seen from its start, growing: events and readable frames only ever go up
    assert len(seen) >= 3, seen
    assert seen == sorted(seen), seen
    assert seen[0][0] < 100, seen
    assert seen[-1][1] > 0, seen
    assert checked
    assert pipeline.live is not None
    assert pipeline.live.written >= 3
    assert pipeline.flush(60)
    final = _entry(catalog, uid)
    assert final["exit_status"] == "success"
    assert _frames(final) == 100
    assert "num_events" not in final  # exactly today's entry (no live leftovers)
    reports = pipeline.replay(check=True)
    assert [r.changed for r in reports] == [False, False], [r.differences for r in reports]
    pipeline.close()
    catalog.close()


def test_the_final_entry_always_lands_after_the_live_ones(
    base_dir: Path, RE: RunEngine, rig: Any
) -> None:
    """Live updates as often as they can go, runs stopping at every moment: once
    registered, no run's entry is ever ``running``."""
    with Pipeline(rig.devices, base_dir=base_dir, live_interval=0.01) as pipeline:
        pipeline.subscribe(RE)
        uids = [
            RE(bp.count([rig.cam1, rig.light], num=n, delay=0.02)).run_start_uids[0]
            for n in (3, 5, 8, 13)
        ]
        assert pipeline.flush(60)
        time.sleep(0.3)  # a live update still in hand would land now
        catalog = pipeline.connect_catalog()
        assert {r.uid: r.exit_status for r in catalog.search()} == dict.fromkeys(uids, "success")
        assert all(not r.changed for r in pipeline.replay(check=True))


def test_unless_writes_nothing(base_dir: Path, RE: RunEngine, rig: Any) -> None:
    with Pipeline(rig.devices, base_dir=base_dir, live_interval=None) as pipeline:
        pipeline.subscribe(RE)
        (uid,) = RE(bp.count([rig.cam1], num=2)).run_start_uids
        assert pipeline.flush(60)
        catalog = pipeline.connect_catalog()
        docs = catalog.documents(uid)
        assert catalog.register_runs([(docs, {"x": 1})], unless=lambda: True) == []
        assert "x" not in catalog.metadata(uid)


@pytest.mark.parametrize("bad", [0, -1.0, True, "1"])
def test_a_bad_live_interval_is_refused(base_dir: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match=f"live_interval {bad!r} must be a positive number"):
        Pipeline([], base_dir=base_dir, live_interval=bad)
    assert not base_dir.exists()


def test_no_live_entries_when_off(base_dir: Path, RE: RunEngine, rig: Any) -> None:
    with Pipeline(rig.devices, base_dir=base_dir, live_interval=None) as pipeline:
        pipeline.subscribe(RE)
        RE(bp.count([rig.cam1, rig.light], num=20, delay=0.02))
        assert pipeline.live is not None
        assert pipeline.live.written == 0
        assert pipeline.flush(60)


def test_a_catalog_that_is_down_never_fails_the_run(
    base_dir: Path, RE: RunEngine, rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    uri = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    pipeline = Pipeline(rig.devices, base_dir=base_dir, catalog=uri, live_interval=0.05)
    pipeline.subscribe(RE)
    live = pipeline.live
    assert live is not None

    def plan() -> Any:  # acquires until live updates failed a few times (at most 60 s)
        uid = yield from bps.open_run()
        deadline = time.monotonic() + 60
        while uid not in live.failures and time.monotonic() < deadline:
            yield from bps.trigger_and_read([rig.light])
            yield from bps.sleep(0.05)
        for _ in range(10):  # retried meanwhile, quietly
            yield from bps.trigger_and_read([rig.light])
            yield from bps.sleep(0.05)
        yield from bps.close_run()

    with caplog.at_level(logging.WARNING, logger="zarrscribe.pipeline._live"):
        (uid,) = RE(plan()).run_start_uids
    warned = [r for r in caplog.records if "live entry of run" in r.getMessage()]
    assert len(warned) == 1  # logged once, not raised
    assert uid in warned[0].getMessage()
    assert pipeline.registrations.pending() == [uid]  # registered later, as today
    pipeline.close(timeout=0.5)


# ---------------------------------------------------------------------- another process


def _start_child(base: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pipeline._live_child", str(base)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_run_in_another_process_grows_then_is_recovered_after_a_kill(tmp_path: Path) -> None:
    base = tmp_path / "data"
    child = _start_child(base)
    try:
        deadline = time.monotonic() + 180
        catalog = None
        seen: list[int] = []
        while len(set(seen)) < 3 and child.poll() is None and time.monotonic() < deadline:
            if catalog is None:
                try:
                    catalog = Catalog.from_folder(base)
                except CatalogError:
                    time.sleep(0.1)
                    continue
            running = catalog.search(exit_status=RUNNING)
            if running:
                frames = _frames(_entry(catalog, running[0].uid))
                if frames:
                    seen.append(frames)
            time.sleep(0.1)
        assert len(set(seen)) >= 3, seen
        assert seen == sorted(seen), seen
        child.send_signal(signal.SIGKILL)
        _, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    assert child.returncode == -signal.SIGKILL, stderr.decode()[-3000:]
    assert catalog is not None
    (run,) = catalog.search()
    assert run.exit_status == RUNNING  # the dead process's last live entry says so
    catalog.close()
    (store,) = base.glob("live/count_*/default.zarr")
    on_disk = frames_on_disk(store)["cam1/0"]
    # the next pipeline on the folder recovers it: incomplete, with what is readable
    with Pipeline([], base_dir=base) as pipeline:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = pipeline.connect_catalog().search()
            if found and found[0].exit_status != RUNNING:
                break
            time.sleep(0.1)
        (after,) = pipeline.connect_catalog().search()  # once, not twice
        assert after.uid == run.uid
        assert after.exit_status == INCOMPLETE
        assert _frames(_entry(pipeline.connect_catalog(), run.uid)) == on_disk
        assert all(not r.changed for r in pipeline.replay(check=True))
    statuses = check_the_rule(base)  # every store and entry says what is readable
    assert statuses == {run.uid: INCOMPLETE}
