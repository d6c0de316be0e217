"""sync_store (the finisher's and replay's step) gives OME-Zarr images their group
metadata back where a crash left it missing or damaged, and touches nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from bluesky import RunEngine, plans as bp

from tests._ome import ome_image
from zarrscribe.callbacks import CallbackError, load_run, read_on_disk, sync_store
from zarrscribe.pipeline import Pipeline, SimCamera, find_logs
from zarrscribe.writers import ZarrWriter
from zarrscribe.writers.model import ZARR_MIMETYPE, RunProjection


def _files(store: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


def _json(node: Path) -> Any:
    return json.loads(node.read_text(encoding="utf-8"))


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A finished run: default.zarr (OME: cam1 with a pixel size, cam2 without) and
    flat.zarr (the flat layout: cam3). Returns the base dir and both stores."""
    base = tmp_path / "data"
    default, flat = ZarrWriter("default"), ZarrWriter("flat", ome=False)
    cams = [
        SimCamera("cam1", default, shape=(24, 32), exposure=0.0, seed=1, pixel_size=(0.65, 0.5)),
        SimCamera("cam2", default, shape=(16, 16), exposure=0.0, seed=2),
        SimCamera("cam3", flat, shape=(16, 16), exposure=0.0, seed=3, pixel_size=0.2),
    ]
    RE = RunEngine({})
    with Pipeline(cams, base_dir=base, session="s", catalog=None) as pipeline:
        pipeline.subscribe(RE)
        RE(bp.count(cams, num=3))
    (store,) = base.glob("s/count_*/default.zarr")
    return base, store, store.with_name("flat.zarr")


def _projection(base: Path) -> tuple[RunProjection, dict[str, str]]:
    (log,) = find_logs(base)
    loaded = load_run(log, base)
    uris = loaded.record.store_uris(ZARR_MIMETYPE)
    projection = RunProjection(loaded.record, read_on_disk(uris, base), base_dir=base)
    return projection, {Path(uri).name: uri for uri in uris}


def test_missing_and_damaged_images_are_rebuilt_equal_to_the_closed_ones(run: Any) -> None:
    base, store, _ = run
    closed = {name: _json(store / name / "zarr.json") for name in ("cam1", "cam2")}
    # what a kill leaves (cam1, the root), and a half-written file (cam2)
    (store / "cam1" / "zarr.json").unlink()
    (store / "cam2" / "zarr.json").write_text('{"attributes": {"om')
    (store / "zarr.json").unlink()
    killed = _files(store)
    projection, uris = _projection(base)

    checked = sync_store(projection, uris["default.zarr"], base_dir=base, check=True)
    assert checked.outcome == "differs"
    damaged = f"{store}/cam2/zarr.json:1: cut short (Unterminated string starting at)"
    assert checked.differences[:2] == [
        "default.zarr/cam1: OME-Zarr image metadata missing -> rebuilt",
        f"{damaged} -> OME-Zarr image metadata rebuilt",
    ]
    assert checked.damage == [damaged]  # named file:line
    assert _files(store) == killed  # check writes nothing
    with pytest.raises(CallbackError, match="outside the base directory"):
        sync_store(projection, uris["default.zarr"], base_dir=base / "s" / "elsewhere")
    assert _files(store) == killed

    synced = sync_store(projection, uris["default.zarr"], base_dir=base)
    assert synced.outcome == "written"
    assert synced.differences[:2] == checked.differences[:2]
    assert synced.damage == checked.damage
    group = zarr.open_group(store, mode="r")  # the root is a group again
    assert _json(store / "zarr.json")["node_type"] == "group"
    for name, metadata in closed.items():
        assert _json(store / name / "zarr.json") == metadata
        assert group[name]["0"].shape[0] == 3
        node = ome_image(store / name)
        assert node.metadata["name"] == name
        np.testing.assert_array_equal(np.asarray(node.data[0]), group[name]["0"][:])
    again = sync_store(projection, uris["default.zarr"], base_dir=base)
    assert (again.outcome, again.differences) == ("unchanged", [])


def test_the_flat_layout_and_valid_images_are_left_alone(run: Any) -> None:
    base, store, flat = run
    projection, uris = _projection(base)
    ome_before, flat_before = _files(store), _files(flat)
    assert sync_store(projection, uris["default.zarr"], base_dir=base).outcome == "unchanged"
    assert sync_store(projection, uris["flat.zarr"], base_dir=base).outcome == "unchanged"
    assert (_files(store), _files(flat)) == (ome_before, flat_before)
    (flat / "zarr.json").unlink()  # a killed flat store: only its root is written back
    synced = sync_store(projection, uris["flat.zarr"], base_dir=base)
    assert synced.outcome == "written"
    assert not any("OME-Zarr" in d for d in synced.differences)
    after = _files(flat)
    assert after.pop(flat / "zarr.json")
    assert after == {p: b for p, b in flat_before.items() if p != flat / "zarr.json"}
    assert list(zarr.open_group(flat, mode="r").array_keys()) == ["cam3"]
