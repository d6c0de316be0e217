"""Queries on the embedded catalog read its database directly and answer as Tiled does."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import event_model
import pytest
from bluesky import RunEngine, plans as bp

from tests.conftest import Rig
from zarrscribe.catalog import Catalog, CatalogError, RunNotFoundError, _local, embedded_catalog
from zarrscribe.catalog._filters import Filter, run_filters, tiled_queries
from zarrscribe.catalog._local import LocalReader
from zarrscribe.catalog._open import is_initialised
from zarrscribe.pipeline import Pipeline, fly_scan

Documents = list[tuple[str, dict[str, Any]]]


def _typed_run(i: int) -> Documents:
    """A run whose readings are of every scalar type a table holds, NaN included."""
    bundle = event_model.compose_run(metadata={"plan_name": "typed", "scan_id": 100 + i})
    desc = bundle.compose_descriptor(
        name="primary",
        data_keys={
            "flag": {"source": "t", "shape": [], "dtype": "boolean"},
            "count": {"source": "t", "shape": [], "dtype": "integer"},
            "label": {"source": "t", "shape": [], "dtype": "string"},
            "value": {"source": "t", "shape": [], "dtype": "number"},
        },
        object_keys={"t": ["flag", "count", "label", "value"]},
    )
    docs: Documents = [
        ("start", dict(bundle.start_doc)),
        ("descriptor", dict(desc.descriptor_doc)),
    ]
    for n in range(4):
        data = {"flag": n % 2 == 0, "count": n * i, "label": f"L{n}", "value": n / 3}
        if n == 2:
            data["value"] = math.nan
        stamps = dict.fromkeys(data, 1.0)
        docs.append(("event", dict(desc.compose_event(data=data, timestamps=stamps))))
    docs.append(("stop", dict(bundle.compose_stop())))
    return docs


@dataclass
class Both:
    local: Catalog  # the embedded catalog: queries read SQLite directly
    tiled: Catalog  # the same catalog through Tiled's client
    uids: list[str]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    base = tmp_path_factory.mktemp("local") / "data"
    rig = Rig()
    RE = RunEngine({}, call_returns_result=True)
    with Pipeline(rig.devices, base_dir=base) as pipeline:
        pipeline.subscribe(RE)
        uids = [
            *RE(bp.count([rig.cam1, rig.light], num=3, md={"sample": "Si"})).run_start_uids,
            *RE(bp.scan([rig.cam3, rig.light], rig.motor, 0, 1, 4)).run_start_uids,
            *RE(fly_scan([rig.cam1, rig.cam2], 5, collect_every=0.01)).run_start_uids,
        ]
        assert pipeline.flush(120)
    local = embedded_catalog(base)
    typed = [_typed_run(i) for i in range(3)]
    uids += local.register_runs((docs, {}) for docs in typed)
    tiled = Catalog(local.client, description="through Tiled", base_dir=local.base_dir)
    assert local._local is not None
    assert tiled._local is None
    yield Both(local, tiled, uids)
    local.close()


QUERIES: list[dict[str, Any]] = [
    {},
    {"limit": 2},
    {"plan_name": "typed"},
    {"plan_name": "count", "sample": "Si"},
    {"scan_id": 101},
    {"exit_status": "success"},
    {"exit_status": "incomplete"},
    {"device": "cam1"},
    {"device": "cam3", "plan_name": "scan"},
    {"device": "nothing"},
    {"since": 0, "until": 4e9},
    {"until": 0},
    {"plan_name": "no such plan"},
    {"scan_id": 2, "limit": 1},
    {"exit_status": "success", "limit": 3},
    {"exit_status": "success", "plan_name": "typed", "limit": 2},
    {"device": "cam2", "limit": 1},
    {"device": "light", "exit_status": "success", "limit": 2},
    {"sample": "Si", "limit": 5},
    {"sample": "Si", "device": "cam1"},
    {"since": 0, "limit": 1},
    {"since": 0, "limit": 4},
    {"until": 4e9, "limit": 2},
    {"since": 0, "until": 4e9, "plan_name": "typed", "limit": 2},
    {"since": 4e9},
    {"since": 4e9, "limit": 3},
    {"uid": "%", "limit": 2},
    {"uid": "_", "limit": 3},
]


@pytest.mark.parametrize("query", QUERIES, ids=[str(q) for q in QUERIES])
def test_search_answers_as_tiled_does(both: Both, query: dict[str, Any]) -> None:
    assert both.local._local is not None
    assert both.local._local.indexed
    assert both.local.search(**query) == both.tiled.search(**query)


def test_uid_prefix_metadata_entries_and_len_as_tiled(both: Both) -> None:
    for uid in both.uids:
        assert both.local.search(uid=uid[:8]) == both.tiled.search(uid=uid[:8])
        # Tiled's LIKE: ASCII letters in either case, "_" any one character
        for prefix in (uid[:3].upper(), "_" + uid[1:5], uid[:2] + "%" + uid[3:6], uid):
            for limit in (None, 1):
                query = {"uid": prefix, "limit": limit}
                assert both.local.search(**query) == both.tiled.search(**query), query
        assert both.local.metadata(uid[:8]) == both.tiled.metadata(uid[:8])
        assert uid in both.local
    assert both.local.entries() == both.tiled.entries()
    assert len(both.local) == len(both.tiled) == len(both.uids)
    assert "no-such-uid" not in both.local
    with pytest.raises(RunNotFoundError, match="no run with uid 'zzz'"):
        both.local.metadata("zzz")


def test_readings_as_tiled_reads_them(both: Both) -> None:
    for uid in both.uids:
        for limit in (None, 2):
            assert both.local.readings(uid, limit) == both.tiled.readings(uid, limit)
    typed = both.local.readings(both.uids[-1])["primary"]
    assert typed["flag"] == [True, False, True, False]
    assert typed["label"] == ["L0", "L1", "L2", "L3"]
    assert typed["value"][2] is None  # NaN


def test_a_bad_search_value_is_one_line(both: Both) -> None:
    with pytest.raises(CatalogError, match=r"cannot match start.tags to \[1, 2\]"):
        both.local.search(tags=[1, 2])


def test_a_catalog_made_by_the_installed_tiled_is_read_directly(tmp_path: Path) -> None:
    catalog = Catalog.embedded(tmp_path / "new", readable=[tmp_path])
    assert catalog.search() == []  # creates it through Tiled
    assert LocalReader.open(tmp_path / "new" / "catalog.db") is not None
    catalog.close()


@pytest.mark.parametrize("made", ["empty", "not stamped"])
def test_a_database_without_tiled_schema_is_initialised_at_its_next_open(
    tmp_path: Path, made: str
) -> None:
    """A catalog database made while the disk was full has no tables; one whose init was
    cut off has tables but no alembic stamp. Either is initialised when next opened."""
    directory = tmp_path / "catalog"
    database = directory / "catalog.db"
    if made == "empty":
        directory.mkdir()
        database.write_bytes(b"")
    else:
        first = Catalog.embedded(directory, readable=[tmp_path])
        first.search()
        first.close()
        with sqlite3.connect(database) as db:
            db.execute("DELETE FROM alembic_version")
        db.close()
    assert not is_initialised(database)
    catalog = Catalog.embedded(directory, readable=[tmp_path])
    try:
        assert catalog.search() == []  # opens Tiled, which initialises it
        catalog.register_runs([(_typed_run(1), {})])
        assert len(catalog.search()) == 1
    finally:
        catalog.close()
    assert is_initialised(database)
    assert LocalReader.open(database) is not None


def test_a_schema_revision_it_does_not_know_is_read_through_tiled(
    both: Both, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The next Tiled's schema, as far as this reader can tell: its revision is unknown.
    monkeypatch.setattr(_local, "KNOWN_REVISIONS", frozenset({"an-older-one"}))
    catalog = embedded_catalog(both.local.base_dir)  # type: ignore[arg-type]
    try:
        assert catalog._local is None
        assert catalog.search() == both.local.search()
        assert catalog.readings(both.uids[0]) == both.local.readings(both.uids[0])
    finally:
        catalog.close()


def test_a_catalog_of_another_tiled_version_is_a_one_line_error(tmp_path: Path) -> None:
    base = tmp_path / "data"
    catalog = embedded_catalog(base)
    catalog.register_runs([(_typed_run(1), {})])
    catalog.close()
    database = base / ".zarrscribe" / "catalog" / "catalog.db"
    with sqlite3.connect(database) as db:
        db.execute("UPDATE alembic_version SET version_num = 'from-a-newer-tiled'")
    db.close()
    done = _zarrscribe("runs", "--base-dir", str(base))
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert "cannot open the catalog" in line
    assert "another Tiled version" in line


def _zarrscribe(*args: str) -> subprocess.CompletedProcess[str]:
    zarrscribe = Path(sys.executable).with_name("zarrscribe")
    return subprocess.run([str(zarrscribe), *args], capture_output=True, text=True)


def test_a_damaged_catalog_database_is_a_one_line_error(tmp_path: Path) -> None:
    base = tmp_path / "data"
    catalog = embedded_catalog(base)
    catalog.register_runs([(_typed_run(1), {})])
    catalog.close()
    database = base / ".zarrscribe" / "catalog" / "catalog.db"
    database.write_bytes(database.read_bytes()[:4096] + b"\0" * 4096 * 3)
    done = _zarrscribe("runs", "--base-dir", str(base))
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert str(database) in line
    assert "Traceback" not in done.stderr


KILLED_WRITER = """
import os, signal, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA cache_size=5")  # spill pages into the database file mid-transaction
db.execute("BEGIN IMMEDIATE")
db.execute("CREATE TABLE half_written (x)")
db.executemany("INSERT INTO half_written VALUES (?)", ((str(i) * 20,) for i in range(100000)))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_runs_are_listed_after_a_writer_was_killed_mid_transaction(tmp_path: Path) -> None:
    base = tmp_path / "data"
    catalog = embedded_catalog(base)
    uids = catalog.register_runs([(_typed_run(i), {}) for i in range(3)])
    catalog.close()
    database = base / ".zarrscribe" / "catalog" / "catalog.db"
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(database)])
    assert killed.returncode == -9
    assert database.with_name("catalog.db-journal").stat().st_size > 0  # a hot journal
    done = _zarrscribe("runs", "--base-dir", str(base), "--json")
    assert done.returncode == 0, done.stderr
    assert {r["uid"] for r in json.loads(done.stdout)} == set(uids)


