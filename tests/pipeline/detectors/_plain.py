"""A plain ophyd-async ``StandardDetector`` (not our ZarrDetector or SoftCamera): its own
trigger and acquire logic, frames pushed from a thread through a ``ZarrDataLogic``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bluesky import RunEngine
from bluesky.run_engine import call_in_bluesky_event_loop
from ophyd_async.core import DetectorAcquireLogic, DetectorTriggerLogic, StandardDetector

from tests.conftest import DocumentCollector
from zarrscribe.catalog import Catalog
from zarrscribe.pipeline import Pipeline
from zarrscribe.pipeline.detectors import ZarrDataLogic
from zarrscribe.writers import ZarrWriter


def frame(i: int, shape: tuple[int, int]) -> np.ndarray:
    """Frame ``i``: its number in every pixel, plus a ramp (so frames differ by pixel too)."""
    ramp = np.arange(shape[0] * shape[1], dtype=np.uint16).reshape(shape) % 97
    return (ramp + np.uint16(100 * i)).astype(np.uint16)


class _Trigger(DetectorTriggerLogic):
    def __init__(self, acquire: _Acquire) -> None:
        self._acquire = acquire

    async def prepare_internal(self, num: int, livetime: float, deadtime: float) -> None:
        self._acquire.num = num


class _Acquire(DetectorAcquireLogic):
    """Pushes ``num`` frames per start, numbered on from the last one, from a thread."""

    def __init__(self, data_logic: ZarrDataLogic, shape: tuple[int, int]) -> None:
        self.data_logic = data_logic
        self.shape = shape
        self.num = 1
        self.next_frame = 0
        self.pushed: list[int] = []
        self._thread: threading.Thread | None = None

    def _push(self, num: int) -> None:
        for _ in range(num):
            i = self.next_frame
            self.next_frame += 1
            if self.data_logic.write_frame(frame(i, self.shape)):
                self.pushed.append(i)

    async def start_acquiring(self) -> None:
        self._thread = threading.Thread(target=self._push, args=(self.num,), daemon=True)
        self._thread.start()

    async def wait_for_idle(self) -> None:
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    async def ensure_stopped(self) -> None:
        await self.wait_for_idle()


def plain_detector(
    name: str, writer: ZarrWriter, shape: tuple[int, int] = (6, 8)
) -> tuple[StandardDetector, _Acquire]:
    """A connected ``StandardDetector`` (make the RunEngine first) and its acquire logic."""
    data_logic = ZarrDataLogic(writer, np.uint16, shape)
    acquire = _Acquire(data_logic, shape)
    detector: Any = StandardDetector(name=name)
    detector.add_detector_logics(_Trigger(acquire), acquire, data_logic)
    call_in_bluesky_event_loop(detector.connect())
    return detector, acquire


@dataclass
class Done:
    """One run of a plain detector through a pipeline with the embedded catalog."""

    uid: str
    docs: list[tuple[str, dict[str, Any]]]
    store: Path
    pipeline: Pipeline
    catalog: Catalog


@contextmanager
def one_run(
    base_dir: Path,
    shape: tuple[int, int],
    make: Callable[[StandardDetector, ZarrWriter], tuple[Any, list[Any]]],
) -> Iterator[Done]:
    """Run the plan ``make(detector, writer)`` returns (with the extra devices it names),
    registered; the pipeline is closed afterwards."""
    RE = RunEngine({}, call_returns_result=True)
    writer = ZarrWriter("default")
    det, _ = plain_detector("det", writer, shape)
    plan, extra = make(det, writer)
    docs = DocumentCollector()
    RE.subscribe(docs)
    pipeline = Pipeline([det, *extra, writer], base_dir=base_dir)
    pipeline.subscribe(RE)
    result = RE(plan)
    assert result.exit_status == "success", result.reason
    assert pipeline.flush(120), pipeline.registrations.failures
    (uid,) = docs.by_run
    (store,) = base_dir.glob("*/*/default.zarr")
    try:
        yield Done(uid, docs.by_run[uid], store, pipeline, pipeline.connect_catalog())
    finally:
        pipeline.close()
