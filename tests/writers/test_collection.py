"""A store's root is an OME-Zarr collection of its images (the bioformats2raw layout of
OME-Zarr 0.5), read as such by the readers that know it: ome-zarr-models validates it,
napari-ome-zarr's reading (OME group, OME-XML image ids) finds every camera, ome-zarr-py
and xarray read each one."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import zarr
from ome_zarr_models.v05.bioformats2raw import BioFormats2Raw

from tests._ome import ome_image, open_tree
from zarrscribe.writers import WriterError, ZarrWriter, write_collection

_OME_NS = "{http://www.openmicroscopy.org/Schemas/OME/2016-06}"


def _store(path: Path, *, ome: bool = True, dtype: type = np.uint16) -> dict[str, np.ndarray]:
    """A closed store of cam1 (3 frames 16x20) and cam2 (3 frames 8x8)."""
    writer = ZarrWriter("default", ome=ome, max_memory=None)
    writer.set_uri(path.as_uri())
    pushed: dict[str, np.ndarray] = {}
    for name, shape in {"cam1": (16, 20), "cam2": (8, 8)}.items():
        writer.register(name, dtype, shape)
        pushed[name] = np.arange(3 * shape[0] * shape[1], dtype=dtype).reshape(3, *shape)
        writer.open(name)
    for i in range(3):
        for name, frames in pushed.items():
            writer.write_frame(name, frames[i])
    writer.update_metadata({"operator": "ada"})
    writer.close()
    return pushed


def _images_as_napari_ome_zarr_finds_them(store: Path) -> list[str]:
    """napari-ome-zarr 0.10's Bioformats2raw spec: the root's ``bioformats2raw.layout``,
    then each ``Image:<path>`` id of ``OME/METADATA.ome.xml`` whose group is an image."""
    group = zarr.open_group(store, mode="r")
    assert "bioformats2raw.layout" in group.attrs["ome"]
    root = ET.fromstring((store / "OME" / "METADATA.ome.xml").read_bytes())
    found = []
    for child in root:
        node_id = child.attrib.get("ID", "")
        if child.tag.endswith("Image") and node_id.startswith("Image:"):
            path = node_id.replace("Image:", "")
            assert "multiscales" in group[path].attrs["ome"]
            found.append(path)
    return found


def test_the_store_is_a_collection_of_every_camera(tmp_path: Path) -> None:
    store = tmp_path / "default.zarr"
    pushed = _store(store)
    root = zarr.open_group(store, mode="r")
    assert root.attrs["ome"] == {"version": "0.5", "bioformats2raw.layout": 3}
    assert root.attrs["metadata"] == {"operator": "ada"}  # our keys stay on the root
    series = root["OME"].attrs["ome"]
    assert series == {"version": "0.5", "series": ["cam1", "cam2"]}
    BioFormats2Raw.from_zarr(root)  # the OME-Zarr 0.5 model of the layout validates it
    assert _images_as_napari_ome_zarr_finds_them(store) == series["series"]
    xml = ET.fromstring((store / "OME" / "METADATA.ome.xml").read_bytes())
    pixels = [image.find(f"{_OME_NS}Pixels") for image in xml]
    assert [(p.get("SizeT"), p.get("SizeY"), p.get("SizeX"), p.get("Type")) for p in pixels] == [  # type: ignore[union-attr]
        ("3", "16", "20", "uint16"),
        ("3", "8", "8", "uint16"),
    ]
    tree = open_tree(store)
    for name, frames in pushed.items():
        node = ome_image(store / name)  # every series is an image to ome-zarr-py
        assert node.metadata["name"] == name
        np.testing.assert_array_equal(np.asarray(node.data[0]), frames)
        np.testing.assert_array_equal(tree[name]["0"].values, frames)
    assert write_collection(store, check=True) is None  # nothing to write again


def test_ome_zarr_info_on_each_series_of_the_store(tmp_path: Path) -> None:
    store = tmp_path / "default.zarr"
    _store(store)
    cli = Path(sys.executable).parent / "ome_zarr"
    series = json.loads((store / "OME" / "zarr.json").read_text())["attributes"]["ome"]
    for name in series["series"]:
        done = subprocess.run(
            [str(cli), "info", str(store / name)], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "Multiscales" in done.stdout
        assert done.stdout.count(" - (3, ") == 1, done.stdout


def test_a_store_without_the_collection_gets_it_back_equal(tmp_path: Path) -> None:
    store = tmp_path / "default.zarr"
    _store(store)
    files = ["zarr.json", "OME/zarr.json", "OME/METADATA.ome.xml"]
    written = {f: (store / f).read_bytes() for f in files}
    (store / "OME" / "METADATA.ome.xml").unlink()
    (store / "OME" / "zarr.json").unlink()
    document = json.loads((store / "zarr.json").read_text())
    del document["attributes"]["ome"]
    (store / "zarr.json").write_text(json.dumps(document, indent=2))
    assert write_collection(store, check=True) == "missing"
    assert not (store / "OME" / "zarr.json").exists()  # check writes nothing
    assert write_collection(store) == "missing"
    assert {f: (store / f).read_bytes() for f in files} == written
    assert write_collection(store) is None


def test_the_flat_layout_is_not_a_collection(tmp_path: Path) -> None:
    store = tmp_path / "flat.zarr"
    _store(store, ome=False)
    assert "ome" not in zarr.open_group(store, mode="r").attrs
    assert not (store / "OME").exists()
    assert write_collection(store, check=True) is None


def test_dtypes_ome_xml_cannot_name_keep_the_series_without_the_xml(tmp_path: Path) -> None:
    store = tmp_path / "wide.zarr"
    _store(store, dtype=np.int64)
    assert zarr.open_group(store, mode="r")["OME"].attrs["ome"]["series"] == ["cam1", "cam2"]
    assert not (store / "OME" / "METADATA.ome.xml").exists()


def test_a_source_cannot_take_the_collection_group_name() -> None:
    writer = ZarrWriter("default")
    with pytest.raises(WriterError, match="'OME' is the group of the store's collection"):
        writer.register("OME", np.uint16, (8, 8))
    ZarrWriter("flat", ome=False).register("OME", np.uint16, (8, 8))  # flat: no collection
