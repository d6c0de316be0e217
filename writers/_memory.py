"""Push-back when the disk falls behind: bound what acquire-zarr holds for the disk.

acquire-zarr 0.10 only blocks ``append`` on its ~256 MiB frame queue. Behind it,
chunks wait in its thread pool's job queue with no bound when frames come faster
than the disk takes them, and ``get_current_memory_usage()`` does not count them
(measured: it reads 0 while 670 MiB still wait). Process memory is no signal
either: it does not fall when the disk catches up. Measured with 2048² uint16
frames, what stays held is (1) the frame queue itself: each slot keeps a
frame-sized buffer after its first frame (``pop`` swaps buffers), ~264 MiB for
the stream's life, full or empty; and (2) after close, ~200 MiB of freed heap
that glibc keeps until ``malloc_trim(0)`` (``MALLOC_ARENA_MAX=2`` changed
nothing). So the bound is the queue's footprint plus the bytes appended that
have not yet reached the store's files; :class:`StoreProgress` measures the
latter from the shard files' allocated sizes (for compressed arrays, scaled by
the compression ratio of the shards already whole).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import WriterError
from ._readable import shard_is_whole

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from ._sources import SourceInfo

__all__ = ["MemoryGuard", "StoreProgress", "anonymous_memory", "default_memory_limit"]

POLL_SECONDS = 0.01
"""Pause between two looks at the disk while appends wait."""

QUEUE_TARGET_BYTES = 256 * 2**20
"""acquire-zarr's frame queue: about this many bytes of slots, 16 to 512 frames (+1 slot)."""


