"""Direct registration (SQL, no HTTP) makes the same entries as TiledWriter through HTTP."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bluesky import RunEngine, plans as bp
from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter

from tests.conftest import Rig
from zarrscribe.callbacks import catalog_entry
from zarrscribe.catalog import Catalog, install_zarr_consolidator
from zarrscribe.pipeline import Pipeline, fly_scan

Documents = list[tuple[str, dict[str, Any]]]


@dataclass
class Runs:
    base: Path
    jobs: dict[str, tuple[Documents, dict[str, Any]]]  # uid -> documents, metadata
    pushed: dict[str, dict[str, np.ndarray]]
    reference: Catalog  # TiledWriter through HTTP
    direct: Catalog  # Catalog.register_runs, straight into SQL
    http: Catalog  # Catalog.register_runs through HTTP (as for a Tiled server)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    base = tmp_path_factory.mktemp("direct") / "data"
    rig = Rig()
    RE = RunEngine({}, call_returns_result=True)
    pushed: dict[str, dict[str, np.ndarray]] = {}
    with Pipeline(rig.devices, base_dir=base, catalog=None) as pipeline:
        pipeline.subscribe(RE)
        plans = [
            bp.count([*rig.cameras, rig.light], num=3, md={"sample": "Si"}),
            bp.scan([rig.cam1, rig.light], rig.motor, 0, 1, 4),
            fly_scan(rig.cameras, 6, collect_every=0.01),
        ]
        for plan in plans:
            for camera in rig.cameras:
                camera.pushed = []
            (uid,) = RE(plan).run_start_uids
            pushed[uid] = {c.name: np.stack(c.pushed) for c in rig.cameras if c.pushed}
    jobs = {}
    for uid in pipeline.registrations.pending():  # the runs queued, from their logs
        jobs[uid] = catalog_entry(pipeline.log_path(uid), base_dir=base)  # the projection
    assert set(jobs) == set(pushed)
    reference = Catalog.embedded(base / "reference", readable=[base])
    install_zarr_consolidator()
    for docs, metadata in jobs.values():
        writer = TiledWriter(reference.client)
        for name, doc in docs:
            writer(name, doc)
        uid = docs[0][1]["uid"]
        reference.client[uid].update_metadata(metadata=metadata, drop_revision=True)
    direct = Catalog.embedded(base / "direct", readable=[base])
    direct.register_runs(jobs.values())
    served = Catalog.embedded(base / "http", readable=[base])
    http = Catalog(served.client, description="the same app, through HTTP only")
    http.register_runs(jobs.values())
    yield Runs(base, jobs, pushed, reference, direct, http)
    for catalog in (reference, direct, served):
        catalog.close()


def _tree(node: Any, catalog_dir: str = "") -> dict[str, Any]:
    """A node and its children as Tiled serves them, without ids and timestamps."""
    item = node.item["attributes"]
    out = {k: item[k] for k in ("metadata", "specs", "structure_family", "structure")}
    sources = []
    if item["structure_family"] != "container":
        for source in node.data_sources():
            text = json.dumps(dataclasses.asdict(source), default=str)
            ds = json.loads(text.replace(catalog_dir, "<catalog>") if catalog_dir else text)
            del ds["id"]
            ds["parameters"].pop("dataset_id", None)
            for asset in ds["assets"]:
                del asset["id"]
            sources.append(ds)
    out["data_sources"] = sources
    if item["structure_family"] == "container":
        base = getattr(node, "base", node)  # a composite stream lists its columns, not nodes
        out["children"] = {key: _tree(child, catalog_dir) for key, child in base.items()}
    return out


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(key, "<missing>"), b.get(key, "<missing>"), f"{path}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}/{i}")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.parametrize("way", ["direct", "http"])
def test_entries_equal_node_by_node(runs: Runs, way: str) -> None:
    ref, new = runs.reference.client, getattr(runs, way).client
    assert sorted(ref) == sorted(new) == sorted(runs.jobs)
    for uid in runs.jobs:
        # the table storage is each catalog's own tables.sqlite
        a = _tree(ref[uid], (runs.base / "reference").as_posix())
        b = _tree(new[uid], (runs.base / way).as_posix())
        assert a == b, _differences(a, b)
        # the tree is what we think it is: streams, internal table, external arrays
        assert a["specs"][-1] == {"name": "BlueskyRun", "version": "3.0"}
        assert a["metadata"]["zarrscribe"] == runs.jobs[uid][1]["zarrscribe"]
        assert "stop" in a["metadata"]
        stream = a["children"]["primary"]
        assert [s["name"] for s in stream["specs"]] == ["BlueskyEventStream", "composite"]
        arrays = [c for c in stream["children"].values() if c["structure_family"] == "array"]
        assert arrays
        assert all("external" in c["data_sources"][0]["management"] for c in arrays)


def test_data_reads_back_equal(runs: Runs) -> None:
    for uid, frames in runs.pushed.items():
        for device, expected in frames.items():
            np.testing.assert_array_equal(runs.direct.read_array(uid, device), expected)
        ref, new = runs.reference.run(uid), runs.direct.run(uid)
        a, b = ref["primary"].read(), new["primary"].read()
        assert sorted(a.data_vars) == sorted(b.data_vars)
        for key in a.data_vars:
            np.testing.assert_array_equal(a[key].values, b[key].values, err_msg=key)
        assert [(n, d) for n, d in ref.documents()] == [(n, d) for n, d in new.documents()]


def test_reregistration_replaces_the_entry_in_one_transaction(runs: Runs) -> None:
    uid, (docs, metadata) = next(iter(runs.jobs.items()))
    before = _tree(runs.direct.client[uid])
    changed = {**metadata, "zarrscribe": {**metadata["zarrscribe"], "exit_status": "abort"}}
    runs.direct.register_runs([(docs, changed), (docs, metadata)])  # twice in one batch
    runs.direct.register_run(docs, metadata)
    assert len(runs.direct) == len(runs.jobs)
    assert _tree(runs.direct.client[uid]) == before
    # no orphans left by the replaced entries: one table dataset per stream table
    db = runs.base / "direct"
    with sqlite3.connect(db / "catalog.db") as con:
        datasets = {
            json.loads(p)["dataset_id"]
            for (p,) in con.execute(
                "select parameters from data_sources where management = 'writable'"
            )
        }
        (assets,) = con.execute("select count(*) from assets").fetchone()
        (used,) = con.execute(
            "select count(distinct asset_id) from data_source_asset_association"
        ).fetchone()
    assert assets == used
    with sqlite3.connect(db / "tables.sqlite") as con:
        stored: set[int] = set()
        for (name,) in con.execute(
            "select name from sqlite_master where type='table' and name like 'table_%'"
        ):
            stored |= {i for (i,) in con.execute(f'select distinct _dataset_id from "{name}"')}
    assert stored == datasets


def test_databroker_v2_reads_direct_entries(runs: Runs) -> None:
    uid = next(u for u, (docs, _) in runs.jobs.items() if docs[0][1].get("plan_name") == "scan")
    run = runs.direct.client.v2[uid]
    data = run.primary.read()
    np.testing.assert_array_equal(data["cam1"].values, runs.pushed[uid]["cam1"])


FIRST_REGISTRATION = """
import sys
import numpy as np
from bluesky import RunEngine, plans as bp
from zarrscribe.pipeline import Pipeline, SimCamera
from zarrscribe.writers import ZarrWriter

cam = SimCamera("cam1", ZarrWriter("default"), shape=(16, 16), exposure=0.0)
with Pipeline([cam], base_dir=sys.argv[1]) as pipeline:
    RE = RunEngine({})
    pipeline.subscribe(RE)
    RE(bp.count([cam], num=3))
    assert pipeline.flush(120)
    catalog = pipeline.connect_catalog()
    (run,) = catalog.search()
    print(catalog.read_array(run.uid, "cam1").shape)
"""


def test_the_first_registration_of_a_process_points_at_the_array(tmp_path: Path) -> None:
    # A fresh process: nothing has installed the Zarr consolidator before the first run
    # is planned (it is process-wide state of bluesky-tiled-plugins).
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FIRST_REGISTRATION, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "(3, 16, 16)"
