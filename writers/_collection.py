"""A store of several OME-Zarr images as one collection: the bioformats2raw layout.

A store holds one OME-Zarr image per source (``<store>/<source>``, array at
``<source>/0``). OME-Zarr 0.5 has one way to say that a group holds several images:
the transitional "bioformats2raw.layout" (https://ngff.openmicroscopy.org/0.5/#bf2raw),
which ome-writers and yaozarrs write for several positions, and which
napari-ome-zarr opens as one layer per image:

- the root group's attributes hold ``ome: {"version": "0.5", "bioformats2raw.layout": 3}``
  (beside zarrscribe's own keys);
- a group ``OME`` holds ``ome: {"version": "0.5", "series": [<image paths>]}``;
- ``OME/METADATA.ome.xml`` lists the images in the same order, each with
  ``<Image ID="Image:<path>">`` (napari-ome-zarr finds an image's group by it) and
  ``<MetadataOnly/>`` pixels. It is left out when an image's dtype or name cannot be
  written in OME-XML (64-bit integers; a name with white space); "series" still
  lists every image.

It is a function of the images on disk, written after acquire-zarr closes the
store (it rewrites the root ``zarr.json`` on close), atomically; replay writes it
for stores made before, and ``--check`` names it where it is missing or stale.
"""

from __future__ import annotations

import functools
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Literal

from ._errors import WriterError
from ._scan import StoreScan
from ._store import (
    _folder_lock,
    _remove_stale_temp_files,
    _write_atomic,
    _write_json_atomic,
    name_image,
    read_store_attributes,
    store_path,
    update_store_attributes,
)
from .model import METADATA_KEY

__all__ = ["COLLECTION_GROUP", "collection_documents", "finish_store", "write_collection"]

COLLECTION_GROUP = "OME"
"""The group of a collection's metadata (no source may be named so)."""

LAYOUT_KEY = "bioformats2raw.layout"
XML_NAME = "METADATA.ome.xml"
OME_VERSION = "0.5"
_OME_XMLNS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"

_PIXEL_TYPES = {
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "float32": "float",
    "float64": "double",
}
"""OME-XML pixel type of each Zarr data type it can name."""

Staleness = Literal["missing", "outdated"]


def _read_json(path: Path, scan: StoreScan) -> dict[str, Any] | None:
    try:
        document = scan.json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None


def _images(root: Path, scan: StoreScan) -> list[tuple[str, dict[str, Any]]]:
    """The OME-Zarr images directly under ``root``, by name, with the metadata of
    their full-resolution array (``{}`` where it cannot be read)."""
    images = []
    try:
        children = scan.folders(root)
    except OSError:
        return []
    for child in children:
        group = _read_json(child / "zarr.json", scan)
        ome = ((group or {}).get("attributes") or {}).get("ome")
        if child.name == COLLECTION_GROUP or not isinstance(ome, dict):
            continue
        try:
            path = str(ome["multiscales"][0]["datasets"][0]["path"])
        except (KeyError, IndexError, TypeError):
            continue
        images.append((child.name, _read_json(child / path / "zarr.json", scan) or {}))
    return images


