"""Writers: devices push frames; writers stream them into Zarr v3 stores.

Nothing here knows about bluesky callbacks or Tiled.
"""

from ._discovery import get_available_writers
from ._errors import FrameError, StoreExistsError, WriterError
from ._jsonable import to_jsonable
from ._layout import Compression, ZarrLayout, default_layout
from ._paths import PathInfo, SessionPathProvider, sanitize_name
from ._protocols import (
    ControllableDataWriter,
    DataWriter,
    HasMetadata,
    HasWriterLogic,
    PrepareInfo,
)
from ._readable import frames_on_disk
from ._store import read_store_attributes, store_path, update_store_attributes
from ._zarr import SourceInfo, ZarrWriter
from .model import METADATA_KEY, ZARR_MIMETYPE

__all__ = [
    "METADATA_KEY",
    "ZARR_MIMETYPE",
    "Compression",
    "ControllableDataWriter",
    "DataWriter",
    "FrameError",
    "HasMetadata",
    "HasWriterLogic",
    "PathInfo",
    "PrepareInfo",
    "SessionPathProvider",
    "SourceInfo",
    "StoreExistsError",
    "WriterError",
    "ZarrLayout",
    "ZarrWriter",
    "default_layout",
    "frames_on_disk",
    "get_available_writers",
    "read_store_attributes",
    "sanitize_name",
    "store_path",
    "to_jsonable",
    "update_store_attributes",
]
