"""Frames that are really readable in a Zarr v3 store, from its metadata and shard indexes.

acquire-zarr writes a shard's data as its chunks complete and the shard's index
(``sharding_indexed``, at the end of the file) only when the whole shard is
complete, or at close. After a crash the last shard of each array has no index,
and an array's ``zarr.json`` shape can lag behind or run ahead of what reached
disk. A frame counts here only when every shard holding it has a whole index
(checksum included) that points inside the file, and the array's shape covers
it. (An all-0xFF index entry is a chunk acquire-zarr skipped because it holds
only the fill value: readers return the fill value, which is the frame.) Only
``zarr.json`` files and shard indexes are read.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

from ._scan import StoreScan
from ._store import store_path

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["crc32c", "frames_on_disk", "shard_is_whole"]

_MISSING = 2**64 - 1
"""Offset and size of a chunk that was never written (an all-0xFF index entry)."""


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum of the ``crc32c`` Zarr codec."""
    import google_crc32c  # the well-kept C implementation (Apache-2.0)

    return int(google_crc32c.value(data))


@dataclass(frozen=True)
class _Array:
    root: Path
    shape: tuple[int, ...]
    shard: tuple[int, ...]
    """Shard shape (the array's chunk grid) in elements."""
    inner: tuple[int, ...] | None
    """Chunk shape inside a shard; ``None`` for an unsharded array."""
    checksum: bool
    """Whether each shard index ends with a CRC-32C."""
    key: Any
    """``chunk_key_encoding`` of the array."""

    def shard_file(self, index: tuple[int, ...]) -> Path:
        encoding = self.key.get("name", "default")
        separator = (self.key.get("configuration") or {}).get(
            "separator", "/" if encoding == "default" else "."
        )
        parts = [str(i) for i in index]
        name = separator.join(["c", *parts] if encoding == "default" else parts)
        return self.root.joinpath(*name.split("/"))


def _parse(root: Path, document: dict[str, Any]) -> _Array | None:
    try:
        shape = tuple(int(s) for s in document["shape"])
        shard = tuple(int(s) for s in document["chunk_grid"]["configuration"]["chunk_shape"])
        codecs = document.get("codecs") or []
        inner: tuple[int, ...] | None = None
        checksum = False
        if codecs and codecs[0].get("name") == "sharding_indexed":
            config = codecs[0]["configuration"]
            if config.get("index_location", "end") != "end":
                return None  # not what acquire-zarr writes; not counted
            inner = tuple(int(s) for s in config["chunk_shape"])
            names = [c.get("name") for c in config.get("index_codecs") or []]
            checksum = "crc32c" in names
        key = document.get("chunk_key_encoding") or {"name": "default"}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not shape or len(shard) != len(shape) or (inner is not None and len(inner) != len(shape)):
        return None
    return _Array(root, shape, shard, inner, checksum, key)


def shard_is_whole(path: Path, n_chunks: int, *, checksum: bool = True) -> bool:
    """Whether the shard file at ``path`` (``n_chunks`` chunks) has its whole index.

    The index (at the end) must be complete, match its CRC-32C when ``checksum``,
    and point inside the file. It may mark chunks as missing (all 0xFF):
    acquire-zarr skips chunks that hold only the fill value, and readers give the
    fill value back.
    """
    index_size = 16 * n_chunks + (4 if checksum else 0)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < index_size:
                return False
            f.seek(size - index_size)
            index = f.read(index_size)
    except OSError:
        return False
    table = index[: 16 * n_chunks]
    if checksum and struct.unpack("<I", index[-4:])[0] != crc32c(table):
        return False  # no index yet (a shard cut short), or a damaged one
    return _inside(table, size - index_size)


