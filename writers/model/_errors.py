"""The root of every zarrscribe error."""

from __future__ import annotations

import os

__all__ = ["DocumentError", "ZarrscribeError", "damage_at"]


class ZarrscribeError(Exception):
    """Root of every error zarrscribe raises on purpose.

    Each room has its own root below this one (``WriterError``, ``CallbackError``,
    ``CatalogError``), which also subclasses the matching builtin. Messages name the
    offending value and say what to do; the command line prints them as one line.
    """


class DocumentError(ZarrscribeError, ValueError):
    """A run's documents are not a run (no start, a document of another run, ...)."""


def damage_at(path: str | os.PathLike[str], line: int, what: str) -> str:
    """Where a file is damaged, for a person: ``<file>:<line>: <what>``.

    The one spelling of a damaged log line or metadata file in every message (replay
    and its check, the live pipeline, the readers), so an editor or ``grep`` finds it.
    Problems of a whole file are given at line 1.
    """
    return f"{os.fspath(path)}:{line}: {what}"
