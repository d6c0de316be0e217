"""Registration straight into a Tiled catalog on PostgreSQL (by SQL, as workers do):
the same entries as TiledWriter through a Tiled server, read through the running server
at once; concurrent writers never collide; another schema revision is refused."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bluesky import RunEngine, plans as bp
from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter
from tiled.client import from_uri

from benchmarks._runs import small_run
from tests._servers import PG, postgres_databases, tiled_on_postgres
from tests.catalog.test_direct import _differences, _tree
from tests.conftest import Rig
from zarrscribe.callbacks import catalog_entry
from zarrscribe.catalog import Catalog, CatalogError, install_zarr_consolidator
from zarrscribe.pipeline import Pipeline, fly_scan

API_KEY = "secret"


@dataclass
class Server:
    name: str  # the catalog database (its table storage: name + "_tables")
    uri: str  # the Tiled server's

    @property
    def database(self) -> str:
        return f"{PG}/{self.name}"

    @property
    def tables(self) -> str:
        return f"{PG}/{self.name}_tables"

    @contextmanager
    def client(self) -> Iterator[Any]:
        client = from_uri(self.uri, api_key=API_KEY)
        try:
            yield client
        finally:
            client.context.close()


@dataclass
class Runs:
    base: Path
    jobs: dict[str, tuple[list[Any], dict[str, Any]]]
    pushed: dict[str, dict[str, np.ndarray]]
    reference: Server  # TiledWriter through the server's HTTP API
    direct: Server  # Catalog.from_database(...).register_runs, by SQL


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    base = tmp_path_factory.mktemp("pg") / "data"
    rig = Rig()
    RE = RunEngine({}, call_returns_result=True)
    pushed: dict[str, dict[str, np.ndarray]] = {}
    with Pipeline(rig.devices, base_dir=base, catalog=None) as pipeline:
        pipeline.subscribe(RE)
        plans = [
            bp.count([*rig.cameras, rig.light], num=3, md={"sample": "Si"}),
            bp.scan([rig.cam1, rig.light], rig.motor, 0, 1, 4),
            fly_scan(rig.cameras, 6, collect_every=0.01),
        ]
        for plan in plans:
            for camera in rig.cameras:
                camera.pushed = []
            (uid,) = RE(plan).run_start_uids
            pushed[uid] = {c.name: np.stack(c.pushed) for c in rig.cameras if c.pushed}
    jobs = {}
    for uid in pipeline.registrations.pending():
        docs, metadata = catalog_entry(pipeline.log_path(uid), base_dir=base)
        jobs[uid] = (list(docs), metadata)
    with (
        postgres_databases("zspgref", "_tables") as ref,
        postgres_databases("zspgdir", "_tables") as direct,
        tiled_on_postgres(ref, base, API_KEY, log=base.parent / "ref.log") as ref_uri,
        tiled_on_postgres(direct, base, API_KEY, log=base.parent / "direct.log") as uri,
    ):
        reference = Server(ref, ref_uri)
        install_zarr_consolidator()
        with reference.client() as client:
            for docs, metadata in jobs.values():
                writer = TiledWriter(client)
                for name, doc in docs:
                    writer(name, doc)
                uid = docs[0][1]["uid"]
                client[uid].update_metadata(metadata=metadata, drop_revision=True)
        served = Server(direct, uri)
        catalog = Catalog.from_database(served.database, tables=served.tables)
        try:
            catalog.register_runs(jobs.values())
        finally:
            catalog.close()
        yield Runs(base, jobs, pushed, reference, served)


def test_entries_equal_node_by_node_through_the_running_server(runs: Runs) -> None:
    with runs.reference.client() as ref, runs.direct.client() as new:
        _equal_node_by_node(runs, ref, new)


def _equal_node_by_node(runs: Runs, ref: Any, new: Any) -> None:
    assert sorted(ref) == sorted(new) == sorted(runs.jobs)
    for uid in runs.jobs:
        a = _tree(ref[uid], f"{runs.reference.name}_tables")
        b = _tree(new[uid], f"{runs.direct.name}_tables")
        assert a == b, _differences(a, b)
        assert a["specs"][-1] == {"name": "BlueskyRun", "version": "3.0"}
    uid = next(u for u, (docs, _) in runs.jobs.items() if docs[0][1].get("plan_name") == "scan")
    a, b = ref[uid]["primary"].read(), new[uid]["primary"].read()
    for key in a.data_vars:
        np.testing.assert_array_equal(a[key].values, b[key].values, err_msg=key)


def test_reregistration_replaces_the_entry(runs: Runs) -> None:
    uid, (docs, metadata) = next(iter(runs.jobs.items()))
    with runs.direct.client() as client:
        _replaced(runs, client, uid, docs, metadata)


def _replaced(runs: Runs, client: Any, uid: str, docs: Any, metadata: Any) -> None:
    before = _tree(client[uid])
    catalog = Catalog.from_database(runs.direct.database, tables=runs.direct.tables)
    try:
        changed = {**metadata, "zarrscribe": {**metadata["zarrscribe"], "exit_status": "abort"}}
        catalog.register_run(docs, changed)
        assert client[uid].metadata["zarrscribe"]["exit_status"] == "abort"  # at once
        catalog.register_runs([(docs, changed), (docs, metadata)])
        assert catalog.metadata(uid[:8]) == client[uid].metadata
        assert catalog.layout(uid) == catalog.layout(uid[:10])
        assert uid in catalog
        assert "nope" not in catalog
    finally:
        catalog.close()
    assert _tree(client[uid]) == before
    assert sorted(client) == sorted(runs.jobs)


def test_concurrent_writers_register_every_run_once(runs: Runs, tmp_path: Path) -> None:
    """Two processes, 200 runs each, 100 of them in both (same uids, at the same
    moment), all with the same table schema: every run once, no error."""
    all_jobs = [
        (small_run(i, (tmp_path / f"{i}.zarr").as_uri()), {"zarrscribe": {"i": i}})
        for i in range(300)
    ]
    start_at = time.time() + 8  # both have imported Tiled and connected by then
    procs = []
    for n, part in enumerate((all_jobs[:200], all_jobs[100:])):
        jobs_file = tmp_path / f"jobs{n}.json"
        jobs_file.write_text(json.dumps(part))
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.catalog._register_pg",
                    runs.direct.database,
                    runs.direct.tables,
                    str(jobs_file),
                    str(start_at),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        assert out.strip() == "200"
        assert err == "", err[-3000:]
    uids = {docs[0][1]["uid"] for docs, _ in all_jobs}
    with runs.direct.client() as client:
        assert uids <= set(client)
        one = next(iter(uids))
        frame = client[one]["primary"].base["internal"].read()
        assert list(frame["m1"]) == [0.0, 1.0, 2.0]
    catalog = Catalog.from_database(runs.direct.database, tables=runs.direct.tables)
    try:
        for uid in list(uids)[:20]:
            assert catalog.layout(uid) == {
                "primary": {"cam": {"shape": [3, 8, 8], "frames": None}}
            }
    finally:
        catalog.close()
    # one tree per run, table rows once: nothing left by the runs registered twice
    (nodes,) = _query(
        runs.direct.name,
        "SELECT count(*) FROM nodes_closure c JOIN nodes r ON r.id = c.ancestor "
        "WHERE r.parent = 0 AND r.metadata->'zarrscribe' ? 'i'",
    )
    assert int(nodes) == 300 * 4  # run, stream, its internal table, the camera's array
    table, *more = _query(
        runs.direct.name,
        "SELECT DISTINCT ds.parameters->>'table_name' FROM data_sources ds JOIN nodes n "
        "ON n.id = ds.node_id JOIN nodes s ON s.id = n.parent JOIN nodes r ON r.id = s.parent "
        "WHERE r.metadata->'zarrscribe' ? 'i' AND ds.parameters ? 'table_name'",
    )
    assert not more
    referenced = _query(
        runs.direct.name,
        f"SELECT ds.parameters->>'dataset_id' FROM data_sources ds "
        f"WHERE ds.parameters->>'table_name' = '{table}'",
    )
    stored = _query(
        f"{runs.direct.name}_tables",
        f'SELECT _dataset_id, count(*) FROM "{table}" GROUP BY _dataset_id ORDER BY 1',
    )
    assert sorted(map(int, referenced)) == [int(row.split("|")[0]) for row in stored]


def _query(database: str, sql: str) -> list[str]:
    done = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-At", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.split()


def test_a_database_without_tiled_or_of_another_revision_is_refused() -> None:
    with postgres_databases("zspgbad") as name:
        with pytest.raises(
            CatalogError, match="holds no Tiled catalog yet; start 'zarrscribe serve"
        ):
            Catalog.from_database(f"{PG}/{name}")
        _psql_in(name, "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL)")
        _psql_in(name, "INSERT INTO alembic_version VALUES ('0123456789ab')")
        with pytest.raises(
            CatalogError, match=r"schema revision '0123456789ab', not '917dbbcfc4b1'"
        ):
            Catalog.from_database(f"{PG}/{name}")
    with pytest.raises(CatalogError, match="is not a PostgreSQL database URI"):
        Catalog.from_database(f"{PG}/x", tables="sqlite:////tmp/t.sqlite")


def _psql_in(database: str, sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-c", sql],
        check=True,
        capture_output=True,
    )


def test_the_worker_command_line_says_in_one_line_what_is_wrong(tmp_path: Path) -> None:
    zarrscribe = str(Path(sys.executable).with_name("zarrscribe"))
    with postgres_databases("zspgcli") as name:
        cases = {
            ("--tables", f"{PG}/{name}"): "--tables goes with --catalog postgresql://",
            ("--catalog", f"{PG}/{name}"): "holds no Tiled catalog yet; start 'zarrscribe serve",
            ("--catalog", f"{PG}/{name}_missing"): f'database "{name}_missing" does not exist',
        }
        for argv, message in cases.items():
            done = subprocess.run(
                [zarrscribe, "worker", *argv], capture_output=True, text=True, cwd=tmp_path
            )
            assert done.returncode == 2, done.stderr
            assert done.stderr.count("\n") == 1, done.stderr
            assert message in done.stderr
