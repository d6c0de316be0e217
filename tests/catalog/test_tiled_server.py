"""The scale path: a real Tiled server (subprocess) on PostgreSQL, reached by URI and API key."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from bluesky import RunEngine, plans as bp

from tests._servers import free_port, postgres_databases, tiled_on_postgres
from tests.conftest import Rig
from zarrscribe.catalog import Catalog, CatalogError, CatalogUnavailableError
from zarrscribe.pipeline import Pipeline, fly_scan

API_KEY = secrets.token_hex(32)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with postgres_databases("zs", "_tables") as name:
        base = tmp_path_factory.mktemp("server") / "data"
        base.mkdir()
        with tiled_on_postgres(name, base, API_KEY, log=base.parent / "tiled-server.log") as uri:
            yield uri, base


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
        Catalog.from_uri(f"http://127.0.0.1:{free_port()}/api")
