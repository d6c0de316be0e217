"""Replay: regenerate store attributes and catalog entries from stored documents."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ...callbacks import (
    LoadedRun,
    Synced,
    compare_entry,
    is_live,
    load_run,
    loaded_run,
    read_on_disk,
    sync_store,
)
from ...catalog import (
    Catalog,
    CatalogError,
    CatalogUnavailableError,
    Deletion,
    Deletions,
    RunNotFoundError,
    find_logs,
)
from ...writers import StoreScan
from ...writers.model import (
    ATTRIBUTES_KEY,
    LOG_NAME,
    RUNNING,
    ZARR_MIMETYPE,
    Document,
    RunProjection,
    ZarrscribeError,
    damage_at,
)
from ._report import ReplayReport

__all__ = ["find_log", "find_logs", "replay_runs", "run_log"]

logger = logging.getLogger(__name__)

Queue = Callable[[str, Path], None]
Recovered = Callable[[Path, dict[str, Any]], None]
"""Takes a run that never stopped: its log and the stop document made for it."""


def _start_uid(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            record = json.loads(f.readline().decode("utf-8"))
        return str(record["doc"]["uid"]) if record.get("name") == "start" else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def find_log(base_dir: Path, uid: str) -> Path | None:
    """The log under ``base_dir`` of run ``uid`` exactly (``None`` if none has it)."""
    return next((p for p in find_logs(base_dir) if _start_uid(p) == uid), None)


def run_log(base_dir: Path, uid: str) -> tuple[str, Path] | None:
    """The full uid and the log of the run whose uid is, or starts with, ``uid``;
    ``None`` if no log under ``base_dir`` has it."""
    matches = {u: p for p in find_logs(base_dir) if (u := _start_uid(p)) and u.startswith(uid)}
    if len(matches) > 1:
        raise RunNotFoundError(
            f"uid prefix {uid!r} matches {len(matches)} runs; give more characters"
        )
    return next(iter(matches.items()), None)


def _log_of(uid: str, base_dir: Path) -> Path | None:
    found = run_log(base_dir, uid)
    return found[1] if found else None


Entry = tuple[Iterable[Document], dict[str, Any]]
"""A run's catalog documents and metadata, to register."""


def _replay_one(
    run: LoadedRun,
    *,
    source: str,
    base_dir: Path,
    catalog: Catalog | None,
    known: dict[str, dict[str, Any]] | None,
    check: bool,
    force: bool,
    queue: Queue | None,
    recovered: Recovered | None,
) -> tuple[ReplayReport, Entry | None]:
    """Replay one run's attributes; compare its catalog entry. Returns the report and
    the entry to register (registered in batches by the caller), if any."""
    record = run.record
    current: dict[str, Any] | None = None
    layout: dict[str, dict[str, Any]] | None = None
    if catalog is not None:  # first: a catalog that is unavailable raises before any write
        current = known.get(record.uid) if known is not None else _look_up(catalog, record.uid)
        layout = catalog.layout(record.uid) if current is not None else None
    damaged = bool(run.damage)
    zarr_stores = record.store_uris(ZARR_MIMETYPE)
    scans: dict[str, StoreScan] = {}  # each store looked at once, for counting and syncing
    on_disk = read_on_disk(zarr_stores, base_dir, scans, checked=run.stores)
    projection = RunProjection(record, on_disk, base_dir=base_dir)
    report = ReplayReport(
        uid=record.uid,
        source=source,
        on_disk={key: n for (_, key), n in on_disk.items()},
        exit_status=projection.exit_status,
        missing=projection.missing(),
        damage=list(run.damage),
    )
    refusals: list[str] = []

    def note(where: str, synced: Synced) -> None:
        report.differences += synced.differences
        if synced.refused:
            refusals.append(f"{where}: {synced.refused}")

    for uri in zarr_stores:
        try:
            synced = sync_store(
                projection,
                uri,
                base_dir=base_dir,
                check=check,
                force=force,
                damaged=damaged,
                scan=scans.get(uri),
            )
        except (ZarrscribeError, OSError) as e:  # a store this run cannot describe
            report.stores[uri] = "refused"
            report.error = str(e)
            return report, None
        report.stores[uri] = synced.outcome
        report.damage += synced.damage
        note(Path(uri).name, synced)
    log = run.log if run.log.exists() else None
    if recovered is not None and record.stop is None and log is not None and not check:
        recovered(log, projection.catalog_stop())
    entry: Entry | None = None
    if catalog is None:
        if queue is not None and log is not None and not check:
            _queue(report, queue, log)
    else:
        synced = compare_entry(
            projection, run.documents, log, current, layout=layout, force=force, damaged=damaged
        )
        report.catalog = synced.outcome
        note("catalog", synced)
        if not check:
            entry = synced.entry
    if refusals:
        where = run.damage[0] if run.damage else run.log
        if not run.damage and record.stop is None and run.last_line is not None:
            where = run.where_last("the log ends here, without a stop document")
        report.error = (
            f"{'; '.join(refusals)} ({where}); "
            "nothing replaced: repair the log, or replay with --force to accept the loss"
        )
    elif run.damage and not _crash_tail(run):
        report.error = (
            f"damaged document log: {'; '.join(run.damage[:3])}"
            f"{f' (+{len(run.damage) - 3} more)' if len(run.damage) > 3 else ''}; "
            "the lines were left out and nothing that would lose data was replaced"
        )
    return report, entry