def _inside(table: bytes, data_end: int) -> bool:
    """Whether every chunk of the shard index ``table`` (offset and size, 8 bytes each)
    that was written (offset not all 0xFF) ends by ``data_end``: one array operation
    over the whole index (a shard holds hundreds of chunks)."""
    import numpy as np

    entries = np.frombuffer(table, dtype="<u8").reshape(-1, 2)
    written = entries[entries[:, 0] != _MISSING]
    offsets, sizes = written[:, 0], written[:, 1]
    # offset + size <= data_end, without the sum overflowing 64 bits
    return bool(np.all((sizes <= data_end) & (offsets <= data_end - np.minimum(sizes, data_end))))


def _frames_in_shard(array: _Array, path: Path, frames_here: int) -> int:
    """``frames_here`` if the shard file is whole, else 0."""
    if array.inner is None:  # unsharded: a chunk file is written whole or not at all
        return frames_here if path.is_file() else 0
    per_axis = [math.ceil(s / c) for s, c in zip(array.shard, array.inner, strict=True)]
    whole = shard_is_whole(path, math.prod(per_axis), checksum=array.checksum)
    return frames_here if whole else 0


def _readable_frames(array: _Array) -> int:
    """Leading frames of ``array`` that every shard holding them can give back."""
    grid = [math.ceil(s / c) for s, c in zip(array.shape[1:], array.shard[1:], strict=True)]
    per_shard = array.shard[0]
    frames = 0
    for t in range(math.ceil(array.shape[0] / per_shard)):
        wanted = min(per_shard, array.shape[0] - t * per_shard)
        here = min(
            (
                _frames_in_shard(array, array.shard_file((t, *rest)), wanted)
                for rest in product(*(range(g) for g in grid))
            ),
            default=wanted,
        )
        frames += here
        if here < wanted:
            break
    return frames


def _metadata(folder: Path, scan: StoreScan) -> dict[str, Any] | None:
    try:
        document = scan.json(folder / "zarr.json")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # missing, or half-written: nothing can be read through it
    return document if isinstance(document, dict) else None


def _arrays(root: Path, prefix: str, depth: int, scan: StoreScan) -> dict[str, _Array | None]:
    """Arrays under ``root`` by path; ``None`` for an array folder with no readable metadata.

    acquire-zarr writes an array's ``zarr.json`` when its first shard completes and
    a group's only at close, so after a crash a folder without metadata is an array
    (it has chunk folder ``c``, or nothing at all) or a group of arrays.
    """
    found: dict[str, _Array | None] = {}
    try:
        children = scan.folders(root)
    except OSError:
        return found
    for child in children:
        key = f"{prefix}{child.name}"
        document = _metadata(child, scan)
        node_type = None if document is None else document.get("node_type")
        if document is not None and node_type == "array":
            found[key] = _parse(child, document)
            continue
        if document is None and scan.is_dir(child / "c"):
            found[key] = None  # chunks but no metadata: nothing of it is readable
            continue
        inner = _arrays(child, f"{key}/", depth - 1, scan) if depth > 1 else {}
        if node_type == "group" or inner:
            found.update(inner)
        elif document is None and not child.name.startswith("."):
            found[key] = None  # its data never got metadata: nothing of it is readable
    return found


def frames_on_disk(uri: str | os.PathLike[str], scan: StoreScan | None = None) -> dict[str, int]:
    """Frames readable per array of a store: ``{array path in the store: frames}``. Reads only.

    Arrays directly under the store root (``"cam1"``) and one level deeper, inside
    a group (``"cam1/0"``, the OME-Zarr layout), are found. A frame counts when
    the array's shape covers it and every shard holding it is whole: its index
    was written (its CRC-32C checksum matches) and points inside the file. An
    array with nothing readable counts 0, also when its metadata was never
    written. After a crash the root ``zarr.json`` may be missing;
    ``update_store_attributes(..., create=True)`` makes the store a group again.
    ``scan``: the folders and metadata files it reads are kept there, for the next
    reader of the same store (a fresh look at the disk otherwise).
    """
    arrays = _arrays(store_path(uri), "", 2, scan if scan is not None else StoreScan())
    return {key: 0 if a is None else _readable_frames(a) for key, a in arrays.items()}
