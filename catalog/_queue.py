"""Registration off the RunEngine thread: a persistent queue with retry.

Each finished run becomes a small JSON job file in the pending folder before
anything is tried, so a catalog that is down, or a process that dies, loses no
registration: the job stays on disk and is retried (with back-off) by this
worker, or by the next one started on the same folder.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..writers.model import ZarrscribeError
from ._catalog import Catalog
from ._errors import CatalogError, CatalogUnavailableError

__all__ = ["RegistrationQueue"]

logger = logging.getLogger(__name__)

Register = Callable[[Catalog, Path], None]
"""Registers the run logged in a document log in a catalog (compare, then write)."""


@dataclass
class _Job:
    path: Path
    uid: str
    log: Path


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
    register:
        Registers one run from its document log (the pipeline's projection of it).
    retry_initial, retry_max:
        Back-off bounds in seconds while the catalog is unreachable.
    """

    def __init__(
        self,
        catalog: Catalog | Callable[[], Catalog] | None,
        pending_dir: str | Path,
        register: Register,
        *,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
    ) -> None:
        self._catalog = catalog if isinstance(catalog, Catalog) else None
        self._connect = None if isinstance(catalog, Catalog) else catalog
        self._pending_dir = Path(pending_dir)
        self._pending_dir.mkdir(parents=True, exist_ok=True)
        self._register_run = register
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._cond = threading.Condition()
        self._connect_lock = threading.Lock()
        self._jobs: list[_Job] = [job for job in map(self._read_job, self._job_files()) if job]
        self._busy = False
        self._closing = False
        self.failures: dict[str, str] = {}
        """Last error per run uid that could not be registered (kept pending)."""
        self._thread = threading.Thread(
            target=self._run, name="zarrscribe-registration", daemon=True
        )
        self._thread.start()

    # ---------------------------------------------------------------- public
    def submit(self, run_uid: str, log: Path) -> None:
        """Queue run ``run_uid``; returns at once (the job is on disk first)."""
        path = self._pending_dir / f"{run_uid}.json"
        record = {"uid": run_uid, "log": str(log)}
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        with self._cond:
            self._jobs = [j for j in self._jobs if j.uid != run_uid]
            self._jobs.append(_Job(path, run_uid, Path(log)))
            self._cond.notify_all()

    def pending(self) -> list[str]:
        """Uids of runs not registered yet (on disk, so they survive a restart)."""
        return sorted(p.stem for p in self._job_files())

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every queued job is registered; ``False`` if some remain at timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._jobs or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._catalog is None and self._connect is None):
                    return False
                self._cond.wait(min(remaining, 0.1))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker after trying what is queued for up to ``timeout`` seconds."""
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        with self._connect_lock:
            if self._catalog is not None and self._connect is not None:
                self._catalog.close()  # we opened it, we close it
                self._catalog = None

    # ---------------------------------------------------------------- worker
    def _job_files(self) -> list[Path]:
        return sorted(self._pending_dir.glob("*.json"))

    def _read_job(self, path: Path) -> _Job | None:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return _Job(path, record["uid"], Path(record["log"]))
        except (OSError, ValueError, KeyError) as e:
            logger.error("pending registration %s is unreadable (%s); left in place", path, e)
            return None

    def _run(self) -> None:
        delay = self._retry_initial
        while True:
            with self._cond:
                while not self._closing and (
                    not self._jobs or (self._catalog is None and self._connect is None)
                ):
                    self._cond.wait()
                if self._closing:
                    return
                job = self._jobs.pop(0)
                self._busy = True
            try:
                ok = self._register(job)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            if ok:
                delay = self._retry_initial
                continue
            with self._cond:  # put it back and wait before trying again
                if not any(j.uid == job.uid for j in self._jobs):
                    self._jobs.insert(0, job)
                self._cond.wait(delay)
            delay = min(delay * 2, self._retry_max)

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

    def _register(self, job: _Job) -> bool:
        try:
            catalog = self.connect()
        except Exception as e:  # the worker must outlive any failure to connect
            self.failures[job.uid] = f"cannot connect to the catalog: {e}"
            logger.warning("catalog not available; run %s stays pending: %s", job.uid, e)
            return False
        try:
            self._register_run(catalog, job.log)
        except CatalogUnavailableError as e:
            self.failures[job.uid] = str(e)
            logger.warning("catalog unreachable; run %s stays pending: %s", job.uid, e)
            return False
        except (ZarrscribeError, OSError, ValueError) as e:
            # Not a connectivity problem: keep the job on disk, do not spin on it.
            self.failures[job.uid] = str(e)
            logger.error("registering run %s failed; kept in %s: %s", job.uid, job.path, e)
            return True
        self.failures.pop(job.uid, None)
        job.path.unlink(missing_ok=True)
        return True
