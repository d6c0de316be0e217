"""Replay regenerates store attributes and catalog entries from the documents."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from bluesky import RunEngine, plans as bp

from tests.conftest import Rig
from tests.pipeline import _killed_run
from zarrscribe.pipeline import Pipeline, fly_scan
from zarrscribe.pipeline.cli import main as cli
from zarrscribe.writers import frames_on_disk, read_store_attributes
from zarrscribe.writers.model import ATTRIBUTES_KEY, INCOMPLETE, without_written_at


class Lab:
    """Three finished runs and a pipeline that can be reopened (after the catalog is lost)."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.rig = Rig()
        self.pipeline = Pipeline(self.rig.devices, base_dir=base_dir, session="lab")
        RE = RunEngine({})
        self.pipeline.subscribe(RE)
        self.uids = [
            *RE(bp.count([*self.rig.cameras, self.rig.light], num=2)),
            *RE(bp.scan([self.rig.cam1, self.rig.light], self.rig.motor, 0, 1, 3)),
            *RE(fly_scan(self.rig.cameras, 5, collect_every=0.01)),
        ]
        assert self.pipeline.flush(120)

    def reopen(self) -> Pipeline:
        self.pipeline.close(1.0)
        self.pipeline = Pipeline(self.rig.devices, base_dir=self.base_dir, session="lab")
        return self.pipeline

    def stores(self) -> list[Path]:
        return sorted(self.base_dir.glob("lab/*/*.zarr"))

    def all_attributes(self) -> dict[str, Any]:
        return {str(s): without_written_at(read_store_attributes(s)) for s in self.stores()}

    def entries(self) -> dict[str, Any]:
        catalog = self.pipeline.connect_catalog()
        out = {}
        for summary in catalog.search():
            md = dict(catalog.run(summary.uid).metadata)
            out[summary.uid] = {
                "start": md["start"],
                "stop": md["stop"],
                **without_written_at({ATTRIBUTES_KEY: md[ATTRIBUTES_KEY]}),
                "streams": sorted(catalog.run(summary.uid)["primary"]),
            }
        return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("replay") / "data")
    yield lab
    lab.pipeline.close(1.0)


def test_replaying_a_live_run_changes_nothing(lab: Lab) -> None:
    before = lab.all_attributes()
    reports = lab.pipeline.replay()
    assert [r.error for r in reports] == [None] * 3
    assert not any(r.changed for r in reports), [r.differences for r in reports]
    assert lab.all_attributes() == before


def test_stripped_attributes_are_regenerated_equal(lab: Lab) -> None:
    store = next(s for s in lab.stores() if s.parent.name.startswith("fly_scan"))
    original = read_store_attributes(store)
    node = store / "zarr.json"
    document = json.loads(node.read_text())
    document["attributes"] = {}
    node.write_text(json.dumps(document))

    (checked,) = lab.pipeline.replay(store.parent, check=True)
    assert checked.stores[store.as_uri()] == "differs"
    assert read_store_attributes(store) == {}  # --check wrote nothing

    (report,) = lab.pipeline.replay(store.parent)
    assert report.stores[store.as_uri()] == "written"
    assert without_written_at(read_store_attributes(store)) == without_written_at(original)
    np.testing.assert_array_equal(zarr.open_group(store, mode="r")["cam1/0"][:].shape, (5, 32, 40))


def test_lost_catalog_is_rebuilt_with_the_same_entries(lab: Lab) -> None:
    entries = lab.entries()
    queries = {
        "scan": [r.uid for r in lab.pipeline.connect_catalog().search(plan_name="scan")],
        "cam3": [r.uid for r in lab.pipeline.connect_catalog().search(device="cam3")],
    }
    lab.pipeline.close(1.0)
    shutil.rmtree(lab.base_dir / ".zarrscribe" / "catalog")
    pipeline = lab.reopen()
    assert pipeline.connect_catalog().search() == []

    progress: list[str] = []
    reports = pipeline.replay(progress=lambda i, n, r: progress.append(f"{i}/{n} {r.line()}"))
    assert [r.catalog for r in reports] == ["registered"] * 3
    assert len(progress) == 3
    assert progress[0].startswith("1/3 ")
    assert lab.entries() == entries
    catalog = pipeline.connect_catalog()
    assert [r.uid for r in catalog.search(plan_name="scan")] == queries["scan"]
    assert [r.uid for r in catalog.search(device="cam3")] == queries["cam3"]
    fly_store = lab.base_dir / catalog.search(plan_name="fly_scan")[0].stores[0]
    np.testing.assert_array_equal(
        catalog.read_array(lab.uids[2], "cam2"), zarr.open_group(fly_store)["cam2/0"][:]
    )


def test_replay_twice_changes_nothing_the_second_time(lab: Lab) -> None:
    first = lab.pipeline.replay()
    mtimes = {s: (s / "zarr.json").stat().st_mtime_ns for s in lab.stores()}
    second = lab.pipeline.replay()
    assert [r.changed for r in second] == [False] * 3, [r.differences for r in second]
    assert all(r.catalog == "unchanged" for r in second)
    assert {s: (s / "zarr.json").stat().st_mtime_ns for s in lab.stores()} == mtimes
    assert len(first) == len(second)


