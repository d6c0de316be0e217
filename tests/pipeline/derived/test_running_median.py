"""A running median of a plain ophyd-async StandardDetector, derived in the run's store:
announced by the RunEngine (schema-valid documents), equal to numpy's median of the
frames it saw, readable through zarr-python, Tiled and ome-zarr as its own image, and
replayed like any array; a producer slower than the camera drops (counted, reported)
and never stalls the RunEngine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import event_model
import numpy as np
import pytest
import zarr
from bluesky import RunEngine, plans as bp

from tests._ome import ome_image
from tests.conftest import DocumentCollector
from tests.pipeline.detectors._plain import Done, frame, one_run, plain_detector
from zarrscribe.pipeline import Pipeline
from zarrscribe.pipeline.derived import RunningMedian, with_derived
from zarrscribe.writers import ZarrWriter, read_store_attributes
from zarrscribe.writers.model import ATTRIBUTES_KEY

SHAPE = (6, 8)
NUM, WINDOW, EVERY = 20, 4, 5


def expected_medians(num: int, window: int, every: int) -> np.ndarray:
    frames = np.stack([frame(i, SHAPE) for i in range(num)])
    ends = range(every, num + 1, every)
    return np.stack([np.median(frames[e - window : e], axis=0) for e in ends]).astype(np.float32)


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Done]:
    def make(det: Any, writer: ZarrWriter) -> tuple[Any, list[Any]]:
        median = RunningMedian(
            "det", writer, shape=SHAPE, dtype="uint16", window=WINDOW, every=EVERY
        )
        return with_derived(bp.count([det], num=NUM), [median]), [median]

    with one_run(tmp_path_factory.mktemp("median") / "data", SHAPE, make) as done:
        yield done


def test_documents_announce_the_derived_array(done: Done) -> None:
    for name, doc in done.docs:
        event_model.schema_validators[event_model.DocumentNames(name)].validate(doc)
    streams = {d["name"]: d for n, d in done.docs if n == "descriptor"}
    assert set(streams) == {"primary", "det_median", "det_median_summary"}
    key = streams["det_median"]["data_keys"]["det_median"]
    assert key["shape"] == list(SHAPE)
    assert key["dtype_numpy"] == "<f4"
    config = streams["det_median"]["configuration"]["det_median"]["data"]
    assert config["det_median-source"] == "det"
    assert config["det_median-window"] == WINDOW
    resources = [d["data_key"] for n, d in done.docs if n == "stream_resource"]
    assert sorted(resources) == ["det", "det_median"]
    (summary,) = [
        d
        for n, d in done.docs
        if n == "event" and d["descriptor"] == streams["det_median_summary"]["uid"]
    ]
    assert summary["data"] == {
        "det_median-seen": NUM // EVERY * WINDOW,
        "det_median-dropped": 0,
        "det_median-written": NUM // EVERY,
    }


def test_medians_equal_numpy_through_zarr_tiled_and_ome(done: Done) -> None:
    expected = expected_medians(NUM, WINDOW, EVERY)
    group = zarr.open_group(done.store, mode="r")
    np.testing.assert_array_equal(group["det_median/0"][:], expected)
    np.testing.assert_array_equal(
        group["det/0"][:], np.stack([frame(i, SHAPE) for i in range(NUM)])
    )
    np.testing.assert_array_equal(done.catalog.read_array(done.uid, "det_median"), expected)
    image = ome_image(done.store / "det_median")  # napari-ome-zarr opens it as its own image
    np.testing.assert_array_equal(np.asarray(image.data[0]), expected)
    arrays = read_store_attributes(done.store)[ATTRIBUTES_KEY]["arrays"]
    assert arrays["det_median"]["stream"] == "det_median"
    assert arrays["det_median"]["shape"] == [NUM // EVERY, *SHAPE]


def test_replay_changes_nothing(done: Done) -> None:
    (report,) = done.pipeline.replay(done.uid, check=True)
    assert report.ok, report.error
    assert not report.changed, report.differences


class SlowMedian(RunningMedian):
    """A producer far slower than the camera."""

    def consume(self, index: int, frame: np.ndarray) -> None:
        time.sleep(0.05)
        super().consume(index, frame)


def test_a_slow_producer_drops_counts_and_never_stalls(tmp_path: Path) -> None:
    RE = RunEngine({}, call_returns_result=True)
    writer = ZarrWriter("default")
    det, _ = plain_detector("det", writer, SHAPE)
    slow = SlowMedian("det", writer, shape=SHAPE, dtype="uint16", window=2, every=2, maxsize=2)
    docs = DocumentCollector()
    RE.subscribe(docs)
    with Pipeline([det, slow, writer], base_dir=tmp_path, catalog=None) as pipeline:
        pipeline.subscribe(RE)
        t0 = time.monotonic()
        result = RE(with_derived(bp.count([det], num=60), [slow]))
        took = time.monotonic() - t0
    assert result.exit_status == "success", result.reason
    assert slow.dropped > 0  # the queue (2 frames) was full: counted
    # the camera's frames all reached the store; the producer only lost its own input
    (store,) = tmp_path.glob("*/*/default.zarr")
    assert zarr.open_group(store, mode="r")["det/0"].shape[0] == 60
    # queued work is bounded: at most the queue, plus one frame in hand, after the camera
    assert took < 60 * 0.05, took
    (uid,) = docs.by_run
    summary = [
        d for n, d in docs.by_run[uid] if n == "event" and "det_median-dropped" in d["data"]
    ]
    assert summary[0]["data"]["det_median-dropped"] == slow.dropped
    assert summary[0]["data"]["det_median-seen"] + slow.dropped == 60


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "uint32", "int64", "float32"])
def test_median_of_equals_numpy_value_for_value(dtype: str) -> None:
    from zarrscribe.pipeline.derived import median_dtype, median_of

    rng = np.random.default_rng(1)
    for n in range(1, 10):
        stack = (rng.poisson(100, (n, 33, 17)) - (50 if dtype[0] in "if" else 0)).astype(dtype)
        got = median_of([f.copy() for f in stack], median_dtype(dtype))
        expected = np.median(stack, axis=0).astype(median_dtype(dtype))
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected, err_msg=f"{dtype} x{n}")


class LastFrameMissed(RunningMedian):
    """A producer that never gets the last frame of the run (as if its queue was full)."""

    def __init__(self, *args: Any, last: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last = last

    def wants(self, index: int) -> bool:
        return super().wants(index) and index != self.last


@pytest.mark.parametrize("num", [NUM, NUM + 2])
def test_the_last_window_is_written_without_its_missed_last_frame(
    tmp_path: Path, num: int
) -> None:
    """The last window's median is made from the frames it saw when its own last frame
    never came; a trailing partial window (frames after the last full ``every``) makes
    none, as before."""
    RE = RunEngine({}, call_returns_result=True)
    writer = ZarrWriter("default")
    det, _ = plain_detector("det", writer, SHAPE)
    median = LastFrameMissed(
        "det", writer, shape=SHAPE, dtype="uint16", window=WINDOW, every=EVERY, last=NUM - 1
    )
    with Pipeline([det, median, writer], base_dir=tmp_path, catalog=None) as pipeline:
        pipeline.subscribe(RE)
        result = RE(with_derived(bp.count([det], num=num), [median]))
    assert result.exit_status == "success", result.reason
    (store,) = tmp_path.glob("*/*/default.zarr")
    written = zarr.open_group(store, mode="r")["det_median/0"][:]
    frames = np.stack([frame(i, SHAPE) for i in range(NUM)])
    expected = expected_medians(NUM, WINDOW, EVERY)
    expected[-1] = np.median(frames[NUM - WINDOW : NUM - 1], axis=0)
    np.testing.assert_array_equal(written, expected)
