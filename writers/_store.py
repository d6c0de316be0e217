"""Store locations and atomic updates of a Zarr v3 store's root attributes."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from ._errors import DamagedMetadataError, WriterError
from ._jsonable import to_jsonable
from ._scan import StoreScan
from .model import damage_at

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

try:
    import fcntl
except ImportError:  # not POSIX: updates are not serialised between processes
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DAMAGED_SUFFIX",
    "fsync_folder",
    "name_image",
    "read_group_metadata",
    "read_metadata",
    "read_store_attributes",
    "store_path",
    "update_store_attributes",
]

DAMAGED_SUFFIX = ".damaged"
"""Added to the name of a damaged ``zarr.json`` kept aside when it is rebuilt."""

_GROUP_METADATA: dict[str, Any] = {
    "attributes": {},
    "consolidated_metadata": None,
    "node_type": "group",
    "zarr_format": 3,
}


def store_path(uri: str | os.PathLike[str]) -> Path:
    """Return the local path of a store given as a ``file://`` URI or a path."""
    if isinstance(uri, Path) and uri.is_absolute():
        return uri  # what the lines below make of it (a store's checks pass it on often)
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


def fsync_folder(path: Path) -> None:
    """fsync folder ``path`` (so a new name or a rename in it lasts)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_TMP_PREFIX, _TMP_SUFFIX = ".zarr.json.", ".tmp"


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (flock on its descriptor): one updater at a time."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _remove_stale_temp_files(folder: Path) -> None:
    """Remove temporary files of updates killed between write and rename.

    Called with the folder locked: no live update has a temporary file then.
    """
    for stale in folder.glob(f"{_TMP_PREFIX}*{_TMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


def _write_json_atomic(path: Path, document: Mapping[str, Any]) -> None:
    text = json.dumps(document, indent=2, sort_keys=False, allow_nan=False)
    _write_atomic(path, text.encode("utf-8"))


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a fsync'd temporary file and a rename (the
    folder fsync'd too): a crash leaves the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def read_metadata(node: Path, scan: StoreScan | None = None) -> dict[str, Any] | None:
    """The JSON object in the ``zarr.json`` file ``node``; ``None`` when there is none.

    Raises :class:`DamagedMetadataError`, naming ``file:line``, when it cannot be read:
    empty, not UTF-8, not JSON (cut short by a crash or a full disk), not an object.
    ``scan``: what was read of the store already (read here once otherwise).
    """
    scan = scan if scan is not None else StoreScan()
    try:
        data = scan.read_bytes(node)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise WriterError(f"cannot read {node}: {e.strerror}; check the disk") from e
    if not data.strip():
        raise DamagedMetadataError(
            damage_at(node, 1, "empty (a write that never finished)"), empty=True
        )
    try:
        document = scan.json(node)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DamagedMetadataError(
            damage_at(node, line, f"not UTF-8 text ({e.reason} at byte {e.start})")
        ) from e
    except json.JSONDecodeError as e:
        ends = e.pos >= len(e.doc.rstrip()) or e.msg.startswith("Unterminated")
        what = "cut short" if ends else "not valid JSON"
        raise DamagedMetadataError(damage_at(node, e.lineno, f"{what} ({e.msg})")) from e
    if not isinstance(document, dict):
        raise DamagedMetadataError(
            damage_at(node, 1, f"a JSON {type(document).__name__}, not Zarr metadata (an object)")
        )
    return document


def read_group_metadata(root: Path, scan: StoreScan | None = None) -> dict[str, Any] | None:
    """The root group metadata of the store at ``root``; ``None`` when there is none.
    Damaged metadata raises :class:`DamagedMetadataError`; a root that is not a group
    raises :class:`WriterError` (both naming ``file:line``). ``scan``: as
    :func:`read_metadata`'s (the document is then shared: do not change it)."""
    node = root / "zarr.json"
    document = read_metadata(node, scan)
    if document is not None and document.get("node_type") != "group":
        raise WriterError(
            damage_at(
                node,
                1,
                f"the store's root is a Zarr {document.get('node_type')!r}, not a group; "
                "store attributes are written on a root group: repair it, or move it away "
                "if it is not this run's store",
            )
        )
    return document


