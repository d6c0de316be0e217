"""A Tiled catalog on PostgreSQL, written straight by SQL (catalog workers at SQL speed).

The database is the one a Tiled server (``zarrscribe serve --catalog postgresql://…``
or ``tiled serve``) serves; its table storage a PostgreSQL database too (by default
the same one, as the server's). :class:`Postgres` is the PostgreSQL side of
:class:`~._sql.SQLWriter`: the same rows as Tiled's own ``create_node``, written in
one transaction per batch, so the server reads a new entry at once.

Writers on several machines at once never collide:

- replacing a run takes a transaction-scoped advisory lock on its uid first
  (``pg_advisory_xact_lock``), so two writers of the same run end with one entry;
- Tiled's table-storage DDL (``CREATE TABLE/INDEX/SEQUENCE IF NOT EXISTS``, which
  PostgreSQL does not make safe against a concurrent twin) runs under a session
  advisory lock in the table-storage database;
- a transaction PostgreSQL aborts for a deadlock or a duplicate it raced for (a
  shared structure or asset) is tried again.

Only for the Tiled schema revision we pin (:data:`~._schema.REVISION`, Tiled
:data:`~._schema.TILED_VERSION`); any other is refused with one line.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import threading
from collections.abc import Callable, Sequence
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..writers.model import FRAMES_PARAMETER, ZARR_MIMETYPE
from ._errors import CatalogError, CatalogUnavailableError
from ._server import CONNECT_TIMEOUT
from ._tiled import in_process_client, one_line, tiled_adapter

if TYPE_CHECKING:
    from ._catalog import Catalog

__all__ = ["Postgres", "open_postgres", "shown"]


_RETRIED = {"40P01", "40001", "23505"}
"""SQLSTATEs of a transaction tried again: deadlock, serialization failure, a
duplicate key another writer committed first (an asset it added meanwhile)."""

_TRIES = 5

_DDL_KEY = "hashtextextended('zarrscribe: Tiled table storage DDL', 0)"
"""The advisory lock held around Tiled's table-storage ``init_storage``."""


def shown(uri: str) -> str:
    """``uri`` with any password hidden, to quote in an error."""
    return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", uri)


