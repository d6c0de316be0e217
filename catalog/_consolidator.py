"""A Zarr consolidator for bluesky-tiled-plugins' ``TiledWriter``.

``TiledWriter`` has no consolidator for ``application/x-zarr``. Ours points the
asset at ``<store URI>/<array_key>`` (the StreamResource names the store and,
in its parameters, the array), which Tiled's Zarr adapter reads as an array.

One consolidator serves one event stream's part of a StreamResource (our planner
makes one per resource and stream). Where that part does not start at the array's
first frame (a resource shared by a step stream and then a fly stream), the data
source gets the ``frames`` parameter read by :class:`ZarrFramesAdapter`.
"""

from __future__ import annotations

from typing import Any

from bluesky_tiled_plugins.writing.consolidators import CONSOLIDATOR_REGISTRY, ConsolidatorBase

from ..writers.model import FRAMES_PARAMETER, ZARR_MIMETYPE, stream_frames
from ._tiled import tiled_file_uri

__all__ = [
    "STREAM_RESOURCE_KEY",
    "ZarrConsolidator",
    "install_zarr_consolidator",
    "restore_stream_documents",
]

STREAM_RESOURCE_KEY = "zarrscribe_stream_resource"
"""Metadata key, on each array node, holding the StreamResource's URI and parameters."""


class ZarrConsolidator(ConsolidatorBase):  # type: ignore[misc]
    """Registers one array of a Zarr v3 store as external data (no bytes copied)."""

    supported_mimetypes = {ZARR_MIMETYPE}  # noqa: RUF012 (class attribute of the base)

    def __init__(self, stream_resource: Any, descriptor: Any) -> None:
        super().__init__(stream_resource, descriptor)
        array_key = stream_resource["parameters"].get("array_key", stream_resource["data_key"])
        asset = self.assets[0]
        asset.data_uri = tiled_file_uri(f"{stream_resource['uri'].rstrip('/')}/{array_key}")
        asset.is_directory = True
        # Kept on the array's node, so documents read back from the catalog can
        # restore the StreamResource as it was (its exporter only knows the asset).
        self.metadata[STREAM_RESOURCE_KEY] = {
            "uri": stream_resource["uri"],
            "parameters": dict(stream_resource["parameters"]),
            "uid": stream_resource["uid"],
            "frames": [],
        }
        self._ranges: list[list[int]] = self.metadata[STREAM_RESOURCE_KEY]["frames"]

    def consume_stream_datum(self, doc: Any) -> Any:
        """Count the datum's frames, and keep its index range (this stream's frames)."""
        start, stop = int(doc["indices"]["start"]), int(doc["indices"]["stop"])
        if self._ranges and self._ranges[-1][1] == start:
            self._ranges[-1][1] = stop
        elif stop > start:
            self._ranges.append([start, stop])
        return super().consume_stream_datum(doc)

    def adapter_parameters(self) -> dict[str, Any]:
        frames = stream_frames(self._ranges)
        return {} if frames is None else {FRAMES_PARAMETER: frames}


def install_zarr_consolidator() -> None:
    """Make ``TiledWriter`` use :class:`ZarrConsolidator` for ``application/x-zarr``."""
    CONSOLIDATOR_REGISTRY[ZARR_MIMETYPE] = ZarrConsolidator


def restore_stream_documents(
    docs: list[tuple[str, dict[str, Any]]], saved: dict[tuple[str, str], Any]
) -> list[tuple[str, dict[str, Any]]]:
    """``docs`` exported by bluesky-tiled-plugins, with each stream resource's uid, URI
    and parameters, and each stream datum's frame ranges, as the run gave them
    (``saved``: what our consolidator kept per (stream, data key) node)."""
    streams = {doc["uid"]: doc["name"] for name, doc in docs if name == "descriptor"}
    by_exported: dict[str, Any] = {}
    for desc_uid, stream in streams.items():
        for (node_stream, key), value in saved.items():
            if node_stream == stream:
                by_exported[f"sr-{desc_uid}-{key}"] = value  # the exporter's uid
    out: list[tuple[str, dict[str, Any]]] = []
    emitted: set[str] = set()
    renamed: dict[str, str] = {}
    for name, doc in docs:
        value = by_exported.get(doc["uid"]) if name == "stream_resource" else None
        if value is not None:
            original = str(value.get("uid") or doc["uid"])
            renamed[doc["uid"]] = original
            if original in emitted:
                continue  # one resource shared by several streams: once
            emitted.add(original)
            doc = {**doc, "uri": value["uri"], "parameters": value["parameters"], "uid": original}
        elif name == "stream_datum" and doc["stream_resource"] in renamed:
            value = by_exported[doc["stream_resource"]]
            out.extend(("stream_datum", d) for d in _datums(doc, renamed, value.get("frames")))
            continue
        out.append((name, doc))
    return out


def _datums(doc: dict[str, Any], renamed: dict[str, str], frames: Any) -> list[dict[str, Any]]:
    """The exported datum ``doc`` as one datum per saved frame range of its stream."""
    sres = renamed[doc["stream_resource"]]
    count = int(doc["indices"]["stop"]) - int(doc["indices"]["start"])
    if not frames or sum(int(b) - int(a) for a, b in frames) != count:
        return [{**doc, "stream_resource": sres}]
    out, seq = [], int(doc["seq_nums"]["start"])
    for i, (a, b) in enumerate(frames):
        out.append(
            {
                **doc,
                "uid": f"{doc['uid']}-{i}" if i else doc["uid"],
                "stream_resource": sres,
                "indices": {"start": int(a), "stop": int(b)},
                "seq_nums": {"start": seq, "stop": seq + int(b) - int(a)},
            }
        )
        seq += int(b) - int(a)
    return out
