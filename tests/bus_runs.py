"""Helpers: a pipeline with the publisher subscribed after it, and runs compared as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bluesky import RunEngine, plans as bp

from tests.conftest import Rig
from zarrscribe.callbacks import BusSettings, Publisher, read_document_log
from zarrscribe.pipeline import Pipeline, fly_scan

Documents = list[tuple[str, dict[str, Any]]]


@contextmanager
def publishing_pipeline(
    rig: Rig, base_dir: Path, bus: BusSettings
) -> Iterator[tuple[RunEngine, Pipeline, Publisher]]:
    """A RunEngine with the pipeline (no catalog: the workers do that) and the publisher."""
    RE = RunEngine({}, call_returns_result=True)
    pipeline = Pipeline(rig.devices, base_dir=base_dir, catalog=None, bus=bus)
    assert pipeline.publisher is not None
    RE.subscribe(pipeline)
    try:
        yield RE, pipeline, pipeline.publisher
    finally:
        pipeline.close(5)


def three_runs(RE: RunEngine, rig: Rig) -> list[str]:
    """count, scan and fly runs; their uids."""
    uids = []
    uids += RE(bp.count([rig.cam1, rig.cam2], num=2)).run_start_uids
    uids += RE(bp.scan([rig.cam1, rig.light], rig.motor, 0, 1, 3)).run_start_uids
    uids += RE(fly_scan(rig.cameras, 4, collect_every=0.01)).run_start_uids
    return list(uids)


def as_json(docs: Documents) -> Any:
    return json.loads(json.dumps(docs, default=lambda v: v.tolist()))


def logged(pipeline: Pipeline, uid: str) -> Documents:
    return read_document_log(pipeline.log_path(uid)).documents
