"""Two runs open at once (bluesky run keys): each keeps its own documents, stores and entry."""

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

from tests.conftest import Rig
from zarrscribe.callbacks import CallbackError, read_document_log
from zarrscribe.pipeline import Pipeline
from zarrscribe.writers import read_store_attributes
from zarrscribe.writers.model import ATTRIBUTES_KEY


def _keyed(plan: Generator[Msg, Any, Any], key: str) -> Generator[Msg, Any, Any]:
    return bpp.set_run_key_wrapper(plan, key)  # type: ignore[no-any-return]


def _scan_beside_monitor(rig: Rig, monitor_devices: list[Any]) -> Generator[Msg, Any, None]:
    yield from _keyed(bps.open_run(md={"plan_name": "scan"}), "scan")
    yield from _keyed(bps.open_run(md={"plan_name": "monitor"}), "monitor")
    yield from bps.stage(rig.cam1)
    yield from bps.stage(rig.cam2)
    for i in range(3):
        yield from bps.mv(rig.motor, i)
        yield from _keyed(bps.trigger_and_read([rig.cam1, rig.motor]), "scan")
        yield from _keyed(bps.trigger_and_read(monitor_devices), "monitor")
    yield from bps.unstage(rig.cam2)
    yield from bps.unstage(rig.cam1)
    yield from _keyed(bps.close_run(), "monitor")
    yield from _keyed(bps.close_run(), "scan")


def _logged(base_dir: Path, plan: str) -> list[tuple[str, dict[str, Any]]]:
    (log,) = base_dir.glob(f"*/{plan}_*/documents.jsonl")
    return read_document_log(log).documents


def test_each_run_gets_its_own_documents_store_and_entry(
    rig: Rig, RE: RunEngine, base_dir: Path
) -> None:
    with Pipeline(rig.devices, base_dir=base_dir) as pipeline:
        pipeline.subscribe(RE)
        scan_uid, monitor_uid = RE(_scan_beside_monitor(rig, [rig.light])).run_start_uids
        assert pipeline.flush(120), pipeline.registrations.failures
        scan, monitor = _logged(base_dir, "scan"), _logged(base_dir, "monitor")
        assert {d.get("run_start", d["uid"]) for n, d in scan if n in ("start", "stop")} == {
            scan_uid
        }
        scan_descriptors = {d["uid"] for n, d in scan if n == "descriptor"}
        monitor_descriptors = {d["uid"] for n, d in monitor if n == "descriptor"}
        assert all(d["descriptor"] in scan_descriptors for n, d in scan if n == "event")
        assert all(d["descriptor"] in monitor_descriptors for n, d in monitor if n == "event")
        assert sum(n == "event" for n, _ in scan) == 3
        assert sum(n == "event" for n, _ in monitor) == 3
        # the monitor run used no writer: no store in its folder
        (monitor_dir,) = base_dir.glob("*/monitor_*")
        assert sorted(p.name for p in monitor_dir.iterdir()) == ["documents.jsonl"]
        (store,) = base_dir.glob("*/scan_*/default.zarr")
        np.testing.assert_array_equal(
            zarr.open_group(store, mode="r")["cam1/0"][:], np.stack(rig.cam1.pushed)
        )
        assert read_store_attributes(store)[ATTRIBUTES_KEY]["run"]["uid"] == scan_uid
        catalog = pipeline.connect_catalog()
        assert {r.uid: r.exit_status for r in catalog.search()} == {
            scan_uid: "success",
            monitor_uid: "success",
        }
        for report in pipeline.replay(check=True):
            assert not report.changed, report.differences


def test_a_second_run_writing_into_the_first_runs_store_is_refused(
    rig: Rig, RE: RunEngine, base_dir: Path
) -> None:
    with Pipeline(rig.devices, base_dir=base_dir) as pipeline:
        pipeline.subscribe(RE)
        # the monitor run triggers cam2, whose writer is lent to the scan run
        with pytest.raises(CallbackError, match=r"run '.*': 'cam2' writes into .* lent to run"):
            RE(_scan_beside_monitor(rig, [rig.cam2]))
        assert pipeline.flush(120), pipeline.registrations.failures
        # the first run lost nothing: every frame cam1 pushed is readable in its store
        (store,) = base_dir.glob("*/scan_*/default.zarr")
        frames = zarr.open_group(store, mode="r")["cam1/0"][:]
        np.testing.assert_array_equal(frames, np.stack(rig.cam1.pushed)[: len(frames)])
        assert len(frames) >= 1
        names = [n for n, _ in _logged(base_dir, "scan")]
        assert names[0] == "start"
        assert names[-1] == "stop"
