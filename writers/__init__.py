"""Writers: devices push frames; writers stream them into Zarr v3 stores.

Nothing here knows about bluesky callbacks or Tiled.

Names are imported on first use: the command line's ``--help`` loads none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import import_on_first_use

if TYPE_CHECKING:
    from ._collection import write_collection
    from ._discovery import get_available_writers
    from ._durable import SYNC_WINDOW, BackgroundSyncs, OnSyncFailure
    from ._errors import (
        DamagedMetadataError,
        FrameError,
        StoreExistsError,
        WriterError,
        disk_full_note,
    )
    from ._image_group import rebuild_image
    from ._jsonable import to_jsonable
    from ._layout import Compression, ZarrLayout, default_layout
    from ._paths import (
        PathInfo,
        SessionPathProvider,
        folder_writable,
        require_writable,
        sanitize_name,
    )
    from ._protocols import (
        ControllableDataWriter,
        DataWriter,
        HasFrameListeners,
        HasMetadata,
        HasWriterLogic,
        PrepareInfo,
    )
    from ._readable import frames_on_disk
    from ._scan import StoreScan
    from ._sink import FrameSink
    from ._store import (
        DAMAGED_SUFFIX,
        fsync_folder,
        read_group_metadata,
        read_metadata,
        read_store_attributes,
        store_path,
        update_store_attributes,
    )
    from ._zarr import SourceInfo, ZarrWriter
    from .model import METADATA_KEY, ZARR_MIMETYPE

__all__ = [
    "DAMAGED_SUFFIX",
    "METADATA_KEY",
    "SYNC_WINDOW",
    "ZARR_MIMETYPE",
    "BackgroundSyncs",
    "Compression",
    "ControllableDataWriter",
    "DamagedMetadataError",
    "DataWriter",
    "FrameError",
    "FrameSink",
    "HasFrameListeners",
    "HasMetadata",
    "HasWriterLogic",
    "OnSyncFailure",
    "PathInfo",
    "PrepareInfo",
    "SessionPathProvider",
    "SourceInfo",
    "StoreExistsError",
    "StoreScan",
    "WriterError",
    "ZarrLayout",
    "ZarrWriter",
    "default_layout",
    "disk_full_note",
    "folder_writable",
    "frames_on_disk",
    "fsync_folder",
    "get_available_writers",
    "read_group_metadata",
    "read_metadata",
    "read_store_attributes",
    "rebuild_image",
    "require_writable",
    "sanitize_name",
    "store_path",
    "to_jsonable",
    "update_store_attributes",
    "write_collection",
]

_WHERE = {
    "get_available_writers": "._discovery",
    "write_collection": "._collection",
    "BackgroundSyncs": "._durable",
    "SYNC_WINDOW": "._durable",
    "OnSyncFailure": "._durable",
    "DamagedMetadataError": "._errors",
    "FrameError": "._errors",
    "StoreExistsError": "._errors",
    "WriterError": "._errors",
    "disk_full_note": "._errors",
    "rebuild_image": "._image_group",
    "to_jsonable": "._jsonable",
    "Compression": "._layout",
    "ZarrLayout": "._layout",
    "default_layout": "._layout",
    "PathInfo": "._paths",
    "SessionPathProvider": "._paths",
    "sanitize_name": "._paths",
    "folder_writable": "._paths",
    "require_writable": "._paths",
    "ControllableDataWriter": "._protocols",
    "DataWriter": "._protocols",
    "HasFrameListeners": "._protocols",
    "HasMetadata": "._protocols",
    "HasWriterLogic": "._protocols",
    "PrepareInfo": "._protocols",
    "frames_on_disk": "._readable",
    "StoreScan": "._scan",
    "FrameSink": "._sink",
    "fsync_folder": "._store",
    "DAMAGED_SUFFIX": "._store",
    "read_group_metadata": "._store",
    "read_metadata": "._store",
    "read_store_attributes": "._store",
    "store_path": "._store",
    "update_store_attributes": "._store",
    "SourceInfo": "._zarr",
    "ZarrWriter": "._zarr",
    "METADATA_KEY": ".model",
    "ZARR_MIMETYPE": ".model",
}


def __getattr__(name: str) -> Any:
    return import_on_first_use(__name__, _WHERE, name)
