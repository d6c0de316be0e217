"""Opening catalogs: the embedded one (in-process Tiled app on SQLite), a Tiled server."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..writers.model import STATE_DIR
from ._errors import CatalogError, CatalogUnavailableError
from ._relocate import relocate_embedded
from ._tiled import init_lock, is_unreachable, one_line, status_code, table_storage

if TYPE_CHECKING:
    from ._catalog import Catalog
    from ._sql import SQLWriter

__all__ = ["check_uri", "embedded_catalog", "open_embedded", "open_server"]


def embedded_catalog(base_dir: str | Path) -> Catalog:
    """The default catalog of ``base_dir``: SQLite, in ``<base_dir>/.zarrscribe/catalog``.

    A data folder that was moved or copied is found at its new place: the catalog's
    asset locations are rewritten to it before it opens.
    """
    from ._catalog import Catalog

    base = Path(base_dir).absolute()
    directory = base / STATE_DIR / "catalog"
    relocate_embedded(directory, base)
    return Catalog.embedded(directory, readable=[base])


def open_embedded(directory: Path, readable: Sequence[str | Path]) -> tuple[Any, SQLWriter]:
    """Tiled's in-process app on the catalog in ``directory`` (created if missing): its
    client, and the writer of runs straight into its database."""
    from tiled.catalog import from_uri
    from tiled.client import from_context
    from tiled.client.context import Context
    from tiled.server.app import build_app

    from ._adapter import adapters_by_mimetype
    from ._exporters import serialization_registry
    from ._sql import SQLWriter

    (directory / "data").mkdir(parents=True, exist_ok=True)
    database = directory / "catalog.db"
    try:
        with init_lock(directory):
            # Tiled's init_if_not_exists starts a `tiled catalog init` process on
            # every open; only a missing database needs it.
            adapter = from_uri(
                f"sqlite:///{database}",
                writable_storage=[
                    str(directory / "data"),
                    f"sqlite:///{directory / 'tables.sqlite'}",
                ],
                readable_storage=[str(Path(p).absolute()) for p in readable],
                init_if_not_exists=not database.exists(),
                specs=[{"name": "CatalogOfBlueskyRuns", "version": "3.0"}],
                adapters_by_mimetype=adapters_by_mimetype(),
            )
        app = build_app(adapter, serialization_registry=serialization_registry())
        with warnings.catch_warnings():
            # Tiled's in-process transport imports starlette's TestClient, which
            # warns about httpx; nothing for a user to act on.
            warnings.filterwarnings("ignore", message="Using `httpx` with `starlette")
            context = Context.from_app(app)  # starts the app: checks the database
    except CatalogError:
        raise
    except Exception as e:
        raise CatalogError(
            f"cannot open the catalog {database}: {one_line(e)}; if another Tiled version made "
            "it, open it with that version (or replay the logs into a new catalog)"
        ) from e
    return from_context(context), SQLWriter(database, table_storage(adapter))


def check_uri(uri: str) -> None:
    """Raise :class:`CatalogError` at once if ``uri`` cannot be a Tiled server's."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CatalogError(
            f"{uri!r} is not a Tiled server URI; give http(s)://host:port/api "
            "(a database is served by a Tiled server; omit the URI for the embedded catalog)"
        )


CONNECT_TIMEOUT = 5.0
"""Seconds a Tiled server gets to accept a connection before it counts as down."""


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
        context, node_path_parts = Context.from_any_uri(uri, api_key=api_key)
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