def _queue(report: ReplayReport, queue: Queue, log: Path) -> None:
    """Queue the run's registration (``queued``), or say why it could not be."""
    try:
        queue(report.uid, log)
    except OSError as e:
        report.error = (
            f"the catalog registration of run {report.uid!r} could not be queued "
            f"({e.strerror or e}: {e.filename}); replay it again once there is space"
        )
    else:
        report.catalog = "queued"


def _look_up(catalog: Catalog, uid: str) -> dict[str, Any] | None:
    try:
        return catalog.metadata(uid)
    except RunNotFoundError:
        return None


def _crash_tail(run: LoadedRun) -> bool:
    """Whether the only damage is the last line of a run that never stopped, cut short
    when its process died: the expected trace of a crash, not an error."""
    return run.record.stop is None and len(run.damage) == 1 and ": cut short (" in run.damage[0]


def _register(
    catalog: Catalog, waiting: list[tuple[ReplayReport, Entry, Path | None]], queue: Queue | None
) -> Iterator[ReplayReport]:
    """Register the waiting entries in one batch (one transaction in the embedded
    catalog); with the catalog unreachable, queue them; a batch that fails for another
    reason is registered run by run, so one bad run does not fail the others."""
    batch, waiting[:] = list(waiting), []
    if not batch:
        return
    try:
        catalog.register_runs([entry for _, entry, _ in batch])
    except CatalogUnavailableError as e:
        if queue is None:
            raise
        for report, _, log in batch:
            report.differences.append(f"catalog unreachable, registration queued: {e}")
            if log is not None:
                _queue(report, queue, log)
            yield report
    except CatalogError as e:
        if len(batch) > 1:
            for item in batch:
                yield from _register(catalog, [item], queue)
        else:
            batch[0][0].error = str(e)
            yield batch[0][0]
    else:
        for report, _, _ in batch:
            report.catalog = "registered"
            yield report


