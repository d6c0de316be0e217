"""What differs between the catalog databases :class:`~._sql.SQLWriter` writes: the
embedded catalog's SQLite file here, PostgreSQL in :mod:`._postgres`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Dialect", "SQLite"]


class Dialect(Protocol):
    """What differs between the catalog databases :class:`SQLWriter` writes."""

    insert: Any
    """The dialect's ``insert`` (with ``on_conflict_do_nothing``)."""
    keeps_structures: bool
    """Whether a structure row, once committed, stays (a writer need not insert it again):
    Tiled never deletes one, and this database is not replaced under the writer."""

    def transaction(self, write: Callable[[Any], None]) -> None:
        """Call ``write`` with a SQLAlchemy connection inside one transaction, committed
        when it returns."""

    def lock_runs(self, db: Any, keys: list[str]) -> None:
        """Keep other writers from replacing runs ``keys`` (sorted) until the commit."""

    def init_table(self, key: str, init: Callable[[], Any]) -> tuple[Any, bool]:
        """The data source of a table node (``key``: the planned one's repr): ``init``'s
        (Tiled's ``SQLAdapter.init_storage``), called safely beside other writers, and
        True; or a copy of one made before for the same ``key`` (its table exists), to
        be given a dataset id, and False."""

    def dataset_ids(self, cursor: Any, n: int) -> list[int]:
        """``n`` new dataset ids from table storage's counter (in the caller's transaction)."""

    def drop_rows(self, data_uri: str, table_name: str, dataset_id: int) -> None:
        """Delete one dataset's rows from the table storage ``data_uri``."""

    def close(self) -> None: ...


class SQLite:
    """The embedded catalog: one writer at a time (SQLite's write lock, taken at once)."""

    keeps_structures = False  # a data folder may be deleted and made again meanwhile

    def __init__(self, db_path: Path, busy_timeout: float) -> None:
        from sqlalchemy import create_engine, event
        from sqlalchemy.dialects.sqlite import insert
        from tiled.utils import safe_json_dump

        self.insert = insert
        self._engine = create_engine(
            f"sqlite:///{db_path}",
            # Tiled's own json_serializer (tiled.server.connection_pool, whose module
            # imports FastAPI): same JSON text
            json_serializer=lambda obj: safe_json_dump(obj).decode(),
            connect_args={"timeout": busy_timeout},
        )

        @event.listens_for(self._engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")  # Tiled relies on ON DELETE CASCADE
            cursor.close()

        @event.listens_for(self._engine, "begin")
        def _begin(connection: Any) -> None:
            # Take the write lock at once: a deferred transaction that reads first
            # cannot wait for another writer (SQLite returns "locked" at once).
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    def transaction(self, write: Callable[[Any], None]) -> None:
        with self._engine.begin() as db:
            write(db)

    def lock_runs(self, db: Any, keys: list[str]) -> None:
        pass  # BEGIN IMMEDIATE holds the whole database

    def init_table(self, key: str, init: Callable[[], Any]) -> tuple[Any, bool]:
        return init(), True  # an empty table may be dropped (Tiled's delete): always

    def dataset_ids(self, cursor: Any, n: int) -> list[int]:
        cursor.execute(f"UPDATE _dataset_id_counter SET value = value + {n:d} RETURNING value")
        (last,) = cursor.fetchone()
        return list(range(last - n + 1, last + 1))

    def drop_rows(self, data_uri: str, table_name: str, dataset_id: int) -> None:
        from tiled.catalog.adapter import delete_physical_asset

        delete_physical_asset(data_uri, table_name=table_name, dataset_id=dataset_id)

    def close(self) -> None:
        self._engine.dispose()
