"""Metadata as a pure function of a run's documents.

The store attributes and the catalog metadata written for a run are computed
here from its documents alone, so a replay of the same documents writes the
same values, apart from the explicit ``written_at`` field.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from event_model.documents import EventDescriptor, RunStart, RunStop, StreamResource

from ._errors import CallbackError

__all__ = [
    "ATTRIBUTES_KEY",
    "INCOMPLETE",
    "RunRecord",
    "catalog_metadata",
    "store_attributes",
    "without_written_at",
    "writer_metadata",
]

ATTRIBUTES_KEY = "zarrscribe"
"""Root attribute of a store, and metadata key of a catalog entry, that zarrscribe owns."""

INCOMPLETE = "incomplete"
"""Exit status of a run whose stop document never came (its process died)."""

FORMAT_VERSION = 1


@dataclass
class _Array:
    resource: StreamResource
    stream: str
    frames: int = 0

    @property
    def key(self) -> str:
        """Array key in the store (the data key unless the resource names another)."""
        return str(self.resource.get("parameters", {}).get("array_key", self.resource["data_key"]))


@dataclass
class RunRecord:
    """What the projections need of one run's documents, gathered as they pass."""

    start: RunStart
    stop: RunStop | None = None
    descriptors: dict[str, EventDescriptor] = field(default_factory=dict)
    resources: dict[str, _Array] = field(default_factory=dict)
    frames_on_disk: dict[tuple[str, str], int] = field(default_factory=dict)
    """Frames readable per (store URI, array key), when a crashed run was recovered."""

    @classmethod
    def from_documents(cls, docs: Sequence[tuple[str, Any]]) -> RunRecord:
        """The record of a whole run's documents, which must begin with its start."""
        if not docs or docs[0][0] != "start":
            raise CallbackError("the documents do not begin with a start document")
        record = cls(docs[0][1])
        for name, doc in docs[1:]:
            record.add(name, doc)
        return record

    @property
    def uid(self) -> str:
        return self.start["uid"]

    @property
    def exit_status(self) -> str:
        return self.stop["exit_status"] if self.stop is not None else INCOMPLETE

    def add(self, name: str, doc: Any) -> None:
        """Take one document of the run into account."""
        if name == "descriptor":
            self.descriptors[doc["uid"]] = doc
        elif name == "stream_resource":
            self.resources[doc["uid"]] = _Array(doc, stream="")
        elif name == "stream_datum":
            array = self.resources.get(doc["stream_resource"])
            if array is not None:
                array.frames = max(array.frames, doc["indices"]["stop"])
                desc = self.descriptors.get(doc["descriptor"])
                if desc is not None and not array.stream:
                    array.stream = desc.get("name", "primary")
        elif name == "stop":
            self.stop = doc

    def store_uris(self, mimetype: str | None = None) -> list[str]:
        """URIs of the stores the run's stream resources point at (of ``mimetype``, if
        given), in order of appearance."""
        return list(
            dict.fromkeys(
                a.resource["uri"]
                for a in self.resources.values()
                if mimetype is None or a.resource["mimetype"] == mimetype
            )
        )

    def readable_frames(self, resource_uid: str) -> int:
        """Frames of a stream resource that can be read back (fewer after a crash)."""
        array = self.resources[resource_uid]
        on_disk = self.frames_on_disk.get((array.resource["uri"], array.key))
        return array.frames if on_disk is None else min(array.frames, on_disk)

    def devices(self) -> list[str]:
        """Every device that took part (object keys of all descriptors), sorted."""
        names: set[str] = set()
        for desc in self.descriptors.values():
            names.update(desc.get("object_keys", {}))
            names.update(desc.get("configuration", {}))
        return sorted(names)

    def configuration(self) -> dict[str, dict[str, Any]]:
        """Each device's configuration values, from the first descriptor naming it."""
        out: dict[str, dict[str, Any]] = {}
        for desc in self.descriptors.values():
            for device, config in desc.get("configuration", {}).items():
                out.setdefault(device, dict(config.get("data", {})))
        return {k: out[k] for k in sorted(out)}

    def arrays(self, uri: str | None = None) -> dict[str, dict[str, Any]]:
        """Arrays (one per stream resource) of the store ``uri``, or of every store."""
        out: dict[str, dict[str, Any]] = {}
        for resource_uid, array in self.resources.items():
            res = array.resource
            if uri is not None and res["uri"] != uri:
                continue
            params = res.get("parameters", {})
            data_key = self._data_key(res["data_key"])
            frame_shape = list(data_key.get("shape", []))
            frames = self.readable_frames(resource_uid)
            out[array.key] = {
                "data_key": res["data_key"],
                "stream": array.stream,
                "uri": res["uri"],
                "shape": [frames, *frame_shape],
                "dtype": data_key.get("dtype_numpy", ""),
                "chunk_shape": params.get("chunk_shape"),
                "shard_shape": params.get("shard_shape"),
                "compression": params.get("compression"),
            }
        return out

    def _data_key(self, key: str) -> dict[str, Any]:
        for desc in self.descriptors.values():
            if key in desc.get("data_keys", {}):
                return dict(desc["data_keys"][key])
        return {}

    def summary(self) -> dict[str, Any]:
        start, stop = self.start, self.stop
        return {
            "uid": self.uid,
            "scan_id": start.get("scan_id"),
            "plan_name": start.get("plan_name"),
            "start_time": start["time"],
            "stop_time": stop["time"] if stop else None,
            "exit_status": self.exit_status,
            "reason": stop.get("reason", "") if stop else "no stop document: the run never ended",
            "num_events": dict(stop.get("num_events", {})) if stop else {},
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def store_attributes(record: RunRecord, uri: str) -> dict[str, Any]:
    """The attributes zarrscribe writes into the store at ``uri`` for this run."""
    return {
        ATTRIBUTES_KEY: {
            "version": FORMAT_VERSION,
            "run": record.summary(),
            "start": copy.deepcopy(dict(record.start)),
            "stop": copy.deepcopy(dict(record.stop)) if record.stop else None,
            "configuration": record.configuration(),
            "arrays": record.arrays(uri),
            "written_at": _now(),
        }
    }


def writer_metadata(record: RunRecord, uri: str) -> dict[str, Any]:
    """What ``handle_descriptor_metadata`` gave the writer of store ``uri`` during the run:
    the configuration of each device with an array in it. Used to restore the
    writer's ``metadata`` attribute when it is lost (not what was given to the
    writer directly with ``update_metadata``, which no document records)."""
    configuration = record.configuration()
    devices = {str(a["data_key"]) for a in record.arrays(uri).values()}
    return {d: configuration[d] for d in sorted(devices) if d in configuration}


def catalog_metadata(record: RunRecord, *, log: str) -> dict[str, Any]:
    """The metadata zarrscribe adds to the run's catalog entry, beside start and stop."""
    arrays = record.arrays()
    return {
        ATTRIBUTES_KEY: {
            "version": FORMAT_VERSION,
            "exit_status": record.exit_status,
            "devices": record.devices(),
            # one key per device, so "took part" is a KeyPresent query on any backend
            "device_set": dict.fromkeys(record.devices(), True),
            "stores": record.store_uris(),
            "arrays": {
                k: {
                    "uri": v["uri"],
                    "stream": v["stream"],
                    "shape": v["shape"],
                    "dtype": v["dtype"],
                }
                for k, v in arrays.items()
            },
            "configuration": record.configuration(),
            "log": log,
            "written_at": _now(),
        }
    }


def without_written_at(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` without the ``written_at`` field, for comparing two projections."""
    out = copy.deepcopy(metadata)
    inner = out.get(ATTRIBUTES_KEY)
    if isinstance(inner, dict):
        inner.pop("written_at", None)
    return out
