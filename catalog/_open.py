"""Opening catalogs: the embedded one (in-process Tiled app on SQLite), a Tiled server."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..writers import disk_full_note, folder_writable
from ..writers.model import STATE_DIR
from ._errors import CatalogError, CatalogUnavailableError
from ._local import LocalReader
from ._relocate import Location, private_copy, read_location
from ._tiled import (
    forget_replaced_files,
    in_process_client,
    init_lock,
    one_line,
    opened,
    sql_storage,
    tiled_adapter,
)

if TYPE_CHECKING:
    from ._catalog import Catalog
    from ._sql import SQLWriter

__all__ = ["EmbeddedTiled", "Opened", "embedded_catalog", "is_initialised", "open_embedded"]


def embedded_catalog(base_dir: str | Path) -> Catalog:
    """The default catalog of ``base_dir``: SQLite, in ``<base_dir>/.zarrscribe/catalog``.

    A data folder that was moved, copied or mounted elsewhere is read where it is now
    (also on read-only media): opening it writes nothing. Its asset locations are
    rewritten to the new place by the first registration.
    """
    from ._catalog import Catalog

    base = Path(base_dir).absolute()
    directory = base / STATE_DIR / "catalog"
    read_location(directory, base)  # a damaged marker fails here, at once
    return Catalog._embedded_in(directory, [base], partial(read_location, directory, base))


class Opened:
    """Tiled opened on an embedded catalog: its direct writer at once, its in-process app
    (``client``) when first needed. Building and starting the app costs seconds (FastAPI,
    Tiled's server modules); registering runs straight into the database needs none of it."""

    def __init__(
        self, connect: Callable[[], Any], direct: SQLWriter | None, private: Path | None = None
    ) -> None:
        self._connect: Callable[[], Any] | None = connect
        self._client: Any = None
        self.direct = direct
        """Writes runs straight into its database (None on a private copy)."""
        self.private = private
        """The temporary folder of a private copy (removed when the catalog closes)."""

    @property
    def client(self) -> Any:
        """The Tiled client of the catalog root, its app built and started on first use."""
        if self._connect is not None:
            self._client, self._connect = self._connect(), None
        return self._client

    def close(self) -> None:
        """Shut the in-process app down (its database connections with it) and remove
        a private copy."""
        if self.direct is not None:
            self.direct.close()
        if self._client is not None:
            self._client.context.close()
        self._connect = None
        if self.private is not None:
            shutil.rmtree(self.private, ignore_errors=True)


class EmbeddedTiled:
    """Tiled on the embedded catalog in ``directory``, opened when first needed
    (:func:`open_embedded`): a private copy for reading where reading the catalog as it
    is would need a write; the catalog itself once something is written. ``local``
    reads its database directly (asset locations mapped to where the folder is now)."""

    def __init__(
        self,
        directory: Path,
        readable: Sequence[str | Path],
        locate: Callable[[], Location] | None,
    ) -> None:
        self._open = partial(open_embedded, directory, readable, locate)
        self.database = directory / "catalog.db"
        self.opened: Opened | None = None
        location = locate() if locate is not None else None
        self.local = LocalReader.open(
            directory / "catalog.db", location.asset_uri if location is not None else None
        )

    def open(self, write: bool) -> Opened | None:
        """Tiled opened for ``write`` (or for reading), or ``None`` when the one already
        open does (the caller keeps using it)."""
        if self.opened is not None and (not write or self.opened.direct is not None):
            return None
        self.close()
        self.opened = self._open(write)
        if self.opened.direct is not None:  # the catalog itself, up to date
            self.local = LocalReader.open(self.opened.direct.database)
        return self.opened

    def close(self) -> None:
        if self.opened is not None:
            self.opened.close()
            self.opened = None


def open_embedded(
    directory: Path,
    readable: Sequence[str | Path],
    locate: Callable[[], Location] | None,
    write: bool,
) -> Opened:
    """Tiled's in-process app on the catalog in ``directory``.

    For writing (``write``): the catalog itself, created if missing and brought up to
    date first (asset URIs of a moved folder). For reading: the catalog itself where
    that needs no write; otherwise (out of date, read-only media) a private copy, so
    a reader never writes the data folder. A writer on read-only media gets a
    :class:`CatalogError` naming the folder.
    """
    database = directory / "catalog.db"
    location = locate() if locate is not None else None
    writable = folder_writable(directory) if directory.exists() else True
    if (write or not database.exists()) and not writable:
        raise CatalogError(
            f"the catalog in {directory} is on read-only media (or not writable here): runs "
            "can be read but not registered or deleted; copy the data folder somewhere "
            "writable for that"
        )
    stale = location is not None and location.out_of_date(database)
    if write and location is not None:
        location.update_in_place()
    elif stale or not writable:
        private = private_copy(directory, location)
        try:
            connect, _ = _app(private, readable, direct=False)
            opened = Opened(connect, None, private)
            opened.client  # noqa: B018  a reader reads through Tiled: fail here, not later
            return opened
        except BaseException:
            shutil.rmtree(private, ignore_errors=True)
            raise
    connect, direct = _app(directory, readable, direct=True)
    opened = Opened(connect, direct)
    if not _current(database):
        try:
            opened.client  # noqa: B018  another Tiled's catalog: its app says what to do
        except BaseException:
            opened.close()
            raise
    return opened


def _app(
    directory: Path, readable: Sequence[str | Path], *, direct: bool
) -> tuple[Callable[[], Any], SQLWriter | None]:
    """Open the catalog in ``directory`` (created if missing): a function that builds
    Tiled's adapter and in-process app on it and returns its client, and (``direct``)
    the writer of runs straight into its database, which needs neither."""
    from ._sql import SQLWriter

    database, tables = directory / "catalog.db", directory / "tables.sqlite"
    forget_replaced_files(database, tables)
    with _errors(directory, database):
        (directory / "data").mkdir(parents=True, exist_ok=True)
        with init_lock(directory):
            # Tiled's init_if_not_exists starts a `tiled catalog init` process on
            # every open; only a database without Tiled's schema needs it, and we
            # create that ourselves for the Tiled version we pin.
            initialised = is_initialised(database)
            if not initialised:
                _clear_unfinished(database)
                initialised = _create_schema(database)
        opened(database)
        writer = SQLWriter(database, sql_storage(tables)) if direct else None
    start = partial(_start_app, directory, readable, init=not initialised)
    return start, writer


def _start_app(directory: Path, readable: Sequence[str | Path], *, init: bool) -> Any:
    """Build Tiled's adapter and in-process app on the catalog in ``directory`` (with
    ``init``, Tiled initialises its database first) and start it; its client."""
    database, tables = directory / "catalog.db", directory / "tables.sqlite"
    with _errors(directory, database):
        with init_lock(directory):
            adapter = tiled_adapter(
                f"sqlite:///{database}",
                [str(directory / "data"), f"sqlite:///{tables}"],
                readable,
                init=init,
            )
        return in_process_client(adapter)  # starting the app checks the database


@contextmanager
def _errors(directory: Path, database: Path) -> Iterator[None]:
    """One-line errors for what goes wrong opening the catalog in ``directory``."""
    try:
        yield
    except CatalogError:
        raise
    except OSError as e:
        raise CatalogUnavailableError(
            f"cannot open the catalog in {directory}: {e.strerror or e}; free space (or fix "
            "permissions) there"
        ) from e
    except Exception as e:
        from tiled.catalog.adapter import DatabaseInitializationError  # imported by now

        if isinstance(e, DatabaseInitializationError):
            # The disk is full, or not writable: the database stays without its schema,
            # and is initialised at the next open (the registrations wait meanwhile).
            full = disk_full_note(directory)
            raise CatalogUnavailableError(
                f"cannot initialise the catalog {database}: {_reason(str(e))}"
                f"{f' ({full})' if full else ''}; free space (or fix permissions) there: it "
                "is initialised at its next use, and the runs waiting for it are registered "
                "then"
            ) from None
        raise CatalogError(
            f"cannot open the catalog {database}: {one_line(e)}; if another Tiled version "
            "made it, open it with that version (or replay the logs into a new catalog)"
        ) from e


def _current(database: Path) -> bool:
    """Whether ``database`` is stamped with the schema revision of the Tiled we pin
    (writing straight into it needs no check by Tiled's app)."""
    from ._schema import REVISION

    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute("SELECT version_num FROM alembic_version").fetchall() == [
                (REVISION,)
            ]
        finally:
            db.close()
    except sqlite3.Error:
        return False


def _create_schema(database: Path) -> bool:
    """Create Tiled's empty schema in ``database`` ourselves (:mod:`._schema`, no
    ``tiled catalog init`` process); ``False`` where Tiled must (another version)."""
    from ._schema import create_schema

    try:
        return create_schema(database)
    except sqlite3.Error as e:
        full = disk_full_note(database.parent)
        raise CatalogUnavailableError(
            f"cannot initialise the catalog {database}: {e}{f' ({full})' if full else ''}; "
            "free space (or fix permissions) there: it is initialised at its next use, and "
            "the runs waiting for it are registered then"
        ) from None


def is_initialised(database: Path) -> bool:
    """Whether the SQLite file ``database`` holds Tiled's schema (an alembic stamp).

    A file that is missing, empty (made while the disk was full) or whose tables were
    made but not stamped (its init was cut off) is not, and is initialised at the
    next open. Reads SQLite's own tables only: no Tiled, no subprocess. A file that
    is not SQLite, or cannot be read now, counts as initialised: Tiled then says
    what it is.
    """
    if not database.is_file():
        return False
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
        try:
            stamped = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
            return bool(stamped) and bool(
                db.execute("SELECT 1 FROM alembic_version LIMIT 1").fetchone()
            )
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return True


def _clear_unfinished(database: Path) -> None:
    """Remove a database Tiled's init left unfinished (tables, no stamp: the disk filled
    between the two), which its init cannot finish. Without the stamp Tiled never
    opened it, so no run was ever written there; one that holds runs is refused."""
    if not database.is_file() or database.stat().st_size == 0:
        return  # missing, or empty: Tiled's init makes it
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
        try:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            runs = (
                db.execute("SELECT count(*) FROM nodes WHERE parent IS NOT NULL").fetchone()[0]
                if "nodes" in tables
                else 0
            )
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return  # Tiled says what it is
    if runs:
        raise CatalogError(
            f"the catalog {database} holds {runs} nodes but not Tiled's schema stamp; "
            "replay the logs into a new catalog (move this one away first)"
        )
    for suffix in ("", "-wal", "-shm", "-journal"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)


def _reason(text: str) -> str:
    """The exception line of a failed ``tiled catalog init`` (its stderr ends with a
    traceback and, from SQLAlchemy, a link): e.g. "database or disk is full"."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    found = [line for line in lines if re.match(r"^[\w.]+(Error|Exception)\b.*: ", line)]
    return (found or lines or ["no reason given"])[-1][:300]
