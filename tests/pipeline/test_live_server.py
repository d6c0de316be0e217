"""Live entries on a served catalog: a real Tiled server (subprocess) on PostgreSQL, the
pipeline writing over HTTP, a stock Tiled client and our Catalog reading while it runs."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from bluesky import RunEngine, plans as bp

from tests._servers import postgres_databases, tiled_on_postgres
from tests.conftest import RecordingCamera
from zarrscribe.catalog import Catalog, RunNotFoundError
from zarrscribe.pipeline import Pipeline, SimLight
from zarrscribe.writers import ZarrWriter
from zarrscribe.writers.model import ATTRIBUTES_KEY, RUNNING

API_KEY = secrets.token_hex(32)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with postgres_databases("zslive", "_tables") as name:
        base = tmp_path_factory.mktemp("server") / "data"
        base.mkdir()
        with tiled_on_postgres(name, base, API_KEY, log=base.parent / "tiled-server.log") as uri:
            yield uri, base


def test_a_running_run_grows_on_a_served_catalog(server: tuple[str, Path]) -> None:
    from tiled.client import from_uri
    from tiled.client.utils import ClientError

    uri, base = server
    writer = ZarrWriter("default", shard_frames=4)
    cam = RecordingCamera("cam1", writer, shape=(16, 16), exposure=0.0, seed=5)
    light = SimLight("light")
    pipeline = Pipeline(
        [cam, light], base_dir=base, catalog=uri, api_key=API_KEY, live_interval=0.2
    )
    RE = RunEngine({}, context_managers=[])
    pipeline.subscribe(RE)
    thread = threading.Thread(
        target=RE, args=(bp.count([cam, light], num=200, delay=0.1),), daemon=True
    )
    thread.start()
    catalog = Catalog.from_uri(uri, api_key=API_KEY)  # another reader
    client = from_uri(uri, api_key=API_KEY)  # stock Tiled client
    seen: list[tuple[int, int]] = []
    uid, read = "", False
    deadline = time.monotonic() + 180
    while thread.is_alive() and time.monotonic() < deadline:
        running = catalog.search(exit_status=RUNNING)  # (empty while an update replaces it)
        if running:
            uid = running[0].uid
            try:
                ours = catalog.metadata(uid)[ATTRIBUTES_KEY]
            except (KeyError, RunNotFoundError):  # replaced under us (a server's entry is
                continue  # made again: deleted, created, our metadata last)
            frames = ours["arrays"]["cam1"]["shape"][0] if "cam1" in ours["arrays"] else 0
            state = (running[0].num_events.get("primary", 0), frames)
            if not seen or seen[-1] != state:
                seen.append(state)
            if frames >= 8 and not read:
                try:
                    node = client[uid]  # a BlueskyRun, as TiledWriter's live runs are
                    assert node.metadata[ATTRIBUTES_KEY]["exit_status"] == RUNNING
                    assert "stop" not in node.metadata
                    data = node["primary"]["cam1"].read()
                except (KeyError, ClientError):  # replaced under us by an update (a server's
                    continue  # is delete, then create): read it again
                np.testing.assert_array_equal(data, np.stack(cam.pushed[: len(data)]))
                read = True
        time.sleep(0.1)
    thread.join(60)
    assert not thread.is_alive()
    assert len(seen) >= 2, seen  # (an update over HTTP takes ~0.2-1 s: one per 2-10 s)
    assert seen == sorted(seen), seen
    assert read
    assert pipeline.flush(120), pipeline.registrations.failures
    final = catalog.metadata(uid)[ATTRIBUTES_KEY]
    assert final["exit_status"] == "success"
    assert final["arrays"]["cam1"]["shape"][0] == 200
    assert [r.uid for r in catalog.search()] == [uid]  # once
    assert all(not r.changed for r in pipeline.replay(check=True))
    pipeline.close()
    catalog.close()
    client.context.close()