# ---------------------------------------------------------------------------- sort order
# Tiled sorts runs by the JSON *text* of start.time (then by node id): times of other
# magnitudes, integers against reals, and times equal to 15 significant digits sort as
# that text does, not as the numbers do. Searches must answer as Tiled does anyway.
ODD_TIMES: list[Any] = [
    1767225600,  # an integer
    1767225600.0,  # the same value, a real: its text sorts after the integer's
    1767225599.9999999,  # rounds to the text of ...600.0
    1767225600.000004,  # the same text as ...600.0 (15 significant digits)
    1767225600.000006,
    1767225601.5,
    1767225601.5,  # a tie: node id decides
    1767225601.5,
    1767225662.25,
    1767229200.0,
    1767232800.125,
    999999999.0,  # before 2001: nine digits, sorts above every ten-digit time
    5.0,
    -3.0,
    99999999999.0,  # after 2286
    1e20,  # written as 1.0e+20
    True,  # JSON true: 1 for SQLite
    "2026-01-01T00:00:00",  # text: above every number in a comparison
    None,
    *[1767225600.0 + 3.0 * k + k / 7 for k in range(12)],
]
THRESHOLDS = [
    -5.0,
    0.0,
    6.0,
    1e9,
    1767225600.0,
    1767225600.000005,
    1767225601.5,
    1767229199.0,
    1e10,
    1e21,
]


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalReader, Any]]:
    """Runs with odd start times, written through Tiled itself: our reader and Tiled's client."""
    base = tmp_path_factory.mktemp("odd")
    catalog = Catalog.embedded(base / "catalog", readable=[base])
    client = catalog.client
    for i, time in enumerate(ODD_TIMES):
        start: dict[str, Any] = {
            "uid": f"{i:04d}-odd",
            "plan_name": ("a", "b")[i % 2],
            "scan_id": i,
        }
        if time is not None:
            start["time"] = time
        client.create_container(key=start["uid"], metadata={"start": start})
    client.create_container(key="no-start", metadata={"other": 1})
    client.create_container(key="start-not-a-dict", metadata={"start": "text"})
    reader = LocalReader.open(base / "catalog" / "catalog.db")
    assert reader is not None
    assert reader.indexed
    yield reader, client
    catalog.close()