def queue_footprint(frame_bytes: int) -> int:
    """Bytes acquire-zarr's frame queue keeps once every slot was used (for life of the stream).

    Each slot keeps a buffer of the largest frame size after its first frame (its
    ``pop`` swaps buffers), so the queue stays resident even when empty.
    """
    if frame_bytes <= 0:
        return 0
    slots = min(max(QUEUE_TARGET_BYTES // frame_bytes, 16), 512) + 1
    return slots * frame_bytes


def anonymous_memory() -> int | None:
    """Anonymous resident memory of this process in bytes (Linux); ``None`` if unknown."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_memory_limit() -> int | None:
    """Half of the machine's physical memory, or ``None`` where it cannot be read."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) // 2
    except (ValueError, OSError, AttributeError):
        return None


def _malloc_trim() -> Callable[[], object]:
    """glibc's ``malloc_trim(0)``: give freed heap memory back to the system (no-op elsewhere)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return lambda: None
    return lambda: trim(0)


def _allocated_bytes(folder: Path) -> Iterator[tuple[str, int]]:
    """``(path, bytes allocated on disk)`` of every file under ``folder``."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _allocated_bytes(folder / entry.name)
            else:
                yield entry.path, entry.stat(follow_symlinks=False).st_blocks * 512
        except OSError:
            continue


@dataclass
class _Array:
    folder: Path
    frame_bytes: int
    compressed: bool
    chunks_per_shard: int
    shard_bytes: int
    """Uncompressed bytes in one whole shard file."""
    spatial_shards: int
    """Shard files per shard along the frame axis."""
    whole: dict[str, int] = field(default_factory=dict)
    """Allocated bytes of the shard files known whole (a whole shard never changes)."""
    done: set[str] = field(default_factory=set)
    """Shard folders ``c/<t>`` whose every shard file is whole: not looked at again."""

    def persisted(self) -> int:
        """Uncompressed bytes of this array that reached its files."""
        partial = 0
        chunks = self.folder / "c"
        if not chunks.is_dir():  # an OME-Zarr image: full resolution at <source>/0
            chunks = self.folder / "0" / "c"
        try:
            rows = [e.name for e in os.scandir(chunks) if e.name not in self.done]
        except OSError:
            rows = []
        for row in rows:
            whole_here = 0
            for path, size in _allocated_bytes(chunks / row):
                if path not in self.whole and shard_is_whole(Path(path), self.chunks_per_shard):
                    self.whole[path] = size
                if path in self.whole:
                    whole_here += 1
                else:
                    partial += size
            if whole_here == self.spatial_shards:
                self.done.add(row)
        whole_bytes = sum(self.whole.values())
        whole_raw = len(self.whole) * self.shard_bytes
        ratio = whole_raw / whole_bytes if self.compressed and whole_bytes else 1.0
        return whole_raw + int(partial * ratio)


class StoreProgress:
    """Bytes appended to one store, and how many of them reached its files."""

    def __init__(self, root: Path, sources: Sequence[SourceInfo]) -> None:
        self.appended = 0
        """Uncompressed bytes appended so far."""
        self._arrays: list[_Array] = []
        for info in sources:
            layout = info.layout
            spatial_shards = math.prod(
                math.ceil(size / (chunk * per))
                for size, chunk, per in zip(
                    info.shape, layout.chunk_shape, layout.chunks_per_shard, strict=True
                )
            )
            frame_bytes = math.prod(info.shape) * info.dtype.itemsize
            self._arrays.append(
                _Array(
                    folder=root / info.name,
                    frame_bytes=frame_bytes,
                    compressed=layout.compression is not None,
                    chunks_per_shard=layout.frames_per_shard * math.prod(layout.chunks_per_shard),
                    shard_bytes=layout.frames_per_shard * frame_bytes // spatial_shards,
                    spatial_shards=spatial_shards,
                )
            )

    @property
    def least_limit(self) -> int:
        """The smallest ``max_memory`` under which appends can always go on.

        acquire-zarr's frame queue, then two frames in flight; for a compressed
        array two shards along the frame axis (its compression ratio is known once
        a shard is whole).
        """
        if not self._arrays:
            return 0
        in_flight = max(
            (a.shard_bytes * a.spatial_shards if a.compressed else a.frame_bytes)
            for a in self._arrays
        )
        return self.queue_bytes + 2 * in_flight

    @property
    def queue_bytes(self) -> int:
        """What acquire-zarr's frame queue holds at most, full or empty (``queue_footprint``)."""
        return queue_footprint(max((a.frame_bytes for a in self._arrays), default=0))

    def persisted(self) -> int:
        """Uncompressed bytes appended that reached the files (cached pages count)."""
        return sum(a.persisted() for a in self._arrays)


class MemoryGuard:
    """Holds appends back while more than ``limit`` bytes wait to reach the disk.

    Parameters
    ----------
    limit:
        Bytes acquire-zarr may hold: its frame queue (a fixed cost once used, see
        ``queue_footprint``) plus the bytes appended but not yet in the store's files.
    timeout:
        Seconds the disk may make no progress at all while appends wait, before
        the append gives up with an error.
    """

    def __init__(self, limit: int, timeout: float) -> None:
        if limit <= 0:
            raise WriterError(f"max_memory {limit!r} must be a positive number of bytes")
        self.limit = limit
        self.timeout = timeout
        self.waited = 0.0
        """Seconds appends were held back so far."""
        self._persisted = 0
        self._in_flight = limit
        self._trim = _malloc_trim()

    def start(self, progress: StoreProgress, group: str) -> None:
        """Start bounding a new stream: nothing in flight yet; its queue is paid for.
        Refused when the limit is below what the stream's sources need at least."""
        if self.limit < progress.least_limit:
            raise WriterError(
                f"max_memory={self.limit:,} bytes of writer {group!r} is below "
                f"the {progress.least_limit:,} bytes its sources need (acquire-zarr's frame "
                "queue, then two frames, or two shards of a compressed array, in flight); "
                "raise max_memory or use smaller shards"
            )
        self._persisted = 0
        self._in_flight = self.limit - progress.queue_bytes

    def trim(self) -> None:
        """Give memory the allocator kept after frees back to the system (glibc)."""
        self._trim()

    def before_append(self, progress: StoreProgress, nbytes: int, what: str) -> None:
        """Block while appending ``nbytes`` would hold more than ``limit`` bytes.

        Held: acquire-zarr's frame queue (resident once used) plus the bytes
        appended that are not yet in the store's files.
        """
        allowed = self._in_flight
        if progress.appended + nbytes - self._persisted <= allowed:
            return  # what reached disk only grows: no need to look before this point
        self._persisted = progress.persisted()
        if progress.appended + nbytes - self._persisted <= allowed:
            return
        start = last_progress = time.monotonic()
        self._trim()  # what the disk took is freed; hand it back to the system
        while progress.appended + nbytes - self._persisted > allowed:
            now = time.monotonic()
            if now - last_progress > self.timeout:
                self.waited += now - start
                waiting = progress.appended - self._persisted
                raise WriterError(
                    f"{what} not written: {waiting / 2**20:,.0f} MiB wait to reach the disk "
                    f"(max_memory={self.limit / 2**20:,.0f} MiB) and the disk took nothing in "
                    f"{self.timeout:g} s. Frames written so far are kept; check the disk, lower "
                    "the frame rate or raise max_memory"
                )
            time.sleep(POLL_SECONDS)
            persisted = progress.persisted()
            if persisted > self._persisted:
                self._persisted, last_progress = persisted, time.monotonic()
        self.waited += time.monotonic() - start
