"""Exceptions raised by :mod:`zarrscribe.callbacks`."""

from __future__ import annotations

from ..writers.model import ZarrscribeError

__all__ = ["BusError", "CallbackError", "DocumentLogError", "RunRefusedError"]


class CallbackError(ZarrscribeError, RuntimeError):
    """Root of every error raised by the callbacks; says which run and what to do."""


class DocumentLogError(CallbackError, ValueError):
    """A document log cannot be read at all: the message names the file (and line)."""


class BusError(CallbackError, ValueError):
    """Settings of the document bus (NATS) that cannot work: the message names the value."""


class RunRefusedError(CallbackError, ValueError):
    """A run's start document was refused (it cannot be logged): nothing of the run is
    written, and its later documents are ignored by every stage."""
