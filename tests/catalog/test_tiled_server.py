"""The scale path: a real Tiled server (subprocess) on PostgreSQL, reached by URI and API key."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from bluesky import RunEngine
from bluesky import plans as bp

from tests.conftest import Rig
from zarrscribe.catalog import Catalog, CatalogError, CatalogUnavailableError
from zarrscribe.pipeline import Pipeline, fly_scan

PG = "postgresql://postgres@127.0.0.1:5432"
API_KEY = secrets.token_hex(32)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", sql],
        check=True,
        capture_output=True,
    )


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-12:])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not _port_open("127.0.0.1", 5432) or shutil.which("psql") is None:
        pytest.fail(
            "needs PostgreSQL on 127.0.0.1:5432 and psql (this project's machines have both)"
        )
    name = f"zs_{uuid.uuid4().hex[:10]}"
    _psql(f"CREATE DATABASE {name}")
    _psql(f"CREATE DATABASE {name}_tables")
    base = tmp_path_factory.mktemp("server") / "data"
    base.mkdir()
    port = _free_port()
    tiled = Path(sys.executable).with_name("tiled")
    log = base.parent / "tiled-server.log"
    log_file = open(log, "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [
            str(tiled),
            "serve",
            "catalog",
            f"{PG}/{name}",
            "--init",
            "-w",
            str(base / ".tiled-data"),
            "-w",
            f"{PG}/{name}_tables",
            "-r",
            str(base),
            "--api-key",
            API_KEY,
            "--port",
            str(port),
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    uri = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{uri}/v1/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tiled server did not start: {_tail(log)}")
            time.sleep(0.2)
        yield uri, base
    finally:
        proc.terminate()
        proc.wait(30)
        log_file.close()
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        _psql(f"DROP DATABASE IF EXISTS {name}_tables WITH (FORCE)")


def test_runs_registered_and_found_on_a_postgres_backed_server(
    server: tuple[str, Path], rig: Rig
) -> None:
    uri, base = server
    RE = RunEngine({}, call_returns_result=True)
    with Pipeline(rig.devices, base_dir=base, catalog=uri, api_key=API_KEY) as pipeline:
        pipeline.subscribe(RE)
        (count_uid,) = RE(
            bp.count([rig.cam1, rig.cam2], num=3, md={"sample": "Si"})
        ).run_start_uids
        (fly_uid,) = RE(fly_scan(rig.cameras, 4, collect_every=0.01)).run_start_uids
        assert pipeline.flush(120), pipeline.registrations.failures
        catalog = pipeline.connect_catalog()
        assert [r.uid for r in catalog.search()] == [fly_uid, count_uid]
        assert [r.uid for r in catalog.search(sample="Si")] == [count_uid]
        assert [r.uid for r in catalog.search(device="cam3")] == [fly_uid]
        assert [r.uid for r in catalog.search(uid=fly_uid[:8])] == [fly_uid]
        np.testing.assert_array_equal(
            catalog.read_array(fly_uid, "cam3"), np.stack(rig.cam3.pushed)
        )
        reports = pipeline.replay(check=True)
        assert [r.changed for r in reports] == [False, False], [r.differences for r in reports]


def test_wrong_api_key_and_unreachable_server_are_clear(server: tuple[str, Path]) -> None:
    uri, _ = server
    with pytest.raises(CatalogError, match=r"refused the API key \(HTTP 401\)"):
        Catalog.from_uri(uri, api_key="wrong")
    with pytest.raises(CatalogUnavailableError, match="cannot be reached"):
        Catalog.from_uri(f"http://127.0.0.1:{_free_port()}/api")
