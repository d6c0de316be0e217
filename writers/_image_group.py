"""An OME-Zarr image's group metadata, rebuilt where a crash left it missing or damaged.

acquire-zarr 0.10 writes an image's group ``zarr.json`` (``ome.multiscales``) only
when its stream closes. After a process is killed mid-acquisition the image's array
``<image>/0`` has its metadata and frames, but no viewer (ome-zarr-py, napari,
xarray, ``zarr.open_group(store)[image]``) sees the image. The group metadata is a
function of the array's metadata (dimension names, shape) and of the source's pixel
size and units, so it is written again here, equal to what a closed stream leaves
(with the image's name, which :class:`ZarrWriter` adds after close).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from ._errors import DamagedMetadataError, WriterError
from ._image import IMAGE_LEVEL, frame_axes, make_image
from ._scan import StoreScan
from ._store import (
    _folder_lock,
    _remove_stale_temp_files,
    _write_json_atomic,
    read_metadata,
    store_path,
)

__all__ = ["image_group_metadata", "rebuild_image"]

_AXIS_TYPES = {"t": "time", "c": "channel"}
"""OME-NGFF type of each axis acquire-zarr names; the others are space."""

Damage = Literal["missing", "damaged"]


def image_group_metadata(
    name: str,
    array: dict[str, Any],
    pixel_size: float | Sequence[float] | None = None,
    units: str | None = None,
) -> dict[str, Any] | None:
    """The group ``zarr.json`` of image ``name`` whose full-resolution array has the
    metadata ``array``: what acquire-zarr writes at close, named ``name``.

    ``None`` when the array is not one ZarrWriter writes as an image (frames of one
    axis, or dimension names other than ``t`` then the frame's axes). A pixel size
    ``make_image`` refuses is one the writer refused too, so the device did not give
    it to ``register``: the image then has scale 1 and no unit, as it was written.
    """
    try:
        frame_shape = tuple(int(s) for s in array["shape"][1:])
    except (KeyError, TypeError, ValueError):
        return None
    if not 1 <= len(frame_shape) <= 4:
        return None
    try:
        image = make_image(name, frame_shape, pixel_size, units)
    except WriterError:
        image = make_image(name, frame_shape, None, None)
    names = array.get("dimension_names")
    if image is None or tuple(names or ("t", *frame_axes(len(frame_shape)))) != image.names:
        return None
    axes: list[dict[str, str]] = []
    for axis, unit in zip(image.names, image.units, strict=True):
        axes.append({"name": axis, "type": _AXIS_TYPES.get(axis, "space")})
        if unit is not None:
            axes[-1]["unit"] = unit
    scale = {"scale": list(image.scale), "type": "scale"}
    multiscale = {
        "axes": axes,
        "datasets": [{"coordinateTransformations": [scale], "path": IMAGE_LEVEL}],
        "name": name,
    }
    return {
        "attributes": {"ome": {"multiscales": [multiscale], "name": "/", "version": "0.5"}},
        "consolidated_metadata": None,
        "node_type": "group",
        "zarr_format": 3,
    }


def _read(
    node: Path, scan: StoreScan | None = None
) -> tuple[dict[str, Any] | None, Damage | None]:
    """A ``zarr.json`` document, or why there is none."""
    try:
        document = read_metadata(node, scan)
    except DamagedMetadataError:
        return None, "damaged"
    return (None, "missing") if document is None else (document, None)


def rebuild_image(
    store: str | os.PathLike[str],
    array_key: str,
    *,
    pixel_size: float | Sequence[float] | None = None,
    units: str | None = None,
    check: bool = False,
    scan: StoreScan | None = None,
) -> Damage | None:
    """Write the group metadata of the OME-Zarr image whose array is ``array_key``
    (``<image>/0``) in ``store`` if it is missing or damaged (not JSON), atomically.

    Returns what was wrong (``"missing"`` or ``"damaged"``), or ``None`` when nothing
    is to be written: valid group metadata (never rewritten), a key that is not an
    image's (the flat layout's ``<source>``), or an array without readable metadata
    (nothing to describe). With ``check``, says so and writes nothing. ``pixel_size``
    and ``units`` are the source's (its device's configuration keys ``pixel_size``
    and ``pixel_size_units``), as given to ``ZarrWriter.register``. ``scan``: what was
    read of the store already (:class:`StoreScan`; forget it after a write).
    """
    name, _, level = array_key.rpartition("/")
    if level != IMAGE_LEVEL or not name or "/" in name or name.startswith("."):
        return None
    root = store_path(store)
    group = root / name
    scan = scan if scan is not None else StoreScan()
    if not scan.is_dir(group):
        return None
    # a folder of the root by one plain name: outside it only through a symbolic link
    if group.is_symlink() and not group.resolve().is_relative_to(root.resolve()):
        return None
    _, damage = _read(group / "zarr.json", scan)
    array, _ = _read(group / IMAGE_LEVEL / "zarr.json", scan)
    if damage is None or array is None or array.get("node_type") != "array":
        return None
    document = image_group_metadata(name, array, pixel_size, units)
    if document is None or check:
        return None if document is None else damage
    try:
        with _folder_lock(group):
            _remove_stale_temp_files(group)
            _, damage = _read(group / "zarr.json")  # another process may have written it
            if damage is None:
                return None
            _write_json_atomic(group / "zarr.json", document)
    except OSError as e:
        raise WriterError(
            f"cannot write the OME-Zarr metadata of image {str(group)!r}: {e.strerror}; "
            "free space or fix permissions, then replay the run"
        ) from e
    return damage
