"""ophyd-async 0.21 detectors and one of our SimCameras in one store, through a real
RunEngine and Pipeline: count and fly scans, read back via zarr and Tiled, replay."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import event_model
import numpy as np
import numpy.typing as npt
import pytest
import zarr
from bluesky import RunEngine, plan_stubs as bps, plans as bp
from bluesky.run_engine import call_in_bluesky_event_loop
from bluesky.utils import Msg
from ophyd_async.core import TriggerInfo

from tests.conftest import DocumentCollector, RecordingCamera
from zarrscribe.catalog import Catalog
from zarrscribe.pipeline import Pipeline, fly_scan
from zarrscribe.pipeline.detectors import SoftCamera, SpotFrames, demo_detectors
from zarrscribe.writers import METADATA_KEY, ZarrWriter, read_store_attributes
from zarrscribe.writers.model import ATTRIBUTES_KEY


class Recording:
    """A frame source that keeps a copy of every frame it made, and can fail."""

    def __init__(self, shape: tuple[int, int], dtype: str, seed: int, fail_at: int = -1):
        self.source = SpotFrames(shape, dtype, seed)
        self.pushed: list[npt.NDArray[Any]] = []
        self.fail_at = fail_at

    def __call__(self, i: int) -> npt.NDArray[Any]:
        if i == self.fail_at:
            raise OSError("camera link lost")
        frame = self.source(i)
        self.pushed.append(frame.copy())
        return frame


def _camera(
    name: str, writer: ZarrWriter, shape: tuple[int, int], dtype: str, seed: int, fail_at: int = -1
) -> tuple[SoftCamera, Recording]:
    frames = Recording(shape, dtype, seed, fail_at)
    camera = SoftCamera(name, writer, shape=shape, dtype=dtype, exposure=0.0, frames=frames)
    call_in_bluesky_event_loop(camera.connect())
    return camera, frames


@dataclass
class Session:
    pipeline: Pipeline
    catalog: Catalog
    docs: DocumentCollector
    uids: dict[str, str]
    pushed: dict[str, dict[str, np.ndarray]]
    base_dir: Path


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    base_dir = tmp_path_factory.mktemp("oa") / "data"
    RE = RunEngine({}, call_returns_result=True)
    writer = ZarrWriter("default")
    oa1, frames1 = _camera("oa1", writer, (32, 48), "uint16", 1)
    oa2, frames2 = _camera("oa2", writer, (24, 24), "uint8", 2)
    ours = RecordingCamera("cam", writer, shape=(16, 20), exposure=0.0, seed=3)
    pipeline = Pipeline([oa1, oa2, ours], base_dir=base_dir, session="oa")
    pipeline.subscribe(RE)
    docs = DocumentCollector()
    RE.subscribe(docs)
    plans = {
        "count": lambda: bp.count([oa1, oa2, ours], num=3, md={"sample": "beads"}),
        "fly_scan": lambda: fly_scan([oa1, oa2, ours], 9, collect_every=0.01),
    }
    uids: dict[str, str] = {}
    pushed: dict[str, dict[str, np.ndarray]] = {}
    for name, plan in plans.items():
        frames1.pushed, frames2.pushed, ours.pushed = [], [], []
        (uids[name],) = RE(plan()).run_start_uids
        pushed[name] = {
            "oa1": np.stack(frames1.pushed),
            "oa2": np.stack(frames2.pushed),
            "cam": np.stack(ours.pushed),
        }
    assert pipeline.flush(120), pipeline.registrations.failures
    yield Session(pipeline, pipeline.connect_catalog(), docs, uids, pushed, base_dir)
    pipeline.close()


def test_documents_pass_the_schema_and_describe_the_arrays(session: Session) -> None:
    for uid in session.uids.values():
        descriptors = []
        for name, doc in session.docs.by_run[uid]:
            event_model.schema_validators[event_model.DocumentNames(name)].validate(doc)
            if name == "descriptor":
                descriptors.append(doc)
        (descriptor,) = descriptors
        keys = descriptor["data_keys"]
        # one frame per event, shaped as stored (no leading collections_per_event axis)
        assert keys["oa1"]["shape"] == [32, 48]
        assert keys["oa1"]["dtype_numpy"] == "<u2"
        assert keys["oa2"]["shape"] == [24, 24]
        assert keys["cam"]["shape"] == [16, 20]
        assert descriptor["configuration"]["oa1"]["data"]["oa1-exposure"] == 0.0


def test_one_store_read_back_equal_through_zarr_and_tiled(session: Session) -> None:
    for plan, uid in session.uids.items():
        (store,) = session.base_dir.glob(f"oa/{plan}_*/default.zarr")
        group = zarr.open_group(store, mode="r")
        assert sorted(group.group_keys()) == ["OME", "cam", "oa1", "oa2"]  # an image each
        assert group["OME"].attrs["ome"]["series"] == ["cam", "oa1", "oa2"]
        for device, frames in session.pushed[plan].items():
            assert len(frames) == (3 if plan == "count" else 9)
            np.testing.assert_array_equal(
                group[f"{device}/0"][:], frames, err_msg=f"{plan}/{device}"
            )
            np.testing.assert_array_equal(
                session.catalog.read_array(uid, device), frames, err_msg=f"{plan}/{device} Tiled"
            )


def test_attributes_and_catalog_entry_as_for_our_devices(session: Session) -> None:
    uid = session.uids["fly_scan"]
    (summary,) = session.catalog.search(uid=uid)
    assert summary.exit_status == "success"
    (store,) = summary.stores
    attrs = read_store_attributes(session.catalog.base_dir / store)
    ours = attrs[ATTRIBUTES_KEY]
    assert ours["arrays"]["oa1"]["shape"] == [9, 32, 48]
    assert ours["arrays"]["oa2"]["dtype"] == "|u1"
    assert ours["arrays"]["cam"]["shape"] == [9, 16, 20]
    assert ours["configuration"]["oa2"] == {"oa2-exposure": 0.0, "oa2-gain": 1.0}
    assert attrs[METADATA_KEY]["oa1"]["oa1-gain"] == 1.0  # forwarded to the shared writer
    entry = session.catalog.run(uid).metadata[ATTRIBUTES_KEY]
    assert entry["devices"] == ["cam", "oa1", "oa2"]


def test_replay_changes_nothing(session: Session) -> None:
    for uid in session.uids.values():
        (report,) = session.pipeline.replay(uid, check=True)
        assert report.ok, report.error
        assert not report.changed, report.differences


def test_collections_per_event_above_one_is_refused(tmp_path: Path) -> None:
    RE = RunEngine({}, call_returns_result=True)
    writer = ZarrWriter("default")
    camera, _ = _camera("oa1", writer, (8, 8), "uint16", 1)

    def plan() -> Generator[Msg, Any, None]:
        yield from bps.prepare(camera, TriggerInfo(number_of_events=2, collections_per_event=3))

    with Pipeline([camera], base_dir=tmp_path, catalog=None) as pipeline:
        pipeline.subscribe(RE)
        with pytest.raises(Exception, match=r"oa1: collections_per_event=3 is not supported"):
            RE(bp.count([camera], num=1, per_shot=lambda dets: plan()))


@pytest.mark.parametrize("beside", ["SoftCamera", "SimCamera"])
def test_detector_failing_mid_run_is_the_failure_raised_and_keeps_its_frames(
    tmp_path: Path, beside: str
) -> None:
    """An ophyd-async detector fails beside another one, or beside one of our
    SimCameras: the other keeps pushing until the run ends (into the writer the
    pipeline closed at RunStop), then stops quietly; ``RE(...)`` raises the failure."""
    RE = RunEngine({}, call_returns_result=True)
    writer = ZarrWriter("default")
    good: Any
    if beside == "SoftCamera":
        good, frames = _camera("good", writer, (8, 8), "uint16", 1)
        num = 50
    else:
        good = frames = RecordingCamera("good", writer, shape=(8, 8), exposure=0.002, seed=3)
        num = 2000
    bad, bad_frames = _camera("bad", writer, (8, 8), "uint16", 2, fail_at=4)
    docs = DocumentCollector()
    RE.subscribe(docs)
    with Pipeline([good, bad], base_dir=tmp_path, catalog=None) as pipeline:
        pipeline.subscribe(RE)
        t0 = time.monotonic()
        with pytest.raises(Exception, match="camera link lost") as raised:
            RE(fly_scan([good, bad], num, collect_every=0.01))
        assert time.monotonic() - t0 < 5  # the failure, not an exposure timeout, ends it
    assert "is not open" not in str(raised.value)
    (uid,) = docs.by_run
    stop = docs.by_run[uid][-1][1]
    assert stop["exit_status"] == "fail"
    assert "camera link lost" in stop["reason"]
    (store,) = tmp_path.glob("*/fly_scan_*/default.zarr")
    on_disk = zarr.open_group(store, mode="r")
    np.testing.assert_array_equal(on_disk["bad/0"][:], np.stack(bad_frames.pushed))
    assert on_disk["bad/0"].shape == (4, 8, 8)
    # the other camera kept pushing until the run ended; every frame it wrote is there
    try:
        written = on_disk["good/0"][:]
    except KeyError:  # a busy machine: the SimCamera's thread had not pushed a frame yet
        written = np.empty((0, 8, 8), np.uint16)
    assert len(written) >= (4 if beside == "SoftCamera" else 0)
    if beside == "SimCamera":
        assert len(written) < num  # it was still pushing when the run ended
    if len(written):
        np.testing.assert_array_equal(written, np.stack(frames.pushed[: len(written)]))
    assert read_store_attributes(store)[ATTRIBUTES_KEY]["run"]["exit_status"] == "fail"
    assert not writer.is_open  # closed by the pipeline at RunStop


def test_demo_detectors_share_the_writer() -> None:
    RunEngine({})
    writer = ZarrWriter("default")
    cameras = demo_detectors(writer)
    assert len(cameras) == 2
    assert all(c.writer_logic is writer for c in cameras)
