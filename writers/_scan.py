"""One look at a store's folders and metadata files, shared by what reads them in turn.

Replaying a run reads the same few files of its store several times within
milliseconds: counting readable frames (``frames_on_disk``), checking the OME-Zarr
images and their collection (``rebuild_image``, ``write_collection``) and the root's
attributes (``read_group_metadata``) each list the same folders and read the same
``zarr.json`` files. A :class:`StoreScan` reads each file and lists each folder once
and gives the same answer (the same bytes, or the same error) to every later reader.

A scan describes the store at the moment it looked: whoever writes into the store
drops it (:meth:`StoreScan.forget`) before reading again. Each reader given no scan
uses a fresh one, which reads everything anew, as before.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["StoreScan"]


class StoreScan:
    """The bytes of each file, the sub-folders of each folder and the parsed JSON of each
    metadata file of one store, each read once (errors remembered and raised again)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        """The store's folder (resolved), when the scan was made for one store."""
        self._bytes: dict[str, bytes | OSError] = {}
        self._folders: dict[str, list[Path] | OSError] = {}
        self._json: dict[str, tuple[Any, Exception | None]] = {}

    def forget(self) -> None:
        """Drop everything seen (the store was written: read it again)."""
        self._bytes.clear()
        self._folders.clear()
        self._json.clear()

    def read_bytes(self, path: Path) -> bytes:
        """``path.read_bytes()``, read once."""
        key = str(path)
        found = self._bytes.get(key)
        if found is None:
            try:
                found = path.read_bytes()
            except OSError as e:
                found = e
            self._bytes[key] = found
        if isinstance(found, OSError):
            raise found
        return found

    def folders(self, path: Path) -> list[Path]:
        """The sub-folders of ``path``, sorted; raises ``OSError`` as ``iterdir`` does."""
        key = str(path)
        found = self._folders.get(key)
        if found is None:
            try:
                found = sorted(p for p in path.iterdir() if p.is_dir())
            except OSError as e:
                found = e
            self._folders[key] = found
        if isinstance(found, OSError):
            raise found
        return list(found)

    def is_dir(self, path: Path) -> bool:
        """Whether ``path`` is a folder (one listing of its parent answers for all its
        siblings)."""
        try:
            return path in self.folders(path.parent)
        except OSError:
            return False

    def json(self, path: Path) -> Any:
        """The JSON value in file ``path`` (shared: do not change it); raises ``OSError``,
        ``UnicodeDecodeError`` or ``json.JSONDecodeError`` as reading it does."""
        key = str(path)
        found = self._json.get(key)
        if found is None:
            try:
                found = (json.loads(self.read_bytes(path).decode("utf-8")), None)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                found = (None, e)
            self._json[key] = found
        if found[1] is not None:
            raise found[1]
        return found[0]
