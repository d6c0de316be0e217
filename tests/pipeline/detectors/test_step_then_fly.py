"""One staging of a plain ophyd-async StandardDetector serves a step stream and then a
fly stream: its data provider (and so one StreamResource) is reused, and each stream
must see exactly its own frames (by datum ranges) on disk, in the catalog entry, through
Tiled, BlueskyRun (v3 and databroker v2) and replay."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
import pytest
import zarr
from bluesky.utils import Msg
from ophyd_async.core import StandardDetector, TriggerInfo

from tests.pipeline.detectors._plain import Done, frame, one_run
from zarrscribe.catalog import CatalogError
from zarrscribe.catalog._http import write_tiled_writer
from zarrscribe.writers import read_store_attributes
from zarrscribe.writers.model import ATTRIBUTES_KEY, RunRecord

SHAPE = (6, 8)
STEP, FLY = [0, 1], [2, 3, 4, 5]


def _frames(numbers: list[int]) -> np.ndarray:
    return np.stack([frame(i, SHAPE) for i in numbers])


def step_then_fly(det: StandardDetector) -> Generator[Msg, Any, None]:
    @bpp.run_decorator(md={"plan_name": "step_then_fly"})
    def inner() -> Generator[Msg, Any, None]:
        for _ in STEP:
            yield from bps.trigger_and_read([det])  # primary
        # the same staging, the same provider: ophyd-async reuses it (same collections)
        yield from bps.prepare(det, TriggerInfo(number_of_events=len(FLY)), wait=True)
        yield from bps.declare_stream(det, name="fly", collect=True)
        yield from bps.kickoff(det, wait=True)
        yield from bps.complete(det, wait=True)
        yield from bps.collect(det, name="fly")

    yield from bpp.stage_wrapper(inner(), [det])


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Done]:
    base_dir = tmp_path_factory.mktemp("stf") / "data"
    with one_run(base_dir, SHAPE, lambda det, _: (step_then_fly(det), [])) as done:
        yield done


def test_one_resource_serves_both_streams(done: Done) -> None:
    resources = [d for n, d in done.docs if n == "stream_resource"]
    datums = [d for n, d in done.docs if n == "stream_datum"]
    assert len(resources) == 1
    assert len({d["descriptor"] for d in datums}) == 2
    record = RunRecord.from_documents(done.docs)
    (array,) = record.arrays.values()
    assert array.ranges == {"primary": [(0, 2)], "fly": [(2, 6)]}


def test_zarr_holds_every_frame_and_the_attributes_say_whose(done: Done) -> None:
    group = zarr.open_group(done.store, mode="r")
    np.testing.assert_array_equal(group["det/0"][:], _frames(STEP + FLY))
    entry = read_store_attributes(done.store)[ATTRIBUTES_KEY]["arrays"]["det"]
    assert entry["shape"] == [6, *SHAPE]
    assert entry["stream"] is None  # several streams share it
    assert entry["streams"] == {"primary": [[0, 2]], "fly": [[2, 6]]}
    for stream, numbers in (("primary", STEP), ("fly", FLY)):
        (a, b), *_ = entry["streams"][stream]
        np.testing.assert_array_equal(group["det/0"][a:b], _frames(numbers))


def test_catalog_entry_files_each_stream_under_its_own_name(done: Done) -> None:
    ours = done.catalog.metadata(done.uid)[ATTRIBUTES_KEY]
    assert ours["arrays"]["det"]["streams"] == {"primary": [[0, 2]], "fly": [[2, 6]]}
    assert done.catalog.metadata(done.uid)["stop"]["num_events"] == {"primary": 2, "fly": 4}


def test_tiled_serves_each_stream_its_own_frames(done: Done) -> None:
    run = done.catalog.run(done.uid)
    np.testing.assert_array_equal(run["primary"]["det"].read(), _frames(STEP))
    np.testing.assert_array_equal(run["fly"]["det"].read(), _frames(FLY))
    assert run["fly"]["det"].shape == (4, *SHAPE)
    np.testing.assert_array_equal(run["fly"]["det"][1], frame(3, SHAPE))  # a slice
    np.testing.assert_array_equal(run["fly"]["det"][1:3, 2], _frames([3, 4])[:, 2])
    np.testing.assert_array_equal(
        done.catalog.read_array(done.uid, "det", stream="fly"), _frames(FLY)
    )
    with pytest.raises(CatalogError, match=r"array 'det' in streams \[.*'fly'.*\]; pass stream="):
        done.catalog.read_array(done.uid, "det")


def test_bluesky_run_clients_read_each_stream(done: Done) -> None:
    run = done.catalog.client[done.uid]  # BlueskyRun v3
    assert type(run).__name__.startswith("BlueskyRun")
    np.testing.assert_array_equal(run["fly"]["det"].read(), _frames(FLY))
    v2 = done.catalog.client.v2[done.uid]  # databroker's API
    np.testing.assert_array_equal(v2.primary.read()["det"].values, _frames(STEP))
    np.testing.assert_array_equal(v2.fly.read()["det"].values, _frames(FLY))


def test_documents_from_the_catalog_restore_the_ranges(done: Done) -> None:
    docs = done.catalog.documents(done.uid)
    resources = [d for n, d in docs if n == "stream_resource"]
    assert [r["uid"] for r in resources] == [
        d["uid"] for n, d in done.docs if n == "stream_resource"
    ]
    (array,) = RunRecord.from_documents(docs).arrays.values()
    assert array.ranges == {"primary": [(0, 2)], "fly": [(2, 6)]}


def test_replay_changes_nothing_and_notices_a_wrongly_filed_entry(done: Done) -> None:
    (report,) = done.pipeline.replay(done.uid, check=True)
    assert report.ok, report.error
    assert not report.changed, report.differences
    # file the entry as bluesky-tiled-plugins' TiledWriter does (every frame under the
    # stream of the first datum), with our metadata unchanged: replay must notice
    metadata = {ATTRIBUTES_KEY: done.catalog.metadata(done.uid)[ATTRIBUTES_KEY]}
    done.catalog.delete_run(done.uid)
    write_tiled_writer(done.catalog.client, done.docs, metadata)
    assert done.catalog.run(done.uid)["primary"]["det"].shape[0] == 6
    (report,) = done.pipeline.replay(done.uid, check=True)
    assert report.changed
    assert any("primary" in d and "det" in d for d in report.differences), report.differences
    (report,) = done.pipeline.replay(done.uid)
    np.testing.assert_array_equal(done.catalog.run(done.uid)["fly"]["det"].read(), _frames(FLY))
    (report,) = done.pipeline.replay(done.uid, check=True)
    assert not report.changed, report.differences
