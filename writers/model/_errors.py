"""The root of every zarrscribe error."""

from __future__ import annotations

__all__ = ["DocumentError", "ZarrscribeError"]


class ZarrscribeError(Exception):
    """Root of every error zarrscribe raises on purpose.

    Each room has its own root below this one (``WriterError``, ``CallbackError``,
    ``CatalogError``), which also subclasses the matching builtin. Messages name the
    offending value and say what to do; the command line prints them as one line.
    """


class DocumentError(ZarrscribeError, ValueError):
    """A run's documents are not a run (no start, a document of another run, ...)."""
