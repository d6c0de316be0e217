"""The ground floor: zarrscribe's run model, with no I/O of its own.

The run record (:class:`RunRecord`), the projection of a run's documents and of
what is readable on disk into store attributes and a catalog entry
(:class:`RunProjection`), the comparison of two projections, the format words,
the root of every zarrscribe error, the extra each optional package comes from,
and the import of a package's names on first use. Every room may import this
one; it imports no other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import DocumentError, ZarrscribeError, damage_at
from ._extras import EXTRAS, MissingDependencyError, missing_dependency, require
from ._format import (
    ATTRIBUTES_KEY,
    FORMAT_VERSION,
    FRAMES_PARAMETER,
    INCOMPLETE,
    LOG_NAME,
    METADATA_KEY,
    RUNNING,
    STATE_DIR,
    STORE_SUFFIX,
    ZARR_MIMETYPE,
    Document,
    Documents,
    stream_frames,
)
from ._lazy import import_on_first_use

if TYPE_CHECKING:
    from ._compare import differences, downgrades
    from ._projection import (
        RECOVERED_STOP_REASON,
        ArrayFrames,
        OnDisk,
        RunProjection,
        local_path,
        without_written_at,
    )
    from ._record import RunRecord, StreamArray

__all__ = [
    "ATTRIBUTES_KEY",
    "EXTRAS",
    "FORMAT_VERSION",
    "FRAMES_PARAMETER",
    "INCOMPLETE",
    "LOG_NAME",
    "METADATA_KEY",
    "RECOVERED_STOP_REASON",
    "RUNNING",
    "STATE_DIR",
    "STORE_SUFFIX",
    "ZARR_MIMETYPE",
    "ArrayFrames",
    "Document",
    "DocumentError",
    "Documents",
    "MissingDependencyError",
    "OnDisk",
    "RunProjection",
    "RunRecord",
    "StreamArray",
    "ZarrscribeError",
    "damage_at",
    "differences",
    "downgrades",
    "import_on_first_use",
    "local_path",
    "missing_dependency",
    "require",
    "stream_frames",
    "without_written_at",
]

# The model's classes are imported on first use: the command line's --help and its
# usage errors need only the format words and the root error.
_WHERE = {
    **dict.fromkeys(("differences", "downgrades"), "._compare"),
    **dict.fromkeys(
        (
            "RECOVERED_STOP_REASON",
            "ArrayFrames",
            "OnDisk",
            "RunProjection",
            "local_path",
            "without_written_at",
        ),
        "._projection",
    ),
    **dict.fromkeys(("RunRecord", "StreamArray"), "._record"),
}


def __getattr__(name: str) -> Any:
    return import_on_first_use(__name__, _WHERE, name)
