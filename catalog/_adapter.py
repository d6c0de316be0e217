"""Tiled's Zarr adapter, able to serve one event stream's frames of a shared array.

An ophyd-async detector may reuse one StreamResource across a step stream and a fly
stream: its array holds both streams' frames, and each stream's node must serve only
its own (by the index ranges of that stream's StreamDatums). And the frames of a running
run's array are served as its live entry describes them, never more (the store grows
between two updates). Tiled 0.2.20's Zarr
adapter reads an array from frame 0 and takes no slice, so the array node of such a
stream carries a ``frames`` parameter (``[[start, stop], ...]``) in its data source,
read here. Arrays that a stream holds from frame 0 carry none and read as with stock
Tiled. Register this class for ``application/x-zarr`` (``adapters_by_mimetype``) in any
Tiled server that serves zarrscribe's catalog; ``zarrscribe serve`` and the embedded
catalog do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tiled.adapters.zarr import ZarrAdapter, ZarrArrayAdapter

from ..writers.model import ZARR_MIMETYPE

__all__ = ["FramesView", "ZarrFramesAdapter", "adapters_by_mimetype"]


class FramesView:
    """Read-only view of the frames ``ranges`` of a Zarr array, joined along axis 0."""

    def __init__(self, array: Any, ranges: list[list[int]]) -> None:
        self._array = array
        parts = [np.arange(int(a), int(b)) for a, b in ranges]
        self._index = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        self.shape = (len(self._index), *array.shape[1:])
        self.dtype = array.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = (*key[:i], *[slice(None)] * (self.ndim - len(key) + 1), *key[i + 1 :])
        if not key:
            key = (slice(None),)
        first, rest = key[0], key[1:]
        frames = self._index[first]
        if np.ndim(frames) == 0:
            return self._array[(int(frames), *rest)]
        if frames.size == 0:
            return self._array[(slice(0, 0), *rest)]
        if frames.size == 1 or bool(np.all(np.diff(frames) == 1)):
            return self._array[(slice(int(frames[0]), int(frames[-1]) + 1), *rest)]
        return self._array.oindex[(frames, *rest)]


class ZarrFramesAdapter(ZarrAdapter):  # type: ignore[misc]
    """Tiled's ``ZarrAdapter``, plus the ``frames`` data source parameter (see module)."""

    @classmethod
    def from_catalog(
        cls,
        data_source: Any,
        node: Any,
        /,
        frames: list[list[int]] | None = None,
        **kwargs: Any,
    ) -> Any:
        adapter = ZarrAdapter.from_catalog(data_source, node, **kwargs)
        if not isinstance(adapter, ZarrArrayAdapter):
            return adapter
        array = _opened_array(adapter)
        if frames is None:
            described = (data_source.structure.shape or [0])[0]
            if not array.shape or array.shape[0] <= described:
                return adapter
            # the store holds more frames than the entry describes (a running run's disk
            # ran ahead of its live entry): serve what the entry says, as its shape does
            frames = [[0, described]]
        view = FramesView(array, frames)
        return ZarrArrayAdapter(
            view, structure=data_source.structure, metadata=node.metadata_, specs=node.specs
        )


def _opened_array(adapter: Any) -> Any:
    """The Zarr array Tiled's adapter opened (file or object storage alike).

    Tiled 0.2.20 keeps it in the private ``_array``; reading it here, in this one
    place, saves repeating its storage handling (local paths, object stores)."""
    return adapter._array


def adapters_by_mimetype() -> dict[str, Any]:
    """What a Tiled catalog serving zarrscribe's runs needs beyond Tiled's own adapters."""
    return {ZARR_MIMETYPE: ZarrFramesAdapter}
