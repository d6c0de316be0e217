"""A data folder whose path has spaces, non-ASCII characters or a literal '%': every array
reads back through Tiled (our catalog, the stock client, a served catalog), also from a
catalog written before asset URIs were stored the way Tiled reads them."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from bluesky import RunEngine, plans as bp

from tests.conftest import Rig
from tests.pipeline.cli._server import Server, zarrscribe_serve
from zarrscribe.catalog import CatalogError, embedded_catalog, stored_api_key
from zarrscribe.pipeline import Pipeline
from zarrscribe.pipeline.cli import main as cli

ODD = Path("data dir") / "ünï 100%"
"""A space, non-ASCII letters and a literal percent sign (which must not be decoded)."""


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray], str]:
    """A data folder at an odd path with one registered count run: (base, frames, uid)."""
    base = tmp_path_factory.mktemp("odd") / ODD
    rig = Rig()
    with Pipeline(rig.devices, base_dir=base, session="s") as pipeline:
        RE = RunEngine({}, call_returns_result=True)
        pipeline.subscribe(RE)
        (uid,) = RE(bp.count([rig.cam1, rig.cam3], num=3)).run_start_uids
        assert pipeline.flush(120), pipeline.registrations.failures
    frames = {cam.name: np.stack(cam.pushed) for cam in (rig.cam1, rig.cam3)}
    return base, frames, uid


@pytest.fixture
def data(odd: tuple[Path, dict[str, np.ndarray], str], tmp_path: Path) -> Path:
    base = tmp_path / ODD
    shutil.copytree(odd[0], base, symlinks=True)
    return base


def _asset_uris(base: Path) -> list[str]:
    with sqlite3.connect(base / ".zarrscribe" / "catalog" / "catalog.db") as db:
        return [uri for (uri,) in db.execute("SELECT data_uri FROM assets")]


def test_arrays_read_through_the_embedded_catalog(
    odd: tuple[Path, dict[str, np.ndarray], str],
) -> None:
    base, frames, uid = odd
    catalog = embedded_catalog(base)
    try:
        for key, expected in frames.items():
            np.testing.assert_array_equal(catalog.read_array(uid, key), expected)
        # the stock client of the same catalog
        run = catalog.client[uid]
        np.testing.assert_array_equal(run["primary"]["cam1"].read(), frames["cam1"])
    finally:
        catalog.close()
    # stored as Tiled itself writes a path (ensure_uri: not percent-encoded)
    assert any(f"{ODD}/s/count_00000/default.zarr/cam1" in uri for uri in _asset_uris(base))


@pytest.fixture(scope="module")
def served(
    odd: tuple[Path, dict[str, np.ndarray], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("serve-odd") / "serve.log"
    with zarrscribe_serve("--base-dir", str(odd[0]), log=log) as running:
        yield running


def test_arrays_read_from_a_served_catalog(
    odd: tuple[Path, dict[str, np.ndarray], str], served: Server
) -> None:
    from tiled.client import from_uri

    _, frames, uid = odd
    client = from_uri(served.url, api_key=served.key())
    try:
        for key, expected in frames.items():
            np.testing.assert_array_equal(client[uid]["primary"][key].read(), expected)
    finally:
        client.context.close()


def _encode_as_before(data: Path, was: Path) -> None:
    """Make the catalog of ``data`` (a copy of the folder at ``was``) what versions
    before this one left: ``Path.as_uri()`` store URIs, a marker without ``uris``."""
    database = data / ".zarrscribe" / "catalog" / "catalog.db"
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT id, data_uri FROM assets WHERE data_uri LIKE 'file:%'")
        for asset_id, uri in rows.fetchall():
            path = uri.split("://", 1)[1].removeprefix("localhost")
            db.execute(
                "UPDATE assets SET data_uri = ? WHERE id = ?", ("file://" + quote(path), asset_id)
            )
    marker = data / ".zarrscribe" / "catalog" / "location.json"
    marker.write_text(json.dumps({"base_dir": str(was)}))
    assert any("%20" in uri for uri in _asset_uris(data))


def test_a_catalog_with_percent_encoded_uris_is_read_and_migrated(
    data: Path, odd: tuple[Path, dict[str, np.ndarray], str]
) -> None:
    """Catalogs written before stored ``Path.as_uri()`` (``file:///data%20dir/...``)."""
    _, frames, uid = odd
    _encode_as_before(data, odd[0])
    catalog = embedded_catalog(data)
    try:
        np.testing.assert_array_equal(catalog.read_array(uid, "cam1"), frames["cam1"])
    finally:
        catalog.close()
    # Reading wrote nothing; the next registration migrates them for good.
    assert any("%20" in uri for uri in _asset_uris(data))
    assert cli(["replay", "--all", "--check", "--base-dir", str(data)]) == 0
    assert any("%20" in uri for uri in _asset_uris(data))
    rig = Rig()
    with Pipeline(rig.devices, base_dir=data, session="s") as pipeline:
        RE = RunEngine({}, call_returns_result=True)
        pipeline.subscribe(RE)
        (new,) = RE(bp.count([rig.cam3], num=2)).run_start_uids
        assert pipeline.flush(120), pipeline.registrations.failures
        catalog = pipeline.connect_catalog()
        np.testing.assert_array_equal(catalog.read_array(uid, "cam3"), frames["cam3"])
        np.testing.assert_array_equal(catalog.read_array(new, "cam3"), np.stack(rig.cam3.pushed))
    assert not any("%20" in uri for uri in _asset_uris(data))


def test_a_path_tiled_cannot_name_gets_one_line(tmp_path: Path, rig: Rig) -> None:
    """'#' and '?' end a URI's path, and Tiled reads file URIs without decoding them:
    no URI can name such a folder for Tiled. The run is registered (found by queries);
    reading its arrays through Tiled says why it cannot."""
    base = tmp_path / "run #7"
    with Pipeline(rig.devices, base_dir=base) as pipeline:
        RE = RunEngine({}, call_returns_result=True)
        pipeline.subscribe(RE)
        (uid,) = RE(bp.count([rig.cam1], num=2)).run_start_uids
        assert pipeline.flush(120), pipeline.registrations.failures
        catalog = pipeline.connect_catalog()
        assert [r.uid for r in catalog.search()] == [uid]
        with pytest.raises(CatalogError, match=r"'#'.*move the data folder") as e:
            catalog.read_array(uid, "cam1")
        assert "\n" not in str(e.value)


def test_a_served_catalog_with_percent_encoded_uris_is_migrated_and_read(
    data: Path, odd: tuple[Path, dict[str, np.ndarray], str], tmp_path: Path
) -> None:
    """``zarrscribe serve`` (a server takes writes) brings an older catalog up to date."""
    from tiled.client import from_uri

    _, frames, uid = odd
    _encode_as_before(data, odd[0])
    with zarrscribe_serve("--base-dir", str(data), log=tmp_path / "serve.log") as server:
        client = from_uri(server.url, api_key=stored_api_key(data))
        try:
            np.testing.assert_array_equal(client[uid]["primary"]["cam3"].read(), frames["cam3"])
        finally:
            client.context.close()
    assert not any("%20" in uri for uri in _asset_uris(data))
