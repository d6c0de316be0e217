"""Replay: regenerate store attributes and catalog entries from stored documents."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from zarrscribe.callbacks import (
    ATTRIBUTES_KEY,
    LOG_NAME,
    CallbackError,
    RunRecord,
    catalog_metadata,
    read_document_log,
    store_attributes,
    without_written_at,
    writer_metadata,
)
from zarrscribe.catalog import Catalog, CatalogError, CatalogUnavailableError, RunNotFoundError
from zarrscribe.writers import (
    METADATA_KEY,
    ZARR_MIMETYPE,
    WriterError,
    frames_on_disk,
    read_store_attributes,
    update_store_attributes,
)

__all__ = ["ReplayReport", "find_logs", "replay_runs"]

Documents = list[tuple[str, dict[str, Any]]]
Outcome = Literal["written", "unchanged", "differs", "registered", "missing", "queued", "skipped"]


@dataclass
class ReplayReport:
    """What replaying one run did (or, with ``check``, would do)."""

    uid: str
    source: str
    """The document log replayed, or ``catalog`` when the log was gone."""
    exit_status: str = ""
    stores: dict[str, Outcome] = field(default_factory=dict)
    """Per store URI: ``written``, ``unchanged`` or (check) ``differs``."""
    catalog: Outcome = "skipped"
    """``registered``, ``unchanged``, ``queued`` (catalog down), or with check
    ``differs`` / ``missing``."""
    recovered: dict[str, int] = field(default_factory=dict)
    """For a run that never stopped: frames readable per array."""
    differences: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def changed(self) -> bool:
        return self.catalog in ("registered", "differs", "missing") or any(
            o in ("written", "differs") for o in self.stores.values()
        )

    def line(self) -> str:
        """One line for a person: what happened to this run."""
        if self.error:
            return f"{self.uid[:8] or '?':<8}  ERROR  {self.error}"
        stores = ", ".join(f"{Path(u).name} {o}" for u, o in self.stores.items()) or "no stores"
        extra = f"  recovered frames {self.recovered}" if self.recovered else ""
        return (
            f"{self.uid[:8]:<8}  {self.exit_status:<10}  attributes: {stores}  "
            f"catalog: {self.catalog}{extra}"
        )


def _first_document(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            record = json.loads(f.readline())
        return record["doc"] if record.get("name") == "start" else None
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def find_logs(base_dir: Path) -> dict[str, Path]:
    """Every run's document log under ``base_dir``, by start uid (unreadable ones skipped)."""
    logs: dict[str, Path] = {}
    for path in sorted(base_dir.glob(f"*/*/{LOG_NAME}")):
        start = _first_document(path)
        if start is not None and "uid" in start:
            logs[str(start["uid"])] = path
    return logs


