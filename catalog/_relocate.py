"""Where an embedded catalog's data folder is now, and the asset URIs that say where it was.

Tiled stores absolute asset URIs (external stores, the table database). When the
whole data folder is moved, copied or mounted elsewhere (an archive disk, a DVD, a
colleague's share), the catalog in it still names the old place: reads would fail
("outside the readable storage area") or, worse, read the old copy. Catalogs made
before zarrscribe stored URIs the way Tiled reads them hold percent-encoded store
URIs (``file:///data%20dir/...``), which Tiled takes for another path.

The catalog remembers the folder it was made for (``location.json``). Opening
never writes: :class:`Location` maps a stored URI to the one that names the same
file now, in memory. Only a writer brings the database up to date
(:meth:`Location.update_in_place`); a reader of a catalog that is out of date, or on
read-only media, gets a private copy with the URIs mapped (:func:`private_copy`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from ..writers import folder_writable
from ._errors import CatalogError, CatalogUnavailableError

__all__ = [
    "Location",
    "private_copy",
    "read_location",
    "relocate_embedded",
    "sqlite_reader",
]

_MARKER = "location.json"
_TILED_FORM = "tiled"
"""``uris`` in the marker: every file URI is stored as Tiled reads it (never encoded)."""
_TABLES = "tables.sqlite"


@contextlib.contextmanager
def sqlite_reader(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that only reads ``path``, also on read-only media.

    Read-write where the folder allows it (a writer killed mid-transaction leaves a
    hot journal only a writable connection rolls back); read-only otherwise, and
    ``immutable`` where SQLite cannot open it read-only (a WAL database whose
    ``-shm`` file cannot be made on read-only media).
    """
    writable = folder_writable(path.parent)
    modes = ["mode=rw"] if writable else ["mode=ro", "mode=ro&immutable=1"]
    error: sqlite3.Error | None = None
    for mode in modes:
        try:
            # a URI filename: SQLite decodes %HH and ends the path at '?' or '#'
            db = sqlite3.connect(f"file:{quote(str(path))}?{mode}", uri=True, timeout=10)
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.Error as e:
            error = e
            continue
        try:
            yield db
        finally:
            db.close()
        return
    raise CatalogError(f"cannot open the catalog database {path}: {error}")


@dataclass(frozen=True)
class Location:
    """An embedded catalog in ``directory`` of the data folder now at ``base``."""

    directory: Path
    base: Path
    recorded: Path | None
    """Where the data folder was when the catalog last wrote its URIs (None: unknown)."""
    tiled_form: bool
    """Whether every file URI is known to be stored as Tiled reads it."""

    @property
    def moved(self) -> bool:
        return self.recorded is not None and self.recorded != self.base

    def asset_uri(self, uri: str) -> str:
        """``uri`` as stored, mapped to the URI of the same file now (Tiled's form)."""
        if uri.startswith("file:///") and not self.tiled_form:
            uri = "file://localhost" + unquote(uri[len("file://") :])  # Path.as_uri()'s
        if self.moved:
            assert self.recorded is not None
            for before, after in _prefixes(self.recorded, self.base):
                if uri.startswith(before):
                    return after + uri[len(before) :]
        return uri

    def out_of_date(self, database: Path) -> bool:
        """Whether some asset URI in ``database`` does not name its file now."""
        if self.moved:
            return True
        if self.tiled_form or not database.exists():
            return False
        with sqlite_reader(database) as db:
            row = db.execute(
                "SELECT 1 FROM assets WHERE substr(data_uri, 1, 8) = 'file:///' "
                "AND instr(data_uri, '%') > 0 LIMIT 1"
            ).fetchone()
        return row is not None

    def update_in_place(self) -> int:
        """Rewrite the catalog's asset URIs to name the files now, and remember where
        the folder is; returns how many were rewritten. For writers only."""
        database = self.directory / "catalog.db"
        changed = 0
        if database.exists() and (self.moved or not self.tiled_form):
            changed = rewrite_assets(database, self.asset_uri)
        if self.recorded != self.base or not self.tiled_form:
            marker = self.directory / _MARKER
            tmp = marker.with_suffix(".tmp")
            text = json.dumps({"base_dir": str(self.base), "uris": _TILED_FORM})
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(marker)
            except OSError as e:  # a full disk: the catalog opens once it can be written
                tmp.unlink(missing_ok=True)
                raise CatalogUnavailableError(
                    f"cannot write {marker}: {e.strerror or e}; free space (or fix "
                    "permissions) there: the catalog opens once it can be written"
                ) from e
        return changed


