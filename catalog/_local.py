"""Reading an embedded catalog's database directly: queries that need no Tiled at all.

Opening Tiled in a process costs seconds (``tiled.catalog`` imports dask and
xarray, then builds its web app), which made ``zarrscribe runs`` take 4 s on an
idle machine for a query SQLite answers in milliseconds. :class:`LocalReader`
answers the read-only questions (search, a run's metadata, a stream's scalar
readings) from the same SQLite files with the standard library.

This reads Tiled's database schema (tables ``nodes``, ``data_sources``,
``structures``, ``assets`` and the table storage), which is not Tiled's public
API. It is used only for a schema revision it was checked against
(:data:`KNOWN_REVISIONS`, tested against the installed Tiled); any other
revision, or anything unexpected, makes the catalog use Tiled itself.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..writers.model import FRAMES_PARAMETER, ZARR_MIMETYPE
from ._errors import CatalogError
from ._filters import Filter
from ._indexes import RUNS, ensure_indexes, json_path
from ._relocate import sqlite_reader
from ._search import search_rows
from ._tiled import TABLE_STORAGE_LOCK, plain_reading

__all__ = ["KNOWN_REVISIONS", "LocalReader", "NotReadable", "ReadingsColumn"]

KNOWN_REVISIONS = frozenset({"917dbbcfc4b1"})
"""Tiled catalog schema revisions (alembic) this reader was checked against."""

TABLE_MIMETYPE = "application/x-tiled-sql-table"
"""Tiled's mimetype of a table in its SQL table storage."""
_ARROW_PREFIX = "data:application/vnd.apache.arrow.file;base64,"


class NotReadable(Exception):
    """Something this reader does not know how to read: ask Tiled instead."""


class LocalReader:
    """Read-only queries on the embedded catalog database ``database``; ``indexed`` when
    our search indexes are there (:mod:`._indexes`), so each search names the one that
    serves it.

    ``asset_uri`` maps a stored asset URI to the one naming the same file now (a data
    folder that moved since its catalog was written); it is never written back.
    """

    def __init__(
        self,
        database: Path,
        asset_uri: Callable[[str], str] | None = None,
        *,
        indexed: bool = False,
    ) -> None:
        self.database = database
        self._asset_uri = asset_uri or (lambda uri: uri)
        self.indexed = indexed

    @classmethod
    def open(
        cls, database: Path, asset_uri: Callable[[str], str] | None = None
    ) -> LocalReader | None:
        """A reader of ``database``, or None when it is missing or of a schema revision
        this reader does not know (the catalog then asks Tiled). Our search indexes are
        made first where missing and the database can be written."""
        if not database.is_file():
            return None
        reader = cls(database, asset_uri)
        try:
            with reader._connect() as db:
                (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
                (root,) = db.execute("SELECT id FROM nodes WHERE parent IS NULL").fetchone()
        except (sqlite3.Error, CatalogError, TypeError, ValueError):
            return None
        if revision not in KNOWN_REVISIONS or root != 0:
            return None
        reader.indexed = ensure_indexes(database)
        return reader

    @contextlib.contextmanager
    def _connect(self, database: Path | None = None) -> Iterator[sqlite3.Connection]:
        # A connection per call: each sees every commit before it, and nothing
        # is left open between calls (or across threads); read-only media too.
        path = database or self.database
        # table storage: never while this process writes it (see TABLE_STORAGE_LOCK)
        held = TABLE_STORAGE_LOCK if database is not None else contextlib.nullcontext()
        with held, sqlite_reader(path) as db:
            try:
                yield db
            except sqlite3.Error as e:
                raise CatalogError(f"cannot read the catalog database {path}: {e}") from e

    # ------------------------------------------------------------------ runs
    def search(self, filters: list[Filter], limit: int | None = None) -> list[tuple[str, Any]]:
        """(uid, metadata) of the runs matching every filter, newest first (start time,
        then the order of registration, as Tiled sorts them)."""
        with self._connect() as db:
            db.execute("BEGIN")  # one snapshot for both steps of a time-range search
            try:
                rows = search_rows(db, filters, limit, indexed=self.indexed)
            except sqlite3.OperationalError as e:
                if not self.indexed or "no such index" not in str(e):
                    raise
                self.indexed = False  # dropped under us (a Tiled migration): plain SQL
                rows = search_rows(db, filters, limit, indexed=False)
            db.execute("COMMIT")
        return [(key, json.loads(md)) for key, md in rows]

    def explain(self, filters: list[Filter], limit: int | None = None) -> list[str]:
        """SQLite's plan (``EXPLAIN QUERY PLAN`` details) of each statement of a search."""
        plans: list[str] = []
        with self._connect() as db:
            search_rows(db, filters, limit, indexed=self.indexed, plans=plans)
        return plans

    def distinct(self, key: str) -> list[Any]:
        """The distinct values of the dotted metadata ``key`` among the runs (a list
        value as a list)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT DISTINCT json_type(metadata, ?), json_extract(metadata, ?) "
                f"FROM nodes WHERE {RUNS}",
                (json_path(key), json_path(key)),
            ).fetchall()
        return [json.loads(value) if kind == "array" else value for kind, value in rows]

    def count(self) -> int:
        with self._connect() as db:
            (n,) = db.execute(f"SELECT count(*) FROM nodes WHERE {RUNS}").fetchone()
        return int(n)

    def metadata(self, uid: str) -> Any | None:
        """The metadata of the run keyed exactly ``uid``; None if there is none."""
        with self._connect() as db:
            row = db.execute(
                f"SELECT metadata FROM nodes WHERE {RUNS} AND key = ?", (uid,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def entries(self) -> dict[str, Any]:
        """Every run's metadata by uid."""
        with self._connect() as db:
            rows = db.execute(f"SELECT key, metadata FROM nodes WHERE {RUNS} ORDER BY id")
            return {key: json.loads(md) for key, md in rows}

    def layout(self, uid: str) -> dict[str, dict[str, Any]]:
        """The Zarr arrays of run ``uid`` as its nodes file them (see Catalog.layout)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT s.key, a.key, st.structure, ds.parameters FROM nodes r "
                "JOIN nodes s ON s.parent = r.id JOIN nodes a ON a.parent = s.id "
                "JOIN data_sources ds ON ds.node_id = a.id "
                "LEFT JOIN structures st ON st.id = ds.structure_id "
                "WHERE r.parent = 0 AND r.key = ? AND ds.mimetype = ?",
                (uid, ZARR_MIMETYPE),
            ).fetchall()
        out: dict[str, dict[str, Any]] = {}
        for stream, key, structure, parameters in rows:
            shape = json.loads(structure or "{}").get("shape")
            frames = json.loads(parameters or "{}").get(FRAMES_PARAMETER)
            out.setdefault(stream, {})[key] = {"shape": shape, "frames": frames}
        return out

    # ------------------------------------------------------------------ readings
    def readings(
        self, uid: str, limit: int | None = None, *, lazy: bool = False
    ) -> dict[str, dict[str, list[Any]]]:
        """The scalar readings of each stream of run ``uid`` (its events table), column
        by column, as Tiled reads them; ``lazy``: each column a :class:`ReadingsColumn`,
        read as it is iterated. Raises :class:`NotReadable` for a table that is not in
        the embedded table storage."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT s.key, d.mimetype, d.parameters, st.structure, a.data_uri "
                "FROM nodes r JOIN nodes s ON s.parent = r.id "
                "JOIN nodes t ON t.parent = s.id AND t.key = 'internal' "
                "JOIN data_sources d ON d.node_id = t.id "
                "JOIN structures st ON st.id = d.structure_id "
                "JOIN data_source_asset_association x ON x.data_source_id = d.id "
                "JOIN assets a ON a.id = x.asset_id "
                "WHERE r.parent = 0 AND r.key = ? ORDER BY s.id",
                (uid,),
            ).fetchall()
        out: dict[str, dict[str, list[Any]]] = {}
        for stream, mimetype, parameters, structure, data_uri in rows:
            out[stream] = self._table(
                mimetype, json.loads(parameters), json.loads(structure), data_uri, limit, lazy
            )
        return out

    def _table(
        self,
        mimetype: str,
        parameters: Any,
        structure: Any,
        data_uri: str,
        limit: int | None,
        lazy: bool = False,
    ) -> dict[str, list[Any]]:
        import pyarrow as pa

        storage = _sqlite_file(self._asset_uri(data_uri))
        if mimetype != TABLE_MIMETYPE or storage is None or parameters.get("order_by_args"):
            raise NotReadable(f"a table in {data_uri}")
        schema_text = str(structure.get("arrow_schema", ""))
        if not schema_text.startswith(_ARROW_PREFIX):
            raise NotReadable("a table without an Arrow schema")
        schema = pa.ipc.read_schema(
            io.BytesIO(base64.b64decode(schema_text[len(_ARROW_PREFIX) :]))
        )
        names = [name for name in schema.names if not name.startswith("ts_")]
        # Tiled's SQLAdapter: lower-case column names, its dataset's rows, partitions
        # in order, then insertion order.
        query = (
            "SELECT "
            + ", ".join('"' + name.lower().replace('"', '""') + '"' for name in names)
            + f' FROM "{parameters["table_name"]}" WHERE _dataset_id = ? '
            "ORDER BY _partition_id, rowid"
        )
        args: list[Any] = [int(parameters["dataset_id"])]
        if limit is not None:
            query += " LIMIT ?"
            args.append(int(limit))
        if lazy:
            return self._columns(storage, parameters, schema, names, limit)
        with self._connect(storage) as db:
            rows = db.execute(query, args).fetchall()
        columns: dict[str, list[Any]] = {}
        for i, name in enumerate(names):
            convert = _converter(schema.field(name).type)
            columns[name] = [None if row[i] is None else convert(row[i]) for row in rows]
        return columns

    def _columns(
        self, storage: Path, parameters: Any, schema: Any, names: list[str], limit: int | None
    ) -> dict[str, list[Any]]:
        """Each column of a table as a :class:`ReadingsColumn` (one query per column,
        in the order Tiled reads the rows; the table's index serves it)."""
        table, dataset = parameters["table_name"], int(parameters["dataset_id"])
        with self._connect(storage) as db:
            (count,) = db.execute(
                f'SELECT COUNT(*) FROM "{table}" WHERE _dataset_id = ?', (dataset,)
            ).fetchone()
        count = count if limit is None else min(count, int(limit))

        def column(name: str) -> ReadingsColumn:
            convert = _converter(schema.field(name).type)
            quoted = '"' + name.lower().replace('"', '""') + '"'
            query = (
                f'SELECT {quoted} FROM "{table}" WHERE _dataset_id = ? '
                f"ORDER BY _partition_id, rowid LIMIT {count}"
            )

            def read() -> Iterator[Any]:
                with self._connect(storage) as db:
                    cursor = db.execute(query, (dataset,))
                    while chunk := cursor.fetchmany(_CHUNK):
                        yield from [None if v is None else convert(v) for (v,) in chunk]

            return ReadingsColumn(read, count)

        return {name: column(name) for name in names}


_CHUNK = 10_000
"""Rows fetched at a time by a :class:`ReadingsColumn`."""


class ReadingsColumn(list[Any]):
    """One column of a stream's readings, read from the table storage in chunks each
    time it is iterated, never held: a list to ``json``'s encoder (its length is known,
    its items come as they are read), so a long run is written out in constant memory.
    Only iteration and ``len`` read it; ``list(column)`` gives the values."""

    def __init__(self, read: Callable[[], Iterator[Any]], length: int) -> None:
        super().__init__()
        self._read, self._length = read, length

    def __iter__(self) -> Iterator[Any]:
        return self._read()

    def __len__(self) -> int:
        return self._length

    def __eq__(self, other: object) -> bool:
        return list(self) == other

    __hash__ = None

    def __repr__(self) -> str:
        return f"ReadingsColumn({self._length} values)"


def _converter(arrow_type: Any) -> Any:
    """How a value SQLite returns becomes the value Tiled reads for a column of
    ``arrow_type`` (pyarrow.types only: building arrays would import pandas)."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return bool
    if pa.types.is_integer(arrow_type):
        return int
    if pa.types.is_floating(arrow_type):
        return _float
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return str
    raise NotReadable(f"a column of type {arrow_type}")


def _float(value: Any) -> float | None:
    """A float reading; NaN as None, as read through Tiled."""
    result: float | None = plain_reading(float(value))
    return result


def _sqlite_file(data_uri: str) -> Path | None:
    """The file of a ``sqlite://`` asset URI (Tiled writes ``sqlite://localhost/<abs>``)."""
    for prefix in ("sqlite://localhost/", "sqlite:///"):
        if data_uri.startswith(prefix):
            path = Path("/" + data_uri[len(prefix) :].lstrip("/"))
            return path if path.is_file() else None
    return None
