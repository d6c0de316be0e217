"""Names of ``zarrscribe.writers`` (read by lazy_loader at import: each is imported on
first use; and by type checkers)."""

from ._collection import write_collection as write_collection
from ._discovery import get_available_writers as get_available_writers
from ._durable import (
    SYNC_WINDOW as SYNC_WINDOW,
    BackgroundSyncs as BackgroundSyncs,
    OnSyncFailure as OnSyncFailure,
)
from ._errors import (
    DamagedMetadataError as DamagedMetadataError,
    FrameError as FrameError,
    StoreExistsError as StoreExistsError,
    WriterError as WriterError,
    disk_full_note as disk_full_note,
)
from ._image_group import rebuild_image as rebuild_image
from ._jsonable import to_jsonable as to_jsonable
from ._layout import (
    Compression as Compression,
    ZarrLayout as ZarrLayout,
    default_layout as default_layout,
)
from ._paths import (
    PathInfo as PathInfo,
    SessionPathProvider as SessionPathProvider,
    folder_writable as folder_writable,
    require_writable as require_writable,
    sanitize_name as sanitize_name,
)
from ._protocols import (
    ControllableDataWriter as ControllableDataWriter,
    DataWriter as DataWriter,
    HasFrameListeners as HasFrameListeners,
    HasMetadata as HasMetadata,
    HasWriterLogic as HasWriterLogic,
    PrepareInfo as PrepareInfo,
)
from ._readable import frames_on_disk as frames_on_disk
from ._scan import StoreScan as StoreScan
from ._sink import FrameSink as FrameSink
from ._store import (
    DAMAGED_SUFFIX as DAMAGED_SUFFIX,
    fsync_folder as fsync_folder,
    read_group_metadata as read_group_metadata,
    read_metadata as read_metadata,
    read_store_attributes as read_store_attributes,
    store_path as store_path,
    update_store_attributes as update_store_attributes,
)
from ._zarr import SourceInfo as SourceInfo, ZarrWriter as ZarrWriter
from .model import METADATA_KEY as METADATA_KEY, ZARR_MIMETYPE as ZARR_MIMETYPE
