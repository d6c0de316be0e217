"""Our search indexes on the embedded catalog: made on open, kept apart from Tiled's
schema, used by every search, and never needed for a right answer."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._runs import small_run
from tests._sqlite import locked
from tests.conftest import read_only_mount
from zarrscribe.catalog import Catalog, _indexes, embedded_catalog
from zarrscribe.catalog._filters import run_filters
from zarrscribe.catalog._indexes import INDEXES, ensure_indexes, index_on
from zarrscribe.catalog._local import LocalReader

OURS = {index_on(kind) for kind in INDEXES}


def _database(base: Path) -> Path:
    return base / ".zarrscribe" / "catalog" / "catalog.db"


def _our_indexes(database: Path) -> dict[str, str]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'zarrscribe%'"
        ).fetchall()
    db.close()
    return dict(rows)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("indexes") / "data"
    catalog = embedded_catalog(base)
    catalog.register_runs((small_run(i, (base / f"r{i}.zarr").as_uri()), {}) for i in range(12))
    catalog.close()
    return base


@pytest.fixture
def older(made: Path, tmp_path: Path) -> Path:
    """A catalog of 12 runs as an older zarrscribe left it: no search indexes, and one of
    another version of ours."""
    base = tmp_path / "data"
    shutil.copytree(made, base)
    database = _database(base)
    with sqlite3.connect(database) as db:
        for name in _our_indexes(database):
            db.execute(f'DROP INDEX "{name}"')
        db.execute(
            "CREATE INDEX zarrscribe_v0_runs_by_time ON nodes "
            "(json_extract(metadata, '$.start.time')) WHERE parent = 0"
        )
    db.close()
    return base


def test_a_catalog_made_by_an_older_zarrscribe_gets_the_indexes_on_open(older: Path) -> None:
    database = _database(older)
    assert set(_our_indexes(database)) == {"zarrscribe_v0_runs_by_time"}
    zarrscribe = Path(sys.executable).with_name("zarrscribe")
    done = subprocess.run(
        [str(zarrscribe), "runs", "--base-dir", str(older), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # 12 runs: made at once, nothing to say
    indexes = _our_indexes(database)
    assert set(indexes) == OURS  # the one of another version is gone
    for sql in indexes.values():  # partial, on the run nodes only
        assert sql.endswith("WHERE parent = 0"), sql


def test_making_them_again_changes_nothing(older: Path) -> None:
    database = _database(older)
    assert ensure_indexes(database)
    before = database.read_bytes()
    assert ensure_indexes(database)
    assert database.read_bytes() == before


def test_building_them_on_a_big_catalog_is_said(
    older: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_indexes, "_SLOW_BUILD", 5)  # "big": more than 5 runs
    with caplog.at_level(logging.WARNING, logger=_indexes.__name__):
        assert ensure_indexes(_database(older))
    building, built = caplog.messages
    assert "building the search indexes" in building
    assert "12 runs; once" in building
    assert "built in" in built


DOCUMENTED = [
    ({}, 50),
    ({"plan_name": "scan"}, 10),
    ({"scan_id": 3}, None),
    ({"exit_status": "success"}, 10),
    ({"since": 0.0}, 10),
    ({"until": 4e9}, 10),
    ({"since": 0.0, "until": 4e9}, 5),
    ({"uid": "ab"}, 2),
    ({"device": "cam"}, 10),
    ({"start_keys": {"sample": "s3"}}, 10),
]


def test_every_documented_search_reads_through_one_of_our_indexes(older: Path) -> None:
    reader = LocalReader.open(_database(older))
    assert reader is not None
    assert reader.indexed
    for query, limit in DOCUMENTED:
        plans = reader.explain(run_filters(**query), limit)
        reads = [p for p in plans if p.startswith(("SCAN nodes", "SEARCH nodes"))]
        assert reads, (query, plans)
        for read in reads:
            assert "USING INDEX zarrscribe_v1_runs_by_" in read, (query, plans)
        if "since" not in query and "until" not in query and "uid" not in query:
            # already in Tiled's order: no sort, reads stop at the limit
            assert not any("TEMP B-TREE" in p for p in plans), (query, plans)


def test_a_read_only_catalog_without_them_is_searched_all_the_same(
    older: Path, tmp_path: Path
) -> None:
    with read_only_mount(older, tmp_path / "ro") as ro:
        catalog = Catalog.embedded(ro / ".zarrscribe" / "catalog", readable=[ro])
        try:
            assert catalog._local is not None
            assert not catalog._local.indexed
            answers = [catalog.search(**q, limit=limit) for q, limit in _catalog_queries()]
        finally:
            catalog.close()
    assert set(_our_indexes(_database(older))) == {"zarrscribe_v0_runs_by_time"}  # untouched
    writable = embedded_catalog(older)
    try:
        assert writable._local is not None
        assert writable._local.indexed
        assert [writable.search(**q, limit=limit) for q, limit in _catalog_queries()] == answers
    finally:
        writable.close()
    assert any(answers)


def _catalog_queries() -> list[tuple[dict[str, object], int | None]]:
    return [
        ({**query.pop("start_keys", {}), **query}, limit)  # type: ignore[dict-item]
        for query, limit in ((dict(q), limit) for q, limit in DOCUMENTED)
    ]


def test_a_catalog_another_process_is_writing_is_searched_without_waiting(older: Path) -> None:
    database = _database(older)
    with locked(database, "IMMEDIATE"):  # a writer that still lets readers in
        reader = LocalReader.open(database)  # does not wait for the writer to finish
        assert reader is not None
        assert not reader.indexed
        assert len(reader.search(run_filters(), 5)) == 5
    reopened = LocalReader.open(database)  # the next open makes them
    assert reopened is not None
    assert reopened.indexed


def test_tiled_migrations_run_with_our_indexes_in_place(older: Path) -> None:
    database = _database(older)
    assert ensure_indexes(database)
    tiled = Path(sys.executable).with_name("tiled")
    uri = f"sqlite:///{database}"
    for command in (["downgrade-database", uri, "3e87cbeb195b"], ["upgrade-database", uri]):
        done = subprocess.run(
            [str(tiled), "catalog", *command], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "arning" not in done.stderr, done.stderr  # e.g. SQLAlchemy's reflection
    catalog = embedded_catalog(older)  # Tiled opens it (checks its revision)
    try:
        assert len(catalog.search(limit=None)) == 12
        assert catalog.client.search  # Tiled opened the upgraded catalog
        assert catalog._local is not None
        assert catalog._local.indexed
    finally:
        catalog.close()
    assert set(_our_indexes(database)) == OURS
