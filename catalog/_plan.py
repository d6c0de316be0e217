"""A run's catalog entry computed from its documents, before anything is written.

:func:`plan_run` turns a run's documents into the tree of nodes that
bluesky-tiled-plugins' ``TiledWriter`` (with our Zarr consolidator) would
create through Tiled's HTTP API: the run container, one container per stream,
the stream's ``internal`` table of event data and one external array per
StreamResource, with the same metadata, specs and data sources. It reuses the
plugin's own pieces (``RunNormalizer``, ``concatenate_stream_datums``,
``consolidator_factory``, ``truncate_json_overflow``) so structures and
consolidation are computed by the same code. The plan is then written in one
go: straight into the SQL catalog (:mod:`._sql`) or with the fewest HTTP
requests (:mod:`._http`).

Runs that need what the plan does not model (internal array data written as
Zarr or ragged arrays, tables wider than the plugin's column limit) raise
:class:`UnsupportedRun`; the caller then registers them through ``TiledWriter``.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._local import TABLE_MIMETYPE

__all__ = ["NodePlan", "UnsupportedRun", "plan_run", "validate_document"]


class UnsupportedRun(Exception):
    """The run uses a TiledWriter feature the plan does not model (fall back to TiledWriter)."""


@dataclass
class NodePlan:
    """One node to create: its key, family, metadata, specs, data source and children."""

    key: str
    structure_family: str
    """``container``, ``table`` or ``array``."""
    metadata: dict[str, Any]
    specs: list[dict[str, Any]]
    """Specs as Tiled stores them: ``{"name": ..., "version": ...}``."""
    data_source: Any = None
    """A ``tiled.structures.data_source.DataSource`` (tables: before storage is initialised)."""
    table: list[Any] = field(default_factory=list)
    """Rows of a table node, as pyarrow tables appended in this order."""
    children: list[NodePlan] = field(default_factory=list)

    def walk(self) -> Iterable[NodePlan]:
        yield self
        for child in self.children:
            yield from child.walk()


def _spec(name: str, version: str | None) -> dict[str, Any]:
    return {"name": name, "version": version}


def plan_run(docs: Iterable[tuple[str, dict[str, Any]]], metadata: dict[str, Any]) -> NodePlan:
    """The entry ``TiledWriter`` makes from ``docs``, ``metadata`` merged into the run's.

    Every document is checked against its event-model schema once, here. ``docs``
    whose ``fresh`` attribute is true (a log read again at each iteration) yield
    documents no one else holds: the normaliser then changes them in place instead
    of deep-copying each one first.
    """
    from ._consolidator import install_zarr_consolidator

    install_zarr_consolidator()  # its registry is what picks our consolidator below
    planner = _Planner()
    normalizer = _normalizer()
    normalizer.sink = planner  # document by document: a long run is never held whole
    fresh = getattr(docs, "fresh", False)
    for name, doc in docs:
        normalizer(name, _Owned(doc) if fresh else _Event(doc) if name == "event" else doc)
    return planner.finish(metadata)


_NORMALIZER: Any = None
_VALIDATORS: dict[str, Any] = {}


def validate_document(name: str, doc: dict[str, Any]) -> None:
    """Check ``doc`` against event-model's JSON schema of documents ``name``; raise
    ``ValueError`` (``fastjsonschema.JsonSchemaException``) naming what is wrong.

    The schemas are event-model's own, compiled to Python once per process by
    fastjsonschema (a schema in ~30 ms, then ~25x faster than jsonschema's
    validators); defaults are never filled into the document.
    """
    check = _VALIDATORS.get(name)
    if check is None:
        import fastjsonschema
        from event_model import DocumentNames, schemas

        check = _VALIDATORS[name] = fastjsonschema.compile(
            schemas[DocumentNames(name)], use_default=False
        )
    check(doc)


def _normalizer() -> Any:
    """bluesky-tiled-plugins' ``RunNormalizer``, each document it emits schema-checked
    once (:func:`validate_document`, not its jsonschema check: 1-3 ms a document) and
    given to its ``sink`` (the planner), not through its dispatcher (a subscription per
    run, a registry look-up per document, for its one subscriber)."""
    global _NORMALIZER
    if _NORMALIZER is None:
        from bluesky_tiled_plugins.writing.tiled_writer import RunNormalizer

        class Normalizer(RunNormalizer):  # type: ignore[misc]
            sink: Any = None

            def emit(self, name: Any, doc: Any) -> None:
                key = str(getattr(name, "value", name))
                validate_document(key, doc)
                self.sink(key, doc)

        _NORMALIZER = Normalizer
    return _NORMALIZER()


class _Owned(dict[str, Any]):
    """A document no one else holds (read anew from a log): ``RunNormalizer``, which
    deep-copies every document before changing it, changes it instead."""

    def __deepcopy__(self, memo: Any) -> dict[str, Any]:
        return self


class _Event(dict[str, Any]):
    """An event whose ``copy.deepcopy`` (``RunNormalizer.event`` deep-copies every
    event, 40% of a long run's registration) copies the event and the mappings in it
    (``data``, ``timestamps``, ``filled``: all the normaliser changes), sharing the
    readings themselves, which nothing changes."""

    def __deepcopy__(self, memo: Any) -> dict[str, Any]:
        return {k: dict(v) if isinstance(v, dict) else v for k, v in self.items()}


class _Planner:
    """Mirrors ``bluesky_tiled_plugins.writing.tiled_writer._RunWriter`` (2.0.12), in memory."""

    def __init__(self) -> None:
        from bluesky_tiled_plugins.writing.tiled_writer import BATCH_SIZE, MAX_ARRAY_SIZE

        self._batch_size = BATCH_SIZE
        self._max_array_size = MAX_ARRAY_SIZE
        self.root: NodePlan | None = None
        self.stop_doc: dict[str, Any] | None = None
        self.data_keys: dict[str, Any] = {}
        self.streams: dict[str, NodePlan] = {}  # by descriptor name and uid
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        """Event rows not yet in a table batch, by stream."""
        self.tables: dict[str, list[Any]] = defaultdict(list)
        """Each stream's rows in batches of ``BATCH_SIZE``, as pyarrow tables (compact)."""
        self.resources: dict[str, dict[str, Any]] = {}
        # by "<sres uid>/<stream>" and "<stream>_<data key>"
        self.arrays: dict[str, tuple[NodePlan, Any]] = {}
        self.datums: dict[str, dict[str, Any]] = {}  # concatenated StreamDatums by sres uid
        self.order: list[str] = []

    def __call__(self, name: Any, doc: dict[str, Any]) -> None:
        """Take one normalised document."""
        handler = getattr(self, str(name), None)
        if handler is not None:
            handler(doc)

    def start(self, doc: dict[str, Any]) -> None:
        if self.root is not None:
            raise ValueError(
                "a run is registered from exactly one start document; got more than one"
            )

        doc = copy.copy(doc)
        doc.pop("tiled_access_tags", None)  # an embedded app without access policy drops them
        extra = doc.pop("tiled_specs", None) or []
        specs = [
            _spec(s, None) if isinstance(s, str) else _spec(s["name"], s.get("version"))
            for s in extra
        ]
        self.root = NodePlan(
            key=str(doc["uid"]),
            structure_family="container",
            metadata={"start": _truncated(dict(doc))},
            specs=[*specs, _spec("BlueskyRun", "3.0")],
        )

    def descriptor(self, doc: dict[str, Any]) -> None:
        if self.root is None:
            raise UnsupportedRun("descriptor before start")
        name = doc["name"]
        self.data_keys.update(doc.get("data_keys", {}))
        if name not in self.streams:
            metadata = {
                k: v for k, v in doc.items() if k not in {"name", "object_keys", "run_start"}
            }
            node = NodePlan(
                key=name,
                structure_family="container",
                metadata=_truncated(metadata),
                specs=[_spec("BlueskyEventStream", "3.0"), _spec("composite", None)],
            )
            self.root.children.append(node)
            for key, val in doc.get("data_keys", {}).items():
                if "external" not in val and val.get("dtype") == "array":
                    shape = val.get("shape", ())
                    if None in shape or 0 <= self._max_array_size < math.prod(shape):
                        raise UnsupportedRun(f"internal array data {key!r}")
                    dtype_numpy = val.get("dtype_numpy")
                    if dtype_numpy and _dtype_kind(dtype_numpy) in {"U", "S", "O"}:
                        raise UnsupportedRun(f"internal string array {key!r}")
        else:
            node = self.streams[name]
            updates = [
                *node.metadata.get("_config_updates", []),
                {"uid": doc["uid"], "time": doc["time"]},
            ]
            if conf := doc.get("configuration"):
                updates[-1]["configuration"] = conf
            node.metadata["_config_updates"] = _truncated(updates)
        self.streams[doc["uid"]] = self.streams[name] = node

    def event(self, doc: dict[str, Any]) -> None:
        stream = self.streams[doc["descriptor"]].key
        row = {"seq_num": doc["seq_num"], "time": doc["time"], **doc["data"]}
        row.update({f"ts_{k}": v for k, v in doc["timestamps"].items()})
        rows = self.rows[stream]
        rows.append(row)
        if len(rows) >= self._batch_size:  # as _RunWriter writes a full batch
            self._batch(stream)

    def _batch(self, stream: str) -> None:
        import pyarrow  # no stubs; not in pyproject's list

        rows, self.rows[stream] = self.rows[stream], []  # (the streams keep their order)
        if rows:
            self.tables[stream].append(pyarrow.Table.from_pylist(rows))

    def stream_resource(self, doc: dict[str, Any]) -> None:
        self.resources[doc["uid"]] = doc

    def stream_datum(self, doc: dict[str, Any]) -> None:
        # As _RunWriter.stream_datum with its default batch size: consecutive
        # datums are concatenated; the rest are consumed as they come.
        from bluesky_tiled_plugins.writing.tiled_writer import concatenate_stream_datums

        sres = doc["stream_resource"]
        cached = self.datums.pop(sres, None)
        if cached is None:
            self.datums[sres] = doc
            return
        try:
            joined = concatenate_stream_datums(cached, doc)
        except ValueError:
            self._consume(cached)
            self._consume(doc)
            return
        if joined["indices"]["stop"] - joined["indices"]["start"] >= self._batch_size:
            self._consume(joined)
        else:
            self.datums[sres] = joined

    def _consume(self, doc: dict[str, Any]) -> None:
        from bluesky_tiled_plugins.writing.consolidators import consolidator_factory

        sres_uid, desc_uid = doc["stream_resource"], doc["descriptor"]
        # Unlike _RunWriter, which files every datum of a resource under the stream of
        # its first one, each stream gets its own node with only its own frames.
        stream = self.streams.get(desc_uid)
        if stream is None:
            raise UnsupportedRun(f"stream datum {doc['uid']} of an unknown descriptor")
        part = f"{sres_uid}/{stream.key}"
        if part in self.arrays:
            node, consolidator = self.arrays[part]
        elif sres_uid in self.resources:
            sres = self.resources[sres_uid]
            full_key = f"{stream.key}_{sres['data_key']}"
            if full_key in self.arrays:
                node, consolidator = self.arrays[full_key]
                consolidator.update_from_stream_resource(sres)
            else:
                consolidator = consolidator_factory(sres, stream.metadata)
                data_source = consolidator.get_data_source()
                node = NodePlan(
                    key=consolidator.data_key,
                    structure_family=str(data_source.structure_family.value),
                    metadata={},
                    specs=[],
                    data_source=data_source,
                )
                stream.children.append(node)
            self.arrays[part] = self.arrays[full_key] = (node, consolidator)
        else:
            raise UnsupportedRun(f"stream resource {sres_uid} referenced before being received")
        consolidator.consume_stream_datum(doc)

    def stop(self, doc: dict[str, Any]) -> None:
        self.stop_doc = doc

    def finish(self, metadata: dict[str, Any]) -> NodePlan:
        from tiled.client.metadata_update import apply_update_patch

        if self.root is None:
            raise UnsupportedRun("a run without start document")
        for stream in self.rows:  # in the order of their first events
            self._batch(stream)
            self._table(self.streams[stream], self.tables[stream])
        for doc in self.datums.values():
            self._consume(doc)
        for node, consolidator in {id(n): (n, c) for n, c in self.arrays.values()}.values():
            final = consolidator.get_data_source()
            known = {a.data_uri for a in final.assets}
            final.assets = [
                *final.assets,
                *(a for a in node.data_source.assets if a.data_uri not in known),
            ]
            node.data_source = final
            if consolidator.metadata:
                # no copy: the consolidator is dropped with the planner
                node.metadata = apply_update_patch(node.metadata, consolidator.metadata)
        # A run still acquiring (a live entry) has no stop yet, as TiledWriter's before it
        stop = dict(self.stop_doc) if self.stop_doc is not None else {}
        notes = list(dict.fromkeys(stop.pop("_run_normalizer_notes", [])))
        update = {**({"stop": stop} if stop else {}), **({"notes": notes} if notes else {})}
        root = self.root
        # apply_update_patch makes new dicts of the patches' dicts and shares their other
        # values (lists, numbers), which nothing changes afterwards: no deep copy first
        root.metadata = apply_update_patch(root.metadata, update, metadata)
        return root

    def _table(self, stream: NodePlan, tables: list[Any]) -> None:
        """The stream's ``internal`` table, as ``_RunWriter._write_internal_data`` makes it
        (``tables``: its rows, ``BATCH_SIZE`` to a table)."""
        import pyarrow  # no stubs; not in pyproject's list
        from bluesky_tiled_plugins.writing.tiled_writer import MAX_TABLE_COLUMNS
        from tiled.structures.core import StructureFamily
        from tiled.structures.data_source import DataSource
        from tiled.structures.table import TableStructure

        if not tables or not tables[0]:
            return
        first = tables[0]
        if first.num_columns > MAX_TABLE_COLUMNS:
            raise UnsupportedRun(f"{first.num_columns} event columns")
        schema = first.schema
        for i, f in enumerate(first.schema):
            if pyarrow.types.is_null(f.type):
                schema = schema.set(i, f.with_type(pyarrow.string()))
            elif pyarrow.types.is_list(f.type) and pyarrow.types.is_null(f.type.value_type):
                schema = schema.set(i, f.with_type(pyarrow.list_(pyarrow.string())))
        metadata = {k: v for k, v in self.data_keys.items() if k in first.column_names}
        stream.children.append(
            NodePlan(
                key="internal",
                structure_family="table",
                metadata=_truncated(metadata),
                specs=[],
                data_source=DataSource(
                    structure=TableStructure.from_schema(schema, 1),
                    structure_family=StructureFamily.table,
                    mimetype=TABLE_MIMETYPE,
                    parameters={},
                ),
                table=tables,
            )
        )


_JSON_INT = 2**53 - 1
_JSON_FLOAT = 1.7976e308


def _truncated(data: Any) -> Any:
    """``bluesky_tiled_plugins.utils.truncate_json_overflow(data)`` (2.0.12), the same
    result ~5x faster for what documents hold (dicts, lists, strings, numbers): its
    ``isinstance`` checks against ``collections.abc`` were most of a small run's
    planning. Anything else goes to the plugin's own function."""
    if isinstance(data, dict):
        return {k: _truncated(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_truncated(v) for v in data]
    kind = type(data)
    if kind is str or kind is bool or data is None:
        return data
    if kind is int:
        return data if -_JSON_INT <= data <= _JSON_INT else min(max(data, -_JSON_INT), _JSON_INT)
    if kind is float:
        if not (data % 1) and not (-_JSON_INT <= data <= _JSON_INT):
            return min(max(data, -_JSON_INT), _JSON_INT)
        if data < -_JSON_FLOAT or data > _JSON_FLOAT:
            return min(max(data, -_JSON_FLOAT), _JSON_FLOAT)
        return data
    from bluesky_tiled_plugins.utils import truncate_json_overflow

    return truncate_json_overflow(data)


def _dtype_kind(dtype: Any) -> str:
    import numpy

    return str(numpy.dtype(dtype).kind)
