"""Deferred fsync: files are written and flushed by their writer, fsync'd later by one thread.

A process that is killed loses nothing that was written and flushed (the page
cache keeps it); only durability against a power loss needs the fsync, and that
can wait a few milliseconds. So a writer on a busy thread (the RunEngine's)
writes and flushes as before, then hands the fsync to the process's background
syncer: one daemon thread, created on first use, that fsyncs in the order asked.

Group commit: each request may wait up to its owner's ``window`` (a few
milliseconds by default), and the syncer wakes once per window for everything
asked meanwhile, each file fsync'd once: a file asked again while its request
waits joins that request (its fsync, done later, covers what was written since;
no duplicate descriptor is made for it). A request never wakes the syncer while
it is already due to wake in time (no system call on the caller's thread), and
fewer fsyncs mean fewer journal commits for the caller's own file operations to
wait behind. :meth:`BackgroundSyncs.wait` makes what is asked due at once.

A failed fsync is never silent: it is logged (``logging.error`` naming the file
and the error), kept in :attr:`BackgroundSyncs.failures`, passed to the
requester's ``on_failure`` hook, and :meth:`BackgroundSyncs.wait` returns
``False``.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["SYNC_WINDOW", "BackgroundSyncs", "OnSyncFailure"]

logger = logging.getLogger(__name__)

OnSyncFailure = Callable[[str], None]
"""Told (on the syncer thread) why a requested fsync failed, e.g. ``EIO: Input/output error``."""


SYNC_WINDOW = 0.005
"""Default seconds an fsync may wait for others to share its wake-up of the syncer (a
run's start and descriptor; its stop and registration job; the runs of a quick
series): what a power loss can cost on top of what was not yet asked."""


@dataclass(slots=True)
class _Request:
    ticket: int
    due: float
    """``time.monotonic()`` by which it should be done (asked time plus its window)."""
    target: IO[Any] | int | Path
    """A file object or descriptor to fsync and close, or a folder to open and fsync."""
    path: Path
    report: _Reporter
    joined: list[tuple[IO[Any] | None, _Reporter]] = field(default_factory=list)
    """Later requests for the same file while this one waited: the file each handed
    over (closed after the fsync, which covers what they wrote), and who to tell."""

    def reporters(self) -> list[_Reporter]:
        return [self.report, *(report for _, report in self.joined)]


@dataclass(frozen=True, slots=True)
class _Reporter:
    """Tells a requester that an fsync failed (equal for equal requesters: told once)."""

    owner: BackgroundSyncs
    path: Path
    on_failure: OnSyncFailure | None

    def __call__(self, error: str) -> None:
        self.owner._failed(self.path, error, self.on_failure)


def _error_text(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno is not None:
        name = errno.errorcode.get(error.errno, str(error.errno))
        return f"{name}: {error.strerror or os.strerror(error.errno)}"
    return str(error) or type(error).__name__


def _sync(target: IO[Any] | int | Path, *, fsync: bool) -> None:
    """fsync ``target`` (unless ``fsync`` is false) and close it (a folder is opened
    first); the first error is raised."""
    if isinstance(target, Path):
        if not fsync:
            return
        target = os.open(target, os.O_RDONLY)
    try:
        if fsync:
            os.fsync(target if isinstance(target, int) else target.fileno())
    finally:
        if isinstance(target, int):
            os.close(target)
        else:
            target.close()


class _Syncer:
    """The process's syncer thread: takes requests in order, once the first of them is
    due; a file asked several times in one batch is fsync'd once, at its last request
    (which covers what was written before the earlier ones), and a failure is told to
    all of them."""

    def __init__(self) -> None:
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # the syncer waits here for requests
        self._finished = threading.Condition(lock)  # callers wait here for tickets
        self._queue: deque[_Request] = deque()
        self._queued: dict[Path, _Request] = {}  # the last queued request of each path
        self._asked = 0
        self._done = 0
        self._due = math.inf  # when the earliest queued request is due
        self._waking: float | None = None  # when the waiting syncer wakes (None: busy)
        self._thread = threading.Thread(target=self._run, name="zarrscribe-fsync", daemon=True)
        self._thread.start()

    def submit(
        self, target: IO[Any] | int | Path, path: Path, report: _Reporter, window: float
    ) -> int:
        with self._work:
            self._asked += 1
            due = time.monotonic() + window
            request = _Request(self._asked, due, target, path, report)
            self._queue.append(request)
            self._queued[path] = request
            self._due = min(self._due, due)
            if self._waking is not None and due < self._waking:  # else it wakes in time
                self._waking = due
                self._work.notify()
            return self._asked

    def join(
        self, path: Path, handed: IO[Any] | None, report: _Reporter, window: float
    ) -> int | None:
        """Add a request for ``path`` to the one still queued for it, if any and due in
        time: its ticket (its fsync covers what was written before now), else ``None``.
        ``handed`` is a file handed over, closed after that fsync."""
        with self._work:
            request = self._queued.get(path)
            if request is None or request.due > time.monotonic() + window:
                return None
            request.joined.append((handed, report))
            return request.ticket

    def wait_for(self, ticket: int, timeout: float | None) -> bool:
        with self._finished:
            if self._queue:  # someone waits: what is queued is due now
                self._due = 0.0
                if self._waking is not None:
                    self._waking = 0.0
                    self._work.notify()
            return self._finished.wait_for(lambda: self._done >= ticket, timeout)

    def _run(self) -> None:
        while True:
            with self._work:
                while not self._queue or self._due > (now := time.monotonic()):
                    if not self._queue:
                        self._waking = math.inf
                        self._work.wait()
                    else:
                        self._waking = self._due
                        self._work.wait(self._due - now)
                self._waking = None
                batch = list(self._queue)
                self._queue.clear()
                self._queued.clear()
                self._due = math.inf
            self._sync_batch(batch)
            with self._finished:
                self._done = batch[-1].ticket
                self._finished.notify_all()

    @staticmethod
    def _sync_batch(batch: list[_Request]) -> None:
        last = {request.path: i for i, request in enumerate(batch)}
        for i, request in enumerate(batch):
            errors: list[tuple[str, list[_Reporter]]] = []
            try:
                _sync(request.target, fsync=last[request.path] == i)
            except Exception as e:  # the thread must outlive any failure
                told = [
                    r
                    for other in batch[: i + 1]
                    if other.path == request.path
                    for r in other.reporters()
                ]
                errors.append((_error_text(e), told))
            for handed, report in request.joined:
                if handed is not None:
                    try:
                        handed.close()
                    except Exception as e:
                        errors.append((_error_text(e), [report]))
            for error, reporters in errors:
                for report in dict.fromkeys(reporters):  # each requester told once
                    try:
                        report(error)
                    except Exception:
                        logger.exception("reporting the failed fsync of %s failed", request.path)


_lock = threading.Lock()
_syncer: _Syncer | None = None


def _process_syncer() -> _Syncer:
    """The syncer of this process, started on first use."""
    global _syncer
    syncer = _syncer
    if syncer is None:
        with _lock:
            if _syncer is None:
                _syncer = _Syncer()
            syncer = _syncer
    return syncer


def _forget_syncer() -> None:
    """In a forked child: the parent's syncer thread is not there (its requests are the
    parent's to finish); the child starts its own on first use."""
    global _lock, _syncer
    _lock, _syncer = threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_syncer)


