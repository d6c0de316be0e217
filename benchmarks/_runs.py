"""Synthetic but schema-valid documents of small runs, and their document logs.

For the catalog and replay benchmarks (``from _runs import ...``) and the catalog
tests (``from benchmarks._runs import ...``: the repository root is on ``sys.path``
under pytest and in the tests' ``python -m`` children).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import event_model

Documents = list[tuple[str, dict[str, Any]]]


def small_run(
    i: int,
    store_uri: str,
    *,
    frames: int = 3,
    frame_shape: tuple[int, int] = (8, 8),
    plan_name: str | None = None,
    array_key: str = "cam",
) -> Documents:
    """Documents of a step scan: one camera (stream data) and one motor, ``frames`` events.

    ``array_key``: the camera's array in its store (``"cam/0"`` in one
    :func:`write_store` makes, the OME-Zarr layout; ``"cam"`` names none of it)."""
    t0 = time.time()
    bundle = event_model.compose_run(
        metadata={
            "plan_name": plan_name or ("count", "scan", "fly_scan")[i % 3],
            "scan_id": i + 1,
            "sample": f"s{i % 7}",
        },
        time=t0,
    )
    docs: Documents = [("start", dict(bundle.start_doc))]
    desc = bundle.compose_descriptor(
        name="primary",
        data_keys={
            "cam": {
                "source": "sim",
                "shape": list(frame_shape),
                "dtype": "array",
                "dtype_numpy": "<u2",
                "external": "STREAM:",
            },
            "m1": {"source": "sim", "shape": [], "dtype": "number"},
        },
        object_keys={"cam": ["cam"], "m1": ["m1"]},
        configuration={
            "cam": {
                "data": {"cam-exposure": 0.1},
                "timestamps": {"cam-exposure": t0},
                "data_keys": {"cam-exposure": {"source": "sim", "dtype": "number", "shape": []}},
            }
        },
    )
    docs.append(("descriptor", dict(desc.descriptor_doc)))
    resource = bundle.compose_stream_resource(
        mimetype="application/x-zarr",
        uri=store_uri,
        data_key="cam",
        parameters={"array_key": array_key, "chunk_shape": [1, *frame_shape]},
    )
    docs.append(("stream_resource", dict(resource.stream_resource_doc)))
    for n in range(frames):
        datum = resource.compose_stream_datum(indices={"start": n, "stop": n + 1})
        datum_doc = dict(datum)
        datum_doc["descriptor"] = desc.descriptor_doc["uid"]
        datum_doc["seq_nums"] = {"start": n + 1, "stop": n + 2}
        docs.append(("stream_datum", datum_doc))
        docs.append(
            ("event", dict(desc.compose_event(data={"m1": float(n)}, timestamps={"m1": t0})))
        )
    docs.append(("stop", dict(bundle.compose_stop())))
    return docs


def write_store(path: Path, frames: int = 3, frame_shape: tuple[int, int] = (8, 8)) -> None:
    """A real Zarr store at ``path`` with ``frames`` frames of source ``cam``: an OME-Zarr
    image, its array at ``cam/0`` (what :func:`small_run` with ``array_key="cam/0"``
    describes)."""
    import numpy as np

    from zarrscribe.writers import ZarrWriter

    writer = ZarrWriter()
    writer.set_uri(str(path))
    writer.register("cam", np.uint16, frame_shape)
    writer.open("cam")
    for f in range(frames):
        writer.write_frame("cam", np.full(frame_shape, f, np.uint16))
    writer.close()


def write_log(path: Path, docs: Documents) -> None:
    """``docs`` as a document log (one JSON object a line), its folder made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for name, doc in docs:
            f.write(json.dumps({"name": name, "doc": doc}) + "\n")
