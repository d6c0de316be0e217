"""`RunRecord`: what the projections need of one run's documents, gathered as they pass."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import DocumentError
from ._format import Document

if TYPE_CHECKING:  # event-model is heavy to import; only its types are needed here
    from event_model.documents import EventDescriptor, RunStart, RunStop, StreamResource

__all__ = ["RunRecord", "StreamArray"]


@dataclass
class StreamArray:
    """One stream resource of a run: an array of a store and the frames announced for it.

    One resource may be referenced by the stream datums of several descriptors (an
    ophyd-async detector reuses its data provider across a step stream and a fly
    stream): its frames belong to each stream by the index ranges of that stream's
    datums, never all to the first one.
    """

    resource: StreamResource
    ranges: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """Frame index ranges ``[start, stop)`` of each event stream, in order of appearance,
    adjacent ranges joined."""
    announced: int = 0
    """Frames the run's stream datums say were written."""

    @property
    def streams(self) -> list[str]:
        """The event streams whose datums point into this array, in order of appearance."""
        return list(self.ranges)

    def add_range(self, stream: str, start: int, stop: int) -> None:
        ranges = self.ranges.setdefault(stream, [])
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], stop)
        elif stop > start:
            ranges.append((start, stop))

    @property
    def uid(self) -> str:
        return self.resource["uid"]

    @property
    def uri(self) -> str:
        return self.resource["uri"]

    @property
    def mimetype(self) -> str:
        return self.resource["mimetype"]

    @property
    def data_key(self) -> str:
        return str(self.resource["data_key"])

    @property
    def key(self) -> str:
        """Array key in the store (the data key unless the resource names another)."""
        params = self.resource.get("parameters") or {}
        return str(params.get("array_key", self.resource["data_key"]))


@dataclass
class RunRecord:
    """A run's documents reduced to what its store attributes and catalog entry need.

    Pure: no I/O. Live runs feed it document by document (:meth:`add`); replay
    builds it from a whole log (:meth:`from_documents`).
    """

    start: RunStart
    stop: RunStop | None = None
    descriptors: dict[str, EventDescriptor] = field(default_factory=dict)
    arrays: dict[str, StreamArray] = field(default_factory=dict)
    """Stream resources by uid, in order of appearance."""
    events: dict[str, int] = field(default_factory=dict)
    """Events per stream name."""
    last_time: float | None = None
    """The latest ``time`` of the run's documents (the start's, until a later one)."""

    @classmethod
    def from_documents(cls, docs: Iterable[Document]) -> RunRecord:
        """The record of a whole run's documents, which must begin with its start."""
        it = iter(docs)
        first = next(it, None)
        if first is None or first[0] != "start":
            found = "nothing" if first is None else f"a {first[0]!r} document"
            raise DocumentError(
                f"a run's documents must begin with its start document; found {found}"
            )
        record = cls(first[1])  # type: ignore[arg-type]
        for name, doc in it:
            record.add(name, doc)
        return record

    @property
    def uid(self) -> str:
        return self.start["uid"]

    @property
    def latest_time(self) -> float:
        """The latest ``time`` of the documents taken so far (the start's at first)."""
        return float(self.start["time"]) if self.last_time is None else self.last_time

    def add(self, name: str, doc: Any) -> None:
        """Take one document of the run into account."""
        with contextlib.suppress(TypeError, ValueError):  # (a time that is no number)
            self.last_time = max(self.latest_time, float(doc.get("time", self.latest_time)))
        run_start = doc.get("run_start") if name in ("descriptor", "stop") else None
        if run_start is not None and run_start != self.uid:
            raise DocumentError(
                f"{name} document {doc.get('uid')!r} belongs to run {run_start!r}, "
                f"not to run {self.uid!r}"
            )
        if name == "descriptor":
            self.descriptors[doc["uid"]] = doc
        elif name == "stream_resource":
            self.arrays[doc["uid"]] = StreamArray(doc)
        elif name == "stream_datum":
            array = self.arrays.get(doc["stream_resource"])
            if array is not None:
                start, stop = int(doc["indices"]["start"]), int(doc["indices"]["stop"])
                array.announced = max(array.announced, stop)
                desc = self.descriptors.get(doc["descriptor"])
                array.add_range(str(desc.get("name", "primary")) if desc else "", start, stop)
        elif name in ("event", "event_page"):
            desc = self.descriptors.get(doc["descriptor"])
            stream = str(desc.get("name", "primary")) if desc else "primary"
            count = len(doc["seq_num"]) if name == "event_page" else 1
            self.events[stream] = self.events.get(stream, 0) + count
        elif name == "stop":
            self.stop = doc

    def store_uris(self, mimetype: str | None = None) -> list[str]:
        """URIs of the stores the run's stream resources point at (of ``mimetype``, if
        given), in order of appearance."""
        return list(
            dict.fromkeys(
                a.uri for a in self.arrays.values() if mimetype is None or a.mimetype == mimetype
            )
        )

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

    def pixel_size(self, data_key: str) -> tuple[Any, Any]:
        """Pixel size and its units declared by the device of ``data_key``: its
        configuration keys ``pixel_size`` and ``pixel_size_units`` (bare, or after the
        device's name and ``-``, as ophyd names them); ``None`` where not declared."""
        devices = [
            device
            for desc in self.descriptors.values()
            for device, keys in desc.get("object_keys", {}).items()
            if data_key in keys
        ]
        configuration = self.configuration()
        for device in (*devices, data_key):
            config = configuration.get(device)
            if config is not None:
                size, units = (
                    config.get(f"{device}-{key}", config.get(key))
                    for key in ("pixel_size", "pixel_size_units")
                )
                return size, units
        return None, None

    def data_key(self, key: str) -> dict[str, Any]:
        """The descriptor's description of data key ``key`` (empty if none has it)."""
        for desc in self.descriptors.values():
            if key in desc.get("data_keys", {}):
                return dict(desc["data_keys"][key])
        return {}
