"""A run's live catalog entry: the projection of what its log holds so far and of the
frames readable on disk, with exit status ``running``; and the lock on its log that says
a process is still acquiring it."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..writers.model import ZARR_MIMETYPE, Document, RunProjection
from ._loaded import load_run
from ._sync import catalog_documents, read_on_disk

__all__ = ["LiveEntry", "hold_log", "is_live", "live_entry"]


@dataclass
class LiveEntry:
    """What a live update registers, and what it was made of."""

    documents: Iterable[Document]
    metadata: dict[str, Any]
    state: tuple[Any, ...]
    """What readers see of it: the streams and arrays described, the events and the
    frames readable per array (not the frames announced beyond them, which a fly scan
    adds at every collect): an update whose state equals the last one written has
    nothing new to show."""


def live_entry(log: Path, base_dir: Path) -> LiveEntry | None:
    """The live entry of the run logged in ``log``, still acquiring: its documents so far
    (a line being appended is left for the next update), its arrays cut to the frames
    readable on disk (complete shards), exit status ``running``. ``None`` once the log
    holds the stop document: the stop's registration is the run's entry from then on.
    Raises as :func:`load_run` does for a log that cannot be read."""
    run = load_run(log, base_dir)
    record = run.record
    if record.stop is not None:
        return None
    on_disk = read_on_disk(record.store_uris(ZARR_MIMETYPE), base_dir)
    projection = RunProjection(record, on_disk, base_dir=base_dir, running=True)
    shown = (  # what a reader sees change: streams, arrays, readings, readable frames
        len(record.descriptors),
        len(record.arrays),
        tuple(sorted(record.events.items())),
        tuple(sorted(on_disk.items())),
    )
    return LiveEntry(
        catalog_documents(projection, run.documents), projection.catalog_metadata(log), shown
    )


def hold_log(log: Path) -> int | None:
    """Take a shared lock on ``log`` for as long as the run is acquired by this process
    (released when the returned descriptor is closed, or the process ends, however it
    ends): :func:`is_live` then says so to every other process. ``None`` when the lock
    cannot be had now (a recovery is looking at it: try again later)."""
    fd = os.open(log, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def is_live(log: Path) -> bool:
    """Whether a process holds ``log`` (:func:`hold_log`): its run is still being
    acquired, with live entries. A process that died holds nothing."""
    try:
        fd = os.open(log, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # a file system without locks: nothing holds it
        return False
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)  # (releases the lock taken above)
    return False
