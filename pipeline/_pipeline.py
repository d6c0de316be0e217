"""`Pipeline`: the wiring a user touches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from event_model.documents import RunStart

from ..callbacks import (
    BusSettings,
    CallbackError,
    DocumentLog,
    Finisher,
    MetadataCallback,
    PerRunRouter,
    Presenter,
    Publisher,
    RunRefusedError,
    Stage,
    WriterLeases,
    catalog_entry,
    encode_record,
)
from ..catalog import Catalog, CatalogError, DeletionLog, RegistrationQueue, embedded_catalog
from ..writers import (
    SYNC_WINDOW,
    BackgroundSyncs,
    SessionPathProvider,
    WriterError,
    require_writable,
    sanitize_name,
)
from ..writers.model import STATE_DIR, require
from ._live import LIVE_INTERVAL, LiveEntries, check_interval
from .replay import ReplayReport, find_log, find_logs, replay_runs

__all__ = ["STATE_DIR", "Catalog", "Pipeline", "embedded_catalog"]

logger = logging.getLogger(__name__)


def _plan_name(doc: RunStart) -> str:
    """The run's plan name as a folder name; ``run`` when it has nothing usable, so a
    run is always logged."""
    try:
        return sanitize_name(str(doc.get("plan_name") or "run"), what="plan name")
    except WriterError:
        return "run"


class Pipeline:
    """Devices push frames; this one callback decides everything else from the documents.

    Subscribed to a RunEngine (:meth:`subscribe`), it gives every run its own
    stages, in this order: the document log (source of truth), the presenter
    (store URIs at RunStart), the metadata callback (descriptor configuration
    into the writers) and the finisher (close, attributes, catalog registration
    at RunStop). Documents are routed by run, so overlapping runs never mix.
    Every stage sees every document even if an earlier one failed; the first
    failure is then raised so the RunEngine stops the plan.

    Parameters
    ----------
    devices:
        The device registry, by name (or an iterable of devices with ``.name``).
    base_dir:
        Root of all data: ``<base_dir>/<session>/<plan>_<NNNNN>/<group>.zarr``.
        Nothing outside it is written.
    session:
        Session name (a folder under ``base_dir``).
    catalog:
        ``"embedded"`` (default: SQLite under ``<base_dir>/.zarrscribe``), a
        Tiled server URI, a :class:`Catalog`, or ``None`` for no catalog (runs
        are queued until a pipeline with a catalog opens the same ``base_dir``).
    api_key:
        API key for a Tiled server URI.
    bus:
        Publish every document to NATS JetStream (see :class:`BusSettings`), for
        catalog workers elsewhere (``zarrscribe worker``). With ``catalog=None``
        the workers alone register the runs.
    date_folders:
        Put each run under the day it started:
        ``<base_dir>/<YYYY-MM-DD>/<session>/<plan>_<NNNNN>/`` (run numbers still run on
        across days).
    sync_window:
        Seconds the fsyncs of logs and registration jobs may wait, off the RunEngine
        thread, so that those asked together are done in one go (group commit: a run's
        start and descriptor, its stop and job, the runs of a quick series). What is
        logged survives a killed process at once, and a power loss once its fsync is
        done: at most this much later (plus the disk's time). ``0`` syncs each at once
        (each run then pays more; ``benchmarks/bench_pipeline.py`` measures both).
    live_interval:
        Seconds between two updates of a running run's catalog entry (its live entry,
        exit status ``running``: start metadata, streams, scalar readings so far, arrays
        cut to the frames readable on disk), written off the RunEngine thread from the
        run's log; the first one ``live_interval`` after its start. A run's next update
        comes no sooner than 10 times its last one took. ``None``: a run is in the
        catalog only from its stop, as before. Best effort: a live update never fails
        or slows a run. At its stop the entry becomes the stop's registration. Runs left
        ``running`` by a process that died are replayed (``incomplete``) by the next
        pipeline with a catalog on the same ``base_dir``.
    """

    def __init__(
        self,
        devices: Mapping[str, Any] | Iterable[Any],
        *,
        base_dir: str | Path,
        session: str = "default",
        catalog: Catalog | str | None = "embedded",
        api_key: str | None = None,
        bus: BusSettings | None = None,
        date_folders: bool = False,
        sync_window: float = SYNC_WINDOW,
        live_interval: float | None = LIVE_INTERVAL,
    ) -> None:
        if bus is not None:
            require("nats", "Pipeline(bus=...)")  # before anything is made on disk
        check_interval(live_interval)  # before anything is made
        syncs = BackgroundSyncs(sync_window)  # a bad window fails before anything is made
        self.devices: dict[str, Any] = (
            dict(devices)
            if isinstance(devices, Mapping)
            else {str(getattr(d, "name", d)): d for d in devices}
        )
        self.base_dir = Path(base_dir).absolute()
        self.paths = SessionPathProvider(self.base_dir, session, date_folders=date_folders)
        self.leases = WriterLeases()
        self.metadata = MetadataCallback(self.devices)
        # The catalog is connected lazily by the registration worker (or by
        # connect_catalog), so a catalog that is down never delays a run.
        connect: Catalog | Callable[[], Catalog] | None
        if catalog == "embedded":
            connect = partial(embedded_catalog, self.base_dir)
        elif isinstance(catalog, str):
            Catalog.check_uri(catalog)  # a URI that cannot be a Tiled server fails now
            connect = partial(Catalog.from_uri, catalog, api_key=api_key)
        else:
            connect = catalog
        self._syncs = syncs  # the fsyncs of logs and jobs, off this thread
        self.registrations = RegistrationQueue(
            connect,
            self.base_dir / STATE_DIR / "pending",
            partial(catalog_entry, base_dir=self.base_dir),
            syncs=self._syncs,
            find_log=partial(find_log, self.base_dir),
            deleted=self._is_deleted,
        )
        self._router = PerRunRouter(self._stages_for)
        self._logs: dict[str, DocumentLog] = {}
        self._log_paths: dict[str, Path] = {}
        self.publisher = Publisher(self.base_dir / STATE_DIR / "outbox", bus) if bus else None
        """Sends every document to NATS JetStream, when a ``bus`` was given."""
        self._registry = None if bus is not None and catalog is None else self.registrations
        self.live = (
            LiveEntries(
                self.registrations.connect,
                self.base_dir,
                live_interval,
                recover=self._recover_left_running,
            )
            if catalog is not None
            else None
        )
        """Keeps the entries of running runs up to date (``None`` without a catalog)."""

    def _is_deleted(self, run_uid: str) -> bool:
        """Whether run ``run_uid`` is deleted (``zarrscribe delete``): not registered."""
        return run_uid in DeletionLog(self.base_dir).read()

    # ------------------------------------------------------------------ RunEngine side
    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        live = self.live
        if live is not None and name == "stop":  # before its stop is logged or registered
            live.stopping(doc["run_start"])
        try:
            self._router(name, doc)
        except RunRefusedError:
            if name == "start":  # nothing of the run was written: forget it at once
                self._forget(doc["uid"])
                self._log_paths.pop(doc["uid"], None)
            raise
        else:
            if live is not None and name == "start" and doc["uid"] in self._logs:
                live.started(doc["uid"], self._log_paths[doc["uid"]])
        finally:
            if name == "stop":
                self._forget(doc["run_start"])
                if live is not None:
                    live.finished(doc["run_start"])

    def _forget(self, run_uid: str) -> None:
        self.paths.forget_run(run_uid)
        log = self._logs.pop(run_uid, None)
        if log is not None:  # still open only when its stop could not be written
            try:
                log.close()
            except CallbackError as e:  # the stop's own error is the one raised
                logger.warning("%s", e)

    def _stages_for(self, start: dict[str, Any]) -> list[Stage]:
        """The stages of one new run. A start the log cannot write is refused here,
        before the run's folder is made (:class:`RunRefusedError`)."""
        encode_record("start", start)
        run_dir = self.paths.run_dir(_plan_name(start), run_key=start["uid"])  # type: ignore[arg-type]
        log = DocumentLog(run_dir, syncs=self._syncs)  # it fsyncs run_dir for its own name
        # the run folder's name lives in its session folder, the session's in base_dir
        # (and a date folder's): new names last once their folders are fsync'd too
        try:
            depth = len(run_dir.relative_to(self.base_dir).parts)
        except ValueError:  # not under base_dir as spelled here: its own folder only
            depth = 1
        for folder in run_dir.parents[:depth]:
            self._syncs.fsync_folder(folder)
        self._logs[start["uid"]] = log
        if len(self._log_paths) >= 10_000:  # remember recent runs only
            del self._log_paths[next(iter(self._log_paths))]
        self._log_paths[start["uid"]] = log.path
        presenter = Presenter(self.devices, self._store_uri_for, self.leases)
        finisher = Finisher(
            log=log.path, base_dir=self.base_dir, leases=self.leases, registry=self._registry
        )
        stages: list[Stage] = [log, presenter, self.metadata, finisher]
        if self.publisher is not None:  # after the log, which is its outbox
            stages.insert(1, self.publisher.stage(start["uid"], log.path))
        return stages

    def log_path(self, run_uid: str) -> Path:
        """The document log of run ``run_uid`` (a run of this pipeline's lifetime)."""
        try:
            return self._log_paths[run_uid]
        except KeyError:
            raise KeyError(f"run {run_uid!r} was not taken by this pipeline") from None

    def subscribe(self, run_engine: Any) -> int:
        """Subscribe to ``run_engine``; keep this pipeline referenced while it is used.
        A data folder that cannot be written (read-only media) is refused here."""
        require_writable(self.base_dir, "record runs into it")
        token: int = run_engine.subscribe(self)
        return token

    @property
    def catalog(self) -> Catalog | None:
        """The catalog, once connected (the first registration connects)."""
        return self.registrations.catalog

    def connect_catalog(self) -> Catalog:
        """Connect to the catalog now (for queries) and return it."""
        return self.registrations.connect()

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every finished run is registered and every log and job file is
        fsync'd; ``False`` if some are still pending, or if an fsync of this pipeline
        has ever failed (each failure is logged and listed in :attr:`sync_failures`).

        Registration and fsyncs run on threads of their own: call this before
        searching the catalog for runs that just finished, or before relying on
        them surviving a power loss.
        """
        deadline = time.monotonic() + timeout
        registered = self.registrations.flush(timeout)
        synced = self._syncs.wait(max(0.0, deadline - time.monotonic()))
        return registered and synced

    @property
    def sync_failures(self) -> list[str]:
        """One line (file and error) per background fsync of this pipeline that failed."""
        return self._syncs.failures

    def close(self, timeout: float = 10.0) -> None:
        """Finish pending registrations (up to ``timeout`` s), close the logs, and wait
        (as long) for their fsyncs.

        Returns within about ``timeout`` seconds. A registration still being written
        then is not cut short: it finishes in the background (and closes the catalog
        after it), and a warning names its runs (``registrations.writing``). Runs not
        registered by then stay pending on disk; the next pipeline on the same
        ``base_dir`` registers them.
        """
        if self.live is not None:
            self.live.close(timeout)
        self.registrations.close(timeout)
        if self.publisher is not None:
            self.publisher.close(timeout)
        logs, self._logs = list(self._logs.values()), {}
        errors = []
        for log in logs:
            try:
                log.close()
            except CallbackError as e:
                errors.append(str(e))
        if not self._syncs.wait(timeout) and not self._syncs.failures:
            logger.warning(
                "fsyncs still pending %s s after close; what was written is lost only if "
                "the machine loses power",
                timeout,
            )
        if errors:
            raise CallbackError("; ".join(errors))

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ replay
    def replay(
        self,
        target: str | Path | Iterable[str | Path] | None = None,
        *,
        check: bool = False,
        force: bool = False,
        progress: Callable[[int, int, ReplayReport], None] | None = None,
        **query: Any,
    ) -> list[ReplayReport]:
        """Regenerate store attributes and catalog entries from stored documents.

        ``target`` is a run (uid, uid prefix, run folder or log file) or several;
        with ``query`` filters (as :meth:`Catalog.search`) the runs the catalog
        finds; with neither, every run logged under ``base_dir``. Documents come
        from each run's log, or from the catalog where the log is gone. A run
        that never stopped, or whose frames on disk fall short of its documents,
        is ``incomplete``. With ``check=True`` nothing is written and the reports
        say what differs. A damaged log never replaces attributes or an entry
        with ones that lose something, unless ``force=True``. Replaying twice
        changes nothing the second time. Deleted runs (``zarrscribe delete``) are
        reported ``deleted`` and skipped until restored (``zarrscribe restore``).
        """
        if not check:
            require_writable(self.base_dir, "replay into it (check=True, --check, only compares)")
        try:
            catalog: Catalog | None = self.connect_catalog()
        except CatalogError as e:
            logger.warning("replay without a catalog (%s); registrations are queued", e)
            catalog = None
        if target is None and query:
            if catalog is None:
                raise CatalogError("a query needs the catalog, which cannot be reached")
            targets: list[str | Path] = [r.uid for r in catalog.search(**query)]
        elif target is None:
            targets = list(find_logs(self.base_dir))
        elif isinstance(target, str | Path):
            targets = [target]
        else:
            targets = list(target)
        reports: list[ReplayReport] = []
        deletions = DeletionLog(self.base_dir).read()
        total = len(targets) + (1 if deletions.damage else 0)
        runs = replay_runs(
            targets,
            base_dir=self.base_dir,
            catalog=catalog,
            check=check,
            force=force,
            queue=self.registrations.submit if self._registry is not None else None,
            recovered=self.publisher.publish_recovered if self.publisher else None,
            deletions=deletions,
        )
        for i, report in enumerate(runs, start=1):
            reports.append(report)
            if progress is not None:
                progress(i, total, report)
        return reports

    def _recover_left_running(self, logs: list[Path]) -> list[ReplayReport]:
        """Replay runs a process that died left ``running`` (on the live thread)."""
        return self.replay(logs)

    # ------------------------------------------------------------------ paths
    def _store_uri_for(self, doc: RunStart, group: str) -> str:
        return self.paths(_plan_name(doc), group, run_key=doc["uid"]).store_uri