def _tiled_search(client: Any, filters: list[Filter]) -> list[tuple[str, Any]]:
    """Tiled's own search (the client's), newest first; a search with a limit gets the
    first ``limit`` of these (Tiled pages through the same sorted results)."""
    from tiled.client.container import Container

    results = client
    for query in tiled_queries(filters):
        results = Container.search(results, query)
    return [(key, dict(node.metadata)) for key, node in results.sort(("start.time", -1)).items()]


ODD_CASES: list[dict[str, Any]] = [
    {},
    {"plan_name": "a"},
    *({"since": t} for t in THRESHOLDS),
    *({"until": t} for t in THRESHOLDS),
    *({"since": a, "until": b} for a in THRESHOLDS[::3] for b in THRESHOLDS[1::3]),
    {"since": 1767225600.0, "plan_name": "b"},
    {"until": 1e10, "scan_id": 3},
]


@pytest.fixture(scope="module")
def tiled_answers(odd: tuple[LocalReader, Any]) -> list[list[tuple[str, Any]]]:
    return [_tiled_search(odd[1], run_filters(**case)) for case in ODD_CASES]


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "without indexes"])
def test_time_ranges_answer_as_tiled_does_whatever_the_times(
    odd: tuple[LocalReader, Any], tiled_answers: list[list[tuple[str, Any]]], indexed: bool
) -> None:
    reader = LocalReader(odd[0].database, indexed=indexed)  # same SQL; SQLite chooses
    for case, theirs in zip(ODD_CASES, tiled_answers, strict=True):
        filters = run_filters(**case)
        for limit in (None, 1, 2, 3, 5, 8, 40):
            ours = reader.search(filters, limit)
            assert ours == (theirs if limit is None else theirs[:limit]), (case, limit)
