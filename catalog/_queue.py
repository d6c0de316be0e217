"""Registration off the RunEngine thread: a persistent queue with retry.

Each finished run becomes a job in the pending folder before anything is tried
(a link to its document log, see :mod:`._job_files`), so a catalog that is down,
or a process that dies, loses no registration: the job stays on disk and is
retried (with back-off) by this worker, or by the next one started on the same
folder. The job is made on the caller's thread; the pending folder's fsync is
left to the background syncer. A job that a power loss left damaged (a job file
empty or cut short before its fsync) is reported, and its run is still
registered from its log when ``find_log`` finds it.

A job is done only when the catalog holds the run. Any failure (unreachable,
"database is locked" from another process, a full disk, a server error) keeps
it queued with its own back-off, behind the jobs that can go; only a catalog
that can never work (a URI that is not a Tiled server, a refused API key) stops
the worker, and then :meth:`RegistrationQueue.flush` returns ``False`` at once.
Jobs that wait together are registered together (``Catalog.register_runs``:
one transaction for the embedded catalog).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..writers import BackgroundSyncs
from ..writers.model import Document, ZarrscribeError
from ._catalog import Catalog
from ._errors import CatalogError, CatalogUnavailableError
from ._job_files import job_files, job_uid, load_jobs, write_job
from ._pending import Job, PendingJobs

__all__ = ["RegistrationQueue"]

logger = logging.getLogger(__name__)

PrepareEntry = Callable[[Path], tuple[Iterable[Document], dict[str, Any]]]
"""A run's catalog documents and metadata from its document log (the pipeline's
projection of the run: the same as replay registers)."""


BATCH = 200
"""Most runs registered in one ``register_runs`` call."""


class RegistrationQueue:
    """Registers finished runs in ``catalog`` from a worker thread, retrying until done.

    Parameters
    ----------
    catalog:
        Where runs are registered, or a function that connects to it (called, and
        retried while it raises :class:`CatalogUnavailableError`, by the worker);
        ``None`` keeps every job pending.
    pending_dir:
        Folder of job files; jobs found there at start are resumed.
    prepare:
        A run's catalog documents and metadata from its document log (the
        pipeline's projection: what replay would register).
    retry_initial, retry_max:
        Back-off bounds in seconds while the catalog is unreachable.
    syncs:
        Where the fsyncs of job files are asked (a new one by default).
    find_log:
        The document log of a run uid (``None`` if not found): how a job file left
        empty or cut short (a power loss before its fsync) still registers its run.
    deleted:
        Whether a run uid is deleted (its deletion recorded, see :class:`DeletionLog`):
        its job is dropped instead of registering it again.
    """

    def __init__(
        self,
        catalog: Catalog | Callable[[], Catalog] | None,
        pending_dir: str | Path,
        prepare: PrepareEntry,
        *,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        syncs: BackgroundSyncs | None = None,
        find_log: Callable[[str], Path | None] | None = None,
        deleted: Callable[[str], bool] | None = None,
    ) -> None:
        self._catalog = catalog if isinstance(catalog, Catalog) else None
        self._connect = None if isinstance(catalog, Catalog) else catalog
        self._pending_dir = Path(pending_dir)  # made by the first submit (not on read-only media)
        self._prepare = prepare
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._syncs = syncs if syncs is not None else BackgroundSyncs()
        self._deleted = deleted
        self._cond = threading.Condition()
        self._connect_lock = threading.Lock()
        self._jobs = PendingJobs()
        for job in load_jobs(self._pending_dir, find_log):  # the folder is read once
            self._replaced(self._jobs.add(job), job.path)
        self._away: str | None = None
        """Why the catalog cannot be reached, while it cannot: no job is tried until
        ``_retry_at`` (the catalog's back-off, not the jobs')."""
        self._retry_at = 0.0
        self._backoff = 0.0
        self._busy = False
        self._idle = False
        """Whether the worker waits for a job (and a new one should wake it)."""
        self._writing: list[str] = []
        self._closing = False
        self._fatal: str | None = None
        self.failures: dict[str, str] = {}
        """Last error per run uid that could not be registered (kept pending)."""
        self._thread = threading.Thread(
            target=self._run, name="zarrscribe-registration", daemon=True
        )
        self._thread.start()

    # ---------------------------------------------------------------- public
    def submit(self, run_uid: str, log: Path) -> None:
        """Queue run ``run_uid``; returns at once (the job is made first, and fsync'd in
        the background: see :mod:`._job_files`)."""
        path, is_file = write_job(self._pending_dir, run_uid, Path(log))
        if is_file:
            self._syncs.fsync(open(path, "rb"), path, close=True)  # noqa: SIM115
        self._syncs.fsync_folder(self._pending_dir)  # the name lasts too
        with self._cond:
            self._replaced(self._jobs.add(Job(path, run_uid, Path(log))), path)
            if self._away is not None:
                self.failures[run_uid] = self._away
            if self._idle:  # else the worker looks, or has nothing to do before it wakes
                self._cond.notify_all()

    def pending(self) -> list[str]:
        """Uids of runs not registered yet (on disk, so they survive a restart)."""
        return sorted({job_uid(p) for p in job_files(self._pending_dir)})

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every queued job is registered; ``False`` if some remain at timeout.

        Jobs waiting out their back-off are tried again at once (the catalog may be
        back: a person who freed space flushes to see the runs registered now)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._jobs.all_ready()
            self._retry_at = 0.0
            self._cond.notify_all()
            while self._jobs or self._busy:
                remaining = deadline - time.monotonic()
                if (
                    remaining <= 0
                    or self._fatal is not None
                    or (self._catalog is None and self._connect is None)
                ):
                    return False
                self._cond.wait(min(remaining, 0.1))
        return True

    @property
    def writing(self) -> list[str]:
        """Uids of the runs whose registration is in hand right now."""
        with self._cond:
            return list(self._writing)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker after trying what is queued for up to ``timeout`` seconds (and
        waiting as long for the job files' fsyncs); returns within about ``timeout``.

        A registration still in hand then is never cut short, nor its catalog closed
        under it: it goes on in the worker's thread, which closes the catalog when it
        ends, and a warning names its runs (:attr:`writing`). If the process ends first
        those runs, like every job not tried, stay pending on disk (an embedded
        catalog's transaction is rolled back whole), and the next queue on the same
        folder registers them.
        """
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        self._syncs.wait(max(0.0, deadline - time.monotonic()))
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            writing = list(self._writing) if self._thread.is_alive() else []
        if writing:
            logger.warning(
                "closed while run(s) %s are still being registered in the catalog; the "
                "write goes on in the background (if this process ends first they stay "
                "pending in %s and are registered by the next pipeline there)",
                ", ".join(writing),
                self._pending_dir,
            )
            return  # the worker closes the catalog when its write ends
        self._close_catalog()

    def _close_catalog(self) -> None:
        with self._connect_lock:
            if self._catalog is not None and self._connect is not None:
                self._catalog.close()  # we opened it, we close it
                self._catalog = None

    # ---------------------------------------------------------------- worker
    @staticmethod
    def _replaced(job: Job | None, path: Path) -> None:
        """Remove the job of a run queued again under another name (an older version's)."""
        if job is not None and job.path != path:
            job.path.unlink(missing_ok=True)

    def _run(self) -> None:
        try:
            self._work()
        finally:
            self._close_catalog_if_closed()

    def _close_catalog_if_closed(self) -> None:
        """At the end of a write that outlived :meth:`close`: close the catalog now."""
        with self._cond:
            closing = self._closing
        if closing:
            self._close_catalog()

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closing:
                        return
                    now = time.monotonic()
                    next_due = self._jobs.due(now)
                    usable = self._fatal is None and (
                        self._catalog is not None or self._connect is not None
                    )
                    if usable and self._retry_at > now:  # the catalog is away: wait for it
                        self._cond.wait(self._retry_at - now)
                        continue
                    if usable and self._jobs.ready():
                        break
                    self._idle = usable  # a new job is worth waking for
                    self._cond.wait(None if next_due is None or not usable else next_due - now)
                    self._idle = False
                batch = self._jobs.take(BATCH)
                self._busy = True
                self._writing = [j.uid for j in batch]
            failed: list[Job] = []
            untried: list[Job] = batch
            away: str | None = None
            try:
                failed, untried, away = self._register(batch)
            finally:
                with self._cond:
                    now = time.monotonic()
                    for job in failed:  # back off, behind the others
                        job.delay = min(max(job.delay * 2, self._retry_initial), self._retry_max)
                        job.not_before = now + job.delay
                        self._jobs.retry(job)
                    self._jobs.put_back(untried)  # first again, once the catalog is back
                    if away is not None:  # the catalog backs off, not each job
                        self._backoff = min(
                            max(self._backoff * 2, self._retry_initial), self._retry_max
                        )
                        self._retry_at = now + self._backoff
                    else:
                        self._backoff, self._retry_at = 0.0, 0.0
                    self._away = away
                    self._busy = False
                    self._writing = []
                    self._cond.notify_all()

    @property
    def catalog(self) -> Catalog | None:
        """The catalog, once connected."""
        return self._catalog

    def connect(self) -> Catalog:
        """Connect now if not yet connected; raises if the catalog is unreachable."""
        with self._connect_lock:
            if self._catalog is None:
                if self._connect is None:
                    raise CatalogError("no catalog was configured; registrations stay pending")
                self._catalog = self._connect()
        return self._catalog

    def _register(self, jobs: list[Job]) -> tuple[list[Job], list[Job], str | None]:
        """Register ``jobs``: those that failed (to retry later, each with its back-off),
        those not tried because the catalog is away, and why it is."""
        try:
            catalog = self.connect()
        except CatalogUnavailableError as e:
            return self._away_for(jobs, f"cannot connect to the catalog: {e}")
        except Exception as e:  # the worker must outlive any failure to connect
            if isinstance(e, CatalogError):  # bad URI, refused key: retrying cannot help
                with self._cond:
                    self._fatal = str(e)
                logger.error("catalog refused; %d run(s) stay pending: %s", len(jobs), e)
            self._fail(jobs, f"cannot connect to the catalog: {e}", logging.WARNING)
            return jobs, [], None
        loaded: list[tuple[Job, tuple[Iterable[Document], dict[str, Any]]]] = []
        failed: list[Job] = []
        for job in self._drop_deleted(jobs, failed):
            try:
                loaded.append((job, self._prepare(job.log)))
            except (ZarrscribeError, OSError, ValueError) as e:
                self._fail([job], f"cannot read the documents of run {job.uid}: {e}")
                failed.append(job)
        try:
            catalog.register_runs([entry for _, entry in loaded])
        except CatalogUnavailableError as e:
            _, untried, away = self._away_for([job for job, _ in loaded], str(e))
            return failed, untried, away
        except Exception as e:
            if len(loaded) == 1:
                self._fail([loaded[0][0]], str(e))
                return [*failed, loaded[0][0]], [], None
            # One bad run must not hold the others back: try them one by one.
            not_tried: list[Job] = []
            reason: str | None = None
            for job, _ in loaded:
                if reason is not None:  # the catalog went away meanwhile
                    not_tried.append(job)
                    continue
                more_failed, more_not_tried, reason = self._register([job])
                failed += more_failed
                not_tried += more_not_tried
            return failed, not_tried, reason
        for job, _ in loaded:
            self.failures.pop(job.uid, None)
            job.path.unlink(missing_ok=True)
        return failed, [], None

    def _drop_deleted(self, jobs: list[Job], failed: list[Job]) -> list[Job]:
        """``jobs`` less those of deleted runs, whose job files are removed; when the
        deletions cannot be read, every job is kept for later (in ``failed``)."""
        if self._deleted is None:
            return jobs
        kept = []
        for job in jobs:
            try:
                deleted = self._deleted(job.uid)
            except Exception as e:  # an unreadable deletion log must not lose a run
                self._fail([job], f"cannot tell whether it was deleted: {e}")
                failed.append(job)
                continue
            if not deleted:
                kept.append(job)
                continue
            logger.info("run %s was deleted: its pending registration is dropped", job.uid)
            self.failures.pop(job.uid, None)
            job.path.unlink(missing_ok=True)
        return kept

    def _away_for(self, jobs: list[Job], reason: str) -> tuple[list[Job], list[Job], str]:
        """The catalog is away: ``jobs`` were not registered, and every queued run waits
        for the catalog (each keeps this reason until it is tried again)."""
        self._fail(jobs, reason, logging.WARNING)
        return [], jobs, reason

    def _fail(self, jobs: list[Job], reason: str, level: int = logging.ERROR) -> None:
        for job in jobs:
            self.failures[job.uid] = reason
        if jobs:
            what = jobs[0].uid if len(jobs) == 1 else f"{len(jobs)} runs"
            logger.log(
                level,
                "%s not registered, kept in %s and retried: %s",
                what,
                self._pending_dir,
                reason,
            )
