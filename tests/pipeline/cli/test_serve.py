"""``zarrscribe serve`` over a demo's base directory, read with stock clients and raw HTTP."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import h5py
import httpx
import numpy as np
import pytest
import tifffile
from tiled.client import from_uri

from tests.pipeline.cli._server import Server, zarrscribe_serve
from tests.pipeline.cli.conftest import Demo
from zarrscribe.catalog import (
    Catalog,
    CatalogError,
    embedded_catalog,
    key_file,
    store_api_key,
    stored_api_key,
)
from zarrscribe.catalog._exporters import h5_attribute


@pytest.fixture(scope="module")
def server(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    assert demo.code == 0, demo.err
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with zarrscribe_serve("--base-dir", str(demo.base), log=log) as running:
        yield running


def _uids(server: Server, key: str) -> dict[str, str]:
    """plan name -> uid, through plain HTTP."""
    answer = httpx.get(f"{server.url}/api/v1/search/", headers={"Authorization": f"Apikey {key}"})
    answer.raise_for_status()
    return {
        r["attributes"]["metadata"]["start"]["plan_name"]: r["id"] for r in answer.json()["data"]
    }


def test_safe_by_default_key_made_once_loopback_401(server: Server, demo: Demo) -> None:
    key = server.key()
    assert len(key) == 64
    path = key_file(demo.base)
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert server.stdout[1].startswith(f"serving {demo.base.absolute()} at {server.url}/api")
    assert "reading and writing need the key" in server.stdout[1]
    assert server.stdout[2] == f"web UI: {server.url}/ui/?api_key={key}"  # opens with the key
    # without the key: nothing to read
    assert httpx.get(f"{server.url}/api/v1/search/").status_code == 401
    assert httpx.get(f"{server.url}/api/v1/metadata/").status_code == 401
    assert httpx.get(f"{server.url}/api/v1/search/", params={"api_key": key}).status_code == 200
    assert "Tiled version" not in server.log.read_text()
    # the web UI is served
    ui = httpx.get(f"{server.url}/ui/")
    assert ui.status_code == 200
    assert "text/html" in ui.headers["content-type"]


def test_stock_tiled_client_reads_runs_and_documents(server: Server) -> None:
    client = from_uri(server.url, api_key=server.key())
    assert type(client).__name__ == "CatalogOfBlueskyRuns"
    assert len(client) == 3
    run = client[2]  # by scan id, as bluesky users do
    assert type(run).__name__ == "BlueskyRunV3"
    assert run.start["plan_name"] == "scan"
    assert set(run["primary"]) >= {"cam1", "cam2", "stage_x"}
    np.testing.assert_array_equal(run["primary"]["stage_x"].read(), [0.0, 10.0])
    assert run["primary"]["cam1"].read().shape == (2, 512, 512)
    names = [name for name, _ in run.documents()]
    assert names[0] == "start"
    assert names[-1] == "stop"
    assert {"descriptor", "stream_resource", "stream_datum", "event"} <= set(names)
    client.context.close()


def test_exports_run_as_hdf5_and_frames_as_png_and_tiff(server: Server) -> None:
    key = server.key()
    headers = {"Authorization": f"Apikey {key}"}
    uid = _uids(server, key)["scan"]
    answer = httpx.get(
        f"{server.url}/api/v1/container/full/{uid}",
        params={"format": "application/x-hdf5"},
        headers=headers,
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    with h5py.File(io.BytesIO(answer.content)) as f:
        assert json.loads(f.attrs["start"])["plan_name"] == "scan"  # mappings as JSON text
        assert json.loads(f.attrs["zarrscribe"])["exit_status"] == "success"
        assert f["primary/cam1"].shape == (2, 512, 512)
        np.testing.assert_array_equal(f["primary/internal/stage_x"][()], [0.0, 10.0])
    for media, magic in (("image/png", b"\x89PNG"), ("image/tiff", b"II*\x00")):
        frame = httpx.get(
            f"{server.url}/api/v1/array/full/{uid}/primary/cam2",
            params={"format": media, "slice": "1"},
            headers=headers,
        )
        assert frame.status_code == 200, frame.text
        assert frame.content.startswith(magic)
    image = tifffile.imread(io.BytesIO(frame.content))
    assert image.shape == (256, 384)


def test_databroker_v2_api_reads_the_served_runs(server: Server) -> None:
    client = from_uri(server.url, api_key=server.key())
    dataset = client.v2[-1].primary.read()  # the newest: the fly scan
    assert dataset["cam3"].shape == (2, 128, 128)
    client.context.close()


def test_store_paths_are_relative_to_the_base_dir_through_the_server_too(
    server: Server, demo: Demo
) -> None:
    remote = Catalog.from_uri(f"{server.url}/api", api_key=server.key())
    local = embedded_catalog(demo.base)
    try:
        assert [r.stores for r in remote.search()] == [r.stores for r in local.search()]
        assert remote.search(plan_name="scan")[0].stores == ("demo/scan_00000/default.zarr",)
        # the rest of what `zarrscribe runs` asks, through Tiled's queries
        day = remote.search()[0].started.date()
        assert len(remote.search(until=day)) == len(remote.search(since=day)) == 3
        assert remote.search(until=day - timedelta(days=1)) == []
        assert remote.distinct("start.plan_name") == ["count", "fly_scan", "scan"]
        assert remote.distinct("zarrscribe.devices") == local.distinct("zarrscribe.devices")
    finally:
        remote.close()
        local.close()


def test_api_key_file_is_kept_private_outside_the_base_dir(tmp_path: Path) -> None:
    assert stored_api_key(tmp_path) is None
    path = store_api_key(tmp_path, "abc123")
    assert not path.is_relative_to(tmp_path)  # the server may read all of the base dir
    assert path == key_file(tmp_path / "." / "sub" / "..")  # one place per base dir
    assert key_file(tmp_path / "other") != path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stored_api_key(tmp_path) == "abc123"
    os.chmod(path, 0o644)
    with pytest.raises(CatalogError, match=r"readable by others \(mode 644\); run 'chmod 600"):
        stored_api_key(tmp_path)


def test_a_key_kept_under_the_base_dir_is_moved_out(tmp_path: Path) -> None:
    old = tmp_path / ".zarrscribe" / "server" / "api_key"
    old.parent.mkdir(parents=True)
    old.write_text("abc123\n")
    old.chmod(0o600)
    assert stored_api_key(tmp_path) == "abc123"
    assert not old.exists()
    assert not old.parent.exists()
    assert key_file(tmp_path).read_text() == "abc123\n"
    assert stat.S_IMODE(key_file(tmp_path).stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("value", "attribute"),
    [
        ({"a": 1}, '{"a": 1}'),
        (None, "null"),
        ([1, "x"], '[1, "x"]'),
        ([], "[]"),
        ([1, 2.5], [1, 2.5]),
        (["a", "b"], ["a", "b"]),
        ("text", "text"),
        (3, 3),
    ],
)
def test_metadata_that_hdf5_cannot_hold_becomes_json(value: object, attribute: object) -> None:
    assert h5_attribute(value) == attribute
