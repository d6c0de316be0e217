"""count, scan and a fly scan through a real RunEngine, embedded Tiled catalog, read back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import event_model
import numpy as np
import pytest
import zarr
from bluesky import RunEngine, plans as bp

from tests.conftest import DocumentCollector, Rig
from zarrscribe.catalog import Catalog
from zarrscribe.pipeline import Pipeline, fly_scan
from zarrscribe.writers import METADATA_KEY, read_store_attributes
from zarrscribe.writers.model import ATTRIBUTES_KEY


@dataclass
class Session:
    rig: Rig
    pipeline: Pipeline
    catalog: Catalog
    docs: DocumentCollector
    uids: dict[str, str]
    pushed: dict[str, dict[str, np.ndarray]]
    t0: float
    base_dir: Path


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    base_dir = tmp_path_factory.mktemp("e2e") / "data"
    rig = Rig()
    RE = RunEngine({}, call_returns_result=True)
    pipeline = Pipeline(rig.devices, base_dir=base_dir, session="e2e")
    pipeline.subscribe(RE)
    docs = DocumentCollector()
    RE.subscribe(docs)
    t0 = time.time()
    plans = {
        "count": bp.count([*rig.cameras, rig.light], num=3, md={"sample": "beads"}),
        "scan": bp.scan([rig.cam1, rig.cam2, rig.light], rig.motor, 0, 1, 4),
        "fly_scan": fly_scan(rig.cameras, 9, collect_every=0.01, md={"sample": "cells"}),
    }
    uids: dict[str, str] = {}
    pushed: dict[str, dict[str, np.ndarray]] = {}
    for name, plan in plans.items():
        for camera in rig.cameras:
            camera.pushed = []
        (uids[name],) = RE(plan).run_start_uids
        pushed[name] = {c.name: np.stack(c.pushed) for c in rig.cameras if c.pushed}
    assert pipeline.flush(120), pipeline.registrations.failures
    yield Session(rig, pipeline, pipeline.connect_catalog(), docs, uids, pushed, t0, base_dir)
    pipeline.close()


def test_every_document_passes_the_schema(session: Session) -> None:
    for uid in session.uids.values():
        for name, doc in session.docs.by_run[uid]:
            event_model.schema_validators[event_model.DocumentNames(name)].validate(doc)


def test_stores_read_back_equal_through_zarr_and_tiled(session: Session) -> None:
    for plan, uid in session.uids.items():
        for device, frames in session.pushed[plan].items():
            group = "side" if device == "cam3" else "default"
            run_dir = next(session.base_dir.glob(f"e2e/{plan}_*"))
            on_disk = zarr.open_group(run_dir / f"{group}.zarr", mode="r")[
                device if group == "side" else f"{device}/0"
            ][:]
            np.testing.assert_array_equal(on_disk, frames, err_msg=f"{plan}/{device} on disk")
            via_tiled = session.catalog.read_array(uid, device)
            np.testing.assert_array_equal(via_tiled, frames, err_msg=f"{plan}/{device} via Tiled")


def test_frames_are_realistic_images(session: Session) -> None:
    frames = session.pushed["fly_scan"]["cam1"]
    assert frames.std() > 10
    assert not np.array_equal(frames[0], frames[1])


def test_attributes_hold_descriptor_configuration_and_layout(session: Session) -> None:
    uid = session.uids["scan"]
    summary = session.catalog.search(uid=uid)[0]
    (relative,) = summary.stores
    assert relative == "e2e/scan_00000/default.zarr"  # relative to the base directory
    store = session.base_dir / relative
    attrs = read_store_attributes(store)
    ours = attrs[ATTRIBUTES_KEY]
    assert ours["run"]["uid"] == uid
    assert ours["run"]["exit_status"] == "success"
    assert ours["start"]["plan_name"] == "scan"
    assert ours["stop"]["num_events"] == {"primary": 4}
    assert ours["configuration"]["m1"] == {"m1-velocity": 3.0, "m1-units": "mm"}
    assert ours["configuration"]["light"]["light-wavelength_nm"] == 561.0
    assert ours["configuration"]["cam1"]["cam1-shape"] == [32, 40]
    assert ours["arrays"]["cam1"]["shape"] == [4, 32, 40]
    assert ours["arrays"]["cam1"]["dtype"] == "<u2"
    assert ours["arrays"]["cam1"]["chunk_shape"] == [1, 32, 40]
    # the writer's own metadata (forwarded by handle_descriptor_metadata) is there too
    assert attrs[METADATA_KEY]["cam1"]["cam1-exposure"] == 0.0
    # ...and zarr-python still reads the store after the attribute rewrite
    assert zarr.open_group(store, mode="r").attrs[ATTRIBUTES_KEY]["run"]["uid"] == uid


def test_document_log_beside_the_stores(session: Session) -> None:
    uid = session.uids["fly_scan"]
    log = session.base_dir / session.catalog.run(uid).metadata[ATTRIBUTES_KEY]["log"]
    assert log.name == "documents.jsonl"
    assert (log.parent / "default.zarr").is_dir()
    assert (log.parent / "side.zarr").is_dir()
    names = [line.split('"', 4)[3] for line in log.read_text().splitlines()]
    assert names[0] == "start"
    assert names[-1] == "stop"
    assert len(names) == len(session.docs.by_run[uid])


def test_queries(session: Session) -> None:
    cat, uids = session.catalog, session.uids
    assert [r.uid for r in cat.search()] == [uids["fly_scan"], uids["scan"], uids["count"]]
    assert [r.uid for r in cat.search(plan_name="scan")] == [uids["scan"]]
    assert [r.uid for r in cat.search(scan_id=1)] == [uids["count"]]
    assert [r.uid for r in cat.search(device="m1")] == [uids["scan"]]
    assert [r.uid for r in cat.search(device="cam3")] == [uids["fly_scan"], uids["count"]]
    assert [r.uid for r in cat.search(sample="cells")] == [uids["fly_scan"]]
    assert len(cat.search(exit_status="success")) == 3
    assert cat.search(exit_status="fail") == []
    assert len(cat.search(since=session.t0, until=time.time())) == 3
    assert cat.search(until=session.t0 - 1) == []
    assert [r.uid for r in cat.search(uid=uids["scan"][:8])] == [uids["scan"]]
    assert cat.run(uids["count"][:8]).metadata["start"]["uid"] == uids["count"]


def test_bluesky_tiled_plugins_clients_read_the_runs(session: Session) -> None:
    client = session.catalog.client
    assert type(client).__name__ == "CatalogOfBlueskyRuns"
    run = client[2]  # by scan_id, as databroker users do
    assert type(run).__name__.startswith("BlueskyRun")
    assert run.metadata["start"]["uid"] == session.uids["scan"]
    assert run.metadata["stop"]["exit_status"] == "success"
    table = run["primary"].read()
    np.testing.assert_allclose(np.asarray(table["m1"]), [0.0, 1 / 3, 2 / 3, 1.0])
    np.testing.assert_array_equal(np.asarray(table["cam1"]), session.pushed["scan"]["cam1"])


def test_databroker_v2_api_reads_the_runs(session: Session) -> None:
    run = session.catalog.client.v2[session.uids["scan"]]
    dataset = run.primary.read()  # an xarray Dataset, as databroker users know it
    np.testing.assert_array_equal(dataset["cam2"].values, session.pushed["scan"]["cam2"])
    np.testing.assert_allclose(dataset["m1"].values, [0.0, 1 / 3, 2 / 3, 1.0])
    # .v2 rebinds BlueskyRun process-wide (bluesky-tiled-plugins 2.0.12); ours is unaffected
    np.testing.assert_array_equal(
        session.catalog.read_array(session.uids["scan"], "cam2"), session.pushed["scan"]["cam2"]
    )


def _meta(md: Any) -> dict[str, Any]:
    return {k: md[k] for k in ("start", "stop")}


def test_fly_scan_documents_describe_every_frame(session: Session) -> None:
    uid = session.uids["fly_scan"]
    datums = [d for n, d in session.docs.by_run[uid] if n == "stream_datum"]
    per_resource: dict[str, int] = {}
    for d in datums:
        per_resource[d["stream_resource"]] = d["indices"]["stop"]
    assert sorted(per_resource.values()) == [9, 9, 9]
    assert _meta(session.catalog.run(uid).metadata)["stop"]["num_events"] == {"primary": 9}


def test_live_and_replay_give_the_same_attributes_and_entries(session: Session) -> None:
    reports = session.pipeline.replay(check=True)
    assert sorted(r.uid for r in reports) == sorted(session.uids.values())
    for report in reports:
        assert report.ok, report.error
        assert not report.changed, report.differences
        assert set(report.stores.values()) == {"unchanged"}
        assert report.catalog == "unchanged"


def test_a_store_only_for_the_writers_a_run_used(session: Session) -> None:
    scan_dir = next(session.base_dir.glob("e2e/scan_*"))
    assert sorted(p.name for p in scan_dir.iterdir()) == ["default.zarr", "documents.jsonl"]
    count_dir = next(session.base_dir.glob("e2e/count_*"))
    assert (count_dir / "side.zarr").is_dir()  # cam3 took part in the count
