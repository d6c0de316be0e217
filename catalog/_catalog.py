"""`Catalog`: the Tiled side — an embedded SQLite catalog, or any Tiled server."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..writers.model import ATTRIBUTES_KEY, Document
from ._errors import CatalogError, CatalogUnavailableError, RunNotFoundError
from ._summary import Runs, summary
from ._tiled import (
    init_lock,
    is_unreachable,
    one_line,
    pinned_structure_clients,
    status_code,
    table_storage,
)

if TYPE_CHECKING:
    import numpy as np

    from ._sql import SQLWriter

__all__ = ["Catalog"]

Documents = Iterable[Document]
"""Documents as registration takes them (any iterable, in order)."""


class Catalog:
    """A Tiled catalog of runs: registration, queries, reading arrays back.

    Build one with :meth:`embedded` (SQLite file and data folder, in-process, no
    server) or :meth:`from_uri` (any Tiled server). The Tiled client is exposed
    as :attr:`client` for anything this small API does not cover.
    """

    def __init__(
        self,
        client: Any,
        *,
        description: str,
        base_dir: str | Path | None = None,
        direct: SQLWriter | None = None,
    ) -> None:
        from ._consolidator import install_zarr_consolidator

        install_zarr_consolidator()
        self._direct = direct  # embedded: runs are written straight into its database
        self._client = client
        # Our own view of the same node, whose runs are always BlueskyRun v3
        # clients: bluesky-tiled-plugins' CatalogOfBlueskyRuns.v2 rebinds
        # "BlueskyRun" in the structure-client map it shares with every default
        # client of the process (2.0.12), which would change what we read.
        self._runs = type(client)(
            client.context, item=client.item, structure_clients=pinned_structure_clients()
        )
        self._description = description
        self.base_dir = Path(base_dir) if base_dir is not None else None
        """The data folder that store paths in the entries are relative to, where known."""
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- construction
    @classmethod
    def embedded(cls, directory: str | Path, *, readable: Sequence[str | Path]) -> Catalog:
        """An in-process catalog in ``directory`` (``catalog.db``, ``tables.sqlite``, ``data/``).

        ``readable`` are the folders whose stores it may serve (external data must
        lie under one of them). Created on first use; reopening is fast.
        """
        from tiled.catalog import from_uri
        from tiled.client import from_context
        from tiled.client.context import Context
        from tiled.server.app import build_app

        from ._exporters import serialization_registry
        from ._sql import SQLWriter

        directory = Path(directory).absolute()
        (directory / "data").mkdir(parents=True, exist_ok=True)
        database = directory / "catalog.db"
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
            )
        app = build_app(adapter, serialization_registry=serialization_registry())
        with warnings.catch_warnings():
            # Tiled's in-process transport imports starlette's TestClient, which
            # warns about httpx; nothing for a user to act on.
            warnings.filterwarnings("ignore", message="Using `httpx` with `starlette")
            context = Context.from_app(app)
        direct = SQLWriter(database, table_storage(adapter))
        return cls(
            from_context(context),
            description=f"embedded catalog in {directory}",
            base_dir=Path(readable[0]).absolute() if readable else None,
            direct=direct,
        )

    @classmethod
    def from_uri(cls, uri: str, *, api_key: str | None = None) -> Catalog:
        """A catalog on a Tiled server, e.g. ``http://host:8000/api/v1/metadata/raw``."""
        from tiled.client import from_context
        from tiled.client.context import Context

        cls.check_uri(uri)
        context = None
        try:
            context, node_path_parts = Context.from_any_uri(uri, api_key=api_key)
            client = from_context(context, node_path_parts=node_path_parts)
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
        return cls(client, description=f"Tiled server {uri}")

    @staticmethod
    def check_uri(uri: str) -> None:
        """Raise :class:`CatalogError` at once if ``uri`` cannot be a Tiled server's."""
        from urllib.parse import urlsplit

        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CatalogError(
                f"{uri!r} is not a Tiled server URI; give http(s)://host:port/api "
                "(a database is served by a Tiled server; omit the URI for the embedded catalog)"
            )

    def close(self) -> None:
        """Release the catalog: for the embedded one, shut the in-process app down
        (its database connections with it). The catalog cannot be used afterwards."""
        with self._lock:
            if self._direct is not None:
                self._direct.close()
            context = getattr(self._client, "context", None)
            if context is not None and hasattr(context, "close"):
                context.close()

    @property
    def client(self) -> Any:
        """The Tiled client of the catalog root (a ``CatalogOfBlueskyRuns`` when so tagged)."""
        return self._client

    def __repr__(self) -> str:
        return f"Catalog({self._description})"

    # ---------------------------------------------------------------- registration
    def _node(self, uid: str) -> Any:
        """The run node keyed exactly ``uid`` (no partial-uid or scan-id lookup)."""
        from tiled.client.container import Container

        return Container.__getitem__(self._runs, uid)

    def __contains__(self, uid: object) -> bool:
        if not isinstance(uid, str):
            return False
        with self._lock:
            try:
                self._node(uid)
            except KeyError:
                return False
        return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def delete_run(self, uid: str) -> None:
        """Remove run ``uid``'s entry (its stores on disk are not touched)."""
        with self._lock:
            self._runs.delete_contents([uid], recursive=True, external_only=False)

    def register_run(self, documents: Documents, metadata: dict[str, Any]) -> str:
        """Register a run from its documents, replacing any earlier entry of it.

        The entry is the one bluesky-tiled-plugins' ``TiledWriter`` makes (so
        databroker and ``BlueskyRun`` clients read it), each device's array as
        external Zarr data, with ``metadata`` merged into the run's metadata.
        The embedded catalog writes it straight into its database in one
        transaction; a Tiled server gets one request per node. Raises
        :class:`CatalogUnavailableError` if the catalog is down.
        """
        return self.register_runs([(documents, metadata)])[0]

    def register_runs(self, runs: Iterable[tuple[Documents, dict[str, Any]]]) -> list[str]:
        """Register several runs (documents, metadata); returns their uids, in order.

        The embedded catalog writes them all in one transaction (all or none);
        a run whose documents need ``TiledWriter`` itself (internal array data)
        is written through it, on its own."""
        from ._plan import UnsupportedRun, plan_run

        plans, fallback, uids = [], [], []
        for documents, metadata in runs:
            docs = list(documents)
            uid = _start_uid(docs)
            uids.append(uid)
            try:
                plans.append(plan_run(docs, metadata))
            except UnsupportedRun:
                fallback.append((uid, docs, metadata))  # TiledWriter writes it
            except (KeyError, ValueError, TypeError) as e:
                raise CatalogError(
                    f"run {uid!r} has documents the catalog cannot take: {one_line(e)}"
                ) from e
        what = f"run {uids[0]!r}" if len(uids) == 1 else f"{len(uids)} runs ({uids[0]!r}, ...)"
        try:
            with self._lock:
                if self._direct is not None:
                    if plans:
                        self._direct.write(plans)
                else:
                    for plan in plans:
                        self._replace(plan.key, partial(self._write_http, plan))
                for uid, docs, metadata in fallback:
                    self._replace(uid, partial(self._write_tiled_writer, docs, metadata))
        except Exception as e:
            if is_unreachable(e):
                raise CatalogUnavailableError(
                    f"{self._description} is unreachable while registering {what}: {one_line(e)}"
                ) from e
            raise CatalogError(
                f"registering {what} in {self._description} failed: {one_line(e)}; "
                "try again (a RegistrationQueue retries by itself)"
            ) from e
        return uids

    def _replace(self, uid: str, write: Callable[[], None]) -> None:
        try:
            write()
        except Exception as e:
            if status_code(e) != 409:
                raise
            # Registered before (a replay, or a retry after a partial attempt):
            # replace the entry. Checking first would cost a request per run.
            self.delete_run(uid)
            write()

    def _write_http(self, plan: Any) -> None:
        from ._http import write_http

        write_http(self._runs, plan)

    def _write_tiled_writer(self, docs: list[Document], metadata: Any) -> None:
        from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter

        writer = TiledWriter(self._runs)
        for name, doc in docs:
            writer(name, doc)
        self._node(_start_uid(docs)).update_metadata(metadata=metadata, drop_revision=True)

    # ---------------------------------------------------------------- queries
    def search(
        self,
        *,
        plan_name: str | None = None,
        scan_id: int | None = None,
        exit_status: str | None = None,
        device: str | None = None,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
        uid: str | None = None,
        limit: int | None = None,
        **start_keys: Any,
    ) -> Runs:
        """Runs matching every filter given, newest first.

        ``uid`` matches a full uid or a prefix; ``device`` any device that took
        part; ``since``/``until`` bound the start time (epoch seconds or datetime);
        other keywords match start-document keys exactly (``sample="Si"``).
        """
        from tiled.queries import Comparison, Eq, KeyPresent, Like

        queries: list[Any] = []
        if plan_name is not None:
            queries.append(Eq("start.plan_name", plan_name))
        if scan_id is not None:
            queries.append(Eq("start.scan_id", int(scan_id)))
        if exit_status is not None:
            queries.append(Eq(f"{ATTRIBUTES_KEY}.exit_status", exit_status))
        if device is not None:
            queries.append(KeyPresent(f"{ATTRIBUTES_KEY}.device_set.{device}"))
        if since is not None:
            queries.append(Comparison("ge", "start.time", _epoch(since)))
        if until is not None:
            queries.append(Comparison("le", "start.time", _epoch(until)))
        if uid:
            queries.append(Like("start.uid", f"{uid}%"))
        for key, value in start_keys.items():
            queries.append(Eq(f"start.{key}", value))
        from tiled.client.container import Container

        with self._lock:
            results = self._runs
            for query in queries:
                # Container.search, not CatalogOfBlueskyRuns.search: the latter
                # rewrites every key outside start/stop into "start.<key>".
                results = Container.search(results, query)
            results = results.sort(("start.time", -1))
            items = results.items()
            if limit is not None:
                items = items[:limit]  # fetches only that many from the server
            return Runs(summary(key, node.metadata, self.base_dir) for key, node in items)

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every run's metadata by uid, fetched page by page (for comparing many runs
        at once, as a replay of everything does)."""
        with self._lock:
            return {str(key): dict(node.metadata) for key, node in self._runs.items()}

    def run(self, uid: str) -> Any:
        """The Tiled client of run ``uid`` (a full uid or an unambiguous prefix)."""
        with self._lock:
            try:
                return self._node(uid)  # one request when the uid is exact
            except KeyError:
                pass
        matches = self.search(uid=uid, limit=2)
        if not matches:
            raise RunNotFoundError(f"no run with uid {uid!r} (or starting with it) in {self}")
        if len(matches) > 1:
            raise RunNotFoundError(
                f"uid prefix {uid!r} is ambiguous: {matches[0].uid}, {matches[1].uid}, ...; "
                "give more characters"
            )
        with self._lock:
            return self._node(matches[0].uid)

    def documents(self, uid: str) -> list[Document]:
        """The documents of run ``uid`` as the catalog holds them.

        Stream datums come consolidated (one per array); stream resources get
        back the URI and parameters the run gave them.
        """
        from ._consolidator import STREAM_RESOURCE_KEY

        run = self.run(uid)
        with self._lock:
            docs = [(str(name), dict(doc)) for name, doc in run.documents()]
            originals: dict[str, Any] = {}
            for stream in run:
                for key, node in run[stream].items():
                    saved = node.metadata.get(STREAM_RESOURCE_KEY)
                    if saved:
                        originals[key] = saved
        for name, doc in docs:
            if name == "stream_resource" and doc["data_key"] in originals:
                doc.update(originals[doc["data_key"]])
        return docs

    def read_array(self, uid: str, key: str, *, stream: str | None = None) -> np.ndarray:
        """Read array ``key`` (a device's data key) of run ``uid`` through Tiled."""
        run = self.run(uid)
        with self._lock:
            streams = [stream] if stream else list(run)
            for name in streams:
                node = run[name]
                if key in node:
                    import numpy as np

                    return np.asarray(node[key].read())
        raise RunNotFoundError(
            f"run {uid!r} has no array {key!r} in stream(s) {streams}; "
            f"see Catalog.run({uid!r}) for what it has"
        )


def _start_uid(docs: list[tuple[str, dict[str, Any]]]) -> str:
    starts = [doc for name, doc in docs if name == "start"]
    if len(starts) != 1:
        raise CatalogError(
            f"a run is registered from exactly one start document; got {len(starts)}"
        )
    return str(starts[0]["uid"])


def _epoch(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)
