"""`ZarrWriter`: one shared acquire-zarr stream per group, one array per device."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from ._acquire import AcquireStream
from ._collection import finish_store
from ._documents import StreamDocuments
from ._errors import StoreExistsError, WriterError
from ._jsonable import to_jsonable
from ._layout import Compression, ZarrLayout, check_shard_frames
from ._memory import MemoryGuard, StoreProgress, default_memory_limit
from ._sink import FrameSink
from ._source_table import FrameListener, SourceState, SourceTable
from ._sources import SourceInfo, check_frame, make_source
from ._store import store_path
from .model import ZARR_MIMETYPE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from bluesky.protocols import StreamAsset
    from event_model.documents import DataKey

__all__ = ["SourceInfo", "ZarrWriter"]


class ZarrWriter:
    """Shared Zarr v3 writer over acquire-zarr: one store per group, one array per device.

    Several devices register as sources and push frames, from any thread, into
    one store; each gets an array shaped ``(frames, *frame_shape)``. By default each
    source is an OME-Zarr 0.5 image (viewers open each camera as its own image): a
    group named after the source, holding ``ome.multiscales`` (axes ``t`` time,
    ``c`` channel, ``z, y, x`` space, with the units and pixel size given at
    ``register``), and the array at ``<source>/0``. With ``ome=False`` the array is
    ``<source>`` itself (the layout of stores written before OME-Zarr).
    Lifecycle per acquisition: ``set_uri`` -> ``register`` (each device) ->
    ``open`` (each device) -> ``write_frame`` ... -> ``close``. The writer is then
    reusable for the next acquisition with a new URI. A source's write window runs
    from its ``open`` to ``close``: frames pushed outside it (a live preview while no
    run is open) are dropped and counted in :attr:`dropped`, never written.

    The acquire-zarr stream is created at the first frame (never before: an S3
    stream closed with no frame crashes), with an array for every registered
    source. Frames are checked for dtype, shape and capacity before they reach
    acquire-zarr, which checks nothing.

    Parameters
    ----------
    group:
        Writer group name; the presenter gives each group its own store.
    ome:
        Write each source as an OME-Zarr image (array at ``<source>/0``); ``False``
        keeps the flat layout (array at ``<source>``). Sources of 1-D frames are
        always plain arrays (an OME-Zarr image needs two or three space axes).
    compression:
        Blosc compression for every source whose layout is not given explicitly.
    shard_frames:
        Most frames in a shard of a source without an explicit layout (``None``: about
        32 MiB of them, the fastest). A frame is readable (to every reader, the live
        catalog too) only with its shard's last frame: a 512x512 uint16 shard of 64
        frames at 10 frames/s is up to 6 s late. A time-lapse gives ``1``; at its rate
        write speed does not matter (``benchmarks/bench_shards.py``).
    max_threads:
        acquire-zarr worker threads; 0 lets it decide.
    max_memory:
        Push back when the disk falls behind: ``write_frame`` waits while
        acquire-zarr would hold more than this many bytes: its frame queue (about
        256 MiB once used, full or empty) plus the bytes appended that have not yet
        reached the store's files. ``"auto"`` (the default) is
        half the machine's memory; ``None`` lets acquire-zarr buffer without bound,
        as it does by itself. The process's peak memory is about this plus what it
        held before (see ``benchmarks/bench_writers.py`` for measured numbers).
    memory_timeout:
        Seconds the disk may take nothing at all while ``write_frame`` waits; then
        it raises :class:`WriterError`. A slow disk that makes progress never fails.
    """

    def __init__(
        self,
        group: str = "default",
        *,
        ome: bool = True,
        compression: Compression | None = None,
        shard_frames: int | None = None,
        max_threads: int = 0,
        max_memory: int | Literal["auto"] | None = "auto",
        memory_timeout: float = 60.0,
    ) -> None:
        if not group or "/" in group:
            raise WriterError(f"writer group {group!r} must be a non-empty name without '/'")
        self._group = group
        self._ome = bool(ome)
        check_shard_frames(shard_frames)
        self._source = partial(
            make_source, compression=compression, ome=self._ome, shard_frames=shard_frames
        )
        self._max_threads = max_threads
        limit = default_memory_limit() if max_memory == "auto" else max_memory
        self._memory = None if limit is None else MemoryGuard(int(limit), memory_timeout)
        self._lock = threading.Lock()
        self._table = SourceTable(group)
        self._sources: dict[str, SourceState] = self._table.states
        self._metadata: dict[str, Any] = {}
        self._uri: str | None = None
        self._path: Path | None = None
        self._stream: AcquireStream | None = None
        self._progress = StoreProgress(Path(), [])
        self._is_open = False

    # ------------------------------------------------------------------ properties
    @property
    def group(self) -> str:
        """Writer group name."""
        return self._group

    @property
    def ome(self) -> bool:
        """Whether sources are written as OME-Zarr images (arrays at ``<source>/0``)."""
        return self._ome

    @property
    def mimetype(self) -> str:
        """``application/x-zarr``."""
        return ZARR_MIMETYPE

    @property
    def uri(self) -> str | None:
        """``file://`` URI of the current or last store, ``None`` before ``set_uri``."""
        return self._uri

    @property
    def is_open(self) -> bool:
        """Whether an acquisition is in progress (some source opened, not yet closed)."""
        return self._is_open

    @property
    def sources(self) -> Mapping[str, SourceInfo]:
        """Registered sources by name (read-only)."""
        return MappingProxyType({n: s.info for n, s in self._sources.items()})

    @property
    def dropped(self) -> Mapping[str, int]:
        """Frames pushed outside their source's write window (dropped, not written), per
        source, since the writer was made (read-only copy)."""
        with self._lock:
            return MappingProxyType(dict(self._table.dropped))

    @property
    def throttled_seconds(self) -> float:
        """Seconds ``write_frame`` waited for the disk to catch up (see ``max_memory``)."""
        return self._memory.waited if self._memory is not None else 0.0

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Metadata accumulated with ``update_metadata`` (read-only copy)."""
        return MappingProxyType(dict(self._metadata))

    def __repr__(self) -> str:
        state = "open" if self._is_open else "closed"
        return f"ZarrWriter(group={self._group!r}, uri={self._uri!r}, {state})"

    # ------------------------------------------------------------------ set-up
    def _require_closed(self, action: str) -> None:
        if self._is_open:
            raise WriterError(
                f"cannot {action} while writer {self._group!r} is open on {self._uri!r}; "
                "close() it first"
            )

    def set_uri(self, uri: str) -> None:
        """Point the next acquisition at ``uri`` (``file://`` URI or path).

        Raises :class:`StoreExistsError` if a store is already there: nothing is
        ever overwritten.
        """
        self._require_closed(f"set the URI to {uri!r}")
        path = store_path(uri)
        if path.exists():
            raise StoreExistsError(
                f"store {str(path)!r} already exists; refusing to overwrite it. "
                "Use a new URI (SessionPathProvider never returns an existing one)"
            )
        self._path = path
        self._uri = path.as_uri()

    def register(
        self,
        name: str,
        dtype: npt.DTypeLike,
        shape: tuple[int, ...],
        capacity: int = 0,
        *,
        layout: ZarrLayout | None = None,
        pixel_size: float | Sequence[float] | None = None,
        units: str | None = None,
    ) -> None:
        """Register source ``name`` with its frame ``dtype`` and ``shape``.

        ``capacity`` is the number of frames the array holds (0: unbounded).
        ``layout`` overrides the default chunking/sharding/compression.
        ``pixel_size`` (one number for every space axis, or one per space axis:
        ``y, x`` or ``z, y, x``) and ``units`` (an OME-NGFF space unit, default
        ``"micrometer"``) go into the OME-Zarr image's axes and scale; without them
        the scale is 1 and the axes have no unit. Devices take both from their
        configuration keys ``pixel_size`` and ``pixel_size_units``.
        Registering a name again replaces its registration, unless that source is
        open: then the same registration changes nothing (a device restaged inside a
        run continues its array and its StreamResource) and another one is refused.
        Sources may be registered after others were opened, up to the first frame: the
        store's arrays are created then.
        """
        info = self._source(name, dtype, shape, capacity, layout, pixel_size, units)
        with self._lock:
            self._table.register(info, self._uri, streaming=self._stream is not None)

    def unregister(self, name: str) -> None:
        """Forget source ``name`` (refused while it is open or the store streams frames)."""
        with self._lock:
            self._table.unregister(name, self._uri, streaming=self._stream is not None)

    def clear_sources(self) -> None:
        """Forget every registered source."""
        self._require_closed("clear sources")
        with self._lock:
            self._sources.clear()

    # ------------------------------------------------------------------ metadata
    def update_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Merge ``metadata`` into what ``close`` writes under the ``metadata`` attribute.

        Values are converted to JSON at once (NumPy scalars and arrays included);
        anything else raises naming the key. Metadata given here, rather than
        through the run's documents, is NOT reproduced by a replay of the run.
        """
        if not isinstance(metadata, Mapping):
            raise WriterError(f"metadata {metadata!r} must be a mapping of names to values")
        plain = to_jsonable(metadata, where="metadata")
        with self._lock:
            self._metadata.update(plain)

    def clear_metadata(self) -> None:
        """Drop the accumulated metadata (``close`` does this too)."""
        with self._lock:
            self._metadata.clear()

    # ------------------------------------------------------------------ acquisition
    def open(self, name: str) -> dict[str, DataKey]:
        """Start the acquisition of source ``name``; return its bluesky data keys."""
        state = self._state(name)
        if self._uri is None or self._path is None:
            raise WriterError(
                f"cannot open {name!r}: writer {self._group!r} has no URI; call set_uri() first"
            )
        with self._lock:
            if self._stream is None and self._path.exists():
                raise StoreExistsError(
                    f"store {str(self._path)!r} already exists (an earlier acquisition "
                    "wrote it); call set_uri() with a new URI before opening"
                )
            if not state.opened:  # opening an open source again changes nothing
                state.opened = True
                state.documents = StreamDocuments(state.info, self._uri, self._group)
                state.frames_written = 0
            self._is_open = True
        return {name: state.info.data_key(self._group)}

    def write_frame(self, name: str, frame: npt.NDArray[np.generic]) -> bool:
        """Append one frame of source ``name`` to its array; ``True`` when written.
        Thread-safe.

        Outside the source's write window (not registered, or not opened in the
        current acquisition: a live preview while no run is open, a device still
        pushing after its run ended) the frame is dropped, counted in :attr:`dropped`,
        and ``False`` returned. Inside it, the frame must have the registered dtype
        and shape; it is rejected with :class:`FrameError`, and nothing is written,
        otherwise. Non-contiguous frames are copied.
        """
        with self._lock:
            state = self._table.in_window(name)
        if state is None:
            return False
        info = state.info
        frame = check_frame(info, frame)
        with self._lock:
            if not state.opened:  # closed while the frame was checked
                self._table.in_window(name)
                return False
            if info.capacity and state.frames_written >= info.capacity:
                raise WriterError(
                    f"frame {state.frames_written + 1} for {name!r} exceeds its capacity of "
                    f"{info.capacity} frames; register a larger capacity (0 = unbounded)"
                )
            if self._stream is None:
                self._stream, self._progress = self._start_stream()
            if self._memory is not None:
                self._memory.before_append(
                    self._progress, frame.nbytes, f"frame {state.frames_written + 1} of {name!r}"
                )
            self._stream.append(name, frame)
            self._progress.appended += frame.nbytes
            index = state.frames_written
            state.frames_written += 1
            listeners = list(state.listeners)
        for listener in listeners:
            listener(name, index, frame)
        return True

    def add_frame_listener(self, name: str, listener: FrameListener) -> None:
        """Call ``listener(name, index, frame)`` after each frame of source ``name`` is
        written (on the pushing thread: it must return at once, e.g. by handing the
        frame to a :class:`FrameSink`). The frame must not be kept beyond that call
        unless copied: the device may reuse its buffer."""
        with self._lock:
            self._table.add_listener(name, listener)

    def remove_frame_listener(self, name: str, listener: FrameListener) -> None:
        """Stop calling ``listener`` for source ``name``."""
        with self._lock:
            self._table.remove_listener(name, listener)

    def sink(self, name: str, *, maxsize: int = 16) -> FrameSink[npt.NDArray[np.generic]]:
        """A :class:`FrameSink` writing frames of source ``name`` from its own thread: a
        producer that must never wait calls ``put_nowait`` (``False`` when full, counted)."""
        self._state(name)  # registered now, or a clear error
        return FrameSink(partial(self.write_frame, name), maxsize=maxsize, name=name)

    def get_indices_written(self, name: str | None = None) -> int:
        """Frames written for ``name``; with ``None``, the least over open sources."""
        with self._lock:
            if name is None:
                opened = [s.frames_written for s in self._sources.values() if s.opened]
                return min(opened, default=0)
            return self._state(name).frames_written

    def collect_stream_docs(self, name: str, indices_written: int) -> Iterator[StreamAsset]:
        """Yield a StreamResource (first time) and a StreamDatum up to ``indices_written``.

        The StreamResource names the store URI, the mimetype and, in its
        parameters, the array key and its layout; the StreamDatum gives the frame
        index range since the last call. Frames not yet written are not reported.
        """
        state = self._state(name)
        with self._lock:
            documents, written = state.documents, state.frames_written
        if documents is None:
            return
        yield from documents.collect(min(int(indices_written), written))

    def close(self) -> None:
        """Flush and close the store; write ``update_metadata`` metadata; reset.

        The store is readable afterwards even if no frame was written (an empty
        group). Then the images' names, the metadata and the OME-Zarr collection are
        written, atomically (:func:`finish_store`). Closing a closed writer does nothing.
        """
        with self._lock:
            if not self._is_open:
                return
            stream, self._stream = self._stream, None
            metadata, self._metadata = self._metadata, {}
            self._is_open = False
            for state in self._sources.values():
                state.opened = False
        assert self._path is not None
        error: WriterError | None = None
        if stream is not None:
            try:
                stream.close()
            except WriterError as e:
                error = e
            if self._memory is not None:
                self._memory.trim()  # glibc keeps ~200 MiB freed by a 2048² stream otherwise
        images = [s.info.name for s in self._sources.values() if s.info.image is not None]
        try:
            finish_store(self._path, metadata, images if stream is not None else None)
        except WriterError as e:
            if error is None:
                raise
            raise WriterError(f"{error}; then {e}") from error
        if error is not None:
            raise error

    # ------------------------------------------------------------------ internals
    def _start_stream(self) -> tuple[AcquireStream, StoreProgress]:
        assert self._path is not None  # open() checked
        sources = [s.info for s in self._sources.values()]
        progress = StoreProgress(self._path, sources)
        if self._memory is not None:
            self._memory.start(progress, self._group)
        stream = AcquireStream(self._path, sources, max_threads=self._max_threads)
        return stream, progress

    def _state(self, name: str) -> SourceState:
        return self._table.get(name)
