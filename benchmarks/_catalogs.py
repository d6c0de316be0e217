"""Big embedded catalogs built fast from synthetic runs (no stores needed), and cached.

A catalog of 10^5-10^6 runs registered one run at a time would take hours. Here a few
template runs are registered the normal way (``register_runs``: every row Tiled and
our writer make), then each synthetic run is written as a copy of one template's rows
in one SQLite transaction: its own start and stop documents (uid, time, scan id, plan,
sample), its own zarrscribe metadata (status, devices, stores, log), its own store
URI and its own rows of scalar readings. The rows go through Tiled's own triggers
(closure table, full-text index), so the database is the one registration would make.

Built catalogs are kept under ``cache_root()`` (``$ZARRSCRIBE_BENCH_CACHE``, else
``zarrscribe-bench-cache`` in the benchmark scratch folder): building 10^6 runs takes
minutes, once. They are kept without zarrscribe's search indexes (the benchmark
measures building them, as a catalog made by an older zarrscribe would).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _runs import small_run

BUILDER_VERSION = 2
"""Bumped when what is built changes (cached catalogs of another version are rebuilt)."""

T0 = 1_767_225_600.0  # 2026-01-01: synthetic runs start every SPACING seconds from here
SPACING = 30.0
PLANS = ("count", "scan", "fly_scan", "grid_scan", "tomo")
STATUSES = ("success",) * 90 + ("abort",) * 6 + ("fail",) * 3 + ("incomplete",)
RARE_DEVICE = "xrf"
"""A device in one run of 10,000."""


def cache_root() -> Path:
    root = os.environ.get("ZARRSCRIBE_BENCH_CACHE")
    if root:
        return Path(root)
    scratch = Path(os.environ.get("ZARRSCRIBE_BENCH_DIR", tempfile.gettempdir()))
    return scratch / "zarrscribe-bench-cache"


def catalog_database(base: Path) -> Path:
    return base / ".zarrscribe" / "catalog" / "catalog.db"


def synthetic_catalog(n: int, root: Path | None = None) -> Path:
    """The base folder of an embedded catalog of ``n`` synthetic runs (built if not cached)."""
    from zarrscribe.catalog import embedded_catalog

    base = (root or cache_root()) / f"runs-{n}-v{BUILDER_VERSION}"
    if (base / "complete").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    started = time.perf_counter()
    catalog = embedded_catalog(base)
    templates = 3
    catalog.register_runs(
        (small_run(i, (base / "templates" / f"t{i}.zarr").as_uri()), {}) for i in range(templates)
    )
    catalog.close()
    drop_search_indexes(catalog_database(base))
    _replicate(base, n - templates)
    (base / "complete").touch()
    print(
        f"  built a {n:,}-run catalog in {time.perf_counter() - started:.0f} s: {base}",
        file=sys.stderr,
    )
    return base


def drop_search_indexes(database: Path) -> None:
    """Drop zarrscribe's search indexes (as a catalog of an older zarrscribe is)."""
    with sqlite3.connect(database) as db:
        names = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'zarrscribe%'"
            )
        ]
        for name in names:
            db.execute(f'DROP INDEX "{name}"')
    db.close()


def _run_metadata(i: int, rng: random.Random, base: Path) -> tuple[str, dict[str, Any]]:
    uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    t = T0 + i * SPACING + rng.random()
    status = STATUSES[i % len(STATUSES)]
    devices = (
        ["cam", "m1"]
        + (["det2"] if i % 10 == 0 else [])
        + ([RARE_DEVICE] if i % 10_000 == 5_000 else [])
    )
    folder = f"runs/{PLANS[i % len(PLANS)]}_{i:07d}"
    start = {
        "uid": uid,
        "time": t,
        "plan_name": PLANS[i % len(PLANS)],
        "scan_id": i + 1,
        "sample": f"s{i % 7}",
        "operator": "bench",
        "versions": {"bluesky": "1.15.0", "ophyd": "1.10.0"},
    }
    stop = {
        "uid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "time": t + 5.0,
        "run_start": uid,
        "exit_status": "success" if status == "incomplete" else status,
        "reason": "",
        "num_events": {"primary": 3},
    }
    ours = {
        "version": 2,
        "exit_status": status,
        "reason": "",
        "recovered": False,
        "devices": devices,
        "device_set": dict.fromkeys(devices, True),
        "stores": [f"{folder}/default.zarr"],
        "arrays": {
            "cam": {"store": f"{folder}/default.zarr", "shape": [3, 8, 8], "dtype": "uint16"}
        },
        "missing": {},
        "configuration": {"cam": {"cam-exposure": 0.1}},
        "log": f"{folder}/documents.jsonl",
        "written_at": "2026-01-01T00:00:00+00:00",
    }
    return uid, {"start": start, "stop": stop, "zarrscribe": ours}


def _rows(db: sqlite3.Connection, table: str, where: str, args: tuple[Any, ...]) -> list[Any]:
    cursor = db.execute(f"SELECT * FROM {table} WHERE {where}", args)
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _insert(db: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        names = list(rows[0])
        db.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [tuple(r[n] for n in names) for r in rows],
        )