def _normalised(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _diff(prefix: str, old: Any, new: Any) -> list[str]:
    old, new = _normalised(old), _normalised(new)
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out.extend(_diff(f"{prefix}.{key}", old.get(key), new.get(key)))
        return out
    return [f"{prefix}: {json.dumps(old)[:80]} -> {json.dumps(new)[:80]}"]


def _for_catalog(docs: Documents, record: RunRecord) -> Documents:
    """The documents to register. For a run that never stopped: only the frames that
    are readable, and a stop document (deterministic, so replay stays idempotent)."""
    if record.stop is not None:
        return docs
    readable = {uid: record.readable_frames(uid) for uid in record.resources}
    out: Documents = []
    events: dict[str, int] = {}
    last_time = float(record.start["time"])
    for name, doc in docs:
        last_time = max(last_time, float(doc.get("time", last_time)))
        if name == "stream_datum":
            limit = readable.get(doc["stream_resource"], 0)
            if doc["indices"]["start"] >= limit:
                continue
            if doc["indices"]["stop"] > limit:
                cut = doc["indices"]["stop"] - limit
                doc = {
                    **doc,
                    "indices": {"start": doc["indices"]["start"], "stop": limit},
                    "seq_nums": {
                        "start": doc["seq_nums"]["start"],
                        "stop": doc["seq_nums"]["stop"] - cut,
                    },
                }
        elif name in ("event", "event_page"):
            desc = record.descriptors.get(doc["descriptor"])
            stream = str(desc["name"]) if desc else "primary"
            count = len(doc["seq_num"]) if name == "event_page" else 1
            events[stream] = events.get(stream, 0) + count
        out.append((name, doc))
    out.append(
        (
            "stop",
            {
                "uid": str(
                    uuid.uuid5(uuid.NAMESPACE_URL, f"zarrscribe-recovered-stop/{record.uid}")
                ),
                "run_start": record.uid,
                "time": last_time,
                "exit_status": "fail",
                "reason": "incomplete: the run's process ended without a stop document; "
                "recovered by zarrscribe replay",
                "num_events": events,
            },
        )
    )
    return out


def _replay_one(
    docs: Documents,
    *,
    source: str,
    log: Path | None,
    catalog: Catalog | None,
    check: bool,
    queue: Callable[[str, Path, dict[str, Any]], None] | None,
) -> ReplayReport:
    record = RunRecord.from_documents(docs)
    report = ReplayReport(uid=record.uid, source=source, exit_status=record.exit_status)
    if record.stop is None:  # the process died: count what can be read back
        for uri in record.store_uris(ZARR_MIMETYPE):
            for key, n in frames_on_disk(uri).items():
                record.frames_on_disk[(uri, key)] = n
                report.recovered[key] = n
    for uri in record.store_uris(ZARR_MIMETYPE):
        _replay_attributes(record, uri, report, check=check)
    metadata = catalog_metadata(record, log=str(log) if log else "")
    if catalog is None:
        if queue is not None and log is not None and log.exists() and not check:
            queue(record.uid, log, metadata)
            report.catalog = "queued"
        return report
    try:
        _replay_entry(docs, record, metadata, catalog, report, check=check)
    except CatalogUnavailableError as e:
        if queue is None or log is None or not log.exists() or check:
            raise
        queue(record.uid, log, metadata)
        report.catalog = "queued"
        report.differences.append(f"catalog unreachable, registration queued: {e}")
    return report


def _replay_attributes(record: RunRecord, uri: str, report: ReplayReport, *, check: bool) -> None:
    """Compare the store's attributes with the documents' projection; write if they differ."""
    new = store_attributes(record, uri)
    try:
        current = read_store_attributes(uri)
    except WriterError:
        current = {}  # no root group (a crashed run) or no store: written below
    if METADATA_KEY not in current:  # the writer's metadata is lost: restore it
        new[METADATA_KEY] = writer_metadata(record, uri)
    old = without_written_at({k: current.get(k) for k in new})
    if old == without_written_at(new):
        report.stores[uri] = "unchanged"
        return
    report.differences += _diff(Path(uri).name, old, without_written_at(new))
    if check:
        report.stores[uri] = "differs"
    else:
        update_store_attributes(uri, new, create=True)
        report.stores[uri] = "written"


def _replay_entry(
    docs: Documents,
    record: RunRecord,
    metadata: dict[str, Any],
    catalog: Catalog,
    report: ReplayReport,
    *,
    check: bool,
) -> None:
    """Compare the run's catalog entry with the documents' projection; register if needed."""
    tiled_docs = _for_catalog(docs, record)
    stop = next((doc for name, doc in reversed(tiled_docs) if name == "stop"), None)
    expected = {"start": record.start, "stop": stop, **without_written_at(metadata)}
    try:
        current: dict[str, Any] | None = dict(catalog.run(record.uid).metadata)
    except RunNotFoundError:
        current = None
    if current is not None:
        existing = {
            "start": current.get("start"),
            "stop": current.get("stop"),
            **without_written_at({ATTRIBUTES_KEY: current.get(ATTRIBUTES_KEY)}),
        }
        differences = _diff("catalog", existing, expected)
        if not differences:
            report.catalog = "unchanged"
            return
        report.differences += differences
        report.catalog = "differs"
    else:
        report.catalog = "missing"
        report.differences.append("catalog: no entry")
    if not check:
        catalog.register_run(tiled_docs, metadata)
        report.catalog = "registered"


def replay_runs(
    targets: Iterable[str | Path],
    *,
    base_dir: Path,
    catalog: Catalog | None,
    check: bool = False,
    queue: Callable[[str, Path, dict[str, Any]], None] | None = None,
) -> Iterator[ReplayReport]:
    """Replay each target: a run folder, a log file, a uid or a uid prefix.

    Documents come from the run's log, or from the catalog where the log is gone.
    One failing run is reported (``error``) and the others still replay.
    """
    logs: dict[str, Path] | None = None
    for target in targets:
        try:
            path = Path(target)
            if path.is_dir() or path.suffix == ".jsonl":
                log: Path | None = path / LOG_NAME if path.is_dir() else path
            else:
                if logs is None:
                    logs = find_logs(base_dir)
                log = _log_of(str(target), logs)
            if log is not None:
                docs, source = list(read_document_log(log)), str(log)
            else:
                docs, log = _catalog_documents(str(target), catalog, base_dir)
                source = "catalog"
            yield _replay_one(
                docs, source=source, log=log, catalog=catalog, check=check, queue=queue
            )
        except (CallbackError, CatalogError, WriterError, OSError, KeyError, ValueError) as e:
            yield ReplayReport(uid="", source=str(target), error=str(e))


def _log_of(uid: str, logs: dict[str, Path]) -> Path | None:
    """The log of the run whose uid is, or starts with, ``uid``; ``None`` if no log has it."""
    matches = [u for u in logs if u.startswith(uid)]
    if len(matches) > 1:
        raise RunNotFoundError(
            f"uid prefix {uid!r} matches {len(matches)} runs; give more characters"
        )
    return logs[matches[0]] if matches else None


def _catalog_documents(
    uid: str, catalog: Catalog | None, base_dir: Path
) -> tuple[Documents, Path | None]:
    """A run's documents from the catalog, and where its entry says the log was."""
    if catalog is None:
        raise RunNotFoundError(
            f"no document log for run {uid!r} under {base_dir} and no catalog to read "
            "its documents from"
        )
    md = catalog.run(uid).metadata
    was = (md.get(ATTRIBUTES_KEY) or {}).get("log")
    return catalog.documents(md["start"]["uid"]), Path(was) if was else None
