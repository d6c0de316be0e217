"""RunStart: give every writer group its store for the run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from event_model import DocumentRouter
from event_model.documents import RunStart

from zarrscribe.writers import ControllableDataWriter, get_available_writers

from ._errors import CallbackError

__all__ = ["Presenter", "RunWriters"]


class RunWriters:
    """Which writers each open run set a URI on (shared by presenter and finisher)."""

    def __init__(self) -> None:
        self._runs: dict[str, list[ControllableDataWriter]] = {}

    def add(self, run_uid: str, writer: ControllableDataWriter) -> None:
        self._runs.setdefault(run_uid, []).append(writer)

    def pop(self, run_uid: str) -> list[ControllableDataWriter]:
        return self._runs.pop(run_uid, [])


class Presenter(DocumentRouter):
    """At RunStart, ``set_uri`` on every writer group found among ``devices``.

    Parameters
    ----------
    devices:
        The device registry; writers are discovered through ``writer_logic``.
    store_uri_for:
        ``(start document, group) -> store URI`` (a path provider bound to the run).
    run_writers:
        Where the writers of each run are recorded for the finisher.
    """

    def __init__(
        self,
        devices: Mapping[str, Any],
        store_uri_for: Callable[[RunStart, str], str],
        run_writers: RunWriters,
    ) -> None:
        super().__init__()
        self._devices = devices
        self._store_uri_for = store_uri_for
        self._run_writers = run_writers

    def start(self, doc: RunStart) -> None:
        writers = get_available_writers(self._devices)
        still_open = [
            f"{w.group!r} ({w.uri})"
            for groups in writers.values()
            for w in groups.values()
            if w.is_open
        ]
        if still_open:
            raise CallbackError(
                f"run {doc['uid']!r} starts while writer(s) {', '.join(still_open)} are still "
                "open from an earlier acquisition; close them (or restart) before a new run"
            )
        for groups in writers.values():
            for group, writer in groups.items():
                writer.set_uri(self._store_uri_for(doc, group))
                self._run_writers.add(doc["uid"], writer)
