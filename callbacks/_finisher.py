"""RunStop: close the run's writers, write final attributes, hand over for registration."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from event_model import DocumentRouter
from event_model.documents import (
    EventDescriptor,
    RunStart,
    RunStop,
    StreamDatum,
    StreamResource,
)

from zarrscribe.writers import ZARR_MIMETYPE, WriterError, update_store_attributes

from ._errors import CallbackError
from ._presenter import RunWriters
from ._projection import RunRecord, catalog_metadata, store_attributes

__all__ = ["Finisher", "RunRegistry"]

logger = logging.getLogger(__name__)


class RunRegistry(Protocol):
    """Where finished runs go to be registered in a catalog."""

    def submit(self, run_uid: str, log: Path, metadata: dict[str, Any]) -> None:
        """Register run ``run_uid`` from its document ``log``; must not block on the catalog."""
        ...


class Finisher(DocumentRouter):
    """At RunStop: close every writer the run used, write each store's attributes, register.

    The order matters: acquire-zarr rewrites ``zarr.json`` when it closes, so the
    attributes (a projection of the run's documents) are written after, atomically.
    Registration is handed to ``registry``, which must not block or fail the run.

    Parameters
    ----------
    run_writers:
        The writers each run set a URI on (``None`` when replaying: no writers).
    log_for:
        The document log path of a run.
    registry:
        Takes finished runs for catalog registration; ``None`` for none.
    """

    def __init__(
        self,
        run_writers: RunWriters | None,
        log_for: Callable[[str], Path],
        registry: RunRegistry | None,
    ) -> None:
        super().__init__()
        self._run_writers = run_writers
        self._log_for = log_for
        self._registry = registry
        self._records: dict[str, RunRecord] = {}
        self._current: str | None = None

    def _record(self) -> RunRecord | None:
        return self._records.get(self._current) if self._current else None

    def start(self, doc: RunStart) -> None:
        self._records[doc["uid"]] = RunRecord(doc)
        self._current = doc["uid"]

    def descriptor(self, doc: EventDescriptor) -> None:
        if (record := self._record()) is not None:
            record.add("descriptor", doc)

    def stream_resource(self, doc: StreamResource) -> None:
        if (record := self._record()) is not None:
            record.add("stream_resource", doc)

    def stream_datum(self, doc: StreamDatum) -> None:
        if (record := self._record()) is not None:
            record.add("stream_datum", doc)

    def stop(self, doc: RunStop) -> None:
        record = self._records.pop(doc["run_start"], None)
        self._current = None
        if record is None:
            raise CallbackError(f"stop document for unknown run {doc['run_start']!r}")
        record.add("stop", doc)
        self.finish(record)

    def finish(self, record: RunRecord) -> None:
        """Close the run's writers, write each store's attributes, submit the registration."""
        errors: list[str] = []
        writers = self._run_writers.pop(record.uid) if self._run_writers else []
        for writer in writers:
            try:
                writer.close()
            except WriterError as e:
                errors.append(str(e))
        # Attributes go into Zarr stores; stores of other formats are left as they are.
        zarr_writers = [w.uri for w in writers if w.uri and w.mimetype == ZARR_MIMETYPE]
        uris = list(dict.fromkeys([*zarr_writers, *record.store_uris(ZARR_MIMETYPE)]))
        for uri in uris:
            try:
                update_store_attributes(uri, store_attributes(record, uri), create=True)
            except (WriterError, OSError) as e:
                errors.append(f"attributes of {uri}: {e}")
        for writer in writers:
            writer.clear_sources()
        if self._registry is not None:
            log = self._log_for(record.uid)
            self._registry.submit(record.uid, log, catalog_metadata(record, log=str(log)))
        if errors:
            raise CallbackError(
                f"run {record.uid!r} finished with errors (its documents are logged and "
                f"frames flushed before the failure are readable): {'; '.join(errors)}"
            )
