"""Exceptions raised by :mod:`zarrscribe.callbacks`."""

from __future__ import annotations

from ..writers.model import ZarrscribeError

__all__ = ["CallbackError", "DocumentLogError"]


class CallbackError(ZarrscribeError, RuntimeError):
    """Root of every error raised by the callbacks; says which run and what to do."""


class DocumentLogError(CallbackError, ValueError):
    """A document log cannot be read at all: the message names the file (and line)."""