def read_store_attributes(
    uri: str | os.PathLike[str], scan: StoreScan | None = None
) -> dict[str, Any]:
    """Return the root attributes of the Zarr v3 store at ``uri``.

    Raises :class:`DamagedMetadataError` when its ``zarr.json`` is damaged, and
    :class:`WriterError` when there is none or it is not a group's. ``scan``: as
    :func:`read_metadata`'s.
    """
    root = store_path(uri)
    document = read_group_metadata(root, scan)
    if document is None:
        raise WriterError(
            f"no Zarr v3 store at {os.fspath(uri)!r}: {root / 'zarr.json'} is missing"
        )
    attributes: dict[str, Any] = document.get("attributes") or {}
    return attributes


def update_store_attributes(
    uri: str | os.PathLike[str],
    attributes: Mapping[str, Any],
    *,
    create: bool = False,
    rebuild_damaged: bool = False,
) -> Path:
    """Merge ``attributes`` into the root group attributes of a closed store, atomically.

    Top-level keys of ``attributes`` replace those already there; other keys are kept.
    The new ``zarr.json`` is written to a temporary file, fsync'd and renamed over the
    old one, so a crash leaves either the old or the new metadata, never half of it.
    With ``create=True`` a store that does not exist yet is created as an empty group
    (a run whose sources wrote no frame still gets a readable store). A damaged root
    ``zarr.json`` is refused (:class:`DamagedMetadataError`), unless
    ``rebuild_damaged``: it is then kept aside as ``zarr.json.damaged`` (when it
    holds anything) and the root is made a group again with ``attributes`` only.
    Updates of one store are serialised (a lock on its folder), and temporary files
    left by an update that was killed before its rename are removed.
    """
    root = store_path(uri)
    plain = to_jsonable(dict(attributes), where="attributes")
    try:
        if not root.is_dir():
            if not create:
                raise WriterError(f"no Zarr v3 store at {root}: cannot write its attributes")
            root.mkdir(parents=True, exist_ok=True)
        with _folder_lock(root):
            _remove_stale_temp_files(root)
            _merge_attributes(root, plain, create=create, rebuild_damaged=rebuild_damaged)
    except OSError as e:
        raise WriterError(
            f"cannot write the attributes of store {str(root)!r}: {e.strerror}; free space or "
            "fix permissions, then write them again (its previous metadata is intact)"
        ) from e
    return root


def _merge_attributes(
    root: Path, plain: dict[str, Any], *, create: bool, rebuild_damaged: bool
) -> None:
    node = root / "zarr.json"
    try:
        document = read_group_metadata(root)
    except DamagedMetadataError as e:
        if not rebuild_damaged:
            raise DamagedMetadataError(
                f"{e}; not rewriting a damaged store's metadata", empty=e.empty
            ) from e
        if not e.empty:
            _keep_aside(node)
        document = None
        create = True
    if document is None:
        if not create:
            raise WriterError(f"no Zarr v3 store at {root}: cannot write its attributes")
        document = json.loads(json.dumps(_GROUP_METADATA))
    document.setdefault("attributes", {}).update(plain)
    _write_json_atomic(node, document)


def _keep_aside(node: Path) -> None:
    """Move a damaged ``node`` to ``<name>.damaged`` (``.damaged.1``, ...: never over an
    earlier one)."""
    kept = node.with_name(node.name + DAMAGED_SUFFIX)
    n = 0
    while kept.exists():
        n += 1
        kept = node.with_name(f"{node.name}{DAMAGED_SUFFIX}.{n}")
    os.rename(node, kept)


def name_image(root: Path, name: str) -> None:
    """Name the OME-Zarr image ``<root>/<name>`` (``multiscales[0].name``), atomically.

    acquire-zarr 0.10 leaves the name out; viewers (napari, ome-zarr-py) show it.
    Does nothing when the image has no metadata (a source that wrote nothing) or
    already has this name.
    """
    group = root / name
    if not (group / "zarr.json").is_file():
        return
    ome = read_store_attributes(group).get("ome")
    if not isinstance(ome, dict) or not ome.get("multiscales"):
        return
    multiscales = [dict(m) for m in ome["multiscales"]]
    if multiscales[0].get("name") == name:
        return
    multiscales[0]["name"] = name
    update_store_attributes(group, {"ome": {**ome, "multiscales": multiscales}})
