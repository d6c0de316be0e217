"""Exceptions raised by :mod:`zarrscribe.callbacks`."""

from __future__ import annotations

__all__ = ["CallbackError", "DocumentLogError"]


class CallbackError(RuntimeError):
    """Root of every error raised by the callbacks; says which run and what to do."""


class DocumentLogError(CallbackError, ValueError):
    """A document log is unreadable: the message names the file and line."""
