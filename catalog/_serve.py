"""Serving a catalog over HTTP with Tiled: safe defaults, runs as ``BlueskyRun``.

The server is Tiled's own app (``tiled.server.app.build_app``) run by uvicorn,
set up the way zarrscribe's catalogs need: the root is a
``CatalogOfBlueskyRuns`` (so ``.v2`` and integer indexing work), the base
directory is readable storage (the stores are external data under it), SQL
table storage is writable (bluesky-tiled-plugins' ``TiledWriter`` needs it), and
runs export their documents as JSON-seq and themselves as HDF5.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import signal
import socket
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..writers import folder_writable
from ..writers.model import STATE_DIR
from ._errors import CatalogError
from ._folder import no_catalog
from ._guard import ASGIApp, Receive, Scope, Send, guard
from ._relocate import relocate_embedded
from ._server import CONNECT_TIMEOUT
from ._tiled import one_line

__all__ = ["ServerSettings", "build_server_app", "check_settings", "listen", "serve"]

STOP_TIMEOUT = 3.0
"""Seconds open requests get to finish once the server is told to stop."""


@dataclass(frozen=True)
class ServerSettings:
    """What ``zarrscribe serve`` serves, and how."""

    base_dir: Path
    """Data folder: the stores under it are what the server may read; the embedded
    catalog lives in its ``.zarrscribe`` folder (the API key does not: see
    :func:`~zarrscribe.catalog.key_file`)."""
    database: str | None = None
    """Catalog database URI (``postgresql://…`` or ``sqlite:///…``); ``None``: the
    base directory's embedded SQLite catalog (which must exist)."""
    tables: str | None = None
    """SQL storage for tables (event readings) written through the server; ``None``:
    ``tables.sqlite`` beside the embedded catalog, or the catalog's own PostgreSQL
    database."""
    host: str = "127.0.0.1"
    """Interface to bind; loopback unless told otherwise."""
    port: int = 8000
    """TCP port to bind."""
    public: bool = False
    """Let anyone who can connect read without a key (writing still needs it)."""

    @property
    def state_dir(self) -> Path:
        return self.base_dir.absolute() / STATE_DIR

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        """The web UI's address, one a browser on this machine can open (a wildcard
        interface becomes loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/ui/"


def _check_base_dir(base: Path) -> None:
    if not base.is_dir():
        what = "is not a folder" if base.exists() else "does not exist"
        raise CatalogError(
            f"--base-dir {base} {what}; give the data folder the pipelines write to "
            "(the server reads their stores there)"
        )


def _shown(uri: str) -> str:
    """``uri`` with any password hidden, to quote in an error."""
    return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", uri)


def _postgres_initialised(uri: str) -> bool:
    """Whether the PostgreSQL catalog database at ``uri`` is one Tiled made already;
    a one-line :class:`CatalogError` within :data:`CONNECT_TIMEOUT` seconds when it
    cannot be reached."""
    import asyncpg

    dsn = re.sub(r"^postgresql\+\w+://", "postgresql://", uri)

    async def check() -> bool:
        connection = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
        try:
            return bool(await connection.fetchval("SELECT to_regclass('alembic_version')"))
        finally:
            await connection.close()

    try:
        return asyncio.run(asyncio.wait_for(check(), CONNECT_TIMEOUT * 2))
    except Exception as e:
        reason = one_line(e) if str(e) else "no answer in time"
        raise CatalogError(
            f"cannot reach catalog database {_shown(uri)!r} ({reason}); check that "
            "PostgreSQL runs there and the database exists (createdb NAME)"
        ) from e


def check_settings(settings: ServerSettings) -> None:
    """Raise a one-line :class:`CatalogError` at once (nothing opened, nothing bound)
    when ``settings`` cannot be served: a base dir that is not a folder, a catalog URI
    that is not a database's, no embedded catalog."""
    _check_base_dir(settings.base_dir)
    if settings.database is None:
        database = settings.state_dir / "catalog" / "catalog.db"
        if not database.exists():
            raise no_catalog(
                Path(settings.base_dir).absolute(), other="; or pass --catalog postgresql://…"
            )
        if not folder_writable(database.parent):
            raise CatalogError(
                f"the catalog in {database.parent} is on read-only media (or not writable "
                "here); a server also takes writes: serve a writable copy of the data folder "
                "(runs, show and Catalog read it where it is)"
            )
    elif urlparse(settings.database).scheme.split("+")[0] not in ("postgresql", "sqlite"):
        raise CatalogError(
            f"cannot serve catalog {_shown(settings.database)!r}: give a database URI "
            "(postgresql://user@host/db or sqlite:///path/catalog.db); an http:// URI is "
            "a server already"
        )


def _storage(settings: ServerSettings) -> tuple[str, list[str], bool]:
    """The catalog database URI, the writable storage, and whether to initialise."""
    check_settings(settings)
    state = settings.state_dir
    if settings.database is None:
        directory = state / "catalog"
        # A server writes too: a moved folder's (or an older catalog's) locations are
        # brought up to date in place, as by the first registration.
        relocate_embedded(directory, settings.base_dir)
        tables = settings.tables or f"sqlite:///{directory / 'tables.sqlite'}"
        return f"sqlite:///{directory / 'catalog.db'}", [str(directory / "data"), tables], False
    scheme = urlparse(settings.database).scheme.split("+")[0]
    data = state / "server" / "data"
    if scheme == "sqlite":
        path = Path(urlparse(settings.database).path)
        tables = settings.tables or f"sqlite:///{path.with_name('tables.sqlite')}"
        data.mkdir(parents=True, exist_ok=True)
        return settings.database, [str(data), tables], not path.exists()
    initialised = _postgres_initialised(settings.database)
    data.mkdir(parents=True, exist_ok=True)
    return settings.database, [str(data), settings.tables or settings.database], not initialised


def build_server_app(settings: ServerSettings, api_key: str) -> ASGIApp:
    """Tiled's web app serving the catalog ``settings`` names, requiring ``api_key``
    (for reading too, unless ``settings.public``), behind :func:`~._guard.guard` (no
    request naming a path outside what is served reaches it) and with the web UI
    served by :class:`~._ui.WebUI`."""
    database, writable, init = _storage(settings)  # before Tiled's seconds of imports

    from tiled.config import Authentication
    from tiled.server.app import build_app
    from tiled.utils import SHARE_TILED_PATH

    from ._exporters import serialization_registry
    from ._tiled import quiet_app_logs, tiled_adapter
    from ._ui import WebUI

    try:
        adapter = tiled_adapter(database, writable, [settings.base_dir], init=init)
    except Exception as e:  # a database that cannot be initialised
        raise CatalogError(
            f"cannot open catalog database {_shown(database)!r}: {one_line(e)}"
        ) from e
    quiet_app_logs()
    app: ASGIApp = build_app(
        adapter,
        Authentication(single_user_api_key=api_key, allow_anonymous_access=settings.public),
        serialization_registry=serialization_registry(),
    )
    if SHARE_TILED_PATH:  # the web UI is installed
        app = WebUI(app, Path(SHARE_TILED_PATH), api_key, settings.public)
    return guard(app)


def listen(settings: ServerSettings) -> socket.socket:
    """A socket listening on the host and port of ``settings``; a one-line
    :class:`CatalogError` when it cannot be had (a port in use, an unknown host)."""
    host, port = settings.host, settings.port
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as e:
        raise CatalogError(
            f"cannot serve on --host {host!r} ({e.strerror}); give an address or name of "
            "this machine (default 127.0.0.1)"
        ) from e
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        reasons = {
            errno.EADDRINUSE: "it is in use; pick another --port or stop what listens there",
            errno.EACCES: "not allowed; ports below 1024 need privileges, pick another --port",
            errno.EADDRNOTAVAIL: f"{host} is not an address of this machine; give one --host",
        }
        reason = reasons.get(e.errno or 0, f"{e.strerror}; pick another --host or --port")
        raise CatalogError(f"cannot listen on {host} port {port}: {reason}") from e
    return sock


class _StartupError:
    """An ASGI layer that turns a failed start of ``app`` into one line kept in
    ``error`` (uvicorn would log the whole traceback, then exit)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.error: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        failed = False

        async def quiet_send(message: MutableMapping[str, Any]) -> None:
            nonlocal failed
            if message["type"] == "lifespan.startup.failed":
                failed, message = True, {"type": message["type"], "message": ""}
            await send(message)

        try:
            await self.app(scope, receive, quiet_send)
        except Exception as e:
            self.error = one_line(e)
            if not failed:
                await send({"type": "lifespan.startup.failed", "message": ""})


class _NoStartupFailedLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Application startup failed")


def _log_config() -> dict[str, Any]:
    """Tiled's uvicorn logging, with the access log on stderr (stdout is for results) and
    colours only on a terminal."""
    import copy

    from tiled.server.logging_config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    for formatter in config["formatters"].values():
        formatter["use_colors"] = None  # colours on a terminal only
    return config


def serve(
    app: ASGIApp, settings: ServerSettings, sock: socket.socket, ready: Callable[[], None]
) -> int | None:
    """Serve ``app`` (from :func:`build_server_app`) on ``sock`` (from :func:`listen`)
    until SIGINT or SIGTERM (uvicorn, one process; open requests get
    :data:`STOP_TIMEOUT` seconds), then return the signal's number; ``ready()`` is
    called once it answers. A start that fails raises a one-line :class:`CatalogError`."""
    import uvicorn

    started = _StartupError(app)
    config = uvicorn.Config(
        started,
        log_config=_log_config(),
        timeout_graceful_shutdown=int(STOP_TIMEOUT),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    logging.getLogger("uvicorn.error").addFilter(_NoStartupFailedLine())

    async def run() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            ready()
        await task

    # uvicorn stops on SIGINT/SIGTERM, then raises the signal again for the handler
    # it found: ours only notes it, so a stop asked for is a clean exit (no traceback).
    signals = (signal.SIGINT, signal.SIGTERM)
    stopped_by: list[int] = []
    previous = {s: signal.signal(s, lambda number, _: stopped_by.append(number)) for s in signals}
    try:
        asyncio.run(run())
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if not server.started:
        raise CatalogError(
            f"the server of {settings.database or settings.base_dir} did not start: "
            f"{started.error or 'see the log above'}"
        )
    return stopped_by[0] if stopped_by else None
