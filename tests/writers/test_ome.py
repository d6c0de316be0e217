"""OME-Zarr 0.5 images written by acquire-zarr, read by ome-zarr-py, xarray and zarr-python."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import xarray as xr
import zarr

from tests._ome import ome_image, open_tree
from zarrscribe.writers import WriterError, ZarrWriter, frames_on_disk
from zarrscribe.writers._memory import StoreProgress

if TYPE_CHECKING:
    from pathlib import Path


def _frames(n: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4000, size=(n, *shape)).astype(np.uint16)


def _two_cameras(path: Path, *, ome: bool = True) -> tuple[ZarrWriter, dict[str, np.ndarray]]:
    """A closed store of cam1 (16x20, 0.65 x 0.5 µm pixels) and cam2 (8x8, no pixel size)."""
    writer = ZarrWriter("default", ome=ome, max_memory=None)
    writer.set_uri(path.as_uri())
    writer.register("cam1", np.uint16, (16, 20), pixel_size=[0.65, 0.5])
    writer.register("cam2", np.uint16, (8, 8))
    pushed = {"cam1": _frames(5, (16, 20), 1), "cam2": _frames(5, (8, 8), 2)}
    for name in pushed:
        writer.open(name)
    for i in range(5):
        for name, frames in pushed.items():
            writer.write_frame(name, frames[i])
    return writer, pushed


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, ZarrWriter, dict[str, np.ndarray]]:
    path = tmp_path / "run" / "default.zarr"
    writer, pushed = _two_cameras(path)
    writer.update_metadata({"operator": "ada"})
    writer.close()
    return path, writer, pushed


def test_ome_zarr_reader_sees_each_camera_as_its_own_image(store: Any) -> None:
    path, _, pushed = store
    cam1, cam2 = ome_image(path / "cam1"), ome_image(path / "cam2")
    assert cam1.metadata["name"] == "cam1"
    assert cam2.metadata["name"] == "cam2"
    assert cam1.metadata["axes"] == [
        {"name": "t", "type": "time"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]
    assert cam1.metadata["coordinateTransformations"] == [
        [{"type": "scale", "scale": [1.0, 0.65, 0.5]}]
    ]
    assert [a.get("unit") for a in cam2.metadata["axes"]] == [None, None, None]
    assert cam2.metadata["coordinateTransformations"] == [
        [{"type": "scale", "scale": [1.0, 1.0, 1.0]}]
    ]
    np.testing.assert_array_equal(np.asarray(cam1.data[0]), pushed["cam1"])
    np.testing.assert_array_equal(np.asarray(cam2.data[0]), pushed["cam2"])
    root = json.loads((path / "zarr.json").read_text())
    assert root["attributes"]["metadata"] == {"operator": "ada"}  # our attributes stay at the root
    assert json.loads((path / "cam1" / "zarr.json").read_text())["attributes"]["ome"][
        "version"
    ] == ("0.5")


def test_xarray_opens_the_store_without_conflicting_sizes(store: Any) -> None:
    path, _, pushed = store
    tree = open_tree(path)
    assert dict(tree["cam1"].sizes) == {"t": 5, "y": 16, "x": 20}
    assert dict(tree["cam2"].sizes) == {"t": 5, "y": 8, "x": 8}
    one = xr.open_zarr(path, group="cam2", consolidated=False)
    np.testing.assert_array_equal(one["0"].values, pushed["cam2"])


def test_zarr_python_reads_the_arrays_at_source_slash_0(store: Any) -> None:
    path, _, pushed = store
    for name, frames in pushed.items():
        np.testing.assert_array_equal(zarr.open_array(path / name / "0", mode="r")[:], frames)
    assert frames_on_disk(path) == {"cam1/0": 5, "cam2/0": 5}


def test_stream_resource_names_the_array_path_and_keeps_the_data_key(tmp_path: Path) -> None:
    for ome, key in ((True, "cam1/0"), (False, "cam1")):
        writer, _ = _two_cameras(tmp_path / f"{ome}.zarr", ome=ome)
        (resource, datum) = [doc for _, doc in writer.collect_stream_docs("cam1", 5)]
        writer.close()
        assert resource["data_key"] == "cam1"
        assert resource["parameters"]["array_key"] == key
        assert datum["indices"] == {"start": 0, "stop": 5}
        assert writer.sources["cam1"].array_key == key


def test_flat_layout_is_kept_with_ome_false(tmp_path: Path) -> None:
    path = tmp_path / "flat.zarr"
    writer, pushed = _two_cameras(path, ome=False)
    writer.close()
    group = zarr.open_group(path, mode="r")
    for name, frames in pushed.items():
        np.testing.assert_array_equal(group[name][:], frames)
    assert "ome" not in json.loads((path / "zarr.json").read_text())["attributes"]
    assert frames_on_disk(path) == {"cam1": 5, "cam2": 5}


def test_units_channels_and_volumes(tmp_path: Path) -> None:
    writer = ZarrWriter(max_memory=None)
    writer.set_uri(tmp_path / "v.zarr")
    writer.register("vol", np.float32, (2, 3, 4, 5), pixel_size=(2.0, 0.1, 0.1), units="nm")
    writer.open("vol")
    writer.write_frame("vol", np.ones((2, 3, 4, 5), np.float32))
    writer.close()
    node = ome_image(tmp_path / "v.zarr" / "vol")
    assert [(a["name"], a["type"], a.get("unit")) for a in node.metadata["axes"]] == [
        ("t", "time", None),
        ("c", "channel", None),
        ("z", "space", "nanometer"),
        ("y", "space", "nanometer"),
        ("x", "space", "nanometer"),
    ]
    assert node.metadata["coordinateTransformations"][0][0]["scale"] == [1, 1, 2, 0.1, 0.1]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"pixel_size": [0.5]}, "pixel_size [0.5] must be one positive number or 2 of them"),
        ({"pixel_size": -1}, "pixel_size -1 must be one positive number"),
        ({"pixel_size": [0.5, float("nan")]}, "must be one positive number or 2 of them"),
        ({"pixel_size": "0.5"}, "pixel_size '0.5' must be"),
        ({"pixel_size": 1, "units": "furlong"}, "'furlong' are not an OME-NGFF space unit"),
        ({"units": "um"}, "units 'um' given without a pixel_size"),
    ],
)
def test_bad_pixel_sizes_are_refused_naming_the_value(kwargs: Any, words: str) -> None:
    writer = ZarrWriter(max_memory=None)
    with pytest.raises(WriterError, match="source 'cam1'") as e:
        writer.register("cam1", np.uint16, (8, 8), **kwargs)
    assert words in str(e.value)
    assert "\n" not in str(e.value)
    assert "cam1" not in writer.sources


def test_memory_guard_finds_the_shards_of_images(tmp_path: Path) -> None:
    persisted = {}
    for ome in (True, False):
        path = tmp_path / f"{ome}.zarr"
        writer, _ = _two_cameras(path, ome=ome)
        progress = StoreProgress(path, list(writer.sources.values()))
        writer.close()
        persisted[ome] = progress.persisted()
    # every shard file is found, under <source>/0/c as under <source>/c
    assert persisted[True] == persisted[False] > 0
