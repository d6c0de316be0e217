"""Exceptions raised by :mod:`zarrscribe.catalog`."""

from __future__ import annotations

from ..writers.model import ZarrscribeError

__all__ = ["CatalogError", "CatalogUnavailableError", "RunNotFoundError"]


class CatalogError(ZarrscribeError, RuntimeError):
    """Root of every error raised by the catalog side."""


class CatalogUnavailableError(CatalogError, ConnectionError):
    """The catalog cannot be reached; registrations are kept and retried."""


class RunNotFoundError(CatalogError, KeyError):
    """No run matches the uid or prefix given."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
