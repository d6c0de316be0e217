"""The words of zarrscribe's on-disk and catalog format, spelled once."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ATTRIBUTES_KEY",
    "FORMAT_VERSION",
    "FRAMES_PARAMETER",
    "INCOMPLETE",
    "LOG_NAME",
    "METADATA_KEY",
    "RUNNING",
    "STATE_DIR",
    "STORE_SUFFIX",
    "ZARR_MIMETYPE",
    "Document",
    "Documents",
    "stream_frames",
]

ZARR_MIMETYPE = "application/x-zarr"
"""Mimetype of a Zarr store in StreamResource documents and catalog data sources."""

ATTRIBUTES_KEY = "zarrscribe"
"""Root attribute of a store, and metadata key of a catalog entry, that zarrscribe owns."""

METADATA_KEY = "metadata"
"""Root attribute under which metadata given to a writer with ``update_metadata`` is written."""

INCOMPLETE = "incomplete"
"""Exit status of a run that holds less than its documents announced (its process
died, or frames never reached the disk)."""

RUNNING = "running"
"""Exit status of the live entry of a run still acquiring (no stop document yet): what
is readable so far. Its stop's registration replaces it; a run whose process died
keeps it until the next pipeline on its folder, or a replay, makes it ``incomplete``."""

FORMAT_VERSION = 2
"""Version of the attribute and catalog metadata layout (2: paths relative to the base
directory, readable frame counts, ``missing``)."""

LOG_NAME = "documents.jsonl"
"""File name of a run's document log, in the run's folder beside its stores."""

STATE_DIR = ".zarrscribe"
"""Folder under the base directory for the embedded catalog and pending registrations."""

STORE_SUFFIX = ".zarr"
"""Suffix of a store folder."""

Document = tuple[str, dict[str, Any]]
"""A bluesky document with its name, as the RunEngine emits it."""

Documents = list[Document]
"""A run's documents, in order."""


FRAMES_PARAMETER = "frames"
"""Catalog data source parameter: the ``[start, stop)`` frame ranges of a shared array that
one stream's node serves (read by ``zarrscribe.catalog.ZarrFramesAdapter``)."""


def stream_frames(ranges: list[tuple[int, int]] | list[list[int]]) -> list[list[int]] | None:
    """The ``frames`` parameter for ``ranges``; ``None`` when they are the array's first
    frames, which stock Tiled serves without it."""
    plain = [[int(a), int(b)] for a, b in ranges if int(b) > int(a)]
    if len(plain) <= 1 and (not plain or plain[0][0] == 0):
        return None
    return plain
