"""Glue to Tiled: opening the embedded app, client classes, error classification."""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from ._errors import CatalogError

__all__ = [
    "TABLE_STORAGE_LOCK",
    "forget_replaced_files",
    "init_lock",
    "is_unreachable",
    "one_line",
    "opened",
    "pinned_structure_clients",
    "plain_reading",
    "quiet_app_logs",
    "show_progress",
    "sql_storage",
    "status_code",
    "tiled_file_uri",
    "tiled_readings",
    "unreadable",
]


ROOT_SPECS = [{"name": "CatalogOfBlueskyRuns", "version": "3.0"}]
"""Specs of the catalog's root: bluesky clients then treat it as a catalog of runs."""


def tiled_adapter(
    database: str, writable: Sequence[str], readable: Sequence[str | Path], *, init: bool
) -> Any:
    """Tiled's catalog adapter on ``database`` (with ``init``, Tiled initialises it
    first), with zarrscribe's root specs and array adapter: the embedded catalog, a
    PostgreSQL one and ``zarrscribe serve`` open it alike."""
    from tiled.catalog import from_uri

    from ._adapter import adapters_by_mimetype

    return from_uri(
        database,
        writable_storage=list(writable),
        readable_storage=[str(Path(p).absolute()) for p in readable],
        init_if_not_exists=init,
        specs=ROOT_SPECS,
        adapters_by_mimetype=adapters_by_mimetype(),
    )


def in_process_client(adapter: Any) -> Any:
    """A Tiled client of ``adapter`` served by an app in this process (no network)."""
    from tiled.client import from_context
    from tiled.client.context import Context
    from tiled.server.app import build_app

    from ._exporters import serialization_registry

    quiet_app_logs()
    app = build_app(adapter, serialization_registry=serialization_registry())
    with warnings.catch_warnings():
        # Tiled's in-process transport imports starlette's TestClient, which warns
        # about httpx; nothing for a user to act on.
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette")
        context = Context.from_app(app, show_progress=show_progress())  # starts the app
    return from_context(context)


def status_code(error: BaseException) -> int | None:
    """HTTP status of ``error`` or of what caused it (RunRouter wraps callback errors)."""
    seen: BaseException | None = error
    while seen is not None:
        code = getattr(getattr(seen, "response", None), "status_code", None)
        if isinstance(code, int):
            return code
        seen = seen.__cause__ or seen.__context__
    return None


def is_unreachable(error: BaseException) -> bool:
    import httpx

    return isinstance(error, httpx.TransportError | ConnectionError | TimeoutError)


