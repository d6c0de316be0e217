from __future__ import annotations

from pathlib import Path
from typing import Any

import event_model

from zarrscribe.callbacks import Finisher
from zarrscribe.writers import read_store_attributes
from zarrscribe.writers.model import ATTRIBUTES_KEY


class Registry:
    def __init__(self) -> None:
        self.submitted: list[tuple[str, Path]] = []

    def submit(self, run_uid: str, log: Path) -> None:
        self.submitted.append((run_uid, log))


def _documents(zarr_uri: str, other_uri: str) -> list[tuple[str, dict[str, Any]]]:
    bundle = event_model.compose_run(metadata={"plan_name": "count"})
    desc = bundle.compose_descriptor(
        name="primary",
        data_keys={
            key: {
                "source": "x",
                "shape": [2, 2],
                "dtype": "array",
                "dtype_numpy": "<u2",
                "external": "STREAM:",
            }
            for key in ("cam", "h5cam")
        },
    )
    zarr_res = bundle.compose_stream_resource(
        mimetype="application/x-zarr", uri=zarr_uri, data_key="cam", parameters={}
    )
    h5_res = bundle.compose_stream_resource(
        mimetype="application/x-hdf5", uri=other_uri, data_key="h5cam", parameters={}
    )
    return [
        ("start", dict(bundle.start_doc)),
        ("descriptor", dict(desc.descriptor_doc)),
        ("stream_resource", dict(zarr_res.stream_resource_doc)),
        ("stream_resource", dict(h5_res.stream_resource_doc)),
        ("stop", dict(bundle.compose_stop())),
    ]


def test_attributes_go_into_zarr_stores_only_and_the_run_is_submitted(tmp_path: Path) -> None:
    zarr_store, h5_file = tmp_path / "run" / "default.zarr", tmp_path / "run" / "data.h5"
    registry = Registry()
    log = tmp_path / "run" / "documents.jsonl"
    finisher = Finisher(log=log, base_dir=tmp_path, leases=None, registry=registry)
    for name, doc in _documents(zarr_store.as_uri(), h5_file.as_uri()):
        finisher(name, doc)
    attrs = read_store_attributes(zarr_store)[ATTRIBUTES_KEY]
    assert attrs["run"]["exit_status"] == "success"
    assert not h5_file.exists()  # not a Zarr store: left alone
    assert registry.submitted == [(attrs["run"]["uid"], log)]
    assert attrs["arrays"]["cam"]["store"] == "run/default.zarr"  # relative to the base dir
