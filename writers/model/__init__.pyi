"""Names of ``zarrscribe.writers.model`` (read by lazy_loader at import: each is imported on
first use; and by type checkers)."""

from ._compare import differences as differences, downgrades as downgrades
from ._errors import (
    DocumentError as DocumentError,
    ZarrscribeError as ZarrscribeError,
    damage_at as damage_at,
)
from ._extras import (
    EXTRAS as EXTRAS,
    MissingDependencyError as MissingDependencyError,
    missing_dependency as missing_dependency,
    require as require,
)
from ._format import (
    ATTRIBUTES_KEY as ATTRIBUTES_KEY,
    FORMAT_VERSION as FORMAT_VERSION,
    FRAMES_PARAMETER as FRAMES_PARAMETER,
    INCOMPLETE as INCOMPLETE,
    LOG_NAME as LOG_NAME,
    METADATA_KEY as METADATA_KEY,
    RUNNING as RUNNING,
    STATE_DIR as STATE_DIR,
    STORE_SUFFIX as STORE_SUFFIX,
    ZARR_MIMETYPE as ZARR_MIMETYPE,
    Document as Document,
    Documents as Documents,
    stream_frames as stream_frames,
)
from ._projection import (
    RECOVERED_STOP_REASON as RECOVERED_STOP_REASON,
    ArrayFrames as ArrayFrames,
    OnDisk as OnDisk,
    RunProjection as RunProjection,
    local_path as local_path,
    without_written_at as without_written_at,
)
from ._record import RunRecord as RunRecord, StreamArray as StreamArray
