"""Store locations and atomic updates of a Zarr v3 store's root attributes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from ._errors import WriterError
from ._jsonable import to_jsonable

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["frames_on_disk", "read_store_attributes", "store_path", "update_store_attributes"]

_GROUP_METADATA: dict[str, Any] = {
    "attributes": {},
    "consolidated_metadata": None,
    "node_type": "group",
    "zarr_format": 3,
}


def store_path(uri: str | os.PathLike[str]) -> Path:
    """Return the local path of a store given as a ``file://`` URI or a path."""
    text = os.fspath(uri)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise WriterError(
                f"store URI {text!r} names host {parsed.netloc!r}; "
                "only local stores (file:///...) are written"
            )
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise WriterError(
            f"store URI {text!r} has scheme {parsed.scheme!r}; give a local path or file:// URI"
        )
    return Path(text).expanduser().absolute()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, document: Mapping[str, Any]) -> None:
    text = json.dumps(document, indent=2, sort_keys=False, allow_nan=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".zarr.json.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def read_store_attributes(uri: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the root attributes of the Zarr v3 store at ``uri``."""
    node = store_path(uri) / "zarr.json"
    try:
        document = json.loads(node.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WriterError(f"no Zarr v3 store at {os.fspath(uri)!r}: {node} is missing") from None
    except json.JSONDecodeError as e:
        raise WriterError(
            f"{node} is not valid JSON ({e}); the store's metadata is damaged"
        ) from e
    attributes: dict[str, Any] = document.get("attributes") or {}
    return attributes


def update_store_attributes(
    uri: str | os.PathLike[str],
    attributes: Mapping[str, Any],
    *,
    create: bool = False,
) -> Path:
    """Merge ``attributes`` into the root group attributes of a closed store, atomically.

    Top-level keys of ``attributes`` replace those already there; other keys are kept.
    The new ``zarr.json`` is written to a temporary file, fsync'd and renamed over the
    old one, so a crash leaves either the old or the new metadata, never half of it.
    With ``create=True`` a store that does not exist yet is created as an empty group
    (a run whose sources wrote no frame still gets a readable store).
    """
    root = store_path(uri)
    node = root / "zarr.json"
    plain = to_jsonable(dict(attributes), where="attributes")
    if node.exists():
        try:
            document = json.loads(node.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise WriterError(
                f"{node} is not valid JSON ({e}); not rewriting a damaged store's metadata"
            ) from e
        if document.get("node_type") != "group":
            raise WriterError(
                f"{root} is a Zarr {document.get('node_type')!r}, not a group; "
                "store attributes are written on the root group"
            )
    elif create:
        root.mkdir(parents=True, exist_ok=True)
        document = json.loads(json.dumps(_GROUP_METADATA))
    else:
        raise WriterError(f"no Zarr v3 store at {root}: cannot write its attributes")
    document.setdefault("attributes", {}).update(plain)
    try:
        _write_json_atomic(node, document)
    except OSError as e:
        raise WriterError(
            f"cannot write the attributes of {str(root)!r}: {e.strerror or e}; free space "
            "(or fix permissions) there, then 'zarrscribe replay' writes them"
        ) from e
    return root


def frames_on_disk(uri: str | os.PathLike[str]) -> dict[str, int]:
    """Frames readable per array of a store, from each array's metadata. Reads only.

    acquire-zarr rewrites an array's metadata each time a shard is complete, and
    the root group's only at close. After a crash the root ``zarr.json`` may be
    missing and the last, partial shard of each array cannot be read; the frames
    the array metadata covers can. (Writing the root group's attributes with
    ``update_store_attributes(..., create=True)`` makes the store a group again.)
    """
    root = store_path(uri)
    frames: dict[str, int] = {}
    for node in sorted(root.glob("*/zarr.json")):
        try:
            document = json.loads(node.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # half-written array metadata: nothing of it can be read
        if document.get("node_type") == "array" and document.get("shape"):
            frames[node.parent.name] = int(document["shape"][0])
    return frames