def read_location(directory: Path, base_dir: Path) -> Location:
    """Where the catalog in ``directory`` says its data folder was (reads only)."""
    marker = directory / _MARKER
    base = base_dir.absolute()
    if not marker.exists():
        return Location(directory, base, None, False)
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
        return Location(directory, base, Path(record["base_dir"]), record.get("uris") == "tiled")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CatalogError(
            f"{marker} is damaged ({e}); delete it if {base} is where the data is"
        ) from e


def relocate_embedded(directory: Path, base_dir: Path) -> int:
    """Make the embedded catalog in ``directory`` point at ``base_dir`` in place; return
    how many asset URIs were rewritten (0 when it was up to date). Writes the catalog:
    opening one for reading never needs this."""
    return read_location(directory, base_dir).update_in_place()


def _prefixes(old: Path, new: Path) -> list[tuple[str, str]]:
    return [
        (f"file://localhost{old}/", f"file://localhost{new}/"),
        (f"file://{old}/", f"file://{new}/"),
        (f"sqlite://localhost/{old}/", f"sqlite://localhost/{new}/"),
        (f"sqlite:///{old}/", f"sqlite:///{new}/"),
    ]


def rewrite_assets(database: Path, mapping: Callable[[str], str]) -> int:
    """Apply ``mapping`` to every asset URI in ``database``; return how many changed."""
    # Tiled has no API to change an asset's location, so this one function writes
    # its SQLite schema (table "assets", column "data_uri") directly, while no
    # Tiled adapter of this process has the database open.
    connection = sqlite3.connect(database, timeout=10)
    try:
        with connection:
            rows = connection.execute("SELECT id, data_uri FROM assets").fetchall()
            changes = [(new, i) for i, uri in rows if (new := mapping(uri)) != uri]
            connection.executemany("UPDATE assets SET data_uri = ? WHERE id = ?", changes)
        return len(changes)
    except sqlite3.Error as e:
        raise CatalogError(
            f"cannot point the catalog {database} at the data folder {database.parent}: {e}"
        ) from e
    finally:
        connection.close()


def private_copy(directory: Path, location: Location | None) -> Path:
    """A copy of the catalog in ``directory`` (database and table storage) in a new
    temporary folder, its asset URIs naming the files where they are now and its table
    storage the copy's: what a reader opens Tiled on without writing the original (an
    out-of-date catalog, read-only media). The caller removes the folder."""
    into = Path(tempfile.mkdtemp(prefix="zarrscribe-catalog-"))
    try:
        for name in ("catalog.db", _TABLES):
            if (directory / name).exists():
                with sqlite_reader(directory / name) as source:
                    target = sqlite3.connect(into / name)
                    try:
                        source.backup(target)
                    finally:
                        target.close()
        (into / "data").mkdir()
        old_tables = [(f"{p}{directory}/{_TABLES}", f"{p}{into}/{_TABLES}") for p in _SQLITE]

        def mapping(uri: str) -> str:
            uri = location.asset_uri(uri) if location is not None else uri
            for before, after in old_tables:
                if uri == before:
                    return after
            return uri

        rewrite_assets(into / "catalog.db", mapping)
    except BaseException:
        shutil.rmtree(into, ignore_errors=True)
        raise
    return into


_SQLITE = ("sqlite://localhost/", "sqlite:///")
