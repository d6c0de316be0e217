"""The empty catalog schema we create equals the one ``tiled catalog init`` creates."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zarrscribe.catalog import Catalog, CatalogError
from zarrscribe.catalog._schema import REVISION, create_schema

_TIMES = {"time_created", "time_updated"}


def _describe(database: Path) -> dict[str, Any]:
    """Everything SQLite knows of ``database`` but the rows' creation times."""
    db = sqlite3.connect(database)
    try:
        master = db.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        rows: dict[str, Any] = {}
        columns: dict[str, Any] = {}
        indexes: dict[str, Any] = {}
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            info = db.execute(f'PRAGMA table_info("{table}")').fetchall()
            columns[table] = info
            indexes[table] = sorted(r[1:] for r in db.execute(f'PRAGMA index_list("{table}")'))
            kept = ", ".join(f'"{c[1]}"' for c in info if c[1] not in _TIMES) or "*"
            rows[table] = sorted(map(repr, db.execute(f'SELECT {kept} FROM "{table}"')))
        pragmas = {
            name: db.execute(f"PRAGMA {name}").fetchall()
            for name in ("journal_mode", "user_version", "application_id", "auto_vacuum")
        }
        return {
            "master": master,
            "columns": columns,
            "indexes": indexes,
            "rows": rows,
            "pragmas": pragmas,
        }
    finally:
        db.close()


def test_same_schema_as_tiled_catalog_init(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    assert create_schema(ours)
    # exactly the command Tiled's from_uri(init_if_not_exists=True) runs
    subprocess.run(
        [sys.executable, "-m", "tiled", "catalog", "init", f"sqlite:///{theirs}"],
        check=True,
        capture_output=True,
    )
    expected = _describe(theirs)
    assert expected["rows"]["alembic_version"] == [repr((REVISION,))]
    assert _describe(ours) == expected


def test_created_catalog_opens_in_tiled(tmp_path: Path) -> None:
    """A catalog whose schema we made passes Tiled's own revision check (its app starts)
    and takes a run that Tiled's client reads back."""
    from zarrscribe.writers.model import STATE_DIR

    base = tmp_path / "data"
    base.mkdir()
    catalog = Catalog.embedded(tmp_path / "catalog", readable=[base])
    try:
        run = catalog.client.create_container(key="run-1", metadata={"start": {"uid": "run-1"}})
        run.write_array(np.arange(3), key="a")
        assert list(catalog.client) == ["run-1"]
        np.testing.assert_array_equal(run["a"].read(), np.arange(3))
    finally:
        catalog.close()
    assert not (base / STATE_DIR).exists()
    db = sqlite3.connect(tmp_path / "catalog" / "catalog.db")
    try:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(REVISION,)]
    finally:
        db.close()


_WRITE_WITHOUT_THE_APP = """
import sys
from pathlib import Path
from benchmarks._runs import small_run, write_store
from zarrscribe.catalog import embedded_catalog

base = Path(sys.argv[1])
write_store(base / "run" / "default.zarr")
catalog = embedded_catalog(base)
catalog.register_runs([(small_run(0, (base / "run" / "default.zarr").as_uri()), {})])
assert len(catalog.search()) == 1
assert "tiled.server.app" not in sys.modules, "registration built Tiled's app"
catalog.close()
"""


def test_registration_in_a_new_catalog_needs_no_app(tmp_path: Path) -> None:
    """A fresh process registers into a new embedded catalog (and finds the run again)
    without building Tiled's server app."""
    done = subprocess.run(
        [sys.executable, "-c", _WRITE_WITHOUT_THE_APP, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr


def test_writing_into_a_catalog_of_another_tiled_version_is_refused(tmp_path: Path) -> None:
    from benchmarks._runs import small_run

    directory = tmp_path / "catalog"
    directory.mkdir()
    assert create_schema(directory / "catalog.db")
    db = sqlite3.connect(directory / "catalog.db")
    try:
        with db:
            db.execute("UPDATE alembic_version SET version_num = 'from-a-newer-tiled'")
    finally:
        db.close()
    catalog = Catalog.embedded(directory, readable=[tmp_path])
    try:
        with pytest.raises(CatalogError, match="cannot open the catalog") as refused:
            catalog.register_runs([(small_run(0, (tmp_path / "a.zarr").as_uri()), {})])
        assert "open it with that version" in str(refused.value)  # its own advice
        assert "try again" not in str(refused.value)
    finally:
        catalog.close()