def _asyncpg_uri(uri: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+asyncpg://", uri)


class Postgres:
    """The PostgreSQL catalog database ``uri``; table DDL serialised in ``storage``
    (Tiled's ``SQLStorage`` of the table-storage database)."""

    keeps_structures = True

    def __init__(self, uri: str, storage: Any) -> None:
        from sqlalchemy.dialects.postgresql import insert
        from sqlalchemy.ext.asyncio import create_async_engine
        from tiled.utils import safe_json_dump

        self.insert = insert
        self.uri = uri
        self._storage = storage
        self._tables: dict[str, Any] = {}  # table data sources made, by planned repr
        # asyncpg (Tiled's own driver for PostgreSQL) on a loop of our own; SQLAlchemy
        # runs our synchronous statements on it (AsyncConnection.run_sync).
        self._loop = asyncio.new_event_loop()
        self._using = threading.Lock()  # one thread on the loop at a time
        self._engine = create_async_engine(
            _asyncpg_uri(uri),
            json_serializer=lambda obj: safe_json_dump(obj).decode(),  # Tiled's
            pool_size=2,  # no pre-ping (a round trip per use): a dropped connection is
            # invalidated when used, and the transaction tried again on a new one
            connect_args={"timeout": CONNECT_TIMEOUT},
        )
        try:
            self._check_revision()
        except BaseException:
            self.close()
            raise

    def _check_revision(self) -> None:
        from sqlalchemy import text

        from ._schema import REVISION, TILED_VERSION, installed_tiled

        if installed_tiled() != TILED_VERSION:
            raise CatalogError(
                f"writing the catalog database {shown(self.uri)!r} by SQL needs Tiled "
                f"{TILED_VERSION} (installed: {installed_tiled()}); install that, or give "
                "the Tiled server's http:// URI instead"
            )

        def revision(db: Any) -> Any:
            if db.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None:
                return None
            return db.execute(text("SELECT version_num FROM alembic_version")).scalar()

        try:
            found = self.read(revision)
        except CatalogError:
            raise
        except Exception as e:
            raise CatalogUnavailableError(
                f"cannot reach catalog database {shown(self.uri)!r} ({one_line(e) or 'no answer'})"
                "; check that PostgreSQL runs there and the database exists (createdb NAME)"
            ) from e
        if found is None:
            raise CatalogError(
                f"the database {shown(self.uri)!r} holds no Tiled catalog yet; start "
                f"'zarrscribe serve --catalog {shown(self.uri)}' once (it creates the catalog)"
            )
        if found != REVISION:
            raise CatalogError(
                f"the catalog database {shown(self.uri)!r} is of Tiled schema revision "
                f"{found!r}, not {REVISION!r} (Tiled {TILED_VERSION}) that zarrscribe writes; "
                "give the Tiled server's http:// URI instead"
            )

    def _run(self, call: Callable[[Any], Any], *, write: bool) -> Any:
        async def go() -> Any:
            begin = self._engine.begin() if write else self._engine.connect()
            async with begin as conn:
                return await conn.run_sync(call)

        with self._using:
            return self._loop.run_until_complete(go())

    def read(self, call: Callable[[Any], Any]) -> Any:
        """``call(connection)``'s result, on a connection of the catalog database."""
        return self._run(call, write=False)

    def transaction(self, write: Callable[[Any], None]) -> None:
        from sqlalchemy.exc import DBAPIError

        for attempt in range(_TRIES):
            try:
                self._run(write, write=True)
                return
            except DBAPIError as e:
                code = getattr(e.orig, "sqlstate", None) or getattr(e.orig, "pgcode", None)
                lost = e.connection_invalidated  # PostgreSQL restarted, say
                if (code not in _RETRIED and not lost) or attempt == _TRIES - 1:
                    raise

    def lock_runs(self, db: Any, keys: list[str]) -> None:
        from sqlalchemy import text

        # one statement for the batch; the keys come sorted and are locked in that
        # order (the aggregate consumes the sorted subquery): two writers of the same
        # runs take them in one order
        lock = text(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM "
            "(SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS sorted"
        )
        if keys:
            db.execute(lock, {"keys": [f"zarrscribe run {key}" for key in keys]})

    def init_table(self, key: str, init: Callable[[], Any]) -> tuple[Any, bool]:
        if key in self._tables:  # its table exists: no DDL, no lock
            return copy.deepcopy(self._tables[key]), False
        with closing(self._storage.connect()) as conn:
            with conn.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_lock({_DDL_KEY})")
                cursor.fetchall()
            conn.commit()
            try:
                made = init()  # Tiled's: its own connection, committed before it returns
            finally:
                with conn.cursor() as cursor:
                    cursor.execute(f"SELECT pg_advisory_unlock({_DDL_KEY})")
                    cursor.fetchall()
                conn.commit()
        self._tables[key] = copy.deepcopy(made)
        return made, True

    def dataset_ids(self, cursor: Any, n: int) -> list[int]:
        cursor.execute(f"SELECT nextval('_dataset_id_counter') FROM generate_series(1, {n:d})")
        return [int(value) for (value,) in cursor.fetchall()]

    def drop_rows(self, data_uri: str, table_name: str, dataset_id: int) -> None:
        # Rows only: Tiled's delete_physical_asset also drops a table left empty, which
        # another writer may be appending to at that moment (it checked the table
        # exists before). An empty table costs nothing.
        from tiled.storage import get_storage

        with closing(get_storage(data_uri).connect()) as conn:
            with conn.cursor() as cursor:
                cursor.execute(f'DELETE FROM "{table_name}" WHERE _dataset_id = {dataset_id:d}')
            conn.commit()

    def close(self) -> None:
        with self._using:
            if not self._loop.is_closed():
                self._loop.run_until_complete(self._engine.dispose())
                self._loop.close()

    # ------------------------------------------------------------------ reads
    def keys(self, uid: str) -> list[str]:
        """``[uid]`` if a run is keyed so; else the keys of (at most two) runs whose key
        starts with ``uid``."""
        from sqlalchemy import text

        like = uid.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = text(
            "SELECT key FROM nodes WHERE parent = 0 AND key LIKE :like "
            "ORDER BY key <> :uid, key LIMIT 2"  # the exact one first
        )

        def find(db: Any) -> list[str]:
            keys = [str(key) for (key,) in db.execute(query, {"like": like, "uid": uid})]
            return [uid] if uid in keys else keys

        return list(self.read(find))

    def metadata(self, uid: str) -> dict[str, Any] | None:
        """The metadata of the run keyed exactly ``uid``; None if there is none."""
        from sqlalchemy import text

        query = text("SELECT metadata FROM nodes WHERE parent = 0 AND key = :uid")
        found = self.read(lambda db: db.execute(query, {"uid": uid}).scalar())
        return None if found is None else dict(found)

    def metadata_many(self, uids: list[str]) -> dict[str, dict[str, Any]]:
        """The metadata of the runs keyed exactly ``uids`` that exist, by uid (one query)."""
        from sqlalchemy import text

        query = text(
            "SELECT key, metadata FROM nodes WHERE parent = 0 AND key = ANY(CAST(:uids AS text[]))"
        )
        rows = self.read(lambda db: db.execute(query, {"uids": list(uids)}).all())
        return {str(key): dict(md) for key, md in rows}

    def layout(self, uid: str) -> dict[str, dict[str, Any]]:
        """The Zarr arrays of run ``uid`` as its nodes file them (see Catalog.layout)."""
        from sqlalchemy import text

        query = text(
            "SELECT s.key, a.key, st.structure, ds.parameters FROM nodes r "
            "JOIN nodes s ON s.parent = r.id JOIN nodes a ON a.parent = s.id "
            "JOIN data_sources ds ON ds.node_id = a.id "
            "LEFT JOIN structures st ON st.id = ds.structure_id "
            "WHERE r.parent = 0 AND r.key = :uid AND ds.mimetype = :mimetype"
        )
        rows = self.read(
            lambda db: db.execute(query, {"uid": uid, "mimetype": ZARR_MIMETYPE}).all()
        )
        out: dict[str, dict[str, Any]] = {}
        for stream, key, structure, parameters in rows:
            structure = json.loads(structure) if isinstance(structure, str) else structure
            parameters = json.loads(parameters) if isinstance(parameters, str) else parameters
            out.setdefault(stream, {})[key] = {
                "shape": (structure or {}).get("shape"),
                "frames": (parameters or {}).get(FRAMES_PARAMETER),
            }
        return out


def open_postgres(
    cls: type[Catalog], uri: str, tables: str | None, readable: Sequence[str | Path]
) -> Catalog:
    """:meth:`Catalog.from_database`: runs written straight into the database ``uri``,
    table rows into ``tables`` (default: the same database); everything else read
    through Tiled's app on the same database, built in this process when first needed."""
    from tiled.storage import SQLStorage, parse_storage, register_storage

    from ._open import Opened
    from ._sql import SQLWriter

    storage = parse_storage(tables or uri)
    if not isinstance(storage, SQLStorage) or storage.dialect != "postgresql":
        raise CatalogError(
            f"--tables {shown(tables or uri)!r} is not a PostgreSQL database URI; give "
            "postgresql://user@host/db (the table storage of the Tiled server)"
        )
    register_storage(storage)  # as Tiled's app does: its assets' URIs name it
    writer = SQLWriter.postgresql(uri, storage)
    base = Path(readable[0]).absolute() if readable else None
    catalog = cls(None, description=f"PostgreSQL catalog {shown(uri)}", base_dir=base)
    catalog._direct = writer
    catalog._reads = writer.dialect if isinstance(writer.dialect, Postgres) else None
    catalog._opened = Opened(partial(_start_app, uri, tables or uri, readable), writer)
    return catalog


def _start_app(uri: str, tables: str, readable: Sequence[str | Path]) -> Any:
    """Tiled's adapter and in-process app on the catalog database ``uri``; its client."""
    return in_process_client(tiled_adapter(uri, [tables], readable, init=False))
