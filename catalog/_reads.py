"""Reading runs back from a catalog: every entry, distinct values, and one run's
metadata, layout, readings, documents and arrays (the part of
:class:`~._catalog.Catalog` past registration and search)."""

from __future__ import annotations

import itertools
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..writers.model import ATTRIBUTES_KEY, RUNNING, Document
from ._errors import CatalogError, RunNotFoundError
from ._filters import flat_sorted
from ._local import LocalReader, NotReadable
from ._summary import Runs, summary
from ._tiled import tiled_layout, tiled_readings, unreadable

if TYPE_CHECKING:
    import numpy as np

    from ._postgres import Postgres

__all__ = ["RunReads"]


class RunReads:
    """What a catalog reads back: every entry at once, the values a key takes, and one
    run by uid (a full uid or an unambiguous prefix)."""

    _lock: AbstractContextManager[Any]
    _local: LocalReader | None
    _reads: Postgres | None
    _description: str
    base_dir: Path | None

    def _node(self, uid: str) -> Any:
        raise NotImplementedError

    def _missing(self) -> bool:
        raise NotImplementedError

    def __contains__(self, uid: object) -> bool:
        raise NotImplementedError

    def search(self, *, uid: str | None = None, limit: int | None = None) -> Runs:
        raise NotImplementedError

    def _tiled(self, *, write: bool = False) -> Any:
        raise NotImplementedError

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every run's metadata by uid, fetched page by page (for comparing many runs
        at once, as a replay of everything does)."""
        if self._missing():
            return {}
        if self._local is not None:
            return self._local.entries()
        with self._lock:
            return {str(key): dict(node.metadata) for key, node in self._tiled().items()}

    def distinct(self, key: str) -> list[Any]:
        """The values the dotted metadata ``key`` takes among the runs, sorted; list
        values count item by item (``distinct("zarrscribe.devices")``: device names)."""
        if self._local is not None:
            return flat_sorted(self._local.distinct(key))
        from tiled.client.container import Container

        with self._lock:
            found = Container.distinct(self._tiled(), key)["metadata"][key]
        return flat_sorted(item["value"] for item in found)

    def _exact_uid(self, uid: str) -> str:
        """``uid`` if a run has exactly that uid, else the one run's it starts."""
        return uid if uid in self else self._full_uid(uid)

    def _full_uid(self, uid: str) -> str:
        """The uid of the one run whose uid starts with ``uid``."""
        if self._reads is not None:
            matches = [summary(key, {}) for key in self._reads.keys(uid)]
        else:
            matches = list(self.search(uid=uid, limit=2))
        if not matches:
            raise RunNotFoundError(f"no run with uid {uid!r} (or starting with it) in {self}")
        if len(matches) > 1:
            raise RunNotFoundError(
                f"uid prefix {uid!r} is ambiguous: {matches[0].uid}, {matches[1].uid}, ...; "
                "give more characters"
            )
        return matches[0].uid

    def run(self, uid: str) -> Any:
        """The Tiled client of run ``uid`` (a full uid or an unambiguous prefix)."""
        with self._lock:
            try:
                return self._node(uid)  # one request when the uid is exact
            except KeyError:
                pass
        full = self._full_uid(uid)
        with self._lock:
            return self._node(full)

    def entries_of(self, uids: list[str]) -> dict[str, dict[str, Any]]:
        """The metadata of the runs keyed exactly so (no prefix look-up), by uid; a uid
        with no entry is left out. One query on PostgreSQL, whatever the number of uids
        (a worker's batch of runs to register)."""
        if self._missing() or not uids:
            return {}
        if self._reads is not None:
            return self._reads.metadata_many(uids)
        found: dict[str, dict[str, Any]] = {}
        for uid in dict.fromkeys(uids):
            if self._local is not None:
                md = self._local.metadata(uid)
            else:
                with self._lock:
                    try:
                        md = self._node(uid).metadata
                    except KeyError:
                        md = None
            if md is not None:
                found[uid] = dict(md)
        return found

    def metadata(self, uid: str) -> dict[str, Any]:
        """The metadata of run ``uid`` (a full uid or an unambiguous prefix): its
        ``start`` and ``stop`` documents and zarrscribe's own."""
        if self._missing():
            raise RunNotFoundError(f"no run with uid {uid!r} (or starting with it) in {self}")
        if self._reads is not None:  # the exact uid first: one query for a registration
            found = self._reads.metadata(uid)
            return found if found is not None else self._reads.metadata(self._full_uid(uid)) or {}
        if self._local is None:
            return dict(self.run(uid).metadata)
        return dict(self._local.metadata(self._exact_uid(uid)) or {})

    def layout(self, uid: str) -> dict[str, dict[str, Any]]:
        """Where the entry of run ``uid`` files its Zarr arrays (per stream and key)."""
        if self._local is not None:
            return self._local.layout(self._exact_uid(uid))
        if self._reads is not None:
            return self._reads.layout(self._exact_uid(uid))
        with self._lock:
            return tiled_layout(self.run(uid))

    def readings(
        self, uid: str, limit: int | None = None, *, lazy: bool = False
    ) -> dict[str, dict[str, list[Any]]]:
        """The scalar readings of each stream of run ``uid`` (its events table, without
        the per-reading timestamps), column by column: ``{stream: {column: [values]}}``;
        at most ``limit`` rows per stream. NaN reads as None. ``lazy``: from the
        embedded catalog each column is read as it is iterated (chunk by chunk, while
        the catalog is open), so a long run can be written out in constant memory."""
        if self._local is not None:
            try:
                return self._local.readings(self._exact_uid(uid), limit, lazy=lazy)
            except NotReadable:
                pass  # Tiled reads it
        return tiled_readings(self.run(uid), limit)

    def documents(self, uid: str) -> list[Document]:
        """The documents of run ``uid`` as the catalog holds them: stream datums
        consolidated (one per array, stream and range of frames), stream resources with
        the uid, URI and parameters the run gave them (a shared one once)."""
        from ._consolidator import STREAM_RESOURCE_KEY, restore_stream_documents

        run = self.run(uid)
        with self._lock:
            docs = [(str(name), dict(doc)) for name, doc in run.documents()]
            saved: dict[tuple[str, str], Any] = {}
            for stream in run:
                for key, node in run[stream].items():
                    if value := node.metadata.get(STREAM_RESOURCE_KEY):
                        saved[(stream, key)] = value
        return restore_stream_documents(docs, saved)

    def read_array(self, uid: str, key: str, *, stream: str | None = None) -> np.ndarray:
        """Read array ``key`` (a device's data key) of run ``uid`` through Tiled: the
        frames that belong to ``stream``, or to the one stream that has ``key``. Of a
        running run, the frames readable so far (a read that crossed an update of its
        live entry, which replaces the entry, is tried again)."""
        for attempt in itertools.count():
            try:
                return self._read_array(uid, key, stream)
            except CatalogError as e:
                if isinstance(e, RunNotFoundError) or attempt >= 2 or not self._running(uid):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _running(self, uid: str) -> bool:
        """Whether run ``uid``'s entry is a live one (its run still acquiring)."""
        try:
            ours = self.metadata(uid).get(ATTRIBUTES_KEY) or {}
        except CatalogError:
            return False
        return bool(ours.get("exit_status") == RUNNING)

    def _read_array(self, uid: str, key: str, stream: str | None) -> np.ndarray:
        run = self.run(uid)
        with self._lock:
            streams = [stream] if stream else [name for name in run if key in run[name]]
            if len(streams) > 1:
                raise CatalogError(
                    f"run {uid!r} has array {key!r} in streams {streams}; pass stream= one of them"
                )
            if streams and key in run[streams[0]]:
                import numpy as np

                try:
                    return np.asarray(run[streams[0]][key].read())
                except Exception as e:
                    what = f"{key!r} of run {uid!r}"
                    raise unreadable(self._description, self.base_dir, what, e) from e
        raise RunNotFoundError(
            f"run {uid!r} has no array {key!r} in stream(s) {streams or list(run)}; "
            f"see Catalog.run({uid!r}) for what it has"
        )
