"""RunStop: close the run's writers, write final attributes, hand over for registration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from event_model import DocumentRouter
from event_model.documents import (
    Event,
    EventDescriptor,
    EventPage,
    RunStart,
    RunStop,
    StreamDatum,
    StreamResource,
)

from ..writers import WriterError
from ..writers.model import ZARR_MIMETYPE, RunProjection, RunRecord
from ._errors import CallbackError
from ._presenter import WriterLeases
from ._sync import read_on_disk, sync_store

__all__ = ["Finisher", "RunRegistry"]

logger = logging.getLogger(__name__)


class RunRegistry(Protocol):
    """Where finished runs go to be registered in a catalog."""

    def submit(self, run_uid: str, log: Path) -> None:
        """Register run ``run_uid`` from its document ``log``; must not block on the catalog."""
        ...


class Finisher(DocumentRouter):
    """At RunStop: close every writer the run used, write each store's attributes, register.

    One per run. acquire-zarr rewrites ``zarr.json`` when it closes, so the
    attributes (a :class:`RunProjection` of the run's documents and of the frames
    readable on disk) are written after, atomically, and only where they differ.
    Only stores the run used get attributes: a writer group none of its devices
    opened leaves nothing on disk. Registration is handed to ``registry``, which
    must not block or fail the run.

    Parameters
    ----------
    log:
        The run's document log.
    base_dir:
        The data folder: nothing outside it is written.
    leases:
        The writers lent to each open run (``None`` for none).
    registry:
        Takes finished runs for catalog registration; ``None`` for none.
    """

    def __init__(
        self,
        *,
        log: Path,
        base_dir: Path,
        leases: WriterLeases | None,
        registry: RunRegistry | None,
    ) -> None:
        super().__init__()
        self._log = log
        self._base_dir = base_dir
        self._leases = leases
        self._registry = registry
        self.record: RunRecord | None = None

    def _add(self, name: str, doc: Any) -> None:
        if self.record is not None:
            self.record.add(name, doc)

    def start(self, doc: RunStart) -> None:
        self.record = RunRecord(doc)

    def descriptor(self, doc: EventDescriptor) -> None:
        self._add("descriptor", doc)

    def event(self, doc: Event) -> Event:
        self._add("event", doc)
        return doc

    def event_page(self, doc: EventPage) -> EventPage:
        self._add("event_page", doc)
        return doc

    def stream_resource(self, doc: StreamResource) -> None:
        self._add("stream_resource", doc)

    def stream_datum(self, doc: StreamDatum) -> None:
        self._add("stream_datum", doc)

    def stop(self, doc: RunStop) -> None:
        if self.record is None:
            raise CallbackError(f"stop document for run {doc['run_start']!r}, never started")
        self.record.add("stop", doc)
        self.finish(self.record)

    def finish(self, record: RunRecord) -> None:
        """Close the run's writers, write each store's attributes, submit the registration."""
        errors: list[str] = []
        writers = self._leases.release(record.uid) if self._leases else []
        used = [w for w in writers if w.is_open]
        for writer in used:
            try:
                writer.close()
            except (WriterError, OSError) as e:
                errors.append(f"closing {writer.uri}: {e}")
        # Attributes go into Zarr stores; stores of other formats are left as they are.
        uris = [w.uri for w in used if w.uri and w.mimetype == ZARR_MIMETYPE]
        uris = list(dict.fromkeys([*uris, *record.store_uris(ZARR_MIMETYPE)]))
        try:
            on_disk = read_on_disk(uris, self._base_dir)
            projection = RunProjection(record, on_disk, base_dir=self._base_dir)
            for uri in uris:
                try:
                    sync_store(projection, uri, base_dir=self._base_dir)
                except (WriterError, CallbackError, OSError) as e:
                    errors.append(f"attributes of {uri}: {e}")
        except CallbackError as e:
            errors.append(str(e))
        for writer in writers:
            if not writer.is_open:
                writer.clear_sources()
        if self._registry is not None:
            try:
                self._registry.submit(record.uid, self._log)
            except OSError as e:
                errors.append(
                    f"the catalog registration could not be queued ({e}); "
                    f"run 'zarrscribe replay {record.uid}' once there is space"
                )
        if errors:
            raise CallbackError(
                f"run {record.uid!r} finished with errors (its documents are logged and "
                f"frames flushed before the failure are readable): {'; '.join(errors)}"
            )