def test_run_whose_log_is_gone_replays_from_the_catalog(lab: Lab) -> None:
    uid = lab.uids[1]
    (summary,) = lab.pipeline.connect_catalog().search(uid=uid)
    (store,) = [lab.base_dir / s for s in summary.stores]
    original = read_store_attributes(store)
    log = store.parent / "documents.jsonl"
    hidden = log.with_suffix(".hidden")
    log.rename(hidden)
    try:
        node = store / "zarr.json"
        document = json.loads(node.read_text())
        document["attributes"] = {}
        node.write_text(json.dumps(document))
        (report,) = lab.pipeline.replay(uid[:10])
        assert report.error is None, report.error
        assert report.source == "catalog"
        assert report.stores[store.as_uri()] == "written"
        regenerated = without_written_at(read_store_attributes(store))
        expected = without_written_at(original)
        assert regenerated == expected
    finally:
        hidden.rename(log)


def test_corrupt_log_is_reported_and_the_others_still_replay(lab: Lab) -> None:
    log = next(lab.base_dir.glob("lab/count_*/documents.jsonl"))
    original = log.read_text()
    lines = original.splitlines(keepends=True)
    log.write_text("".join([*lines[:3], "{this is not json\n", *lines[3:]]))
    try:
        reports = lab.pipeline.replay()
        errors = [r for r in reports if r.error]
        assert len(errors) == 1
        assert f"{log}:4: not a document record" in (errors[0].error or "")
        assert len([r for r in reports if r.ok]) == 2
    finally:
        log.write_text(original)


def test_cli_replay_check_and_all(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.pipeline.close(1.0)
    base = str(lab.base_dir)
    assert cli(["replay", "--all", "--check", "--base-dir", base]) == 0
    out = capsys.readouterr().out
    assert "3 runs: 0 differ, 0 errors" in out
    assert cli(["replay", "--plan", "scan", "--base-dir", base]) == 0
    assert "[1/1]" in capsys.readouterr().out
    assert cli(["replay", "--base-dir", base]) == 2  # one line: say what to replay
    lab.reopen()


def _wait_for(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the child process did not get far enough")
        time.sleep(0.05)


def test_killed_run_is_recovered_as_incomplete(tmp_path: Path) -> None:
    base_dir = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.pipeline._killed_run", str(base_dir)],
        env=env,
        cwd=Path(__file__).parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        store = base_dir / "crash" / "fly_scan_00000" / "default.zarr"
        _wait_for(  # frames readable on disk (the array's shape can run ahead of them)
            lambda: min(frames_on_disk(store).get(k, 0) for k in ("cam1/0", "cam2/0")) >= 64,
            timeout=120,
        )
    finally:
        child.send_signal(signal.SIGKILL)
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    assert not (store / "zarr.json").exists()  # acquire-zarr never closed the store
    assert not (store / "cam1" / "zarr.json").exists()  # nor the images

    with Pipeline([], base_dir=base_dir, session="crash") as pipeline:
        (checked,) = pipeline.replay(check=True)
        assert checked.exit_status == INCOMPLETE
        assert checked.catalog == "missing"
        assert not (store / "zarr.json").exists()  # --check wrote nothing
        assert not (store / "cam1" / "zarr.json").exists()
        assert "default.zarr/cam1: OME-Zarr image metadata missing -> rebuilt" in (
            checked.differences
        )
        (report,) = pipeline.replay()
        assert report.ok, report.error
        assert report.exit_status == INCOMPLETE
        assert report.on_disk["cam1/0"] >= 64
        assert report.catalog == "registered"
        catalog = pipeline.connect_catalog()
        (entry,) = catalog.search(exit_status=INCOMPLETE)
        attrs = read_store_attributes(store)[ATTRIBUTES_KEY]
        assert attrs["run"]["exit_status"] == INCOMPLETE
        assert attrs["stop"] is None
        for key, seed_cam in zip(("cam1", "cam2"), _killed_run.cameras(), strict=True):
            on_disk = report.on_disk[f"{key}/0"]  # frames whose shards reached disk
            expected = np.stack([seed_cam.make_frame() for _ in range(on_disk)])
            np.testing.assert_array_equal(
                zarr.open_array(store / key / "0", mode="r")[:on_disk], expected
            )
            image = zarr.open_group(store, mode="r")[key]  # the root and the image: groups
            assert image.attrs["ome"]["multiscales"][0]["name"] == key
            np.testing.assert_array_equal(image["0"][:on_disk], expected)
            # The attributes and the catalog describe the frames the documents announced
            # (a frame pushed after the last collect has no StreamDatum) that are on disk.
            described = attrs["arrays"][key]["shape"][0]
            assert on_disk - 64 < described <= on_disk
            np.testing.assert_array_equal(catalog.read_array(entry.uid, key), expected[:described])
        # and a second replay changes nothing
        (again,) = pipeline.replay()
        assert not again.changed, again.differences


def test_replay_without_catalog_queues_the_registrations(lab: Lab) -> None:
    lab.pipeline.close(1.0)
    offline = Pipeline([], base_dir=lab.base_dir, session="lab", catalog=None)
    try:
        reports = offline.replay()
        assert [r.catalog for r in reports] == ["queued"] * 3
        assert not any(o != "unchanged" for r in reports for o in r.stores.values())
        assert offline.registrations.pending() == sorted(lab.uids)
    finally:
        offline.close(0.1)
    with lab.reopen() as pipeline:  # a pipeline with the catalog takes them over
        assert pipeline.flush(120), pipeline.registrations.failures
        assert pipeline.registrations.pending() == []
        assert sorted(r.uid for r in pipeline.connect_catalog().search()) == sorted(lab.uids)