class BackgroundSyncs:
    """The fsyncs one owner (a pipeline, a queue, a log) asks of the process's syncer.

    Requests from every owner are done in one FIFO order by one daemon thread;
    :meth:`wait` waits for this owner's, and says whether any of them failed.

    Parameters
    ----------
    window:
        Seconds each fsync asked here may wait, so that those asked together are done
        in one wake-up of the syncer (group commit); 0 for at once. What was written
        is safe from a killed process at once, and from a power loss this much later.
    """

    def __init__(self, window: float = SYNC_WINDOW) -> None:
        if isinstance(window, bool) or not isinstance(window, int | float) or not window >= 0:
            raise ValueError(
                f"fsync window {window!r} is not a number of seconds >= 0; give e.g. 0.005"
            )
        self.window = float(window)
        self._lock = threading.Lock()
        self._last: tuple[_Syncer, int] | None = None
        self._failures: list[str] = []

    @property
    def failures(self) -> list[str]:
        """One line per fsync asked here that failed (file and error), oldest first."""
        with self._lock:
            return list(self._failures)

    def fsync(
        self,
        file: IO[Any],
        path: Path,
        *,
        close: bool = False,
        on_failure: OnSyncFailure | None = None,
    ) -> None:
        """Have ``file`` (written and flushed) fsync'd in the background.

        With ``close=True`` the file is handed over: it is fsync'd, then closed,
        and the caller must not use it again. Otherwise a duplicate of its
        descriptor is fsync'd, so the caller may keep writing or close it.
        ``path`` names the file in messages.
        """
        report = _Reporter(self, path, on_failure)
        syncer = _process_syncer()
        ticket = syncer.join(path, file if close else None, report, self.window)
        if ticket is None:  # nothing queued for it: a request of its own
            target: IO[Any] | int = file if close else os.dup(file.fileno())
            ticket = syncer.submit(target, path, report, self.window)
        self._asked(syncer, ticket)

    def fsync_folder(self, folder: Path, *, on_failure: OnSyncFailure | None = None) -> None:
        """Have ``folder`` fsync'd in the background (so renames and new names in it last)."""
        report = _Reporter(self, folder, on_failure)
        syncer = _process_syncer()
        ticket = syncer.join(folder, None, report, self.window)
        if ticket is None:
            ticket = syncer.submit(folder, folder, report, self.window)
        self._asked(syncer, ticket)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every fsync asked here so far is done; ``False`` if some are still
        pending after ``timeout`` seconds or if any fsync asked here has failed."""
        with self._lock:
            last = self._last
        done = True
        if last is not None and last[0] is _process_syncer():
            done = last[0].wait_for(last[1], timeout)
        with self._lock:
            return done and not self._failures

    def _asked(self, syncer: _Syncer, ticket: int) -> None:
        with self._lock:
            if self._last is None or self._last[0] is not syncer or self._last[1] < ticket:
                self._last = (syncer, ticket)

    def _failed(self, path: Path, error: str, on_failure: OnSyncFailure | None) -> None:
        """Log and keep a failed fsync, and tell its requester (on the syncer thread)."""
        message = f"fsync of {path} failed ({error})"
        logger.error("%s; what was written there may be lost if the machine loses power", message)
        with self._lock:
            self._failures.append(message)
        if on_failure is not None:
            on_failure(error)
