"""Callbacks: every decision about a run's data is taken from its documents.

Each callback is an :class:`event_model.DocumentRouter`; they know writers only
through the protocols in :mod:`zarrscribe.writers`.
"""

from ._descriptor import handle_descriptor_metadata
from ._errors import CallbackError, DocumentLogError
from ._finisher import Finisher, RunRegistry
from ._log import LOG_NAME, DocumentLog, read_document_log
from ._metadata import MetadataCallback
from ._presenter import Presenter, RunWriters
from ._projection import (
    ATTRIBUTES_KEY,
    INCOMPLETE,
    RunRecord,
    catalog_metadata,
    store_attributes,
    without_written_at,
    writer_metadata,
)

__all__ = [
    "ATTRIBUTES_KEY",
    "INCOMPLETE",
    "LOG_NAME",
    "CallbackError",
    "DocumentLog",
    "DocumentLogError",
    "Finisher",
    "MetadataCallback",
    "Presenter",
    "RunRecord",
    "RunRegistry",
    "RunWriters",
    "catalog_metadata",
    "handle_descriptor_metadata",
    "read_document_log",
    "store_attributes",
    "without_written_at",
    "writer_metadata",
]
