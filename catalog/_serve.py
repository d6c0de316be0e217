"""Serving a catalog over HTTP with Tiled: safe defaults, runs as ``BlueskyRun``.

The server is Tiled's own app (``tiled.server.app.build_app``) run by uvicorn,
set up the way zarrscribe's catalogs need: the root is a
``CatalogOfBlueskyRuns`` (so ``.v2`` and integer indexing work), the base
directory is readable storage (the stores are external data under it), SQL
table storage is writable (bluesky-tiled-plugins' ``TiledWriter`` needs it), and
runs export their documents as JSON-seq and themselves as HDF5.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..writers import folder_writable
from ..writers.model import STATE_DIR
from ._errors import CatalogError
from ._folder import no_catalog
from ._relocate import relocate_embedded

__all__ = [
    "ServerSettings",
    "build_server_app",
    "key_file",
    "new_api_key",
    "serve",
    "store_api_key",
    "stored_api_key",
]

ROOT_SPECS = [{"name": "CatalogOfBlueskyRuns", "version": "3.0"}]
"""Specs of the served root: bluesky clients then treat it as a catalog of runs."""

KEY_FILE = "server/api_key"
"""Where a generated API key is kept, under ``<base_dir>/.zarrscribe`` (mode 0600)."""


@dataclass(frozen=True)
class ServerSettings:
    """What ``zarrscribe serve`` serves, and how."""

    base_dir: Path
    """Data folder: the stores under it are what the server may read; the embedded
    catalog and the generated API key live in its ``.zarrscribe`` folder."""
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


def key_file(base_dir: str | Path) -> Path:
    """Where the server's API key is kept: ``<base_dir>/.zarrscribe/server/api_key``."""
    return Path(base_dir).absolute() / STATE_DIR / KEY_FILE


def stored_api_key(base_dir: str | Path) -> str | None:
    """The API key kept under ``base_dir`` by :func:`store_api_key`, if any."""
    path = key_file(base_dir)
    if not path.exists():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CatalogError(
            f"API key file {path} is readable by others (mode {mode:o}); "
            f"run 'chmod 600 {path}' or delete it to get a new key"
        )
    key = path.read_text().strip()
    if not key.isalnum():
        raise CatalogError(
            f"API key file {path} holds no usable key (letters and digits only); "
            "delete it to get a new key"
        )
    return key


def new_api_key() -> str:
    """A new random API key (64 hex digits)."""
    return secrets.token_hex(32)


def store_api_key(base_dir: str | Path, key: str) -> Path:
    """Keep ``key`` under ``base_dir``, readable by its owner only (mode 0600)."""
    path = key_file(base_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return path


def _storage(settings: ServerSettings) -> tuple[str, list[str], bool]:
    """The catalog database URI, the writable storage, and whether to initialise."""
    state = settings.state_dir
    if settings.database is None:
        directory = state / "catalog"
        if not (directory / "catalog.db").exists():
            raise no_catalog(
                Path(settings.base_dir).absolute(), other="; or pass --catalog postgresql://…"
            )
        if not folder_writable(directory):
            raise CatalogError(
                f"the catalog in {directory} is on read-only media (or not writable here); "
                "a server also takes writes: serve a writable copy of the data folder "
                "(runs, show and Catalog read it where it is)"
            )
        # A server writes too: a moved folder's (or an older catalog's) locations are
        # brought up to date in place, as by the first registration.
        relocate_embedded(directory, settings.base_dir)
        tables = settings.tables or f"sqlite:///{directory / 'tables.sqlite'}"
        return f"sqlite:///{directory / 'catalog.db'}", [str(directory / "data"), tables], False
    scheme = urlparse(settings.database).scheme.split("+")[0]
    if scheme not in ("postgresql", "sqlite"):
        raise CatalogError(
            f"cannot serve catalog {settings.database!r}: give a database URI "
            "(postgresql://user@host/db or sqlite:///path/catalog.db); an http:// URI is "
            "a server already"
        )
    data = state / "server" / "data"
    data.mkdir(parents=True, exist_ok=True)
    if scheme == "sqlite":
        path = Path(urlparse(settings.database).path)
        tables = settings.tables or f"sqlite:///{path.with_name('tables.sqlite')}"
        return settings.database, [str(data), tables], not path.exists()
    return settings.database, [str(data), settings.tables or settings.database], True


def build_server_app(settings: ServerSettings, api_key: str) -> Any:
    """Tiled's web app serving the catalog ``settings`` names, requiring ``api_key``
    (for reading too, unless ``settings.public``)."""
    from tiled.catalog import from_uri
    from tiled.config import Authentication
    from tiled.server.app import build_app

    from ._adapter import adapters_by_mimetype
    from ._exporters import serialization_registry
    from ._tiled import quiet_app_logs

    database, writable, init = _storage(settings)
    try:
        adapter = from_uri(
            database,
            writable_storage=writable,
            readable_storage=[str(settings.base_dir.absolute())],
            init_if_not_exists=init,
            specs=ROOT_SPECS,
            adapters_by_mimetype=adapters_by_mimetype(),
        )
    except Exception as e:  # a database that cannot be reached or initialised
        raise CatalogError(f"cannot open catalog database {database!r}: {e}") from e
    quiet_app_logs()
    return build_app(
        adapter,
        Authentication(single_user_api_key=api_key, allow_anonymous_access=settings.public),
        serialization_registry=serialization_registry(),
    )


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


def serve(app: Any, settings: ServerSettings) -> None:
    """Serve ``app`` (from :func:`build_server_app`) on the host and port of ``settings``
    until interrupted (uvicorn, one process)."""
    import uvicorn

    uvicorn.run(app, host=settings.host, port=settings.port, log_config=_log_config())
