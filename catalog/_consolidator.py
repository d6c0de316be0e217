"""A Zarr consolidator for bluesky-tiled-plugins' ``TiledWriter``.

``TiledWriter`` has no consolidator for ``application/x-zarr``. Ours points the
asset at ``<store URI>/<array_key>`` (the StreamResource names the store and,
in its parameters, the array), which Tiled's Zarr adapter reads as an array.
"""

from __future__ import annotations

from typing import Any

from bluesky_tiled_plugins.writing.consolidators import CONSOLIDATOR_REGISTRY, ConsolidatorBase

from ..writers.model import ZARR_MIMETYPE

__all__ = ["STREAM_RESOURCE_KEY", "ZarrConsolidator", "install_zarr_consolidator"]

STREAM_RESOURCE_KEY = "zarrscribe_stream_resource"
"""Metadata key, on each array node, holding the StreamResource's URI and parameters."""


class ZarrConsolidator(ConsolidatorBase):  # type: ignore[misc]
    """Registers one array of a Zarr v3 store as external data (no bytes copied)."""

    supported_mimetypes = {ZARR_MIMETYPE}  # noqa: RUF012 (class attribute of the base)

    def __init__(self, stream_resource: Any, descriptor: Any) -> None:
        super().__init__(stream_resource, descriptor)
        array_key = stream_resource["parameters"].get("array_key", stream_resource["data_key"])
        asset = self.assets[0]
        asset.data_uri = f"{stream_resource['uri'].rstrip('/')}/{array_key}"
        asset.is_directory = True
        # Kept on the array's node, so documents read back from the catalog can
        # restore the StreamResource as it was (its exporter only knows the asset).
        self.metadata[STREAM_RESOURCE_KEY] = {
            "uri": stream_resource["uri"],
            "parameters": dict(stream_resource["parameters"]),
        }


def install_zarr_consolidator() -> None:
    """Make ``TiledWriter`` use :class:`ZarrConsolidator` for ``application/x-zarr``."""
    CONSOLIDATOR_REGISTRY[ZARR_MIMETYPE] = ZarrConsolidator
