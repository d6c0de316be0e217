"""Writing planned entries straight into an embedded catalog's SQL database (no HTTP).

Tiled's adapter creates one node per call and commits each (``create_node``);
a run is 4-6 nodes, and a replay thousands of runs. :class:`SQLWriter` writes
whole runs instead, many in one transaction, with the rows Tiled's own
``create_node`` would write (``tiled.catalog.orm`` models; structures hashed
with ``tiled.catalog.utils.compute_structure_id``; table storage initialised
and appended by Tiled's ``SQLAdapter``). Replacing an entry deletes the old
tree in the same transaction, so a reader sees the old run or the new one,
never both and never neither.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ._dialect import Dialect, SQLite
from ._nodes import Statements, delete_runs, distinct_keys, insert_runs
from ._plan import NodePlan
from ._tiled import TABLE_STORAGE_LOCK

__all__ = ["SQLWriter"]

logger = logging.getLogger(__name__)


class SQLWriter:
    """Writes planned runs into a catalog database, table rows into ``table_storage``:
    the embedded catalog's SQLite file ``db_path``, or (:meth:`postgresql`) the
    PostgreSQL database a Tiled server serves (:mod:`._postgres`)."""

    def __init__(
        self,
        db_path: Path,
        table_storage: Any,
        *,
        busy_timeout: float = 10.0,
        dialect: Dialect | None = None,
    ) -> None:
        self.database = db_path
        self._storage = table_storage
        self._dialect = dialect or SQLite(db_path, busy_timeout)
        self._sql = Statements(self._dialect.insert)
        self._structures: set[str] = set()
        """Ids of structures committed by this writer (where the database keeps them)."""

    @classmethod
    def postgresql(cls, uri: str, table_storage: Any) -> SQLWriter:
        """A writer into the PostgreSQL catalog database ``uri`` (Tiled's schema of the
        revision we pin; :class:`CatalogError` otherwise), tables into ``table_storage``."""
        from ._postgres import Postgres

        dialect = Postgres(uri, table_storage)
        return cls(Path(uri), table_storage, dialect=dialect)

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    def close(self) -> None:
        self._dialect.close()

    def write(self, plans: Sequence[NodePlan]) -> None:
        """Create (or replace) every planned run, all in one catalog transaction."""
        stored: dict[int, Any] = {}
        with TABLE_STORAGE_LOCK:
            created = self._store_tables(plans, stored)
        replaced: list[tuple[str, str, int]] = []

        structures: set[str] = set()  # written (or found) by this transaction

        def write_all(db: Any) -> None:
            replaced.clear()  # a transaction tried again starts afresh
            structures.clear()
            self._dialect.lock_runs(db, sorted({plan.key for plan in plans}))
            for group in distinct_keys(plans):
                replaced.extend(delete_runs(db, self._sql, [plan.key for plan in group]))
                insert_runs(db, self._sql, group, stored, (self._structures, structures))

        try:
            self._dialect.transaction(write_all)
            if self._dialect.keeps_structures:
                self._structures |= structures  # committed: no need to insert them again
        except BaseException:
            self._structures.clear()  # whatever went wrong, trust nothing known before
            for dataset in created:
                _drop_rows(self._dialect, self._storage, *dataset)
            raise
        for dataset in replaced:
            _drop_rows(self._dialect, self._storage, *dataset)

    def _store_tables(
        self, plans: Sequence[NodePlan], stored: dict[int, Any]
    ) -> list[tuple[str, str, int]]:
        """Initialise table storage and append the rows of every table node.

        Fills ``stored`` (``id(node)`` -> the data source with its table name and
        dataset id); the plans are not changed, so a failed write can be retried.
        Tiled's ``SQLAdapter.init_storage`` creates each distinct table once (on
        PostgreSQL once per writer); the other runs' dataset ids and all rows go in
        one transaction.
        """
        from tiled.adapters.sql import SQLAdapter

        groups: dict[str, list[NodePlan]] = {}
        for plan in plans:
            for node in plan.walk():
                if node.table:
                    groups.setdefault(node.data_source.structure.arrow_schema, []).append(node)
        created: list[tuple[str, str, int]] = []
        try:
            rest: list[NodePlan] = []
            for group in groups.values():
                source = group[0].data_source
                first, fresh = self._dialect.init_table(
                    repr(source), partial(SQLAdapter.init_storage, self._storage, source, None)
                )
                if fresh:  # it has its dataset id
                    stored[id(group[0])] = first
                    created.append(_dataset(first))
                for node in group[1:] if fresh else group:
                    # the same table: only the dataset id (in parameters) differs
                    stored[id(node)] = copy.copy(first)
                    stored[id(node)].parameters = dict(first.parameters)
                    rest.append(node)
            _write_rows(
                self._storage,
                self._dialect,
                [stored[id(node)] for node in rest],
                [(stored[id(n)], n.table) for g in groups.values() for n in g],
            )
            created += [_dataset(stored[id(node)]) for node in rest]
        except BaseException:
            for dataset in created:
                _drop_rows(self._dialect, self._storage, *dataset)
            raise
        return created


def _dataset(data_source: Any) -> tuple[str, str, int]:
    params = data_source.parameters
    return data_source.assets[0].data_uri, params["table_name"], int(params["dataset_id"])


def _write_rows(
    storage: Any, dialect: Dialect, new: list[Any], tables: list[tuple[Any, list[Any]]]
) -> None:
    """Give each data source in ``new`` a dataset id, then append every table's rows,
    all in one transaction of the table storage.

    This mirrors two pieces of ``tiled.adapters.sql.SQLAdapter`` (0.2.20) that have
    no batch form: the dataset-id counter of ``init_storage`` (SQLite: the one-row
    table ``_dataset_id_counter``; PostgreSQL: the sequence of that name) and the row
    layout of ``append_partition`` (``_dataset_id`` and ``_partition_id`` first,
    lower-case column names). Calling them per run costs two commits per run.
    """
    from contextlib import closing

    import numpy
    import pyarrow

    with closing(storage.connect()) as conn:
        if new:
            with conn.cursor() as cursor:
                ids = dialect.dataset_ids(cursor, len(new))
            for data_source, dataset_id in zip(new, ids, strict=True):
                data_source.parameters["dataset_id"] = dataset_id
        by_table: dict[str, list[Any]] = {}
        for data_source, pieces in tables:
            schema = data_source.structure.arrow_schema_decoded
            dataset_id = data_source.parameters["dataset_id"]
            for piece in pieces:
                piece = piece.cast(schema)
                n = len(piece)
                piece = piece.add_column(
                    0,
                    pyarrow.field("_partition_id", pyarrow.int16()),
                    [numpy.zeros(n, dtype=numpy.int16)],
                )
                piece = piece.add_column(
                    0,
                    pyarrow.field("_dataset_id", pyarrow.int32()),
                    [numpy.full(n, dataset_id, dtype=numpy.int32)],
                )
                piece = piece.rename_columns([c.lower() for c in piece.column_names])
                by_table.setdefault(data_source.parameters["table_name"], []).append(piece)
        for table_name, pieces in by_table.items():
            with conn.cursor() as cursor:
                cursor.adbc_ingest(table_name, pyarrow.concat_tables(pieces), mode="append")
        conn.commit()


def _drop_rows(
    dialect: Dialect, storage: Any, data_uri: str, table_name: str, dataset_id: int
) -> None:
    """Remove one dataset's rows from table storage (best effort: orphans are harmless).

    Rows in our own SQLite table ``storage`` are removed through it: Tiled's
    ``delete_physical_asset`` finds storage by URI in a registry that only its app
    fills, so without the app (the direct path) it failed, and every replaced entry
    (a live entry, each update) left its rows behind."""
    from tiled.storage import storage_registry_key

    try:
        with TABLE_STORAGE_LOCK:
            ours = storage_registry_key(data_uri) == storage_registry_key(storage.uri)
            if ours and data_uri.startswith("sqlite:"):
                _delete_dataset(storage, table_name, dataset_id)
            else:
                dialect.drop_rows(data_uri, table_name, dataset_id)
    except Exception as e:  # the entry is right; only storage space is at stake
        logger.warning("could not remove rows of dataset %s in %s: %s", dataset_id, table_name, e)


def _delete_dataset(storage: Any, table_name: str, dataset_id: int) -> None:
    """What ``delete_physical_asset`` does for SQL table storage (Tiled 0.2.20): the
    dataset's rows, then the table if it is left empty."""
    from contextlib import closing

    with closing(storage.connect()) as conn:
        with conn.cursor() as cursor:
            cursor.execute(f'DELETE FROM "{table_name}" WHERE _dataset_id = {int(dataset_id):d};')
            cursor.execute(f'SELECT COUNT(*) FROM "{table_name}";')
            if cursor.fetchone()[0] == 0:
                cursor.execute(f'DROP TABLE IF EXISTS "{table_name}";')
        conn.commit()
