"""A pipeline's stores are OME-Zarr images per camera: viewers, Tiled and replay all read them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import zarr
from bluesky import RunEngine, plans as bp

from tests._ome import ome_image, open_tree
from tests.conftest import RecordingCamera
from zarrscribe.pipeline import Pipeline, fly_scan
from zarrscribe.writers import ZarrWriter, read_store_attributes
from zarrscribe.writers.model import ATTRIBUTES_KEY


def test_two_cameras_of_different_shapes_are_images_read_by_viewers_tiled_and_replay(
    tmp_path: Path,
) -> None:
    base_dir = tmp_path / "data"
    writer = ZarrWriter("default")
    cam1 = RecordingCamera(
        "cam1", writer, shape=(24, 32), exposure=0.0, seed=1, pixel_size=(0.65, 0.5)
    )
    cam2 = RecordingCamera("cam2", writer, shape=(16, 16), exposure=0.0, seed=2)
    RE = RunEngine({}, call_returns_result=True)
    with Pipeline([cam1, cam2], base_dir=base_dir, session="ome") as pipeline:
        pipeline.subscribe(RE)
        uids, pushed = {}, {}
        for name, plan in {
            "count": bp.count([cam1, cam2], num=3),
            "fly_scan": fly_scan([cam1, cam2], 6, collect_every=0.01),
        }.items():
            cam1.pushed, cam2.pushed = [], []
            (uids[name],) = RE(plan).run_start_uids
            pushed[name] = {"cam1": np.stack(cam1.pushed), "cam2": np.stack(cam2.pushed)}
        assert pipeline.flush(120), pipeline.registrations.failures
        catalog = pipeline.connect_catalog()

        for name, uid in uids.items():
            (store,) = base_dir.glob(f"ome/{name}_*/default.zarr")
            tree = open_tree(store)  # no conflicting sizes
            for device, frames in pushed[name].items():
                np.testing.assert_array_equal(zarr.open_array(store / device / "0")[:], frames)
                np.testing.assert_array_equal(tree[device]["0"].values, frames)
                np.testing.assert_array_equal(catalog.read_array(uid, device), frames)
                node = ome_image(store / device)
                assert node.metadata["name"] == device
                np.testing.assert_array_equal(np.asarray(node.data[0]), frames)
            ome = json.loads((store / "cam1" / "zarr.json").read_text())["attributes"]["ome"]
            (multiscale,) = ome["multiscales"]
            units = [a.get("unit") for a in multiscale["axes"]]
            assert units == [None, "micrometer", "micrometer"]
            assert multiscale["datasets"][0]["coordinateTransformations"][0]["scale"] == [
                1.0,
                0.65,
                0.5,
            ]
            ours = read_store_attributes(store)[ATTRIBUTES_KEY]
            assert ours["configuration"]["cam1"]["cam1-pixel_size"] == [0.65, 0.5]
            assert ours["configuration"]["cam1"]["cam1-pixel_size_units"] == "micrometer"
            assert "cam2-pixel_size" not in ours["configuration"]["cam2"]
            assert ours["arrays"]["cam1"]["path"] == "cam1/0"
            assert ours["arrays"]["cam2"]["shape"] == [len(pushed[name]["cam2"]), 16, 16]

        reports = pipeline.replay(check=True)
        assert len(reports) == 2
        for report in reports:
            assert report.ok, report.error
            assert not report.changed, report.line()
            n = 3 if report.uid == uids["count"] else 6
            assert report.on_disk == {"cam1/0": n, "cam2/0": n}


def test_replay_makes_an_older_store_a_collection_and_check_names_it(tmp_path: Path) -> None:
    """A store written before stores were collections: --check names what is missing
    (exit 1), replay writes it, equal to what a pipeline writes now."""
    base_dir = tmp_path / "data"
    writer = ZarrWriter("default")
    cam1 = RecordingCamera("cam1", writer, shape=(8, 8), exposure=0.0, seed=1)
    cam2 = RecordingCamera("cam2", writer, shape=(4, 6), exposure=0.0, seed=2)
    RE = RunEngine({}, call_returns_result=True)
    with Pipeline([cam1, cam2], base_dir=base_dir) as pipeline:
        pipeline.subscribe(RE)
        RE(bp.count([cam1, cam2], num=2))
        assert pipeline.flush(120), pipeline.registrations.failures
    (store,) = base_dir.glob("default/count_*/default.zarr")
    files = ["zarr.json", "OME/zarr.json", "OME/METADATA.ome.xml"]
    written = {f: json.loads((store / f).read_text()) for f in files[:2]}
    xml = (store / files[2]).read_bytes()
    root = json.loads((store / "zarr.json").read_text())
    del root["attributes"]["ome"]
    (store / "zarr.json").write_text(json.dumps(root))
    for f in files[1:]:
        (store / f).unlink()
    (store / "OME").rmdir()

    cli = [str(Path(sys.executable).parent / "zarrscribe"), "replay", "--all"]
    where = ["--base-dir", str(base_dir)]
    done = subprocess.run([*cli, "--check", *where], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "default.zarr: OME-Zarr collection metadata (bioformats2raw layout" in done.stdout
    assert "missing -> written" in done.stdout
    assert not (store / "OME").exists()
    done = subprocess.run([*cli, *where], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {f: json.loads((store / f).read_text()) for f in files[:2]} == written
    assert (store / files[2]).read_bytes() == xml
    done = subprocess.run([*cli, "--check", *where], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout
