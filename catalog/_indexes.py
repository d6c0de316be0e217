"""zarrscribe's own indexes on an embedded catalog's runs: searches that stay fast at size.

Tiled binds every JSON path of a query as a parameter, so SQLite can use no index on
an expression: each search scans every run and sorts them (0.4 s at 100,000 runs).
These indexes are on the expressions :mod:`._filters` writes into its SQL literally
(from the fixed list below, never from user text), partial on the run nodes
(``parent = 0``: Tiled's root is node 0), and sorted as Tiled sorts runs (its own
``start.time`` expression, then the node id), so a search reads only the runs it
returns.

They are ours, kept apart from Tiled's schema: named ``zarrscribe_v<N>_...``, made
with ``CREATE INDEX IF NOT EXISTS``, of no use to Tiled's own queries (they bind their
JSON paths), and dropped and made again when their definition changes; Tiled's
migrations leave them alone (they drop only indexes they name). Any process that
can write the catalog makes the missing ones when it opens it (a catalog made by an
older zarrscribe gets them then, once: 3 s per 100,000 runs, about a minute per
million, said in a warning when it is long); a catalog that cannot be written
(read-only media, another writer holding the lock) is searched without them, with
the same results.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from ..writers.model import ATTRIBUTES_KEY

__all__ = [
    "INDEXES",
    "ORDER",
    "RUNS",
    "START_TIME",
    "START_TIME_VALUE",
    "START_UID",
    "ensure_indexes",
    "index_on",
    "json_path",
    "sql_value",
]

logger = logging.getLogger(__name__)

RUNS = "parent = 0"
"""The run nodes: children of Tiled's root node (id 0 in the schema revisions we read)."""

START_TIME = "start.time"
START_UID = "start.uid"


def json_path(key: str) -> str:
    """A SQLite JSON path for a dotted key, as Tiled writes it (``$."a"."b"``)."""
    return "$" + "".join(f'."{part}"' for part in key.split("."))


ORDER = (
    "json_quote(json_extract(json_quote(json_extract(metadata, '$.\"start\"')), "
    "'$.\"time\"')) DESC, id"
)
"""Newest first, exactly as Tiled sorts runs by ``("start.time", -1)`` on SQLite (its
expression, which compares the JSON text of the time, then the node id)."""

LITERAL_KEYS = (
    "start.plan_name",
    "start.scan_id",
    f"{ATTRIBUTES_KEY}.exit_status",
    START_UID,
    START_TIME,
)
"""Keys whose JSON path :func:`sql_value` writes into the SQL (the only ones)."""


def sql_value(key: str) -> str | None:
    """The SQL of a run's value at ``key`` with its path written literally, or None for a
    key not in :data:`LITERAL_KEYS` (whose path must then be bound)."""
    return _literal(key) if key in LITERAL_KEYS else None


def _literal(key: str) -> str:
    return f"json_extract(metadata, '{json_path(key)}')"


START_TIME_VALUE = _literal(START_TIME)
"""A run's start time (SQLite's value: a number for any plain start document)."""


def _sorted_by(key: str) -> str:
    return f"{_literal(key)}, {ORDER}"


def index_on(kind: str) -> str:
    """The name of our index of ``kind`` (a key of :data:`INDEXES`)."""
    return f"zarrscribe_v{VERSION}_runs_by_{kind}"


VERSION = 1
"""Bumped when an index changes: indexes of other versions are dropped on open."""

INDEXES = {
    "time": ORDER,
    "plan_name": _sorted_by("start.plan_name"),
    "scan_id": _sorted_by("start.scan_id"),
    "exit_status": _sorted_by(f"{ATTRIBUTES_KEY}.exit_status"),
    "uid": f"lower({_literal(START_UID)})",
    "start_time": START_TIME_VALUE,
}
"""Our indexes by kind: their columns. ``uid`` serves prefix searches (Tiled's LIKE is
case-blind for ASCII, as ``lower`` is), ``start_time`` the ``since``/``until`` ranges."""

_SLOW_BUILD = 20_000
"""Runs above which building the indexes is said before (about a second)."""


def _statements() -> dict[str, str]:
    return {
        index_on(kind): f"CREATE INDEX {index_on(kind)} ON nodes ({columns}) WHERE {RUNS}"
        for kind, columns in INDEXES.items()
    }


def _ours(db: sqlite3.Connection) -> dict[str, str]:
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type = 'index' AND tbl_name = 'nodes' AND name LIKE 'zarrscribe\\_%' ESCAPE '\\'"
    )
    return {name: sql for name, sql in rows}


def ensure_indexes(database: Path, *, wait: float = 0.2) -> bool:
    """Make our indexes of the catalog ``database`` as :data:`INDEXES` defines them;
    True when they are all there. Never raises for a catalog that cannot be written
    now (read-only, or locked by a writer for more than ``wait`` seconds): it is then
    searched without them, and they are made on a later open."""
    wanted = _statements()
    try:
        db = sqlite3.connect(f"file:{database}?mode=rw", uri=True, timeout=wait)
    except sqlite3.Error:
        return False
    try:
        if _ours(db) == wanted:
            return True  # the usual case: one read, no lock taken
        return _build(db, database, wanted)
    except sqlite3.Error as e:
        logger.info("catalog %s is searched without its indexes: %s", database, e)
        return False
    finally:
        db.close()


def _build(db: sqlite3.Connection, database: Path, wanted: dict[str, str]) -> bool:
    db.isolation_level = None
    db.execute("BEGIN IMMEDIATE")  # one builder at a time; others search without
    try:
        ours = _ours(db)
        stale = [name for name, sql in ours.items() if wanted.get(name) != sql]
        missing = [name for name in wanted if name not in ours or name in stale]
        (runs,) = db.execute(f"SELECT count(*) FROM nodes WHERE {RUNS}").fetchone()
        started = time.monotonic()
        if missing and runs > _SLOW_BUILD:
            logger.warning(
                "building the search indexes of catalog %s (%d runs; once, a few seconds "
                "per 100,000 runs)",
                database,
                runs,
            )
        for name in stale:
            db.execute(f'DROP INDEX "{name}"')
        for name in missing:
            db.execute(wanted[name].replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if missing and runs > _SLOW_BUILD:
        logger.warning(
            "search indexes of catalog %s built in %.1f s", database, time.monotonic() - started
        )
    return True
