"""Callbacks: every decision about a run's data is taken from its documents.

Each stage is an :class:`event_model.DocumentRouter` made for one run
(:class:`PerRunRouter` sends each document to its own run's stages); they know
writers only through the protocols in :mod:`zarrscribe.writers`, and write a
run's attributes and catalog entry only through one compare-then-write step
(:func:`sync_store`, :func:`sync_entry`) shared with replay.
"""

from ._batch import register_batch
from ._bus import BusSettings
from ._descriptor import handle_descriptor_metadata
from ._errors import BusError, CallbackError, DocumentLogError, RunRefusedError
from ._finisher import Finisher, RunRegistry
from ._live import LiveEntry, hold_log, is_live, live_entry
from ._loaded import LoadedRun, LogDocuments, inside_base, load_run, loaded_run
from ._log import (
    LOG_NAME,
    DocumentLog,
    LoggedRun,
    LogRecord,
    encode_record,
    iter_document_log,
    read_document_log,
)
from ._metadata import MetadataCallback
from ._presenter import Presenter, WriterLeases
from ._publisher import Publisher
from ._router import PerRunRouter, Stage
from ._sync import (
    Outcome,
    Synced,
    catalog_entry,
    compare_entry,
    read_on_disk,
    register_documents,
    sync_entry,
    sync_store,
)

__all__ = [
    "LOG_NAME",
    "BusError",
    "BusSettings",
    "CallbackError",
    "DocumentLog",
    "DocumentLogError",
    "Finisher",
    "LiveEntry",
    "LoadedRun",
    "LogDocuments",
    "LogRecord",
    "LoggedRun",
    "MetadataCallback",
    "Outcome",
    "PerRunRouter",
    "Presenter",
    "Publisher",
    "RunRefusedError",
    "RunRegistry",
    "Stage",
    "Synced",
    "WriterLeases",
    "catalog_entry",
    "compare_entry",
    "encode_record",
    "handle_descriptor_metadata",
    "hold_log",
    "inside_base",
    "is_live",
    "iter_document_log",
    "live_entry",
    "load_run",
    "loaded_run",
    "read_document_log",
    "read_on_disk",
    "register_batch",
    "register_documents",
    "sync_entry",
    "sync_store",
]
