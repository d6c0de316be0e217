"""A data folder that moved: point an embedded catalog's assets at the new place.

Tiled stores absolute asset URIs (external stores, the table database). When the
whole data folder is moved or copied (an archive disk, a laptop), the catalog in it
still names the old place: reads fail ("outside the readable storage area") or,
worse, read the old copy. The catalog remembers the folder it was made for; when
it is opened somewhere else, every asset URI under the old folder is rewritten.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ._errors import CatalogError, CatalogUnavailableError

__all__ = ["relocate_embedded"]

_MARKER = "location.json"


def relocate_embedded(directory: Path, base_dir: Path) -> int:
    """Make the embedded catalog in ``directory`` point at ``base_dir``; return how many
    asset URIs were rewritten (0 when the folder did not move)."""
    marker = directory / _MARKER
    database = directory / "catalog.db"
    base = base_dir.absolute()
    old: Path | None = None
    if marker.exists():
        try:
            old = Path(json.loads(marker.read_text(encoding="utf-8"))["base_dir"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CatalogError(
                f"{marker} is damaged ({e}); delete it if {base} is where the data is"
            ) from e
    moved = 0
    if old is not None and old != base and database.exists():
        moved = _rewrite_asset_uris(database, old, base)
    if old != base:
        tmp = marker.with_suffix(".tmp")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"base_dir": str(base)}), encoding="utf-8")
            tmp.replace(marker)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise CatalogUnavailableError(
                f"cannot write {marker}: {e.strerror or e}; free space (or fix permissions) "
                "there: the catalog opens once it can be written"
            ) from e
    return moved


def _rewrite_asset_uris(database: Path, old: Path, new: Path) -> int:
    # Tiled has no API to change an asset's location, so this one function writes
    # its SQLite schema (table "assets", column "data_uri") directly, while no
    # Tiled adapter has the database open.
    prefixes = [
        (f"file://{old}/", f"file://{new}/"),
        (f"file://localhost{old}/", f"file://localhost{new}/"),
        (f"sqlite://localhost/{old}/", f"sqlite://localhost/{new}/"),
        (f"sqlite:///{old}/", f"sqlite:///{new}/"),
    ]
    connection = sqlite3.connect(database)
    try:
        with connection:
            changed = 0
            for before, after in prefixes:
                cursor = connection.execute(
                    "UPDATE assets SET data_uri = ? || substr(data_uri, ?) "
                    "WHERE substr(data_uri, 1, ?) = ?",
                    (after, len(before) + 1, len(before), before),
                )
                changed += cursor.rowcount
        return changed
    except sqlite3.Error as e:
        raise CatalogError(
            f"cannot point the catalog {database} at the moved data folder {new}: {e}"
        ) from e
    finally:
        connection.close()
