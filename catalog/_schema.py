"""Tiled's empty catalog schema, created by us for the Tiled version we pin.

Tiled creates a catalog with ``tiled catalog init``: ``from_uri(...,
init_if_not_exists=True)`` starts it as a subprocess, which imports ``tiled.catalog``
(dask with it), runs ``initialize_database`` and stamps the alembic revision: about
4 s on a quiet machine, paid by every process that creates a catalog. For a given
Tiled version that schema is fixed, so :func:`create_schema` writes the same one
with SQLite alone, in one transaction (the tables and the stamp, or nothing).

``tiled-<version>.sql`` (package data) holds the text SQLite stored for each table,
index and trigger of an empty catalog made by ``tiled catalog init`` of Tiled
:data:`TILED_VERSION` (its ``sqlite_master`` in order, less the ``metadata_fts5_*``
tables the full-text virtual table makes itself); ``tests/catalog/test_schema.py``
checks that a catalog made here equals one made by Tiled (tables, columns, indexes,
triggers, rows, alembic stamp). With another Tiled installed, :func:`create_schema` makes
nothing and Tiled initialises the catalog itself.
"""

from __future__ import annotations

import contextlib
import sqlite3
from importlib import resources
from pathlib import Path

__all__ = ["REVISION", "TILED_VERSION", "create_schema", "installed_tiled"]

TILED_VERSION = "0.2.20"
"""The Tiled version whose empty catalog ``tiled-<version>.sql`` reproduces."""

REVISION = "917dbbcfc4b1"
"""Tiled's alembic revision of that schema (``tiled.catalog.core.REQUIRED_REVISION``),
which Tiled checks on opening a catalog."""

_ROWS = (
    # The root node (Tiled's DDL listener inserts it; the triggers add its closure
    # and full-text rows), its 'public' access tag (initialize_database), the stamp.
    "INSERT INTO nodes (id, parent, key, structure_family, metadata, specs) "
    "VALUES (0, NULL, '', 'container', '{}', '[]')",
    "INSERT INTO access_tags (name, is_public) VALUES ('public', 1)",
    "INSERT INTO node_access_tags_association (node_id, tag_id) "
    "SELECT 0, id FROM access_tags WHERE name = 'public'",
    f"INSERT INTO alembic_version (version_num) VALUES ('{REVISION}')",
)


def installed_tiled() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tiled")
    except PackageNotFoundError:
        return None


def create_schema(database: Path) -> bool:
    """Create Tiled's empty catalog schema in the new SQLite file ``database``.

    Returns ``False`` (and creates nothing) when the installed Tiled is not
    :data:`TILED_VERSION`: Tiled's own init must make it then. All or nothing: a
    failure (a full disk) leaves a database without the stamp, which the next open
    starts again. Raises :class:`sqlite3.Error` on failure.
    """
    if installed_tiled() != TILED_VERSION:
        return False
    db = sqlite3.connect(database, isolation_level=None, timeout=10)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in (*_ddl(), *_ROWS):
                db.execute(statement)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                db.execute("ROLLBACK")
            raise
    finally:
        db.close()
    return True


def _ddl() -> list[str]:
    """The statements of ``tiled-<TILED_VERSION>.sql`` (package data, beside this module)."""
    text = (resources.files(__package__) / f"tiled-{TILED_VERSION}.sql").read_text("utf-8")
    statements, current = [], ""
    for line in text.splitlines(keepends=True):
        if not current and (line.startswith("--") or not line.strip()):
            continue
        current += line
        if sqlite3.complete_statement(current):  # a trigger's own ';' do not end it
            statements.append(current.strip().removesuffix(";"))
            current = ""
    return statements
