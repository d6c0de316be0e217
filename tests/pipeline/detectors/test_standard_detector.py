"""ophyd-async's contract with a plain ``StandardDetector`` over ``ZarrDataLogic``:
unstage/stage inside one run, a stage that follows ``prepare``, and frames pushed while
no run is open (a live view): dropped and counted, nothing written, no error."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
import pytest
import zarr
from bluesky import RunEngine
from bluesky.utils import Msg
from ophyd_async.core import StandardDetector, TriggerInfo

from tests.conftest import DocumentCollector
from tests.pipeline.detectors._plain import frame, plain_detector
from zarrscribe.pipeline import Pipeline
from zarrscribe.writers import ZarrWriter

Plan = Generator[Msg, Any, Any]
SHAPE = (6, 8)


def _fly(det: StandardDetector, n: int, stream: str, *, declare: bool = True) -> Plan:
    yield from bps.prepare(det, TriggerInfo(number_of_events=n), wait=True)
    if declare:
        yield from bps.declare_stream(det, name=stream, collect=True)
    yield from bps.kickoff(det, wait=True)
    yield from bps.complete(det, wait=True)
    yield from bps.collect(det, name=stream)


def _run(base_dir: Path, plan: Any) -> tuple[list[tuple[str, dict[str, Any]]], Path, Pipeline]:
    RE = RunEngine({}, call_returns_result=True)
    writer = ZarrWriter("default")
    det, _acquire = plain_detector("det", writer, SHAPE)
    docs = DocumentCollector()
    RE.subscribe(docs)
    pipeline = Pipeline([det, writer], base_dir=base_dir, catalog=None)
    pipeline.subscribe(RE)
    result = RE(plan(det))
    assert result.exit_status == "success", result.reason
    (uid,) = docs.by_run
    (store,) = base_dir.glob("*/*/default.zarr")
    return docs.by_run[uid], store, pipeline


def _stream_docs(docs: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
    resources = [d for n, d in docs if n == "stream_resource"]
    datums = [d for n, d in docs if n == "stream_datum"]
    return resources, datums


def _check_frames(store: Path, numbers: list[int]) -> None:
    array = zarr.open_group(store, mode="r")["det/0"]
    np.testing.assert_array_equal(array[:], np.stack([frame(i, SHAPE) for i in numbers]))


def test_unstage_and_stage_again_inside_one_run(base_dir: Path) -> None:
    def plan(det: StandardDetector) -> Plan:
        @bpp.run_decorator(md={"plan_name": "restage"})
        def inner() -> Plan:
            for _ in range(2):
                yield from bps.trigger_and_read([det])
            yield from bps.unstage(det, wait=True)
            yield from bps.stage(det, wait=True)  # ophyd-async: a reset; the array continues
            for _ in range(3):
                yield from bps.trigger_and_read([det])

        yield from bps.stage(det, wait=True)
        yield from inner()
        yield from bps.unstage(det, wait=True)

    docs, store, pipeline = _run(base_dir, plan)
    resources, datums = _stream_docs(docs)
    assert len(resources) == 1  # the source continued: one StreamResource
    assert [(d["indices"]["start"], d["indices"]["stop"]) for d in datums] == [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 5),
    ]
    _check_frames(store, [0, 1, 2, 3, 4])
    (report,) = pipeline.replay(check=True)
    assert report.ok, report.error
    assert not report.changed, report.differences


def test_stage_after_prepare_resets_and_continues(base_dir: Path) -> None:
    def plan(det: StandardDetector) -> Plan:
        @bpp.run_decorator(md={"plan_name": "stage_after_prepare"})
        def inner() -> Plan:
            yield from _fly(det, 2, "primary")
            yield from bps.stage(det, wait=True)  # reset after prepare: prepare is needed again
            yield from _fly(det, 3, "primary", declare=False)

        yield from inner()
        yield from bps.unstage(det, wait=True)

    docs, store, _ = _run(base_dir, plan)
    resources, datums = _stream_docs(docs)
    assert len(resources) == 1
    assert [(d["indices"]["start"], d["indices"]["stop"]) for d in datums] == [(0, 2), (2, 5)]
    _check_frames(store, [0, 1, 2, 3, 4])
    stop = docs[-1][1]
    assert stop["num_events"] == {"primary": 5}


def test_pushes_with_no_run_open_are_dropped_and_counted(base_dir: Path) -> None:
    RE = RunEngine({}, call_returns_result=True)
    writer = ZarrWriter("default")
    det, acquire = plain_detector("det", writer, SHAPE)
    logic = acquire.data_logic
    # a live view before any run: nothing raises, nothing is written
    assert [logic.write_frame(frame(i, SHAPE)) for i in range(4)] == [False] * 4
    assert logic.dropped == 4
    assert not base_dir.exists()
    with Pipeline([det, writer], base_dir=base_dir, catalog=None) as pipeline:
        pipeline.subscribe(RE)
        acquire.next_frame = 10
        RE(_count(det, 2))
        # the run is over (the writer closed at RunStop): later pushes are dropped too
        assert logic.write_frame(frame(99, SHAPE)) is False
        assert writer.write_frame("det", frame(99, SHAPE)) is False
    assert logic.dropped == 5
    assert writer.dropped == {"det": 1}
    (store,) = base_dir.glob("*/*/default.zarr")
    _check_frames(store, [10, 11])
    # a wrong frame inside a run's window is still an error
    with Pipeline([det, writer], base_dir=base_dir, catalog=None) as pipeline:
        pipeline.subscribe(RE)

        def bad(det: StandardDetector) -> Plan:
            yield from bps.prepare(det, TriggerInfo(number_of_events=1), wait=True)
            logic.write_frame(np.zeros((2, 2), np.uint16))

        with pytest.raises(Exception, match=r"frame for 'det' has shape \(2, 2\)"):
            RE(bpp.stage_wrapper(bpp.run_wrapper(bad(det)), [det]))


def _count(det: StandardDetector, num: int) -> Plan:
    import bluesky.plans as bp

    return bp.count([det], num=num)  # type: ignore[no-any-return]
