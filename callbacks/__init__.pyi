"""Names of ``zarrscribe.callbacks`` (read by lazy_loader at import: each is imported on
first use; and by type checkers)."""

from ._batch import register_batch as register_batch
from ._bus import BusSettings as BusSettings
from ._descriptor import handle_descriptor_metadata as handle_descriptor_metadata
from ._errors import (
    BusError as BusError,
    CallbackError as CallbackError,
    DocumentLogError as DocumentLogError,
    RunRefusedError as RunRefusedError,
)
from ._finisher import Finisher as Finisher, RunRegistry as RunRegistry
from ._live import (
    LiveEntry as LiveEntry,
    hold_log as hold_log,
    is_live as is_live,
    live_entry as live_entry,
)
from ._loaded import (
    LoadedRun as LoadedRun,
    LogDocuments as LogDocuments,
    inside_base as inside_base,
    load_run as load_run,
    loaded_run as loaded_run,
)
from ._log import (
    LOG_NAME as LOG_NAME,
    DocumentLog as DocumentLog,
    LoggedRun as LoggedRun,
    LogRecord as LogRecord,
    encode_record as encode_record,
    iter_document_log as iter_document_log,
    read_document_log as read_document_log,
)
from ._metadata import MetadataCallback as MetadataCallback
from ._presenter import Presenter as Presenter, WriterLeases as WriterLeases
from ._publisher import Publisher as Publisher
from ._router import PerRunRouter as PerRunRouter, Stage as Stage
from ._sync import (
    Outcome as Outcome,
    Synced as Synced,
    catalog_entry as catalog_entry,
    compare_entry as compare_entry,
    read_on_disk as read_on_disk,
    register_documents as register_documents,
    sync_entry as sync_entry,
    sync_store as sync_store,
)
