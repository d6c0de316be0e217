"""RunStart: lend the writer groups to the run and give each its store for the run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from event_model import DocumentRouter
from event_model.documents import RunStart, StreamResource

from ..writers import ControllableDataWriter, get_available_writers
from ._errors import CallbackError

__all__ = ["Presenter", "WriterLeases"]


class WriterLeases:
    """Which open run each writer is lent to, from its start to its stop.

    Shared by every run's presenter and finisher: a writer lent to a run is not
    pointed elsewhere by a run that starts meanwhile (an overlapping monitor run),
    so the first run loses nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, list[ControllableDataWriter]] = {}

    def owner(self, writer: ControllableDataWriter) -> str | None:
        """The run ``writer`` is lent to, if any."""
        with self._lock:
            for run, writers in self._runs.items():
                if any(w is writer for w in writers):
                    return run
        return None

    def owner_of_store(self, uri: str) -> str | None:
        """The run whose lent writer writes the store ``uri``, if any."""
        with self._lock:
            for run, writers in self._runs.items():
                if any(w.uri == uri for w in writers):
                    return run
        return None

    def lend(self, run_uid: str, writer: ControllableDataWriter) -> None:
        with self._lock:
            self._runs.setdefault(run_uid, []).append(writer)

    def release(self, run_uid: str) -> list[ControllableDataWriter]:
        """The writers lent to ``run_uid``, which has ended."""
        with self._lock:
            return self._runs.pop(run_uid, [])


class Presenter(DocumentRouter):
    """At RunStart, ``set_uri`` on every writer group found among ``devices``.

    One per run. Writers lent to another open run are left to it; if this run's
    devices then write into such a store, its stream resource is refused with an
    error naming both runs. Setting a URI creates nothing on disk: a store exists
    only once a device of the run opens its writer.

    Parameters
    ----------
    devices:
        The device registry; writers are discovered through ``writer_logic``.
    store_uri_for:
        ``(start document, group) -> store URI`` (a path provider bound to the run).
    leases:
        The writers lent to each open run, shared with the finisher.
    """

    def __init__(
        self,
        devices: Mapping[str, Any],
        store_uri_for: Callable[[RunStart, str], str],
        leases: WriterLeases,
    ) -> None:
        super().__init__()
        self._devices = devices
        self._store_uri_for = store_uri_for
        self._leases = leases
        self._uid = ""

    def start(self, doc: RunStart) -> None:
        self._uid = doc["uid"]
        writers = get_available_writers(self._devices)
        free: list[ControllableDataWriter] = []
        still_open: list[str] = []
        for groups in writers.values():
            for writer in groups.values():
                if self._leases.owner(writer) is not None:
                    continue  # lent to a run still going: it keeps it
                if writer.is_open:
                    still_open.append(f"{writer.group!r} ({writer.uri})")
                else:
                    free.append(writer)
        if still_open:
            raise CallbackError(
                f"run {doc['uid']!r} starts while writer(s) {', '.join(still_open)} are still "
                "open from an acquisition outside any run; close them (or restart) first"
            )
        for writer in free:
            writer.set_uri(self._store_uri_for(doc, writer.group))
            self._leases.lend(doc["uid"], writer)

    def stream_resource(self, doc: StreamResource) -> None:
        owner = self._leases.owner_of_store(doc["uri"])
        if owner is not None and owner != self._uid:
            raise CallbackError(
                f"run {self._uid!r}: {doc['data_key']!r} writes into {doc['uri']}, whose writer "
                f"is lent to run {owner!r} until it stops; give the second run's devices "
                "their own writer group, or start it after the first one ends"
            )