def one_line(error: BaseException) -> str:
    """The error's message in one short line: a database error's reason, never its SQL."""
    orig = getattr(error, "orig", None)  # SQLAlchemy wraps the driver's error with the SQL
    text = str(orig if orig is not None else error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line if len(line) <= 200 else line[:197] + "..."


@contextmanager
def init_lock(directory: Path) -> Iterator[None]:
    """Serialise the creation of a catalog between processes (Unix ``flock``)."""
    import fcntl

    with open(directory / ".open.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _no_version_line(record: Any) -> bool:
    return not str(record.msg).startswith("Tiled version")


def quiet_app_logs() -> None:
    """Keep Tiled's "Tiled version ..." line off stderr: its app logs it whenever it
    starts (also the in-process app of the embedded catalog), through a handler its
    module installs on import. A filter on the logger, not a level: tiled sets the
    level when it is imported, which may come later."""
    import logging

    logging.getLogger("tiled.server.app").addFilter(_no_version_line)  # once per process


def show_progress() -> bool | None:
    """``show_progress`` for Tiled's client: ``False`` in a notebook without ipywidgets,
    where Tiled falls back to a terminal bar that prints control characters and an
    "install ipywidgets" warning into the notebook for every read; else ``None``, Tiled's
    own choice (a bar on an interactive terminal, a widget in a notebook that has
    ipywidgets, nothing in a script; ``TILED_SHOW_PROGRESS=0`` turns it off)."""
    import importlib.util

    shell_module = sys.modules.get("IPython")  # a notebook has imported it already
    if shell_module is None:
        return None
    shell = shell_module.get_ipython()
    in_notebook = shell is not None and "ZMQInteractiveShell" in type(shell).__name__
    if in_notebook and importlib.util.find_spec("ipywidgets") is None:
        return False
    return None


def tiled_file_uri(uri: str) -> str:
    """The ``file`` URI Tiled reads for the local store ``uri`` names (any other URI as it is).

    Tiled never percent-decodes a ``file`` URI: it takes the URI's path as the file's
    path (``tiled.utils.path_from_uri``), for its containment check against readable
    storage and for opening the data. So a URI is stored the way Tiled itself makes one
    from a path (``tiled.utils.ensure_uri``: ``file://localhost`` and the path as it is),
    never ``Path.as_uri()``'s percent-encoded form, which names another path for Tiled
    when the path has spaces, non-ASCII characters or ``%``.
    """
    from urllib.parse import unquote, urlsplit

    from tiled.utils import ensure_uri

    parts = urlsplit(uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return uri
    return str(ensure_uri(unquote(parts.path)))


def unreadable(where: str, base_dir: Path | None, what: str, error: Exception) -> CatalogError:
    """The one-line error of array ``what`` that Tiled (``where``) could not read."""
    from ._errors import CatalogUnavailableError

    if is_unreachable(error):
        return CatalogUnavailableError(
            f"{where} is unreachable while reading array {what}: {one_line(error)}"
        )
    # '#' and '?' end a URI's path, and Tiled does not decode file URIs
    odd = next((c for c in "#?" if c in str(base_dir)), None) if base_dir else None
    if odd is not None:
        return CatalogError(
            f"Tiled cannot read the arrays under {str(base_dir)!r}: its path holds {odd!r}, "
            "which ends a URI's path (Tiled does not decode file URIs); move the data folder "
            "to a path without '#' or '?' (the run is in the catalog)"
        )
    return CatalogError(f"cannot read array {what} through {where}: {one_line(error)}")


_OPENED: dict[Path, tuple[int, int]] = {}
"""(device, inode) of each catalog database file when Tiled last opened it here."""


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def forget_replaced_files(database: Path, tables: Path) -> None:
    """Make Tiled connect afresh to ``database`` and ``tables`` if the files at these
    paths are not the ones it connected to before in this process.

    Tiled 0.2.20 keeps one connection pool per database URI for the whole process:
    the catalog database's SQLAlchemy engine (``tiled.server.connection_pool.
    _connection_pools``) and the table storage (``tiled.storage._SQL_STORAGE_INSTANCES``,
    holding an open ADBC connection). A data folder deleted and made again at the same
    path (a long-lived notebook or GUI whose folder was replaced) left those connected
    to the deleted files: every registration failed with "attempt to write a readonly
    database", and reads saw the deleted catalog. Tiled has no public way to drop
    them, so this one function touches those private caches: it removes (without
    closing: a catalog still open on the old files keeps using them) the entries of
    these two files once the catalog database at the path is another file. An open
    connection keeps a deleted file's inode in use, so a new file never has the inode
    of one a cached connection still holds.
    """
    now, before = _identity(database), _OPENED.get(database)
    if before is None or before == now:
        return
    # Only modules already imported hold a cache (importing them costs seconds).
    connection_pool = sys.modules.get("tiled.server.connection_pool")
    if connection_pool is not None:
        engines = connection_pool._connection_pools
        for settings in [s for s in engines if str(s.uri).endswith(f"///{database}")]:
            del engines[settings]
    storage = sys.modules.get("tiled.storage")
    if storage is not None:
        from tiled.utils import ensure_uri

        uri = ensure_uri(f"sqlite:///{tables}")
        for cached in [s for s in storage._SQL_STORAGE_INSTANCES if s.uri == uri]:
            del storage._SQL_STORAGE_INSTANCES[cached]
    _OPENED.pop(database, None)


def opened(database: Path) -> None:
    """Remember which file Tiled opened at ``database`` (see :func:`forget_replaced_files`)."""
    identity = _identity(database)
    if identity is not None:
        _OPENED[database] = identity


TABLE_STORAGE_LOCK = threading.RLock()
"""Held around every use of an embedded catalog's table storage (SQLite) in this process:
our writes go through the ADBC SQLite driver, which carries its own copy of SQLite, and
our direct reads through Python's ``sqlite3``. Two copies of SQLite in one process do not
see each other's POSIX locks (and closing a file drops the other's), so a read during a
write took the writer's journal for a crashed one: "disk I/O error" on both sides
(https://www.sqlite.org/howtocorrupt.html, 2.2.1). Other processes are not concerned."""


def sql_storage(tables: Path) -> Any:
    """The embedded catalog's SQL table storage (the SQLite file ``tables``): the one
    instance Tiled's adapter of the catalog uses too (``tiled.storage`` keeps one per
    URI), had without building that adapter."""
    from tiled.storage import SQLStorage, parse_storage

    storage = parse_storage(f"sqlite:///{tables}")
    if not isinstance(storage, SQLStorage):
        raise CatalogError(f"{tables} is no SQL table storage for Tiled; reopen the catalog")
    return storage


def pinned_structure_clients() -> Any:
    """Tiled's default structure clients, with ``BlueskyRun`` fixed to ``BlueskyRunV3``."""
    from bluesky_tiled_plugins.clients.bluesky_run import BlueskyRunV3
    from tiled.client.container import DEFAULT_STRUCTURE_CLIENT_DISPATCH, Container
    from tiled.utils import OneShotCachedMap

    Container.discover_clients_from_entrypoints()
    defaults = DEFAULT_STRUCTURE_CLIENT_DISPATCH["numpy"]
    lazy: dict[str, Callable[[], Any]] = {
        key: partial(defaults.__getitem__, key) for key in defaults
    }
    lazy["BlueskyRun"] = lambda: BlueskyRunV3
    return OneShotCachedMap(lazy)


def tiled_readings(run: Any, limit: int | None) -> dict[str, dict[str, list[Any]]]:
    """:meth:`Catalog.readings` through Tiled (a pandas frame per events table)."""
    out: dict[str, dict[str, list[Any]]] = {}
    for stream in run:
        node = run[stream]
        base = getattr(node, "base", node)
        if "internal" not in base:
            continue  # a stream of arrays only (a fly scan)
        frame = base["internal"].read()
        if limit is not None:
            frame = frame.head(limit)
        out[stream] = {
            str(column): [plain_reading(v) for v in frame[column]]
            for column in frame.columns
            if not str(column).startswith("ts_")
        }
    return out


def tiled_layout(run: Any) -> dict[str, dict[str, Any]]:
    """:meth:`Catalog.layout` through Tiled (a request per node)."""
    from ..writers.model import FRAMES_PARAMETER, ZARR_MIMETYPE

    out: dict[str, dict[str, Any]] = {}
    for stream in run:
        node = run[stream]
        base = getattr(node, "base", node)
        for key in base:
            child = base[key]
            sources = child.data_sources() if child.structure_family == "array" else []
            if sources and sources[0].mimetype == ZARR_MIMETYPE:
                out.setdefault(stream, {})[key] = {
                    "shape": list(child.shape),
                    "frames": (sources[0].parameters or {}).get(FRAMES_PARAMETER),
                }
    return out


def plain_reading(value: Any) -> Any:
    """A reading as a JSON value (numpy scalars to Python; NaN to None)."""
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    if isinstance(value, float) and value != value:
        return None
    return value