def _ome_xml(images: list[tuple[str, dict[str, Any]]]) -> bytes | None:
    """The OME-XML of ``images`` (MetadataOnly), or ``None`` where one cannot be named.

    Remembered by the JSON of ``images`` (most runs' stores hold the same images:
    a replay would otherwise build the same XML again for every store)."""
    return _ome_xml_of(json.dumps(images, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _ome_xml_of(images_json: str) -> bytes | None:
    images: list[tuple[str, dict[str, Any]]] = json.loads(images_json)
    ET.register_namespace("", _OME_XMLNS)
    ome = ET.Element(f"{{{_OME_XMLNS}}}OME", {"Creator": "zarrscribe"})
    for name, array in images:
        pixel_type = _PIXEL_TYPES.get(str(array.get("data_type")))
        shape = array.get("shape")
        names = array.get("dimension_names")
        if pixel_type is None or re.search(r"\s", name) or not isinstance(shape, list):
            return None
        if not isinstance(names, list) or len(names) != len(shape):
            return None
        sizes = dict(zip(names, shape, strict=True))
        image = ET.SubElement(ome, f"{{{_OME_XMLNS}}}Image", {"ID": f"Image:{name}", "Name": name})
        pixels = ET.SubElement(
            image,
            f"{{{_OME_XMLNS}}}Pixels",
            {
                "ID": f"Pixels:{name}",
                "DimensionOrder": "XYZCT",
                "Type": pixel_type,
                **{f"Size{a.upper()}": str(sizes.get(a, 1)) for a in "xyzct"},
            },
        )
        ET.SubElement(pixels, f"{{{_OME_XMLNS}}}MetadataOnly")
    ET.indent(ome)
    text: bytes = ET.tostring(ome, encoding="UTF-8", xml_declaration=True)
    return text + b"\n"


def collection_documents(
    store: str | os.PathLike[str], scan: StoreScan | None = None
) -> tuple[dict[str, Any], dict[str, Any], bytes | None] | None:
    """What makes ``store`` a collection of its images: the root's ``ome`` attribute,
    the ``OME`` group's ``zarr.json`` and its OME-XML; ``None`` when it has no image
    (the flat layout of ``ZarrWriter(ome=False)``, or no frame written). ``scan``: what
    was read of the store already (:class:`StoreScan`; a fresh look otherwise)."""
    images = _images(store_path(store), scan if scan is not None else StoreScan())
    if not images:
        return None
    root = {"version": OME_VERSION, LAYOUT_KEY: 3}
    group = {
        "attributes": {"ome": {"version": OME_VERSION, "series": [n for n, _ in images]}},
        "consolidated_metadata": None,
        "node_type": "group",
        "zarr_format": 3,
    }
    return root, group, _ome_xml(images)


def _current(root: Path, scan: StoreScan) -> tuple[Any, Any, bytes | None]:
    try:
        attributes = read_store_attributes(root, scan)
    except WriterError:
        attributes = {}
    try:
        xml: bytes | None = scan.read_bytes(root / COLLECTION_GROUP / XML_NAME)
    except OSError:
        xml = None
    return attributes.get("ome"), _read_json(root / COLLECTION_GROUP / "zarr.json", scan), xml


def write_collection(
    store: str | os.PathLike[str], *, check: bool = False, scan: StoreScan | None = None
) -> Staleness | None:
    """Write the collection metadata of ``store`` (see the module) where it is missing
    or differs from its images on disk; with ``check`` only say so. Returns what was
    wrong (``"missing"``, ``"outdated"``) or ``None`` when nothing is to be written.
    ``scan``: what was read of the store already (its caller forgets it after a write)."""
    root = store_path(store)
    scan = scan if scan is not None else StoreScan()
    wanted = collection_documents(root, scan)
    if wanted is None:
        return None
    current = _current(root, scan)
    if current == wanted:
        return None
    staleness: Staleness = "missing" if current[0] is None else "outdated"
    if check:
        return staleness
    folder = root / COLLECTION_GROUP
    try:
        folder.mkdir(exist_ok=True)
        with _folder_lock(folder):
            _remove_stale_temp_files(folder)
            _write_json_atomic(folder / "zarr.json", wanted[1])
            if wanted[2] is not None:
                _write_atomic(folder / XML_NAME, wanted[2])
            else:
                (folder / XML_NAME).unlink(missing_ok=True)
    except OSError as e:
        raise WriterError(
            f"cannot write the OME-Zarr collection metadata of store {str(root)!r}: "
            f"{e.strerror}; free space or fix permissions, then replay the run"
        ) from e
    update_store_attributes(root, {"ome": wanted[0]}, create=True)  # the root last
    return staleness


def finish_store(root: Path, metadata: dict[str, Any], images: list[str] | None) -> None:
    """What a writer adds once acquire-zarr closed the store ``root`` (it rewrites the
    root ``zarr.json`` on close): each image's name (the source's, which viewers show),
    zarrscribe's ``metadata`` in the root attributes, and the collection of its images.
    ``images`` is ``None`` when no frame was written: the store is then an empty group
    with the metadata. Each write is atomic."""
    for name in images or ():
        name_image(root, name)
    update_store_attributes(root, {METADATA_KEY: metadata}, create=True)
    if images is not None:
        write_collection(root)  # its images as one OME-Zarr collection