def _replicate(base: Path, n: int) -> None:
    """Add ``n`` runs, each a copy of a template run's rows with its own metadata."""
    from tiled.server.connection_pool import json_serializer as json_text  # as Tiled writes

    database = catalog_database(base)
    tables_db = database.with_name("tables.sqlite")
    db = sqlite3.connect(database, isolation_level=None)
    tables = sqlite3.connect(tables_db, isolation_level=None)
    for c in (db, tables):
        c.execute("PRAGMA synchronous = OFF")
        c.execute("PRAGMA cache_size = -200000")
    templates = [r["id"] for r in _rows(db, "nodes", "parent = 0 ORDER BY id", ())]
    for k, run_id in enumerate(templates):  # the oldest runs, before the synthetic ones
        db.execute(
            "UPDATE nodes SET metadata = json_set(metadata, '$.start.time', ?) WHERE id = ?",
            (T0 - (len(templates) - k) * SPACING, run_id),
        )
    shapes = []
    for run_id in templates:
        nodes = _rows(
            db,
            "nodes",
            "id IN (SELECT descendant FROM nodes_closure WHERE ancestor = ?) ORDER BY id",
            (run_id,),
        )
        ids = [node["id"] for node in nodes]
        marks = ",".join("?" * len(ids))
        sources = _rows(db, "data_sources", f"node_id IN ({marks}) ORDER BY id", tuple(ids))
        links = _rows(
            db,
            "data_source_asset_association",
            f"data_source_id IN ({','.join('?' * len(sources))})",
            tuple(s["id"] for s in sources),
        )
        asset_ids = tuple(x["asset_id"] for x in links)
        assets = {
            a["id"]: a
            for a in _rows(db, "assets", f"id IN ({','.join('?' * len(asset_ids))})", asset_ids)
        }
        shapes.append((nodes, sources, links, assets))
    rng = random.Random(20)
    (next_node,) = db.execute("SELECT max(id) + 1 FROM nodes").fetchone()
    (next_source,) = db.execute("SELECT max(id) + 1 FROM data_sources").fetchone()
    (next_asset,) = db.execute("SELECT max(id) + 1 FROM assets").fetchone()
    (next_dataset,) = tables.execute("SELECT value + 1 FROM _dataset_id_counter").fetchone()
    db.execute("BEGIN")
    tables.execute("BEGIN")
    batch = 20_000
    for first in range(0, n, batch):
        node_rows: list[dict[str, Any]] = []
        source_rows: list[dict[str, Any]] = []
        link_rows: list[dict[str, Any]] = []
        asset_rows: list[dict[str, Any]] = []
        table_copies: dict[str, list[tuple[int, int]]] = {}
        for i in range(first, min(n, first + batch)):
            nodes, sources, links, assets = shapes[i % len(shapes)]
            uid, metadata = _run_metadata(i, rng, base)
            store = (base / metadata["zarrscribe"]["stores"][0]).as_uri()
            node_ids = {0: 0}
            for node in nodes:
                node_ids[node["id"]] = next_node
                row = dict(node, id=next_node, parent=node_ids[node["parent"]])
                if node["parent"] == 0:
                    row.update(key=uid, metadata=json_text(metadata))
                else:
                    row["metadata"] = _restore(row["metadata"], assets, store)
                node_rows.append(row)
                next_node += 1
            source_ids = {}
            for source in sources:
                source_ids[source["id"]] = next_source
                row = dict(source, id=next_source, node_id=node_ids[source["node_id"]])
                parameters = json.loads(source["parameters"] or "null")
                if parameters and "dataset_id" in parameters:
                    table_copies.setdefault(parameters["table_name"], []).append(
                        (next_dataset, int(parameters["dataset_id"]))
                    )
                    parameters["dataset_id"] = next_dataset
                    next_dataset += 1
                    row["parameters"] = json_text(parameters)
                source_rows.append(row)
                next_source += 1
            for link in links:
                asset = assets[link["asset_id"]]
                asset_id = link["asset_id"]
                if asset["data_uri"].startswith("file:"):  # a store: one asset per run
                    asset_id = next_asset
                    next_asset += 1
                    asset_rows.append(
                        dict(asset, id=asset_id, data_uri=_store_uri(asset["data_uri"], store))
                    )
                link_rows.append(
                    dict(
                        link, data_source_id=source_ids[link["data_source_id"]], asset_id=asset_id
                    )
                )
        _insert(db, "nodes", node_rows)
        _insert(db, "assets", asset_rows)
        _insert(db, "data_sources", source_rows)
        _insert(db, "data_source_asset_association", link_rows)
        for table_name, copies in table_copies.items():
            columns = [
                row[1]
                for row in tables.execute(f'PRAGMA table_info("{table_name}")')
                if row[1] != "_dataset_id"
            ]
            names = ", ".join(f'"{c}"' for c in columns)
            tables.executemany(
                f'INSERT INTO "{table_name}" (_dataset_id, {names}) '
                f'SELECT ?, {names} FROM "{table_name}" WHERE _dataset_id = ? ORDER BY rowid',
                copies,
            )
        print(f"\r  building: {min(n, first + batch):,}/{n:,} runs", end="", file=sys.stderr)
    print(file=sys.stderr)
    tables.execute("UPDATE _dataset_id_counter SET value = ?", (next_dataset - 1,))
    tables.execute("COMMIT")
    db.execute("COMMIT")
    db.close()
    tables.close()


def _store_uri(template_uri: str, store: str) -> str:
    """A template's array URI (``<store>/<array>``) moved to this run's store."""
    return store + "/" + template_uri.rstrip("/").rsplit("/", 1)[-1]


def _restore(metadata: str, assets: dict[int, Any], store: str) -> str:
    """A child node's metadata with the template's store URI replaced by the run's."""
    for asset in assets.values():
        uri = asset["data_uri"]
        if uri.startswith("file:"):
            metadata = metadata.replace(uri.rstrip("/").rsplit("/", 1)[0], store)
    return metadata
