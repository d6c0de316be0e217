"""Schema-valid documents of small runs, as document logs (registering needs no stores)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import event_model

Documents = list[tuple[str, dict[str, Any]]]


def small_run(tag: str, i: int, store: Path, frames: int = 2) -> Documents:
    """A step scan: one camera (external Zarr array) and one motor, ``frames`` events."""
    t0 = time.time()
    bundle = event_model.compose_run(metadata={"plan_name": "count", "scan_id": i, "tag": tag})
    docs: Documents = [("start", dict(bundle.start_doc))]
    desc = bundle.compose_descriptor(
        name="primary",
        data_keys={
            "cam": {
                "source": "sim",
                "shape": [4, 4],
                "dtype": "array",
                "dtype_numpy": "<u2",
                "external": "STREAM:",
            },
            "m1": {"source": "sim", "shape": [], "dtype": "number"},
        },
        object_keys={"cam": ["cam"], "m1": ["m1"]},
    )
    docs.append(("descriptor", dict(desc.descriptor_doc)))
    resource = bundle.compose_stream_resource(
        mimetype="application/x-zarr",
        uri=store.as_uri(),
        data_key="cam",
        parameters={"array_key": "cam"},
    )
    docs.append(("stream_resource", dict(resource.stream_resource_doc)))
    for n in range(frames):
        datum = dict(resource.compose_stream_datum(indices={"start": n, "stop": n + 1}))
        datum["descriptor"] = desc.descriptor_doc["uid"]
        datum["seq_nums"] = {"start": n + 1, "stop": n + 2}
        docs.append(("stream_datum", datum))
        docs.append(
            ("event", dict(desc.compose_event(data={"m1": float(n)}, timestamps={"m1": t0})))
        )
    docs.append(("stop", dict(bundle.compose_stop())))
    return docs


def write_log(path: Path, docs: Documents) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for name, doc in docs:
            f.write(json.dumps({"name": name, "doc": doc}) + "\n")
