"""StreamResource and StreamDatum documents of one source, built with event-model's composers.

The composers validate every document against the event-model schema where it
is made. The RunEngine fills in what only it knows: the StreamResource's
``run_start`` and the StreamDatum's ``descriptor`` and ``seq_nums`` (it refuses a
StreamDatum whose ``descriptor`` is already set), so they are left empty here.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING

from event_model import ComposeStreamResource, StreamRange

from .model import ZARR_MIMETYPE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bluesky.protocols import StreamAsset
    from event_model import ComposeStreamResourceBundle

    from ._sources import SourceInfo

__all__ = ["StreamDocuments"]


class StreamDocuments:
    """Stream documents of one source in one acquisition.

    The StreamResource names the store ``uri``, the mimetype and, in its
    parameters, the array's path in the store (``<source>/0`` for an OME-Zarr
    image, ``<source>`` for a plain array), the writer group and the layout; each StreamDatum
    gives the range of frame indices since the previous one.
    """

    def __init__(self, info: SourceInfo, uri: str, group: str) -> None:
        self.resource_uid = str(uuid.uuid4())
        """Uid of the source's StreamResource in this acquisition."""
        self._info = info
        self._uri = uri
        self._group = group
        self._bundle: ComposeStreamResourceBundle | None = None
        self._collected = 0
        self._lock = threading.Lock()

    @property
    def collected(self) -> int:
        """Frames already described by a StreamDatum."""
        return self._collected

    def collect(self, frames_written: int) -> Iterator[StreamAsset]:
        """Yield the StreamResource (first time) and a StreamDatum up to ``frames_written``."""
        with self._lock:
            start, stop = self._collected, int(frames_written)
            if stop <= start:
                return
            self._collected = stop
            first = self._bundle is None
            if self._bundle is None:
                self._bundle = ComposeStreamResource()(
                    mimetype=ZARR_MIMETYPE,
                    uri=self._uri,
                    data_key=self._info.name,
                    parameters={
                        "array_key": self._info.array_key,
                        "group": self._group,
                        **self._info.layout.describe(),
                    },
                    uid=self.resource_uid,
                )
            bundle = self._bundle
            datum = bundle.compose_stream_datum(indices=StreamRange(start=start, stop=stop))
        if first:
            yield "stream_resource", bundle.stream_resource_doc
        yield "stream_datum", datum
