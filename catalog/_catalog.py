"""`Catalog`: the Tiled side — an embedded SQLite catalog, or any Tiled server."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..writers.model import Document
from ._errors import CatalogError, CatalogUnavailableError
from ._filters import Filter, Moment, run_filters, tiled_queries
from ._local import LocalReader
from ._reads import RunReads
from ._summary import Runs, summary
from ._tiled import (
    is_unreachable,
    one_line,
    pinned_structure_clients,
    status_code,
)

if TYPE_CHECKING:
    from ._open import EmbeddedTiled, Opened
    from ._postgres import Postgres
    from ._relocate import Location
    from ._sql import SQLWriter

__all__ = ["Catalog"]

Documents = Iterable[Document]
"""Documents as registration takes them (any iterable, in order)."""


class Catalog(RunReads):
    """A Tiled catalog of runs: registration, queries, reading arrays back.

    Open the catalog of a data folder a pipeline wrote with :meth:`from_folder`;
    build one with :meth:`embedded` (SQLite file and data folder, in-process, no
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
        self._description = description
        self.base_dir = Path(base_dir) if base_dir is not None else None
        """The data folder that store paths in the entries are relative to, where known."""
        self._lock = threading.RLock()
        self._local: LocalReader | None = None  # embedded: reads straight from its database
        self._embedded: EmbeddedTiled | None = None
        self._opened: Opened | None = None  # embedded: Tiled opened on it
        self._client: Any = None
        self._runs: Any = None
        self._direct: SQLWriter | None = None
        self._reads: Postgres | None = None  # PostgreSQL: run lookups straight by SQL
        if client is not None:
            self._attach(client, direct)

    def _attach(self, client: Any, direct: SQLWriter | None) -> None:
        self._direct = direct  # embedded: runs are written straight into its database
        self._client = client
        # Our own view of the same node, whose runs are always BlueskyRun v3
        # clients: bluesky-tiled-plugins' CatalogOfBlueskyRuns.v2 rebinds
        # "BlueskyRun" in the structure-client map it shares with every default
        # client of the process (2.0.12), which would change what we read.
        self._runs = type(client)(
            client.context, item=client.item, structure_clients=pinned_structure_clients()
        )

    def _open(self, *, write: bool) -> None:
        """Open the embedded catalog (for reading, a private copy where needed; the
        catalog itself for writing), without building Tiled's app yet."""
        if self._embedded is not None and (opened := self._embedded.open(write)):
            self._opened, self._direct, self._client, self._runs = (
                opened,
                opened.direct,
                None,
                None,
            )
            self._local = self._embedded.local

    def _tiled(self, *, write: bool = False) -> Any:
        """The Tiled client of the runs, opening Tiled on first use (embedded catalog:
        for reading, on a private copy where needed; the catalog itself for writing)."""
        with self._lock:
            self._open(write=write)
            if self._runs is None and self._opened is not None:
                self._attach(self._opened.client, self._opened.direct)
            return self._runs

    # ---------------------------------------------------------------- construction
    @classmethod
    def embedded(cls, directory: str | Path, *, readable: Sequence[str | Path]) -> Catalog:
        """An in-process catalog in ``directory`` (``catalog.db``, ``tables.sqlite``, ``data/``).

        ``readable`` are the folders whose stores it may serve (external data must
        lie under one of them). Created on first use, but never in a data folder a
        pipeline wrote (it would be empty beside the runs: open that with
        :meth:`from_folder`). Queries read its database directly; Tiled is opened
        only for what needs it (registration, array data, :attr:`client`). On
        read-only media it is read (Tiled on a private copy) but not written.
        """
        from ._folder import check_catalog_directory

        directory = Path(directory).absolute()
        check_catalog_directory(directory)
        return cls._embedded_in(directory, readable, None)

    @classmethod
    def _embedded_in(
        cls, directory: Path, readable: Sequence[str | Path], locate: Callable[[], Location] | None
    ) -> Catalog:
        from ._open import EmbeddedTiled

        directory = directory.absolute()
        base = Path(readable[0]).absolute() if readable else None
        catalog = cls(None, description=f"embedded catalog in {directory}", base_dir=base)
        catalog._embedded = EmbeddedTiled(directory, readable, locate)
        catalog._local = catalog._embedded.local
        return catalog

    @classmethod
    def from_folder(cls, base_dir: str | Path) -> Catalog:
        """The catalog of the data folder ``base_dir`` (the ``base_dir`` a pipeline wrote
        to): ``Catalog.from_folder("/data").search()``.

        Nothing is created: a folder with run logs but no catalog raises
        :class:`CatalogError` saying how to build one from them
        (``zarrscribe replay --all --base-dir <folder>``); a folder without either
        says it holds no zarrscribe data.
        """
        from ._folder import open_folder

        return open_folder(base_dir)

    @classmethod
    def from_uri(cls, uri: str, *, api_key: str | None = None) -> Catalog:
        """A catalog on a Tiled server, e.g. ``http://host:8000/api/v1/metadata/raw``."""
        from ._server import open_server

        return cls(open_server(uri, api_key), description=f"Tiled server {uri}")

    @classmethod
    def from_database(
        cls, uri: str, *, tables: str | None = None, readable: Sequence[str | Path] = ()
    ) -> Catalog:
        """The catalog in the PostgreSQL database ``uri`` a Tiled server serves
        (``postgresql://user@host/db``), its table storage in ``tables`` (default: the
        same database, as ``zarrscribe serve`` has it). Runs are written straight into
        it by SQL (as the embedded catalog's are), which the server reads at once;
        ``readable`` are the folders whose stores Tiled may read here."""
        from ._postgres import open_postgres

        return open_postgres(cls, uri, tables, readable)

    @staticmethod
    def check_uri(uri: str) -> None:
        """Raise :class:`CatalogError` at once if ``uri`` cannot be a Tiled server's."""
        from ._server import check_uri

        check_uri(uri)

    def close(self) -> None:
        """Release the catalog: for the embedded one, shut the in-process app down
        (its database connections with it). The catalog cannot be used afterwards."""
        with self._lock:
            if self._embedded is not None:
                self._embedded.close()
            elif self._opened is not None:  # PostgreSQL: its writer and app
                self._opened.close()
            elif (context := getattr(self._client, "context", None)) is not None:
                context.close()  # a server's client: its connection

    @property
    def client(self) -> Any:
        """The Tiled client of the catalog root (a ``CatalogOfBlueskyRuns`` when so tagged)."""
        self._tiled()
        return self._client

    def __repr__(self) -> str:
        return f"Catalog({self._description})"

    # ---------------------------------------------------------------- registration
    def _node(self, uid: str) -> Any:
        """The run node keyed exactly ``uid`` (no partial-uid or scan-id lookup)."""
        from tiled.client.container import Container

        return Container.__getitem__(self._tiled(), uid)

    def _missing(self) -> bool:
        """Whether this is an embedded catalog whose database is not made yet (it holds
        no run: nothing to start Tiled for)."""
        return (
            self._local is None
            and self._embedded is not None
            and self._embedded.opened is None
            and not self._embedded.database.exists()
        )

    def __contains__(self, uid: object) -> bool:
        if not isinstance(uid, str) or self._missing():
            return False
        if self._reads is not None:
            return self._reads.metadata(uid) is not None
        if self._local is not None:
            return self._local.metadata(uid) is not None
        with self._lock:
            try:
                self._node(uid)
            except KeyError:
                return False
        return True

    def __len__(self) -> int:
        if self._missing():
            return 0
        if self._local is not None:
            return self._local.count()
        with self._lock:
            return len(self._tiled())

    def delete_run(self, uid: str) -> None:
        """Remove run ``uid``'s entry (its stores on disk are not touched).

        Only the entry: a replay of the run's log registers it again. To delete a run
        for good, record the deletion first (``DeletionLog(base_dir).record_deletion``,
        which ``zarrscribe delete`` does): replay then skips it.
        """
        with self._lock:
            self._tiled(write=True).delete_contents([uid], recursive=True, external_only=False)

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

    def register_runs(
        self,
        runs: Iterable[tuple[Documents, dict[str, Any]]],
        *,
        unless: Callable[[], bool] | None = None,
    ) -> list[str]:
        """Register several runs (documents, metadata); returns their uids, in order.

        Documents that can be iterated again (a list, or a run's log read again each
        time) are read one at a time, never held whole; the event rows of each run are
        kept as compact tables until written. The embedded catalog writes them all in
        one transaction (all or none); a run whose documents need ``TiledWriter``
        itself (internal array data) is written through it, on its own.

        ``unless`` is asked under this catalog's lock, just before anything is written:
        when it says ``True`` nothing is (and no uid returned). Live entries use it so
        that a run's entry written after its stop's registration is never a live one."""
        from ._plan import UnsupportedRun, plan_run

        plans, fallback, uids = [], [], []
        for documents, metadata in runs:
            docs = list(documents) if isinstance(documents, Iterator) else documents
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
                if unless is not None and unless():
                    return []
                self._open(write=True)  # Tiled's app only if something below needs it
                if self._direct is not None:
                    if plans:
                        self._direct.write(plans)
                else:
                    for plan in plans:
                        self._replace(plan.key, partial(self._write_http, plan))
                for uid, docs, metadata in fallback:
                    self._replace(uid, partial(self._write_tiled_writer, docs, metadata))
        except CatalogError:
            raise  # ours: says why and what to do already (a full disk, another Tiled version)
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

        write_http(self._tiled(), plan)

    def _write_tiled_writer(self, docs: Documents, metadata: Any) -> None:
        from ._http import write_tiled_writer

        write_tiled_writer(self._tiled(), docs, metadata)

    # ---------------------------------------------------------------- queries
    def search(
        self,
        *,
        plan_name: str | None = None,
        scan_id: int | None = None,
        exit_status: str | None = None,
        device: str | None = None,
        since: Moment | None = None,
        until: Moment | None = None,
        uid: str | None = None,
        limit: int | None = None,
        **start_keys: Any,
    ) -> Runs:
        """Runs matching every filter given, newest first.

        ``uid`` matches a full uid or a prefix; ``device`` any device that took
        part; ``since``/``until`` bound the start time, both included (epoch seconds, a
        datetime, or a date: ``until=date(2026, 12, 3)`` takes in that whole day);
        other keywords match start-document keys exactly (``sample="Si"``).
        """
        filters = run_filters(
            plan_name=plan_name,
            scan_id=scan_id,
            exit_status=exit_status,
            device=device,
            since=since,
            until=until,
            uid=uid,
            start_keys=start_keys,
        )
        if self._local is not None:
            found = self._local.search(filters, limit)
        else:
            found = self._search_tiled(filters, limit)
        return Runs(summary(key, metadata) for key, metadata in found)

    def _search_tiled(self, filters: list[Filter], limit: int | None) -> list[tuple[str, Any]]:
        from tiled.client.container import Container

        with self._lock:
            results = self._tiled()
            for query in tiled_queries(filters):
                # Container.search, not CatalogOfBlueskyRuns.search: the latter
                # rewrites every key outside start/stop into "start.<key>".
                results = Container.search(results, query)
            items = results.sort(("start.time", -1)).items()
            if limit is not None:
                items = items[:limit]  # fetches only that many from the server
            return [(key, node.metadata) for key, node in items]


def _start_uid(docs: Iterable[tuple[str, dict[str, Any]]]) -> str:
    """The uid of the run's start document (a second one is refused by the plan);
    documents read again from a log that know it already say it (``start_uid``)."""
    known = getattr(docs, "start_uid", None)
    if isinstance(known, str):
        return known
    if isinstance(docs, list):  # all in memory: count them here
        starts = [doc for name, doc in docs if name == "start"]
    else:  # read from a log: the start is its first line
        starts = [doc for name, doc in itertools.islice(docs, 1) if name == "start"]
    if len(starts) != 1:
        raise CatalogError(
            f"a run is registered from exactly one start document; got {len(starts)}"
        )
    return str(starts[0]["uid"])
