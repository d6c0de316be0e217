"""Exceptions raised by :mod:`zarrscribe.writers`."""

from __future__ import annotations

from .model import ZarrscribeError

__all__ = ["FrameError", "StoreExistsError", "WriterError"]


class WriterError(ZarrscribeError, RuntimeError):
    """Root of every error raised by the writers.

    Messages name the offending value and say what to do about it.
    """


class StoreExistsError(WriterError, FileExistsError):
    """The store a writer was pointed at already exists; nothing is overwritten."""


class FrameError(WriterError, ValueError):
    """A frame does not match its source's registration; it was not written."""