def replay_runs(
    targets: Sequence[str | Path],
    *,
    base_dir: Path,
    catalog: Catalog | None,
    check: bool = False,
    force: bool = False,
    queue: Queue | None = None,
    recovered: Recovered | None = None,
    deletions: Deletions | None = None,
    batch: int = 200,
) -> Iterator[ReplayReport]:
    """Replay each target: a run folder, a log file, a uid or a uid prefix.

    Documents come from the run's log, or from the catalog where the log is gone.
    A run that a process is acquiring right now (its log is held: live entries) is
    reported ``running`` and left alone.
    Entries to register are written ``batch`` at a time. One failing run is
    reported (``error``) and the others still replay. A run in ``deletions`` is
    reported ``deleted`` and skipped (an entry it still has is removed, unless
    ``check``); damaged lines of the deletion log are reported as an error.
    """
    deletions = deletions if deletions is not None else Deletions()
    if deletions.damage:
        yield ReplayReport(
            uid="",
            source=deletions.damage[0].split(": ")[0],
            error=f"damaged deletion log: {'; '.join(deletions.damage[:3])}; a deletion there "
            "is not honoured: repair or remove the line",
        )
    # Replaying many runs: fetch every entry once rather than one request per run.
    lookup, unavailable = catalog, ""  # the catalog entries are compared with, while it works
    try:
        known = catalog.entries() if catalog is not None and len(targets) > 20 else None
    except CatalogUnavailableError as e:  # (a full disk under the embedded catalog)
        lookup, known, unavailable = None, None, str(e)
        logger.warning("replay without the catalog (%s); registrations are queued", e)
    waiting: list[tuple[ReplayReport, Entry, Path | None]] = []
    for target in targets:
        try:
            path = Path(target)
            if path.is_dir() or path.suffix == ".jsonl":
                log: Path | None = (path / LOG_NAME if path.is_dir() else path).absolute()
            else:
                log = _log_of(str(target), base_dir)
            if log is not None and _holds_nothing(log):
                yield _nothing_logged(log, check=check)
                continue
            uid = _start_uid(log) if log is not None else None
            deletion = deletions.get(uid) if uid else None
            if deletion is None and log is None:
                deletion = deletions.find(str(target))
            if deletion is not None:
                yield _skip_deleted(deletion, str(log or target), lookup, known, check)
                continue
            if log is not None and is_live(log):  # acquired now, here or elsewhere: its
                # live entry is kept, and its stop's registration follows
                yield ReplayReport(uid=uid or "", source=str(log), exit_status=RUNNING)
                continue
            if log is not None:
                run, source = load_run(log, base_dir), str(log)
            else:
                run, source = _from_catalog(str(target), catalog, base_dir), "catalog"
            replay = partial(
                _replay_one,
                run,
                source=source,
                base_dir=base_dir,
                known=known,
                check=check,
                force=force,
                queue=queue,
                recovered=recovered,
            )
            try:
                report, entry = replay(catalog=lookup)
            except CatalogUnavailableError as e:
                lookup, unavailable = None, str(e)  # this run and the next: queued
                logger.warning("replay without the catalog (%s); registrations are queued", e)
                report, entry = replay(catalog=None)
            if unavailable:
                report.differences.append(f"catalog unavailable: {unavailable}")
        except (ZarrscribeError, OSError) as e:
            yield ReplayReport(uid="", source=str(target), error=str(e))
            continue
        if entry is None or catalog is None:
            yield report
            continue
        waiting.append((report, entry, run.log if run.log.exists() else None))
        if len(waiting) >= batch:
            yield from _register(catalog, waiting, queue)
    if catalog is not None:
        yield from _register(catalog, waiting, queue)


def _skip_deleted(
    deletion: Deletion,
    source: str,
    catalog: Catalog | None,
    known: dict[str, dict[str, Any]] | None,
    check: bool,
) -> ReplayReport:
    """The report of a deleted run: nothing written, but an entry it still has (its
    deletion was recorded and the process died before the entry went, or a catalog
    took it from elsewhere) is removed, or with ``check`` reported."""
    uid = deletion.uid
    report = ReplayReport(uid=uid, source=source, catalog="deleted", deleted=deletion.describe())
    if catalog is None or (uid not in known if known is not None else uid not in catalog):
        return report
    report.differences.append(f"catalog: run {uid} is {report.deleted} but has an entry")
    if check:
        report.catalog = "differs"
    else:
        catalog.delete_run(uid)
        report.catalog = "removed"
    return report


def _holds_nothing(log: Path) -> bool:
    """Whether ``log`` holds no byte but white space (made by a run that never started:
    the log of an older version, or one whose first line a power loss took)."""
    try:
        size = log.stat().st_size
        return size == 0 or (size < 4096 and not log.read_bytes().strip())
    except OSError:
        return False


def _nothing_logged(log: Path, *, check: bool) -> ReplayReport:
    """An empty log is no run: a log appears with its start line or not at all, so
    replay removes it (and its run's folder, if nothing else is in it)."""
    what = damage_at(log, 1, "empty: a run that never started (no start document)")
    if check:
        return ReplayReport(uid="", source=str(log), skipped=f"{what}; replay removes it")
    log.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        log.parent.rmdir()
    return ReplayReport(uid="", source=str(log), skipped=f"{what}; removed")


def _from_catalog(uid: str, catalog: Catalog | None, base_dir: Path) -> LoadedRun:
    """A run's documents from the catalog, and where its entry says the log was."""
    if catalog is None:
        raise RunNotFoundError(
            f"no document log for run {uid!r} under {base_dir} and no catalog to read "
            "its documents from"
        )
    md = catalog.metadata(uid)
    was = (md.get(ATTRIBUTES_KEY) or {}).get("log") or ""
    log = Path(was) if Path(was).is_absolute() else base_dir / was
    return loaded_run(log, catalog.documents(md["start"]["uid"]), base_dir)
