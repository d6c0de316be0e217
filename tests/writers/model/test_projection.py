"""The run model: pure projections of documents and of what is readable on disk."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import event_model

from zarrscribe.writers.model import (
    ATTRIBUTES_KEY,
    INCOMPLETE,
    ZARR_MIMETYPE,
    RunProjection,
    RunRecord,
    differences,
    downgrades,
    without_written_at,
)

Docs = list[tuple[str, dict[str, Any]]]


def _run(frames: dict[str, int], *, stop: bool = True, md: dict[str, Any] | None = None) -> Docs:
    bundle = event_model.compose_run(metadata={"plan_name": "count", **(md or {})})
    keys = {
        k: {
            "source": "x",
            "shape": [4, 4],
            "dtype": "array",
            "dtype_numpy": "<u2",
            "external": "STREAM:",
        }
        for k in frames
    }
    desc = bundle.compose_descriptor(name="primary", data_keys=keys)  # type: ignore[arg-type]
    docs: Docs = [("start", dict(bundle.start_doc)), ("descriptor", dict(desc.descriptor_doc))]
    for key, n in frames.items():
        res = bundle.compose_stream_resource(
            mimetype=ZARR_MIMETYPE,
            uri="file:///data/s/count_00000/default.zarr",
            data_key=key,
            parameters={"array_key": key},
        )
        docs.append(("stream_resource", dict(res.stream_resource_doc)))
        for start in range(0, n, 2):
            datum = res.compose_stream_datum(
                indices={"start": start, "stop": min(start + 2, n)},
                seq_nums={"start": start + 1, "stop": min(start + 2, n) + 1},
                descriptor=desc.descriptor_doc,
            )
            docs.append(("stream_datum", dict(datum)))
    if stop:
        docs.append(("stop", dict(bundle.compose_stop())))
    return docs


def _projection(docs: Docs, on_disk: dict[str, int] | None) -> RunProjection:
    uri = "file:///data/s/count_00000/default.zarr"
    disk = None if on_disk is None else {(uri, k): n for k, n in on_disk.items()}
    return RunProjection(RunRecord.from_documents(docs), disk, base_dir="/data")


def test_everything_readable_is_success_with_relative_paths() -> None:
    p = _projection(_run({"cam1": 5}), {"cam1": 5})
    assert p.exit_status == "success"
    attrs = p.store_attributes("file:///data/s/count_00000/default.zarr")[ATTRIBUTES_KEY]
    assert attrs["arrays"]["cam1"]["shape"] == [5, 4, 4]
    assert attrs["arrays"]["cam1"]["store"] == "s/count_00000/default.zarr"
    assert attrs["missing"] == {}


def test_fewer_frames_on_disk_than_announced_is_incomplete_and_says_both_counts() -> None:
    docs = _run({"cam1": 6, "cam2": 6})
    p = _projection(docs, {"cam1": 3})  # cam2: nothing readable
    assert p.exit_status == INCOMPLETE
    assert p.missing() == {
        "cam1": {"announced": 6, "readable": 3},
        "cam2": {"announced": 6, "readable": 0},
    }
    assert "cam1 3 of 6" in p.reason
    catalog = list(p.catalog_documents(docs))
    assert [d["data_key"] for n, d in catalog if n == "stream_resource"] == ["cam1"]
    stops = [d["indices"]["stop"] for n, d in catalog if n == "stream_datum"]
    assert max(stops) == 3  # clipped to what is readable
    assert catalog[-1][0] == "stop"  # the run's own stop


def test_a_run_without_stop_gets_a_deterministic_recovered_stop() -> None:
    docs = _run({"cam1": 2}, stop=False)
    first = list(_projection(docs, {"cam1": 2}).catalog_documents(docs))[-1]
    again = list(_projection(docs, {"cam1": 2}).catalog_documents(docs))[-1]
    assert first == again
    assert first[0] == "stop"
    assert first[1]["exit_status"] == "fail"
    assert _projection(docs, {"cam1": 2}).exit_status == INCOMPLETE


def test_without_disk_knowledge_the_documents_are_trusted() -> None:
    assert _projection(_run({"cam1": 4}), None).exit_status == "success"


def test_nan_metadata_compares_equal_to_what_json_stores() -> None:
    p = _projection(_run({"cam1": 1}, md={"temperature": math.nan}), {"cam1": 1})
    written = without_written_at(p.catalog_metadata(None))
    stored = {ATTRIBUTES_KEY: dict(written[ATTRIBUTES_KEY])}
    assert differences("x", {"a": math.nan}, {"a": None}) == []
    assert differences("x", stored, written) == []


def test_the_catalog_entry_says_when_the_run_started_in_words() -> None:
    docs = _run({"cam1": 1})
    start = dict(docs[0][1])
    ours = _projection(docs, {"cam1": 1}).catalog_metadata(None)[ATTRIBUTES_KEY]
    expected = datetime.fromtimestamp(start["time"], UTC).isoformat(timespec="seconds")
    assert ours["started"] == expected
    assert expected.endswith("+00:00")  # the same on every machine (replay compares it)


def test_downgrades_name_what_would_be_lost() -> None:
    good = _projection(_run({"cam1": 4}), {"cam1": 4}).catalog_metadata(None)
    worse = _projection(_run({"cam1": 4}, stop=False), {"cam1": 2}).catalog_metadata(None)
    lost = downgrades(good, worse)
    assert "exit status success -> incomplete" in lost
    assert "array 'cam1' 4 -> 2 frames" in lost
    assert downgrades(worse, good) == []


def test_pixel_size_comes_from_the_configuration_of_the_data_key_s_device() -> None:
    bundle = event_model.compose_run()
    key = {"source": "x", "shape": [4, 4], "dtype": "array", "external": "STREAM:"}

    def config(data: dict[str, Any]) -> dict[str, Any]:
        return {"data": data, "timestamps": dict.fromkeys(data, 0.0), "data_keys": {}}

    desc = bundle.compose_descriptor(
        name="primary",
        data_keys={"cam1": key, "det-image": key, "cam3": key},
        object_keys={"cam1": ["cam1"], "det": ["det-image"], "cam3": ["cam3"]},
        configuration={
            "cam1": config({"cam1-pixel_size": [0.65, 0.5], "cam1-pixel_size_units": "nm"}),
            "det": config({"pixel_size": 2.0}),  # bare keys, another data key than its name
            "cam3": config({"cam3-exposure": 0.1}),
        },
    )
    record = RunRecord.from_documents(
        [("start", dict(bundle.start_doc)), ("descriptor", dict(desc.descriptor_doc))]
    )
    assert record.pixel_size("cam1") == ([0.65, 0.5], "nm")
    assert record.pixel_size("det-image") == (2.0, None)
    assert record.pixel_size("cam3") == (None, None)
    assert record.pixel_size("nothing") == (None, None)
