"""Opening a Tiled server's catalog as a client: bounded waits, one-line errors."""

from __future__ import annotations

from typing import Any

from ._errors import CatalogError, CatalogUnavailableError
from ._tiled import is_unreachable, one_line, show_progress, status_code

__all__ = ["CONNECT_TIMEOUT", "check_uri", "open_server"]

CONNECT_TIMEOUT = 5.0
"""Seconds a server (Tiled, PostgreSQL) gets to accept a connection before it counts as down."""


def check_uri(uri: str) -> None:
    """Raise :class:`CatalogError` at once if ``uri`` cannot be a Tiled server's."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CatalogError(
            f"{uri!r} is not a Tiled server URI; give http(s)://host:port/api "
            "(a database is served by a Tiled server; omit the URI for the embedded catalog)"
        )


def _reachable(uri: str) -> None:
    """Raise :class:`CatalogUnavailableError` within about :data:`CONNECT_TIMEOUT`
    seconds when nothing answers at ``uri``. Tiled's client would retry a refused
    connection for up to 45 s, printing "Retrying…", unless told otherwise by an
    environment variable read when it is imported; one plain request first is bounded."""
    import httpx

    try:
        httpx.get(uri, timeout=httpx.Timeout(3 * CONNECT_TIMEOUT, connect=CONNECT_TIMEOUT))
    except httpx.TransportError as e:
        raise CatalogUnavailableError(
            f"Tiled server {uri!r} cannot be reached ({one_line(e)}); check that it runs"
        ) from e


def open_server(uri: str, api_key: str | None) -> Any:
    """The Tiled client of the node at ``uri``; one-line errors when it cannot be had
    (within seconds when nothing answers there)."""
    check_uri(uri)
    _reachable(uri)

    from tiled.client import from_context
    from tiled.client.context import Context

    context = None
    try:
        context, node_path_parts = Context.from_any_uri(
            uri, api_key=api_key, show_progress=show_progress()
        )
        return from_context(context, node_path_parts=node_path_parts)
    except Exception as e:
        if context is not None:
            context.close()  # do not leak the connection of a refused client
        if is_unreachable(e):
            raise CatalogUnavailableError(
                f"Tiled server {uri!r} cannot be reached ({one_line(e)}); check that it runs"
            ) from e
        if status_code(e) in (401, 403):
            raise CatalogError(
                f"Tiled server {uri!r} refused the API key (HTTP {status_code(e)}); "
                "pass the server's key with api_key= (CLI: --api-key or TILED_API_KEY)"
            ) from e
        raise CatalogError(
            f"cannot open Tiled catalog {uri!r}: {one_line(e)}; check that it is a Tiled "
            "server's URI (http(s)://host:port/api)"
        ) from e
