"""Glue to Tiled: opening the embedded app, client classes, error classification."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from ._errors import CatalogError

__all__ = [
    "init_lock",
    "is_unreachable",
    "one_line",
    "pinned_structure_clients",
    "plain_reading",
    "quiet_app_logs",
    "show_progress",
    "status_code",
    "table_storage",
    "tiled_readings",
]


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


def table_storage(adapter: Any) -> Any:
    """The embedded catalog's SQL table storage (``tables.sqlite``), as Tiled opened it."""
    from tiled.storage import SQLStorage

    for storage in adapter.context.writable_storage.values():
        if isinstance(storage, SQLStorage):
            return storage
    raise CatalogError("the embedded catalog has no SQL table storage; reopen it")


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
