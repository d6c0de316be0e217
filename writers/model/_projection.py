"""Store attributes and catalog entries as a pure function of a run's documents and of
what is readable on disk.

Live runs (the finisher) and replay compute both through :class:`RunProjection`, so
the same documents and the same disk give the same values, apart from the explicit
``written_at`` field. Where the documents and the disk disagree about frames, the
disk decides what is described as readable, and a run that holds less than its
documents announced is ``incomplete``, whatever its stop document says.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import unquote, urlparse

from ._format import (
    ATTRIBUTES_KEY,
    FORMAT_VERSION,
    INCOMPLETE,
    RUNNING,
    ZARR_MIMETYPE,
    Document,
    stream_frames,
)
from ._record import RunRecord, StreamArray

__all__ = [
    "RECOVERED_STOP_REASON",
    "ArrayFrames",
    "OnDisk",
    "RunProjection",
    "local_path",
    "without_written_at",
]

OnDisk = Mapping[tuple[str, str], int]
"""Frames readable per (store URI, array key), as counted on disk."""

_ENTRY_FIELDS = ("store", "path", "stream", "streams", "shape", "announced", "dtype")
"""What a catalog entry keeps of each array."""

RECOVERED_STOP_REASON = (
    "incomplete: the run's process ended without a stop document; recovered by zarrscribe"
)
"""Reason of the stop document written into the catalog for a run that never stopped."""

RUNNING_REASON = "the run is acquiring: its entry shows what is readable so far"
"""Reason of a live entry (exit status ``running``)."""


def local_path(uri: str) -> PurePath | None:
    """The local path of a ``file://`` URI or a plain path; ``None`` for anything else."""
    parsed = urlparse(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return PurePath(unquote(parsed.path))
    if not parsed.scheme or len(parsed.scheme) == 1:  # a path (or a Windows drive)
        return PurePath(uri)
    return None


@dataclass(frozen=True)
class ArrayFrames:
    """Frames of one array: what the documents announced and what can be read back."""

    announced: int
    readable: int

    @property
    def short(self) -> bool:
        return self.readable < self.announced


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _utc(timestamp: float) -> str:
    """``timestamp`` (seconds since the epoch) as ISO 8601 UTC, to the second."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


class RunProjection:
    """The attributes and catalog entry of one run.

    Parameters
    ----------
    record:
        The run's documents.
    on_disk:
        Frames readable per (store URI, array key) of its Zarr stores, counted on
        disk (``frames_on_disk``); an array missing from it has none. ``None`` when
        the disk cannot be seen (a worker on another host): the documents are trusted.
    base_dir:
        The data folder; store and log paths are written relative to it, so a moved
        or copied folder describes itself the same way.
    running:
        The run is still acquiring (its live entry): without a stop document it is
        ``running``, not ``incomplete``, and its entry gets no stop document (none
        made up) but its event counts so far. Ignored once the record has its stop.
    """

    def __init__(
        self,
        record: RunRecord,
        on_disk: OnDisk | None = None,
        *,
        base_dir: str | os.PathLike[str] | None = None,
        running: bool = False,
    ) -> None:
        self.record = record
        self._on_disk = on_disk
        self._base = PurePath(base_dir) if base_dir is not None else None
        self._running = running

    @property
    def running(self) -> bool:
        """Whether this is the live entry of a run still acquiring (no stop yet)."""
        return self._running and self.record.stop is None

    # ------------------------------------------------------------------ frames
    def frames(self, array: StreamArray) -> ArrayFrames:
        """Announced and readable frames of one array."""
        if self._on_disk is None or array.mimetype != ZARR_MIMETYPE:
            return ArrayFrames(array.announced, array.announced)
        on_disk = self._on_disk.get((array.uri, array.key), 0)
        return ArrayFrames(array.announced, min(array.announced, on_disk))

    def stream_frames(self, array: StreamArray) -> dict[str, list[list[int]]]:
        """The readable frames of ``array`` that belong to each event stream: index ranges
        ``[start, stop)`` of the stream's datums, cut to what is readable."""
        readable = self.frames(array).readable
        out: dict[str, list[list[int]]] = {}
        for stream, ranges in array.ranges.items():
            out[stream] = [[a, min(b, readable)] for a, b in ranges if a < readable]
        return out

    def missing(self) -> dict[str, dict[str, int]]:
        """Arrays holding fewer readable frames than announced: both counts, by key."""
        out: dict[str, dict[str, int]] = {}
        for array in self.record.arrays.values():
            frames = self.frames(array)
            if frames.short:
                out[array.data_key] = {
                    "announced": frames.announced,
                    "readable": frames.readable,
                }
        return out

    @property
    def exit_status(self) -> str:
        stop = self.record.stop
        if self.running:
            return RUNNING
        if stop is None or self.missing():
            return INCOMPLETE
        return str(stop["exit_status"])

    @property
    def reason(self) -> str:
        stop = self.record.stop
        if self.running:
            return RUNNING_REASON
        parts = [] if stop is None else [str(stop.get("reason", ""))]
        if stop is None:
            parts.append("no stop document: the run never ended")
        missing = self.missing()
        if missing:
            parts.append(
                "fewer frames readable than announced: "
                + ", ".join(f"{k} {v['readable']} of {v['announced']}" for k, v in missing.items())
            )
        return "; ".join(p for p in parts if p)

    # ------------------------------------------------------------------ paths
    def relative(self, uri: str) -> str:
        """``uri`` as a path relative to the base directory where it lies under it."""
        return _relative(uri, self._base)

    # ------------------------------------------------------------------ projections
    def summary(self) -> dict[str, Any]:
        start, stop = self.record.start, self.record.stop
        return {
            "uid": self.record.uid,
            "scan_id": start.get("scan_id"),
            "plan_name": start.get("plan_name"),
            "start_time": start["time"],
            "stop_time": stop["time"] if stop else None,
            "exit_status": self.exit_status,
            "reason": self.reason,
            "num_events": dict(stop.get("num_events", {})) if stop else dict(self.record.events),
        }

    def arrays(self, uri: str | None = None) -> dict[str, dict[str, Any]]:
        """Arrays (one per stream resource, by data key) of the store ``uri``, or of every
        store; ``path`` is the array's path in its store, ``shape`` the readable array's.

        ``streams`` gives, per event stream, the index ranges of the array's frames that
        belong to it (one resource may serve a step stream and then a fly stream);
        ``stream`` names the one stream holding all of them, or is ``None`` when several
        share the array."""
        out: dict[str, dict[str, Any]] = {}
        for array in self.record.arrays.values():
            if uri is not None and array.uri != uri:
                continue
            params = array.resource.get("parameters") or {}
            data_key = self.record.data_key(array.resource["data_key"])
            frames = self.frames(array)
            streams = array.streams
            out[array.data_key] = {
                "path": array.key,
                "stream": streams[0] if len(streams) == 1 else (None if streams else ""),
                "streams": self.stream_frames(array),
                "store": self.relative(array.uri),
                "shape": [frames.readable, *data_key.get("shape", [])],
                "announced": frames.announced,
                "dtype": data_key.get("dtype_numpy", ""),
                "chunk_shape": params.get("chunk_shape"),
                "shard_shape": params.get("shard_shape"),
                "compression": params.get("compression"),
            }
        return out

    def catalog_layout(self) -> dict[str, dict[str, Any]]:
        """Where the catalog entry files each readable Zarr array: per stream, per data
        key, the shape of that stream's frames and the ``frames`` parameter of its node
        (``None`` when the stream holds the array from its first frame). Replay compares
        it with the entry's nodes, so an array filed under the wrong stream is noticed."""
        out: dict[str, dict[str, Any]] = {}
        for array in self.record.arrays.values():
            if array.mimetype != ZARR_MIMETYPE:
                continue
            frame_shape = list(self.record.data_key(array.data_key).get("shape", []))
            for stream, ranges in self.stream_frames(array).items():
                count = sum(b - a for a, b in ranges)
                if count:
                    out.setdefault(stream, {})[array.data_key] = {
                        "shape": [count, *frame_shape],
                        "frames": stream_frames(ranges),
                    }
        return out

    def store_attributes(self, uri: str) -> dict[str, Any]:
        """The attributes zarrscribe writes into the store at ``uri`` for this run."""
        record = self.record
        return {
            ATTRIBUTES_KEY: {
                "version": FORMAT_VERSION,
                "run": self.summary(),
                "start": _copied(dict(record.start)),
                "stop": _copied(dict(record.stop)) if record.stop else None,
                "configuration": record.configuration(),
                "arrays": self.arrays(uri),
                "missing": self.missing(),
                "written_at": _now(),
            }
        }

    def writer_metadata(self, uri: str) -> dict[str, Any]:
        """What ``handle_descriptor_metadata`` gave the writer of store ``uri`` during the
        run: the configuration of each device with an array in it. Restores the writer's
        ``metadata`` attribute when it is lost (not what was given to the writer directly
        with ``update_metadata``, which no document records)."""
        configuration = self.record.configuration()
        devices = set(self.arrays(uri))
        return {d: configuration[d] for d in sorted(devices) if d in configuration}

    def catalog_metadata(self, log: str | os.PathLike[str] | None) -> dict[str, Any]:
        """The metadata zarrscribe adds to the run's catalog entry, beside start and stop."""
        devices = self.record.devices()
        live = {"num_events": dict(self.record.events)} if self.running else {}
        return {
            ATTRIBUTES_KEY: {
                "version": FORMAT_VERSION,
                "exit_status": self.exit_status,
                "reason": self.reason,
                # readable start time, for lists that show metadata as it is (Tiled's UI)
                "started": _utc(self.record.start["time"]),
                "recovered": self.record.stop is None and not self.running,
                "devices": devices,
                # one key per device, so "took part" is a KeyPresent query on any backend
                "device_set": dict.fromkeys(devices, True),
                "stores": [self.relative(u) for u in self.record.store_uris()],
                "arrays": {k: {f: v[f] for f in _ENTRY_FIELDS} for k, v in self.arrays().items()},
                "missing": self.missing(),
                "configuration": self.record.configuration(),
                "log": self.relative(os.fspath(log)) if log else "",
                **live,  # a live entry's events so far (a stopped run's are in its stop)
                "written_at": _now(),
            }
        }

    def catalog_documents(self, docs: Iterable[Document]) -> Iterator[Document]:
        """The documents to register: stream datums only up to the frames that are
        readable (an array with none is left out, so the catalog never points at data
        it cannot read), and for a run that never stopped a deterministic stop
        document (so registering it again gives the same entry); a live entry
        (``running``) ends without one."""
        readable = {uid: self.frames(a).readable for uid, a in self.record.arrays.items()}
        last_time = float(self.record.start["time"])
        for name, doc in docs:
            last_time = max(last_time, float(doc.get("time", last_time)))
            if name == "stream_resource" and readable.get(doc["uid"], 1) == 0:
                continue
            if name == "stream_datum":
                clipped = _clip(doc, readable.get(doc["stream_resource"], 0))
                if clipped is None:
                    continue
                doc = clipped
            yield name, doc
        if self.record.stop is None and not self.running:
            yield "stop", self.recovered_stop(last_time)

    def catalog_stop(self) -> dict[str, Any]:
        """The stop document :meth:`catalog_documents` ends with, from the record alone
        (the run's own, or the recovered one of a run that never stopped)."""
        if self.record.stop is not None:
            return dict(self.record.stop)
        return self.recovered_stop(self.record.latest_time)

    def recovered_stop(self, time: float) -> dict[str, Any]:
        """The stop document registered for a run that never stopped."""
        uid = self.record.uid
        return {
            "uid": _recovered_stop_uid(uid),
            "run_start": uid,
            "time": time,
            "exit_status": "fail",  # the schema has no "incomplete"; ours says it
            "reason": RECOVERED_STOP_REASON,
            "num_events": dict(self.record.events),
        }


def _copied(value: Any) -> Any:
    """``copy.deepcopy(value)``, ~4x quicker for what documents hold (dicts, lists and
    immutable scalars); anything else goes to ``copy.deepcopy``."""
    kind = type(value)
    if kind is dict:
        return {k: _copied(v) for k, v in value.items()}
    if kind is list:
        return [_copied(v) for v in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    return copy.deepcopy(value)


@functools.lru_cache(maxsize=1024)
def _relative(uri: str, base: PurePath | None) -> str:
    """:meth:`RunProjection.relative` (a function of its strings alone: remembered, as a
    run's stores and log are named several times a run)."""
    path = local_path(uri)
    if path is None:
        return uri
    if base is not None:
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _clip(doc: dict[str, Any], limit: int) -> dict[str, Any] | None:
    """A stream datum cut to frames below ``limit``; ``None`` if none of it is."""
    start, stop = int(doc["indices"]["start"]), int(doc["indices"]["stop"])
    if start >= limit:
        return None
    if stop <= limit:
        return doc
    cut = stop - limit
    return {
        **doc,
        "indices": {"start": start, "stop": limit},
        "seq_nums": {"start": doc["seq_nums"]["start"], "stop": doc["seq_nums"]["stop"] - cut},
    }


def without_written_at(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` without the ``written_at`` field, for comparing two projections.

    A new dict at the two levels that differ; everything else is shared with
    ``metadata`` (compare it, do not change it)."""
    out = dict(metadata)
    inner = out.get(ATTRIBUTES_KEY)
    if isinstance(inner, dict) and "written_at" in inner:
        out[ATTRIBUTES_KEY] = {k: v for k, v in inner.items() if k != "written_at"}
    return out


def _recovered_stop_uid(uid: str) -> str:
    """The same uid for the same run's recovered stop, in every process."""
    import uuid  # here: it imports platform (~10 ms), which --help need not pay for

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"zarrscribe-recovered-stop/{uid}"))
