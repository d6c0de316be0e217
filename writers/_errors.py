"""Exceptions raised by :mod:`zarrscribe.writers`."""

from __future__ import annotations

import errno
import os
import shutil

from .model import ZarrscribeError

__all__ = [
    "DamagedMetadataError",
    "FrameError",
    "StoreExistsError",
    "WriterError",
    "disk_full_note",
]


class WriterError(ZarrscribeError, RuntimeError):
    """Root of every error raised by the writers.

    Messages name the offending value and say what to do about it.
    """


class StoreExistsError(WriterError, FileExistsError):
    """The store a writer was pointed at already exists; nothing is overwritten."""


class FrameError(WriterError, ValueError):
    """A frame does not match its source's registration; it was not written."""


class DamagedMetadataError(WriterError, ValueError):
    """A ``zarr.json`` cannot be read (empty, not UTF-8, not JSON, not a JSON object);
    the message names it as ``file:line``."""

    def __init__(self, message: str, *, empty: bool = False) -> None:
        super().__init__(message)
        self.empty = empty
        """Whether the file holds nothing at all (nothing is lost by replacing it)."""


def disk_full_note(path: str | os.PathLike[str]) -> str:
    """``the disk holding <path> is full (N bytes free: No space left on device)`` when
    less than 1 MiB is free there, else empty. Libraries often report a full disk in
    their own words (acquire-zarr: "I/O error"; SQLite: "database or disk is full");
    errors add this, so the user sees the disk's own error."""
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return ""
    if free >= 2**20:
        return ""
    return (
        f"the disk holding {os.fspath(path)!r} is full ({free} bytes free: "
        f"{os.strerror(errno.ENOSPC)})"
    )
